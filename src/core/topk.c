/*-------------------------------------------------------------------------
 * topk.c
 *	  Ranked retrieval: exact top k by block-max MaxScore, the exhaustive
 *	  reference, and plain boolean matching.
 *
 * Result order is score descending, then TID ascending; that is a total
 * order, so the top k is unique and bm25_topk must equal
 * bm25_topk_exhaustive bit for bit.  Two rules make that hold:
 *
 *	- The score of every reported hit comes from bm25_score_doc on the
 *	  doc's tfs (canonical summation order), never from the partial sums
 *	  the engine accumulates while deciding whether to look at a doc.
 *
 *	- The engine only discards a doc when an upper bound of its score,
 *	  inflated by a relative slack that covers every rounding difference
 *	  between the bound's summation and the canonical one, is still
 *	  strictly below the threshold (the worst score kept).  A doc scoring
 *	  exactly the threshold is never discarded, since it may still win on
 *	  TID.  docs/ranking.md explains the slack.
 *
 * One bounded min-heap (worst kept hit at the root) is shared by all
 * segments, so the threshold found in one segment prunes the next.
 *
 * Output arrays: on success *out is always a valid malloc'd pointer, even
 * when *nout == 0; on failure *out is NULL.  Free with free().
 *
 * PostgreSQL-independent: plain C99, malloc/free only.
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "seg_format.h"
#include "topk.h"

/* ---------------------------------------------------------------------
 * Hit order and the bounded heap
 * ---------------------------------------------------------------------
 */

/*
 * Does a rank before b?  Score descending, then TID ascending; a NaN score
 * (only possible with nonsensical k1/b) ranks after every number so the
 * order stays total.
 */
static inline int
hit_better(const bm25_hit *a, const bm25_hit *b)
{
	if (a->score > b->score)
		return 1;
	if (a->score < b->score)
		return 0;
	if (a->score == b->score)
		return a->tid < b->tid;
	if (isnan(a->score) != isnan(b->score))
		return isnan(b->score);
	return a->tid < b->tid;
}

/* qsort comparator for the final result order. */
static int
hit_cmp(const void *pa, const void *pb)
{
	const bm25_hit *a = (const bm25_hit *) pa;
	const bm25_hit *b = (const bm25_hit *) pb;

	if (hit_better(a, b))
		return -1;
	if (hit_better(b, a))
		return 1;
	return 0;
}

/*
 * The best k hits seen so far.  Until it holds k hits it is a plain
 * array; once full it is a binary heap whose root is the worst kept hit.
 */
typedef struct topk_heap
{
	bm25_hit   *h;
	uint64_t	n;
	uint64_t	cap;
	uint64_t	k;
	int			full;
	int			has_out;
	bm25_hit	out;			/* best hit refused or evicted so far */
} topk_heap;

