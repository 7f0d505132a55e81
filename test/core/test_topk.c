/*
 * test_topk.c
 *	  Differential tests of the top-k engine: bm25_topk against
 *	  bm25_topk_exhaustive for every k, bm25_match against the exhaustive
 *	  match set, and the exhaustive reference against a naive scorer that
 *	  works from the raw generated documents.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "harness.h"
#include "topk.h"

void		suite_topk(void);

/* ---------------------------------------------------------------------
 * Test corpus: raw documents kept alongside the segments built from them.
 * ---------------------------------------------------------------------
 */

#define MAX_VOCAB	600
#define MAX_SEGS	4
#define MAX_QTERMS	12

typedef struct tdoc
{
	bm25_tid	tid;
	uint32_t	dl;
	uint32_t	nterms;
	uint32_t   *term;			/* vocabulary indices, distinct */
	uint32_t   *tf;
} tdoc;

typedef struct tseg
{
	uint32_t	ndocs;
	tdoc	   *docs;
	unsigned char *buf;
	size_t		len;
	size_t		cap;
	bm25_segment *seg;
} tseg;

typedef struct tcorpus
{
	uint32_t	nvocab;
	char		vocab[MAX_VOCAB][16];
	uint32_t	nsegs;
	tseg		segs[MAX_SEGS];
	uint64_t	N;
	uint64_t	total_tokens;
	double		k1;
	double		b;
} tcorpus;

/* bm25_writer_io callback: pwrite into a growing memory buffer. */
static int
mem_write(void *ctx, uint64_t offset, const void *buf, size_t len)
{
	tseg	   *s = (tseg *) ctx;
	size_t		end = (size_t) offset + len;

	if (end > s->cap)
	{
		size_t		ncap = s->cap ? s->cap : 4096;
		unsigned char *nb;

		while (ncap < end)
			ncap *= 2;
		nb = realloc(s->buf, ncap);
		if (nb == NULL)
			return -1;
		memset(nb + s->cap, 0, ncap - s->cap);
		s->buf = nb;
		s->cap = ncap;
	}
	if (len > 0)
		memcpy(s->buf + offset, buf, len);
	if (end > s->len)
		s->len = end;
	return 0;
}

/*
 * Writes what b built into ts, frees b and opens the segment; false, with
 * ts's buffer freed, when that failed (the CHECKs have said why).
 */
static int
seal_tseg(bm25_builder *b, tseg *ts)
{
	bm25_writer_io io;
	bm25_seg_summary sum;
	char		err[256] = "";

	io.ctx = ts;
	io.write = mem_write;
	CHECK(bm25_builder_write(b, &io, &sum) == BM25_OK);
	bm25_builder_free(b);
	CHECK_MSG(bm25_segment_open(ts->buf, ts->len, &ts->seg, err, sizeof(err)) == BM25_OK,
			  "%s", err);
	if (ts->seg == NULL)
	{
		free(ts->buf);
		return 0;
	}
	return 1;
}

/* Zipf-like draw of a vocabulary index: small indices are common. */
static uint32_t
zipf(unsigned long long *seed, uint32_t n)
{
	double		u = (double) (harness_rand(seed) >> 11) / 9007199254740992.0;
	uint32_t	r = (uint32_t) ((double) n * u * u * u);

	return r < n ? r : n - 1;
}

/* Free every document and segment of a corpus. */
static void
corpus_free(tcorpus *c)
{
	uint32_t	s;
	uint32_t	d;

	for (s = 0; s < c->nsegs; s++)
	{
		for (d = 0; d < c->segs[s].ndocs; d++)
		{
			free(c->segs[s].docs[d].term);
			free(c->segs[s].docs[d].tf);
		}
		free(c->segs[s].docs);
		if (c->segs[s].seg)
			bm25_segment_close(c->segs[s].seg);
		free(c->segs[s].buf);
	}
	free(c);
}

/*
 * Generate a corpus: nsegs segments (one possibly empty), Zipf vocabulary,
 * and many exact duplicates so scores tie.  Returns NULL on failure.
 */
