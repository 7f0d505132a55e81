/*-------------------------------------------------------------------------
 * scan.c
 *	  Plain and bitmap index scans for @@@: every matching heap TID, in
 *	  TID order, without scores.  Ranked retrieval is the top-k custom scan
 *	  (planner/), which shares the same query preparation.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

#include "access/relscan.h"
#include "nodes/tidbitmap.h"
#include "utils/memutils.h"

typedef struct Bm25ScanOpaque
{
	MemoryContext ctx;
	bool		computed;
	bool		recheck;
	uint64	   *tids;			/* matching TIDs, sorted */
	uint64		ntids;
	uint64		pos;
} Bm25ScanOpaque;

/* Growable TID array filled by the core's match callback. */
typedef struct Bm25TidSink
{
	uint64	   *tids;
	uint64		n;
	uint64		cap;
	bool		oom;
	MemoryContext ctx;
} Bm25TidSink;

/*
 * Core callback: appends one TID.  It must not ereport (the core is not
 * longjmp-safe), so allocation failure is recorded and raised later.
 */
static void
bm25_sink_add(void *arg, bm25_tid tid)
{
	Bm25TidSink *s = (Bm25TidSink *) arg;

	if (s->oom)
		return;
	if (s->n == s->cap)
	{
		uint64		ncap = Max(s->cap * 2, 1024);
		uint64	   *n = MemoryContextAllocExtended(s->ctx, sizeof(uint64) * ncap,
												   MCXT_ALLOC_NO_OOM | MCXT_ALLOC_HUGE);

		if (n == NULL)
		{
			s->oom = true;
			return;
		}
		if (s->n > 0)
		{
			memcpy(n, s->tids, sizeof(uint64) * s->n);
			pfree(s->tids);
		}
		s->tids = n;
		s->cap = ncap;
	}
	s->tids[s->n++] = tid;
}

/* qsort comparator for packed TIDs. */
static int
bm25_cmp_tid(const void *a, const void *b)
{
	uint64		x = *(const uint64 *) a;
	uint64		y = *(const uint64 *) b;

	return (x > y) - (x < y);
}

/* Keeps the TIDs present in both sorted arrays, in place in a. */
static uint64
bm25_intersect(uint64 *a, uint64 na, const uint64 *b, uint64 nb)
{
	uint64		i = 0,
				j = 0,
				n = 0;

	while (i < na && j < nb)
	{
		if (a[i] < b[j])
			i++;
		else if (a[i] > b[j])
			j++;
		else
		{
			a[n++] = a[i];
			i++;
			j++;
		}
	}
	return n;
}

/*
 * Evaluates every scan key against the index and intersects the results.
 * A key bound to another bm25 index is answered with this index's
 * configuration and marked for recheck, so the heap recheck applies the
 * semantics the query names.
 */
static void
bm25_scan_compute(IndexScanDesc scan)
{
	Bm25ScanOpaque *so = (Bm25ScanOpaque *) scan->opaque;
	MemoryContext old = MemoryContextSwitchTo(so->ctx);

	so->ntids = 0;
	so->tids = NULL;
	so->recheck = false;
	for (int k = 0; k < scan->numberOfKeys; k++)
	{
		ScanKey		key = &scan->keyData[k];
		const char *q;
		int			qlen;
		Bm25Prepared *p;
		Bm25TidSink sink;
		int			status;

		if (key->sk_flags & SK_ISNULL)
		{
			so->ntids = 0;
			break;
		}
		if (key->sk_strategy == BM25_STRATEGY_QUERY)
		{
			Bm25Query  *bq = DatumGetBm25QueryP(key->sk_argument);

			if (OidIsValid(bq->indexoid) && bq->indexoid != RelationGetRelid(scan->indexRelation))
				so->recheck = true;
			q = bq->query;
			qlen = BM25_QUERY_LEN(bq);
		}
		else
		{
			text	   *t = DatumGetTextPP(key->sk_argument);

			q = VARDATA_ANY(t);
			qlen = VARSIZE_ANY_EXHDR(t);
		}

		p = bm25_prepare_cached(scan->indexRelation, q, qlen);
		memset(&sink, 0, sizeof(sink));
		sink.ctx = so->ctx;
		if (p->can_match)
		{
			status = bm25_match(p->ssegs, p->state->nsegs, &p->scorer, bm25_sink_add, &sink);
			if (status != BM25_OK)
				bm25_report_status(status, scan->indexRelation, "matching a query");
			if (sink.oom)
				ereport(ERROR,
						(errcode(ERRCODE_OUT_OF_MEMORY),
						 errmsg("out of memory collecting bm25 matches")));
		}
		if (sink.n > 1)
			qsort(sink.tids, sink.n, sizeof(uint64), bm25_cmp_tid);
		if (k == 0)
		{
			so->tids = sink.tids;
			so->ntids = sink.n;
		}
		else
			so->ntids = bm25_intersect(so->tids, so->ntids, sink.tids, sink.n);
	}
	so->pos = 0;
	so->computed = true;
	MemoryContextSwitchTo(old);
}

/* ambeginscan: allocates the scan and its private memory context. */
IndexScanDesc
bm25_ambeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	Bm25ScanOpaque *so = palloc0(sizeof(Bm25ScanOpaque));

	bm25_require_preload();
	so->ctx = AllocSetContextCreate(CurrentMemoryContext, "bm25 scan",
									ALLOCSET_DEFAULT_SIZES);
	scan->opaque = so;
	return scan;
}

/* amrescan: installs new keys; results are computed lazily. */
void
bm25_amrescan(IndexScanDesc scan, ScanKey keys, int nkeys,
			  ScanKey orderbys, int norderbys)
{
	Bm25ScanOpaque *so = (Bm25ScanOpaque *) scan->opaque;

	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	MemoryContextReset(so->ctx);
	so->computed = false;
	so->tids = NULL;
	so->ntids = 0;
	so->pos = 0;
}

/* amgettuple: returns the next matching TID. */
bool
bm25_amgettuple(IndexScanDesc scan, ScanDirection dir)
{
	Bm25ScanOpaque *so = (Bm25ScanOpaque *) scan->opaque;

	if (!so->computed)
		bm25_scan_compute(scan);
	if (so->pos >= so->ntids)
		return false;
	ItemPointerSet(&scan->xs_heaptid, BM25_TID_BLOCK(so->tids[so->pos]),
				   BM25_TID_OFFSET(so->tids[so->pos]));
	so->pos++;
	scan->xs_recheck = so->recheck;
	return true;
}

/* amgetbitmap: adds every matching TID to the bitmap. */
int64
bm25_amgetbitmap(IndexScanDesc scan, TIDBitmap *tbm)
{
	Bm25ScanOpaque *so = (Bm25ScanOpaque *) scan->opaque;
	ItemPointerData batch[256];
	int			n = 0;

	bm25_scan_compute(scan);
	for (uint64 i = 0; i < so->ntids; i++)
	{
		ItemPointerSet(&batch[n], BM25_TID_BLOCK(so->tids[i]), BM25_TID_OFFSET(so->tids[i]));
		if (++n == lengthof(batch))
		{
			tbm_add_tuples(tbm, batch, n, so->recheck);
			n = 0;
		}
	}
	if (n > 0)
		tbm_add_tuples(tbm, batch, n, so->recheck);
	return (int64) so->ntids;
}

/* amendscan: releases the scan's memory. */
void
bm25_amendscan(IndexScanDesc scan)
{
	Bm25ScanOpaque *so = (Bm25ScanOpaque *) scan->opaque;

	MemoryContextDelete(so->ctx);
	pfree(so);
}
