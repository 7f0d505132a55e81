#!/usr/bin/env bash
# scale.sh - bm25 alone on a large synthetic corpus: build time, peak memory
# of every server process, and query latency.
#
#   test/bench/scale.sh NDOCS          e.g.  test/bench/scale.sh 10000000
#
# The side-by-side benchmark (synth.sh) at 10M documents takes hours, almost
# all of it in GIN, RUM and Xapian.  This runs only bm25, on the same
# synthetic corpus (synth.sh's generator and fit) with the same settings, to
# show how bm25 itself behaves at that scale: CREATE INDEX in one process,
# REINDEX with 2 parallel workers, then one pass over the full run's 800
# queries (10 untimed first) and a second pass.  The private memory
# (RssAnon) of every server process is sampled every 0.2 s; the report
# gives each phase's peak.  Needs a full run first (make bench: the fit, the
# queries, pgclient and the private installation under $BENCH_DIR), root
# (the server runs as $BM25_USER), about 15 minutes and 12 GB of disk at
# 10M.  Output: $BENCH_DIR/scale-NDOCS/report.txt.
set -euo pipefail
BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
N=${1:?usage: scale.sh NDOCS}
DIR=${BENCH_DIR:-/tmp/bm25-bench-$(id -un)}
BM25_USER=${BM25_USER:-bm25}
PORT=${PORT:-54395}
OUT=$DIR/scale-$N
PGBIN=$DIR/pgroot/usr/lib/postgresql/15/bin
PGCLIENT=$DIR/run/bin/pgclient
QUERIES=$DIR/run/queries.run.tsv

for f in "$DIR/fit/fit.tsv" "$PGBIN/postgres" "$PGCLIENT" "$QUERIES"; do
	[[ -e $f ]] || { echo "scale.sh: $f missing: run the full benchmark (make bench) first" >&2; exit 1; }
done
[[ $(id -u) == 0 ]] || { echo "scale.sh: run as root" >&2; exit 1; }

