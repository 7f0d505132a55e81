#!/usr/bin/python3
"""corpus.py - build the benchmark corpus from Debian documentation packages.

Usage:
    test/bench/corpus.py [--sources a,b,...] [--jobs N] OUT.tsv

Reads only files installed by these Debian 12 packages (nothing is downloaded;
test/bench/run.sh installs them with apt-get):

    pgdocs     postgresql-doc-15   HTML manual
    python     python3.11-doc      HTML (Sphinx) documentation
    handbook   debian-handbook     HTML, en-US only
    linux      linux-doc-6.1       HTML (Sphinx), translations excluded
    perl       perl-doc            POD files
    man        manpages manpages-dev   man pages rendered with groff -Tutf8
    wordnet    wordnet-base        synset glosses (data.noun/verb/adj/adv)
    gcide      dict-gcide          GCIDE dictionary entries

Markup is stripped, text is split at headings into sections, sections into
passages of 30..300 words (paragraphs are packed up to ~100 words; longer
paragraphs are cut at sentence ends), and exact duplicates (case- and
whitespace-insensitive) are dropped, keeping the first.  The output is a
PostgreSQL COPY text file with columns

    id      1.. in output order
    source  "<source>:<file>" (file relative to the package's doc root)
    title   section heading (or entry name)
    body    the passage, whitespace collapsed

Files are processed in sorted order, sources in the order above, so the same
packages give a byte-identical file.  A manifest (OUT.tsv.manifest) records
the package versions, passage counts per source and the SHA-256 of the file.
Only the Python standard library is used.
"""

import argparse
import gzip
import hashlib
import html
import multiprocessing
import os
import re
import subprocess
import sys

MIN_WORDS = 30
MAX_WORDS = 300
TARGET_WORDS = 100      # pack paragraphs up to about this many words
CHUNK_WORDS = 150       # longer paragraphs are cut into pieces of <= this

SOURCES = ["pgdocs", "python", "handbook", "linux", "perl", "man",
           "wordnet", "gcide"]
PACKAGES = {
    "pgdocs": ["postgresql-doc-15"],
    "python": ["python3.11-doc"],
    "handbook": ["debian-handbook"],
    "linux": ["linux-doc-6.1"],
    "perl": ["perl-doc"],
    "man": ["manpages", "manpages-dev", "groff-base"],
    "wordnet": ["wordnet-base"],
    "gcide": ["dict-gcide"],
}
ROOTS = {
    "pgdocs": "/usr/share/doc/postgresql-doc-15/html",
    "python": "/usr/share/doc/python3.11/html",
    "handbook": "/usr/share/doc/debian-handbook/html/en-US",
    "linux": "/usr/share/doc/linux-doc-6.1/html",
    "wordnet": "/usr/share/wordnet",
    "gcide": "/usr/share/dictd",
}

WS = re.compile(r"\s+")


def collapse(s):
    return WS.sub(" ", s).strip()


def nwords(s):
    return len(s.split())


# --------------------------------------------------------------------------
# Passages
# --------------------------------------------------------------------------
SENT_END = re.compile(r"(?<=[.!?;:])\s+")


def chunks_of(par):
    """Cuts a paragraph into pieces of at most CHUNK_WORDS words, at sentence
    ends where possible."""
    words = par.split()
    if len(words) <= CHUNK_WORDS:
        return [par]
    out, cur, n = [], [], 0
    for sent in SENT_END.split(par):
        sw = sent.split()
        while len(sw) > CHUNK_WORDS:        # a "sentence" that never ends
            if cur:
                out.append(" ".join(cur))
                cur, n = [], 0
            out.append(" ".join(sw[:CHUNK_WORDS]))
            sw = sw[CHUNK_WORDS:]
        if n + len(sw) > CHUNK_WORDS and cur:
            out.append(" ".join(cur))
            cur, n = [], 0
        cur.extend(sw)
        n += len(sw)
    if cur:
        out.append(" ".join(cur))
    return out


