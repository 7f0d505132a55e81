#!/usr/bin/env bash
# synth.sh - the benchmark at synthetic scale (1M, 10M documents).
#
#   test/bench/synth.sh NDOCS [run.sh options]
#
# The vocabulary (Zipf) and document lengths are fitted to the real corpus
# by test/bench/synth_fit.py; a full run (make bench) leaves the fit in
# $BENCH_DIR/fit.  test/bench/synth.c streams NDOCS documents (seed 1) into
# $BENCH_DIR/synth-NDOCS.tsv (cached), and run.sh runs on that corpus in
# its own work directory, by default with 1 warm round, at most 20 queries
# per bucket for GIN and RUM (ranking a large part of a 1M-row table per
# query takes them seconds) and without publishing to docs/bench-results/.
# Later options override these.
#   test/bench/synth.sh 1000000
#   test/bench/synth.sh 10000000 --slow-cap 10 --skip-rum --single-builds --fast-extra 0
# (at 10M a RUM pass over ten queries per bucket would take hours: at 1M
# its 2-3-term p50 was 2.1 s and its 8+-term p50 12 s; with these options
# the 10M run took two hours here, docs/benchmarks.md)
set -euo pipefail
BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
N=${1:?usage: synth.sh NDOCS [run.sh options]}
shift
DIR=${BENCH_DIR:-/tmp/bm25-bench-$(id -un)}
FIT=$DIR/fit
[[ -s $FIT/fit.tsv ]] || { echo "synth.sh: no fit in $FIT: run the full benchmark (make bench) first" >&2; exit 1; }
mkdir -p "$DIR/bin"
gcc -O2 -Wall -o "$DIR/bin/synth" "$BENCH_SRC/synth.c" -lm
OUT=$DIR/synth-$N.tsv
if [[ ! -s $OUT || $OUT -ot $FIT/fit.tsv ]]; then
	echo "synth.sh: generating $N documents into $OUT"
	/usr/bin/time -f "synth.sh: %e s, max RSS %M KB" "$DIR/bin/synth" "$FIT" "$N" 1 >"$OUT.tmp"
	mv "$OUT.tmp" "$OUT"
fi
exec "$BENCH_SRC/run.sh" --corpus "$OUT" --dir "$DIR-synth$N" --port 54393 \
	--rounds 1 --slow-cap 20 --fast-extra 1 --no-publish "$@"
