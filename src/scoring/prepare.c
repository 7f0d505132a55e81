/*-------------------------------------------------------------------------
 * prepare.c
 *	  Binding an analyzed query to one view of an index: per-segment term
 *	  lookups, document frequencies summed over segments, and the scorer.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

#include "utils/memutils.h"

/*
 * Doc-length normalizations shared by every query this backend ranks: they
 * depend only on k1, b and the average doc length, which stay put between
 * writes, so the engine fills them once instead of once per query (it
 * empties the cache itself when the three differ).  Top-k calls never
 * overlap in a backend.
 */
static bm25_norm_cache backend_norms;

/*
 * Looks term up in segment s of state: through the cache shared by all
 * backends for a segment file (what another backend found is checked
 * against the file before use), else in the segment, whose result is then
 * shared.
 */
static int
lookup_term(const Bm25IndexState *state, uint32 s, const bm25_qterm *term,
			bm25_term_info *info)
{
	const Bm25SegmentKey *key = &state->segkeys[s];
	int			status;

	if (key->shared &&
		bm25_shcache_term_get(key, term->text, term->len, info) &&
		bm25_segment_check_info(state->segs[s], info) == BM25_OK)
		return BM25_OK;
	status = bm25_segment_lookup(state->segs[s], term->text, term->len, info);
	if (status == BM25_OK && key->shared)
		bm25_shcache_term_put(key, term->text, term->len, info);
	return status;
}

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
			int			status = lookup_term(state, s, &p->terms[i], &infos[i]);

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
	p->scorer.norms = &backend_norms;
	p->can_match = bm25_query_count(p->terms, p->nterms, BM25_MUST) +
		bm25_query_count(p->terms, p->nterms, BM25_SHOULD) > 0;
	return p;
}

/*
 * Per-backend cache of prepared queries.
 *
 * A ranked query prepares its query twice per execution (selectivity at
 * plan time, then the scan) and again on every execution; preparing means
 * reading the index state (copying the write buffer), analyzing the query
 * and looking every term up in every segment.  The cache keeps the result
 * for a few recent (index, query) pairs and reuses it while the metapage,
 * and the options that shape scoring, are byte for byte what they were and
 * no text search catalog entry has been invalidated since (which could
 * change what the query's words analyze to): any change to the index (an
 * insert, a conversion, a merge, VACUUM) changes the metapage, so a reused
 * entry is exactly what preparing afresh would give.
 *
 * Entries are pinned by their users until the user's memory context goes
 * away, so eviction never frees an entry a suspended cursor still uses.
 */
#define PREPCACHE_SIZE	16

typedef struct PrepCacheEntry
{
	Oid			indexoid;
	double		k1;
	double		b;
	char	   *config;			/* text_config option when prepared */
	char	   *query;
	int			len;
	Bm25MetaPageData meta;		/* the metapage the state was read from */
	uint64		ts_generation;	/* bm25_ts_generation() when analyzed */
	MemoryContext cxt;			/* holds everything of the entry */
	Bm25Prepared *prep;
	int			pins;
	bool		retired;
	uint64		lastuse;
} PrepCacheEntry;

static PrepCacheEntry *prepcache[PREPCACHE_SIZE];
static uint64 prepcache_clock = 0;

/* Frees an entry that is out of the cache and no longer pinned. */
static void
prepcache_maybe_free(PrepCacheEntry *e)
{
	if (e->retired && e->pins == 0)
		MemoryContextDelete(e->cxt);	/* the entry lives in it too */
}

/* Takes an entry out of the cache. */
static void
prepcache_retire(int slot)
{
	PrepCacheEntry *e = prepcache[slot];

	prepcache[slot] = NULL;
	e->retired = true;
	prepcache_maybe_free(e);
}

/* Memory context callback: a user of the entry is done with it. */
static void
prepcache_unpin(void *arg)
{
	PrepCacheEntry *e = (PrepCacheEntry *) arg;

	e->pins--;
	prepcache_maybe_free(e);
}

/* Pins e for the lifetime of the current memory context. */
static Bm25Prepared *
prepcache_pin(PrepCacheEntry *e)
{
	MemoryContextCallback *cb = palloc(sizeof(MemoryContextCallback));

	e->pins++;
	e->lastuse = ++prepcache_clock;
	cb->func = prepcache_unpin;
	cb->arg = e;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	return e->prep;
}

/*
 * Finds a still valid entry for (index, query), retiring a stale one;
 * otherwise sets *victim to the slot to reuse and returns NULL.  Kept out
 * of line: inlined into a function with PG_TRY its loop variable would be
 * at risk from longjmp.
 */
static pg_noinline PrepCacheEntry *
prepcache_lookup(Oid indexoid, const char *query, int len, double k1, double b,
				 const char *config, const Bm25MetaPageData *meta, uint64 tsgen,
				 int *victim)
{
	PrepCacheEntry *e;

	*victim = 0;
	for (int i = 0; i < PREPCACHE_SIZE; i++)
	{
		e = prepcache[i];
		if (e == NULL)
		{
			*victim = i;
			continue;
		}
		if (e->indexoid == indexoid && e->len == len &&
			memcmp(e->query, query, len) == 0)
		{
			if (e->k1 == k1 && e->b == b && strcmp(e->config, config) == 0 &&
				e->ts_generation == tsgen &&
				memcmp(&e->meta, meta, sizeof(*meta)) == 0)
				return e;
			/* stale: the index or the text search catalogs changed since */
			prepcache_retire(i);
			*victim = i;
			continue;
		}
		if (prepcache[*victim] != NULL && e->lastuse < prepcache[*victim]->lastuse)
			*victim = i;
	}
	if (prepcache[*victim] != NULL)
		prepcache_retire(*victim);
	return NULL;
}

/*
 * Returns query prepared against the current state of index, from the cache
 * when nothing changed.  The result stays valid until the current memory
 * context is reset or deleted.
 */
Bm25Prepared *
bm25_prepare_cached(Relation index, const char *query, int len)
{
	Bm25MetaPageData meta;
	double		k1;
	double		b;
	const char *config = bm25_options_config_name(index);
	Oid			indexoid = RelationGetRelid(index);
	int			victim;
	uint64		tsgen;
	MemoryContext cxt;
	MemoryContext old;
	PrepCacheEntry *e;

	bm25_require_preload();
	bm25_meta_read(index, &meta);
	bm25_options_params(index, &k1, &b);
	tsgen = bm25_ts_generation();
	e = prepcache_lookup(indexoid, query, len, k1, b, config, &meta, tsgen, &victim);
	if (e != NULL)
		return prepcache_pin(e);

	cxt = AllocSetContextCreate(TopMemoryContext, "bm25 prepared query",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		e = palloc0(sizeof(PrepCacheEntry));
		e->cxt = cxt;
		e->indexoid = indexoid;
		e->k1 = k1;
		e->b = b;
		e->config = pstrdup(config);
		e->query = palloc(Max(len, 1));
		memcpy(e->query, query, len);
		e->len = len;
		e->ts_generation = tsgen;
		e->prep = bm25_prepare(bm25_index_state(index), query, len);
		/* the snapshot the state really used, which may be newer than meta */
		e->meta = e->prep->state->meta;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	prepcache[victim] = e;
	return prepcache_pin(e);
}
