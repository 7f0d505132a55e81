#!/usr/bin/env bash
# run.sh - the bm25 benchmark: bm25 vs GIN + ts_rank vs RUM vs Xapian, side
# by side, on a corpus built from Debian's documentation packages.
#
#   test/bench/run.sh            full run (make bench)
#   test/bench/run.sh --small    ~20k docs, 20 queries (make bench-small; the
#                                test suite runs this through
#                                test/t/090_bench_small.pl)
#
# Options (also as environment variables):
#   --small                 small mode
#   --rounds N              warm timed rounds per engine (BENCH_ROUNDS; full 3,
#                           small 1), after one cold round
#   --per-bucket N          queries per bucket (BENCH_PER_BUCKET; full 200,
#                           small 5)
#   --slow-cap N            at most N queries per bucket for gin and rum in
#                           the timed rounds (BENCH_SLOW_CAP; 0 = all)
#   --qps-seconds S         length of each 2-client QPS run (BENCH_QPS_SECONDS)
#   --skip-rum              no RUM index and no RUM passes (BENCH_SKIP_RUM=1):
#                           for synthetic 10M runs, where a RUM pass over even
#                           ten queries per bucket takes hours; the report
#                           then has no RUM rows and no RUM targets
# BENCH_HUGE_PAGES=0        no huge pages for the server's shared memory
#                           (a full run as root reserves them by default)
# BENCH_PM_QOS=0            no zero wakeup-latency PM QoS request during the
#                           timed passes (a full run as root holds one by
#                           default: test/bench/pmqos.py)
# BENCH_COLD_SETTLE=S       seconds the disk is left alone, after the builds'
#                           writes are out, before the cold round (full 20)
#   --single-builds         build bm25 (one process and parallel) and Xapian
#                           (own tokenizing) once each instead of twice
#                           (BENCH_SINGLE_BUILDS=1): at 10M documents each
#                           of those builds takes minutes
#   --fast-extra N          extra alternating bm25 / Xapian passes per warm
#                           round (BENCH_FAST_EXTRA; full 3, small 0): those
#                           two are close and a pass takes a second or two
#   --docs N                use only the first N passages of the corpus
#   --corpus FILE           use this TSV (id source title body) instead of
#                           building one (e.g. a synthetic one from synth)
#   --dir DIR               work directory (BENCH_DIR; default
#                           /tmp/bm25-bench-$USER[-small]); the corpus is
#                           cached there
#   --port P                server port (BENCH_PORT; 54391, small 54392)
#   --no-publish            do not copy the results to docs/bench-results/
#   --bm25 tree|head|installed|REV
#                           which bm25 to measure (BENCH_BM25; default tree):
#                           tree = this working tree as it is (tracked and
#                           untracked files, not build products), head = its
#                           git HEAD, REV = any git revision, all built into
#                           a private copy of the PostgreSQL installation;
#                           installed = the bm25 already installed (make
#                           install), also copied
# BENCH_PBUILD_WORKERS=N    max_parallel_maintenance_workers for the timed
#                           parallel bm25 builds (default 2)
#
# The server runs from a private copy of /usr/lib/postgresql/15 and
# /usr/share/postgresql/15 under DIR/pgroot (PostgreSQL finds its lib and
# share directories relative to its binaries), so another "make install"
# during the run cannot change the build being measured.
#
# What it does: installs missing Debian packages (when root), builds the
# corpus (test/bench/corpus.py), starts a private PostgreSQL 15 cluster with
# shared_preload_libraries = 'bm25', loads the corpus, builds the four
# indexes (timed), exports the analyzed terms for Xapian and for the exact
# reference (test/bench/xbench.cc), samples the queries
# (test/bench/queries.py), then runs the timed passes interleaved across
# engines: round 0 is cold (before each engine's pass the server is
# restarted and, when root, the OS page cache is dropped), then one untimed
# pass per engine to warm up again, rounds 1..N warm; then 2-client QPS
# runs, interleaved too.  test/bench/report.py writes
# results.json and results.md into $DIR/results (and, for a full run, into
# docs/bench-results/).  The bm25 extension must be installed (make install);
# when run as root it is built and installed from this tree if missing.
set -euo pipefail

BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_SRC/../.." && pwd)
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
BM25_USER=${BM25_USER:-bm25}