static tcorpus *
corpus_make(unsigned long long *seed, uint32_t nvocab, uint32_t nsegs,
			uint32_t maxdocs, int with_empty, double dup_rate)
{
	tcorpus    *c = calloc(1, sizeof(tcorpus));
	uint32_t	s;
	uint64_t	g = 0;
	uint32_t   *count;

	if (c == NULL)
		return NULL;
	count = calloc(nvocab, sizeof(uint32_t));
	if (count == NULL)
	{
		free(c);
		return NULL;
	}
	c->nvocab = nvocab;
	for (s = 0; s < nvocab; s++)
	{
		/* Varied lengths and shared prefixes exercise dictionary order. */
		if (s % 7 == 3)
			snprintf(c->vocab[s], sizeof(c->vocab[s]), "%x", s);
		else
			snprintf(c->vocab[s], sizeof(c->vocab[s]), "w%u", s);
	}
	c->nsegs = nsegs;

	for (s = 0; s < nsegs; s++)
	{
		tseg	   *ts = &c->segs[s];
		bm25_builder *b = NULL;
		bm25_writer_io io;
		bm25_seg_summary sum;
		uint32_t	d;
		uint32_t	ndocs;
		char		err[256];
		int			rc;

		if (with_empty && s == (nsegs > 1 ? 1 : 0))
			ndocs = 0;
		else
			ndocs = 1 + (uint32_t) (harness_rand(seed) % maxdocs);
		ts->ndocs = ndocs;
		ts->docs = calloc(ndocs > 0 ? ndocs : 1, sizeof(tdoc));
		CHECK(ts->docs != NULL);
		CHECK(bm25_builder_create(&b) == BM25_OK);

		for (d = 0; d < ndocs; d++)
		{
			tdoc	   *doc = &ts->docs[d];
			bm25_doc_term dt[64];
			uint32_t	x = (uint32_t) (g * 2654435761u);
			uint32_t	t;

			/* Unique TIDs, unrelated to doc order, some with the top bit set. */
			doc->tid = ((uint64_t) x << 12) ^ ((g & 3) == 1 ? UINT64_C(0x8000000000000000) : 0);
			g++;

			if (d > 0 && (double) (harness_rand(seed) % 1000) < dup_rate * 1000.0)
			{
				const tdoc *src = &ts->docs[harness_rand(seed) % d];

				doc->dl = src->dl;
				doc->nterms = src->nterms;
				doc->term = malloc(src->nterms * sizeof(uint32_t));
				doc->tf = malloc(src->nterms * sizeof(uint32_t));
				memcpy(doc->term, src->term, src->nterms * sizeof(uint32_t));
				memcpy(doc->tf, src->tf, src->nterms * sizeof(uint32_t));
			}
			else
			{
				uint32_t	ntok = 1 + (uint32_t) (harness_rand(seed) % 40);
				uint32_t	k;

				doc->term = malloc(64 * sizeof(uint32_t));
				doc->tf = malloc(64 * sizeof(uint32_t));
				doc->nterms = 0;
				for (k = 0; k < ntok; k++)
				{
					uint32_t	w = zipf(seed, nvocab);

					if (count[w] == 0)
					{
						if (doc->nterms == 64)
							continue;
						doc->term[doc->nterms++] = w;
					}
					count[w]++;
				}
				doc->dl = 0;
				for (k = 0; k < doc->nterms; k++)
				{
					doc->tf[k] = count[doc->term[k]];
					count[doc->term[k]] = 0;
					doc->dl += doc->tf[k];
				}
				/* Sometimes unindexed tokens (stop words) lengthen the doc. */
				if (harness_rand(seed) % 4 == 0)
					doc->dl += (uint32_t) (harness_rand(seed) % 30);
				/* Occasionally a very repetitive doc. */
				if (harness_rand(seed) % 50 == 0)
				{
					doc->tf[0] += 200;
					doc->dl += 200;
				}
			}
			for (t = 0; t < doc->nterms; t++)
			{
				dt[t].text = c->vocab[doc->term[t]];
				dt[t].len = (uint32_t) strlen(c->vocab[doc->term[t]]);
				dt[t].tf = doc->tf[t];
			}
			rc = bm25_builder_add_doc(b, doc->tid, doc->dl, dt, doc->nterms);
			CHECK_MSG(rc == BM25_OK, "add_doc rc %d", rc);
			c->N++;
			c->total_tokens += doc->dl;
		}

		io.ctx = ts;
		io.write = mem_write;
		rc = bm25_builder_write(b, &io, &sum);
		CHECK_MSG(rc == BM25_OK, "builder_write rc %d", rc);
		CHECK(sum.ndocs == ndocs);
		bm25_builder_free(b);
		rc = bm25_segment_open(ts->buf, ts->len, &ts->seg, err, sizeof(err));
		CHECK_MSG(rc == BM25_OK, "segment_open rc %d: %s", rc, err);
		if (rc != BM25_OK)
		{
			ts->seg = NULL;
			free(count);
			corpus_free(c);
			return NULL;
		}
		CHECK(bm25_segment_ndocs(ts->seg) == ndocs);
	}
	free(count);
	return c;
}

/* ---------------------------------------------------------------------
 * Queries
 * ---------------------------------------------------------------------
 */

typedef struct tquery
{
	uint32_t	n;
	bm25_qterm	t[MAX_QTERMS];
	int			vidx[MAX_QTERMS];	/* vocabulary index, -1 if absent */
	uint64_t	dfs[MAX_QTERMS];
	double		idf[MAX_QTERMS];
	bm25_term_info info[MAX_SEGS][MAX_QTERMS];
	bm25_search_seg ss[MAX_SEGS];
	bm25_scorer sc;
} tquery;

static const char missing_term[] = "zz-not-in-vocab";

/*
 * Every other prepared query ranks through one norm cache that all corpora
 * (each with its own k1, b and avgdl) share, as a backend's queries share
 * one: a cache that kept values across a change of parameters would give
 * scores the exhaustive reference does not.
 */
static bm25_norm_cache shared_norms;
static unsigned prepared_queries;

/* Look terms up in every segment and initialize the scorer. */
static void
query_prepare(tcorpus *c, tquery *q)
{
	uint32_t	i;
	uint32_t	s;

	bm25_query_normalize(q->t, &q->n);
	for (i = 0; i < q->n; i++)
	{
		uint32_t	v;

		q->vidx[i] = -1;
		for (v = 0; v < c->nvocab; v++)
			if (q->t[i].text == c->vocab[v])
				q->vidx[i] = (int) v;
		q->dfs[i] = 0;
	}
	for (s = 0; s < c->nsegs; s++)
	{
		for (i = 0; i < q->n; i++)
		{
			int			rc = bm25_segment_lookup(c->segs[s].seg, q->t[i].text,
												 q->t[i].len, &q->info[s][i]);

			CHECK(rc == BM25_OK);
			if (q->vidx[i] < 0)
				CHECK(q->info[s][i].df == 0);
			q->dfs[i] += q->info[s][i].df;
		}
		q->ss[s].seg = c->segs[s].seg;
		q->ss[s].terms = q->info[s];
	}
	bm25_scorer_init(&q->sc, c->k1, c->b, c->N, c->total_tokens, q->t, q->n, q->dfs, q->idf);
	if (prepared_queries++ % 2 == 1)
		q->sc.norms = &shared_norms;
}

/* A random query of 1..maxterms terms with a random occurrence mix. */
static void
query_random(unsigned long long *seed, tcorpus *c, tquery *q, uint32_t maxterms)
{
	uint32_t	n = 1 + (uint32_t) (harness_rand(seed) % maxterms);
	uint32_t	i;
	uint32_t	mode = (uint32_t) (harness_rand(seed) % 4);

	memset(q, 0, sizeof(*q));
	for (i = 0; i < n; i++)
	{
		uint32_t	r = (uint32_t) (harness_rand(seed) % 100);
		uint32_t	w;

		if (harness_rand(seed) % 2)
			w = zipf(seed, c->nvocab);
		else
			w = (uint32_t) (harness_rand(seed) % c->nvocab);
		if (harness_rand(seed) % 25 == 0)
		{
			q->t[i].text = missing_term;
			q->t[i].len = (uint32_t) strlen(missing_term);
		}
		else
		{
			q->t[i].text = c->vocab[w];
			q->t[i].len = (uint32_t) strlen(c->vocab[w]);
		}
		/* mode 0: SHOULD only; 1: mostly MUST; 2, 3: mixed. */
		if (mode == 0)
			q->t[i].occur = r < 90 ? BM25_SHOULD : BM25_MUST_NOT;
		else if (mode == 1)
			q->t[i].occur = r < 60 ? BM25_MUST : r < 85 ? BM25_SHOULD : BM25_MUST_NOT;
		else
			q->t[i].occur = r < 55 ? BM25_SHOULD : r < 80 ? BM25_MUST : BM25_MUST_NOT;
	}
	q->n = n;
	query_prepare(c, q);
}