/* Restore the heap property below position i (root = worst). */
static void
heap_sift_down(bm25_hit *h, uint64_t n, uint64_t i)
{
	bm25_hit	x = h[i];

	for (;;)
	{
		uint64_t	c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && hit_better(&h[c], &h[c + 1]))
			c++;				/* the worse child */
		if (!hit_better(&x, &h[c]))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

/* Make sure the array can take one more hit. */
static int
heap_reserve(topk_heap *hp)
{
	uint64_t	ncap;
	bm25_hit   *nh;

	if (hp->n < hp->cap)
		return BM25_OK;
	ncap = hp->cap < 64 ? 64 : hp->cap * 2;
	if (ncap > hp->k)
		ncap = hp->k;
	if (ncap <= hp->n || ncap > SIZE_MAX / sizeof(bm25_hit))
		return BM25_ENOMEM;
	nh = realloc(hp->h, (size_t) ncap * sizeof(bm25_hit));
	if (nh == NULL)
		return BM25_ENOMEM;
	hp->h = nh;
	hp->cap = ncap;
	return BM25_OK;
}

/* Offer a scored hit; keeps the best k. */
static int
heap_offer(topk_heap *hp, double score, bm25_tid tid)
{
	bm25_hit	x;

	x.score = score;
	x.tid = tid;
	if (!hp->full)
	{
		int			rc = heap_reserve(hp);

		if (rc != BM25_OK)
			return rc;
		hp->h[hp->n++] = x;
		if (hp->n == hp->k)
		{
			uint64_t	i = hp->n / 2;

			while (i-- > 0)
				heap_sift_down(hp->h, hp->n, i);
			hp->full = 1;
		}
		return BM25_OK;
	}
	if (hit_better(&x, &hp->h[0]))
	{
		bm25_hit	evicted = hp->h[0];

		hp->h[0] = x;
		heap_sift_down(hp->h, hp->n, 0);
		x = evicted;
	}
	/* x is left out: remember the best such hit (bm25_topk_tie) */
	if (!hp->has_out || hit_better(&x, &hp->out))
	{
		hp->out = x;
		hp->has_out = 1;
	}
	return BM25_OK;
}

/* Radix key of a hit's score: ascending key = descending score. */
static inline uint64_t
score_key(double score)
{
	uint64_t	bits;

	memcpy(&bits, &score, sizeof(bits));
	return ~bits;
}

/*
 * Sort hits into result order.  Large arrays (the k == BM25_K_ALL case)
 * whose scores are all non-negative numbers use an LSD radix sort on
 * (~score bits, tid), which orders exactly like hit_cmp for such scores;
 * anything else, or a failed allocation, falls back to qsort.
 */
static void
sort_hits(bm25_hit *h, uint64_t n)
{
	size_t	   *count;
	bm25_hit   *tmp;
	bm25_hit   *src;
	bm25_hit   *dst;
	uint64_t	i;
	int			pass;

	if (n < 2)
		return;
	if (n < 512 || n > SIZE_MAX / sizeof(bm25_hit))
	{
		qsort(h, (size_t) n, sizeof(bm25_hit), hit_cmp);
		return;
	}
	for (i = 0; i < n; i++)
	{
		uint64_t	bits;

		memcpy(&bits, &h[i].score, sizeof(bits));
		if ((bits >> 63) != 0 || isnan(h[i].score))
		{
			qsort(h, (size_t) n, sizeof(bm25_hit), hit_cmp);
			return;
		}
	}
	count = calloc(16 * 256, sizeof(size_t));
	tmp = malloc((size_t) n * sizeof(bm25_hit));
	if (count == NULL || tmp == NULL)
	{
		free(count);
		free(tmp);
		qsort(h, (size_t) n, sizeof(bm25_hit), hit_cmp);
		return;
	}

	/* Byte histograms: passes 0..7 are tid bytes, 8..15 score-key bytes. */
	for (i = 0; i < n; i++)
	{
		uint64_t	t = h[i].tid;
		uint64_t	sk = score_key(h[i].score);

		for (pass = 0; pass < 8; pass++)
		{
			count[pass * 256 + ((t >> (8 * pass)) & 0xFF)]++;
			count[(pass + 8) * 256 + ((sk >> (8 * pass)) & 0xFF)]++;
		}
	}

	src = h;
	dst = tmp;
	for (pass = 0; pass < 16; pass++)
	{
		size_t	   *c = &count[pass * 256];
		size_t		sum = 0;
		int			shift = 8 * (pass & 7);
		int			b;

		/* A byte that is the same in every hit does not reorder anything. */
		for (b = 0; b < 256; b++)
			if (c[b] == (size_t) n)
				break;
		if (b < 256)
			continue;
		for (b = 0; b < 256; b++)
		{
			size_t		x = c[b];

			c[b] = sum;
			sum += x;
		}
		for (i = 0; i < n; i++)
		{
			uint64_t	key = pass < 8 ? src[i].tid : score_key(src[i].score);

			dst[c[(key >> shift) & 0xFF]++] = src[i];
		}
		{
			bm25_hit   *x = src;

			src = dst;
			dst = x;
		}
	}
	if (src != h)
		memcpy(h, src, (size_t) n * sizeof(bm25_hit));
	free(tmp);
	free(count);
}

/* Sort the kept hits and hand the array to the caller. */
static int
heap_finish(topk_heap *hp, bm25_hit **out, uint64_t *nout)
{
	if (hp->h == NULL)
	{
		hp->h = malloc(sizeof(bm25_hit));
		if (hp->h == NULL)
			return BM25_ENOMEM;
	}
	sort_hits(hp->h, hp->n);
	*out = hp->h;
	*nout = hp->n;
	hp->h = NULL;
	return BM25_OK;
}

/* ---------------------------------------------------------------------
 * Engine state
 * ---------------------------------------------------------------------
 */

/* Sort key for ordering terms by a bound. */
typedef struct topk_pair
{
	double		key;
	uint32_t	idx;
} topk_pair;

typedef struct topk_engine
{
	const bm25_scorer *sc;
	const bm25_segment *seg;
	uint32_t	nterms;

	/* Indexed by scorer term. */
	bm25_cursor *cur;
	uint32_t   *tfs;			/* scratch for bm25_score_doc, kept zeroed */

	/* Scoring (MUST and SHOULD) terms present in the current segment. */
	uint32_t	m;
	uint32_t   *sterm;			/* slot -> scorer term */
	double	   *ub;				/* slot -> term-level bound */
	double	   *bb;				/* slot -> bound inside the current window */
	uint32_t   *gord;			/* slots by ub ascending */
	double	   *gpre;			/* m + 1 prefix sums of ub in gord order */
	uint32_t   *word;			/* slots by bb ascending (or descending) */
	double	   *wpre;			/* m + 1 prefix (or suffix) sums of bb */
	topk_pair  *pairs;			/* sort scratch */
	double	   *ntab;			/* dl -> bm25_doc_norm(dl), < 0 = not yet:
								 * sc->norms->v, or own_ntab */
	double	   *own_ntab;		/* when the scorer brings no cache */
	bm25_cursor **wcur;			/* r -> cursor of slot word[r] */
	double	   *wbb;			/* r -> bb[word[r]] */
	uint32_t   *wterm;			/* r -> scorer term of slot word[r] */
	uint32_t   *bblo;			/* slot -> docs bblo..bbhi lie in the block */
	uint32_t   *bbhi;			/* whose bound is bbv (empty: lo > hi) */
	double	   *bbv;

	uint32_t	nmust;
	uint32_t   *must;			/* slots of MUST terms, rarest first */
	uint32_t	nshould;
	uint32_t   *should;			/* slots of SHOULD terms */
	uint32_t	nnot;
	uint32_t   *mnot;			/* scorer terms of MUST_NOT terms */

	bm25_cursor *scratch;		/* threshold estimation */
	double	   *seedh;			/* its min-heap of contributions */
	void	   *arena;			/* one allocation holding the arrays above */

	topk_heap  *heap;
	int			can_prune;
	double		theta;			/* worst kept score once full, else -inf */
	double		slack;			/* 1 + relative rounding margin */
} topk_engine;

#define CUR(e, slot)	(&(e)->cur[(e)->sterm[(slot)]])

/*
 * Work counters for profiling (test/bench/corebench.c); compiled in only
 * with -DBM25_TOPK_STATS, so the server build pays nothing for them.
 */
#ifdef BM25_TOPK_STATS
uint64_t	bm25_topk_stats[4];		/* windows, candidates, scored, emitted */
#define TOPK_STAT(i)	(bm25_topk_stats[(i)]++)
#else
#define TOPK_STAT(i)	((void) 0)
#endif

/* Doc lengths below this get their normalization cached per query. */
#define TOPK_NTAB		BM25_NORM_CACHE

/*
 * Threshold estimation (engine_seed): the strongest TOPK_SEED_TERMS terms
 * each have at most TOPK_SEED_SCAN block bounds computed and their best
 * TOPK_SEED_BLOCKS blocks decoded; k above TOPK_SEED_MAXK is not seeded.
 */
#define TOPK_SEED_TERMS		2
#define TOPK_SEED_SCAN		256
#define TOPK_SEED_BLOCKS	2
#define TOPK_SEED_MAXK		(TOPK_SEED_BLOCKS * BM25_BLOCK_SIZE)

/*
 * How many postings ahead of an essential cursor the candidate loops ask
 * for a doc length (BM25_PREFETCH).  Between two queries of a backend the
 * executor, the protocol and other processes push the doc-length array out
 * of the CPU caches, and then every candidate's length is a memory round
 * trip of about a hundred nanoseconds while a rejected posting takes a few:
 * the hint must run well ahead.  With the caches flushed before each query
 * (corebench), 16 and 32 did equally well and 8 recovered half as much;
 * with warm caches the hints cost 2-3% more instructions.
 */
#ifndef TOPK_DL_AHEAD
#define TOPK_DL_AHEAD		16
#endif

/*
 * Can a doc whose score is at most bound (as computed in floating point,
 * in any summation order) still enter the heap?  False means: certainly
 * not, even after rounding.
 */
static inline int
cannot_reach(const topk_engine *e, double bound)
{
	return bound * e->slack + 1e-300 < e->theta;
}

/*
 * The division-free reject test of the single-essential loop: a posting
 * with tf in a doc with normalization norm, whose contribution would be
 * kt * tf / (tf + norm), is dropped when kt * tf < need * (tf + norm).
 * need is set a relative 1e-9 below the contribution that cannot_reach
 * would refuse, so every posting this drops, cannot_reach drops too (the
 * rounding of both sides is below 1e-14 relative; see docs/ranking.md);
 * postings it keeps go through the exact test.  The test applies only
 * while need > 0, which takes a theta above 1e-200 (so the margin is
 * relative), and theta only rises when the scorer's parameters allow
 * pruning, which also makes tf + norm positive.
 */
static inline double
reject_need(const topk_engine *e, double rest)
{
	if (!(e->theta > 1e-200))
		return 0.0;
	return e->theta / (e->slack * (1.0 + 1e-9)) - rest;
}

/*
 * Contribution of scorer term i with tf in a doc whose length
 * normalization is norm (bm25_doc_norm): bit-identical to
 * idf[i] * bm25_tfpart(tf, dl), see score.h.
 */
static inline double
contrib(const topk_engine *e, uint32_t i, uint32_t tf, double norm)
{
	return e->sc->idf[i] * bm25_tfpart_norm(e->sc, tf, norm);
}

/*
 * bm25_doc_norm(dl) through the per-query cache: the cached value is the
 * very double bm25_doc_norm returned, so results stay bit-identical.
 * Only non-negative values are cached (-1 marks an empty entry).
 */
static inline double
doc_norm(const topk_engine *e, uint32_t dl)
{
	double		v;

	if (dl >= TOPK_NTAB)
		return bm25_doc_norm(e->sc, dl);
	v = e->ntab[dl];
	if (v >= 0.0)
		return v;
	v = bm25_doc_norm(e->sc, dl);
	if (v >= 0.0)
		e->ntab[dl] = v;
	return v;
}

/* Inline copy of bm25_impact_bound (same arithmetic) for window bounds. */
static inline double
impact_bound(const topk_engine *e, uint32_t i, const bm25_impact *imp, uint32_t nimp)
{
	uint32_t	j;
	double		best = 0.0;

	if (nimp > BM25_MAX_IMPACTS)
		nimp = BM25_MAX_IMPACTS;
	for (j = 0; j < nimp; j++)
	{
		double		v = contrib(e, i, imp[j].tf, doc_norm(e, imp[j].dl));

		if (v > best)
			best = v;
	}
	return best;
}

/*
 * Block-max bound of cursor slot a (not exhausted) for the block holding
 * max(its doc, target), stored in e->bb[a]; narrows *we to that block's
 * last doc, so a window never spans a block boundary of any term.  Windows
 * end at the nearest boundary of any term, so a term's block is usually
 * asked for again by the next windows: its bound is remembered with the
 * doc range it was asked for, up to the block's last doc.
 */
static inline int
block_bound_at(topk_engine *e, uint32_t a, uint32_t target, uint32_t *we)
{
	bm25_cursor *c = CUR(e, a);
	uint32_t	last;
	const bm25_impact *imp = NULL;
	uint32_t	nimp = 0;
	int			rc;
	uint32_t	t = c->doc > target ? c->doc : target;

	if (t >= e->bblo[a] && t <= e->bbhi[a])
	{
		e->bb[a] = e->bbv[a];
		if (e->bbhi[a] < *we)
			*we = e->bbhi[a];
		return BM25_OK;
	}
	rc = bm25_cursor_shallow(c, t, &last, &imp, &nimp);
	if (rc != BM25_OK)
		return rc;
	if (last == BM25_NO_MORE_DOCS)
		e->bb[a] = 0.0;
	else
	{
		e->bb[a] = nimp == 0 ? HUGE_VAL : impact_bound(e, e->sterm[a], imp, nimp);
		e->bblo[a] = t;
		e->bbhi[a] = last;
		e->bbv[a] = e->bb[a];
		if (last < *we)
			*we = last;
	}
	return BM25_OK;
}

/*
 * Doc length of a doc id a cursor reported: cursors only report ids below
 * ndocs (cursor_load_block checks the block's last id), so no range check.
 */
static inline uint32_t
seg_doclen(const bm25_segment *seg, uint32_t d)
{
	return bm25_get_u32(seg->doclens + (size_t) d * 4);
}

/* bm25_cursor_next with the in-block step inlined. */
static inline int
cur_next(bm25_cursor *c)
{
	uint32_t	pos = c->pos + 1;

	if (pos < c->nbuf && c->doc != BM25_NO_MORE_DOCS)
	{
		c->pos = pos;
		c->doc = c->docs[pos];
		c->tf = c->tfs[pos];
		return BM25_OK;
	}
	return bm25_cursor_next(c);
}

/* bm25_cursor_advance with the in-block case inlined. */
static inline int
cur_advance(bm25_cursor *c, uint32_t target)
{
	uint32_t	pos;

	if (target <= c->doc)
		return BM25_OK;
	if (target > c->docs[c->nbuf - 1])
		return bm25_cursor_advance(c, target);
	pos = c->pos + 1;
	while (c->docs[pos] < target)
		pos++;
	c->pos = pos;
	c->doc = c->docs[pos];
	c->tf = c->tfs[pos];
	return BM25_OK;
}

/* qsort comparator: topk_pair by key ascending. */
static int
pair_cmp(const void *pa, const void *pb)
{
	double		a = ((const topk_pair *) pa)->key;
	double		b = ((const topk_pair *) pb)->key;
	int			na = isnan(a) != 0;
	int			nb = isnan(b) != 0;

	if (na || nb)
		return na - nb;
	return a < b ? -1 : a > b ? 1 : 0;
}

/* Sort idx[0..n) by key[idx] ascending (descending if desc). */
static void
sort_slots(topk_pair *pairs, uint32_t *idx, uint32_t n, const double *key, int desc)
{
	uint32_t	a;

	if (n <= 24)
	{
		for (a = 1; a < n; a++)
		{
			uint32_t	x = idx[a];
			uint32_t	b = a;

			while (b > 0 && (desc ? key[idx[b - 1]] < key[x] : key[idx[b - 1]] > key[x]))
			{
				idx[b] = idx[b - 1];
				b--;
			}
			idx[b] = x;
		}
		return;
	}
	for (a = 0; a < n; a++)
	{
		pairs[a].key = desc ? -key[idx[a]] : key[idx[a]];
		pairs[a].idx = idx[a];
	}
	qsort(pairs, n, sizeof(topk_pair), pair_cmp);
	for (a = 0; a < n; a++)
		idx[a] = pairs[a].idx;
}

/* Release everything engine_init allocated. */
static void
engine_free(topk_engine *e)
{
	free(e->arena);
	free(e->own_ntab);
	memset(e, 0, sizeof(*e));
}

/*
 * Carve size bytes, aligned for any member type, from the arena cursor
 * *at (NULL base: only measure).
 */
static void *
arena_take(char *base, size_t *at, size_t size)
{
	size_t		align = 16;
	void	   *p;

	*at = (*at + align - 1) & ~(align - 1);
	p = base ? base + *at : NULL;
	*at += size;
	return p;
}

/*
 * Decide whether bounds can be trusted: they assume tfpart grows with tf,
 * shrinks with dl and is finite, which holds for k1 >= 0, 0 <= b <= 1.
 */
static int
scorer_prunable(const bm25_scorer *sc)
{
	uint32_t	i;

	if (!(sc->k1 >= 0.0 && sc->k1 < HUGE_VAL))
		return 0;
	if (!(sc->b >= 0.0 && sc->b <= 1.0))
		return 0;
	if (!(sc->avgdl > 0.0 && sc->avgdl < HUGE_VAL))
		return 0;
	for (i = 0; i < sc->nterms; i++)
		if (!(sc->idf[i] >= 0.0 && sc->idf[i] < HUGE_VAL))
			return 0;
	return 1;
}

/* Allocate per-query arrays, sized for every scorer term. */
static int
engine_init(topk_engine *e, const bm25_scorer *sc, topk_heap *heap)
{
	size_t		n;

	memset(e, 0, sizeof(*e));
	e->sc = sc;
	e->nterms = sc->nterms;
	e->heap = heap;
	e->theta = -HUGE_VAL;
	e->can_prune = scorer_prunable(sc);
	/* See docs/ranking.md: covers the summation-order rounding of n terms. */
	e->slack = 1.0 + 1e-9 + ((double) sc->nterms + 4.0) * 1e-15;

	/*
	 * The per-query arrays come from one allocation, measured by a first
	 * pass over the same carving with no base: a query used to make and
	 * free nineteen of them.
	 */
	n = sc->nterms > 0 ? sc->nterms : 1;
	{
		char	   *base = NULL;

		for (int pass = 0; pass < 2; pass++)
		{
			size_t		at = 0;

			e->cur = arena_take(base, &at, n * sizeof(bm25_cursor));
			e->tfs = arena_take(base, &at, n * sizeof(uint32_t));
			e->sterm = arena_take(base, &at, n * sizeof(uint32_t));
			e->ub = arena_take(base, &at, n * sizeof(double));
			e->bb = arena_take(base, &at, n * sizeof(double));
			e->gord = arena_take(base, &at, n * sizeof(uint32_t));
			e->gpre = arena_take(base, &at, (n + 1) * sizeof(double));
			e->word = arena_take(base, &at, n * sizeof(uint32_t));
			e->wpre = arena_take(base, &at, (n + 1) * sizeof(double));
			e->pairs = arena_take(base, &at, n * sizeof(topk_pair));
			e->wcur = arena_take(base, &at, n * sizeof(bm25_cursor *));
			e->wbb = arena_take(base, &at, n * sizeof(double));
			e->wterm = arena_take(base, &at, n * sizeof(uint32_t));
			e->bblo = arena_take(base, &at, n * sizeof(uint32_t));
			e->bbhi = arena_take(base, &at, n * sizeof(uint32_t));
			e->bbv = arena_take(base, &at, n * sizeof(double));
			e->must = arena_take(base, &at, n * sizeof(uint32_t));
			e->should = arena_take(base, &at, n * sizeof(uint32_t));
			e->mnot = arena_take(base, &at, n * sizeof(uint32_t));
			e->scratch = arena_take(base, &at, sizeof(bm25_cursor));
			e->seedh = arena_take(base, &at, TOPK_SEED_MAXK * sizeof(double));
			if (pass == 0)
			{
				base = malloc(at);
				if (base == NULL)
				{
					engine_free(e);
					return BM25_ENOMEM;
				}
				e->arena = base;
			}
		}
		memset(e->tfs, 0, n * sizeof(uint32_t));
	}
	if (sc->norms != NULL)
	{
		bm25_norm_cache *nc = sc->norms;

		/* a key that compares unequal (NaN) just means no reuse */
		if (!nc->filled || nc->k1 != sc->k1 || nc->b != sc->b || nc->avgdl != sc->avgdl)
		{
			for (n = 0; n < TOPK_NTAB; n++)
				nc->v[n] = -1.0;
			nc->k1 = sc->k1;
			nc->b = sc->b;
			nc->avgdl = sc->avgdl;
			nc->filled = 1;
		}
		e->ntab = nc->v;
		return BM25_OK;
	}
	e->own_ntab = malloc(TOPK_NTAB * sizeof(double));
	if (e->own_ntab == NULL)
	{
		engine_free(e);
		return BM25_ENOMEM;
	}
	for (n = 0; n < TOPK_NTAB; n++)
		e->own_ntab[n] = -1.0;
	e->ntab = e->own_ntab;
	return BM25_OK;
}

/*
 * Prepare the cursors of one segment.  *active is 0 when no doc of the
 * segment can match (a MUST term is absent, or no scoring term exists).
 */
static int
engine_segment(topk_engine *e, const bm25_search_seg *ss, int *active)
{
	const bm25_scorer *sc = e->sc;
	uint32_t	i;
	uint32_t	a;

	*active = 0;
	e->seg = ss->seg;
	e->m = 0;
	e->nmust = 0;
	e->nshould = 0;
	e->nnot = 0;
	if (sc->nterms == 0 || ss->seg == NULL)
		return BM25_OK;
	if (ss->terms == NULL)
		return BM25_EINVAL;

	for (i = 0; i < sc->nterms; i++)
		if (sc->terms[i].occur == BM25_MUST && ss->terms[i].df == 0)
			return BM25_OK;

	for (i = 0; i < sc->nterms; i++)
	{
		const bm25_term_info *ti = &ss->terms[i];
		int			rc;
		uint32_t	slot;

		if (ti->df == 0)
			continue;
		rc = bm25_cursor_init(&e->cur[i], ss->seg, ti);
		if (rc != BM25_OK)
			return rc;
		if (sc->terms[i].occur == BM25_MUST_NOT)
		{
			e->mnot[e->nnot++] = i;
			continue;
		}
		slot = e->m++;
		e->sterm[slot] = i;
		e->bblo[slot] = 1;		/* no block bound remembered yet */
		e->bbhi[slot] = 0;
		/* A term with postings but no impact data cannot be bounded. */
		if (ti->nimpacts == 0)
			e->ub[slot] = HUGE_VAL;
		else
			e->ub[slot] = bm25_impact_bound(sc, i, ti->impacts,
											ti->nimpacts < BM25_MAX_IMPACTS ?
											ti->nimpacts : BM25_MAX_IMPACTS);
		if (sc->terms[i].occur == BM25_MUST)
			e->must[e->nmust++] = slot;
		else
			e->should[e->nshould++] = slot;
	}
	if (e->m == 0)
		return BM25_OK;

	/* MUST terms rarest first: the rarest one leads the conjunction. */
	for (a = 1; a < e->nmust; a++)
	{
		uint32_t	x = e->must[a];
		uint32_t	b = a;

		while (b > 0 && ss->terms[e->sterm[e->must[b - 1]]].df > ss->terms[e->sterm[x]].df)
		{
			e->must[b] = e->must[b - 1];
			b--;
		}
		e->must[b] = x;
	}
	*active = 1;
	return BM25_OK;
}

/*
 * Final stage for a candidate d whose scoring cursors all sit at their
 * first posting >= d: reject it if a MUST_NOT term occurs, else score it
 * canonically and offer it to the heap.
 */
static int
engine_emit(topk_engine *e, uint32_t d, uint32_t dl)
{
	uint32_t	a;
	double		score;
	int			rc;

	TOPK_STAT(3);
	/*
	 * A hit that enters the heap needs its TID, a load from anywhere in the
	 * segment's TID array: start it now so it overlaps the scoring.
	 */
	BM25_PREFETCH(e->seg->tids + (size_t) d * e->seg->tid_width);

	for (a = 0; a < e->nnot; a++)
	{
		bm25_cursor *c = &e->cur[e->mnot[a]];

		if (c->doc < d)
		{
			rc = bm25_cursor_advance(c, d);
			if (rc != BM25_OK)
				return rc;
		}
		if (c->doc == d)
			return BM25_OK;
	}

	for (a = 0; a < e->m; a++)
	{
		bm25_cursor *c = CUR(e, a);

		if (c->doc == d)
			e->tfs[e->sterm[a]] = c->tf;
	}
	score = bm25_score_doc(e->sc, e->tfs, dl);
	for (a = 0; a < e->m; a++)
		e->tfs[e->sterm[a]] = 0;

	/*
	 * Below the root's score the hit cannot enter the full heap (heap_offer
	 * would refuse it), so its TID is not even read; ties need the TID.
	 */
	if (e->heap->full && score < e->heap->h[0].score)
		return BM25_OK;

	rc = heap_offer(e->heap, score, bm25_segment_tid(e->seg, d));
	if (rc != BM25_OK)
		return rc;
	/* theta may come from threshold estimation: it only ever rises. */
	if (e->can_prune && e->heap->full && e->heap->h[0].score > e->theta)
		e->theta = e->heap->h[0].score;
	return BM25_OK;
}

/* Push v into the min-heap h[0..*n) of capacity cap (keeps the cap largest). */
static void
seed_push(double *h, uint32_t *n, uint32_t cap, double v)
{
	uint32_t	i;

	if (*n < cap)
	{
		i = (*n)++;
		while (i > 0 && h[(i - 1) / 2] > v)
		{
			h[i] = h[(i - 1) / 2];
			i = (i - 1) / 2;
		}
		h[i] = v;
		return;
	}
	if (!(v > h[0]))
		return;
	i = 0;
	for (;;)
	{
		uint32_t	c = 2 * i + 1;

		if (c >= cap)
			break;
		if (c + 1 < cap && h[c + 1] < h[c])
			c++;
		if (!(h[c] < v))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = v;
}

/*
 * Threshold estimation: raise theta before the candidate loop of a segment
 * to a score that at least k matching docs are known to reach.
 *
 * A doc's computed score is a sum of positive contributions, and rounding
 * is monotone, so it is at least the computed contribution of any one of
 * its terms.  Taking, for one term, the decoded postings of its blocks with
 * the best block-max bounds, the k-th largest single-term contribution is
 * therefore a lower bound of the final k-th score, provided each of those
 * docs matches: true for a SHOULD term of a pure disjunction and for the
 * only MUST term of a query without MUST_NOT terms (other cases are not
 * seeded).  Pruning against it can drop only docs that could never enter
 * the top k, and cannot_reach is strict, so docs tied with it still reach
 * the heap: the result is the same, found with far fewer candidates.
 */
static int
engine_seed(topk_engine *e, const bm25_search_seg *ss)
{
	uint64_t	k = e->heap->k;
	uint32_t	order[TOPK_SEED_TERMS];
	uint32_t	nord = 0;
	uint32_t	t;
	int			rc;

	if (!e->can_prune || k > TOPK_SEED_MAXK || e->nnot > 0 || e->nmust > 1)
		return BM25_OK;
	if (e->nmust == 1)
		order[nord++] = e->must[0];
	else
	{
		/* The SHOULD slots with the largest term-level bounds. */
		uint32_t	a;

		for (a = 0; a < e->m; a++)
		{
			uint32_t	j = nord < TOPK_SEED_TERMS ? nord++ : TOPK_SEED_TERMS;

			if (j == TOPK_SEED_TERMS)
			{
				if (!(e->ub[a] > e->ub[order[TOPK_SEED_TERMS - 1]]))
					continue;
				j = TOPK_SEED_TERMS - 1;
			}
			while (j > 0 && e->ub[order[j - 1]] < e->ub[a])
			{
				order[j] = order[j - 1];
				j--;
			}
			order[j] = a;
		}
	}

	for (t = 0; t < nord; t++)
	{
		uint32_t	i = e->sterm[order[t]];
		const bm25_term_info *ti = &ss->terms[i];
		uint32_t	nb = ti->nblocks;
		uint32_t	nscan = nb < TOPK_SEED_SCAN ? nb : TOPK_SEED_SCAN;
		uint32_t	best[TOPK_SEED_BLOCKS];
		double		bestv[TOPK_SEED_BLOCKS];
		uint32_t	nbest = 0;
		uint32_t	nh = 0;
		uint32_t	j;

		if (ti->df < k)
			continue;
		/* Best blocks by bound, over all blocks or an even sample of them. */
		for (j = 0; j < nscan; j++)
		{
			uint32_t	b = nb == nscan ? j : (uint32_t) ((uint64_t) j * nb / nscan);
			bm25_impact imp[BM25_MAX_IMPACTS];
			uint32_t	nimp;
			double		v;
			uint32_t	x;

			rc = bm25_cursor_block_impacts(&e->cur[i], b, imp, &nimp);
			if (rc != BM25_OK)
				return rc;
			v = impact_bound(e, i, imp, nimp);
			if (nbest == TOPK_SEED_BLOCKS && !(v > bestv[nbest - 1]))
				continue;
			x = nbest < TOPK_SEED_BLOCKS ? nbest++ : TOPK_SEED_BLOCKS - 1;
			while (x > 0 && bestv[x - 1] < v)
			{
				best[x] = best[x - 1];
				bestv[x] = bestv[x - 1];
				x--;
			}
			best[x] = b;
			bestv[x] = v;
		}
		if (nbest == 0 || cannot_reach(e, bestv[0]))
			continue;
		/* Exact single-term contributions of their docs. */
		for (j = 0; j < nbest; j++)
		{
			bm25_cursor *c = e->scratch;
			uint32_t	p;

			*c = e->cur[i];
			rc = bm25_cursor_load(c, best[j]);
			if (rc != BM25_OK)
				return rc;
			/* every doc of the block is scored: start all their loads */
			for (p = 0; p < c->nbuf; p++)
				BM25_PREFETCH(e->seg->doclens + (size_t) c->docs[p] * 4);
			for (p = 0; p < c->nbuf; p++)
			{
				uint32_t	d = c->docs[p];

				seed_push(e->seedh, &nh, (uint32_t) k,
						  contrib(e, i, c->tfs[p], doc_norm(e, seg_doclen(e->seg, d))));
			}
		}
		if (nh == k && e->seedh[0] > e->theta)
			e->theta = e->seedh[0];
	}
	return BM25_OK;
}

/* Number of leading terms (ascending bounds, prefix sums pre) that cannot reach theta. */
static inline uint32_t
split_point(const topk_engine *e, const double *pre, uint32_t from, uint32_t m)
{
	uint32_t	ne = from;

	while (ne < m && cannot_reach(e, pre[ne + 1]))
		ne++;
	return ne;
}

/*
 * Candidate d, whose essential part (computed with length normalization
 * norm) is partial, and partial + wpre[ne] can reach theta: probe the
 * non-essential terms wc[0..ne) best bound first while the rest can still
 * reach theta, and offer d to the heap if it can.  *theta_moved tells
 * whether theta rose.
 */
static inline int
probe_and_emit(topk_engine *e, bm25_cursor **wc, const uint32_t *wt, uint32_t ne,
			   uint32_t d, uint32_t dl, double norm, double partial, int *theta_moved)
{
	uint32_t	r = ne;
	double		before = e->theta;
	int			rc;

	*theta_moved = 0;
	while (r-- > 0)
	{
		bm25_cursor *c = wc[r];

		/* the caller has made this test for r = ne - 1 */
		if (r + 1 < ne && cannot_reach(e, partial + e->wpre[r + 1]))
			return BM25_OK;
		rc = cur_advance(c, d);
		if (rc != BM25_OK)
			return rc;
		if (c->doc == d)
			partial += contrib(e, wt[r], c->tf, norm);
	}
	if (cannot_reach(e, partial))
		return BM25_OK;
	rc = engine_emit(e, d, dl);
	*theta_moved = e->theta != before;
	return rc;
}

/*
 * The smallest tf a posting of a block with impact frontier imp[0..nimp)
 * needs to pass the reject test kt * tf < need * (tf + norm) of the
 * single-essential loop: every posting (tf, dl) of the block is dominated
 * by a frontier point (tf' >= tf, dl' <= dl), and the frontier is sorted
 * by dl and tf, so a posting with tf = t has a dl at least that of the
 * first point with tf' >= t; with that dl's norm (no larger than the
 * posting's own, norm grows with dl) the test rejecting t means it rejects
 * every posting with tf = t.  Each t below the result was tested so, which
 * lets the loop drop those postings by tf alone, before their doc length
 * is read.  Tries at most TOPK_TF_FLOOR_MAX values.
 */
#define TOPK_TF_FLOOR_MAX	16

static inline uint32_t
tf_floor(const topk_engine *e, const bm25_impact *imp, uint32_t nimp, double kt,
		 double need)
{
	uint32_t	t = 1;
	uint32_t	i = 0;

	if (!(need > 0.0))
		return 1;
	while (t < TOPK_TF_FLOOR_MAX)
	{
		double		tf = (double) t;

		while (i < nimp && imp[i].tf < t)
			i++;
		/* no posting of the block has tf >= t: all are below the floor */
		if (i == nimp)
			break;
		if (!(kt * tf < need * (tf + doc_norm(e, imp[i].dl))))
			break;
		t++;
	}
	return t;
}

/*
 * The candidate loop of a window with a single essential term (slot order
 * position m - 1), the common case once theta is known: its postings up to
 * we are the candidates, so the loop runs over the decoded block directly
 * and only a posting whose own contribution plus the other terms' block
 * bounds can reach theta goes on to probing.  On return the cursor sits on
 * its first posting after we, or on a posting at or before we that has been
 * handled (the next block is not decoded before a window needs it), or is
 * exhausted; *ne is updated if theta rose enough to make the window's last
 * term non-essential too.
 */
static int
window_one_essential(topk_engine *e, uint32_t we, uint32_t *ne)
{
	bm25_cursor **wc = e->wcur;
	const uint32_t *wt = e->wterm;
	uint32_t	m = e->m;
	bm25_cursor *c = wc[m - 1];
	uint32_t	t = wt[m - 1];
	const uint8_t *doclens = e->seg->doclens;
	uint32_t	n = c->nbuf;
	uint32_t	p;
	double		rest = e->wpre[*ne];
	double		kt = e->sc->idf[t] * (e->sc->k1 + 1.0);
	double		need = reject_need(e, rest);
	double		need0 = reject_need(e, 0.0);
	bm25_impact imp[BM25_MAX_IMPACTS];
	uint32_t	nimp = 0;
	uint32_t	tmin = 1;
	int			rc;

	/* the window ends within the cursor's decoded block */
	if (c->doc > we)
		return BM25_OK;
	/* the postings left are all of the decoded block: its frontier bounds them */
	if (need > 0.0 &&
		bm25_cursor_block_impacts(c, c->block, imp, &nimp) == BM25_OK)
		tmin = tf_floor(e, imp, nimp, kt, need);
	for (p = c->pos; p < n; p++)
	{
		uint32_t	d = c->docs[p];
		uint32_t	dl;
		double		norm;
		double		tf;
		double		part;
		int			moved;

		if (d > we)
			break;
		/* only postings that get past the tf floor need their doc length */
		if (p + TOPK_DL_AHEAD < n && c->tfs[p + TOPK_DL_AHEAD] >= tmin)
			BM25_PREFETCH(doclens + (size_t) c->docs[p + TOPK_DL_AHEAD] * 4);
		TOPK_STAT(1);
		if (c->tfs[p] < tmin)
			continue;
		dl = bm25_get_u32(doclens + (size_t) d * 4);
		norm = doc_norm(e, dl);
		tf = (double) c->tfs[p];
		/* most rejections are decided here, without a division */
		if (need > 0.0 && kt * tf < need * (tf + norm))
			continue;
		if (*ne == 1)
		{
			/*
			 * Two terms: the other one's posting at d decides, and where
			 * it has none (the usual case) the same division-free test,
			 * against theta alone, drops most candidates before any
			 * contribution is computed.
			 */
			bm25_cursor *o = wc[0];
			double		before = e->theta;

			TOPK_STAT(2);
			rc = cur_advance(o, d);
			if (rc != BM25_OK)
				return rc;
			if (o->doc == d)
			{
				part = contrib(e, t, c->tfs[p], norm);
				part += contrib(e, wt[0], o->tf, norm);
			}
			else
			{
				if (need0 > 0.0 && kt * tf < need0 * (tf + norm))
					continue;
				part = contrib(e, t, c->tfs[p], norm);
			}
			if (cannot_reach(e, part))
				continue;
			c->pos = p;
			c->doc = d;
			c->tf = c->tfs[p];
			rc = engine_emit(e, d, dl);
			if (rc != BM25_OK)
				return rc;
			moved = e->theta != before;
		}
		else
		{
			part = contrib(e, t, c->tfs[p], norm);
			if (cannot_reach(e, part + rest))
				continue;
			TOPK_STAT(2);
			c->pos = p;
			c->doc = d;
			c->tf = c->tfs[p];
			rc = probe_and_emit(e, wc, wt, *ne, d, dl, norm, part, &moved);
			if (rc != BM25_OK)
				return rc;
		}
		if (moved)
		{
			*ne = split_point(e, e->wpre, *ne, m);
			if (*ne == m)
				return BM25_OK; /* nothing left in the window can reach theta */
			rest = e->wpre[*ne];
			need = reject_need(e, rest);
			need0 = reject_need(e, 0.0);
			if (nimp > 0)
				tmin = tf_floor(e, imp, nimp, kt, need);
		}
	}

	/*
	 * Past the window, or at the end of the block: then the cursor stays
	 * on its last posting, already handled, and the next block is decoded
	 * only if a later window that is searched needs it.
	 */
	if (p == n)
		p = n - 1;
	c->pos = p;
	c->doc = c->docs[p];
	c->tf = c->tfs[p];
	return BM25_OK;
}

/*
 * Pure disjunction (no MUST term): block-max MaxScore.
 *
 * Terms sorted by their term-level bound split into a non-essential prefix
 * whose bounds sum below theta and the essential rest; a doc containing no
 * essential term cannot enter the heap, so window starts come from the
 * essential cursors.  Each window ends where the first block of any term
 * (located by shallow calls) ends; inside it the split is redone with the
 * block bounds, candidates come from the window's essential cursors, and
 * non-essential terms are probed by advance only while partial score plus
 * their remaining bounds can still reach theta.
 */
static int
run_disjunction(topk_engine *e)
{
	uint32_t	m = e->m;
	uint32_t	a;
	uint32_t	ne_g = 0;
	uint32_t	next_start = 0;
	int			rc;

	for (a = 0; a < m; a++)
		e->gord[a] = a;
	sort_slots(e->pairs, e->gord, m, e->ub, 0);
	e->gpre[0] = 0.0;
	for (a = 0; a < m; a++)
		e->gpre[a + 1] = e->gpre[a] + e->ub[e->gord[a]];

	for (;;)
	{
		uint32_t	ws = BM25_NO_MORE_DOCS;
		uint32_t	we = BM25_NO_MORE_DOCS;
		uint32_t	ne_w = 0;
		int			dummy;
		uint32_t	r;

		ne_g = split_point(e, e->gpre, ne_g, m);
		if (ne_g == m)
			break;
		TOPK_STAT(0);
		/*
		 * The window starts at the smallest essential doc, or at
		 * next_start for a cursor whose decoded block ends before it: a
		 * lower bound of its next doc, taken without decoding anything.  Block bounds come
		 * from metadata too, so a window that cannot reach theta is
		 * skipped without a single block decoded; cursors are moved (and
		 * blocks decoded) only inside windows that are searched.
		 */
		for (r = ne_g; r < m; r++)
		{
			bm25_cursor *c = CUR(e, e->gord[r]);
			uint32_t	cd = c->doc;

			if (cd < next_start)
			{
				/* exact when the decoded block reaches that far */
				if (c->docs[c->nbuf - 1] >= next_start)
				{
					rc = cur_advance(c, next_start);
					if (rc != BM25_OK)
						return rc;
					cd = c->doc;
				}
				else
					cd = next_start;
			}
			if (cd < ws)
				ws = cd;
		}
		if (ws == BM25_NO_MORE_DOCS)
			break;

		dummy = (e->theta == -HUGE_VAL);
		if (dummy)
		{
			/* Nothing can be pruned yet: one window, every term essential. */
			for (a = 0; a < m; a++)
				e->word[a] = a;
		}
		else
		{
			for (a = 0; a < m; a++)
			{
				bm25_cursor *c = CUR(e, a);

				e->word[a] = a;
				if (c->doc == BM25_NO_MORE_DOCS)
				{
					e->bb[a] = 0.0;
					continue;
				}
				rc = block_bound_at(e, a, ws, &we);
				if (rc != BM25_OK)
					return rc;
			}
			/* A cursor already past the window contributes nothing in it. */
			for (a = 0; a < m; a++)
			{
				uint32_t	cd = CUR(e, a)->doc;

				if (cd != BM25_NO_MORE_DOCS && cd > we)
					e->bb[a] = 0.0;
			}
			sort_slots(e->pairs, e->word, m, e->bb, 0);
			e->wpre[0] = 0.0;
			for (a = 0; a < m; a++)
				e->wpre[a + 1] = e->wpre[a] + e->bb[e->word[a]];
			ne_w = split_point(e, e->wpre, 0, m);
		}

		if (ne_w < m)
		{
			bm25_cursor **wc = e->wcur;
			const double *wbb = e->wbb;
			const uint32_t *wt = e->wterm;
			uint32_t	d = BM25_NO_MORE_DOCS;
			double		bs = 0.0;

			/* Flatten the window's slot order for the candidate loop. */
			for (r = 0; r < m; r++)
			{
				uint32_t	slot = e->word[r];

				wc[r] = CUR(e, slot);
				e->wbb[r] = e->bb[slot];
				e->wterm[r] = e->sterm[slot];
			}

			if (!dummy && ne_w == m - 1)
			{
				rc = cur_advance(wc[m - 1], ws);
				if (rc == BM25_OK)
					rc = window_one_essential(e, we, &ne_w);
				if (rc != BM25_OK)
					return rc;
				goto window_done;
			}

			/*
			 * The candidate d is the smallest essential doc; bs sums the
			 * block bounds of the essential terms sitting on it (any
			 * summation order is covered by the slack).  Stepping past d
			 * and finding the next candidate is one fused loop.
			 */
			for (r = ne_w; r < m; r++)
			{
				uint32_t	cd;

				rc = cur_advance(wc[r], ws);
				if (rc != BM25_OK)
					return rc;
				cd = wc[r]->doc;
				if (cd < d)
				{
					d = cd;
					bs = wbb[r];
				}
				else if (cd == d)
					bs += wbb[r];
			}

			for (;;)
			{
				uint32_t	nd;
				double		nbs;

				if (d == BM25_NO_MORE_DOCS || d > we)
					break;
				TOPK_STAT(1);

				if (dummy)
				{
					rc = engine_emit(e, d, seg_doclen(e->seg, d));
					if (rc != BM25_OK)
						return rc;
					/* Once theta exists, end the window to start pruning. */
					if (e->theta != -HUGE_VAL)
						we = d;
				}
				else
				{
					/* Cheap check with block bounds before decoding anything. */
					if (!cannot_reach(e, e->wpre[ne_w] + bs))
					{
						uint32_t	dl = seg_doclen(e->seg, d);
						double		norm = doc_norm(e, dl);
						double		partial = 0.0;
						int			skip = 0;

						TOPK_STAT(2);

						for (r = ne_w; r < m; r++)
						{
							bm25_cursor *c = wc[r];

							if (c->doc == d)
								partial += contrib(e, wt[r], c->tf, norm);
						}
						r = ne_w;
						while (r-- > 0)
						{
							bm25_cursor *c = wc[r];

							if (cannot_reach(e, partial + e->wpre[r + 1]))
							{
								skip = 1;
								break;
							}
							rc = cur_advance(c, d);
							if (rc != BM25_OK)
								return rc;
							if (c->doc == d)
								partial += contrib(e, wt[r], c->tf, norm);
						}
						if (!skip && !cannot_reach(e, partial))
						{
							double		before = e->theta;

							rc = engine_emit(e, d, dl);
							if (rc != BM25_OK)
								return rc;
							if (e->theta != before)
								ne_w = split_point(e, e->wpre, ne_w, m);
						}
					}
				}

				nd = BM25_NO_MORE_DOCS;
				nbs = 0.0;
				for (r = ne_w; r < m; r++)
				{
					bm25_cursor *c = wc[r];
					uint32_t	cd;

					if (c->doc == d)
					{
						rc = cur_next(c);
						if (rc != BM25_OK)
							return rc;
						/* its postings ahead are candidates too */
						if (c->pos + TOPK_DL_AHEAD < c->nbuf)
							BM25_PREFETCH(e->seg->doclens +
										  (size_t) c->docs[c->pos + TOPK_DL_AHEAD] * 4);
					}
					cd = c->doc;
					if (cd < nd)
					{
						nd = cd;
						nbs = wbb[r];
					}
					else if (cd == nd)
						nbs += wbb[r];
				}
				if (ne_w == m)
					break;
				d = nd;
				bs = nbs;
			}
		}

window_done:
		if (we == BM25_NO_MORE_DOCS)
			break;
		next_start = we + 1;
	}
	return BM25_OK;
}

/*
 * At least one MUST term: the rarest MUST term drives the candidates, the
 * other MUST terms are joined by advance (leapfrogging on a miss), and
 * SHOULD terms only add score.  Windows of block bounds let whole stretches
 * of the lead's postings be skipped when even the block maxima of all terms
 * cannot reach theta; inside a window SHOULD terms are probed best bound
 * first and abandoned as soon as the rest cannot reach theta.
 */
static int
run_conjunction(topk_engine *e)
{
	bm25_cursor *lead = CUR(e, e->must[0]);
	uint32_t	ns = e->nshould;
	uint32_t	we = 0;
	int			win_valid = 0;
	int			dummy = 1;
	double		wb = HUGE_VAL;
	int			rc;

	for (;;)
	{
		uint32_t	d = lead->doc;
		uint32_t	miss = 0;
		uint32_t	dl;
		uint32_t	a;

		if (d == BM25_NO_MORE_DOCS)
			break;

		if (!win_valid || d > we)
		{
			dummy = (e->theta == -HUGE_VAL);
			for (a = 0; a < ns; a++)
				e->word[a] = e->should[a];
			if (dummy)
			{
				we = BM25_NO_MORE_DOCS;
				wb = HUGE_VAL;
			}
			else
			{
				we = BM25_NO_MORE_DOCS;
				for (a = 0; a < e->m; a++)
				{
					bm25_cursor *c = CUR(e, a);

					if (c->doc == BM25_NO_MORE_DOCS)
					{
						if (e->sc->terms[e->sterm[a]].occur == BM25_MUST)
							return BM25_OK; /* conjunction exhausted */
						e->bb[a] = 0.0;
						continue;
					}
					rc = block_bound_at(e, a, d, &we);
					if (rc != BM25_OK)
						return rc;
				}
				for (a = 0; a < ns; a++)
				{
					uint32_t	cd = CUR(e, e->should[a])->doc;

					if (cd != BM25_NO_MORE_DOCS && cd > we)
						e->bb[e->should[a]] = 0.0;
				}
				/* SHOULD slots by block bound descending, suffix sums. */
				sort_slots(e->pairs, e->word, ns, e->bb, 1);
				e->wpre[ns] = 0.0;
				a = ns;
				while (a-- > 0)
					e->wpre[a] = e->wpre[a + 1] + e->bb[e->word[a]];
				wb = e->wpre[0];
				for (a = 0; a < e->nmust; a++)
					wb += e->bb[e->must[a]];
			}
			win_valid = 1;
		}

		if (!dummy && cannot_reach(e, wb))
		{
			/* No doc up to we can reach theta: skip the window. */
			if (we == BM25_NO_MORE_DOCS)
				break;
			rc = cur_advance(lead, we + 1);
			if (rc != BM25_OK)
				return rc;
			win_valid = 0;
			continue;
		}

		/* Join the other MUST terms. */
		for (a = 1; a < e->nmust; a++)
		{
			bm25_cursor *c = CUR(e, e->must[a]);

			if (c->doc < d)
			{
				rc = cur_advance(c, d);
				if (rc != BM25_OK)
					return rc;
			}
			if (c->doc != d)
			{
				miss = c->doc;
				break;
			}
		}
		if (a < e->nmust)
		{
			if (miss == BM25_NO_MORE_DOCS)
				break;
			rc = cur_advance(lead, miss);
			if (rc != BM25_OK)
				return rc;
			continue;
		}

		dl = seg_doclen(e->seg, d);
		if (dummy)
		{
			for (a = 0; a < ns; a++)
			{
				bm25_cursor *c = CUR(e, e->should[a]);

				if (c->doc < d)
				{
					rc = cur_advance(c, d);
					if (rc != BM25_OK)
						return rc;
				}
			}
			rc = engine_emit(e, d, dl);
			if (rc != BM25_OK)
				return rc;
			if (e->theta != -HUGE_VAL)
				win_valid = 0;
		}
		else
		{
			double		partial = 0.0;
			double		norm = doc_norm(e, dl);
			int			skip = 0;

			for (a = 0; a < e->nmust; a++)
			{
				uint32_t	slot = e->must[a];

				partial += contrib(e, e->sterm[slot], CUR(e, slot)->tf, norm);
			}
			for (a = 0; a < ns; a++)
			{
				uint32_t	slot = e->word[a];
				bm25_cursor *c = CUR(e, slot);

				if (cannot_reach(e, partial + e->wpre[a]))
				{
					skip = 1;
					break;
				}
				if (c->doc < d)
				{
					rc = cur_advance(c, d);
					if (rc != BM25_OK)
						return rc;
				}
				if (c->doc == d)
					partial += contrib(e, e->sterm[slot], c->tf, norm);
			}
			if (!skip && !cannot_reach(e, partial))
			{
				rc = engine_emit(e, d, dl);
				if (rc != BM25_OK)
					return rc;
			}
		}

		rc = cur_next(lead);
		if (rc != BM25_OK)
			return rc;
	}
	return BM25_OK;
}

/* Top k by block-max MaxScore over all segments, sharing one heap. */
int
bm25_topk(const bm25_search_seg *segs, uint32_t nsegs,
		  const bm25_scorer *sc, uint64_t k,
		  bm25_hit **out, uint64_t *nout)
{
	return bm25_topk_tie(segs, nsegs, sc, k, out, nout, NULL, NULL);
}

/*
 * bm25_topk, and also the hit that ranks right after the k-th when it has
 * the k-th's score.  Every doc scoring at least the final k-th score is
 * scored exactly and offered to the heap (bounds only drop docs strictly
 * below a threshold that never exceeds it), so the best hit the heap
 * refused or evicted is the (k+1)-th whenever it ties; a lower (k+1)-th
 * may never have been scored, which is why only ties are reported.
 */
int
bm25_topk_tie(const bm25_search_seg *segs, uint32_t nsegs,
			  const bm25_scorer *sc, uint64_t k,
			  bm25_hit **out, uint64_t *nout,
			  bm25_hit *tie, int *has_tie)
{
	topk_heap	heap;
	topk_engine e;
	uint32_t	s;
	int			rc;

	if (has_tie != NULL)
		*has_tie = 0;
	if (out == NULL || nout == NULL || sc == NULL || (nsegs > 0 && segs == NULL) ||
		(tie == NULL) != (has_tie == NULL))
		return BM25_EINVAL;
	*out = NULL;
	*nout = 0;
	if (sc->nterms > 0 && (sc->terms == NULL || sc->idf == NULL))
		return BM25_EINVAL;

	memset(&heap, 0, sizeof(heap));
	heap.k = k;
	if (k == 0 || sc->nterms == 0 ||
		bm25_query_count(sc->terms, sc->nterms, BM25_MUST_NOT) == sc->nterms)
		return heap_finish(&heap, out, nout);

	rc = engine_init(&e, sc, &heap);
	if (rc != BM25_OK)
		return rc;

	for (s = 0; s < nsegs; s++)
	{
		int			active;

		rc = engine_segment(&e, &segs[s], &active);
		if (rc != BM25_OK || !active)
		{
			if (rc != BM25_OK)
				break;
			continue;
		}
		rc = engine_seed(&e, &segs[s]);
		if (rc != BM25_OK)
			break;
		if (e.nmust > 0)
			rc = run_conjunction(&e);
		else
			rc = run_disjunction(&e);
		if (rc != BM25_OK)
			break;
	}
	engine_free(&e);
	if (rc == BM25_OK && has_tie != NULL && heap.full && heap.has_out &&
		heap.out.score == heap.h[0].score)
	{
		*tie = heap.out;
		*has_tie = 1;
	}
	if (rc == BM25_OK)
		rc = heap_finish(&heap, out, nout);
	free(heap.h);
	return rc;
}

/* ---------------------------------------------------------------------
 * Reference and boolean match
 * ---------------------------------------------------------------------
 */

/* Does a doc with these tfs match the query? */
static int
doc_matches(const bm25_scorer *sc, const uint32_t *tfs)
{
	uint32_t	i;
	int			any = 0;

	for (i = 0; i < sc->nterms; i++)
	{
		bm25_occur	o = sc->terms[i].occur;

		if (o == BM25_MUST_NOT && tfs[i] > 0)
			return 0;
		if (o == BM25_MUST && tfs[i] == 0)
			return 0;
		if (o != BM25_MUST_NOT && tfs[i] > 0)
			any = 1;
	}
	return any;
}

/*
 * Reference implementation: visit every doc that contains any MUST or
 * SHOULD term, read every term's tf, keep it if it matches, score it with
 * bm25_score_doc, then sort everything and cut at k.  Deliberately simple.
 */
int
bm25_topk_exhaustive(const bm25_search_seg *segs, uint32_t nsegs,
					 const bm25_scorer *sc, uint64_t k,
					 bm25_hit **out, uint64_t *nout)
{
	bm25_cursor *cur = NULL;
	uint32_t   *tfs = NULL;
	bm25_hit   *all = NULL;
	uint64_t	nall = 0;
	uint64_t	cap = 0;
	uint32_t	s;
	int			rc = BM25_OK;
	size_t		n;

	if (out == NULL || nout == NULL || sc == NULL || (nsegs > 0 && segs == NULL))
		return BM25_EINVAL;
	*out = NULL;
	*nout = 0;
	if (sc->nterms > 0 && (sc->terms == NULL || sc->idf == NULL))
		return BM25_EINVAL;

	n = sc->nterms > 0 ? sc->nterms : 1;
	cur = malloc(n * sizeof(bm25_cursor));
	tfs = calloc(n, sizeof(uint32_t));
	all = malloc(sizeof(bm25_hit));
	cap = 1;
	if (cur == NULL || tfs == NULL || all == NULL)
	{
		rc = BM25_ENOMEM;
		goto done;
	}

	for (s = 0; s < nsegs && sc->nterms > 0; s++)
	{
		const bm25_search_seg *ss = &segs[s];
		uint32_t	i;

		if (ss->seg == NULL)
			continue;
		if (ss->terms == NULL)
		{
			rc = BM25_EINVAL;
			goto done;
		}
		for (i = 0; i < sc->nterms; i++)
		{
			if (ss->terms[i].df == 0)
				continue;
			rc = bm25_cursor_init(&cur[i], ss->seg, &ss->terms[i]);
			if (rc != BM25_OK)
				goto done;
		}

		for (;;)
		{
			uint32_t	d = BM25_NO_MORE_DOCS;

			for (i = 0; i < sc->nterms; i++)
				if (ss->terms[i].df > 0 && sc->terms[i].occur != BM25_MUST_NOT &&
					cur[i].doc < d)
					d = cur[i].doc;
			if (d == BM25_NO_MORE_DOCS)
				break;

			for (i = 0; i < sc->nterms; i++)
			{
				tfs[i] = 0;
				if (ss->terms[i].df == 0)
					continue;
				rc = bm25_cursor_advance(&cur[i], d);
				if (rc != BM25_OK)
					goto done;
				if (cur[i].doc == d)
					tfs[i] = cur[i].tf;
			}

			if (doc_matches(sc, tfs))
			{
				if (nall == cap)
				{
					bm25_hit   *na;

					if (cap > SIZE_MAX / sizeof(bm25_hit) / 2)
					{
						rc = BM25_ENOMEM;
						goto done;
					}
					na = realloc(all, (size_t) cap * 2 * sizeof(bm25_hit));
					if (na == NULL)
					{
						rc = BM25_ENOMEM;
						goto done;
					}
					all = na;
					cap *= 2;
				}
				all[nall].score = bm25_score_doc(sc, tfs, bm25_segment_doclen(ss->seg, d));
				all[nall].tid = bm25_segment_tid(ss->seg, d);
				nall++;
			}

			for (i = 0; i < sc->nterms; i++)
			{
				if (ss->terms[i].df == 0 || sc->terms[i].occur == BM25_MUST_NOT ||
					cur[i].doc != d)
					continue;
				rc = bm25_cursor_next(&cur[i]);
				if (rc != BM25_OK)
					goto done;
			}
		}
	}

	if (nall > 1)
		qsort(all, (size_t) nall, sizeof(bm25_hit), hit_cmp);
	*out = all;
	*nout = nall < k ? nall : k;
	all = NULL;

done:
	free(all);
	free(tfs);
	free(cur);
	return rc;
}

/* Boolean match: cb(arg, tid) for every matching doc, segment by segment. */
int
bm25_match(const bm25_search_seg *segs, uint32_t nsegs,
		   const bm25_scorer *sc, bm25_match_fn cb, void *arg)
{
	topk_engine e;
	topk_heap	heap;
	uint32_t	s;
	int			rc = BM25_OK;

	if (sc == NULL || cb == NULL || (nsegs > 0 && segs == NULL))
		return BM25_EINVAL;
	if (sc->nterms > 0 && (sc->terms == NULL || sc->idf == NULL))
		return BM25_EINVAL;
	if (sc->nterms == 0 ||
		bm25_query_count(sc->terms, sc->nterms, BM25_MUST_NOT) == sc->nterms)
		return BM25_OK;

	memset(&heap, 0, sizeof(heap));
	rc = engine_init(&e, sc, &heap);
	if (rc != BM25_OK)
		return rc;

	for (s = 0; s < nsegs && rc == BM25_OK; s++)
	{
		int			active;

		rc = engine_segment(&e, &segs[s], &active);
		if (rc != BM25_OK || !active)
			continue;

		for (;;)
		{
			uint32_t	d = BM25_NO_MORE_DOCS;
			uint32_t	a;
			int			reject = 0;

			if (e.nmust > 0)
			{
				/* Leapfrog the MUST terms until they agree. */
				bm25_cursor *lead = CUR(&e, e.must[0]);

				d = lead->doc;
				a = 1;
				while (d != BM25_NO_MORE_DOCS && a < e.nmust)
				{
					bm25_cursor *c = CUR(&e, e.must[a]);

					if (c->doc < d)
					{
						rc = bm25_cursor_advance(c, d);
						if (rc != BM25_OK)
							break;
					}
					if (c->doc == d)
					{
						a++;
						continue;
					}
					d = c->doc;
					if (d == BM25_NO_MORE_DOCS)
						break;
					rc = bm25_cursor_advance(lead, d);
					if (rc != BM25_OK)
						break;
					d = lead->doc;
					a = 1;
				}
				if (rc != BM25_OK)
					break;
			}
			else
			{
				for (a = 0; a < e.nshould; a++)
				{
					uint32_t	cd = CUR(&e, e.should[a])->doc;

					if (cd < d)
						d = cd;
				}
			}
			if (d == BM25_NO_MORE_DOCS)
				break;

			for (a = 0; a < e.nnot && !reject; a++)
			{
				bm25_cursor *c = &e.cur[e.mnot[a]];

				if (c->doc < d)
				{
					rc = bm25_cursor_advance(c, d);
					if (rc != BM25_OK)
						break;
				}
				if (c->doc == d)
					reject = 1;
			}
			if (rc != BM25_OK)
				break;
			if (!reject)
				cb(arg, bm25_segment_tid(e.seg, d));

			if (e.nmust > 0)
				rc = bm25_cursor_next(CUR(&e, e.must[0]));
			else
			{
				for (a = 0; a < e.nshould && rc == BM25_OK; a++)
				{
					bm25_cursor *c = CUR(&e, e.should[a]);

					if (c->doc == d)
						rc = bm25_cursor_next(c);
				}
			}
			if (rc != BM25_OK)
				break;
		}
	}
	engine_free(&e);
	return rc;
}
