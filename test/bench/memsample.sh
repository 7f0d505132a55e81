#!/usr/bin/env bash
# memsample.sh - sample the private memory of the benchmark's processes.
#
#   test/bench/memsample.sh OUT.tsv [INTERVAL [PGDATA]]   (stop it with kill)
#
# Every INTERVAL seconds (default 0.5) it appends one line per process:
# time (HH:MM:SS.ss), pid, command line (first 60 characters), RssAnon in
# kB.  The processes are xbench's and those of the PostgreSQL server: with
# PGDATA, only that cluster's postmaster (read from postmaster.pid at every
# sample, so restarts are followed) and its children; without, every process
# of the OS user BM25_USER (default bm25).  RssAnon is private anonymous
# memory: shared_buffers and mapped files are not in it, so it shows what a
# build or a query holds for itself.  Run it beside run.sh or synth.sh; the
# phase of a sample comes from the times in run.sh's console output
# (test/bench/memsummary.py).  With MEMSAMPLE_PHASE=FILE the first column
# is instead the content of FILE at each sample, which a script that knows
# its own phases writes (scale.sh).
set -euo pipefail
OUT=${1:?usage: memsample.sh OUT.tsv [INTERVAL [PGDATA]]}
IV=${2:-0.5}
PGDATA_DIR=${3:-}
USER_OS=${BM25_USER:-bm25}
: >"$OUT"
server_pids()
{
	local pm
	if [[ -z $PGDATA_DIR ]]; then
		pgrep -u "$USER_OS" || true
	elif pm=$(head -1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null) && [[ -n $pm ]]; then
		echo "$pm"
		pgrep -P "$pm" || true
	fi
}
while :; do
	if [[ -n ${MEMSAMPLE_PHASE:-} ]]; then
		t=$(cat "$MEMSAMPLE_PHASE" 2>/dev/null || true)
	else
		t=$(date +%H:%M:%S.%2N)
	fi
	for p in $(server_pids; pgrep -x xbench || true); do
		rss=$(awk '/^RssAnon:/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
		cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-60) || continue
		[[ -n $rss ]] && printf '%s\t%s\t%s\t%s\n' "$t" "$p" "$cmd" "$rss"
	done >>"$OUT"
	sleep "$IV"
done
