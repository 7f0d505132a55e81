/*-------------------------------------------------------------------------
 * analyze.c
 *	  Turning text into lexemes with a PostgreSQL text search configuration.
 *
 * Documents and queries go through the same parsetext() call, so every
 * language and dictionary PostgreSQL knows works, and a document's tf and
 * dl are identical whether the index build or a single-row bm25_score()
 * computes them.  That identity is what makes scores exact.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

#include "common/hashfn.h"
#include "tsearch/ts_utils.h"

/*
 * Runs the parser and dictionaries of cfg over text and drops lexemes the
 * segment format cannot hold; dl counts exactly the words kept.
 */
static void
bm25_parse_words(Oid cfg, const char *text, int len, ParsedText *prs)
{
	int32		keep = 0;

	prs->lenwords = len / 6;
	if (prs->lenwords < 2)
		prs->lenwords = 2;
	else if (prs->lenwords > (int32) (MaxAllocSize / sizeof(ParsedWord)))
		prs->lenwords = MaxAllocSize / sizeof(ParsedWord);
	prs->curwords = 0;
	prs->pos = 0;
	prs->words = (ParsedWord *) palloc(sizeof(ParsedWord) * prs->lenwords);

	if (len > 0)
		parsetext(cfg, prs, (char *) text, len);

	for (int32 i = 0; i < prs->curwords; i++)
	{
		ParsedWord *w = &prs->words[i];

		if (w->len == 0 || w->len > BM25_MAX_TERM_LEN)
			continue;
		prs->words[keep++] = *w;
	}
	prs->curwords = keep;
}

/* memcmp order with a prefix first: the core's term order. */
static int
bm25_cmp_bytes(const char *a, uint32 alen, const char *b, uint32 blen)
{
	int			c = memcmp(a, b, Min(alen, blen));

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

/*
 * Analyzes one document into its distinct lexemes with term frequencies
 * (in first-occurrence order) and its length dl in tokens.  Counting goes
 * through a small open-addressing hash table: the index build calls this
 * for every row, and sorting the words was a sixth of its time.
 */
void
bm25_analyze_doc(Oid cfg, const char *text, int len, Bm25Doc *doc)
{
	ParsedText	prs;
	uint32		n = 0;
	uint32		nslots = 16;
	uint32		mask;
	int32	   *slots;

	bm25_parse_words(cfg, text, len, &prs);
	doc->dl = prs.curwords;
	doc->terms = palloc(sizeof(bm25_doc_term) * Max(prs.curwords, 1));
	while (nslots < (uint32) prs.curwords * 2)
		nslots <<= 1;
	mask = nslots - 1;
	slots = palloc0(sizeof(int32) * nslots);	/* term index + 1; 0 = empty */
	for (int32 i = 0; i < prs.curwords; i++)
	{
		ParsedWord *w = &prs.words[i];
		uint32		h = hash_bytes((const unsigned char *) w->word, w->len) & mask;

		for (;;)
		{
			int32		t = slots[h];

			if (t == 0)
			{
				doc->terms[n].text = w->word;
				doc->terms[n].len = w->len;
				doc->terms[n].tf = 1;
				slots[h] = (int32) ++n;
				break;
			}
			if (doc->terms[t - 1].len == w->len &&
				memcmp(doc->terms[t - 1].text, w->word, w->len) == 0)
			{
				doc->terms[t - 1].tf++;
				break;
			}
			h = (h + 1) & mask;
		}
	}
	pfree(slots);
	doc->nterms = n;
}

/*
 * Parses and analyzes a query string: each clause's text is analyzed and
 * its lexemes inherit the clause's +/- marker; the result is normalized
 * into canonical term order.
 */
void
bm25_analyze_query(Oid cfg, const char *q, int len, bm25_qterm **terms, uint32 *nterms)
{
	bm25_clause *raw = NULL;
	bm25_clause *clauses;
	uint32		nclauses = 0;
	char		errbuf[256];
	int			status;
	bm25_qterm *out;
	uint32		n = 0;
	uint32		cap = 8;

	errbuf[0] = '\0';
	status = bm25_parse_query(q, len, &raw, &nclauses, errbuf, sizeof(errbuf));
	if (status == BM25_EINVAL)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("malformed bm25 query: %s", errbuf),
				 errhint("A query is a list of words; prefix a word with + to require it or - to exclude it.")));
	if (status != BM25_OK)
	{
		free(raw);
		bm25_report_status(status, NULL, "parsing a query");
	}
	clauses = palloc(sizeof(bm25_clause) * Max(nclauses, 1));
	if (nclauses > 0)
		memcpy(clauses, raw, sizeof(bm25_clause) * nclauses);
	free(raw);

	out = palloc(sizeof(bm25_qterm) * cap);
	for (uint32 c = 0; c < nclauses; c++)
	{
		ParsedText	prs;

		bm25_parse_words(cfg, clauses[c].text, clauses[c].len, &prs);
		for (int32 i = 0; i < prs.curwords; i++)
		{
			if (n == cap)
			{
				cap *= 2;
				out = repalloc(out, sizeof(bm25_qterm) * cap);
			}
			out[n].text = prs.words[i].word;
			out[n].len = prs.words[i].len;
			out[n].occur = clauses[c].occur;
			n++;
		}
	}
	bm25_query_normalize(out, &n);
	*terms = out;
	*nterms = n;
}

/* Looks a lexeme up among the normalized query terms; -1 if absent. */
static int
bm25_find_qterm(const bm25_qterm *terms, uint32 n, const char *w, uint32 len)
{
	int			lo = 0;
	int			hi = (int) n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = bm25_cmp_bytes(terms[mid].text, terms[mid].len, w, len);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/*
 * Counts, for one document, the tf of every query term and the document
 * length; tfs must have p->nterms entries.
 */
static uint32
bm25_count_query_terms(const Bm25Prepared *p, const char *text, int len, uint32 *tfs)
{
	ParsedText	prs;

	memset(tfs, 0, sizeof(uint32) * Max(p->nterms, 1));
	bm25_parse_words(p->state->cfg, text, len, &prs);
	for (int32 i = 0; i < prs.curwords; i++)
	{
		int			t = bm25_find_qterm(p->terms, p->nterms, prs.words[i].word,
										prs.words[i].len);

		if (t >= 0)
			tfs[t]++;
	}
	return prs.curwords;
}

/* BM25 score of one document text under a prepared query. */
double
bm25_score_text(const Bm25Prepared *p, const char *text, int len)
{
	uint32	   *tfs;
	uint32		dl;
	double		score;

	if (p->nterms == 0)
		return 0.0;
	tfs = palloc(sizeof(uint32) * p->nterms);
	dl = bm25_count_query_terms(p, text, len, tfs);
	score = bm25_score_doc(&p->scorer, tfs, dl);
	pfree(tfs);
	return score;
}

/* Whether one document text matches a prepared query. */
bool
bm25_match_text(const Bm25Prepared *p, const char *text, int len)
{
	uint32	   *tfs;
	bool		any = false;
	bool		ok = true;

	if (!p->can_match)
		return false;
	tfs = palloc(sizeof(uint32) * p->nterms);
	(void) bm25_count_query_terms(p, text, len, tfs);
	for (uint32 i = 0; i < p->nterms && ok; i++)
	{
		switch (p->terms[i].occur)
		{
			case BM25_MUST:
				ok = tfs[i] > 0;
				any |= ok;
				break;
			case BM25_MUST_NOT:
				ok = tfs[i] == 0;
				break;
			case BM25_SHOULD:
				any |= tfs[i] > 0;
				break;
		}
	}
	pfree(tfs);
	return ok && any;
}