def passages(paragraphs, target=TARGET_WORDS):
    """Packs paragraphs (already collapsed) into passages of MIN..MAX words."""
    out, cur, n = [], [], 0
    for par in paragraphs:
        if not par:
            continue
        for ch in chunks_of(par):
            w = nwords(ch)
            if cur and n + w > MAX_WORDS:
                out.append(" ".join(cur))       # n > 100 here
                cur, n = [], 0
            cur.append(ch)
            n += w
            if n >= target:
                out.append(" ".join(cur))
                cur, n = [], 0
    if cur:
        if n >= MIN_WORDS:
            out.append(" ".join(cur))
        elif out and nwords(out[-1]) + n <= MAX_WORDS:
            out[-1] = out[-1] + " " + " ".join(cur)
    return [p for p in out if MIN_WORDS <= nwords(p) <= MAX_WORDS]


# --------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------
RE_DROP = [
    re.compile(r"<!--.*?-->", re.S),
    re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.S | re.I),
    re.compile(r'<div class="(?:navheader|navfooter|toc)".*?</div>', re.S),
    re.compile(r'<div id="banner">.*?</div>', re.S),
    re.compile(r'<p id="title">.*?</p>', re.S),
    re.compile(r'<ul class="docnav[^"]*">.*?</ul>', re.S),
    re.compile(r'<a class="headerlink"[^>]*>.*?</a>', re.S),
]
RE_BLOCK = re.compile(
    r"</?(?:p|div|br|hr|li|ul|ol|dl|dt|dd|tr|table|thead|tbody|pre|blockquote"
    r"|section|article|aside|figure|figcaption|caption|title)\b[^>]*>", re.I)
RE_CELL = re.compile(r"</?(?:td|th)\b[^>]*>", re.I)
RE_TAG = re.compile(r"<[^>]*>", re.S)
RE_HEAD = re.compile(r"<h([1-4])\b[^>]*>(.*?)</h\1\s*>", re.S | re.I)
PARSEP = "\x00"


def html_text_paragraphs(fragment):
    t = RE_BLOCK.sub(PARSEP, fragment)
    t = RE_CELL.sub(" ", t)
    t = RE_TAG.sub("", t)
    t = html.unescape(t)
    return [collapse(p) for p in t.split(PARSEP)]


def html_inline(fragment):
    return collapse(html.unescape(RE_TAG.sub("", fragment))).strip("¶# ")


def sphinx_main(doc):
    """The article of a Sphinx page, without navigation and sidebars."""
    i = doc.find('role="main"')
    if i < 0:
        return doc
    i = doc.find(">", i) + 1
    end = len(doc)
    for m in ('<div class="sphinxsidebar"', "<footer", '<div class="footer"',
              '<div class="related" role="navigation"'):
        j = doc.find(m, i)
        if 0 <= j < end:
            end = j
    return doc[i:end]


def html_sections(doc, sphinx):
    if sphinx:
        doc = sphinx_main(doc)
    for r in RE_DROP:
        doc = r.sub(" ", doc)
    m = re.search(r"<body\b[^>]*>", doc, re.I)
    if m:
        doc = doc[m.end():]
    secs = []
    title = ""
    page_title = ""
    pos = 0
    for m in RE_HEAD.finditer(doc):
        secs.append((title, doc[pos:m.start()]))
        title = html_inline(m.group(2))
        if not page_title:
            page_title = title
        elif not re.match(r"^[0-9A-Z]+(\.[0-9]+)*\.? ", title) and \
                page_title not in title:
            # unnumbered headings ("Description") get the page title
            title = page_title + ": " + title
        pos = m.end()
    secs.append((title, doc[pos:]))
    return [(t, html_text_paragraphs(body)) for t, body in secs]


def do_html(item):
    src, root, rel = item
    with open(os.path.join(root, rel), "rb") as f:
        doc = f.read().decode("utf-8", "replace")
    out = []
    for title, pars in html_sections(doc, src in ("python", "linux")):
        for p in passages(pars):
            out.append((src + ":" + rel, title, p))
    return out


