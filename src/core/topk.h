/*-------------------------------------------------------------------------
 * topk.h
 *	  Ranked retrieval over a set of segments.  PostgreSQL-independent.
 *
 * Order of results: score descending, then heap TID ascending.  This is a
 * total order, so the top k is unique and every algorithm here must return
 * exactly the same list as bm25_topk_exhaustive.
 *-------------------------------------------------------------------------
 */
#ifndef BM25_TOPK_H
#define BM25_TOPK_H

#include "bm25_core.h"
#include "query.h"
#include "score.h"
#include "segment.h"

typedef struct bm25_hit
{
	double		score;
	bm25_tid	tid;
} bm25_hit;

/*
 * One segment to search: terms[i] is the scorer's term i looked up in seg
 * (df == 0 when absent).
 */
typedef struct bm25_search_seg
{
	const bm25_segment *seg;
	const bm25_term_info *terms;
} bm25_search_seg;

#define BM25_K_ALL	UINT64_MAX

/*
 * Top k by block-max MaxScore.  *out is malloc'd (free()), *nout <= k
 * hits, sorted.  k == BM25_K_ALL returns every match, sorted.
 */
extern int	bm25_topk(const bm25_search_seg *segs, uint32_t nsegs,
					  const bm25_scorer *sc, uint64_t k,
					  bm25_hit **out, uint64_t *nout);

/*
 * bm25_topk that also tells whether the hit ranking right after the k-th
 * has the same score: then *has_tie = 1 and *tie is that hit, else
 * *has_tie = 0.  A LIMIT k scan needs to know where the k-th hit's tie
 * group ends; asking for k + 1 hits would prune with a lower threshold.
 */
extern int	bm25_topk_tie(const bm25_search_seg *segs, uint32_t nsegs,
						  const bm25_scorer *sc, uint64_t k,
						  bm25_hit **out, uint64_t *nout,
						  bm25_hit *tie, int *has_tie);

/* Reference: scores every matching document, then sorts. */
extern int	bm25_topk_exhaustive(const bm25_search_seg *segs, uint32_t nsegs,
								 const bm25_scorer *sc, uint64_t k,
								 bm25_hit **out, uint64_t *nout);

/* Boolean match: calls cb for every matching doc's TID, any order. */
typedef void (*bm25_match_fn) (void *arg, bm25_tid tid);
extern int	bm25_match(const bm25_search_seg *segs, uint32_t nsegs,
					   const bm25_scorer *sc, bm25_match_fn cb, void *arg);

#endif							/* BM25_TOPK_H */
