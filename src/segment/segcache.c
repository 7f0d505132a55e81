/*-------------------------------------------------------------------------
 * segcache.c
 *	  Per-backend cache of mmap'd segment files, and the per-query view of
 *	  an index (Bm25IndexState): its metapage, options and open segments.
 *
 * Segment files are immutable once published, so a mapping stays valid
 * for the life of the backend; a mapping survives even the unlink of its
 * file.  Entries whose segment left the manifest are dropped from the cache
 * the next time the index is opened, which bounds the cache by the live
 * segments; the write buffer's in-memory segment is replaced whenever the
 * buffer changes.
 *
 * A dropped or replaced object may still be in use: a cursor suspended in
 * the middle of a top-k scan keeps its view of the index across other
 * queries of the same backend.  So cached objects are reference counted:
 * every Bm25IndexState holds a reference until the memory context it lives
 * in goes away, and a retired object is freed when its last reference is.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

typedef struct SegCacheKey
{
	Oid			spc;
	Oid			db;
	uint32		rel;
	uint32		pad;
	uint64		instance;		/* Bm25MetaPageData.instance_id */
	uint64		segid;			/* 0: the write buffer's in-memory segment */
} SegCacheKey;

/* One open segment: an mmap'd file or the write buffer built in memory. */
typedef struct CachedSeg
{
	void	   *base;
	size_t		len;
	bm25_segment *seg;
	bool		in_memory;		/* base is malloc'd, not mmap'd */
	bool		retired;		/* out of the cache; freed when refs drops to 0 */
	int			refs;			/* index states using it */
} CachedSeg;

typedef struct SegCacheEntry
{
	SegCacheKey key;
	CachedSeg  *obj;
	uint64		l0_generation;	/* for the write buffer: what it reflects */
	uint64		l0_bytes;
} SegCacheEntry;

/* The references one Bm25IndexState holds, released with its context. */
typedef struct StateRefs
{
	MemoryContextCallback cb;
	int			n;
	CachedSeg  *objs[FLEXIBLE_ARRAY_MEMBER];
} StateRefs;

static HTAB *segcache = NULL;

