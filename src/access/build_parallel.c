/*-------------------------------------------------------------------------
 * build_parallel.c
 *	  Parallel CREATE INDEX for bm25.
 *
 * PostgreSQL 15 runs parallel index builds only for btree, so we set up a
 * parallel context of our own the way nbtsort.c does: a parallel heap scan
 * in dynamic shared memory, workers that each analyze their share of the
 * heap into partial segment files, and the leader taking part with the same
 * code.  The leader then merges every participant's partials (build.c), so
 * the result is the same index a serial spilling build produces.
 *
 * Partial files are never WAL-logged and live in the sidecar directory of
 * the index's brand-new relfilenode: if the build fails they are swept with
 * that directory.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

#include "access/parallel.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "storage/spin.h"
#include "utils/snapmgr.h"

#define PARALLEL_KEY_BM25_SHARED	UINT64CONST(0xB250000000000001)
#define PARALLEL_KEY_BM25_SCAN		UINT64CONST(0xB250000000000002)

/* Partial segments all participants together may report. */
#define BM25_PARALLEL_MAX_PARTIALS	16384

typedef struct Bm25ParallelShared
{
	/* set by the leader before launch, read-only afterwards */
	Oid			heaprelid;
	Oid			indexrelid;
	Oid			cfg;			/* text config resolved by the leader */
	bool		isconcurrent;
	Size		mem_budget;		/* per participant */
	int			maxpartials;

	/* protected by mutex */
	slock_t		mutex;
	int			nparticipantsdone;
	bool		overflow;
	double		heap_tuples;
	double		index_tuples;
	int			npartials;
	Bm25SegmentEntry partials[FLEXIBLE_ARRAY_MEMBER];
} Bm25ParallelShared;

/* Planned number of workers for building index on heap (0: serial). */
int
bm25_parallel_build_workers(Relation heap, Relation index)
{
	/* as index_build for btree; an empty heap (TRUNCATE) is not worth it */
	if (!IsUnderPostmaster || !IsNormalProcessingMode() || IsInParallelMode() ||
		RelationGetNumberOfBlocks(heap) == 0)
		return 0;
	return plan_create_index_workers(RelationGetRelid(heap), RelationGetRelid(index));
}

/*
 * Runs one participant over the shared parallel scan and reports its
 * partial segments and counters in shared memory.  Worker participant
 * number i (-1 for the leader) numbers its files from (i + 2) << 32, so
 * no two participants' names collide; the leader keeps the serial
 * numbering from 1.
 */
static void
bm25_parallel_participate(Bm25ParallelShared *shared, ParallelTableScanDesc pscan,
						  Relation heap, Relation index, IndexInfo *indexInfo,
						  int participant, uint64 *next_segid)
{
	TableScanDesc scan;
	Bm25SegmentEntry *partials;
	int			npartials;
	double		heap_tuples;
	double		index_tuples;
	uint64		first_segid;
	uint64		next;
	int			slot;
	bool		overflow;

	first_segid = participant < 0 ? 1 : ((uint64) (participant + 2)) << 32;
	scan = table_beginscan_parallel(heap, pscan);
	bm25_build_participant(heap, index, indexInfo, scan, shared->cfg,
						   shared->mem_budget, first_segid,
						   &partials, &npartials, &heap_tuples, &index_tuples,
						   &next);
	/* table_index_build_scan ended the scan */

	SpinLockAcquire(&shared->mutex);
	slot = shared->npartials;
	overflow = shared->overflow || slot + npartials > shared->maxpartials;
	if (overflow)
		shared->overflow = true;
	else
		shared->npartials += npartials;
	shared->heap_tuples += heap_tuples;
	shared->index_tuples += index_tuples;
	shared->nparticipantsdone++;
	SpinLockRelease(&shared->mutex);

	if (overflow)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("parallel build of bm25 index \"%s\" produced more than %d partial segments",
						RelationGetRelationName(index), shared->maxpartials),
				 errhint("Raise maintenance_work_mem or lower max_parallel_maintenance_workers.")));
	memcpy(&shared->partials[slot], partials, sizeof(Bm25SegmentEntry) * npartials);
	pfree(partials);
	if (next_segid)
		*next_segid = next;
}

