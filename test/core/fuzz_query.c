/*
 * fuzz_query.c
 *	  libFuzzer target: bm25_parse_query on arbitrary bytes, then
 *	  bm25_query_normalize on the clauses taken as terms.  Any broken
 *	  invariant aborts so the fuzzer records a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) abort(); } while (0)

/* memcmp order over (text, len). */
static int
term_cmp(const bm25_qterm *a, const bm25_qterm *b)
{
	uint32_t	m = a->len < b->len ? a->len : b->len;
	int			c = m > 0 ? memcmp(a->text, b->text, m) : 0;

	if (c != 0)
		return c;
	return a->len < b->len ? -1 : a->len > b->len ? 1 : 0;
}

/* Precedence MUST_NOT > MUST > SHOULD. */
static int
rank(bm25_occur o)
{
	return o == BM25_MUST_NOT ? 2 : o == BM25_MUST ? 1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *q = (const char *) data;
	bm25_clause *cl = NULL;
	uint32_t	n = 0;
	char		err[256];
	int			rc;
	uint32_t	i;
	uint32_t	j;
	bm25_qterm *t;
	uint32_t	nt;

	rc = bm25_parse_query(q, size, &cl, &n, err, sizeof(err));
	if (rc != BM25_OK)
	{
		REQUIRE(rc == BM25_EINVAL);
		REQUIRE(cl == NULL && n == 0);
		REQUIRE(strstr(err, " at character ") != NULL);
		return 0;
	}
	REQUIRE(cl != NULL);
	REQUIRE(memchr(q, '"', size) == NULL && (size == 0 || memchr(q, '\0', size) == NULL));

	t = malloc((n > 0 ? n : 1) * sizeof(bm25_qterm));
	if (t == NULL)
	{
		free(cl);
		return 0;
	}
	for (i = 0; i < n; i++)
	{
		REQUIRE(cl[i].len >= 1);
		REQUIRE(cl[i].text >= q && cl[i].text + cl[i].len <= q + size);
		for (j = 0; j < cl[i].len; j++)
			REQUIRE(strchr(" \t\r\n\f\v", cl[i].text[j]) == NULL);
		if (cl[i].occur == BM25_SHOULD)
			REQUIRE(cl[i].text[0] != '+' && cl[i].text[0] != '-');
		else
			REQUIRE(cl[i].text > q &&
					cl[i].text[-1] == (cl[i].occur == BM25_MUST ? '+' : '-'));
		if (i > 0)
			REQUIRE(cl[i].text > cl[i - 1].text + cl[i - 1].len);
		t[i].text = cl[i].text;
		t[i].len = cl[i].len;
		t[i].occur = cl[i].occur;
	}

	nt = n;
	bm25_query_normalize(t, &nt);
	REQUIRE(nt <= n && (n == 0 || nt >= 1));
	for (i = 1; i < nt; i++)
		REQUIRE(term_cmp(&t[i - 1], &t[i]) < 0);
	/* Every input term is counted once, in the term it merged into. */
	{
		uint32_t	total = 0;

		for (i = 0; i < nt; i++)
		{
			REQUIRE(t[i].qtf >= 1);
			total += t[i].qtf;
		}
		REQUIRE(total == n);
	}
	/* Every input term survives with the highest precedence seen. */
	for (i = 0; i < n; i++)
	{
		bm25_qterm	in = {cl[i].text, cl[i].len, cl[i].occur, 1};
		int			best = -1;
		int			found = -1;

		for (j = 0; j < n; j++)
		{
			bm25_qterm	o = {cl[j].text, cl[j].len, cl[j].occur, 1};

			if (term_cmp(&in, &o) == 0 && rank(o.occur) > best)
				best = rank(o.occur);
		}
		for (j = 0; j < nt; j++)
			if (term_cmp(&in, &t[j]) == 0)
				found = (int) j;
		REQUIRE(found >= 0 && rank(t[found].occur) == best);
	}
	REQUIRE(bm25_query_count(t, nt, BM25_SHOULD) + bm25_query_count(t, nt, BM25_MUST) +
			bm25_query_count(t, nt, BM25_MUST_NOT) == nt);

	free(t);
	free(cl);
	return 0;
}