/* Creates the cache on first use, in TopMemoryContext. */
static void
segcache_init(void)
{
	HASHCTL		ctl;

	if (segcache)
		return;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(SegCacheKey);
	ctl.entrysize = sizeof(SegCacheEntry);
	ctl.hcxt = TopMemoryContext;
	segcache = hash_create("bm25 segment cache", 64, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* Fills a cache key for segment segid of the index stored at rf. */
static void
segcache_key(SegCacheKey *key, const Bm25RelFile *rf, uint64 instance, uint64 segid)
{
	memset(key, 0, sizeof(*key));
	key->spc = BM25_RELFILE_SPC(*rf);
	key->db = BM25_RELFILE_DB(*rf);
	key->rel = (uint32) BM25_RELFILE_REL(*rf);
	key->instance = instance;
	key->segid = segid;
}

/* Frees a cached object's mapping (or buffer) and reader; never errors. */
static void
cachedseg_free(CachedSeg *o)
{
	if (o->in_memory)
	{
		if (o->seg)
			bm25_segment_close(o->seg);
		free(o->base);
	}
	else
	{
		Bm25Mapped	m;

		m.base = o->base;
		m.len = o->len;
		m.seg = o->seg;
		bm25_unmap_segment(&m);
	}
	pfree(o);
}

/* Takes an object out of the cache; frees it unless someone still uses it. */
static void
cachedseg_retire(CachedSeg *o)
{
	o->retired = true;
	if (o->refs == 0)
		cachedseg_free(o);
}

/* A new cache object in TopMemoryContext. */
static CachedSeg *
cachedseg_new(void *base, size_t len, bm25_segment *seg, bool in_memory)
{
	CachedSeg  *o = MemoryContextAllocZero(TopMemoryContext, sizeof(CachedSeg));

	o->base = base;
	o->len = len;
	o->seg = seg;
	o->in_memory = in_memory;
	return o;
}

/* Memory context callback: drops an index state's references. */
static void
state_refs_release(void *arg)
{
	StateRefs  *r = (StateRefs *) arg;

	for (int i = 0; i < r->n; i++)
	{
		CachedSeg  *o = r->objs[i];

		if (--o->refs == 0 && o->retired)
			cachedseg_free(o);
	}
	r->n = 0;
}

/* Records that the state owning r uses o. */
static const bm25_segment *
state_refs_add(StateRefs *r, CachedSeg *o)
{
	o->refs++;
	r->objs[r->n++] = o;
	return o->seg;
}

/*
 * Maps and validates the file of one manifest entry.  A missing, short or
 * invalid file is reported as corruption with a hint to rebuild.
 */
void
bm25_map_segment(Relation index, const Bm25SegmentEntry *entry, Bm25Mapped *m)
{
	Bm25RelFile rf = BM25_RELFILE(index);
	char	   *path;
	int			fd;
	struct stat st;
	void	   *base;
	bm25_segment *seg;
	char		errbuf[256];
	int			status;

	path = bm25_segment_path(&rf, entry->id);
	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		if (errno == ENOENT)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("bm25 index \"%s\" is missing its segment file \"%s\"",
							RelationGetRelationName(index), path),
					 errhint("The index must be rebuilt: REINDEX INDEX %s.",
							 quote_identifier(RelationGetRelationName(index)))));
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open bm25 segment file \"%s\": %m", path)));
	}
	if (fstat(fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat bm25 segment file \"%s\": %m", path)));
	if ((uint64) st.st_size != entry->file_size || st.st_size == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("bm25 segment file \"%s\" has size %lld, the index expects " UINT64_FORMAT,
						path, (long long) st.st_size, entry->file_size),
				 errhint("The index must be rebuilt: REINDEX INDEX %s.",
						 quote_identifier(RelationGetRelationName(index)))));
	base = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not map bm25 segment file \"%s\": %m", path)));
	CloseTransientFile(fd);

	errbuf[0] = '\0';
	status = bm25_segment_open(base, st.st_size, &seg, errbuf, sizeof(errbuf));
	if (status == BM25_OK &&
		(bm25_segment_ndocs(seg) != entry->ndocs ||
		 bm25_segment_total_tokens(seg) != entry->total_tokens))
	{
		bm25_segment_close(seg);
		snprintf(errbuf, sizeof(errbuf), "document statistics differ from the metapage");
		status = BM25_ECORRUPT;
	}
	if (status != BM25_OK)
	{
		munmap(base, st.st_size);
		if (status == BM25_ECORRUPT)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("bm25 segment file \"%s\" is corrupted: %s", path, errbuf),
					 errhint("The index must be rebuilt: REINDEX INDEX %s.",
							 quote_identifier(RelationGetRelationName(index)))));
		bm25_report_status(status, index, "opening a segment");
	}
	m->base = base;
	m->len = st.st_size;
	m->seg = seg;
	pfree(path);
}

/* Releases a mapping made by bm25_map_segment. */
void
bm25_unmap_segment(Bm25Mapped *m)
{
	if (m->seg)
		bm25_segment_close(m->seg);
	if (m->base)
		munmap(m->base, m->len);
	m->seg = NULL;
	m->base = NULL;
}

/*
 * Returns the cached object of a manifest entry, mapping and validating the
 * file on first use in this backend.
 */
static CachedSeg *
segcache_get(Relation index, uint64 instance, const Bm25SegmentEntry *entry)
{
	Bm25RelFile rf = BM25_RELFILE(index);
	SegCacheKey key;
	SegCacheEntry *e;
	bool		found;
	Bm25Mapped	m;

	segcache_init();
	segcache_key(&key, &rf, instance, entry->id);
	e = hash_search(segcache, &key, HASH_FIND, NULL);
	if (e)
		return e->obj;

	bm25_map_segment(index, entry, &m);
	e = hash_search(segcache, &key, HASH_ENTER, &found);
	e->obj = cachedseg_new(m.base, m.len, m.seg, false);
	return e->obj;
}

