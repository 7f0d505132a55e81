#!/usr/bin/python3
"""synth_fit.py - term statistics of the real corpus for the synthetic
generator (test/bench/synth.c).

    synth_fit.py POSTINGS.tsv OUTDIR

POSTINGS is run.sh's export of to_tsvector('english', body): "id lexeme tf".
Writes
    OUTDIR/vocab.tsv   rank  lexeme  cf      (by collection frequency desc,
                                              then lexeme)
    OUTDIR/dl.tsv      dl  count             (document lengths in tokens)
    OUTDIR/fit.tsv     zipf_s, heaps_k, heaps_beta, docs, tokens, terms
The Zipf exponent s is the least-squares slope of log cf against log rank
over ranks 10..min(terms, 100000) (the head and the hapax tail bend away
from a straight line); Heaps' law V = k * T^beta is fitted on the vocabulary
size reached after 1/16, 1/8, ..., all of the tokens, in id order.
"""

import collections
import math
import os
import sys


def main():
    post, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    cf = collections.Counter()
    dl = collections.Counter()
    heaps = []                      # (tokens so far, distinct so far)
    cur, curlen, tokens = None, 0, 0
    rows = []
    with open(post, encoding="utf-8") as f:
        for line in f:
            i, lex, tf = line.rstrip("\n").split("\t")
            rows.append(None)       # count only
            tf = int(tf)
            if i != cur:
                if cur is not None:
                    dl[curlen] += 1
                cur, curlen = i, 0
            curlen += tf
            tokens += tf
            cf[lex] += tf
    if cur is not None:
        dl[curlen] += 1
    del rows
    # Heaps points: second pass, vocabulary growth in id order
    marks = [tokens >> k for k in range(4, -1, -1)]
    seen = set()
    t = 0
    mi = 0
    with open(post, encoding="utf-8") as f:
        for line in f:
            _, lex, tf = line.rstrip("\n").split("\t")
            seen.add(lex)
            t += int(tf)
            while mi < len(marks) and t >= marks[mi]:
                heaps.append((t, len(seen)))
                mi += 1
    vocab = sorted(cf.items(), key=lambda kv: (-kv[1], kv[0]))
    with open(os.path.join(outdir, "vocab.tsv"), "w", encoding="utf-8") as o:
        for r, (lex, c) in enumerate(vocab, 1):
            o.write("%d\t%s\t%d\n" % (r, lex, c))
    with open(os.path.join(outdir, "dl.tsv"), "w") as o:
        for k in sorted(dl):
            o.write("%d\t%d\n" % (k, dl[k]))
    # Zipf: least squares on log-log
    hi = min(len(vocab), 100000)
    xs = [math.log(r) for r in range(10, hi + 1)]
    ys = [math.log(vocab[r - 1][1]) for r in range(10, hi + 1)]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    s = -sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / \
        sum((x - mx) ** 2 for x in xs)
    # Heaps: log V = log k + beta log T
    hx = [math.log(a) for a, _ in heaps]
    hy = [math.log(b) for _, b in heaps]
    m = len(hx)
    mhx, mhy = sum(hx) / m, sum(hy) / m
    beta = sum((x - mhx) * (y - mhy) for x, y in zip(hx, hy)) / \
        sum((x - mhx) ** 2 for x in hx)
    k = math.exp(mhy - beta * mhx)
    ndocs = sum(dl.values())
    with open(os.path.join(outdir, "fit.tsv"), "w") as o:
        o.write("zipf_s\t%.6f\nheaps_k\t%.6f\nheaps_beta\t%.6f\n"
                "docs\t%d\ntokens\t%d\nterms\t%d\n" %
                (s, k, beta, ndocs, tokens, len(vocab)))
    sys.stderr.write("synth_fit: %d docs, %d tokens, %d terms, zipf s=%.3f, "
                     "heaps V=%.2f*T^%.3f\n" % (ndocs, tokens, len(vocab), s,
                                                 k, beta))


if __name__ == "__main__":
    main()
