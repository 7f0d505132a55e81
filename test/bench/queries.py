#!/usr/bin/python3
"""queries.py - the benchmark's query sets, sampled from the corpus.

    queries.py sample CORPUS.tsv NPER SEED > candidates.tsv
        cid  bucket  text       (about 8 * NPER candidates per bucket, then
                                 a reserve of 32 * NPER per bucket)
    queries.py select ANALYZED.tsv NPER PREFIX
        ANALYZED: cid  bucket  text  lexemes (chr(31)-separated)  maxrep, i.e.
        the candidates with the distinct lexemes of to_tsvector('english',
        text) and the largest count of one of them (texts giving a lexeme
        more than once are skipped: bm25 would weigh it by its count)
        (run.sh computes them in PostgreSQL).  Keeps, per bucket, the first
        NPER candidates whose number of distinct lexemes falls in the bucket
        (1 | 2-3 | 4-7 | 8+) and whose lexeme set was not seen before, and
        writes PREFIX.tsv (qid bucket text tsquery nlex) and PREFIX.lex.tsv
        (qid bucket lexeme lexeme ...), and the same rows in the order the
        timed passes run them (shuffled with a fixed seed, so that no bucket
        always comes first) as PREFIX.run.tsv and PREFIX.run.lex.tsv.

A candidate is a run of consecutive words of a random passage (random.Random
with the given seed, so the same corpus gives the same queries); punctuation
is dropped, so no query uses the +, - or " syntax.  The bucket is the number
of distinct lexemes after analysis, the unit that every engine sees.
"""

import random
import re
import sys

BUCKETS = ["1", "2-3", "4-7", "8+"]
RANGES = {"1": (1, 1), "2-3": (2, 3), "4-7": (4, 7), "8+": (8, 10 ** 9)}
# window lengths (in words) tried for each bucket
WINDOWS = {"1": (1, 2), "2-3": (2, 5), "4-7": (5, 10), "8+": (11, 20)}
WORD = re.compile(r"[^\W_]+")


def sample(corpus, nper, seed):
    bodies = []
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            bodies.append(line.rstrip("\n").split("\t")[3])
    rnd = random.Random(seed)
    cid = 0
    out = sys.stdout
    # The main stream, then a reserve four times as large that select()
    # reaches only when the main stream has too few usable candidates for a
    # bucket: a Zipf-generated synthetic corpus keeps giving the same
    # frequent words, so its short windows repeat queries and its long
    # ones repeat a word.  Reserve windows keep each word once.  Coming
    # after the main stream, the reserve leaves the queries of a corpus
    # that does not need it exactly as they were.
    for factor in (8, 32):
        for b in BUCKETS:
            lo, hi = WINDOWS[b]
            made = 0
            while made < factor * nper + 20:
                words = WORD.findall(bodies[rnd.randrange(len(bodies))])
                n = rnd.randint(lo, hi)
                if len(words) < n:
                    continue
                s = rnd.randrange(len(words) - n + 1)
                window = words[s:s + n]
                if factor != 8:
                    window = list(dict.fromkeys(window))
                text = " ".join(window)
                cid += 1
                made += 1
                out.write("%d\t%s\t%s\n" % (cid, b, text))


def tsq_quote(lex):
    return "'" + lex.replace("\\", "\\\\").replace("'", "''") + "'"


def copy_escape(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def copy_unescape(s):
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n", "r": "\r"}
                  .get(m.group(1), m.group(1)), s)


def select(analyzed, nper, prefix):
    got = {b: [] for b in BUCKETS}
    seen = set()
    with open(analyzed, encoding="utf-8") as f:
        for line in f:
            cid, b, text, lexs, maxrep = line.rstrip("\n").split("\t")
            if int(maxrep) > 1:
                continue        # a repeated lexeme: engines would differ
            lex = sorted(set(l for l in copy_unescape(lexs).split("\x1f")
                             if l))
            lo, hi = RANGES[b]
            if not lo <= len(lex) <= hi or len(got[b]) >= nper:
                continue
            key = "\x1f".join(lex)
            if key in seen:
                continue
            seen.add(key)
            got[b].append((copy_unescape(text), lex))
    qid = 0
    rows = []
    for b in BUCKETS:
        if len(got[b]) < nper:
            sys.exit("queries: only %d queries for bucket %s" %
                     (len(got[b]), b))
        for text, lex in got[b]:
            qid += 1
            rows.append((
                "%d\t%s\t%s\t%s\t%d\n" % (
                    qid, b, copy_escape(text),
                    copy_escape(" | ".join(tsq_quote(l) for l in lex)),
                    len(lex)),
                "%d\t%s\t%s\n" % (
                    qid, b, "\t".join(copy_escape(l) for l in lex))))
    run = list(rows)
    random.Random(7).shuffle(run)
    for suffix, lst in ((".", rows), (".run.", run)):
        with open(prefix + suffix + "tsv", "w", encoding="utf-8") as q, \
                open(prefix + suffix + "lex.tsv", "w", encoding="utf-8") as x:
            for a, b in lst:
                q.write(a)
                x.write(b)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "sample":
        sample(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) == 5 and sys.argv[1] == "select":
        select(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