/* ---------------------------------------------------------------------
 * Naive reference from the raw documents
 * ---------------------------------------------------------------------
 */

/* Result order: score descending, TID ascending. */
static int
naive_cmp(const void *pa, const void *pb)
{
	const bm25_hit *a = pa;
	const bm25_hit *b = pb;

	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	if (a->tid != b->tid)
		return a->tid < b->tid ? -1 : 1;
	return 0;
}

/* Score every raw doc with its own matching logic; returns sorted hits. */
static bm25_hit *
naive_all(tcorpus *c, tquery *q, uint64_t *nout)
{
	bm25_hit   *h = malloc((c->N + 1) * sizeof(bm25_hit));
	uint64_t	n = 0;
	uint32_t	s;

	for (s = 0; s < c->nsegs; s++)
	{
		uint32_t	d;

		for (d = 0; d < c->segs[s].ndocs; d++)
		{
			const tdoc *doc = &c->segs[s].docs[d];
			uint32_t	tfs[MAX_QTERMS];
			uint32_t	i;
			uint32_t	k;
			int			ok = 1;
			int			any = 0;

			for (i = 0; i < q->n; i++)
			{
				tfs[i] = 0;
				for (k = 0; k < doc->nterms; k++)
					if ((int) doc->term[k] == q->vidx[i])
						tfs[i] = doc->tf[k];
				if (q->t[i].occur == BM25_MUST && tfs[i] == 0)
					ok = 0;
				if (q->t[i].occur == BM25_MUST_NOT && tfs[i] > 0)
					ok = 0;
				if (q->t[i].occur != BM25_MUST_NOT && tfs[i] > 0)
					any = 1;
			}
			if (!ok || !any)
			{
				CHECK(bm25_score_doc(&q->sc, tfs, doc->dl) == 0.0);
				continue;
			}
			h[n].score = bm25_score_doc(&q->sc, tfs, doc->dl);
			h[n].tid = doc->tid;
			CHECK(h[n].score > 0.0);
			n++;
		}
	}
	qsort(h, n, sizeof(bm25_hit), naive_cmp);
	*nout = n;
	return h;
}

/* Same TIDs, bit-identical scores. */
static int
hits_equal(const bm25_hit *a, uint64_t na, const bm25_hit *b, uint64_t nb)
{
	uint64_t	i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (a[i].tid != b[i].tid || memcmp(&a[i].score, &b[i].score, sizeof(double)) != 0)
			return 0;
	return 1;
}

typedef struct tidset
{
	bm25_tid   *t;
	uint64_t	n;
	uint64_t	cap;
} tidset;

/* bm25_match callback: collect TIDs. */
static void
collect_tid(void *arg, bm25_tid tid)
{
	tidset	   *s = arg;

	if (s->n == s->cap)
	{
		bm25_tid   *nt;

		s->cap = s->cap ? s->cap * 2 : 64;
		nt = realloc(s->t, s->cap * sizeof(bm25_tid));
		if (nt == NULL)
		{
			free(s->t);
			s->t = NULL;
			s->n = s->cap = 0;
			return;
		}
		s->t = nt;
	}
	s->t[s->n++] = tid;
}

/* qsort comparator for TIDs, unsigned. */
static int
tid_cmp(const void *pa, const void *pb)
{
	bm25_tid	a = *(const bm25_tid *) pa;
	bm25_tid	b = *(const bm25_tid *) pb;

	return a < b ? -1 : a > b;
}

static const uint64_t test_ks[] = {1, 3, 10, 100, 1000, BM25_K_ALL};

/* (query, k) pairs where the hit after the k-th tied and was checked */
static int	tie_checks = 0;

