/*-------------------------------------------------------------------------
 * prepare.c
 *	  Binding an analyzed query to one view of an index: per-segment term
 *	  lookups, document frequencies summed over segments, and the scorer.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

/*
 * Analyzes query with the index's configuration and looks every term up in
 * every live segment, so that idf uses global document frequencies.
 */
Bm25Prepared *
bm25_prepare(Bm25IndexState *state, const char *query, int len)
{
	Bm25Prepared *p = palloc0(sizeof(Bm25Prepared));

	p->state = state;
	bm25_analyze_query(state->cfg, query, len, &p->terms, &p->nterms);
	p->dfs = palloc0(sizeof(uint64) * Max(p->nterms, 1));
	p->idf = palloc0(sizeof(double) * Max(p->nterms, 1));
	p->ssegs = palloc0(sizeof(bm25_search_seg) * Max(state->nsegs, 1));

	for (uint32 s = 0; s < state->nsegs; s++)
	{
		bm25_term_info *infos = palloc0(sizeof(bm25_term_info) * Max(p->nterms, 1));

		for (uint32 i = 0; i < p->nterms; i++)
		{
			int			status = bm25_segment_lookup(state->segs[s], p->terms[i].text,
													 p->terms[i].len, &infos[i]);

			if (status != BM25_OK)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("bm25 index with OID %u is corrupted: term dictionary lookup failed: %s",
								state->indexoid, bm25_strerror(status)),
						 errhint("Rebuild the index with REINDEX.")));
			p->dfs[i] += infos[i].df;
		}
		p->ssegs[s].seg = state->segs[s];
		p->ssegs[s].terms = infos;
	}

	bm25_scorer_init(&p->scorer, state->k1, state->b, state->N, state->total_tokens,
					 p->terms, p->nterms, p->dfs, p->idf);
	p->can_match = bm25_query_count(p->terms, p->nterms, BM25_MUST) +
		bm25_query_count(p->terms, p->nterms, BM25_SHOULD) > 0;
	return p;
}