/* Growable in-memory output for the core writer. */
typedef struct MemIO
{
	char	   *buf;
	size_t		len;
	size_t		cap;
} MemIO;

/* pwrite-style callback into a MemIO; may not ereport (core callback). */
static int
memio_write(void *ctx, uint64_t offset, const void *data, size_t len)
{
	MemIO	   *m = (MemIO *) ctx;

	if (offset + len > m->cap)
	{
		size_t		ncap = Max(m->cap * 2, offset + len + 65536);
		char	   *n = realloc(m->buf, ncap);

		if (n == NULL)
			return -1;
		memset(n + m->cap, 0, ncap - m->cap);
		m->buf = n;
		m->cap = ncap;
	}
	memcpy(m->buf + offset, data, len);
	m->len = Max(m->len, offset + len);
	return 0;
}

/* The cached in-memory write buffer segment, if it reflects meta. */
static CachedSeg *
segcache_l0_lookup(Relation index, const Bm25MetaPageData *meta)
{
	Bm25RelFile rf = BM25_RELFILE(index);
	SegCacheKey key;
	SegCacheEntry *e;

	segcache_init();
	segcache_key(&key, &rf, meta->instance_id, 0);
	e = hash_search(segcache, &key, HASH_FIND, NULL);
	if (e && e->l0_generation == meta->l0_generation && e->l0_bytes == meta->l0_bytes)
		return e->obj;
	return NULL;
}

/*
 * Returns the write buffer of the index as an in-memory segment, so that
 * matching, ranking and statistics treat it exactly like a segment file.
 * Rebuilt only when the buffer changed since this backend last looked.
 */
static CachedSeg *
segcache_l0(Relation index, const Bm25MetaPageData *meta, const char *bytes)
{
	Bm25RelFile rf = BM25_RELFILE(index);
	SegCacheKey key;
	SegCacheEntry *e;
	bool		found;
	MemIO		io = {NULL, 0, 0};
	bm25_writer_io wio;
	bm25_seg_summary sum;
	Bm25BuilderGuard *g;
	bm25_segment *seg;
	char		errbuf[256];
	int			status;

	segcache_init();
	segcache_key(&key, &rf, meta->instance_id, 0);
	e = hash_search(segcache, &key, HASH_FIND, NULL);
	if (e && e->l0_generation == meta->l0_generation && e->l0_bytes == meta->l0_bytes)
		return e->obj;

	g = bm25_builder_guard_create();
	(void) bm25_l0_add_to_builder(index, bytes, meta->l0_bytes, g->b);
	wio.ctx = &io;
	wio.write = memio_write;
	status = bm25_builder_write(g->b, &wio, &sum);
	bm25_builder_free(g->b);
	g->b = NULL;
	if (status == BM25_EIO)
		status = BM25_ENOMEM;
	if (status == BM25_OK)
		status = bm25_segment_open(io.buf, io.len, &seg, errbuf, sizeof(errbuf));
	if (status != BM25_OK)
	{
		free(io.buf);
		bm25_report_status(status, index, "loading the write buffer");
	}

	if (e)
		cachedseg_retire(e->obj);
	else
		e = hash_search(segcache, &key, HASH_ENTER, &found);
	e->obj = cachedseg_new(io.buf, io.len, seg, true);
	e->l0_generation = meta->l0_generation;
	e->l0_bytes = meta->l0_bytes;
	return e->obj;
}

