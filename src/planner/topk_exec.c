/*-------------------------------------------------------------------------
 * topk_exec.c
 *	  Executor side of the top-k scan.
 *
 * The scan ranks matches with block-max pruning in batches: first the best
 * k (the LIMIT the planner saw, or bm25.topk_initial_batch), then, if the
 * consumer asks for more because rows were invisible to the snapshot or
 * filtered out by other quals, the best 2k, 4k, ... skipping the ranks
 * already returned.  The order (score desc, TID asc) is total, so batches
 * line up exactly and nothing is ever silently capped.
 *-------------------------------------------------------------------------
 */
#include "planner/topk.h"

#include "access/relation.h"
#include "access/tableam.h"
#include "access/sysattr.h"
#include "executor/executor.h"
#include "executor/instrument.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/spccache.h"
#include BM25_EXPLAIN_HDR

/* One visible candidate of a tie group. */
typedef struct TieMember
{
	ItemPointerData visible;	/* the row version the snapshot sees */
	ItemPointerData indexed;	/* the TID the index holds */
	double		score;
} TieMember;

typedef struct Bm25TopkState
{
	CustomScanState css;
	Oid			indexoid;
	int64		first_k;
	int			score_col;		/* 0-based column of the score */
	ExprState  *query_expr;
	Relation	index;
	IndexFetchTableData *fetch;
	TupleTableSlot *heapslot;
	int			ncols;
	AttrNumber *colattr;		/* heap attno per scan column (0 = whole row) */
	MemoryContext qctx;			/* query preparation and hits */

	/* per (re)scan */
	Bm25Prepared *prep;
	bm25_hit   *hits;
	uint64		nhits;
	uint64		pos;			/* next rank to look at */
	uint64		k;
	bool		exhausted;		/* no candidate after the batch */
	bool		closed;			/* none after it shares the last one's score */
	bool		empty;

	/*
	 * The current group of tied candidates, in the order they are returned:
	 * by the visible row's ctid, which after a HOT update differs from the
	 * TID the index holds (the chain's root).
	 */
	TieMember  *group;
	int			group_len;
	int			group_pos;
	int			group_cap;

	/*
	 * Heap prefetch: once a fetch has had to read a block, the heap blocks
	 * of the next candidates are requested ahead (PrefetchBuffer), so a
	 * cold query waits for one read instead of one per row.
	 */
	bool		prefetch;		/* the heap's tablespace allows prefetching */
	uint64		prefetched;		/* ranks below this were requested */

	/* EXPLAIN ANALYZE counters */
	int64		batches;
	int64		ranked;
	int64		invisible;
	int64		nprefetch;		/* heap blocks requested ahead */
} Bm25TopkState;

static Node *bm25_topk_create_state(CustomScan *cscan);
static void bm25_topk_begin(CustomScanState *node, EState *estate, int eflags);
static TupleTableSlot *bm25_topk_exec(CustomScanState *node);
static void bm25_topk_end(CustomScanState *node);
static void bm25_topk_rescan(CustomScanState *node);
static void bm25_topk_explain(CustomScanState *node, List *ancestors, ExplainState *es);

CustomScanMethods bm25_topk_scan_methods = {
	.CustomName = BM25_TOPK_NAME,
	.CreateCustomScanState = bm25_topk_create_state,
};

static const CustomExecMethods bm25_topk_exec_methods = {
	.CustomName = BM25_TOPK_NAME,
	.BeginCustomScan = bm25_topk_begin,
	.ExecCustomScan = bm25_topk_exec,
	.EndCustomScan = bm25_topk_end,
	.ReScanCustomScan = bm25_topk_rescan,
	.ExplainCustomScan = bm25_topk_explain,
};

/* Creates the (empty) executor state node. */
static Node *
bm25_topk_create_state(CustomScan *cscan)
{
	Bm25TopkState *st = (Bm25TopkState *) newNode(sizeof(Bm25TopkState), T_CustomScanState);

	st->css.methods = &bm25_topk_exec_methods;
	st->indexoid = DatumGetObjectId(((Const *) list_nth(cscan->custom_private,
														BM25_TOPK_PRIV_INDEX))->constvalue);
	st->first_k = DatumGetInt64(((Const *) list_nth(cscan->custom_private,
													BM25_TOPK_PRIV_K))->constvalue);
	st->score_col = DatumGetInt32(((Const *) list_nth(cscan->custom_private,
													  BM25_TOPK_PRIV_SCORECOL))->constvalue) - 1;
	return (Node *) st;
}

