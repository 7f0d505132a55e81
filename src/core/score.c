/*-------------------------------------------------------------------------
 * score.c
 *	  BM25 term weights and document scores (Lucene's BM25Similarity).
 *
 * Every score that is ever reported comes from bm25_score_doc, which sums
 * idf[i] * tfpart in the canonical term order with one fixed sequence of
 * double operations.  Nothing here may be "simplified" algebraically:
 * the index path and the single-row path must round identically, and the
 * core is compiled with -ffp-contract=off so no FMA is formed.
 *
 * PostgreSQL-independent: plain C99.
 *-------------------------------------------------------------------------
 */
#include <math.h>

#include "score.h"

/*
 * idf = ln(1 + (N - df + 0.5) / (df + 0.5)); df is clamped to N, so the
 * result is finite and non-negative.
 */
double
bm25_idf(uint64_t N, uint64_t df)
{
	double		n;
	double		d;

	if (df > N)
		df = N;
	n = (double) N;
	d = (double) df;
	return log(1.0 + (n - d + 0.5) / (d + 0.5));
}

/* tfpart = tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)). */
double
bm25_tfpart(const bm25_scorer *s, uint32_t tf, uint32_t dl)
{
	/* Same operations, same order as the formula above: see score.h. */
	return bm25_tfpart_norm(s, tf, bm25_doc_norm(s, dl));
}

/*
 * Set up a scorer: parameters, avgdl = total_tokens / N (1.0 when N or
 * total_tokens is 0, so a degenerate corpus never divides by zero) and
 * the weights idf[i] = qtf * idf from dfs[i].
 */
void
bm25_scorer_init(bm25_scorer *s, double k1, double b, uint64_t N,
				 uint64_t total_tokens, const bm25_qterm *terms,
				 uint32_t nterms, const uint64_t *dfs, double *idf)
{
	uint32_t	i;

	s->k1 = k1;
	s->b = b;
	s->N = N;
	if (N == 0 || total_tokens == 0)
		s->avgdl = 1.0;
	else
		s->avgdl = (double) total_tokens / (double) N;
	s->nterms = nterms;
	s->terms = terms;
	s->idf = idf;
	s->norms = NULL;
	/*
	 * A lexeme given qtf times weighs qtf times (bag of words).  The
	 * multiplication is exact for qtf = 1, so single occurrences keep the
	 * plain idf bit for bit.
	 */
	for (i = 0; i < nterms; i++)
		idf[i] = bm25_idf(N, dfs[i]) *
			(double) (terms[i].qtf > 1 ? terms[i].qtf : 1);
}

/*
 * Score one document: 0 unless it matches (every MUST term present, no
 * MUST_NOT term present, some MUST or SHOULD term present); otherwise the
 * canonical-order sum of idf[i] * tfpart over present scoring terms.
 */
double
bm25_score_doc(const bm25_scorer *s, const uint32_t *tfs, uint32_t dl)
{
	uint32_t	i;
	int			any = 0;
	double		sum = 0.0;
	double		norm;

	for (i = 0; i < s->nterms; i++)
	{
		switch (s->terms[i].occur)
		{
			case BM25_MUST_NOT:
				if (tfs[i] > 0)
					return 0.0;
				break;
			case BM25_MUST:
				if (tfs[i] == 0)
					return 0.0;
				any = 1;
				break;
			default:
				if (tfs[i] > 0)
					any = 1;
				break;
		}
	}
	if (!any)
		return 0.0;

	/* dl's normalization once; bit-identical to bm25_tfpart per term. */
	norm = bm25_doc_norm(s, dl);
	for (i = 0; i < s->nterms; i++)
	{
		if (s->terms[i].occur == BM25_MUST_NOT || tfs[i] == 0)
			continue;
		sum += s->idf[i] * bm25_tfpart_norm(s, tfs[i], norm);
	}
	return sum;
}

/*
 * Largest idf[i] * tfpart over the impact set; tfpart grows with tf and
 * shrinks with dl, so the maximum over a dominating set bounds every
 * posting it dominates.  An empty set dominates no posting: 0.  (The
 * top-k engine never relies on an empty set for a term that has postings.)
 */
double
bm25_impact_bound(const bm25_scorer *s, uint32_t i,
				  const bm25_impact *imp, uint32_t nimp)
{
	uint32_t	j;
	double		best = 0.0;

	if (nimp == 0 || imp == NULL)
		return 0.0;
	for (j = 0; j < nimp; j++)
	{
		double		v = s->idf[i] * bm25_tfpart_norm(s, imp[j].tf,
													 bm25_doc_norm(s, imp[j].dl));

		if (v > best)
			best = v;
	}
	return best;
}