def html_files(src):
    root = ROOTS[src]
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        rd = os.path.relpath(dirpath, root)
        dirnames[:] = [d for d in dirnames
                       if not d.startswith("_") and d != "translations"
                       and d != "Common_Content"]
        for fn in filenames:
            if not fn.endswith(".html"):
                continue
            if fn.startswith(("genindex", "search", "py-modindex",
                              "bookindex")):
                continue
            files.append(os.path.normpath(os.path.join(rd, fn)))
    files.sort()
    return [(src, root, f) for f in files]


# --------------------------------------------------------------------------
# POD
# --------------------------------------------------------------------------
POD_ESC = {"lt": "<", "gt": ">", "verbar": "|", "sol": "/"}
RE_POD_DBL = re.compile(r"[A-Z]<<+\s+(.*?)\s+>>+", re.S)
RE_POD_ONE = re.compile(r"([A-Z])<([^<>]*)>")


def pod_inline(s):
    s = RE_POD_DBL.sub(lambda m: m.group(1), s)
    for _ in range(10):
        def rep(m):
            code, inner = m.group(1), m.group(2)
            if code in ("X", "Z"):
                return ""
            if code == "E":
                if inner in POD_ESC:
                    return POD_ESC[inner]
                if re.match(r"^(0x[0-9a-fA-F]+|[0-9]+)$", inner):
                    base = 16 if inner.startswith("0x") else \
                        8 if inner.startswith("0") and len(inner) > 1 else 10
                    return chr(int(inner, base))
                return ""
            if code == "L":
                return inner.split("|")[0] if "|" in inner else \
                    inner.split("/")[0]
            return inner
        t = RE_POD_ONE.sub(rep, s)
        if t == s:
            break
        s = t
    return s


def do_pod(item):
    src, path, rel = item
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    secs, title, pars = [], os.path.basename(rel), []
    name = os.path.basename(rel)[:-4]
    skipping = False
    for block in re.split(r"\n\s*\n", text):
        b = block.strip("\n")
        if not b.strip():
            continue
        if b.startswith("="):
            cmd = b.split(None, 1)
            word = cmd[0]
            arg = cmd[1] if len(cmd) > 1 else ""
            if word.startswith("=head"):
                secs.append((title, pars))
                title = name + ": " + collapse(pod_inline(arg))
                pars = []
            elif word == "=item":
                pars.append(collapse(pod_inline(arg)))
            elif word in ("=begin", "=for"):
                skipping = word == "=begin"
            elif word == "=end":
                skipping = False
            continue
        if skipping:
            continue
        pars.append(collapse(pod_inline(b)))
    secs.append((title, pars))
    out = []
    for t, ps in secs:
        for p in passages(ps):
            out.append((src + ":" + rel, t, p))
    return out


def pod_files():
    lst = dpkg_files("perl-doc")
    files = sorted(f for f in lst if f.endswith(".pod") and os.path.isfile(f))
    return [("perl", f, os.path.relpath(f, "/usr/share/perl")) for f in files]


