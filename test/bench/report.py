#!/usr/bin/python3
"""report.py - summarize one benchmark run (test/bench/run.sh).

    report.py RUN_DIR RESULTS_DIR

Reads RUN_DIR/{meta,build,qps,exact}.tsv, RUN_DIR/queries.tsv and
RUN_DIR/lat/ENGINE.rROUND.PASS.tsv (round 0 cold, the others warm) and writes
RESULTS_DIR/results.json (machine-readable) and RESULTS_DIR/results.md
(tables), and prints the tables.

Latency percentiles are over all timed queries of a bucket (warm: pooled over
the warm rounds).  "x faster" ratios are engine / bm25 for latency (so > 1
means bm25 is faster) and bm25 / engine for QPS and build throughput.
Overlap is |top-10 ∩ exact top-10| / |exact top-10|, averaged over queries.
bm25 must equal the exact top-10: same ids in the same order, scores equal
within 1e-9 relative; rows whose exact scores differ by less than that may
swap places (floating-point summation order), and ties at the 10th place may
be resolved either way only if the scores are equal.
"""

import collections
import glob
import json
import math
import os
import re
import sys

ENGINES = ["bm25", "gin", "rum", "xapian"]
BUCKETS = ["1", "2-3", "4-7", "8+"]
REL = 1e-9
TARGETS = {
    # latency p50 and p95: other engine / bm25 must be >= this
    "xapian": {"1": 1.2, "2-3": 2.0, "4-7": 2.0, "8+": 2.0},
    "gin": {"2-3": 100.0, "4-7": 100.0, "8+": 100.0},
    "rum": {"2-3": 20.0, "4-7": 20.0, "8+": 20.0},
}


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        return [l.rstrip("\n").split("\t") for l in f if l.strip()]


def pct(xs, p):
    """Nearest-rank percentile."""
    if not xs:
        return None
    s = sorted(xs)
    k = max(1, int(math.ceil(p / 100.0 * len(s))))
    return s[k - 1]


def rel_eq(a, b):
    return abs(a - b) <= REL * max(abs(a), abs(b), 1e-300)


def ids_of(s):
    return [int(x) for x in s.split(",") if x] if s else []


def floats_of(s):
    return [float(x) for x in s.split(",") if x] if s else []


def check_exact(got_ids, got_sc, ex_ids, ex_sc, ex_next):
    """Empty string when the bm25 list equals the exact list (see above)."""
    if len(got_ids) != len(ex_ids):
        return "%d rows, exact %d" % (len(got_ids), len(ex_ids))
    for i, (g, e) in enumerate(zip(got_sc, ex_sc)):
        if not rel_eq(g, e):
            return "rank %d: score %.17g, exact %.17g" % (i + 1, g, e)
    exact_score = dict(zip(ex_ids, ex_sc))
    for i, (g, e) in enumerate(zip(got_ids, ex_ids)):
        if g == e:
            continue
        if g in exact_score and rel_eq(exact_score[g], ex_sc[i]):
            continue            # near tie: a swap within equal scores
        if g not in exact_score and i == len(ex_ids) - 1 and \
                ex_next >= 0 and rel_eq(ex_next, ex_sc[i]):
            continue            # tie across the 10th place
        return "rank %d: id %d, exact id %d (score %.17g)" % (
            i + 1, g, e, ex_sc[i])
    if len(set(got_ids)) != len(got_ids):
        return "duplicate ids"
    return ""


