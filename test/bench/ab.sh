#!/usr/bin/env bash
# ab.sh - bm25 query latency of several git revisions, side by side.
#
#   test/bench/ab.sh REV [REV ...]        e.g.  test/bench/ab.sh HEAD~3 HEAD tree
#
# For finding (or ruling out) a regression in the query path.  Uses the
# documents, queries and pgclient of the last full run (make bench) in
# $BENCH_DIR (default /tmp/bm25-bench-$USER).  Each REV (a git revision, or
# "tree" for the working tree as it is) is built into its own private copy
# of the PostgreSQL installation with its own cluster (port 54401, 54402,
# ...), loaded and indexed (CREATE INDEX, timed); then every revision runs all
# queries once per round, in turn, for ROUNDS rounds (default 3; warm, 10
# untimed queries first; as root under a PM QoS request, see below).
# Prints build time and warm p50 / p95 per bucket,
# in microseconds, per revision.  Run as root (the servers run as $BM25_USER)
# or as an ordinary user.
set -euo pipefail
BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_SRC/../.." && pwd)
DIR=${BENCH_DIR:-/tmp/bm25-bench-$(id -un)}
ROUNDS=${ROUNDS:-3}
BM25_USER=${BM25_USER:-bm25}
SYS_BINDIR=/usr/lib/postgresql/15/bin
(($#)) || { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
for f in docs.tsv queries.run.tsv bin/pgclient; do
	[[ -e $DIR/run/$f ]] || { echo "ab.sh: $DIR/run/$f missing: run make bench first" >&2; exit 1; }
done
AB=$DIR/ab
mkdir -p "$AB"
chmod 755 "$DIR" "$AB"
if [[ $(id -u) -eq 0 ]]; then
	as_pg() { runuser -u "$BM25_USER" -- env -i PATH=/usr/bin:/bin LANG=C.UTF-8 "$@"; }
	PGU=$BM25_USER
else
	as_pg() { "$@"; }
	PGU=$(id -un)
fi
export PGOPTIONS="-c client_min_messages=warning"

i=0
names=()
for rev in "$@"; do
	i=$((i + 1))
	name=$i-$(tr -c 'A-Za-z0-9._\n-' _ <<<"$rev")
	names+=("$name")
	R=$AB/$name
	if [[ -f $R/data/postmaster.pid ]]; then
		as_pg "$R/root/usr/lib/postgresql/15/bin/pg_ctl" -D "$R/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -rf "$R"
	mkdir -p "$R/root/usr/lib/postgresql" "$R/root/usr/share/postgresql" "$R/src"
	cp -a /usr/lib/postgresql/15 "$R/root/usr/lib/postgresql/"
	cp -a /usr/share/postgresql/15 "$R/root/usr/share/postgresql/"
	if [[ $rev == tree ]]; then
		git -C "$REPO_ROOT" ls-files -z -c -o --exclude-standard |
			grep -z -v -E '(\.o|\.so|\.bc)$|^build/|^tmp_check/|^results' |
			(cd "$REPO_ROOT" && tar --null -T - -c) | tar -x -C "$R/src"
	else
		git -C "$REPO_ROOT" archive "$rev" | tar -x -C "$R/src"
	fi
	rm -f "$R/root/usr/lib/postgresql/15/lib/bm25.so"
	make -C "$R/src" -s -j"$(nproc)" PG_CONFIG="$SYS_BINDIR/pg_config" >"$R/build.log" 2>&1 &&
		make -C "$R/src" -s install DESTDIR="$R/root" PG_CONFIG="$SYS_BINDIR/pg_config" >>"$R/build.log" 2>&1 ||
		{ tail -20 "$R/build.log"; echo "ab.sh: build of $rev failed" >&2; exit 1; }
	[[ $(id -u) -eq 0 ]] && chown -R "$BM25_USER" "$R"
	chmod -R a+rX "$R"
	PB=$R/root/usr/lib/postgresql/15/bin
	port=$((54400 + i))
	as_pg "$PB/initdb" -D "$R/data" -U "$PGU" -A trust >/dev/null
	cat >>"$R/data/postgresql.conf" <<EOF
shared_preload_libraries = 'bm25'
port = $port
listen_addresses = ''
unix_socket_directories = '$R'
shared_buffers = 1GB
maintenance_work_mem = 1GB
jit = off
EOF
	as_pg "$PB/pg_ctl" -D "$R/data" -l "$R/server.log" -w start >/dev/null
	echo "host=$R port=$port dbname=postgres user=$PGU" >"$R/conn"
	P=("$PB/psql" -X -q -v ON_ERROR_STOP=1 "$(cat "$R/conn")")
	"${P[@]}" -c "CREATE EXTENSION bm25" -c "CREATE TABLE docs (id int NOT NULL, body text NOT NULL)"
	"${P[@]}" -c "\\copy docs FROM '$DIR/run/docs.tsv'"
	"${P[@]}" -c "VACUUM (ANALYZE, FREEZE) docs"
	t0=$(date +%s.%N)
	"${P[@]}" -c "CREATE INDEX docs_bm25 ON docs USING bm25 (body) WITH (text_config = 'english', k1 = 1.2, b = 0.75)"
	t1=$(date +%s.%N)
	echo "$rev ($(git -C "$REPO_ROOT" rev-parse --short "$rev^{commit}" 2>/dev/null || echo tree)): CREATE INDEX $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s" | tee "$R/desc"
done

# As in run.sh: as root, the timed rounds hold a zero wakeup-latency
# request (pmqos.py), so the round trip costs what it does on a tuned
# server rather than a halted vCPU's wakeup (AB_PM_QOS=0: no request).
PMQOS_PID=
if [[ $(id -u) -eq 0 && ${AB_PM_QOS:-1} == 1 ]]; then
	/usr/bin/python3 "$BENCH_SRC/pmqos.py" >"$AB/pmqos.out" 2>&1 &
	PMQOS_PID=$!
	trap 'kill $PMQOS_PID 2>/dev/null || true' EXIT
	sleep 0.5
	echo "PM QoS request: $(cat "$AB/pmqos.out")"
fi
for ((r = 1; r <= ROUNDS; r++)); do
	for name in "${names[@]}"; do
		R=$AB/$name
		"$DIR/run/bin/pgclient" lat "$(cat "$R/conn")" bm25 "$DIR/run/queries.run.tsv" "$R/lat.$r.tsv" 0 10
	done
done
[[ -z $PMQOS_PID ]] || kill "$PMQOS_PID" 2>/dev/null || true
for name in "${names[@]}"; do
	R=$AB/$name
	as_pg "$R/root/usr/lib/postgresql/15/bin/pg_ctl" -D "$R/data" -m fast stop >/dev/null 2>&1 || true
done
/usr/bin/python3 - "$AB" "${names[@]}" <<'EOF'
import collections, glob, sys
ab = sys.argv[1]
print("warm latency, us (p50 / p95)")
print("%-24s %15s %15s %15s %15s" % ("revision", "1", "2-3", "4-7", "8+"))
for name in sys.argv[2:]:
    d = collections.defaultdict(list)
    for f in glob.glob("%s/%s/lat.*.tsv" % (ab, name)):
        for line in open(f):
            r = line.split("\t")
            d[r[1]].append(float(r[2]))
    cells = []
    for b in ("1", "2-3", "4-7", "8+"):
        s = sorted(d[b])
        cells.append("%7.0f / %5.0f" % (s[len(s) // 2], s[int(len(s) * 0.95)]))
    desc = open("%s/%s/desc" % (ab, name)).read().split(":")[0]
    print("%-24s %s" % (desc[:24], " ".join(cells)))
EOF