# --------------------------------------------------------------------------
# man pages (groff plain text)
# --------------------------------------------------------------------------
def do_man(item):
    src, path, rel = item
    raw = gzip.open(path).read() if path.endswith(".gz") else \
        open(path, "rb").read()
    if raw.lstrip().startswith(b".so "):
        return []
    p = subprocess.run(
        ["groff", "-t", "-man", "-Tutf8", "-P-cbou", "-rLL=3000n",
         "-rcR=1", "-rHY=0", "-dAD=l"],
        input=raw, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    lines = p.stdout.decode("utf-8", "replace").split("\n")
    lines = [l.rstrip() for l in lines]
    nonempty = [i for i, l in enumerate(lines) if l]
    if len(nonempty) < 3:
        return []
    lines = lines[nonempty[0] + 1:nonempty[-1]]      # header and footer
    page = os.path.basename(path)
    if page.endswith(".gz"):
        page = page[:-3]
    base, _, sec = page.rpartition(".")
    page = "%s(%s)" % (base, sec)
    secs, title, pars, cur = [], page, [], []
    for l in lines:
        if not l.strip():
            if cur:
                pars.append(collapse(" ".join(cur)))
                cur = []
        elif not l[0].isspace():
            if cur:
                pars.append(collapse(" ".join(cur)))
                cur = []
            secs.append((title, pars))
            title, pars = page + ": " + collapse(l), []
        else:
            cur.append(l)
    if cur:
        pars.append(collapse(" ".join(cur)))
    secs.append((title, pars))
    out = []
    for t, ps in secs:
        for p in passages(ps):
            out.append((src + ":" + rel, t, p))
    return out


def man_files():
    files = set()
    for pkg in PACKAGES["man"][:2]:
        for f in dpkg_files(pkg):
            if re.match(r"^/usr/share/man/man[0-9]/", f) and \
                    os.path.isfile(f) and not os.path.islink(f):
                files.add(f)
    return [("man", f, os.path.relpath(f, "/usr/share/man"))
            for f in sorted(files)]


# --------------------------------------------------------------------------
# WordNet glosses
# --------------------------------------------------------------------------
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact "
    "noun.attribute noun.body noun.cognition noun.communication noun.event "
    "noun.feeling noun.food noun.group noun.location noun.motive noun.object "
    "noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance "
    "noun.time verb.body verb.change verb.cognition verb.communication "
    "verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social "
    "verb.stative verb.weather adj.ppl").split()


def do_wordnet(item):
    src, path, rel = item
    groups = {}
    order = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("  "):
                continue                     # license header
            head, _, gloss = line.partition(" | ")
            fields = head.split()
            lexfile = int(fields[1])
            cnt = int(fields[3], 16)
            words = [fields[4 + 2 * i].replace("_", " ") for i in range(cnt)]
            words = [re.sub(r"\([a-z]+\)$", "", w) for w in words]
            entry = "%s: %s." % (", ".join(words), collapse(gloss).rstrip(";. "))
            if lexfile not in groups:
                groups[lexfile] = []
                order.append(lexfile)
            groups[lexfile].append((words[0], entry))
    out = []
    for lf in order:
        name = LEXNAMES[lf] if lf < len(LEXNAMES) else str(lf)
        ents = groups[lf]
        i = 0
        while i < len(ents):
            first = ents[i][0]
            cur, n = [], 0
            while i < len(ents) and n < 100:
                e = ents[i][1]
                w = nwords(e)
                if cur and n + w > MAX_WORDS:
                    break
                cur.append(e)
                n += w
                i += 1
            for p in passages([" ".join(cur)]):
                out.append((src + ":" + rel, "%s: %s" % (name, first), p))
    return out


def wordnet_files():
    return [("wordnet", os.path.join(ROOTS["wordnet"], "data." + p),
             "data." + p) for p in ("noun", "verb", "adj", "adv")]


# --------------------------------------------------------------------------
# GCIDE
# --------------------------------------------------------------------------
RE_GC_SRC = re.compile(r"\[(?:1913 Webster|WordNet[^\]]*|PJC|Century[^\]]*|"
                       r"Webster[^\]]*|Chambers[^\]]*|Note[^\]]*)\]")
RE_GC_PRON = re.compile(r"\\[^\\\n]*\\")


def gcide_entries(text):
    """Splits the dictd text into (headword, entry text) in file order."""
    ents, cur = [], []
    for line in text.split("\n"):
        if line and not line[0].isspace() and (not cur or cur[-1] == ""):
            if cur:
                ents.append(cur)
            cur = [line]
        else:
            cur.append(line)
    if cur:
        ents.append(cur)
    out = []
    for e in ents:
        head = e[0]
        if head.startswith("00-database") or head.startswith("00database"):
            continue
        hw = re.split(r"\s*\\|,", head, 1)[0].strip()
        body = "\n".join(e)
        body = RE_GC_SRC.sub(" ", body)
        body = RE_GC_PRON.sub(" ", body)
        body = body.replace("{", "").replace("}", "")
        out.append((hw, collapse(body)))
    return out


