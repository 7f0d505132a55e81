/*-------------------------------------------------------------------------
 * metapage.c
 *	  Block 0 of a bm25 index: format version, manifest of live segment
 *	  files, the write buffer's extent, and corpus statistics.
 *
 * The metapage is the single point of publication: a segment file exists
 * for queries only once a metapage listing it is WAL-logged, and write
 * buffer bytes count only once the metapage's l0_bytes covers them.  All
 * writes use generic WAL, so redo of pages needs no extension code.
 *
 * Locking: writers hold the metapage buffer exclusively for the whole
 * read-modify-write (and while they write write-buffer pages); readers
 * hold it shared while they copy the write buffer and open segment files,
 * so a file is never unlinked between reading the manifest and mapping it.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

#include "access/generic_xlog.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/bufpage.h"
#include "utils/timestamp.h"

StaticAssertDecl(sizeof(Bm25SegmentEntry) == 32,
				 "Bm25SegmentEntry layout changed: bump BM25_META_VERSION");
StaticAssertDecl(sizeof(Bm25MetaPageData) == 80 + 32 * BM25_MAX_SEGMENTS + 8,
				 "Bm25MetaPageData layout changed: bump BM25_META_VERSION");
StaticAssertDecl(sizeof(Bm25MetaPageData) <= BLCKSZ - MAXALIGN(SizeOfPageHeaderData),
				 "Bm25MetaPageData must fit on one page");

/* Checksum of the metapage contents, excluding the crc field itself. */
static uint32
bm25_meta_crc(const Bm25MetaPageData *meta)
{
	return bm25_crc32c(0, meta, offsetof(Bm25MetaPageData, crc));
}

/* A fresh, empty manifest for an index built with configuration cfg. */
void
bm25_meta_init_empty(Bm25MetaPageData *meta, Oid cfg)
{
	memset(meta, 0, sizeof(*meta));
	meta->magic = BM25_META_MAGIC;
	meta->version = BM25_META_VERSION;
	meta->text_config = cfg;
	meta->next_segment_id = 1;
	if (!pg_strong_random(&meta->instance_id, sizeof(meta->instance_id)))
		meta->instance_id = (uint64) GetCurrentTimestamp() ^ ((uint64) MyProcPid << 32);
}

/* Recomputes the derived fields (sums, magic, version) and the checksum. */
void
bm25_meta_finalize(Bm25MetaPageData *meta)
{
	uint64		docs = 0;
	uint64		tokens = 0;

	for (uint32 i = 0; i < meta->nsegments; i++)
	{
		docs += meta->segments[i].ndocs;
		tokens += meta->segments[i].total_tokens;
	}
	meta->total_docs = docs;
	meta->total_tokens = tokens;
	meta->magic = BM25_META_MAGIC;
	meta->version = BM25_META_VERSION;
	meta->padding = 0;
	meta->crc = bm25_meta_crc(meta);
}

/*
 * Validates a metapage copy; any inconsistency is reported as corruption
 * because nothing can be trusted past it.
 */
void
bm25_meta_check(Relation index, Bm25MetaPageData *meta)
{
	uint64		docs = 0;
	uint64		tokens = 0;

	if (meta->magic != BM25_META_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("bm25 index \"%s\" has a bad metapage magic number %08X",
						RelationGetRelationName(index), meta->magic),
				 errhint("Rebuild the index with REINDEX.")));
	if (meta->version != BM25_META_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("bm25 index \"%s\" has metapage format version %u, this library reads version %u",
						RelationGetRelationName(index), meta->version, BM25_META_VERSION),
				 errhint("Rebuild the index with REINDEX.")));
	if (meta->crc != bm25_meta_crc(meta))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("bm25 index \"%s\" has a metapage checksum mismatch",
						RelationGetRelationName(index)),
				 errhint("Rebuild the index with REINDEX.")));
	if (meta->nsegments > BM25_MAX_SEGMENTS)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("bm25 index \"%s\" lists %u segments, more than the limit of %d",
						RelationGetRelationName(index), meta->nsegments, BM25_MAX_SEGMENTS),
				 errhint("Rebuild the index with REINDEX.")));
	for (uint32 i = 0; i < meta->nsegments; i++)
	{
		docs += meta->segments[i].ndocs;
		tokens += meta->segments[i].total_tokens;
	}
	if (docs != meta->total_docs || tokens != meta->total_tokens ||
		meta->l0_bytes > (uint64) meta->l0_pages * BM25_L0_PAGE_CAPACITY ||
		(meta->l0_docs == 0) != (meta->l0_bytes == 0))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("bm25 index \"%s\" has inconsistent statistics in its metapage",
						RelationGetRelationName(index)),
				 errhint("Rebuild the index with REINDEX.")));
}