/* Drops cached segments of rf that the manifest no longer lists. */
static void
segcache_prune(const Bm25RelFile *rf, const Bm25MetaPageData *meta)
{
	HASH_SEQ_STATUS hs;
	SegCacheEntry *e;

	if (!segcache)
		return;
	hash_seq_init(&hs, segcache);
	while ((e = hash_seq_search(&hs)) != NULL)
	{
		bool		live = false;

		if (e->key.spc != BM25_RELFILE_SPC(*rf) || e->key.db != BM25_RELFILE_DB(*rf) ||
			e->key.rel != (uint32) BM25_RELFILE_REL(*rf))
			continue;
		if (meta && e->key.instance == meta->instance_id)
		{
			live = e->key.segid == 0;	/* the write buffer entry stays */
			for (uint32 i = 0; i < meta->nsegments; i++)
				if (meta->segments[i].id == e->key.segid)
					live = true;
		}
		if (!live)
		{
			cachedseg_retire(e->obj);
			hash_search(segcache, &e->key, HASH_REMOVE, NULL);
		}
	}
}

/*
 * Reads the metapage and opens all live segments and the write buffer: the
 * consistent view one scan or one scoring call works from.  The metapage
 * stays share-locked while files are mapped and the buffer is copied, so
 * no concurrent change can unlink a file or rewrite the buffer under us.
 * Checks that the index was built with the configuration its options
 * still name.
 */
Bm25IndexState *
bm25_index_state(Relation index)
{
	Bm25IndexState *st;
	Bm25RelFile rf = BM25_RELFILE(index);
	Oid			optcfg;
	Bm25MetaLock ml;
	char	   *volatile l0 = NULL;
	StateRefs  *refs;

	bm25_require_preload();

	st = palloc0(sizeof(Bm25IndexState));
	st->indexoid = RelationGetRelid(index);
	bm25_meta_lock(index, &ml, BUFFER_LOCK_SHARE);
	st->meta = ml.meta;
	st->segs = palloc0(sizeof(bm25_segment *) * (st->meta.nsegments + 1));
	st->segkeys = palloc0(sizeof(Bm25SegmentKey) * (st->meta.nsegments + 1));
	/* references are dropped when the memory holding this state goes */
	refs = palloc0(offsetof(StateRefs, objs) + sizeof(CachedSeg *) * (st->meta.nsegments + 1));
	refs->cb.func = state_refs_release;
	refs->cb.arg = refs;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &refs->cb);
	PG_TRY();
	{
		segcache_prune(&rf, &st->meta);
		for (uint32 i = 0; i < st->meta.nsegments; i++)
		{
			Bm25SegmentKey *k = &st->segkeys[st->nsegs];

			k->spc = BM25_RELFILE_SPC(rf);
			k->db = BM25_RELFILE_DB(rf);
			k->rel = BM25_RELFILE_REL(rf);
			k->shared = 1;
			k->instance = st->meta.instance_id;
			k->segid = st->meta.segments[i].id;
			k->file_size = st->meta.segments[i].file_size;
			st->segs[st->nsegs++] =
				state_refs_add(refs, segcache_get(index, st->meta.instance_id,
												  &st->meta.segments[i]));
		}
		if (st->meta.l0_docs > 0)
		{
			CachedSeg  *cached = segcache_l0_lookup(index, &st->meta);

			/* copy the buffer only when this backend has not seen it yet */
			if (cached)
				st->segs[st->nsegs++] = state_refs_add(refs, cached);
			else
				l0 = bm25_l0_read(index, &st->meta);
		}
	}
	PG_CATCH();
	{
		bm25_meta_unlock(&ml);
		PG_RE_THROW();
	}
	PG_END_TRY();
	bm25_meta_unlock(&ml);

	if (l0 != NULL)
	{
		st->segs[st->nsegs++] = state_refs_add(refs, segcache_l0(index, &st->meta, l0));
		pfree(l0);
	}

	st->cfg = st->meta.text_config;
	optcfg = bm25_resolve_config(bm25_options_config_name(index), true);
	if (optcfg != st->cfg)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("bm25 index \"%s\" was built with a different text_config than its options now name",
						RelationGetRelationName(index)),
				 errhint("Rebuild the index with REINDEX INDEX %s.",
						 quote_identifier(RelationGetRelationName(index)))));
	bm25_options_params(index, &st->k1, &st->b);
	st->N = st->meta.total_docs + st->meta.l0_docs;
	st->total_tokens = st->meta.total_tokens + st->meta.l0_tokens;
	return st;
}