/* Compare every algorithm on one query; returns the number of k compared. */
static int
check_query(tcorpus *c, tquery *q, const char *what)
{
	bm25_hit   *naive;
	uint64_t	nnaive;
	bm25_hit   *all = NULL;
	uint64_t	nall = 0;
	tidset		ms = {NULL, 0, 0};
	size_t		ki;
	int			rc;
	int			compared = 0;
	uint64_t	i;

	naive = naive_all(c, q, &nnaive);
	rc = bm25_topk_exhaustive(q->ss, c->nsegs, &q->sc, BM25_K_ALL, &all, &nall);
	CHECK(rc == BM25_OK);
	CHECK(all != NULL);
	CHECK_MSG(hits_equal(all, nall, naive, nnaive),
			  "%s: exhaustive (%llu hits) != naive (%llu hits)", what,
			  (unsigned long long) nall, (unsigned long long) nnaive);

	/* bm25_match yields exactly the exhaustive match set. */
	rc = bm25_match(q->ss, c->nsegs, &q->sc, collect_tid, &ms);
	CHECK(rc == BM25_OK);
	if (ms.n > 1)
		qsort(ms.t, ms.n, sizeof(bm25_tid), tid_cmp);
	{
		bm25_tid   *et = malloc((nall + 1) * sizeof(bm25_tid));
		int			same = (ms.n == nall);

		for (i = 0; i < nall; i++)
			et[i] = all[i].tid;
		if (nall > 1)
			qsort(et, nall, sizeof(bm25_tid), tid_cmp);
		for (i = 0; same && i < nall; i++)
			same = (et[i] == ms.t[i]);
		CHECK_MSG(same, "%s: bm25_match gave %llu tids, exhaustive %llu", what,
				  (unsigned long long) ms.n, (unsigned long long) nall);
		free(et);
	}
	free(ms.t);

	for (ki = 0; ki < sizeof(test_ks) / sizeof(test_ks[0]); ki++)
	{
		uint64_t	k = test_ks[ki];
		bm25_hit   *ex = NULL;
		bm25_hit   *tk = NULL;
		uint64_t	nex = 0;
		uint64_t	ntk = 0;
		uint64_t	want = nall < k ? nall : k;

		rc = bm25_topk_exhaustive(q->ss, c->nsegs, &q->sc, k, &ex, &nex);
		CHECK(rc == BM25_OK);
		rc = bm25_topk(q->ss, c->nsegs, &q->sc, k, &tk, &ntk);
		CHECK(rc == BM25_OK);
		CHECK(tk != NULL && ex != NULL);
		CHECK(nex == want);
		CHECK(hits_equal(ex, nex, all, want));
		if (!hits_equal(tk, ntk, ex, nex))
		{
			uint64_t	j;

			CHECK_MSG(0, "%s k=%llu: topk (%llu hits) != exhaustive (%llu hits)", what,
					  (unsigned long long) k, (unsigned long long) ntk,
					  (unsigned long long) nex);
			for (j = 0; j < nex || j < ntk; j++)
			{
				if (j < nex && j < ntk && ex[j].tid == tk[j].tid && ex[j].score == tk[j].score)
					continue;
				fprintf(stderr, "  first diff at %llu: topk %s %.17g/%llx, exhaustive %s %.17g/%llx\n",
						(unsigned long long) j,
						j < ntk ? "" : "(none)", j < ntk ? tk[j].score : 0.0,
						(unsigned long long) (j < ntk ? tk[j].tid : 0),
						j < nex ? "" : "(none)", j < nex ? ex[j].score : 0.0,
						(unsigned long long) (j < nex ? ex[j].tid : 0));
				break;
			}
		}
		compared++;
		free(ex);
		free(tk);

		/* bm25_topk_tie: the same hits, and the (k+1)-th exactly when it ties */
		{
			bm25_hit   *tt = NULL;
			uint64_t	ntt = 0;
			bm25_hit	tie;
			int			has_tie = -1;
			int			expect = k > 0 && k < nall && all[k].score == all[k - 1].score;

			rc = bm25_topk_tie(q->ss, c->nsegs, &q->sc, k, &tt, &ntt, &tie, &has_tie);
			CHECK(rc == BM25_OK);
			CHECK_MSG(hits_equal(tt, ntt, all, want), "%s k=%llu: bm25_topk_tie hits differ",
					  what, (unsigned long long) k);
			CHECK_MSG(has_tie == expect, "%s k=%llu: has_tie %d, expected %d", what,
					  (unsigned long long) k, has_tie, expect);
			if (expect && has_tie == 1)
			{
				CHECK_MSG(tie.tid == all[k].tid && tie.score == all[k].score,
						  "%s k=%llu: tie is not the (k+1)-th hit", what,
						  (unsigned long long) k);
				tie_checks++;
			}
			free(tt);
		}
	}
	free(all);
	free(naive);
	return compared;
}

/* ---------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------
 */

static int	total_queries = 0;
static int	total_compared = 0;

/*
 * Rank one segment with bm25_topk and with the exhaustive reference, check
 * they agree and count the comparison; returns bm25_topk's hits (the caller
 * frees them) for any further checks.
 */
static bm25_hit *
topk_vs_exhaustive(const bm25_search_seg *ss, const bm25_scorer *sc, uint64_t k,
				   uint64_t *n, const char *what, int id)
{
	bm25_hit   *a = NULL;
	bm25_hit   *e = NULL;
	uint64_t	ne = 0;

	*n = 0;
	CHECK(bm25_topk(ss, 1, sc, k, &a, n) == BM25_OK);
	CHECK(bm25_topk_exhaustive(ss, 1, sc, k, &e, &ne) == BM25_OK);
	CHECK_MSG(hits_equal(a, *n, e, ne), "%s %d k=%llu", what, id, (unsigned long long) k);
	free(e);
	total_compared++;
	return a;
}

/* Random corpora, random queries, every k. */
static void
test_differential(void)
{
	static const struct
	{
		uint32_t	nvocab;
		uint32_t	nsegs;
		uint32_t	maxdocs;
		int			empty;
		double		dup;
		double		k1;
		double		b;
		int			nqueries;
	}			cfg[] =
	{
		{300, 3, 2500, 1, 0.30, 1.2, 0.75, 120},
		{600, 4, 3000, 1, 0.20, 0.9, 0.4, 100},
		{40, 2, 1500, 0, 0.50, 1.2, 0.75, 80},
		{8, 3, 800, 1, 0.60, 2.0, 1.0, 60},
		{200, 1, 4000, 0, 0.35, 1.2, 0.0, 60},
		{120, 4, 1200, 1, 0.40, 0.0, 0.5, 40},
		{500, 2, 3500, 0, 0.25, 1.5, 0.9, 80},
		/* Few terms, long postings lists: block skipping in every path. */
		{6, 2, 9000, 0, 0.05, 1.2, 0.75, 60},
	};
	unsigned long long seed = 20240611;
	size_t		ci;

	for (ci = 0; ci < sizeof(cfg) / sizeof(cfg[0]); ci++)
	{
		tcorpus    *c = corpus_make(&seed, cfg[ci].nvocab, cfg[ci].nsegs, cfg[ci].maxdocs,
									cfg[ci].empty, cfg[ci].dup);
		int			qi;

		CHECK(c != NULL);
		if (c == NULL)
			continue;
		c->k1 = cfg[ci].k1;
		c->b = cfg[ci].b;
		for (qi = 0; qi < cfg[ci].nqueries; qi++)
		{
			tquery		q;
			char		what[64];

			query_random(&seed, c, &q, 10);
			snprintf(what, sizeof(what), "corpus %zu query %d", ci, qi);
			total_compared += check_query(c, &q, what);
			total_queries++;
		}
		corpus_free(c);
	}
}

