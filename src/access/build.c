/*-------------------------------------------------------------------------
 * build.c
 *	  CREATE INDEX for bm25: scan the heap, analyze each document, and
 *	  write immutable segment files, spilling to partial segments whenever
 *	  the in-memory inverted index outgrows maintenance_work_mem.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"
#include "wal/wal.h"

#include "access/tableam.h"
#include "catalog/index.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

typedef struct Bm25BuildState
{
	Relation	index;
	Bm25RelFile rf;
	Oid			cfg;
	Bm25BuilderGuard *builder;	/* builder->b is the core builder */
	Size		mem_budget;
	MemoryContext tmpctx;
	double		heap_tuples;
	double		index_tuples;
	uint64		next_segid;
	int			npartials;
	int			maxpartials;
	Bm25SegmentEntry *partials;
	Bm25LexCache *lexcache;		/* dictionary results per token */
} Bm25BuildState;

/*
 * Writes the builder's documents as segment file segid and fills *entry,
 * then empties the builder; the file is durable when this returns, and
 * WAL-logged with wal (partial segments of a spilling build are temporary
 * and never logged).
 */
static void
bm25_build_flush(Bm25BuildState *bs, uint64 segid, Bm25SegmentEntry *entry, bool wal)
{
	bm25_segment_from_builder(bs->index, bs->builder->b, segid, entry, wal);
	bm25_builder_guard_renew(bs->builder);
}

/* Spills the current builder contents to a new partial segment. */
static void
bm25_build_spill(Bm25BuildState *bs)
{
	if (bm25_builder_ndocs(bs->builder->b) == 0)
		return;
	if (bs->npartials == bs->maxpartials)
	{
		bs->maxpartials *= 2;
		bs->partials = repalloc(bs->partials, sizeof(Bm25SegmentEntry) * bs->maxpartials);
	}
	bm25_build_flush(bs, bs->next_segid++, &bs->partials[bs->npartials++], false);
}

/* Per-tuple callback of the heap scan: analyze and add one document. */
static void
bm25_build_callback(Relation index, ItemPointer tid, Datum *values,
					bool *isnull, bool tupleIsAlive, void *state)
{
	Bm25BuildState *bs = (Bm25BuildState *) state;
	MemoryContext old;
	text	   *t;
	Bm25Doc		doc;
	int			status = BM25_OK;

	bs->heap_tuples += 1;
	if (isnull[0])
		return;

	old = MemoryContextSwitchTo(bs->tmpctx);
	t = DatumGetTextPP(values[0]);
	bm25_analyze_doc(bs->cfg, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &doc, bs->lexcache);
	if (doc.dl > 0)
	{
		status = bm25_builder_add_doc(bs->builder->b,
									  BM25_TID_MAKE(ItemPointerGetBlockNumber(tid),
													ItemPointerGetOffsetNumber(tid)),
									  doc.dl, doc.terms, doc.nterms);
		bs->index_tuples += 1;
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(bs->tmpctx);
	if (status != BM25_OK)
		bm25_report_status(status, bs->index, "adding a document");

	if (bm25_builder_mem(bs->builder->b) > bs->mem_budget)
		bm25_build_spill(bs);
}

/* Merges the partial segments into one final segment and removes them. */
static void
bm25_build_merge(Bm25BuildState *bs, Bm25SegmentEntry *final)
{
	Bm25Mapped *maps = palloc0(sizeof(Bm25Mapped) * bs->npartials);
	const bm25_segment **in = palloc(sizeof(bm25_segment *) * bs->npartials);
	Bm25FileWriter w;
	bm25_seg_summary sum;
	int			status;

	for (int i = 0; i < bs->npartials; i++)
	{
		bm25_map_segment(bs->index, &bs->partials[i], &maps[i]);
		in[i] = maps[i].seg;
	}
	final->id = bs->next_segid++;
	bm25_sidecar_begin(&w, &bs->rf, final->id);
	status = bm25_merge(in, bs->npartials, NULL, NULL, &w.io, &sum);
	for (int i = 0; i < bs->npartials; i++)
		bm25_unmap_segment(&maps[i]);
	bm25_sidecar_finish(&w, status, bs->index, true);
	final->file_size = sum.file_size;
	final->total_tokens = sum.total_tokens;
	final->ndocs = sum.ndocs;
	final->nterms = sum.nterms;
	for (int i = 0; i < bs->npartials; i++)
		bm25_sidecar_unlink(bs->index, bs->partials[i].id, false);
}

/* Refuses relation kinds whose sidecar files we cannot keep consistent. */
static void
bm25_check_persistence(Relation index)
{
	if (index->rd_rel->relpersistence == RELPERSISTENCE_UNLOGGED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("bm25 indexes on unlogged tables are not supported yet"),
				 errhint("Use a logged table, or ALTER TABLE ... SET LOGGED first.")));
	if (index->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("bm25 indexes on temporary tables are not supported yet")));
}

/* Sets up a build state whose allocations live in the current context. */
static void
bm25_build_state_init(Bm25BuildState *bs, Relation index, Oid cfg,
					  Size mem_budget, uint64 first_segid)
{
	memset(bs, 0, sizeof(*bs));
	bs->index = index;
	bs->rf = BM25_RELFILE(index);
	bs->cfg = cfg;
	bs->mem_budget = mem_budget;
	bs->tmpctx = AllocSetContextCreate(CurrentMemoryContext, "bm25 build document",
									   ALLOCSET_DEFAULT_SIZES);
	bs->next_segid = first_segid;
	bs->maxpartials = 8;
	bs->partials = palloc(sizeof(Bm25SegmentEntry) * bs->maxpartials);
	bs->builder = bm25_builder_guard_create();	/* freed with the context */
	/* An eighth of the budget, at most 64MB: it pays off long before that. */
	bs->lexcache = bm25_lexcache_create(Min(mem_budget / 8, (Size) 64 * 1024 * 1024));
}