log() { echo; echo "=== [$(date +%T)] $*"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

mkdir -p "$DIR/bin" "$OUT"
gcc -O2 -Wall -o "$DIR/bin/synth" "$BENCH_SRC/synth.c" -lm
CORPUS=$DIR/synth-$N.tsv
if [[ ! -s $CORPUS || $CORPUS -ot $DIR/fit/fit.tsv ]]; then
	log "generating $N documents"
	"$DIR/bin/synth" "$DIR/fit" "$N" 1 >"$CORPUS.tmp"
	mv "$CORPUS.tmp" "$CORPUS"
fi

PGDATA=$OUT/pgdata
SOCK=$OUT/sock
as_pg() { runuser -u "$BM25_USER" -- "$@"; }
if [[ -d $PGDATA ]]; then as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true; fi
rm -rf "$PGDATA" "$SOCK"
mkdir -p "$SOCK"
chown -R "$BM25_USER" "$OUT"
as_pg "$PGBIN/initdb" -D "$PGDATA" -A trust -E UTF8 --locale=C >/dev/null
cat >>"$PGDATA/postgresql.conf" <<EOF
shared_preload_libraries = 'bm25'
port = $PORT
unix_socket_directories = '$SOCK'
listen_addresses = ''
shared_buffers = 2GB
work_mem = 64MB
maintenance_work_mem = 1GB
max_parallel_maintenance_workers = 0
jit = off
max_wal_size = 8GB
cluster_name = 'bm25scale'
EOF
as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$OUT/server.log" -w -t 120 start >/dev/null
SAMPLER=
trap 'as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true; [[ -z $SAMPLER ]] || kill "$SAMPLER" 2>/dev/null || true' EXIT
PSQL=(runuser -u "$BM25_USER" -- "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -d postgres)
sql() { "${PSQL[@]}" -At -c "$1"; }

# Every 0.2 s: phase, pid, process title, RssAnon (kB) of each server process.
PHASE=$OUT/phase
echo setup >"$PHASE"
MEM=$OUT/memory.tsv
BM25_USER=$BM25_USER MEMSAMPLE_PHASE=$PHASE "$BENCH_SRC/memsample.sh" "$MEM" 0.2 "$PGDATA" &
SAMPLER=$!

REPORT=$OUT/report.txt
: >"$REPORT"
rep() { echo "$*" | tee -a "$REPORT"; }
rep "bm25 at scale: $N synthetic documents ($(basename "$CORPUS")), $(date -u +%F)"
rep "server: $("$PGBIN/postgres" --version), bm25 as installed in $DIR/pgroot by the last full run"
rep "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"

log "load"
echo load >"$PHASE"
sql "CREATE EXTENSION bm25; CREATE TABLE docs (id int NOT NULL, body text NOT NULL)"
t0=$(now)
cut -f1,4 "$CORPUS" | "${PSQL[@]}" -c "\\copy docs FROM STDIN"
sql "VACUUM (ANALYZE, FREEZE) docs"
sql "CHECKPOINT"
rep "load: $(elapsed "$t0") s, table $(sql "SELECT pg_size_pretty(pg_table_size('docs'))")"

log "CREATE INDEX (one process)"
echo build >"$PHASE"
t0=$(now)
sql "CREATE INDEX docs_bm25 ON docs USING bm25 (body) WITH (text_config = 'english', k1 = 1.2, b = 0.75)"
s=$(elapsed "$t0")
rep "CREATE INDEX: $s s, $(awk -v n="$N" -v s="$s" 'BEGIN { printf "%.0f", n / s }') docs/s"
sql "CHECKPOINT"

log "REINDEX with 2 parallel workers"
echo pbuild >"$PHASE"
t0=$(now)
"${PSQL[@]}" -c "SET max_parallel_maintenance_workers = 2" -c "REINDEX INDEX docs_bm25"
s=$(elapsed "$t0")
rep "REINDEX, 2 workers: $s s, $(awk -v n="$N" -v s="$s" 'BEGIN { printf "%.0f", n / s }') docs/s"
rep "index: $(sql "SELECT segments || ' segment(s), ' || documents || ' docs, ' || terms || ' terms, ' || pg_size_pretty(segment_bytes) FROM bm25_index_stats('docs_bm25')")"
sql "CHECKPOINT"

log "queries: two passes over $(wc -l <"$QUERIES") queries"
echo query >"$PHASE"
CONN="host=$SOCK port=$PORT user=$BM25_USER dbname=postgres"
for pass in 1 2; do
	"$PGCLIENT" lat "$CONN" bm25 "$QUERIES" "$OUT/lat$pass.tsv" 0 10
	python3 - "$OUT/lat$pass.tsv" "$pass" <<'EOF' | tee -a "$REPORT"
import collections, statistics, sys
d = collections.defaultdict(list)
errors = 0
for line in open(sys.argv[1]):
    f = line.rstrip('\n').split('\t')
    if f[4].startswith('ERROR'):
        errors += 1
    d[f[1]].append(float(f[2]))
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))]
print('pass %s (ms, p50 / p95 / p99; errors %d): ' % (sys.argv[2], errors) + '; '.join(
    '%s %.2f / %.2f / %.2f' % (b, statistics.median(v) / 1000, pct(v, 0.95) / 1000, pct(v, 0.99) / 1000)
    for b, v in sorted(d.items(), key=lambda kv: ['1', '2-3', '4-7', '8+'].index(kv[0]))))
EOF
done
echo done >"$PHASE"
sleep 0.5

rep "peak private memory (RssAnon) per phase, largest process:"
awk -F'\t' '$1 != "setup" && $1 != "done" { if ($4 > m[$1]) { m[$1] = $4; c[$1] = $3 } }
	END { for (p in m) printf "  %-7s %7.0f MB  %s\n", p, m[p] / 1024, c[p] }' "$MEM" | sort | tee -a "$REPORT"
rep "(memory.tsv has every sample)"