/* Hand-made cases: ties, exclusions, degenerate queries and k. */
static void
test_edge_cases(void)
{
	unsigned long long seed = 99;
	tcorpus    *c = corpus_make(&seed, 30, 2, 600, 0, 0.9);
	tquery		q;
	bm25_hit   *h = NULL;
	uint64_t	n = 77;
	uint32_t	i;

	CHECK(c != NULL);
	if (c == NULL)
		return;
	c->k1 = 1.2;
	c->b = 0.75;

	/* Single common term: heavy ties, every k. */
	memset(&q, 0, sizeof(q));
	q.n = 1;
	q.t[0].text = c->vocab[0];
	q.t[0].len = (uint32_t) strlen(c->vocab[0]);
	q.t[0].occur = BM25_SHOULD;
	query_prepare(c, &q);
	total_compared += check_query(c, &q, "single term");
	total_queries++;

	/* The same term as MUST alone. */
	q.t[0].occur = BM25_MUST;
	q.n = 1;
	query_prepare(c, &q);
	total_compared += check_query(c, &q, "single must");
	total_queries++;

	/* Only MUST_NOT terms: matches nothing. */
	memset(&q, 0, sizeof(q));
	q.n = 2;
	for (i = 0; i < 2; i++)
	{
		q.t[i].text = c->vocab[i];
		q.t[i].len = (uint32_t) strlen(c->vocab[i]);
		q.t[i].occur = BM25_MUST_NOT;
	}
	query_prepare(c, &q);
	CHECK(bm25_topk(q.ss, c->nsegs, &q.sc, 10, &h, &n) == BM25_OK);
	CHECK(n == 0 && h != NULL);
	free(h);
	total_compared += check_query(c, &q, "only must_not");
	total_queries++;

	/* MUST term absent everywhere: nothing. */
	memset(&q, 0, sizeof(q));
	q.n = 2;
	q.t[0].text = missing_term;
	q.t[0].len = (uint32_t) strlen(missing_term);
	q.t[0].occur = BM25_MUST;
	q.t[1].text = c->vocab[0];
	q.t[1].len = (uint32_t) strlen(c->vocab[0]);
	q.t[1].occur = BM25_SHOULD;
	query_prepare(c, &q);
	h = NULL;
	CHECK(bm25_topk(q.ss, c->nsegs, &q.sc, BM25_K_ALL, &h, &n) == BM25_OK);
	CHECK(n == 0 && h != NULL);
	free(h);

	/* SHOULD term absent everywhere is harmless. */
	q.t[0].occur = BM25_SHOULD;
	query_prepare(c, &q);
	total_compared += check_query(c, &q, "absent should");
	total_queries++;

	/* k == 0 and an empty query give empty, non-NULL arrays. */
	h = NULL;
	CHECK(bm25_topk(q.ss, c->nsegs, &q.sc, 0, &h, &n) == BM25_OK);
	CHECK(n == 0 && h != NULL);
	free(h);
	memset(&q, 0, sizeof(q));
	query_prepare(c, &q);
	h = NULL;
	CHECK(bm25_topk(q.ss, c->nsegs, &q.sc, 5, &h, &n) == BM25_OK);
	CHECK(n == 0 && h != NULL);
	free(h);
	h = NULL;
	CHECK(bm25_topk_exhaustive(q.ss, c->nsegs, &q.sc, 5, &h, &n) == BM25_OK);
	CHECK(n == 0 && h != NULL);
	free(h);
	/* No segments at all. */
	h = NULL;
	CHECK(bm25_topk(NULL, 0, &q.sc, 5, &h, &n) == BM25_OK);
	CHECK(n == 0 && h != NULL);
	free(h);

	/* Every k from 1 to 40 on a tie-heavy two-term query. */
	memset(&q, 0, sizeof(q));
	q.n = 2;
	q.t[0].text = c->vocab[1];
	q.t[0].len = (uint32_t) strlen(c->vocab[1]);
	q.t[0].occur = BM25_SHOULD;
	q.t[1].text = c->vocab[2];
	q.t[1].len = (uint32_t) strlen(c->vocab[2]);
	q.t[1].occur = BM25_SHOULD;
	query_prepare(c, &q);
	for (i = 1; i <= 40; i++)
	{
		bm25_hit   *a = NULL;
		bm25_hit   *b = NULL;
		uint64_t	na = 0;
		uint64_t	nb = 0;

		CHECK(bm25_topk(q.ss, c->nsegs, &q.sc, i, &a, &na) == BM25_OK);
		CHECK(bm25_topk_exhaustive(q.ss, c->nsegs, &q.sc, i, &b, &nb) == BM25_OK);
		CHECK_MSG(hits_equal(a, na, b, nb), "tie query k=%u", i);
		free(a);
		free(b);
		total_compared++;
	}

	/*
	 * Nonsensical parameters (negative k1, b > 1) can give negative,
	 * infinite or NaN scores; the engine then must not prune but must
	 * still agree with the reference.
	 */
	{
		static const double bad[][2] = {{1.2, 1.5}, {-0.5, 0.75}, {-1.0, 0.3}, {1.2, -2.0}};
		size_t		pi;

		for (pi = 0; pi < sizeof(bad) / sizeof(bad[0]); pi++)
		{
			uint64_t	ks[3] = {1, 10, BM25_K_ALL};
			int			kk;

			q.sc.k1 = bad[pi][0];
			q.sc.b = bad[pi][1];
			for (kk = 0; kk < 3; kk++)
			{
				bm25_hit   *a = NULL;
				bm25_hit   *b = NULL;
				uint64_t	na = 0;
				uint64_t	nb = 0;

				CHECK(bm25_topk(q.ss, c->nsegs, &q.sc, ks[kk], &a, &na) == BM25_OK);
				CHECK(bm25_topk_exhaustive(q.ss, c->nsegs, &q.sc, ks[kk], &b, &nb) == BM25_OK);
				CHECK_MSG(hits_equal(a, na, b, nb), "bad params %zu k %d", pi, kk);
				free(a);
				free(b);
				total_compared++;
			}
		}
		q.sc.k1 = c->k1;
		q.sc.b = c->b;
	}

	/* Segments given in the other order: same result. */
	if (c->nsegs == 2)
	{
		bm25_search_seg rev[2];
		bm25_hit   *a = NULL;
		bm25_hit   *b = NULL;
		uint64_t	na = 0;
		uint64_t	nb = 0;

		rev[0] = q.ss[1];
		rev[1] = q.ss[0];
		CHECK(bm25_topk(rev, 2, &q.sc, 7, &a, &na) == BM25_OK);
		CHECK(bm25_topk(q.ss, 2, &q.sc, 7, &b, &nb) == BM25_OK);
		CHECK(hits_equal(a, na, b, nb));
		free(a);
		free(b);
	}
	corpus_free(c);
}