/* Opens the index and the heap fetch machinery; maps scan columns. */
static void
bm25_topk_begin(CustomScanState *node, EState *estate, int eflags)
{
	Bm25TopkState *st = (Bm25TopkState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	Relation	heap = node->ss.ss_currentRelation;
	ListCell   *lc;
	int			i = 0;

	bm25_require_preload();
	st->query_expr = ExecInitExpr(linitial(cscan->custom_exprs), &node->ss.ps);
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	st->index = index_open(st->indexoid, AccessShareLock);
	st->prefetch = get_tablespace_io_concurrency(heap->rd_rel->reltablespace) > 0;
	st->fetch = table_index_fetch_begin(heap);
	st->heapslot = table_slot_create(heap, NULL);
	st->qctx = AllocSetContextCreate(estate->es_query_cxt, "bm25 top-k",
									 ALLOCSET_DEFAULT_SIZES);
	st->ncols = list_length(cscan->custom_scan_tlist);
	st->colattr = palloc0(sizeof(AttrNumber) * st->ncols);
	foreach(lc, cscan->custom_scan_tlist)
	{
		TargetEntry *te = lfirst(lc);

		if (i != st->score_col)
			st->colattr[i] = ((Var *) te->expr)->varattno;
		i++;
	}
}

/* Comparator-free copy of core hits into executor memory. */
static void
bm25_topk_rank(Bm25TopkState *st)
{
	bm25_hit   *hits = NULL;
	uint64		n = 0;
	bm25_hit	tie;
	int			has_tie = 0;
	int			status;
	MemoryContext old;

	st->batches++;

	/*
	 * The engine also reports the hit after the k-th when it ties with it:
	 * that tells whether the k-th's tie group goes on, so a LIMIT k query
	 * ranks once, with the threshold of exactly k hits.
	 */
	status = bm25_topk_tie(st->prep->ssegs, st->prep->state->nsegs, &st->prep->scorer,
						   st->k, &hits, &n, &tie, &has_tie);
	if (status != BM25_OK)
	{
		free(hits);
		bm25_report_status(status, st->index, "ranking a query");
	}
	old = MemoryContextSwitchTo(st->qctx);
	if (st->hits)
		pfree(st->hits);
	st->hits = palloc(sizeof(bm25_hit) * (n + 1));
	if (n > 0)
		memcpy(st->hits, hits, sizeof(bm25_hit) * n);
	MemoryContextSwitchTo(old);
	free(hits);
	st->exhausted = n < st->k;
	st->closed = !has_tie;
	if (has_tie)
		st->hits[n++] = tie;
	st->nhits = n;
	st->ranked = n;
	st->prefetched = 0;
}

/* Evaluates the query expression and prepares the first batch. */
static void
bm25_topk_start(Bm25TopkState *st)
{
	ExprContext *econtext = st->css.ss.ps.ps_ExprContext;
	bool		isnull;
	Datum		d;
	Bm25Query  *q;
	MemoryContext old;

	MemoryContextReset(st->qctx);
	st->hits = NULL;
	st->nhits = 0;
	st->pos = 0;
	st->group = NULL;
	st->group_len = st->group_pos = st->group_cap = 0;
	st->k = Max(st->first_k, 1);
	st->empty = false;

	ResetExprContext(econtext);
	d = ExecEvalExprSwitchContext(st->query_expr, econtext, &isnull);
	if (isnull)
	{
		st->empty = true;
		return;
	}
	old = MemoryContextSwitchTo(st->qctx);
	q = DatumGetBm25QueryP(d);
	if (q->indexoid != st->indexoid)
		elog(ERROR, "bm25 top-k scan: query bound to index %u, scan uses index %u",
			 q->indexoid, st->indexoid);
	st->prep = bm25_prepare_cached(st->index, q->query, BM25_QUERY_LEN(q));
	MemoryContextSwitchTo(old);
	if (!st->prep->can_match)
	{
		st->empty = true;
		return;
	}
	bm25_topk_rank(st);
}

/* Fills the scan slot from the heap slot, with score in its column. */
static TupleTableSlot *
bm25_topk_fill(Bm25TopkState *st, TupleTableSlot *slot, double score)
{
	ExecClearTuple(slot);
	for (int i = 0; i < st->ncols; i++)
	{
		AttrNumber	att = st->colattr[i];

		if (i == st->score_col)
		{
			slot->tts_values[i] = Float8GetDatum(score);
			slot->tts_isnull[i] = false;
		}
		else if (att > 0)
			slot->tts_values[i] = slot_getattr(st->heapslot, att, &slot->tts_isnull[i]);
		else if (att == TableOidAttributeNumber)
		{
			slot->tts_values[i] = ObjectIdGetDatum(RelationGetRelid(st->css.ss.ss_currentRelation));
			slot->tts_isnull[i] = false;
		}
		else if (att < 0)
			slot->tts_values[i] = slot_getsysattr(st->heapslot, att, &slot->tts_isnull[i]);
		else
		{
			slot->tts_values[i] = ExecFetchSlotHeapTupleDatum(st->heapslot);
			slot->tts_isnull[i] = false;
		}
	}
	return ExecStoreVirtualTuple(slot);
}

/* Candidates whose heap blocks are requested ahead of their fetch. */
#define BM25_PREFETCH_AHEAD		64

/*
 * Requests the heap blocks of the candidates after rank pos (up to
 * BM25_PREFETCH_AHEAD of them, within the batch) from the OS, so that
 * their reads overlap.  Called only after a fetch has missed the shared
 * buffers: a warm query pays nothing, and blocks already in shared
 * buffers cost a buffer table lookup.
 */
static void
bm25_topk_prefetch(Bm25TopkState *st)
{
	Relation	heap = st->css.ss.ss_currentRelation;
	uint64		from = Max(st->prefetched, st->pos);
	uint64		to = Min(st->nhits, st->pos + BM25_PREFETCH_AHEAD);
	BlockNumber last = InvalidBlockNumber;

	for (uint64 i = from; i < to; i++)
	{
		BlockNumber blk = BM25_TID_BLOCK(st->hits[i].tid);

		if (blk == last)
			continue;
		(void) PrefetchBuffer(heap, MAIN_FORKNUM, blk);
		st->nprefetch++;
		last = blk;
	}
	if (to > st->prefetched)
		st->prefetched = to;
}

/*
 * Fetches the version of the row at an index TID that the snapshot sees.
 * The table AM overwrites the TID it is given with the found version's, so
 * it works on a copy: the index TID (a HOT chain's root) must stay usable.
 */
static bool
bm25_topk_fetch(Bm25TopkState *st, const ItemPointerData *tid)
{
	ItemPointerData t = *tid;
	bool		call_again = false;
	bool		all_dead = false;
	int64		reads = pgBufferUsage.shared_blks_read;
	bool		found;

	found = table_index_fetch_tuple(st->fetch, &t, st->css.ss.ps.state->es_snapshot,
									st->heapslot, &call_again, &all_dead);
	if (st->prefetch && pgBufferUsage.shared_blks_read != reads)
		bm25_topk_prefetch(st);
	return found;
}

/* Orders tie group members by visible ctid. */
static int
tie_cmp(const void *a, const void *b)
{
	return ItemPointerCompare((ItemPointer) &((const TieMember *) a)->visible,
							  (ItemPointer) &((const TieMember *) b)->visible);
}

/*
 * Makes sure every candidate of rank pos's tie group is ranked, growing the
 * batch as needed; returns the end (exclusive) of the group, or pos when
 * there are no more candidates.  A group is the run of candidates with
 * equal score and the same heap block: a HOT chain never leaves its page,
 * so the visible ctid can reorder ties only within one block.
 */
static uint64
bm25_topk_group_end(Bm25TopkState *st)
{
	for (;;)
	{
		uint64		j = st->pos;

		if (st->pos >= st->nhits)
		{
			if (st->exhausted)
				return st->pos;
			st->k = st->k > PG_UINT64_MAX / 2 ? BM25_K_ALL : st->k * 2;
			bm25_topk_rank(st);
			continue;
		}
		while (j < st->nhits && st->hits[j].score == st->hits[st->pos].score &&
			   BM25_TID_BLOCK(st->hits[j].tid) == BM25_TID_BLOCK(st->hits[st->pos].tid))
			j++;
		if (j < st->nhits || st->exhausted)
			return j;
		/* nothing after the batch ties with its last hit */
		if (st->closed)
			return j;
		/* the group may go on past this batch */
		st->k = st->k > PG_UINT64_MAX / 2 ? BM25_K_ALL : st->k * 2;
		bm25_topk_rank(st);
	}
}

/*
 * Access method for ExecScan: the next visible candidate in rank order,
 * with its columns and score in the scan slot.  Candidates are taken one
 * group of equal scores in one heap block at a time, so that ties come
 * out in the visible rows' ctid order.
 */
static TupleTableSlot *
bm25_topk_next(ScanState *ss)
{
	Bm25TopkState *st = (Bm25TopkState *) ss;
	TupleTableSlot *slot = ss->ss_ScanTupleSlot;

	if (st->prep == NULL && !st->empty)
		bm25_topk_start(st);
	if (st->empty)
		return ExecClearTuple(slot);

	for (;;)
	{
		uint64		end;

		CHECK_FOR_INTERRUPTS();
		if (st->group_pos < st->group_len)
		{
			TieMember  *m = &st->group[st->group_pos++];

			/* same snapshot, same chain: finds the same version again */
			if (bm25_topk_fetch(st, &m->indexed))
				return bm25_topk_fill(st, slot, m->score);
			continue;
		}

		end = bm25_topk_group_end(st);
		if (end == st->pos)
			return ExecClearTuple(slot);

		if (end - st->pos == 1)
		{
			bm25_hit	hit = st->hits[st->pos++];
			ItemPointerData tid;

			ItemPointerSet(&tid, BM25_TID_BLOCK(hit.tid), BM25_TID_OFFSET(hit.tid));
			if (bm25_topk_fetch(st, &tid))
				return bm25_topk_fill(st, slot, hit.score);
			st->invisible++;
			continue;
		}

		/* a tie group: find each member's visible version, then sort */
		st->group_len = 0;
		st->group_pos = 0;
		if (end - st->pos > (uint64) st->group_cap)
		{
			MemoryContext old = MemoryContextSwitchTo(st->qctx);

			st->group_cap = (int) Min(end - st->pos, (uint64) (MaxAllocSize / sizeof(TieMember)));
			st->group = st->group ? repalloc(st->group, sizeof(TieMember) * st->group_cap)
				: palloc(sizeof(TieMember) * st->group_cap);
			MemoryContextSwitchTo(old);
		}
		for (; st->pos < end; st->pos++)
		{
			bm25_hit	hit = st->hits[st->pos];
			TieMember  *m = &st->group[st->group_len];

			ItemPointerSet(&m->indexed, BM25_TID_BLOCK(hit.tid), BM25_TID_OFFSET(hit.tid));
			if (!bm25_topk_fetch(st, &m->indexed))
			{
				st->invisible++;
				continue;
			}
			m->visible = st->heapslot->tts_tid;
			m->score = hit.score;
			st->group_len++;
		}
		if (st->group_len > 1)
			qsort(st->group, st->group_len, sizeof(TieMember), tie_cmp);
	}
}

/* EvalPlanQual recheck: the row was produced by this scan, so it matches. */
static bool
bm25_topk_recheck(ScanState *ss, TupleTableSlot *slot)
{
	return true;
}

/* ExecCustomScan: runs the generic scan loop (quals, projection). */
static TupleTableSlot *
bm25_topk_exec(CustomScanState *node)
{
	return ExecScan(&node->ss, bm25_topk_next, bm25_topk_recheck);
}

/* Releases the fetch machinery and the index. */
static void
bm25_topk_end(CustomScanState *node)
{
	Bm25TopkState *st = (Bm25TopkState *) node;

	if (st->fetch)
		table_index_fetch_end(st->fetch);
	if (st->heapslot)
		ExecDropSingleTupleTableSlot(st->heapslot);
	if (st->index)
		index_close(st->index, AccessShareLock);
}

/* Rescan: parameters may have changed, so start from scratch. */
static void
bm25_topk_rescan(CustomScanState *node)
{
	Bm25TopkState *st = (Bm25TopkState *) node;

	st->prep = NULL;
	st->hits = NULL;
	st->nhits = 0;
	st->pos = 0;
	st->empty = false;
	st->group = NULL;
	st->group_len = st->group_pos = st->group_cap = 0;
	if (st->qctx)
		MemoryContextReset(st->qctx);
	ExecScanReScan(&node->ss);
}

/* EXPLAIN: the index, the pushed-down k, and with ANALYZE the batch work. */
static void
bm25_topk_explain(CustomScanState *node, List *ancestors, ExplainState *es)
{
	Bm25TopkState *st = (Bm25TopkState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	Node	   *q = linitial(cscan->custom_exprs);
	char	   *name = get_rel_name(st->indexoid);

	ExplainPropertyText("Index", name ? name : "?", es);
	if (IsA(q, Const) && !((Const *) q)->constisnull)
	{
		Bm25Query  *bq = DatumGetBm25QueryP(((Const *) q)->constvalue);

		ExplainPropertyText("Query", pnstrdup(bq->query, BM25_QUERY_LEN(bq)), es);
	}
	ExplainPropertyInteger("Top-K", NULL, st->first_k, es);
	if (es->analyze)
	{
		ExplainPropertyInteger("Ranking Batches", NULL, st->batches, es);
		ExplainPropertyInteger("Ranked Candidates", NULL, st->ranked, es);
		ExplainPropertyInteger("Invisible Candidates", NULL, st->invisible, es);
		ExplainPropertyInteger("Heap Prefetches", NULL, st->nprefetch, es);
	}
}

/* Registers the plan node so plans can be copied and serialized. */
void
bm25_topk_exec_init(void)
{
	RegisterCustomScanMethods(&bm25_topk_scan_methods);
}
