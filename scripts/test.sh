#!/usr/bin/env bash
# test.sh - THE test command for bm25: deps, build, install, every test suite.
#
#   sudo scripts/test.sh        (or as root, which is what CI does)
#
# Steps: scripts/deps.sh -> copy the working tree to $BM25_TEST_DIR ->
# `make` there as the unprivileged user -> `make install` as root -> run, as
# the unprivileged user:
#   core       make core-check (ASan/UBSan unit tests) + make core-fuzz
#   regress    pg_regress on sql/*.sql against a temporary instance
#   isolation  pg_isolation_regress on test/isolation/specs/*.spec
#   tap        prove test/t/*.pl (PostgreSQL::Test::Cluster)
# A stage with no tests is skipped.  Ends with one line
#   bm25: N passed, N failed
# and exits non-zero if anything failed.
#
# Environment knobs:
#   BM25_TEST_ONLY=core|regress|isolation|tap   run one stage (comma list ok)
#   PROVE_TESTS="test/t/001_x.pl ..."           TAP files to run
#   PROVE_FLAGS="-v"                            extra prove flags
#   FUZZ_SECONDS=10                             per fuzz target
#   BM25_SKIP_FUZZ=1                            core-check only
#   BM25_TEST_DIR=/tmp/bm25-test-$USER          where the copy is built
#   BM25_USER=bm25                              OS user used when run as root
#   BM25_SKIP_DEPS=1                            do not run scripts/deps.sh
#   BM25_SKIP_INSTALL=1                         do not `make install`
#   BM25_RELEVANCE_DIR=DIR                      relevance collections for
#                                               test/t/120_relevance.pl (default
#                                               ../shared/relevance if present)
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------------------
# Stage runner: executed as the unprivileged user inside the build copy
# (test.sh --stages).  Accumulates counts and prints the summary line.
# ---------------------------------------------------------------------------
PASSED=0
FAILED=0
FAILED_WHAT=()

want_stage()
{
	[[ -z ${BM25_TEST_ONLY:-} ]] && return 0
	[[ ",$BM25_TEST_ONLY," == *",$1,"* ]]
}

count() # count PASSED FAILED WHAT
{
	PASSED=$((PASSED + $1))
	FAILED=$((FAILED + $2))
	if (($2 > 0)); then FAILED_WHAT+=("$3"); fi
	return 0
}