/* Identical documents: the top k are the k smallest TIDs. */
static void
test_identical_docs(void)
{
	bm25_builder *b = NULL;
	tseg		ts;
	bm25_doc_term dt[2] = {{"apple", 5, 2}, {"pear", 4, 1}};
	uint32_t	i;
	bm25_qterm	t[1] = {{"apple", 5, BM25_SHOULD, 1}};
	bm25_term_info info[1];
	uint64_t	dfs[1];
	double		idf[1];
	bm25_scorer sc;
	bm25_search_seg ss;
	bm25_hit   *h = NULL;
	uint64_t	n = 0;

	memset(&ts, 0, sizeof(ts));
	CHECK(bm25_builder_create(&b) == BM25_OK);
	for (i = 0; i < 1000; i++)
		CHECK(bm25_builder_add_doc(b, BM25_TID_MAKE(1000 - i, 1 + i % 7), 10, dt, 2) == BM25_OK);
	if (!seal_tseg(b, &ts))
		return;
	CHECK(bm25_segment_lookup(ts.seg, "apple", 5, &info[0]) == BM25_OK);
	dfs[0] = info[0].df;
	CHECK(dfs[0] == 1000);
	bm25_scorer_init(&sc, 1.2, 0.75, 1000, 10000, t, 1, dfs, idf);
	ss.seg = ts.seg;
	ss.terms = info;
	CHECK(bm25_topk(&ss, 1, &sc, 5, &h, &n) == BM25_OK);
	CHECK(n == 5);
	for (i = 0; i < n && i < 5; i++)
	{
		/* TIDs 1..1000 blocks; the smallest are blocks 1..5. */
		CHECK(BM25_TID_BLOCK(h[i].tid) == i + 1);
		CHECK(h[i].score == h[0].score);
	}
	free(h);
	bm25_segment_close(ts.seg);
	free(ts.buf);
}

/*
 * Postings laid out so that whole blocks must be skipped and the first
 * doc after a skipped block is the best hit: catches off-by-one skips.
 */
static void
test_block_skips(void)
{
	bm25_builder *b = NULL;
	tseg		ts;
	uint32_t	ndocs = BM25_BLOCK_SIZE * 12;
	uint32_t	d;
	uint64_t	tokens = 0;
	int			variant;

	memset(&ts, 0, sizeof(ts));
	CHECK(bm25_builder_create(&b) == BM25_OK);
	for (d = 0; d < ndocs; d++)
	{
		bm25_doc_term dt[2] = {{"x", 1, 1}, {"y", 1, 1}};
		uint32_t	dl = 50;
		uint32_t	j = d / BM25_BLOCK_SIZE;

		if (d < 3)
		{
			dt[0].tf = 5;
			dl = 10;
		}
		else if (d % BM25_BLOCK_SIZE == 0 && j % 2 == 1 && j >= 3)
		{
			dt[0].tf = 20 - j;	/* earlier is better */
			dl = 10;
		}
		CHECK(bm25_builder_add_doc(b, BM25_TID_MAKE(d + 1, 1), dl, dt,
								   d % 3 == 0 ? 2 : 1) == BM25_OK);
		tokens += dl;
	}
	if (!seal_tseg(b, &ts))
		return;

	for (variant = 0; variant < 6; variant++)
	{
		static const bm25_occur occ[6][2] = {
			{BM25_SHOULD, BM25_MUST_NOT}, {BM25_MUST, BM25_MUST_NOT},
			{BM25_MUST, BM25_SHOULD}, {BM25_SHOULD, BM25_SHOULD},
			{BM25_MUST, BM25_MUST}, {BM25_SHOULD, BM25_MUST}
		};
		bm25_qterm	t[2] = {{"x", 1, BM25_SHOULD, 1}, {"y", 1, BM25_SHOULD, 1}};
		bm25_term_info info[2];
		uint64_t	dfs[2];
		double		idf[2];
		bm25_scorer sc;
		bm25_search_seg ss;
		uint32_t	nt = variant < 2 ? 1 : 2;
		uint64_t	k;

		t[0].occur = occ[variant][0];
		t[1].occur = occ[variant][1];
		CHECK(bm25_segment_lookup(ts.seg, "x", 1, &info[0]) == BM25_OK);
		CHECK(bm25_segment_lookup(ts.seg, "y", 1, &info[1]) == BM25_OK);
		dfs[0] = info[0].df;
		dfs[1] = info[1].df;
		bm25_scorer_init(&sc, 1.2, 0.75, ndocs, tokens, t, nt, dfs, idf);
		ss.seg = ts.seg;
		ss.terms = info;
		for (k = 1; k <= 8; k++)
		{
			uint64_t	na;
			bm25_hit   *a = topk_vs_exhaustive(&ss, &sc, k, &na, "block skips variant", variant);

			if (variant < 2 && na > 0)
				CHECK(a[0].tid == BM25_TID_MAKE(3 * BM25_BLOCK_SIZE + 1, 1));
			free(a);
		}
		total_queries++;
	}
	bm25_segment_close(ts.seg);
	free(ts.buf);
}

/*
 * Threshold estimation: a term spanning more blocks than the estimator
 * scans (so it samples), exact ties at the estimated threshold (many docs
 * share the best single-term contribution, so the seed equals the k-th
 * score and only TID order decides), a single MUST term, and the cases it
 * must leave alone (two MUST terms, MUST_NOT), over k around the
 * estimator's limits, against the exhaustive reference.
 */
