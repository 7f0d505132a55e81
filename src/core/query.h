/*-------------------------------------------------------------------------
 * query.h
 *	  Query string syntax and normalized term lists.  PostgreSQL-independent.
 *
 * Syntax: whitespace-separated clauses.  A clause is a run of non-blank
 * characters, optionally prefixed by '+' (required) or '-' (excluded).
 * A clause's text is later analyzed by the glue with the index's text
 * search configuration; every lexeme it yields inherits the clause's
 * occurrence.  A '+' or '-' inside a clause ("e-mail") is just text.
 *
 * Malformed: a bare '+' or '-', a doubled prefix ("+-x", "--x"), a double
 * quote anywhere (phrase queries are not supported yet), or a NUL byte.
 *-------------------------------------------------------------------------
 */
#ifndef BM25_QUERY_H
#define BM25_QUERY_H

#include "bm25_core.h"

typedef enum bm25_occur
{
	BM25_SHOULD = 0,
	BM25_MUST = 1,
	BM25_MUST_NOT = 2
} bm25_occur;

/* One clause of a parsed query; text points into the input string. */
typedef struct bm25_clause
{
	bm25_occur	occur;
	const char *text;
	uint32_t	len;
} bm25_clause;

/*
 * Parse q[0..len).  On success *out is a malloc'd array (free with free())
 * of *nout clauses, possibly zero.  On BM25_EINVAL errbuf says why, with
 * the 1-based character offset.
 */
extern int	bm25_parse_query(const char *q, size_t len, bm25_clause **out, uint32_t *nout,
							 char *errbuf, size_t errlen);

/* One analyzed query term. */
typedef struct bm25_qterm
{
	const char *text;
	uint32_t	len;
	bm25_occur	occur;
	uint32_t	qtf;			/* occurrences merged into it; 0 reads as 1 */
} bm25_qterm;

/*
 * Sort terms by memcmp order and merge duplicates in place.  When a lexeme
 * appears more than once, MUST_NOT beats MUST, which beats SHOULD, and qtf
 * counts the occurrences (a query is a bag of words, as in Lucene: a word
 * given twice weighs twice).  This order is the canonical term order used
 * for summing scores.
 */
extern void bm25_query_normalize(bm25_qterm *terms, uint32_t *n);

/* Number of terms with each occurrence, for quick checks. */
extern uint32_t bm25_query_count(const bm25_qterm *terms, uint32_t n, bm25_occur occur);

#endif							/* BM25_QUERY_H */