summary()
{
	echo
	if [[ -n ${BM25_T0:-} ]]; then
		echo "(took $(($(date +%s) - BM25_T0))s; build tree and test output in $PWD)"
	fi
	if ((${#FAILED_WHAT[@]})); then
		echo "failed: ${FAILED_WHAT[*]}"
	fi
	echo "bm25: $PASSED passed, $FAILED failed"
	((FAILED == 0))
}

stage_core()
{
	log "core: make core-check (ASan + UBSan)"
	if ! compgen -G 'test/core/test_*.c' >/dev/null; then
		echo "core: no test/core/test_*.c yet, skipped"
		return 0
	fi
	local out rc=0 line p f
	out=$(mktemp)
	make --no-print-directory core-check 2>&1 | tee "$out" || rc=$?
	line=$(grep -E '^core: [0-9]+ passed, [0-9]+ failed' "$out" | tail -n1 || true)
	if [[ -n $line ]]; then
		p=$(sed -E 's/^core: ([0-9]+) passed.*/\1/' <<<"$line")
		f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
		# a sanitizer abort after the tally still fails the run
		if ((rc != 0 && f == 0)); then f=1; fi
	else
		p=0
		f=1
		echo "core-check: no tally line (build failure or crash), exit $rc"
	fi
	count "$p" "$f" core-check
	rm -f "$out"

	if [[ -n ${BM25_SKIP_FUZZ:-} ]]; then
		echo "core-fuzz: skipped (BM25_SKIP_FUZZ)"
		return 0
	fi
	log "core: make core-fuzz FUZZ_SECONDS=${FUZZ_SECONDS:-10}"
	local t name
	if ! compgen -G 'test/core/fuzz_*.c' >/dev/null; then
		echo "core-fuzz: no test/core/fuzz_*.c yet, skipped"
		return 0
	fi
	mkdir -p build
	# one make call per target, so each counts as one test
	for t in test/core/fuzz_*.c; do
		name=$(basename "$t" .c)
		if make --no-print-directory core-fuzz \
			CORE_FUZZ_SRCS="$t" FUZZ_SECONDS="${FUZZ_SECONDS:-10}" \
			>"build/$name.log" 2>&1; then
			echo "$name ok ($(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "build/$name.log" | grep -Eo '[0-9]+$' || echo '?') runs)"
			count 1 0 "$name"
		else
			echo "$name FAILED; last lines of build/$name.log:"
			tail -n 40 "build/$name.log"
			count 0 1 "$name"
		fi
	done
}

# Parse pg_regress (PG 15) closing lines: " All N tests passed." or
# " N of M tests failed." (possibly ", K of these failures ignored").
parse_regress()
{
	local out=$1 what=$2 n m
	if n=$(grep -Eo 'All [0-9]+ tests passed' "$out" | grep -Eo '[0-9]+'); then
		count "$n" 0 "$what"
	elif grep -Eq '[0-9]+ of [0-9]+ tests failed' "$out"; then
		n=$(grep -Eo '[0-9]+ of [0-9]+ tests failed' "$out" | head -n1 | awk '{print $1}')
		m=$(grep -Eo '[0-9]+ of [0-9]+ tests failed' "$out" | head -n1 | awk '{print $3}')
		count $((m - n)) "$n" "$what"
	else
		echo "$what: pg_regress did not report a result"
		count 0 1 "$what"
	fi
}

show_diffs()
{
	local dir=$1
	if [[ -s $dir/regression.diffs ]]; then
		echo "---- $dir/regression.diffs (first 200 lines)"
		head -n 200 "$dir/regression.diffs"
	fi
	local l
	for l in "$dir"/log/postmaster.log "$dir"/tmp_instance/log/*; do
		[[ -f $l ]] || continue
		echo "---- tail of $l"
		tail -n 40 "$l"
	done
}

stage_regress()
{
	log "regress: pg_regress (temporary instance, test/regress.conf)"
	local tests=() f
	for f in sql/*.sql; do
		[[ -e $f ]] || continue
		case $(basename "$f") in bm25--*) continue ;; esac
		# pg_regress aborts the whole run on a missing expected file, so a
		# test still being written is skipped (loudly) instead
		if [[ ! -e expected/$(basename "$f" .sql).out ]]; then
			echo "regress: WARNING: skipping $f: expected/$(basename "$f" .sql).out does not exist"
			continue
		fi
		tests+=("$(basename "$f" .sql)")
	done
	if ((${#tests[@]} == 0)); then
		echo "regress: no sql/*.sql tests yet, skipped"
		return 0
	fi
	local outdir=$PWD/results_regress out
	rm -rf "$outdir"
	mkdir -p "$outdir"
	out=$outdir/pg_regress.out
	"$PG_REGRESS" --temp-instance="$outdir/tmp_instance" \
		--temp-config=test/regress.conf --bindir="$PG_BINDIR" \
		--inputdir=. --outputdir="$outdir" --dbname=contrib_regression \
		"${tests[@]}" 2>&1 | tee "$out" || true
	parse_regress "$out" regress
	if ! grep -q 'All [0-9]* tests passed' "$out"; then show_diffs "$outdir"; fi
}

stage_isolation()
{
	log "isolation: pg_isolation_regress"
	local specs=() f
	for f in test/isolation/specs/*.spec; do
		[[ -e $f ]] && specs+=("$(basename "$f" .spec)")
	done
	if ((${#specs[@]} == 0)); then
		echo "isolation: no test/isolation/specs/*.spec yet, skipped"
		return 0
	fi
	local outdir=$PWD/output_iso out
	rm -rf "$outdir"
	mkdir -p "$outdir"
	out=$outdir/pg_isolation_regress.out
	"$PG_ISOLATION_REGRESS" --temp-instance="$outdir/tmp_instance" \
		--temp-config=test/regress.conf --bindir="$PG_BINDIR" \
		--inputdir=test/isolation --outputdir="$outdir" \
		--dbname=isolation_regression \
		"${specs[@]}" 2>&1 | tee "$out" || true
	parse_regress "$out" isolation
	if ! grep -q 'All [0-9]* tests passed' "$out"; then show_diffs "$outdir"; fi
}

stage_tap()
{
	log "tap: prove test/t/*.pl"
	local files=()
	if [[ -n ${PROVE_TESTS:-} ]]; then
		read -r -a files <<<"$PROVE_TESTS"
	else
		local f
		for f in test/t/*.pl; do [[ -e $f ]] && files+=("$f"); done
	fi
	if ((${#files[@]} == 0)); then
		echo "tap: no test/t/*.pl tests yet, skipped"
		return 0
	fi
	# The same environment as PGXS's prove_installcheck recipe
	# (src/Makefile.global): TESTDIR decides where tmp_check/ (data dirs,
	# logs, port locks) goes; PG_REGRESS is used by Cluster.pm's backup
	# helpers; the installed binaries come first in PATH.
	rm -rf "$PWD/tmp_check"
	mkdir -p "$PWD/tmp_check"
	local out rc=0
	out=$(mktemp)
	# shellcheck disable=SC2086
	TESTDIR="$PWD" PATH="$PG_BINDIR:$PATH" PGPORT="${PGPORT:-65432}" \
		PG_REGRESS="$PG_REGRESS" top_builddir="$PWD" \
		PERL5LIB="$PG_TAP_PERL${PERL5LIB:+:$PERL5LIB}" \
		prove -I "$PG_TAP_PERL" -I test ${PROVE_FLAGS:-} "${files[@]}" 2>&1 |
		tee "$out" || rc=$?

	# Count assertions: Tests=N from prove's summary minus failed subtests;
	# a file that died without failing a subtest counts as one failure.
	local total failed_sub=0 died=0 line t fl
	total=$(grep -Eo '^Files=[0-9]+, Tests=[0-9]+' "$out" | grep -Eo '[0-9]+$' || echo 0)
	while IFS= read -r line; do
		t=$(grep -Eo 'Tests: [0-9]+' <<<"$line" | grep -Eo '[0-9]+')
		fl=$(grep -Eo 'Failed: [0-9]+' <<<"$line" | grep -Eo '[0-9]+')
		if ((fl > 0)); then
			failed_sub=$((failed_sub + fl))
		else
			died=$((died + 1))
		fi
	done < <(grep -E '\(Wstat: [0-9]+ (\(.*\) )?Tests: [0-9]+ Failed: [0-9]+\)' "$out" || true)
	if [[ -z $total ]]; then total=0; fi
	if ((rc != 0 && failed_sub == 0 && died == 0)); then died=1; fi
	count $((total - failed_sub)) $((failed_sub + died)) tap
	if ((rc != 0)); then
		# logs of the failed files only: regress_log_<test> and the
		# server logs <test>_<node>.log
		local bad l
		bad=$(grep -Eo '^[^ ]+\.pl +\(Wstat' "$out" | awk '{print $1}' || true)
		[[ -n $bad ]] || bad=${files[*]}
		for t in $bad; do
			t=$(basename "$t" .pl)
			for l in tmp_check/log/regress_log_"$t" tmp_check/log/"$t"_*.log; do
				[[ -f $l ]] || continue
				echo "---- tail of $PWD/$l"
				tail -n 60 "$l"
			done
		done
	fi
	rm -f "$out"
}

run_stages()
{
	cd "$1"
	local s t
	for s in core regress isolation tap; do
		want_stage "$s" || continue
		t=$(date +%s)
		"stage_$s"
		echo "($s: $(($(date +%s) - t))s)"
	done
	summary
}

if [[ ${1:-} == --stages ]]; then
	run_stages "${2:-$PWD}"
	exit $?
fi

# ---------------------------------------------------------------------------
# Driver: deps, copy, build, install, then the stages as the run user.
# ---------------------------------------------------------------------------
if [[ -n ${BM25_TEST_ONLY:-} ]]; then
	for s in ${BM25_TEST_ONLY//,/ }; do
		case $s in core | regress | isolation | tap) ;;
		*) die "BM25_TEST_ONLY: unknown stage '$s' (core, regress, isolation, tap)" ;;
		esac
	done
fi

BM25_T0=$(date +%s)
if [[ -z ${BM25_SKIP_DEPS:-} ]]; then
	log "deps"
	"$REPO_ROOT/scripts/deps.sh"
fi

ensure_user
USER_NAME=$(run_user)
WORK=${BM25_TEST_DIR:-/tmp/bm25-test-$USER_NAME}
log "copy working tree to $WORK (user $USER_NAME)"
copy_tree "$WORK"

build_failed()
{
	echo "$1"
	echo
	echo "bm25: 0 passed, 1 failed"
	exit 1
}

log "build: make"
as_user PG_CONFIG="$PG_CONFIG" -- make -C "$WORK" --no-print-directory \
	-j"$(nproc)" PG_CONFIG="$PG_CONFIG" ||
	build_failed "build failed (make)"

if [[ -z ${BM25_SKIP_INSTALL:-} ]]; then
	log "install: make install"
	as_root make -C "$WORK" --no-print-directory PG_CONFIG="$PG_CONFIG" install ||
		build_failed "make install failed"
fi

# The relevance collections of test/t/120_relevance.pl live next to the
# checkout, not in it, so the copy in $WORK cannot find them by itself.
if [[ -z ${BM25_RELEVANCE_DIR:-} && -d $REPO_ROOT/../shared/relevance ]]; then
	BM25_RELEVANCE_DIR=$(cd "$REPO_ROOT/../shared/relevance" && pwd)
fi

pass=(PG_CONFIG="$PG_CONFIG" BM25_T0="$BM25_T0")
for v in BM25_TEST_ONLY PROVE_TESTS PROVE_FLAGS FUZZ_SECONDS BM25_SKIP_FUZZ \
	PG_TEST_EXTRA PG_TEST_NOCLEAN PG_TEST_TIMEOUT_DEFAULT TEMP_CONFIG \
	BM25_RELEVANCE_DIR; do
	if [[ -n ${!v:-} ]]; then pass+=("$v=${!v}"); fi
done
exec_stages=(bash "$WORK/scripts/test.sh" --stages "$WORK")
as_user "${pass[@]}" -- "${exec_stages[@]}"