def main():
    global ENGINES
    run, res = sys.argv[1], sys.argv[2]
    meta = dict((r[0], r[1]) for r in read_tsv(os.path.join(run, "meta.tsv")))
    # a run may leave engines out (run.sh --skip-rum); bm25 comes first
    ENGINES = [e for e in meta.get("engines", " ".join(ENGINES)).split()
               if e in ENGINES]
    build = dict((r[0], float(r[1])) for r in
                 read_tsv(os.path.join(run, "build.tsv")))
    # builds measured twice (interleaved): the faster one counts
    for k in ("bm25_build_s", "bm25_pbuild_s", "xapian_text_build_s"):
        v = [build[x] for x in sorted(build) if x.startswith(k + "_")]
        if v and k not in build:
            build[k] = min(v)
    queries = {r[0]: (r[1], r[2]) for r in
               read_tsv(os.path.join(run, "queries.tsv"))}
    exact = {}
    for r in read_tsv(os.path.join(run, "exact.tsv")):
        exact[r[0]] = (int(r[2]), ids_of(r[3]), floats_of(r[4]), float(r[5]))

    lat = collections.defaultdict(list)     # (engine, phase, bucket) -> us
    answered = collections.Counter()
    expected_rows_bad = collections.defaultdict(list)
    errors = collections.defaultdict(list)
    overlap = collections.defaultdict(list)  # (engine, bucket) -> fractions
    bm25_bad = []
    timed = collections.Counter()
    rounds = set()
    for path in sorted(glob.glob(os.path.join(run, "lat", "*.r*.tsv"))):
        m = re.match(r"(\w+)\.r(\d+)\.(\d+)\.tsv$", os.path.basename(path))
        eng, rnd, sub = m.group(1), int(m.group(2)), int(m.group(3))
        rounds.add(rnd)
        phase = "cold" if rnd == 0 else "warm"
        for r in read_tsv(path):
            r += [""] * (6 - len(r))
            qid, b, us, n = r[0], r[1], float(r[2]), int(r[3])
            lat[(eng, phase, b)].append(us)
            if sub == 0:
                timed[(eng, rnd)] += 1
            if n < 0:
                errors[eng].append("q%s round %d: %s" % (qid, rnd, r[4]))
                continue
            nmatch, ex_ids, ex_sc, ex_next = exact[qid]
            if n != min(10, nmatch):
                expected_rows_bad[eng].append(
                    "q%s round %d: %d rows, %d expected" %
                    (qid, rnd, n, min(10, nmatch)))
            elif sub == 0:
                answered[(eng, rnd)] += 1
            ids = ids_of(r[4])
            if rnd == 1 and sub == 0:
                if ex_ids:
                    overlap[(eng, b)].append(
                        len(set(ids) & set(ex_ids)) / float(len(ex_ids)))
            if eng == "bm25":
                why = check_exact(ids, floats_of(r[5]), ex_ids, ex_sc, ex_next)
                if why:
                    bm25_bad.append("q%s (%s) round %d: %s" %
                                    (qid, queries[qid][1], rnd, why))

    out = {"meta": meta, "build": build, "latency_us": {}, "ratios": {},
           "overlap": {}, "qps": {}, "checks": {}, "targets": {}}
    nq = len(queries)
    for e in ENGINES:
        out["latency_us"][e] = {}
        for ph in ("cold", "warm"):
            out["latency_us"][e][ph] = {}
            for b in BUCKETS:
                xs = lat.get((e, ph, b), [])
                out["latency_us"][e][ph][b] = {
                    "n": len(xs), "p50": pct(xs, 50), "p95": pct(xs, 95),
                    "p99": pct(xs, 99),
                    "mean": sum(xs) / len(xs) if xs else None}
        out["overlap"][e] = {b: (sum(overlap[(e, b)]) / len(overlap[(e, b)])
                                 if overlap[(e, b)] else None)
                             for b in BUCKETS}
    for e in ENGINES[1:]:
        out["ratios"][e] = {}
        for ph in ("cold", "warm"):
            out["ratios"][e][ph] = {}
            for b in BUCKETS:
                o = out["latency_us"][e][ph][b]
                m = out["latency_us"]["bm25"][ph][b]
                out["ratios"][e][ph][b] = {
                    p: (o[p] / m[p] if o[p] and m[p] else None)
                    for p in ("p50", "p95", "p99")}

    qps = collections.defaultdict(list)
    for r in read_tsv(os.path.join(run, "qps.tsv")):
        m = re.search(r"qps ([0-9.]+)", r[2])
        qps[r[0]].append(float(m.group(1)) if m else 0.0)
    for e in ENGINES:
        out["qps"][e] = {"passes": qps[e],
                         "mean": sum(qps[e]) / len(qps[e]) if qps[e] else None}

    docs = build.get("docs", 0)

    def rate(k):
        return docs / build[k] if build.get(k) else None
    bm25_size = build.get("bm25_segment_bytes", 0) + \
        build.get("bm25_rel_bytes", 0)
    out["build_summary"] = {
        "bm25": {"seconds": build.get("bm25_build_s"),
                 "runs": [build[k] for k in sorted(build)
                          if k.startswith("bm25_build_s_")],
                 "docs_per_s": rate("bm25_build_s"),
                 "parallel_workers": build.get("bm25_pbuild_workers"),
                 "parallel_seconds": build.get("bm25_pbuild_s"),
                 "parallel_runs": [build[k] for k in sorted(build)
                                   if k.startswith("bm25_pbuild_s_")],
                 "parallel_docs_per_s": rate("bm25_pbuild_s"),
                 "index_bytes": bm25_size},
        "gin": {"tsvector_seconds": build.get("gin_tsvector_s"),
                "index_seconds": build.get("gin_index_s"),
                "docs_per_s_total": (docs / (build["gin_tsvector_s"] +
                                             build["gin_index_s"])
                                     if build.get("gin_index_s") else None),
                "docs_per_s_index_only": rate("gin_index_s"),
                "index_bytes": build.get("gin_index_bytes")},
        "rum": {"index_seconds": build.get("rum_index_s"),
                "docs_per_s_index_only": rate("rum_index_s"),
                "index_bytes": build.get("rum_index_bytes")},
        "xapian": {"seconds": build.get("xapian_build_s"),
                   "docs_per_s": rate("xapian_build_s"),
                   "text_seconds": build.get("xapian_text_build_s"),
                   "text_runs": [build[k] for k in sorted(build)
                                 if k.startswith("xapian_text_build_s_")],
                   "text_docs_per_s": rate("xapian_text_build_s"),
                   "index_bytes": build.get("xapian_db_bytes"),
                   "text_index_bytes": build.get("xapian_text_db_bytes")},
    }

    all_rounds = sorted(rounds)
    out["checks"] = {
        "queries": nq,
        "rounds": all_rounds,
        "timed": {e: {str(r): timed[(e, r)] for r in all_rounds}
                  for e in ENGINES},
        "answered": {e: {str(r): answered[(e, r)] for r in all_rounds}
                     for e in ENGINES},
        "errors": {e: errors[e][:20] for e in ENGINES},
        "row_count_mismatches": {e: expected_rows_bad[e][:20]
                                 for e in ENGINES},
        "bm25_exact_mismatches": len(bm25_bad),
        "bm25_exact_mismatch_details": bm25_bad[:20],
        "bm25_stats_match_exact": None,
    }

    # targets of issue 5
    tg = {}
    for e, per in TARGETS.items():
        if e not in ENGINES:
            continue
        for b, need in per.items():
            for p in ("p50", "p95") if e == "xapian" else ("p50",):
                got = out["ratios"][e]["warm"][b][p]
                tg["%s %s %s" % (e, b, p)] = {
                    "need": need, "got": got,
                    "met": bool(got and got >= need)}
    bq, xq = out["qps"]["bm25"]["mean"], out["qps"]["xapian"]["mean"]
    tg["qps vs xapian"] = {"need": 2.0, "got": bq / xq if bq and xq else None}
    bs = out["build_summary"]
    bd, xd = bs["bm25"]["docs_per_s"], bs["xapian"]["text_docs_per_s"]
    tg["build docs/s vs xapian (tokenizing included, 1 process)"] = {
        "need": 1.5, "got": bd / xd if bd and xd else None}
    pd = bs["bm25"]["parallel_docs_per_s"]
    tg["build docs/s vs xapian (tokenizing included, parallel workers)"] = {
        "need": 2.5, "got": pd / xd if pd and xd else None}
    gi = build.get("gin_index_bytes")
    tg["index size vs gin index (at most)"] = {
        "need": 1.1, "got": bm25_size / gi if gi else None}
    for k in list(tg):
        if "met" not in tg[k]:
            g = tg[k]["got"]
            if g is None:
                tg[k]["met"] = False
            elif k.startswith("index size"):
                tg[k]["met"] = g <= tg[k]["need"]
            else:
                tg[k]["met"] = g >= tg[k]["need"]
    out["targets"] = tg

    os.makedirs(res, exist_ok=True)
    with open(os.path.join(res, "results.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
    md = render(out)
    with open(os.path.join(res, "results.md"), "w") as f:
        f.write(md)
    sys.stdout.write(md)


def fmt_ms(us):
    return "-" if us is None else ("%.2f" % (us / 1000.0))


def fmt_x(x):
    return "-" if x is None else ("%.1fx" % x if x < 100 else "%.0fx" % x)


def render(o):
    L = []
    m = o["meta"]
    L.append("# bm25 benchmark results\n")
    L.append("machine: %s  \npostgresql %s, xapian %s, rum %s, bm25 %s  \n"
             "mode %s, %d docs, %d queries, %s warm rounds (+1 cold); "
             "cold = %s\n" % (
                 m.get("machine"), m.get("postgresql"), m.get("xapian"),
                 m.get("rum"), m.get("bm25_commit"), m.get("mode"),
                 o["build"].get("docs", 0), o["checks"]["queries"],
                 m.get("rounds"), m.get("cold_method")))
    if m.get("huge_pages"):
        L.append("huge pages for the server's shared memory: %s  " %
                 m["huge_pages"])
    if m.get("pm_qos"):
        L.append("zero CPU wakeup-latency request (PM QoS) during the timed "
                 "passes: %s  " % m["pm_qos"])
    if m.get("roundtrip_floor_us"):
        L.append("round-trip floor, prepared SELECT 1 from the same client "
                 "(us): %s in the timed passes; %s without the PM QoS "
                 "request  " % (m["roundtrip_floor_us"],
                                m.get("roundtrip_floor_idle_us", "-")))
    if "rum" not in ENGINES:
        L.append("engines: %s (RUM left out: run.sh --skip-rum)  " %
                 ", ".join(ENGINES))
    if m.get("loadavg"):
        L.append("load average (1, 5, 15 min): %s  " % m["loadavg"])
    if m.get("warning"):
        L.append("\n**warning: %s**\n" % m["warning"])
    for ph in ("warm", "cold"):
        L.append("\n## Top-10 latency, %s (ms: p50 / p95 / p99)\n" % ph)
        L.append("| engine | " + " | ".join("%s term%s" % (b, "" if b == "1"
                                                            else "s")
                                           for b in BUCKETS) + " |")
        L.append("|---" * (len(BUCKETS) + 1) + "|")
        for e in ENGINES:
            cells = []
            for b in BUCKETS:
                d = o["latency_us"][e][ph][b]
                cells.append("%s / %s / %s" % (fmt_ms(d["p50"]),
                                               fmt_ms(d["p95"]),
                                               fmt_ms(d["p99"])))
            L.append("| %s | %s |" % (e, " | ".join(cells)))
        L.append("\nbm25 is N x faster (other engine's time / bm25's; "
                 "p50, p95):\n")
        L.append("| vs | " + " | ".join(BUCKETS) + " |")
        L.append("|---" * (len(BUCKETS) + 1) + "|")
        for e in ENGINES[1:]:
            cells = []
            for b in BUCKETS:
                r = o["ratios"][e][ph][b]
                cells.append("%s, %s" % (fmt_x(r["p50"]), fmt_x(r["p95"])))
            L.append("| %s | %s |" % (e, " | ".join(cells)))
    L.append("\n## QPS (2 concurrent clients), overlap with exact BM25\n")
    L.append("| engine | QPS | bm25 / engine | overlap@10 " +
             " | ".join(BUCKETS) + " |")
    L.append("|---|---|---|" + "---|" * len(BUCKETS))
    bq = o["qps"]["bm25"]["mean"]
    for e in ENGINES:
        q = o["qps"][e]["mean"]
        L.append("| %s | %s | %s | %s |" % (
            e, "-" if q is None else "%.1f" % q,
            fmt_x(bq / q) if q and bq else "-",
            " | ".join("-" if o["overlap"][e][b] is None else
                       "%.3f" % o["overlap"][e][b] for b in BUCKETS)))
    b = o["build_summary"]
    L.append("\n## Build and size\n")
    L.append("| engine | build | docs/s | index size |")
    L.append("|---|---|---|---|")

    def mb(x):
        return "-" if not x else "%.1f MB" % (x / 1e6)

    def s(x):
        return "-" if x is None else "%.1f s" % x

    def r(x):
        return "-" if x is None else "%.0f" % x
    def runs(v):
        return "" if len(v) < 2 else " (best of %s)" % ", ".join(
            "%.1f" % x for x in v)
    L.append("| bm25 | CREATE INDEX %s%s | %s | %s (segments + relation) |" % (
        s(b["bm25"]["seconds"]), runs(b["bm25"]["runs"]),
        r(b["bm25"]["docs_per_s"]),
        mb(b["bm25"]["index_bytes"])))
    if b["bm25"].get("parallel_seconds"):
        L.append("| bm25 | REINDEX, max_parallel_maintenance_workers = %s, "
                 "%s%s | %s | same |" % (
                     "%d" % b["bm25"]["parallel_workers"]
                     if b["bm25"]["parallel_workers"] is not None else "?",
                     s(b["bm25"]["parallel_seconds"]),
                     runs(b["bm25"]["parallel_runs"]),
                     r(b["bm25"]["parallel_docs_per_s"])))
    L.append("| gin | tsvector column %s + index %s | %s (index only %s) | %s "
             "(index alone) |" % (
                 s(b["gin"]["tsvector_seconds"]), s(b["gin"]["index_seconds"]),
                 r(b["gin"]["docs_per_s_total"]),
                 r(b["gin"]["docs_per_s_index_only"]),
                 mb(b["gin"]["index_bytes"])))
    if "rum" in ENGINES:
        L.append("| rum | index %s (tsvector column as for gin) | index only "
                 "%s | %s |" % (s(b["rum"]["index_seconds"]),
                                r(b["rum"]["docs_per_s_index_only"]),
                                mb(b["rum"]["index_bytes"])))
    L.append("| xapian | pre-analyzed terms %s (tokenizing excluded) | %s | "
             "%s |" % (s(b["xapian"]["seconds"]), r(b["xapian"]["docs_per_s"]),
                       mb(b["xapian"]["index_bytes"])))
    L.append("| xapian | own tokenizing (TermGenerator, english) %s%s | %s | "
             "%s |" % (s(b["xapian"]["text_seconds"]),
                       runs(b["xapian"]["text_runs"]),
                       r(b["xapian"]["text_docs_per_s"]),
                       mb(b["xapian"]["text_index_bytes"])))
    L.append("\n## Targets (issue 5), warm\n")
    L.append("| target | need | got | met |")
    L.append("|---|---|---|---|")
    for k, v in o["targets"].items():
        L.append("| %s | %s | %s | %s |" % (
            k, ("<= %.1fx" if k.startswith("index size") else ">= %.1fx")
            % v["need"], fmt_x(v["got"]), "yes" if v["met"] else "NO"))
    c = o["checks"]
    L.append("\n## Checks\n")
    for e in ENGINES:
        L.append("- %s: answered %s of %d queries per round (round: count); "
                 "%d errors; %d row-count mismatches" % (
                     e, ", ".join("%s: %s" % kv for kv in
                                  c["answered"][e].items()),
                     c["queries"], len(c["errors"][e]),
                     len(c["row_count_mismatches"][e])))
    L.append("- bm25 top-10 equal to exact BM25: %s (%d mismatches)" % (
        "yes" if c["bm25_exact_mismatches"] == 0 else "NO",
        c["bm25_exact_mismatches"]))
    for d in c["bm25_exact_mismatch_details"][:5]:
        L.append("  - " + d)
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