SMALL=0
PUBLISH=1
ROUNDS=${BENCH_ROUNDS:-}
PER_BUCKET=${BENCH_PER_BUCKET:-}
SLOW_CAP=${BENCH_SLOW_CAP:-}
SKIP_RUM=${BENCH_SKIP_RUM:-0}
SINGLE_BUILDS=${BENCH_SINGLE_BUILDS:-0}
QPS_SECONDS=${BENCH_QPS_SECONDS:-}
FAST_EXTRA=${BENCH_FAST_EXTRA:-}
DOCS=${BENCH_DOCS:-0}
CORPUS=${BENCH_CORPUS:-}
CORPUS_GIVEN=${BENCH_CORPUS:+1}
DIR=${BENCH_DIR:-}
PORT=${BENCH_PORT:-}
SEED=${BENCH_SEED:-20240501}
BM25_FROM=${BENCH_BM25:-tree}
PBUILD_WORKERS=${BENCH_PBUILD_WORKERS:-2}

while (($#)); do
	case $1 in
		--small) SMALL=1 ;;
		--rounds) ROUNDS=$2; shift ;;
		--per-bucket) PER_BUCKET=$2; shift ;;
		--slow-cap) SLOW_CAP=$2; shift ;;
		--skip-rum) SKIP_RUM=1 ;;
		--single-builds) SINGLE_BUILDS=1 ;;
		--qps-seconds) QPS_SECONDS=$2; shift ;;
		--fast-extra) FAST_EXTRA=$2; shift ;;
		--docs) DOCS=$2; shift ;;
		--corpus) CORPUS=$2; CORPUS_GIVEN=1; shift ;;
		--dir) DIR=$2; shift ;;
		--port) PORT=$2; shift ;;
		--no-publish) PUBLISH=0 ;;
		--bm25) BM25_FROM=$2; shift ;;
		-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
		*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

if ((SMALL)); then
	: "${ROUNDS:=1}" "${PER_BUCKET:=5}" "${SLOW_CAP:=0}" "${QPS_SECONDS:=1}" "${FAST_EXTRA:=0}"
	: "${PORT:=54392}" "${DIR:=/tmp/bm25-bench-$(id -un)-small}"
	((DOCS > 0)) || DOCS=20000
	PUBLISH=0
	SOURCES=pgdocs,python,handbook,perl
	SHARED_BUFFERS=256MB
else
	: "${ROUNDS:=3}" "${PER_BUCKET:=200}" "${SLOW_CAP:=0}" "${QPS_SECONDS:=10}" "${FAST_EXTRA:=3}"
	: "${PORT:=54391}" "${DIR:=/tmp/bm25-bench-$(id -un)}"
	SOURCES=pgdocs,python,handbook,linux,perl,man,wordnet,gcide
	SHARED_BUFFERS=2GB
fi

log() { printf '\n=== [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }
is_root() { [[ $(id -u) -eq 0 ]]; }
T_START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------
# Packages
# ---------------------------------------------------------------------------
PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-client-15
	postgresql-15-rum libpq-dev libxapian-dev g++ gcc groff-base
	postgresql-doc-15 python3.11-doc debian-handbook linux-doc-6.1 perl-doc
	manpages manpages-dev wordnet-base dict-gcide)
missing=()
for p in "${PACKAGES[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $st == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
	if ((SMALL)); then
		# small mode needs only part of the corpus packages
		need=()
		for p in "${missing[@]}"; do
			case $p in linux-doc-6.1|manpages|manpages-dev|wordnet-base|dict-gcide) ;;
				*) need+=("$p") ;; esac
		done
		missing=("${need[@]+"${need[@]}"}")
	fi
