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
size of 1/16, 1/8, 1/4, 1/2 and all of the documents, taken in a fixed
pseudo-random order (CRC-32 of the id), since the sources' vocabularies
differ and id order would make growth look linear.
"""

import collections
import math
import os
import sys
import zlib


def bucket_of(doc_id):
    """A fixed pseudo-random bucket 0..15 of a document (not Python's
    salted hash(), so the fit is reproducible)."""
    return zlib.crc32(doc_id.encode()) & 15


def main():
    post, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    cf = collections.Counter()
    doclen = collections.Counter()      # id -> tokens (rows of a document
    first = {}                          # need not be adjacent)
    # Heaps' law on documents in random order: lexeme -> smallest bucket of
    # a document containing it; the vocabulary of buckets < k is then the
    # lexemes whose smallest bucket is < k.
    tokens = 0
    with open(post, encoding="utf-8") as f:
        for line in f:
            i, lex, tf = line.rstrip("\n").split("\t")
            tf = int(tf)
            doclen[i] += tf
            tokens += tf
            cf[lex] += tf
            bk = bucket_of(i)
            if first.get(lex, 16) > bk:
                first[lex] = bk
    dl = collections.Counter(doclen.values())
    tok_b = [0] * 16
    for i, n in doclen.items():
        tok_b[bucket_of(i)] += n
    voc_b = [0] * 16
    for bk in first.values():
        voc_b[bk] += 1
    heaps = []
    t = v = 0
    for k in range(16):
        t += tok_b[k]
        v += voc_b[k]
        if k in (0, 1, 3, 7, 15):
            heaps.append((t, v))
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
