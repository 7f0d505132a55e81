/*-------------------------------------------------------------------------
 * query.c
 *	  Query string parser and normalization of analyzed query terms.
 *
 * The parser only splits the string into clauses and validates the
 * prefix and forbidden characters; turning a clause into lexemes is the
 * glue's job.  Error positions are 1-based character offsets, counting
 * characters as UTF-8 does (every byte that is not a continuation byte
 * 0x80..0xBF starts a character), which equals the byte offset for
 * ASCII input.
 *
 * PostgreSQL-independent: plain C99, malloc/free only.
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

/* Is c one of the blanks that separate clauses? */
static int
is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
		c == '\f' || c == '\v';
}

/* 1-based character position of byte offset off in q, UTF-8 style. */
static size_t
char_position(const char *q, size_t off)
{
	size_t		pos = 1;
	size_t		i;

	for (i = 0; i < off; i++)
	{
		unsigned char c = (unsigned char) q[i];

		if (c < 0x80 || c > 0xBF)
			pos++;
	}
	return pos;
}

/* Write a message into errbuf if the caller gave one. */
static void
set_error(char *errbuf, size_t errlen, const char *what, const char *q, size_t off)
{
	if (errbuf == NULL || errlen == 0)
		return;
	snprintf(errbuf, errlen, "%s at character %lu", what,
			 (unsigned long) char_position(q, off));
}

/*
 * Validate q[0..len) and count its clauses; on error fill errbuf and
 * return the status.
 */
static int
scan_query(const char *q, size_t len, uint64_t *nclauses,
		   char *errbuf, size_t errlen)
{
	size_t		i = 0;
	uint64_t	n = 0;

	while (i < len)
	{
		size_t		start;
		size_t		tstart;

		if (is_blank((unsigned char) q[i]))
		{
			i++;
			continue;
		}

		start = i;
		tstart = i;
		if (q[i] == '+' || q[i] == '-')
		{
			char		what[64];

			tstart = i + 1;
			if (tstart >= len || is_blank((unsigned char) q[tstart]))
			{
				snprintf(what, sizeof(what), "bare \"%c\"", q[i]);
				set_error(errbuf, errlen, what, q, start);
				return BM25_EINVAL;
			}
			if (q[tstart] == '+' || q[tstart] == '-')
			{
				snprintf(what, sizeof(what), "doubled prefix \"%c%c\"",
						 q[i], q[tstart]);
				set_error(errbuf, errlen, what, q, start);
				return BM25_EINVAL;
			}
		}

		for (i = tstart; i < len && !is_blank((unsigned char) q[i]); i++)
		{
			if (q[i] == '"')
			{
				set_error(errbuf, errlen,
						  "phrase queries (double quotes) are not supported yet,",
						  q, i);
				return BM25_EINVAL;
			}
			if (q[i] == '\0')
			{
				set_error(errbuf, errlen, "NUL byte", q, i);
				return BM25_EINVAL;
			}
		}

		if (i - tstart > UINT32_MAX)
		{
			set_error(errbuf, errlen, "query clause too long", q, start);
			return BM25_ELIMIT;
		}
		n++;
	}

	if (n > UINT32_MAX)
	{
		set_error(errbuf, errlen, "too many query clauses", q, len);
		return BM25_ELIMIT;
	}
	*nclauses = n;
	return BM25_OK;
}

/*
 * Parse q[0..len) into clauses.  On success *out is never NULL (at least
 * one element is allocated even for zero clauses).
 */
int
bm25_parse_query(const char *q, size_t len, bm25_clause **out, uint32_t *nout,
				 char *errbuf, size_t errlen)
{
	uint64_t	n = 0;
	bm25_clause *cl;
	size_t		i = 0;
	uint32_t	k = 0;
	int			rc;

	if (out == NULL || nout == NULL)
		return BM25_EINVAL;
	*out = NULL;
	*nout = 0;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (q == NULL && len > 0)
		return BM25_EINVAL;

	rc = scan_query(q, len, &n, errbuf, errlen);
	if (rc != BM25_OK)
		return rc;

	cl = malloc((n > 0 ? (size_t) n : 1) * sizeof(bm25_clause));
	if (cl == NULL)
		return BM25_ENOMEM;

	/* Second pass: the input is known to be valid. */
	while (i < len)
	{
		size_t		start;
		bm25_occur	occur = BM25_SHOULD;

		if (is_blank((unsigned char) q[i]))
		{
			i++;
			continue;
		}
		if (q[i] == '+')
		{
			occur = BM25_MUST;
			i++;
		}
		else if (q[i] == '-')
		{
			occur = BM25_MUST_NOT;
			i++;
		}
		start = i;
		while (i < len && !is_blank((unsigned char) q[i]))
			i++;
		cl[k].occur = occur;
		cl[k].text = q + start;
		cl[k].len = (uint32_t) (i - start);
		k++;
	}

	*out = cl;
	*nout = k;
	return BM25_OK;
}

/* memcmp order over (text, len): a proper prefix sorts first. */
static int
qterm_cmp(const void *pa, const void *pb)
{
	const bm25_qterm *a = (const bm25_qterm *) pa;
	const bm25_qterm *b = (const bm25_qterm *) pb;
	uint32_t	m = a->len < b->len ? a->len : b->len;

	if (m > 0)
	{
		int			c = memcmp(a->text, b->text, m);

		if (c != 0)
			return c;
	}
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return 0;
}

/* Precedence of an occurrence when duplicates merge. */
static int
occur_rank(bm25_occur o)
{
	switch (o)
	{
		case BM25_MUST_NOT:
			return 2;
		case BM25_MUST:
			return 1;
		default:
			return 0;
	}
}

/* Sort terms into canonical order and merge duplicates in place. */
void
bm25_query_normalize(bm25_qterm *terms, uint32_t *n)
{
	uint32_t	i;
	uint32_t	w;

	if (terms == NULL || n == NULL || *n == 0)
		return;

	qsort(terms, *n, sizeof(bm25_qterm), qterm_cmp);

	/* Every input entry is one occurrence, whatever its qtf said. */
	terms[0].qtf = 1;
	w = 1;
	for (i = 1; i < *n; i++)
	{
		if (qterm_cmp(&terms[w - 1], &terms[i]) == 0)
		{
			if (occur_rank(terms[i].occur) > occur_rank(terms[w - 1].occur))
				terms[w - 1].occur = terms[i].occur;
			terms[w - 1].qtf++;
		}
		else
		{
			terms[w] = terms[i];
			terms[w].qtf = 1;
			w++;
		}
	}
	*n = w;
}

/* Count the terms with the given occurrence. */
uint32_t
bm25_query_count(const bm25_qterm *terms, uint32_t n, bm25_occur occur)
{
	uint32_t	i;
	uint32_t	c = 0;

	for (i = 0; i < n; i++)
		if (terms[i].occur == occur)
			c++;
	return c;
}