fi
if ((${#missing[@]})); then
	is_root || die "missing Debian packages (run as root to install): ${missing[*]}"
	log "apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
PYTHON=/usr/bin/python3


# PostgreSQL refuses to run as root: the server runs as $BM25_USER then.
if is_root; then
	if ! id -u "$BM25_USER" >/dev/null 2>&1; then
		useradd --system --create-home --home-dir "/var/lib/$BM25_USER" \
			--shell /bin/bash "$BM25_USER"
	fi
	PGUSER_OS=$BM25_USER
	as_pg() { runuser -u "$BM25_USER" -- env -i PATH="$PG_BINDIR:/usr/bin:/bin" LANG=C.UTF-8 "$@"; }
	CAN_DROP=1
else
	PGUSER_OS=$(id -un)
	as_pg() { env PATH="$PG_BINDIR:$PATH" LANG=C.UTF-8 "$@"; }
	CAN_DROP=0
fi

mkdir -p "$DIR"
chmod 755 "$DIR"
if [[ $BM25_FROM != installed ]] && ! git -C "$REPO_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
	echo "run.sh: $REPO_ROOT is not a git work tree: measuring the installed bm25"
	BM25_FROM=installed
fi
RUN=$DIR/run
rm -rf "$RUN"
mkdir -p "$RUN" "$RUN/lat" "$RUN/bin"
RESULTS=$DIR/results
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
exec > >(tee "$RESULTS/run.log") 2>&1
echo "bm25 benchmark: mode $( ((SMALL)) && echo small || echo full), dir $DIR, rounds $ROUNDS, $PER_BUCKET queries per bucket"

# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------
log "build tools"
gcc -O2 -Wall -I"$($PG_BINDIR/pg_config --includedir)" -o "$RUN/bin/pgclient" \
	"$BENCH_SRC/pgclient.c" -L"$($PG_BINDIR/pg_config --libdir)" -lpq
g++ -O2 -std=c++17 -ffp-contract=off -Wall -o "$RUN/bin/xbench" \
	"$BENCH_SRC/xbench.cc" -lxapian -lpthread
gcc -O2 -Wall -o "$RUN/bin/synth" "$BENCH_SRC/synth.c" -lm
PGCLIENT=$RUN/bin/pgclient
XBENCH=$RUN/bin/xbench

# ---------------------------------------------------------------------------
# Private PostgreSQL installation with the bm25 to measure
# ---------------------------------------------------------------------------
PGROOT=$DIR/pgroot
SYS_BINDIR=$PG_BINDIR
rm -rf "$PGROOT"
mkdir -p "$PGROOT/usr/lib/postgresql" "$PGROOT/usr/share/postgresql"
cp -a /usr/lib/postgresql/15 "$PGROOT/usr/lib/postgresql/"
cp -a /usr/share/postgresql/15 "$PGROOT/usr/share/postgresql/"
PG_BINDIR=$PGROOT/usr/lib/postgresql/15/bin
SO=$PGROOT/usr/lib/postgresql/15/lib/bm25.so
case $BM25_FROM in
	installed)
		[[ -e $SO ]] || die "bm25 is not installed (make install), or use --bm25 tree"
		BM25_DESC="installed ($(md5sum "$SO" | cut -c1-12))"
		;;
	*)
		log "build bm25 ($BM25_FROM) into $PGROOT"
		SRC=$RUN/src
		mkdir -p "$SRC"
		if [[ $BM25_FROM != tree ]]; then
			rev=$BM25_FROM
			[[ $rev == head ]] && rev=HEAD
			git -C "$REPO_ROOT" rev-parse --verify -q "$rev^{commit}" >/dev/null ||
				die "--bm25: not tree, installed or a git revision: $BM25_FROM"
			git -C "$REPO_ROOT" archive "$rev" | tar -x -C "$SRC"
			BM25_DESC="commit $(git -C "$REPO_ROOT" rev-parse --short "$rev^{commit}")"
		else
			git -C "$REPO_ROOT" ls-files -z -c -o --exclude-standard |
				grep -z -v -E '(\.o|\.so|\.bc)$|^build/|^tmp_check/|^results' |
				(cd "$REPO_ROOT" && tar --null -T - -c) | tar -x -C "$SRC"
			BM25_DESC="tree $(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
		fi
		rm -f "$SO"
		make -C "$SRC" -s -j"$(nproc)" PG_CONFIG="$SYS_BINDIR/pg_config" >"$RUN/bm25-build.log" 2>&1 ||
			{ tail -30 "$RUN/bm25-build.log"; die "bm25 build failed"; }
		make -C "$SRC" -s install PG_CONFIG="$SYS_BINDIR/pg_config" DESTDIR="$PGROOT" >>"$RUN/bm25-build.log" 2>&1 ||
			{ tail -30 "$RUN/bm25-build.log"; die "bm25 install failed"; }
		[[ -e $SO ]] || die "bm25 install did not produce $SO"
		;;
esac
SO_MD5=$(md5sum "$SO" | cut -d' ' -f1)
echo "bm25: $BM25_DESC, $SO"

# ---------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------
if [[ -z $CORPUS ]]; then
	key=$(cat "$BENCH_SRC/corpus.py" <(echo "$SOURCES") | sha1sum | cut -c1-12)
	CORPUS=$DIR/corpus-$key.tsv
	if [[ ! -s $CORPUS.manifest ]]; then
		log "corpus ($SOURCES)"
		$PYTHON "$BENCH_SRC/corpus.py" --sources "$SOURCES" "$CORPUS"
	else
		log "corpus (cached: $CORPUS)"
	fi
	cat "$CORPUS.manifest"
fi
DOCFILE=$RUN/docs.tsv
if ((DOCS > 0)); then
	head -n "$DOCS" "$CORPUS" | cut -f1,4 >"$DOCFILE"
else
	cut -f1,4 "$CORPUS" >"$DOCFILE"
fi
NDOCS=$(wc -l <"$DOCFILE")
echo "documents: $NDOCS"

# ---------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------
PGDATA=$DIR/pgdata
SOCK=$DIR/sock
if [[ -f $PGDATA/postmaster.pid ]]; then
	as_pg pg_ctl -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true
fi
rm -rf "$PGDATA" "$SOCK"
mkdir -p "$SOCK"
chown "$PGUSER_OS" "$DIR" "$SOCK" "$RUN" 2>/dev/null || true
chmod -R a+rX "$PGROOT"
log "initdb ($PGDATA, port $PORT)"
as_pg initdb -D "$PGDATA" -U "$PGUSER_OS" -A trust -E UTF8 --locale=C.UTF-8 >/dev/null

# Huge pages for the shared memory, as PostgreSQL's documentation advises
# for a large shared_buffers: each pass is a new connection, and a new
# backend faults in the page table of every shared buffer it touches, 4 kB
# at a time without them (on this host 8% of a 2-3-term bm25 query's p50
# in the full run; GIN and RUM run on the same server).  Only root can
# reserve them; the reservation is given back at exit.  Without them the
# run says so in its report.
HUGE_PAGES=off
HP_BEFORE=
release_huge_pages()
{
	[[ -z $HP_BEFORE ]] || echo "$HP_BEFORE" >/proc/sys/vm/nr_hugepages 2>/dev/null || true
}
if is_root && [[ -w /proc/sys/vm/nr_hugepages ]] && ((!SMALL)) && [[ ${BENCH_HUGE_PAGES:-1} == 1 ]]; then
	hp_size_kb=$(awk '/^Hugepagesize:/ {print $2}' /proc/meminfo)
	sb_mb=${SHARED_BUFFERS%GB}
	[[ $sb_mb != "$SHARED_BUFFERS" ]] && sb_mb=$((sb_mb * 1024)) || sb_mb=${SHARED_BUFFERS%MB}
	# shared_buffers plus room for the rest of the shared memory
	hp_need=$(((sb_mb + 256) * 1024 / hp_size_kb))
	HP_BEFORE=$(cat /proc/sys/vm/nr_hugepages)
	trap 'release_huge_pages' EXIT
	if ((HP_BEFORE < hp_need)); then
		echo "$hp_need" >/proc/sys/vm/nr_hugepages 2>/dev/null || true
	fi
	if (($(cat /proc/sys/vm/nr_hugepages) >= hp_need)); then
		HUGE_PAGES=on
	fi
fi
echo "huge pages for shared memory: $HUGE_PAGES"
cat >>"$PGDATA/postgresql.conf" <<EOF
huge_pages = $HUGE_PAGES
shared_preload_libraries = 'bm25'
port = $PORT
listen_addresses = ''
unix_socket_directories = '$SOCK'
shared_buffers = $SHARED_BUFFERS
maintenance_work_mem = 1GB
work_mem = 64MB
max_wal_size = 8GB
checkpoint_timeout = 30min
jit = off
max_parallel_maintenance_workers = 0
logging_collector = off
EOF
CONN="host=$SOCK port=$PORT dbname=postgres user=$PGUSER_OS"
# to_tsvector's "word is too long to be indexed" notices are not news
export PGOPTIONS="-c client_min_messages=warning"
pg_start() { as_pg pg_ctl -D "$PGDATA" -l "$DIR/server.log" -w -t 120 start >/dev/null; }
pg_stop() { as_pg pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true; }
trap 'pg_stop; release_huge_pages' EXIT
pg_start
PSQL=("$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 "$CONN")
sql() { "${PSQL[@]}" -At -c "$1"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

drop_caches()
{
	sync
	if ((CAN_DROP)) && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then
		return 0
	fi
	return 1
}

BUILD=$RUN/build.tsv
: >"$BUILD"
record() { printf '%s\t%s\n' "$1" "$2" >>"$BUILD"; echo "$1 = $2"; }

log "load"
sql "CREATE EXTENSION bm25; CREATE EXTENSION rum;"
sql "CREATE TABLE docs (id int NOT NULL, body text NOT NULL)"
"${PSQL[@]}" -c "\\copy docs FROM '$DOCFILE'"
sql "VACUUM (ANALYZE, FREEZE) docs"
sql "CHECKPOINT"
# ties: bm25 breaks them by heap order (ctid), and so does the reference
"${PSQL[@]}" -c "\\copy (SELECT id, row_number() OVER (ORDER BY ctid) FROM docs) TO '$RUN/tidorder.tsv'"
record docs "$NDOCS"
record table_bytes "$(sql "SELECT pg_table_size('docs')")"

# ---------------------------------------------------------------------------
# Builds (timed one after another; each is a single measurement)
# ---------------------------------------------------------------------------
# bm25 and Xapian (own tokenizing) are each built twice, interleaved, and
# the faster build of each counts (the host's speed drifts); --single-builds
# builds each once.
xapian_text_build() # n
{
	local out
	out=$("$XBENCH" index-text <(head -n "$NDOCS" "$CORPUS") "$RUN/xapian-text.db")
	echo "$out"
	record "xapian_text_build_s_$1" "$(awk '{print $4}' <<<"$out")"
	record xapian_text_db_bytes "$(du -sb "$RUN/xapian-text.db" | cut -f1)"
	rm -rf "$RUN/xapian-text.db"
}
log "build: bm25 (CREATE INDEX, tokenizing included, one process)"
t0=$(now)
sql "CREATE INDEX docs_bm25 ON docs USING bm25 (body) WITH (text_config = 'english', k1 = 1.2, b = 0.75)"
record bm25_build_s_1 "$(elapsed "$t0")"
sql "CHECKPOINT"
log "build: Xapian with its own tokenizing (TermGenerator, english stemmer)"
xapian_text_build 1
if ((!SINGLE_BUILDS)); then
	log "build: bm25 again (REINDEX)"
	t0=$(now)
	sql "REINDEX INDEX docs_bm25"
	record bm25_build_s_2 "$(elapsed "$t0")"
	sql "CHECKPOINT"
fi
log "build: bm25 with $PBUILD_WORKERS parallel workers (REINDEX)"
t0=$(now)
sql "SET max_parallel_maintenance_workers = $PBUILD_WORKERS; REINDEX INDEX docs_bm25"
record bm25_pbuild_s_1 "$(elapsed "$t0")"
sql "CHECKPOINT"
if ((!SINGLE_BUILDS)); then
	log "build: Xapian with its own tokenizing, again"
	xapian_text_build 2
	log "build: bm25 with $PBUILD_WORKERS parallel workers, again"
	t0=$(now)
	sql "SET max_parallel_maintenance_workers = $PBUILD_WORKERS; REINDEX INDEX docs_bm25"
	record bm25_pbuild_s_2 "$(elapsed "$t0")"
fi
record bm25_pbuild_workers "$PBUILD_WORKERS"
sql "CHECKPOINT"
IFS='|' read -r segs idocs itokens iavgdl iterms isegbytes < <(sql "SELECT segments, documents, total_tokens, avg_doc_length, terms, segment_bytes FROM bm25_index_stats('docs_bm25')")
record bm25_segments "$segs"
record bm25_documents "$idocs"
record bm25_total_tokens "$itokens"
record bm25_terms "$iterms"
record bm25_segment_bytes "$isegbytes"
record bm25_rel_bytes "$(sql "SELECT pg_relation_size('docs_bm25')")"
record bm25_dir_bytes "$(du -sb "$PGDATA/bm25" 2>/dev/null | cut -f1 || echo 0)"

log "build: GIN (stored tsvector column, then the index)"
t0=$(now)
sql "CREATE TABLE fts_gin AS SELECT id, to_tsvector('english', body) AS tsv FROM docs ORDER BY id"
record gin_tsvector_s "$(elapsed "$t0")"
t0=$(now)
sql "CREATE INDEX fts_gin_idx ON fts_gin USING gin (tsv)"
record gin_index_s "$(elapsed "$t0")"
sql "VACUUM (ANALYZE, FREEZE) fts_gin"
record gin_index_bytes "$(sql "SELECT pg_relation_size('fts_gin_idx')")"
record gin_table_bytes "$(sql "SELECT pg_table_size('fts_gin')")"

if ((!SKIP_RUM)); then
	log "build: RUM (rum_tsvector_ops on a copy of the tsvector table)"
	sql "CREATE TABLE fts_rum AS SELECT id, tsv FROM fts_gin ORDER BY id"
	sql "VACUUM (ANALYZE, FREEZE) fts_rum"
	t0=$(now)
	sql "CREATE INDEX fts_rum_idx ON fts_rum USING rum (tsv rum_tsvector_ops)"
	record rum_index_s "$(elapsed "$t0")"
	record rum_index_bytes "$(sql "SELECT pg_relation_size('fts_rum_idx')")"
	sql "CHECKPOINT"
fi

log "export analyzed terms (to_tsvector lexemes and counts)"
# tf = number of positions, except where a tsvector is capped (255
# positions per lexeme, position 16383): there the words are counted from
# ts_debug, which is what bm25 counts (every word the parser and dictionaries
# produce).
POSTINGS=$RUN/postings.tsv
"${PSQL[@]}" -c "\\copy (WITH capped AS (SELECT DISTINCT g.id FROM fts_gin g, unnest(g.tsv) t WHERE array_length(t.positions, 1) >= 255 OR t.positions[array_length(t.positions, 1)] >= 16383) SELECT g.id, t.lexeme, array_length(t.positions, 1) FROM fts_gin g, unnest(g.tsv) t WHERE g.id NOT IN (SELECT id FROM capped) UNION ALL SELECT d.id, l, count(*) FROM docs d JOIN capped USING (id), ts_debug('english', d.body) x, unnest(x.lexemes) l GROUP BY d.id, l) TO '$POSTINGS'"
ls -l "$POSTINGS"
if ((!SMALL)) && [[ -z ${CORPUS_GIVEN:-} ]]; then
	log "fit the synthetic generator to this corpus ($DIR/fit)"
	$PYTHON "$BENCH_SRC/synth_fit.py" "$POSTINGS" "$DIR/fit"
fi

log "build: Xapian (pre-analyzed terms, tokenizing excluded)"
XDB=$RUN/xapian.db
out=$("$XBENCH" index "$POSTINGS" "$XDB")
echo "$out"
record xapian_build_s "$(awk '{print $4}' <<<"$out")"
record xapian_db_bytes "$(du -sb "$XDB" | cut -f1)"

# ---------------------------------------------------------------------------
# Queries and the exact reference
# ---------------------------------------------------------------------------
log "queries ($PER_BUCKET per bucket, seed $SEED)"
$PYTHON "$BENCH_SRC/queries.py" sample "$CORPUS" "$PER_BUCKET" "$SEED" >"$RUN/cand.tsv"
sql "CREATE TABLE cand (cid int, bucket text, q text)"
"${PSQL[@]}" -c "\\copy cand FROM '$RUN/cand.tsv'"
# The last column is the largest number of times the text gives one lexeme:
# queries.py keeps texts that give every lexeme once, so that all engines
# weigh the same set of terms (bm25 weighs a repeated lexeme by its count,
# docs/ranking.md; tsquery and Xapian's OR take it once).
"${PSQL[@]}" -c "\\copy (SELECT cid, bucket, q, array_to_string(ARRAY(SELECT lexeme FROM unnest(to_tsvector('english', q)) ORDER BY lexeme), chr(31)), (SELECT coalesce(max(array_length(positions, 1)), 0) FROM unnest(to_tsvector('english', q))) FROM cand ORDER BY cid) TO '$RUN/cand_lex.tsv'"
$PYTHON "$BENCH_SRC/queries.py" select "$RUN/cand_lex.tsv" "$PER_BUCKET" "$RUN/queries"
QUERIES=$RUN/queries.tsv
QLEX=$RUN/queries.lex.tsv
QUERIES_RUN=$RUN/queries.run.tsv        # the same, in run order
QLEX_RUN=$RUN/queries.run.lex.tsv
cp "$QUERIES" "$RESULTS/queries.tsv"
awk -F'\t' '{n[$2]++; s[$2]+=$5} END {for (b in n) printf "bucket %s: %d queries, %.1f lexemes on average\n", b, n[b], s[b]/n[b]}' "$QUERIES" | sort

log "exact BM25 (brute force over the exported terms)"
"$XBENCH" exact "$POSTINGS" "$QLEX" "$RUN/tidorder.tsv" "$RUN/exact.tsv" 1.2 0.75

# ---------------------------------------------------------------------------
# Timed rounds, interleaved across engines
# ---------------------------------------------------------------------------
ENGINES=(bm25 gin rum xapian)
((!SKIP_RUM)) || ENGINES=(bm25 gin xapian)
COLD_METHOD="server restart + echo 3 > /proc/sys/vm/drop_caches before each engine's cold pass"
drop_caches || COLD_METHOD="server restart only (no permission to drop the page cache)"
echo "cold: $COLD_METHOD"

# A pass: one client (one connection / one Database), every query once in
# run order.  Warm passes first run 10 queries untimed: a new backend's (or
# Database's) first queries load catalog caches and open the index, which a
# long-lived connection does once.
lat_pass() # engine round pass [out]
{
	local e=$1 r=$2 k=$3 cap=0 out=${4:-$RUN/lat/$1.r$2.$3.tsv} warm=10
	case $e in gin|rum) cap=$SLOW_CAP ;; esac
	((r > 0)) || warm=0
	local t0
	t0=$(now)
	if [[ $e == xapian ]]; then
		"$XBENCH" lat "$XDB" "$QLEX_RUN" "$out" "$warm"
	else
		"$PGCLIENT" lat "$CONN" "$e" "$QUERIES_RUN" "$out" "$cap" "$warm"
	fi
	printf '  %-6s round %d pass %d: %s s\n' "$e" "$r" "$k" "$(elapsed "$t0")"
}

# The timed passes run under a zero CPU wakeup-latency request (PM QoS,
# /dev/cpu_dma_latency, what tuned's latency-performance profile holds on
# a database server): without it this host's vCPUs halt whenever a client
# waits on the server, and waking one costs about 70 us, so every SQL
# round trip pays that twice over (prepared SELECT 1: p50 87 us without,
# 16 us with).  It is the same fixed cost added to every PostgreSQL
# engine's every query, not work any engine does; Xapian, timed in-process,
# never pays it.  Only root can make the request; it ends with the holder.
# The round-trip floor is measured without and with it, and both are in
# the report (BENCH_PM_QOS=0: no request).
PM_QOS=off
PMQOS_PID=
pmqos_release()
{
	if [[ -n $PMQOS_PID ]]; then
		kill "$PMQOS_PID" 2>/dev/null || true
		wait "$PMQOS_PID" 2>/dev/null || true
		PMQOS_PID=
	fi
}
trap 'pmqos_release; pg_stop; release_huge_pages' EXIT
FLOOR_IDLE=$("$PGCLIENT" floor "$CONN" 2000)
if is_root && [[ -w /dev/cpu_dma_latency ]] && ((!SMALL)) && [[ ${BENCH_PM_QOS:-1} == 1 ]]; then
	"$PYTHON" "$BENCH_SRC/pmqos.py" >"$RUN/pmqos.out" 2>&1 &
	PMQOS_PID=$!
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[[ -s $RUN/pmqos.out ]] && break
		sleep 0.1
	done
	if grep -qx held "$RUN/pmqos.out"; then PM_QOS=on; else cat "$RUN/pmqos.out"; pmqos_release; fi
fi
echo "PM QoS zero wakeup-latency request held during the timed passes: $PM_QOS"
FLOOR_HELD=$FLOOR_IDLE
[[ $PM_QOS == off ]] || FLOOR_HELD=$("$PGCLIENT" floor "$CONN" 2000)
echo "round-trip floor (prepared SELECT 1, us): $FLOOR_IDLE without the request, $FLOOR_HELD in the timed passes"

# The builds just wrote several hundred MB (indexes, Xapian's database,
# exported terms).  sync returns once the guest has handed them over, but a
# virtual disk can go on writing them back for many seconds, and the first
# cold pass, which reads, would pay for that: in runs where the cold round
# began 6 s after the Xapian build, bm25's cold pass (always the first)
# took 0.7-1.4 ms at p50 for 1-term queries, and 0.29-0.44 ms when run on
# its own.  So the cold round waits until the guest has nothing dirty left
# and then BENCH_COLD_SETTLE seconds more (default 20).
settle_disk()
{
	local i
	sync
	for ((i = 0; i < 120; i++)); do
		awk '/^(Dirty|Writeback):/ { s += $2 } END { exit !(s < 1024) }' /proc/meminfo && break
		sleep 1
	done
	sleep "${BENCH_COLD_SETTLE:-20}"
}
((SMALL)) || { log "let the disk settle before the cold round (${BENCH_COLD_SETTLE:-20} s)"; settle_disk; }

for ((r = 0; r <= ROUNDS; r++)); do
	# rotate the order so no engine always follows the same one
	order=()
	for ((i = 0; i < ${#ENGINES[@]}; i++)); do
		order+=("${ENGINES[$(((i + r) % ${#ENGINES[@]}))]}")
	done
	if ((r == 0)); then log "round 0 (cold): ${order[*]}"; else log "round $r (warm): ${order[*]}"; fi
	for e in "${order[@]}"; do
		if ((r == 0)); then
			pg_stop
			drop_caches || true
			pg_start
		fi
		lat_pass "$e" "$r" 0
	done
	if ((r == 0 && ROUNDS > 0)); then
		# Each cold pass restarted the server, so the shared buffers no
		# longer hold what the engines before it had read: their first
		# warm pass would be partly cold.  One untimed pass per engine
		# brings every engine back to a warm state first.
		log "re-warm after the cold round (untimed): ${ENGINES[*]}"
		for e in "${ENGINES[@]}"; do lat_pass "$e" 1 9 "$RUN/rewarm.tsv"; done
		rm -f "$RUN/rewarm.tsv"
	fi
	if ((r > 0)); then
		for ((k = 1; k <= FAST_EXTRA; k++)); do
			if (((r + k) % 2)); then pair=(bm25 xapian); else pair=(xapian bm25); fi
			for e in "${pair[@]}"; do lat_pass "$e" "$r" "$k"; done
		done
	fi
done

log "QPS, 2 concurrent clients, ${QPS_SECONDS}s each, 2 interleaved passes"
QPS=$RUN/qps.tsv
: >"$QPS"
for rep in 1 2; do
	for e in "${ENGINES[@]}"; do
		if [[ $e == xapian ]]; then
			out=$("$XBENCH" qps "$XDB" "$QLEX_RUN" 2 "$QPS_SECONDS")
		else
			out=$("$PGCLIENT" qps "$CONN" "$e" "$QUERIES_RUN" 2 "$QPS_SECONDS")
		fi
		printf '  %-6s pass %d: %s\n' "$e" "$rep" "$out"
		printf '%s\t%s\t%s\n' "$e" "$rep" "$out" >>"$QPS"
	done
done

pmqos_release

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
log "report"
{
	echo "machine	$(uname -srm); $(nproc) cores; $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
	echo "postgresql	$(sql 'SHOW server_version')"
	echo "xapian	$(dpkg-query -W -f='${Version}' libxapian-dev)"
	echo "rum	$(dpkg-query -W -f='${Version}' postgresql-15-rum)"
	echo "bm25_so	$SO"
	echo "bm25_commit	$BM25_DESC"
	echo "bm25_so_md5	$SO_MD5"
	if [[ $(md5sum "$SO" | cut -d' ' -f1) != "$SO_MD5" ]]; then
		echo "warning	the private bm25.so changed during the run"
	fi
	echo "cold_method	$COLD_METHOD"
	# other work on the host skews everything: the load before and after
	echo "loadavg	start $LOAD_START, end $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "mode	$( ((SMALL)) && echo small || echo full)"
	echo "rounds	$ROUNDS"
	echo "fast_extra	$FAST_EXTRA"
	echo "single_builds	$SINGLE_BUILDS"
	echo "slow_cap	$SLOW_CAP"
	echo "engines	${ENGINES[*]}"
	echo "huge_pages	$HUGE_PAGES"
	echo "pm_qos	$PM_QOS"
	echo "roundtrip_floor_us	$FLOOR_HELD"
	echo "roundtrip_floor_idle_us	$FLOOR_IDLE"
	echo "qps_seconds	$QPS_SECONDS"
	echo "corpus	$(basename "$CORPUS")"
	echo "shared_buffers	$SHARED_BUFFERS"
} >"$RUN/meta.tsv"
[[ -f $CORPUS.manifest ]] && cp "$CORPUS.manifest" "$RESULTS/corpus.manifest"
$PYTHON "$BENCH_SRC/report.py" "$RUN" "$RESULTS"
cp "$RUN/exact.tsv" "$RUN/build.tsv" "$RUN/qps.tsv" "$RUN/meta.tsv" "$RESULTS/"
# every timed query: engine round pass qid bucket usec rows (ids and scores
# stay in $RUN/lat)
for f in "$RUN"/lat/*.tsv; do
	b=$(basename "$f" .tsv)
	IFS=. read -r e r k <<<"$b"
	awk -F'\t' -v e="$e" -v r="${r#r}" -v k="$k" 'BEGIN { OFS = "\t" } { print e, r, k, $1, $2, $3, $4 }' "$f"
done >"$RESULTS/latency.tsv"
echo "total time: $(($(date +%s) - T_START)) s"
if ((PUBLISH)); then
	# Only the files of the previous full run are replaced: the
	# subdirectories hold other kept results (synth-1m, synth-10m, scale-10m).
	dest=$REPO_ROOT/docs/bench-results
	mkdir -p "$dest"
	find "$dest" -maxdepth 1 -type f -delete
	cp -r "$RESULTS"/. "$dest/"
	echo "published to $dest"
fi
