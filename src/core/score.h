/*-------------------------------------------------------------------------
 * score.h
 *	  BM25 as Lucene's BM25Similarity computes it.  PostgreSQL-independent.
 *
 *	  idf(t)     = ln(1 + (N - df + 0.5) / (df + 0.5))
 *	  tfpart     = tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
 *	  score(d,q) = sum over q's non-excluded terms present in d, in the
 *	               canonical (normalized) term order, of w(t) * tfpart,
 *	               w(t) = qtf(t) * idf(t), qtf(t) = times t occurs in q
 *
 * A document that does not match the query (a required term missing, an
 * excluded term present, or no scoring term present) scores exactly 0.
 *
 * Exactness rule: the index path and the single-row path both call
 * bm25_score_doc with the same inputs, so they agree to the last bit.
 * The core is compiled with -ffp-contract=off so no FMA changes rounding.
 *-------------------------------------------------------------------------
 */
#ifndef BM25_SCORE_H
#define BM25_SCORE_H

#include "bm25_core.h"
#include "query.h"
#include "segment.h"

/*
 * Length normalizations (bm25_doc_norm) of doc lengths below
 * BM25_NORM_CACHE, kept by a caller across top-k calls: the engine fills
 * entries as it needs them while k1, b and avgdl are the ones the cache
 * was filled for, and empties it first when they differ.  A cached value
 * is the very double bm25_doc_norm returns, so scores stay bit-identical.
 * Zero-initialized memory is an empty cache.  One cache must not be used
 * by two calls at the same time.
 */
#define BM25_NORM_CACHE	1024

typedef struct bm25_norm_cache
{
	int			filled;			/* key below is set */
	double		k1;
	double		b;
	double		avgdl;
	double		v[BM25_NORM_CACHE]; /* < 0: not computed yet */
} bm25_norm_cache;

typedef struct bm25_scorer
{
	double		k1;
	double		b;
	uint64_t	N;				/* documents counted in the statistics */
	double		avgdl;			/* total tokens / N; 1.0 when N == 0 */
	uint32_t	nterms;
	const bm25_qterm *terms;	/* normalized query terms */
	double	   *idf;			/* nterms weights qtf * idf, by bm25_scorer_init */
	bm25_norm_cache *norms;		/* NULL (bm25_scorer_init's default): the
								 * top-k engine keeps its own per call */
} bm25_scorer;

extern double bm25_idf(uint64_t N, uint64_t df);
extern double bm25_tfpart(const bm25_scorer *s, uint32_t tf, uint32_t dl);

/*
 * Fill s->idf from dfs[nterms] (df summed over every segment) and set
 * avgdl from total_tokens.  s->idf must point at nterms doubles.
 */
extern void bm25_scorer_init(bm25_scorer *s, double k1, double b, uint64_t N,
							 uint64_t total_tokens, const bm25_qterm *terms,
							 uint32_t nterms, const uint64_t *dfs, double *idf);

/* tfs[i] is term i's frequency in the doc (0 = absent). */
extern double bm25_score_doc(const bm25_scorer *s, const uint32_t *tfs, uint32_t dl);

/* Upper bound of term i's contribution over an impact set. */
extern double bm25_impact_bound(const bm25_scorer *s, uint32_t i,
								const bm25_impact *imp, uint32_t nimp);

/*
 * Internal to the core (score.c, topk.c): bm25_tfpart split in two so a
 * document's length normalization is computed once for all its terms.
 * bm25_tfpart_norm(s, tf, bm25_doc_norm(s, dl)) performs exactly the
 * operations of bm25_tfpart(s, tf, dl), in the same order, so the result
 * is bit-identical (the core is compiled with -ffp-contract=off).
 */
static inline double
bm25_doc_norm(const bm25_scorer *s, uint32_t dl)
{
	double		l = (double) dl;

	return s->k1 * (1.0 - s->b + s->b * l / s->avgdl);
}

static inline double
bm25_tfpart_norm(const bm25_scorer *s, uint32_t tf, double norm)
{
	double		t = (double) tf;

	return t * (s->k1 + 1.0) / (t + norm);
}

#endif							/* BM25_SCORE_H */