/*
 * One participant of a parallel build (the leader or a worker): scans its
 * share of the heap through the parallel scan and leaves everything it
 * analyzed in partial segment files (never WAL-logged) numbered from
 * first_segid.  The entries are returned in the caller's memory context.
 */
void
bm25_build_participant(Relation heap, Relation index, IndexInfo *indexInfo,
					   struct TableScanDescData *scan, Oid cfg,
					   Size mem_budget, uint64 first_segid,
					   Bm25SegmentEntry **partials, int *npartials,
					   double *heap_tuples, double *index_tuples,
					   uint64 *next_segid)
{
	MemoryContext callerctx = CurrentMemoryContext;
	MemoryContext buildctx;
	Bm25BuildState bs;

	buildctx = AllocSetContextCreate(callerctx, "bm25 build participant",
									 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(buildctx);
	bm25_build_state_init(&bs, index, cfg, mem_budget, first_segid);

	table_index_build_scan(heap, index, indexInfo, true, true,
						   bm25_build_callback, &bs, scan);
	bm25_build_spill(&bs);		/* the rest, if any */

	MemoryContextSwitchTo(callerctx);
	*partials = palloc(sizeof(Bm25SegmentEntry) * Max(bs.npartials, 1));
	memcpy(*partials, bs.partials, sizeof(Bm25SegmentEntry) * bs.npartials);
	*npartials = bs.npartials;
	*heap_tuples = bs.heap_tuples;
	*index_tuples = bs.index_tuples;
	*next_segid = bs.next_segid;
	MemoryContextDelete(buildctx);
}

/*
 * ambuild: builds the index's segment files and then publishes them with
 * the first metapage.  With parallel workers planned, every participant
 * scans part of the heap into partial segments (build_parallel.c) and the
 * leader merges them here exactly as a spilling serial build would.
 */
IndexBuildResult *
bm25_ambuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	Bm25BuildState bs;
	Bm25MetaPageData meta;
	MemoryContext buildctx;
	MemoryContext old;
	Oid			cfg;
	int			nworkers;
	bool		parallel = false;

	bm25_require_preload();
	bm25_check_persistence(index);
	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	buildctx = AllocSetContextCreate(CurrentMemoryContext, "bm25 build",
									 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(buildctx);

	cfg = bm25_resolve_config(bm25_options_config_name(index), false);
	bm25_build_state_init(&bs, index, cfg, (Size) maintenance_work_mem * 1024, 1);

	bm25_sidecar_reset_dir(index);

	nworkers = bm25_parallel_build_workers(heap, index);
	if (nworkers > 0)
	{
		int			nlaunched = 0;

		bs.partials = bm25_parallel_build(heap, index, indexInfo, cfg, nworkers,
										  &bs.npartials, &bs.heap_tuples,
										  &bs.index_tuples, &bs.next_segid,
										  &nlaunched);
		bs.maxpartials = Max(bs.npartials, 1);
		parallel = true;
		ereport(DEBUG1,
				(errmsg_internal("bm25 build of \"%s\" used %d parallel workers",
								 RelationGetRelationName(index), nlaunched)));
	}
	else
		table_index_build_scan(heap, index, indexInfo, true, true,
							   bm25_build_callback, &bs, NULL);

	bm25_meta_init_empty(&meta, bs.cfg);
	if (bs.npartials > 0)
	{
		bm25_build_spill(&bs);
		if (!parallel)
			ereport(DEBUG1,
					(errmsg_internal("bm25 build of \"%s\" spilled %d partial segments within maintenance_work_mem",
									 RelationGetRelationName(index), bs.npartials)));
		if (bs.npartials == 1)
		{
			/* a lone spill is the final segment: log it now */
			meta.segments[0] = bs.partials[0];
			bm25_wal_log_segment(index, bs.partials[0].id,
								 bm25_segment_path(&bs.rf, bs.partials[0].id),
								 bs.partials[0].file_size);
			/* a worker's partial is numbered beyond the leader's range */
			bs.next_segid = Max(bs.next_segid, bs.partials[0].id + 1);
		}
		else
			bm25_build_merge(&bs, &meta.segments[0]);
		meta.nsegments = 1;
	}
	else if (bm25_builder_ndocs(bs.builder->b) > 0)
	{
		bm25_build_flush(&bs, bs.next_segid++, &meta.segments[0], true);
		meta.nsegments = 1;
	}
	meta.next_segment_id = bs.next_segid;
	bm25_meta_create(index, &meta);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(buildctx);

	result = palloc0(sizeof(IndexBuildResult));
	result->heap_tuples = bs.heap_tuples;
	result->index_tuples = bs.index_tuples;
	return result;
}

/* ambuildempty: only reached for unlogged indexes, which ambuild refuses. */
void
bm25_ambuildempty(Relation index)
{
	bm25_check_persistence(index);
	elog(ERROR, "bm25 index \"%s\": unexpected ambuildempty call",
		 RelationGetRelationName(index));
}