/*
 * What this backend remembers of an index's metapage, kept in rd_amcache
 * so that any relcache rebuild (REINDEX, TRUNCATE, DROP) forgets it: that
 * block 0 exists, and the last image that passed bm25_meta_check.  Every
 * query reads the metapage at least once; checking its size costs an
 * lseek and validating it a 2 kB checksum, and between two WAL-logged
 * updates every read returns the same bytes.
 */
typedef struct Bm25MetaCache
{
	bool		exists;			/* block 0 was read */
	bool		valid;			/* meta passed bm25_meta_check */
	Bm25MetaPageData meta;
} Bm25MetaCache;

/* This backend's metapage memory for index, created on first use. */
static Bm25MetaCache *
meta_cache(Relation index)
{
	if (index->rd_amcache == NULL)
		index->rd_amcache = MemoryContextAllocZero(index->rd_indexcxt, sizeof(Bm25MetaCache));
	return (Bm25MetaCache *) index->rd_amcache;
}

/*
 * Reads, locks (BUFFER_LOCK_SHARE or _EXCLUSIVE) and validates the
 * metapage; an image byte-identical to one already validated is taken as
 * it is.
 */
void
bm25_meta_lock(Relation index, Bm25MetaLock *ml, int mode)
{
	Bm25MetaCache *mc = meta_cache(index);

	if (!mc->exists && RelationGetNumberOfBlocks(index) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("bm25 index \"%s\" has no metapage", RelationGetRelationName(index)),
				 errhint("Rebuild the index with REINDEX.")));
	ml->buf = ReadBuffer(index, BM25_METAPAGE_BLKNO);
	mc->exists = true;
	LockBuffer(ml->buf, mode);
	memcpy(&ml->meta, PageGetContents(BufferGetPage(ml->buf)), sizeof(ml->meta));
	if (mc->valid && memcmp(&ml->meta, &mc->meta, sizeof(ml->meta)) == 0)
		return;
	PG_TRY();
	{
		bm25_meta_check(index, &ml->meta);
	}
	PG_CATCH();
	{
		UnlockReleaseBuffer(ml->buf);
		PG_RE_THROW();
	}
	PG_END_TRY();
	mc->meta = ml->meta;
	mc->valid = true;
}

/* Releases a metapage lock. */
void
bm25_meta_unlock(Bm25MetaLock *ml)
{
	UnlockReleaseBuffer(ml->buf);
	ml->buf = InvalidBuffer;
}

/* Copies the metapage into *meta and validates it. */
void
bm25_meta_read(Relation index, Bm25MetaPageData *meta)
{
	Bm25MetaLock ml;

	bm25_meta_lock(index, &ml, BUFFER_LOCK_SHARE);
	*meta = ml.meta;
	bm25_meta_unlock(&ml);
}

/* Writes meta (finalized) into a metapage image registered for WAL. */
void
bm25_meta_put(Page page, Bm25MetaPageData *meta)
{
	bm25_meta_finalize(meta);
	PageInit(page, BLCKSZ, 0);
	memcpy(PageGetContents(page), meta, sizeof(*meta));
	((PageHeader) page)->pd_lower = (PageGetContents(page) + sizeof(*meta)) - (char *) page;
}

/*
 * WAL-logs ml->meta as the new metapage (the caller holds it exclusively)
 * and returns the record's LSN.  Every segment file it lists must already
 * be durable; a file it drops may be unlinked only after this LSN is
 * flushed.
 */
XLogRecPtr
bm25_meta_update(Relation index, Bm25MetaLock *ml)
{
	GenericXLogState *state = GenericXLogStart(index);
	Page		page = GenericXLogRegisterBuffer(state, ml->buf, GENERIC_XLOG_FULL_IMAGE);

	bm25_meta_put(page, &ml->meta);
	return GenericXLogFinish(state);
}

/* Allocates block 0 of a new index and logs its first metapage. */
void
bm25_meta_create(Relation index, Bm25MetaPageData *meta)
{
	Bm25MetaLock ml;

	ml.buf = bm25_new_buffer(index);
	if (BufferGetBlockNumber(ml.buf) != BM25_METAPAGE_BLKNO)
		elog(ERROR, "bm25 metapage allocated at block %u, expected %u",
			 BufferGetBlockNumber(ml.buf), BM25_METAPAGE_BLKNO);
	ml.meta = *meta;
	(void) bm25_meta_update(index, &ml);
	*meta = ml.meta;
	bm25_meta_unlock(&ml);
}
