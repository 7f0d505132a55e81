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
#include "tsearch/ts_cache.h"
#include "tsearch/ts_public.h"
#include "tsearch/ts_utils.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

/*
 * Build-time cache of what the dictionaries make of a token.
 *
 * Dictionaries (snowball stemming, stop words) are two fifths of CREATE
 * INDEX time, and a corpus repeats its words endlessly.  Running the parser
 * ourselves and remembering, per (token type, token), the lexemes the
 * configuration's dictionary chain returned gives exactly the word list
 * parsetext() builds, as long as every dictionary looks at one token at a
 * time: the chain is then a pure function of the token.  A dictionary that
 * asks for the next token (a thesaurus) makes the document go through
 * parsetext() after all and switches the cache off for the rest of the
 * build.  The cache stops growing at its byte budget; tokens it does not
 * hold are then lexized every time, as parsetext() would.
 */
typedef struct Bm25LexEntry
{
	uint32		hash;			/* 0 = empty slot */
	int32		type;
	int32		toklen;
	int32		nlex;
	char	   *tok;
	char	  **lex;			/* nlex lexemes, NUL-terminated */
} Bm25LexEntry;

struct Bm25LexCache
{
	MemoryContext cxt;
	Bm25LexEntry *slots;
	uint32		nslots;			/* power of two */
	uint32		nused;
	Size		bytes;
	Size		budget;
	bool		disabled;		/* a dictionary wanted more than one token */
};

/* Creates an empty cache in the current memory context. */
Bm25LexCache *
bm25_lexcache_create(Size budget)
{
	Bm25LexCache *c = palloc0(sizeof(Bm25LexCache));

	c->cxt = AllocSetContextCreate(CurrentMemoryContext, "bm25 lexeme cache",
								   ALLOCSET_DEFAULT_SIZES);
	c->nslots = 4096;
	c->slots = MemoryContextAllocZero(c->cxt, sizeof(Bm25LexEntry) * c->nslots);
	c->budget = budget;
	c->bytes = sizeof(Bm25LexEntry) * c->nslots;
	return c;
}

/* Slot of (type, tok) or the empty slot where it belongs. */
static Bm25LexEntry *
lexcache_slot(Bm25LexCache *c, uint32 h, int type, const char *tok, int len)
{
	uint32		i = h & (c->nslots - 1);

	for (;;)
	{
		Bm25LexEntry *e = &c->slots[i];

		if (e->hash == 0 ||
			(e->hash == h && e->type == type && e->toklen == len &&
			 memcmp(e->tok, tok, len) == 0))
			return e;
		i = (i + 1) & (c->nslots - 1);
	}
}

/* Doubles the table; entries move, their strings stay where they are. */
static void
lexcache_grow(Bm25LexCache *c)
{
	Bm25LexEntry *old = c->slots;
	uint32		n = c->nslots;

	c->nslots *= 2;
	c->slots = MemoryContextAllocZero(c->cxt, sizeof(Bm25LexEntry) * c->nslots);
	c->bytes += sizeof(Bm25LexEntry) * c->nslots;
	for (uint32 i = 0; i < n; i++)
		if (old[i].hash != 0)
		{
			uint32		j = old[i].hash & (c->nslots - 1);

			while (c->slots[j].hash != 0)
				j = (j + 1) & (c->nslots - 1);
			c->slots[j] = old[i];
		}
	pfree(old);
}

/*
 * The dictionary chain of cfg for one token, as LexizeExec runs it for a
 * token no multi-token dictionary is working on: the first dictionary that
 * knows the token decides (an empty result is a stop word); a filtering
 * dictionary hands its output to the next one.  NULL when no dictionary
 * knows the token.  *multi is set when a dictionary asked for the next
 * token, which this function cannot honour.
 */
