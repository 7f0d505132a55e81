/*-------------------------------------------------------------------------
 * metapage.c
 *	  Block 0 of a bm25 index: format version, manifest of live segment
 *	  files and corpus statistics.
 *
 * The metapage is the single point of publication: a segment file exists
 * for queries only once a metapage listing it is WAL-logged.  Writes use
 * generic WAL with a full page image, so redo needs no extension code.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

#include "access/generic_xlog.h"
#include "storage/bufmgr.h"
#include "storage/bufpage.h"

StaticAssertDecl(sizeof(Bm25SegmentEntry) == 32,
				 "Bm25SegmentEntry layout changed: bump BM25_META_VERSION");
StaticAssertDecl(sizeof(Bm25MetaPageData) == 40 + 32 * BM25_MAX_SEGMENTS + 8,
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
}

/*
 * Copies the metapage into *meta after validating it; any inconsistency is
 * reported as corruption because nothing can be trusted past it.
 */
void
bm25_meta_read(Relation index, Bm25MetaPageData *meta)
{
	Buffer		buf;
	Page		page;
	uint64		docs = 0;
	uint64		tokens = 0;

	if (RelationGetNumberOfBlocks(index) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("bm25 index \"%s\" has no metapage", RelationGetRelationName(index)),
				 errhint("Rebuild the index with REINDEX.")));

	buf = ReadBuffer(index, BM25_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	memcpy(meta, PageGetContents(page), sizeof(*meta));
	UnlockReleaseBuffer(buf);

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
						RelationGetRelationName(index), meta->nsegments, BM25_MAX_SEGMENTS)));
	for (uint32 i = 0; i < meta->nsegments; i++)
	{
		docs += meta->segments[i].ndocs;
		tokens += meta->segments[i].total_tokens;
	}
	if (docs != meta->total_docs || tokens != meta->total_tokens)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("bm25 index \"%s\" has inconsistent corpus statistics in its metapage",
						RelationGetRelationName(index)),
				 errhint("Rebuild the index with REINDEX.")));
}

/*
 * Replaces (or, with create, allocates) the metapage and WAL-logs it; returns
 * the record's LSN.  The caller must already have made every segment file it
 * lists durable, and must flush WAL up to the LSN before unlinking a file
 * the new manifest no longer lists.
 */
XLogRecPtr
bm25_meta_write(Relation index, Bm25MetaPageData *meta, bool create)
{
	XLogRecPtr	lsn;
	Buffer		buf;
	GenericXLogState *state;
	Page		page;
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

	if (create)
	{
		buf = bm25_new_buffer(index);
		if (BufferGetBlockNumber(buf) != BM25_METAPAGE_BLKNO)
			elog(ERROR, "bm25 metapage allocated at block %u, expected %u",
				 BufferGetBlockNumber(buf), BM25_METAPAGE_BLKNO);
	}
	else
	{
		buf = ReadBuffer(index, BM25_METAPAGE_BLKNO);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	}

	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
	PageInit(page, BLCKSZ, 0);
	memcpy(PageGetContents(page), meta, sizeof(*meta));
	((PageHeader) page)->pd_lower = (PageGetContents(page) + sizeof(*meta)) - (char *) page;
	lsn = GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	return lsn;
}
