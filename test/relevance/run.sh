#!/usr/bin/env bash
# run.sh - ranking quality of bm25 on four relevance-judged test collections
# (cacm, cisi, med, cran), against PostgreSQL's ts_rank and against the
# reference figures of the collections' README.  See docs/relevance.md.
#
#   test/relevance/run.sh [options]        (make relevance)
#
# Options (also as environment variables):
#   --data DIR     the collections (BM25_RELEVANCE_DIR; default
#                  ../shared/relevance next to this checkout)
#   --out DIR      where the results go (RELEVANCE_OUT; default
#                  /tmp/bm25-relevance-$USER)
#   --port P       port of the private server (RELEVANCE_PORT; 54396)
#   --only LIST    comma list of collections (default cacm,cisi,med,cran)
#   --keep         keep the temporary cluster (and leave it running)
#
# The collections are not part of this repository: without them the script
# says so and exits 0.  It measures the bm25 installed in PostgreSQL 15
# (make install).  As root it runs the server and psql as $BM25_USER
# (default bm25, created if absent), as scripts/test.sh does; otherwise as
# the calling user.
#
# For each collection: a private cluster (initdb in a temporary directory,
# shared_preload_libraries = 'bm25', Unix socket only) loads corpus.tsv,
# queries.tsv and qrels.tsv with COPY, then test/relevance/relevance.sql
# runs every query through
#   - bm25, english, k1=1.2 b=0.75 and k1=0.9 b=0.4:
#       SELECT id FROM docs WHERE body @@@ 'q'
#       ORDER BY bm25_score(body, 'q') DESC, id DESC LIMIT 100
#   - ts_rank over a GIN index of to_tsvector('english', body), the OR of
#     the query's lexemes, ORDER BY ts_rank DESC, id DESC LIMIT 100
#   - a brute-force BM25 in plain SQL at both settings, scoring exactly as
#     the extension does (a query is a bag of words: a repeated lexeme
#     weighs by its count); the exactness check: its top 100 must be bm25's
# and computes nDCG@10, MAP@100, P@10, P@30 and Recall@100 over the queries
# with at least one relevant document.  Writes to the output directory:
#   metrics.tsv     one row per collection and ranker (means)
#   per_query.tsv   the same per query
#   runs.tsv        the ranked lists (collection, ranker, qid, rank, docid, score)
#   exactness.tsv   queries whose top 100 differs from the brute-force reference
#   queries.tsv     shape of the judged queries
#   results.json, results.md   (test/relevance/report.pl), postgresql.log
# and prints the table.  Exit status 1 when a ranking differs from the
# brute-force reference; metrics below the reference figures are reported,
# not fatal (test/t/120_relevance.pl is the pass/fail check).
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
source "$SRC/../../scripts/lib.sh"

DATA=${BM25_RELEVANCE_DIR:-}
OUT=${RELEVANCE_OUT:-}
PORT=${RELEVANCE_PORT:-54396}
ONLY=cacm,cisi,med,cran
KEEP=0
while (($#)); do
	case $1 in
		--data) DATA=$2; shift ;;
		--out) OUT=$2; shift ;;
		--port) PORT=$2; shift ;;
		--only) ONLY=$2; shift ;;
		--keep) KEEP=1 ;;
		-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
		*) die "unknown option $1 (see --help)" ;;
	esac
	shift
done

: "${DATA:=$REPO_ROOT/../shared/relevance}"
if [[ ! -d $DATA ]]; then
	echo "relevance: no collections in $DATA (set BM25_RELEVANCE_DIR or --data); skipped"
	exit 0
fi
DATA=$(cd "$DATA" && pwd)
: "${OUT:=/tmp/bm25-relevance-$(id -un)}"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

ensure_user
USER_NAME=$(run_user)