static TSLexeme *
lexize_token(TSConfigCacheEntry *cfg, int type, char *tok, int len, bool *multi)
{
	ListDictionary *map = cfg->map + type;

	for (int i = 0; i < map->len; i++)
	{
		TSDictionaryCacheEntry *dict = lookup_ts_dictionary_cache(map->dictIds[i]);
		DictSubState state;
		TSLexeme   *res;

		state.isend = state.getnext = false;
		state.private_state = NULL;
		res = (TSLexeme *) DatumGetPointer(FunctionCall4(&dict->lexize,
														 PointerGetDatum(dict->dictData),
														 PointerGetDatum(tok),
														 Int32GetDatum(len),
														 PointerGetDatum(&state)));
		if (state.getnext)
		{
			*multi = true;
			return NULL;
		}
		if (res == NULL)
			continue;
		if (res->flags & TSL_FILTER)
		{
			tok = res->lexeme;
			len = strlen(res->lexeme);
			continue;
		}
		return res;
	}
	return NULL;
}

/* Appends a word to prs, growing it as parsetext does. */
static inline void
add_word(ParsedText *prs, char *word)
{
	if (prs->curwords == prs->lenwords)
	{
		prs->lenwords *= 2;
		prs->words = repalloc(prs->words, prs->lenwords * sizeof(ParsedWord));
	}
	prs->words[prs->curwords].len = strlen(word);
	prs->words[prs->curwords].word = word;
	prs->words[prs->curwords].nvariant = 0;
	prs->words[prs->curwords].flags = 0;
	prs->words[prs->curwords].alen = 0;
	prs->words[prs->curwords].pos.pos = 0;
	prs->curwords++;
}

/*
 * parsetext() with the dictionary results of tokens taken from the cache.
 * Fills prs->words with the same lexemes in the same order (positions are
 * not kept: nothing here uses them).  Returns false, with prs unusable,
 * when a dictionary wanted several tokens.
 */
static bool
parsetext_cached(Oid cfgId, ParsedText *prs, char *buf, int buflen, Bm25LexCache *c)
{
	TSConfigCacheEntry *cfg = lookup_ts_config_cache(cfgId);
	TSParserCacheEntry *prsobj = lookup_ts_parser_cache(cfg->prsId);
	void	   *prsdata;
	int			type;
	char	   *lemm = NULL;
	int			lenlemm = 0;
	bool		ok = true;

	prsdata = DatumGetPointer(FunctionCall2(&prsobj->prsstart,
											PointerGetDatum(buf), Int32GetDatum(buflen)));
	do
	{
		uint32		h;
		Bm25LexEntry *e;
		TSLexeme   *res;
		bool		multi = false;

		type = DatumGetInt32(FunctionCall3(&prsobj->prstoken, PointerGetDatum(prsdata),
										   PointerGetDatum(&lemm), PointerGetDatum(&lenlemm)));
		if (type > 0 && lenlemm >= MAXSTRLEN)
		{
			/* parsetext's own notice, word for word */
			ereport(NOTICE,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("word is too long to be indexed"),
					 errdetail("Words longer than %d characters are ignored.",
							   MAXSTRLEN)));
			continue;
		}
		if (type <= 0 || type >= cfg->lenmap || cfg->map[type].len == 0)
			continue;

		h = hash_bytes_extended((const unsigned char *) lemm, lenlemm, type) | 1;
		e = lexcache_slot(c, (uint32) h, type, lemm, lenlemm);
		if (e->hash != 0)
		{
			for (int i = 0; i < e->nlex; i++)
				add_word(prs, e->lex[i]);
			continue;
		}

		res = lexize_token(cfg, type, lemm, lenlemm, &multi);
		if (multi)
		{
			ok = false;
			break;
		}
		if (c->bytes < c->budget)
		{
			int			n = 0;
			MemoryContext old = MemoryContextSwitchTo(c->cxt);

			while (res && res[n].lexeme)
				n++;
			e->hash = (uint32) h;
			e->type = type;
			e->toklen = lenlemm;
			e->tok = pnstrdup(lemm, lenlemm);
			e->nlex = n;
			e->lex = n > 0 ? palloc(sizeof(char *) * n) : NULL;
			c->bytes += sizeof(Bm25LexEntry) + lenlemm + 1 + sizeof(char *) * n;
			for (int i = 0; i < n; i++)
			{
				e->lex[i] = pstrdup(res[i].lexeme);
				c->bytes += strlen(res[i].lexeme) + 1;
			}
			MemoryContextSwitchTo(old);
			for (int i = 0; i < n; i++)
				add_word(prs, e->lex[i]);
			if (++c->nused * 2 > c->nslots)
				lexcache_grow(c);
		}
		else
		{
			for (TSLexeme *p = res; p && p->lexeme; p++)
				add_word(prs, p->lexeme);
		}
	} while (type > 0);
	FunctionCall1(&prsobj->prsend, PointerGetDatum(prsdata));
	return ok;
}