static int
bm25_segment_entry_cmp(const void *a, const void *b)
{
	uint64		x = ((const Bm25SegmentEntry *) a)->id;
	uint64		y = ((const Bm25SegmentEntry *) b)->id;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * Builds with up to nworkers parallel workers plus the leader.  Returns the
 * partial segments of all participants (ordered by id, palloc'd in the
 * caller's context), the tuple counters, the leader's next free segment id
 * and how many workers actually ran.
 */
Bm25SegmentEntry *
bm25_parallel_build(Relation heap, Relation index, IndexInfo *indexInfo, Oid cfg,
					int nworkers, int *npartials, double *heap_tuples,
					double *index_tuples, uint64 *next_segid, int *nlaunched)
{
	ParallelContext *pcxt;
	Snapshot	snapshot;
	Size		estshared;
	Size		estscan;
	Bm25ParallelShared *shared;
	ParallelTableScanDesc pscan;
	Bm25SegmentEntry *result;
	bool		isconcurrent = indexInfo->ii_Concurrent;

	EnterParallelMode();
	Assert(nworkers > 0);
	pcxt = CreateParallelContext("bm25", "bm25_parallel_build_main", nworkers);

	/* as _bt_begin_parallel: SnapshotAny unless building concurrently */
	if (!isconcurrent)
		snapshot = SnapshotAny;
	else
		snapshot = RegisterSnapshot(GetTransactionSnapshot());

	estshared = add_size(offsetof(Bm25ParallelShared, partials),
						 mul_size(sizeof(Bm25SegmentEntry), BM25_PARALLEL_MAX_PARTIALS));
	shm_toc_estimate_chunk(&pcxt->estimator, estshared);
	estscan = table_parallelscan_estimate(heap, snapshot);
	shm_toc_estimate_chunk(&pcxt->estimator, estscan);
	shm_toc_estimate_keys(&pcxt->estimator, 2);

	InitializeParallelDSM(pcxt);
	if (pcxt->seg == NULL)
	{
		/* no DSM available: build serially through the same code */
		if (IsMVCCSnapshot(snapshot))
			UnregisterSnapshot(snapshot);
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		*nlaunched = 0;
		bm25_build_participant(heap, index, indexInfo, NULL, cfg,
							   (Size) maintenance_work_mem * 1024, 1,
							   &result, npartials, heap_tuples, index_tuples,
							   next_segid);
		return result;
	}

	shared = shm_toc_allocate(pcxt->toc, estshared);
	shared->heaprelid = RelationGetRelid(heap);
	shared->indexrelid = RelationGetRelid(index);
	shared->cfg = cfg;
	shared->isconcurrent = isconcurrent;
	shared->mem_budget = (Size) maintenance_work_mem * 1024 / (nworkers + 1);
	shared->maxpartials = BM25_PARALLEL_MAX_PARTIALS;
	SpinLockInit(&shared->mutex);
	shared->nparticipantsdone = 0;
	shared->overflow = false;
	shared->heap_tuples = 0;
	shared->index_tuples = 0;
	shared->npartials = 0;
	shm_toc_insert(pcxt->toc, PARALLEL_KEY_BM25_SHARED, shared);

	pscan = shm_toc_allocate(pcxt->toc, estscan);
	table_parallelscan_initialize(heap, pscan, snapshot);
	shm_toc_insert(pcxt->toc, PARALLEL_KEY_BM25_SCAN, pscan);

	LaunchParallelWorkers(pcxt);
	*nlaunched = pcxt->nworkers_launched;

	/* the leader scans too, and alone if no worker could be launched */
	bm25_parallel_participate(shared, pscan, heap, index, indexInfo, -1, next_segid);

	WaitForParallelWorkersToFinish(pcxt);

	if (shared->nparticipantsdone != pcxt->nworkers_launched + 1)
		elog(ERROR, "bm25 parallel build: %d of %d participants finished",
			 shared->nparticipantsdone, pcxt->nworkers_launched + 1);

	elog(DEBUG2, "bm25 parallel build of \"%s\": %d participants wrote %d partial segments",
		 RelationGetRelationName(index), shared->nparticipantsdone, shared->npartials);
	*npartials = shared->npartials;
	*heap_tuples = shared->heap_tuples;
	*index_tuples = shared->index_tuples;
	result = palloc(sizeof(Bm25SegmentEntry) * Max(shared->npartials, 1));
	memcpy(result, shared->partials, sizeof(Bm25SegmentEntry) * shared->npartials);
	qsort(result, shared->npartials, sizeof(Bm25SegmentEntry), bm25_segment_entry_cmp);

	if (IsMVCCSnapshot(snapshot))
		UnregisterSnapshot(snapshot);
	DestroyParallelContext(pcxt);
	ExitParallelMode();
	return result;
}

/*
 * Worker entry point, looked up by name in the bm25 library by the
 * parallel machinery.
 */
void
bm25_parallel_build_main(dsm_segment *seg, shm_toc *toc)
{
	Bm25ParallelShared *shared;
	ParallelTableScanDesc pscan;
	Relation	heap;
	Relation	index;
	IndexInfo  *indexInfo;
	LOCKMODE	heapLockmode;
	LOCKMODE	indexLockmode;

	shared = shm_toc_lookup(toc, PARALLEL_KEY_BM25_SHARED, false);
	pscan = shm_toc_lookup(toc, PARALLEL_KEY_BM25_SCAN, false);

	/* the lock modes of _bt_parallel_build_main */
	if (!shared->isconcurrent)
	{
		heapLockmode = ShareLock;
		indexLockmode = AccessExclusiveLock;
	}
	else
	{
		heapLockmode = ShareUpdateExclusiveLock;
		indexLockmode = RowExclusiveLock;
	}

	heap = table_open(shared->heaprelid, heapLockmode);
	index = index_open(shared->indexrelid, indexLockmode);

	indexInfo = BuildIndexInfo(index);
	indexInfo->ii_Concurrent = shared->isconcurrent;

	bm25_parallel_participate(shared, pscan, heap, index, indexInfo,
							  ParallelWorkerNumber, NULL);

	index_close(index, indexLockmode);
	table_close(heap, heapLockmode);
}
