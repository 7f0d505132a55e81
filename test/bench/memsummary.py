#!/usr/bin/env python3
"""memsummary.py - peak private memory per benchmark phase.

    test/bench/memsummary.py MEMORY.tsv RUN.log

MEMORY.tsv comes from test/bench/memsample.sh, RUN.log is run.sh's console
output: its "=== [HH:MM:SS] title" lines name the phases.  For each phase it
prints the largest RssAnon sample of any one PostgreSQL process, with that
process's command line, and the largest of xbench (Xapian) separately.
"""
import re
import sys


def secs(hms):
    h, m, s = hms.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def monotonic(values):
    """Times of day in order, made increasing across midnight."""
    out, day, last = [], 0, None
    for v in values:
        if last is not None and v + day < last - 3600:
            day += 86400
        out.append(v + day)
        last = v + day
    return out


def main():
    mem_path, log_path = sys.argv[1], sys.argv[2]
    phases = []
    for line in open(log_path, encoding="utf-8", errors="replace"):
        m = re.match(r"=== \[(\d\d:\d\d:\d\d)\] (.*)", line)
        if m:
            phases.append((secs(m.group(1)), m.group(2).strip()))
    if not phases:
        sys.exit("memsummary.py: no phases in %s" % log_path)
    starts = monotonic([p[0] for p in phases])
    rows = [line.rstrip("\n").split("\t") for line in open(mem_path)]
    rows = [r for r in rows if len(r) == 4]
    times = [secs(r[0]) for r in rows]
    # samples start before the first phase: anchor them to its day
    if times and times[0] > starts[0] + 43200:
        times = [t - 86400 for t in times]
    elif times and times[0] < starts[0] - 43200:
        times = [t + 86400 for t in times]
    times = monotonic(times)
    peak = {}
    i = 0
    for t, r in zip(times, rows):
        while i + 1 < len(starts) and t >= starts[i + 1]:
            i += 1
        if t < starts[0]:
            continue
        kb = int(r[3])
        if "xbench" in r[2]:
            kind = "xbench"
        elif r[2].startswith("postgres:") or "/bin/postgres" in r[2]:
            kind = "server"
        else:
            continue    # not the benchmark's (memsample.sh without PGDATA)
        key = (i, kind)
        if kb > peak.get(key, (0, ""))[0]:
            peak[key] = (kb, r[2].strip())
    print("%-62s %10s  %s" % ("phase", "peak MB", "largest process"))
    for i, (_, title) in enumerate(phases):
        for kind in ("server", "xbench"):
            if (i, kind) in peak:
                kb, cmd = peak[(i, kind)]
                print("%-62s %10.0f  %s" % (title[:62], kb / 1024, cmd))


if __name__ == "__main__":
    main()