/*
 * Runs the parser and dictionaries of cfg over text and drops lexemes the
 * segment format cannot hold; dl counts exactly the words kept.
 */
static void
bm25_parse_words(Oid cfg, const char *text, int len, ParsedText *prs,
				 Bm25LexCache *cache)
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

	if (len > 0 && cache != NULL && !cache->disabled)
	{
		if (!parsetext_cached(cfg, prs, (char *) text, len, cache))
		{
			cache->disabled = true;
			prs->curwords = 0;
			prs->pos = 0;
			parsetext(cfg, prs, (char *) text, len);
		}
	}
	else if (len > 0)
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
bm25_analyze_doc(Oid cfg, const char *text, int len, Bm25Doc *doc,
				 Bm25LexCache *cache)
{
	ParsedText	prs;
	uint32		n = 0;
	uint32		nslots = 16;
	uint32		mask;
	int32	   *slots;

	bm25_parse_words(cfg, text, len, &prs, cache);
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
 * Per-backend cache of analyzed query clauses.
 *
 * A ranked query spends as long running the parser and dictionaries over
 * its few words as looking them up, and applications send the same words
 * again and again.  What the configuration makes of a clause depends only
 * on the clause's bytes and the text search catalogs, so the lexemes are
 * kept per (configuration, clause) in a direct-mapped table and the whole
 * table is dropped whenever a text search catalog entry is invalidated:
 * that is when PostgreSQL's own text search caches let go of parsers,
 * dictionaries and configurations too.  Clauses long enough to hold a word
 * parsetext() refuses with a notice are not cached, so the notice is given
 * every time, as without the cache.
 */
#define QCACHE_SLOTS	1024

typedef struct QClauseEntry
{
	Oid			cfg;
	int			len;
	int			nlex;
	char	   *text;			/* len bytes, in the same chunk */
	char	  **lex;			/* nlex NUL-terminated lexemes */
} QClauseEntry;

static MemoryContext qcache_cxt = NULL;
static QClauseEntry **qcache = NULL;
static uint64 ts_generation = 0;

/*
 * Syscache callback: a text search catalog changed, so forget every clause,
 * and let prepared queries (prepare.c) see that their analysis is stale.
 */
static void
qcache_inval(Datum arg, int cacheid, uint32 hashvalue)
{
	if (qcache_cxt != NULL)
		MemoryContextReset(qcache_cxt);
	qcache = NULL;
	ts_generation++;
	bm25_shcache_ts_changed();
}

static bool callbacks_registered = false;

/*
 * Registers the invalidation callbacks, once per process.  With the
 * library preloaded this runs in the postmaster (from _PG_init), so every
 * backend reports text search changes to the shared clause cache from its
 * start, whether or not it has analyzed anything itself.
 */
void
bm25_analyze_register_callbacks(void)
{
	if (callbacks_registered)
		return;
	CacheRegisterSyscacheCallback(TSCONFIGOID, qcache_inval, (Datum) 0);
	CacheRegisterSyscacheCallback(TSCONFIGMAP, qcache_inval, (Datum) 0);
	CacheRegisterSyscacheCallback(TSDICTOID, qcache_inval, (Datum) 0);
	CacheRegisterSyscacheCallback(TSPARSEROID, qcache_inval, (Datum) 0);
	CacheRegisterSyscacheCallback(TSTEMPLATEOID, qcache_inval, (Datum) 0);
	callbacks_registered = true;
}

/* Creates the cache's memory context and the callbacks, once per backend. */
static void
qcache_init(void)
{
	if (qcache_cxt != NULL)
		return;
	qcache_cxt = AllocSetContextCreate(TopMemoryContext, "bm25 query clause cache",
									   ALLOCSET_DEFAULT_SIZES);
	bm25_analyze_register_callbacks();
}

/*
 * A counter that moves whenever a text search catalog entry is invalidated:
 * anything derived from analyzing text is stale once it has moved.
 */
uint64
bm25_ts_generation(void)
{
	qcache_init();
	return ts_generation;
}

/* The cache table, created on first use and after each invalidation. */
static QClauseEntry **
qcache_table(void)
{
	qcache_init();
	if (qcache == NULL)
		qcache = MemoryContextAllocZero(qcache_cxt, sizeof(QClauseEntry *) * QCACHE_SLOTS);
	return qcache;
}

/*
 * The lexemes of one query clause, as bm25_parse_words gives them, into
 * *words (current memory context) and *n.
 */
static void
analyze_clause(Oid cfg, const char *text, int len, char ***words, int *n)
{
	QClauseEntry **tab;
	QClauseEntry *e;
	uint32		slot;
	ParsedText	prs;
	Size		size;
	char	   *p;

	if (len >= MAXSTRLEN)
	{
		bm25_parse_words(cfg, text, len, &prs, NULL);
		*words = palloc(sizeof(char *) * Max(prs.curwords, 1));
		for (int i = 0; i < prs.curwords; i++)
			(*words)[i] = pnstrdup(prs.words[i].word, prs.words[i].len);
		*n = prs.curwords;
		return;
	}
	slot = hash_bytes_extended((const unsigned char *) text, len, cfg) % QCACHE_SLOTS;
	e = qcache_table()[slot];
	if (e == NULL || e->cfg != cfg || e->len != len || memcmp(e->text, text, len) != 0)
	{
		char	  **lex;
		int			nlex;
		uint64		epoch;
		bool		shared;

		/*
		 * Another backend may have analyzed it already (shcache.c).  If not,
		 * analyze it here, first: an error must not leave a half-made entry,
		 * and the catalog lookups inside (and bm25_shcache_sync) may process
		 * invalidations that drop the table, so it is fetched again
		 * afterwards.
		 */
		shared = bm25_shcache_clause_get(cfg, text, len, &lex, &nlex, &epoch);
		if (!shared)
		{
			if (epoch != 0)
				bm25_shcache_sync();
			bm25_parse_words(cfg, text, len, &prs, NULL);
			nlex = prs.curwords;
			lex = palloc(sizeof(char *) * Max(nlex, 1));
			for (int i = 0; i < nlex; i++)
				lex[i] = pnstrdup(prs.words[i].word, prs.words[i].len);
		}
		size = sizeof(QClauseEntry) + len + sizeof(char *) * Max(nlex, 1);
		for (int i = 0; i < nlex; i++)
			size += strlen(lex[i]) + 1;
		tab = qcache_table();
		if (tab[slot] != NULL)
			pfree(tab[slot]);
		tab[slot] = NULL;
		e = MemoryContextAlloc(qcache_cxt, size);
		e->cfg = cfg;
		e->len = len;
		e->nlex = nlex;
		e->lex = (char **) (e + 1);
		p = (char *) (e->lex + Max(nlex, 1));
		for (int i = 0; i < nlex; i++)
		{
			size_t		l = strlen(lex[i]);

			e->lex[i] = p;
			memcpy(p, lex[i], l + 1);
			p += l + 1;
		}
		e->text = p;
		memcpy(e->text, text, len);
		tab[slot] = e;
		if (!shared)
			bm25_shcache_clause_put(cfg, text, len, e->lex, e->nlex, epoch);
	}
	/* copies: the entry may be replaced while the query is still in use */
	*words = palloc(sizeof(char *) * Max(e->nlex, 1));
	for (int i = 0; i < e->nlex; i++)
		(*words)[i] = pstrdup(e->lex[i]);
	*n = e->nlex;
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
		char	  **words;
		int			nwords;

		analyze_clause(cfg, clauses[c].text, clauses[c].len, &words, &nwords);
		for (int i = 0; i < nwords; i++)
		{
			if (n == cap)
			{
				cap *= 2;
				out = repalloc(out, sizeof(bm25_qterm) * cap);
			}
			out[n].text = words[i];
			out[n].len = strlen(words[i]);
			out[n].occur = clauses[c].occur;
			out[n].qtf = 0;
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
	bm25_parse_words(p->state->cfg, text, len, &prs, NULL);
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