static void
test_seeding(void)
{
	bm25_builder *b = NULL;
	tseg		ts;
	uint32_t	ndocs = BM25_BLOCK_SIZE * 300 + 77;
	uint32_t	d;
	uint64_t	tokens = 0;
	unsigned long long seed = 4242;
	int			variant;

	memset(&ts, 0, sizeof(ts));
	CHECK(bm25_builder_create(&b) == BM25_OK);
	for (d = 0; d < ndocs; d++)
	{
		bm25_doc_term dt[3];
		uint32_t	nt = 0;
		uint32_t	dl = 20 + (uint32_t) (harness_rand(&seed) % 60);

		dt[nt].text = "x";
		dt[nt].len = 1;
		dt[nt].tf = 1 + (uint32_t) (harness_rand(&seed) % 3);
		/* Every 97th doc is one of many identical strongest x docs. */
		if (d % 97 == 5)
		{
			dt[nt].tf = 6;
			dl = 12;
		}
		nt++;
		if (d % 3 == 0)
		{
			dt[nt].text = "y";
			dt[nt].len = 1;
			dt[nt].tf = 1 + (uint32_t) (harness_rand(&seed) % 4);
			nt++;
		}
		if (d % 1500 == 700)
		{
			dt[nt].text = "z";
			dt[nt].len = 1;
			dt[nt].tf = 1 + d % 5;
			nt++;
		}
		CHECK(bm25_builder_add_doc(b, BM25_TID_MAKE(d + 1, 1), dl, dt, nt) == BM25_OK);
		tokens += dl;
	}
	if (!seal_tseg(b, &ts))
		return;

	for (variant = 0; variant < 8; variant++)
	{
		static const struct
		{
			uint32_t	n;
			const char *t[3];
			bm25_occur	o[3];
		}			qs[8] = {
			{1, {"x"}, {BM25_SHOULD}},
			{2, {"x", "y"}, {BM25_SHOULD, BM25_SHOULD}},
			{2, {"x", "z"}, {BM25_SHOULD, BM25_SHOULD}},
			{3, {"x", "y", "z"}, {BM25_SHOULD, BM25_SHOULD, BM25_SHOULD}},
			{2, {"x", "y"}, {BM25_SHOULD, BM25_MUST}},
			{2, {"x", "y"}, {BM25_MUST, BM25_MUST}},
			{2, {"x", "y"}, {BM25_SHOULD, BM25_MUST_NOT}},
			{2, {"y", "z"}, {BM25_MUST, BM25_SHOULD}},
		};
		static const uint64_t ks[] = {1, 2, 10, 11, 100, 255, 256, 257, 1000};
		bm25_qterm	t[3];
		bm25_term_info info[3];
		uint64_t	dfs[3];
		double		idf[3];
		bm25_scorer sc;
		bm25_search_seg ss;
		uint32_t	i;
		size_t		ki;

		for (i = 0; i < qs[variant].n; i++)
		{
			t[i].text = qs[variant].t[i];
			t[i].len = 1;
			t[i].occur = qs[variant].o[i];
			t[i].qtf = 1;
			CHECK(bm25_segment_lookup(ts.seg, t[i].text, 1, &info[i]) == BM25_OK);
			dfs[i] = info[i].df;
		}
		if (variant < 7)
			CHECK(info[0].nblocks > 256);
		bm25_scorer_init(&sc, 1.2, 0.75, ndocs, tokens, t, qs[variant].n, dfs, idf);
		ss.seg = ts.seg;
		ss.terms = info;
		for (ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++)
		{
			uint64_t	na;
			bm25_hit   *a = topk_vs_exhaustive(&ss, &sc, ks[ki], &na, "seeding variant", variant);

			/* x alone: the top 100 are all tied strongest docs, by TID. */
			if (variant == 0 && ks[ki] <= 100 && na == ks[ki])
				CHECK(a[na - 1].score == a[0].score &&
					  a[0].tid == BM25_TID_MAKE(6, 1));
			free(a);
		}
		total_queries++;
	}
	bm25_segment_close(ts.seg);
	free(ts.buf);
}

/* Corrupted postings: errors propagate, nothing leaks (ASan checks). */
static void
test_corruption(void)
{
	unsigned long long seed = 5;
	tcorpus    *c = corpus_make(&seed, 50, 2, 1500, 0, 0.1);
	int			iter;
	int			errors = 0;

	CHECK(c != NULL);
	if (c == NULL)
		return;
	c->k1 = 1.2;
	c->b = 0.75;
	for (iter = 0; iter < 60; iter++)
	{
		tquery		q;
		tseg	   *ts = &c->segs[iter % c->nsegs];
		size_t		pos = (size_t) (harness_rand(&seed) % ts->len);
		unsigned char saved = ts->buf[pos];
		bm25_hit   *h = NULL;
		uint64_t	n = 0;
		tidset		ms = {NULL, 0, 0};
		int			rc1;
		int			rc2;
		int			rc3;

		query_random(&seed, c, &q, 6);
		ts->buf[pos] ^= (unsigned char) (1 + harness_rand(&seed) % 255);
		rc1 = bm25_topk(q.ss, c->nsegs, &q.sc, 10, &h, &n);
		CHECK(rc1 == BM25_OK || rc1 == BM25_ECORRUPT);
		CHECK(rc1 != BM25_OK || h != NULL);
		CHECK(rc1 == BM25_OK || h == NULL);
		free(h);
		h = NULL;
		rc2 = bm25_topk_exhaustive(q.ss, c->nsegs, &q.sc, 10, &h, &n);
		CHECK(rc2 == BM25_OK || rc2 == BM25_ECORRUPT);
		free(h);
		h = NULL;
		rc3 = bm25_match(q.ss, c->nsegs, &q.sc, collect_tid, &ms);
		CHECK(rc3 == BM25_OK || rc3 == BM25_ECORRUPT);
		free(ms.t);
		errors += (rc1 != BM25_OK) + (rc2 != BM25_OK) + (rc3 != BM25_OK);
		ts->buf[pos] = saved;
	}
	printf("topk: corrupted-segment runs reported %d errors\n", errors);
	corpus_free(c);
}

/*
 * The engine's speed-ups keep exactness: bm25_tfpart equals the textbook
 * expression bit for bit (the engine splits it into a per-doc
 * normalization and a per-term part); bm25_unpack's width-specialized
 * path agrees with the packer at every width and never reads past avail
 * (the buffers are exactly sized, so ASan catches an overread).
 */