def do_gcide(item):
    src, path, rel = item
    with gzip.open(path) as f:
        text = f.read().decode("utf-8", "replace")
    # skip the GNU preamble of each letter file
    ents = [(h, b) for h, b in gcide_entries(text)
            if not h.startswith(("Begin file", "End of file"))]
    out = []
    i = 0
    while i < len(ents):
        first = ents[i][0]
        cur, n = [], 0
        while i < len(ents) and n < 60:
            b = ents[i][1]
            w = nwords(b)
            if cur and n + w > MAX_WORDS:
                break
            cur.append(b)
            n += w
            i += 1
        for p in passages(cur):
            out.append((src + ":" + rel, first, p))
    return out


def gcide_files():
    return [("gcide", os.path.join(ROOTS["gcide"], "gcide.dict.dz"),
             "gcide.dict.dz")]


# --------------------------------------------------------------------------
def dpkg_files(pkg):
    p = subprocess.run(["dpkg-query", "-L", pkg], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, check=True)
    return p.stdout.decode().split("\n")


def pkg_version(pkg):
    p = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return p.stdout.decode() or "not-installed"


def work_items(src):
    if src in ("pgdocs", "python", "handbook", "linux"):
        return [(do_html, it) for it in html_files(src)]
    if src == "perl":
        return [(do_pod, it) for it in pod_files()]
    if src == "man":
        return [(do_man, it) for it in man_files()]
    if src == "wordnet":
        return [(do_wordnet, it) for it in wordnet_files()]
    if src == "gcide":
        return [(do_gcide, it) for it in gcide_files()]
    raise ValueError(src)


def run_item(x):
    fn, it = x
    try:
        return it[0], fn(it)
    except Exception as e:          # a broken file must not stop the build
        sys.stderr.write("corpus: %s: %s\n" % (it[2], e))
        return it[0], []


def copy_escape(s):
    return s.replace("\\", "\\\\").replace("\t", " ").replace("\n", " ") \
        .replace("\r", " ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sources", default=",".join(SOURCES))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("out")
    a = ap.parse_args()
    srcs = [s for s in a.sources.split(",") if s]
    for s in srcs:
        if s not in SOURCES:
            sys.exit("corpus: unknown source %s" % s)
    items = []
    for s in srcs:
        items.extend(work_items(s))
    # big single-file sources first in the pool so they overlap the rest,
    # but the output order stays the list order (imap keeps it)
    seen = set()
    counts = {s: 0 for s in srcs}
    words = 0
    tmp = a.out + ".tmp"
    nid = 0
    with multiprocessing.Pool(a.jobs) as pool, \
            open(tmp, "w", encoding="utf-8") as out:
        for src, rows in pool.imap(run_item, items, chunksize=4):
            for where, title, body in rows:
                key = hashlib.sha1(body.lower().encode()).digest()
                if key in seen:
                    continue
                seen.add(key)
                nid += 1
                counts[src] += 1
                words += nwords(body)
                out.write("%d\t%s\t%s\t%s\n" % (
                    nid, copy_escape(where), copy_escape(title),
                    copy_escape(body)))
    os.replace(tmp, a.out)
    h = hashlib.sha256()
    with open(a.out, "rb") as f:
        for blk in iter(lambda: f.read(1 << 20), b""):
            h.update(blk)
    with open(a.out + ".manifest", "w") as m:
        m.write("passages\t%d\nwords\t%d\nsha256\t%s\n" %
                (nid, words, h.hexdigest()))
        for s in srcs:
            m.write("source\t%s\t%d\t%s\n" % (
                s, counts[s], " ".join("%s=%s" % (p, pkg_version(p))
                                       for p in PACKAGES[s])))
    sys.stderr.write("corpus: %d passages, %d words -> %s\n" %
                     (nid, words, a.out))
    for s in srcs:
        sys.stderr.write("corpus:   %-9s %7d\n" % (s, counts[s]))


if __name__ == "__main__":
    main()