COLLECTIONS=()
for c in ${ONLY//,/ }; do
	if [[ -f $DATA/$c/corpus.tsv && -f $DATA/$c/queries.tsv && -f $DATA/$c/qrels.tsv ]]; then
		# the server reads them (server-side COPY) as the run user
		as_user -- test -r "$DATA/$c/corpus.tsv" ||
			die "$DATA/$c is not readable by the OS user $USER_NAME"
		COLLECTIONS+=("$c")
	else
		warn "relevance: $DATA/$c lacks corpus.tsv, queries.tsv or qrels.tsv; skipped"
	fi
done
((${#COLLECTIONS[@]})) || { echo "relevance: no collection to run; skipped"; exit 0; }

# The cluster lives in a private directory that is also its socket
# directory and it listens on no TCP address, so the port only names the
# socket and cannot collide with another server.
WORK=$(mktemp -d /tmp/bm25-relevance-cluster.XXXXXX)
if is_root; then chown "$USER_NAME": "$WORK"; fi
PGDATA_DIR=$WORK/data

cleanup()
{
	if ((KEEP)); then
		echo "cluster kept in $WORK (psql -h $WORK -p $PORT -d rel_<collection>);"
		echo "stop it with: pg_ctl -D $PGDATA_DIR stop"
		return
	fi
	if [[ -f $PGDATA_DIR/postmaster.pid ]]; then
		as_user -- pg_ctl -D "$PGDATA_DIR" -m fast -w stop >/dev/null 2>&1 || true
	fi
	if [[ -f $WORK/postgresql.log ]]; then cp "$WORK/postgresql.log" "$OUT/" || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

log "relevance: collections ${COLLECTIONS[*]} from $DATA; results in $OUT"
as_user -- initdb -D "$PGDATA_DIR" -E UTF8 --locale=C.UTF-8 -A trust >/dev/null
cat >>"$PGDATA_DIR/postgresql.conf" <<EOF
shared_preload_libraries = 'bm25'
listen_addresses = ''
unix_socket_directories = '$WORK'
port = $PORT
fsync = off
shared_buffers = 128MB
maintenance_work_mem = 256MB
work_mem = 64MB
jit = off
EOF
as_user -- pg_ctl -D "$PGDATA_DIR" -l "$WORK/postgresql.log" -w start >/dev/null

sql() # sql DB [psql args...]; SQL on stdin or in -c
{
	local db=$1
	shift
	# no NOTICEs ("index ... does not exist, skipping")
	as_user PGOPTIONS='-c client_min_messages=warning' -- \
		psql -X -q -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -d "$db" "$@"
}
# tab-separated rows without header
rows() { sql "$1" -A -t -F $'\t' -c "$2"; }

printf 'collection\tranker\tqueries\tndcg10\tmap100\tp10\tp30\trecall100\tseconds\n' >"$OUT/metrics.tsv"
printf 'collection\tranker\tqid\treturned\tnrel\tndcg10\tap100\tp10\tp30\trecall100\n' >"$OUT/per_query.tsv"
printf 'collection\tranker\tqid\trank\tdocid\tscore\n' >"$OUT/runs.tsv"
printf 'collection\tranker\tqueries\tmismatched_queries\tcompared_scores\tbit_identical_scores\n' >"$OUT/exactness.tsv"
printf 'collection\tqueries\tjudged\trepeating_a_lexeme\tlexemes_per_query\toccurrences_per_query\n' >"$OUT/queries.tsv"

SETTINGS=("1.2 0.75" "0.9 0.4")
MISMATCH=0
for c in "${COLLECTIONS[@]}"; do
	db=rel_$c
	t0=$(date +%s)
	sql postgres -c "CREATE DATABASE $db"
	sql "$db" -c 'CREATE EXTENSION bm25'
	sql "$db" <"$SRC/relevance.sql"
	sql "$db" -c "SELECT rel_load('$DATA/$c')" >/dev/null
	sql "$db" -c "SELECT rel_run_tsrank('ts_rank')" >/dev/null
	for s in "${SETTINGS[@]}"; do
		read -r k1 b <<<"$s"
		name="bm25 k1=$k1 b=$b"
		sql "$db" >/dev/null <<EOF
SELECT rel_run_bm25('$name', $k1, $b);
SELECT rel_ref_build($k1, $b);
EOF
		# every ranked list the metrics use (the top 100) must be the
		# brute-force one
		bad=$(rows "$db" "SELECT count(DISTINCT qid) FROM rel_exact_diffs('$name', 100)")
		bits=$(rows "$db" "SELECT compared, bit_identical FROM rel_exact_bits('$name', 100)")
		nq=$(rows "$db" "SELECT count(*) FROM queries")
		printf '%s\t%s\t%s\t%s\t%s\n' "$c" "$name" "$nq" "$bad" "$bits" >>"$OUT/exactness.tsv"
		if ((bad > 0)); then
			MISMATCH=1
			warn "relevance: $c, $name: the rankings of $bad queries differ from brute-force BM25:"
			rows "$db" "SELECT * FROM rel_exact_diffs('$name', 100) LIMIT 10" >&2
		fi
	done
	rows "$db" "SELECT '$c', * FROM rel_query_stats()" >>"$OUT/queries.tsv"
	rows "$db" "SELECT '$c', * FROM rel_metrics()" >>"$OUT/metrics.tsv"
	rows "$db" "SELECT '$c', * FROM rel_per_query()" >>"$OUT/per_query.tsv"
	rows "$db" "SELECT '$c', ranker, qid, rnk, docid, score FROM results
	            ORDER BY ranker, qid, rnk" >>"$OUT/runs.tsv"
	echo "$c: done in $(($(date +%s) - t0))s"
done

GIT_REV=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
BM25_VERSION=$(rows postgres "SELECT default_version FROM pg_available_extensions WHERE name = 'bm25'")
perl "$SRC/report.pl" "$OUT" "$SRC/reference.tsv" "checkout $GIT_REV, installed bm25 $BM25_VERSION"
if ((MISMATCH)); then
	echo "relevance: FAILED: rankings differ from brute-force BM25 (see above and $OUT/exactness.tsv)"
	exit 1
fi