static void
test_engine_arith(void)
{
	unsigned long long seed = 77;
	uint32_t	w;
	int			i;

	for (i = 0; i < 20000; i++)
	{
		bm25_scorer sc;
		uint32_t	tf = 1 + (uint32_t) (harness_rand(&seed) % (i % 3 == 0 ? 100000 : 50));
		uint32_t	dl = (uint32_t) (harness_rand(&seed) % (i % 5 == 0 ? 100000 : 3000));
		double		t = (double) tf;
		double		l = (double) dl;
		double		want;
		double		got;

		memset(&sc, 0, sizeof(sc));
		sc.k1 = (double) (harness_rand(&seed) % 3001) / 1000.0;
		sc.b = (double) (harness_rand(&seed) % 1001) / 1000.0;
		sc.avgdl = 0.5 + (double) (harness_rand(&seed) % 500000) / 997.0;
		want = t * (sc.k1 + 1.0) / (t + sc.k1 * (1.0 - sc.b + sc.b * l / sc.avgdl));
		got = bm25_tfpart(&sc, tf, dl);
		CHECK_MSG(memcmp(&want, &got, sizeof(double)) == 0, "tfpart tf=%u dl=%u", tf, dl);
		got = bm25_tfpart_norm(&sc, tf, bm25_doc_norm(&sc, dl));
		CHECK_MSG(memcmp(&want, &got, sizeof(double)) == 0, "tfpart_norm tf=%u dl=%u", tf, dl);
	}

	for (w = 0; w <= 32; w++)
	{
		static const uint32_t ns[] = {1, 5, 8, 9, 15, 16, 17, 63, 64, 100, 127, 128};
		size_t		ni;

		for (ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ni++)
		{
			uint32_t	n = ns[ni];
			uint32_t	v[BM25_PACK_MAX_VALUES];
			uint32_t	out[BM25_PACK_MAX_VALUES];
			uint32_t	mask = w >= 32 ? 0xFFFFFFFFu : ((1u << w) - 1);
			size_t		size = bm25_packed_size(n, w);
			uint8_t    *buf = malloc(size + 24 > 0 ? size + 24 : 1);
			uint8_t    *exact = malloc(size > 0 ? size : 1);
			size_t		used = 0;
			uint32_t	j;
			int			pad;

			CHECK(buf != NULL && exact != NULL);
			if (buf == NULL || exact == NULL)
			{
				free(buf);
				free(exact);
				continue;
			}
			for (j = 0; j < n; j++)
				v[j] = (uint32_t) harness_rand(&seed) & mask;
			if (n > 2)
				v[n - 1] = mask;	/* the largest value at the very end */
			memset(buf, 0xA5, size + 24);
			CHECK(bm25_pack(buf, v, n, w) == size);
			memcpy(exact, buf, size);
			for (pad = 0; pad < 2; pad++)
			{
				memset(out, 0xEE, sizeof(out));
				CHECK(bm25_unpack(pad ? buf : exact, pad ? size + 24 : size, n, w,
								  out, &used) == BM25_OK);
				CHECK(used == size);
				CHECK_MSG(memcmp(out, v, n * sizeof(uint32_t)) == 0,
						  "unpack width %u n %u pad %d", w, n, pad);
			}
			if (size > 0)
				CHECK(bm25_unpack(exact, size - 1, n, w, out, NULL) == BM25_ECORRUPT);
			free(buf);
			free(exact);
		}
	}
}

/*
 * Documents longer than the engine's per-query normalization cache (and
 * shorter ones), with high tfs: bm25_topk must still equal the reference
 * for SHOULD, MUST and MUST_NOT mixes.
 */
static void
test_long_docs(void)
{
	static const char *const words[5] = {"a", "bb", "c", "dd", "e"};
	unsigned long long seed = 4242;
	bm25_builder *b = NULL;
	tseg		ts;
	uint32_t	ndocs = 2500;
	uint32_t	d;
	uint64_t	tokens = 0;
	int			qi;

	memset(&ts, 0, sizeof(ts));
	CHECK(bm25_builder_create(&b) == BM25_OK);
	for (d = 0; d < ndocs; d++)
	{
		bm25_doc_term dt[5];
		uint32_t	nt = 0;
		uint32_t	dl = 0;
		uint32_t	t;

		for (t = 0; t < 5; t++)
		{
			if (harness_rand(&seed) % (t + 2) != 0)
				continue;
			dt[nt].text = words[t];
			dt[nt].len = (uint32_t) strlen(words[t]);
			dt[nt].tf = 1 + (uint32_t) (harness_rand(&seed) % (d % 7 == 0 ? 400 : 12));
			dl += dt[nt].tf;
			nt++;
		}
		if (nt == 0)
		{
			dt[0].text = words[4];
			dt[0].len = 1;
			dt[0].tf = 1;
			dl = 1;
			nt = 1;
		}
		/* Lengths on both sides of 1024, some far beyond. */
		dl += (uint32_t) (harness_rand(&seed) % (d % 3 == 0 ? 6000 : 1100));
		if (d % 97 == 5)
			dl = 1023 + (d % 3);
		CHECK(bm25_builder_add_doc(b, BM25_TID_MAKE(d / 7 + 1, d % 7 + 1), dl, dt, nt) == BM25_OK);
		tokens += dl;
	}
	if (!seal_tseg(b, &ts))
		return;

	for (qi = 0; qi < 60; qi++)
	{
		static const uint64_t ks[] = {1, 3, 10, 57, BM25_K_ALL};
		bm25_qterm	t[5];
		bm25_term_info info[5];
		uint64_t	dfs[5];
		double		idf[5];
		bm25_scorer sc;
		bm25_search_seg ss;
		uint32_t	nt = 0;
		uint32_t	j;
		size_t		ki;

		for (j = 0; j < 5; j++)
		{
			uint64_t	r = harness_rand(&seed) % 8;

			if (r >= 5 && !(j == 4 && nt == 0))
				continue;
			t[nt].text = words[j];
			t[nt].len = (uint32_t) strlen(words[j]);
			t[nt].occur = r == 0 ? BM25_MUST : r == 1 ? BM25_MUST_NOT : BM25_SHOULD;
			t[nt].qtf = 1 + (uint32_t) (j % 2);
			nt++;
		}
		for (j = 0; j < nt; j++)
		{
			CHECK(bm25_segment_lookup(ts.seg, t[j].text, t[j].len, &info[j]) == BM25_OK);
			dfs[j] = info[j].df;
		}
		bm25_scorer_init(&sc, qi % 2 ? 1.2 : 2.0, qi % 3 ? 0.75 : 1.0, ndocs, tokens,
						 t, nt, dfs, idf);
		ss.seg = ts.seg;
		ss.terms = info;
		for (ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++)
		{
			uint64_t	na;

			free(topk_vs_exhaustive(&ss, &sc, ks[ki], &na, "long docs query", qi));
		}
		total_queries++;
	}
	bm25_segment_close(ts.seg);
	free(ts.buf);
}

void
suite_topk(void)
{
	total_queries = 0;
	total_compared = 0;
	tie_checks = 0;
	test_identical_docs();
	test_edge_cases();
	test_block_skips();
	test_seeding();
	test_engine_arith();
	test_long_docs();
	test_differential();
	test_corruption();
	printf("topk: %d queries, %d (query, k) comparisons against the exhaustive reference, "
		   "%d ties after the k-th reported\n",
		   total_queries, total_compared, tie_checks);
	CHECK(total_queries >= 500);
	CHECK(tie_checks >= 50);
}
