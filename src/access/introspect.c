/*-------------------------------------------------------------------------
 * introspect.c
 *	  SQL functions that describe and verify a bm25 index.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "utils/snapmgr.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(bm25_index_stats);
PG_FUNCTION_INFO_V1(bm25_verify_index);
PG_FUNCTION_INFO_V1(bm25_index_doc_counts);

/* Opens relid, insisting that it is a bm25 index. */
static Relation
bm25_open_index_checked(Oid relid)
{
	Relation	index = index_open(relid, AccessShareLock);

	if (index->rd_rel->relam != bm25_am_oid())
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a bm25 index", RelationGetRelationName(index))));
	if (index->rd_rel->relkind == RELKIND_PARTITIONED_INDEX)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is a partitioned bm25 index, which has no storage of its own",
						RelationGetRelationName(index)),
				 errhint("Call the function on the index of each partition.")));
	return index;
}

/* bm25_index_stats(regclass): one row describing the index. */
Datum
bm25_index_stats(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	index;
	Bm25MetaPageData meta;
	TupleDesc	tupdesc;
	Datum		values[10];
	bool		nulls[10];
	uint64		terms = 0;
	uint64		bytes = 0;

	bm25_require_preload();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	index = bm25_open_index_checked(relid);
	bm25_meta_read(index, &meta);
	for (uint32 i = 0; i < meta.nsegments; i++)
	{
		terms += meta.segments[i].nterms;
		bytes += meta.segments[i].file_size;
	}
	memset(nulls, 0, sizeof(nulls));
	values[0] = Int32GetDatum(meta.version);
	values[1] = ObjectIdGetDatum(meta.text_config);
	values[2] = Int32GetDatum(meta.nsegments);
	values[3] = Int64GetDatum(meta.total_docs + meta.l0_docs);
	values[4] = Int64GetDatum(meta.total_tokens + meta.l0_tokens);
	values[5] = Float8GetDatum(meta.total_docs + meta.l0_docs ?
							   (double) (meta.total_tokens + meta.l0_tokens) /
							   (meta.total_docs + meta.l0_docs) : 0.0);
	values[6] = Int64GetDatum(terms);
	values[7] = Int64GetDatum(bytes);
	values[8] = Int64GetDatum(meta.l0_docs);
	values[9] = Int64GetDatum(meta.l0_bytes);
	index_close(index, AccessShareLock);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * bm25_verify_index(regclass): reads every byte of every live segment and
 * checks all checksums and invariants; true, or an ERRCODE_DATA_CORRUPTED
 * error naming the first problem.
 */
Datum
bm25_verify_index(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	index;
	Bm25MetaPageData meta;

	bm25_require_preload();
	index = bm25_open_index_checked(relid);
	bm25_meta_read(index, &meta);
	for (uint32 i = 0; i < meta.nsegments; i++)
	{
		Bm25Mapped	m;
		char		errbuf[256];
		int			status;

		bm25_map_segment(index, &meta.segments[i], &m);
		errbuf[0] = '\0';
		status = bm25_segment_verify(m.seg, errbuf, sizeof(errbuf));
		bm25_unmap_segment(&m);
		if (status == BM25_ECORRUPT)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("bm25 index \"%s\" segment " UINT64_FORMAT " is corrupted: %s",
							RelationGetRelationName(index), meta.segments[i].id, errbuf),
					 errhint("Rebuild the index with REINDEX INDEX %s.",
							 quote_identifier(RelationGetRelationName(index)))));
		bm25_report_status(status, index, "verifying a segment");
	}
	index_close(index, AccessShareLock);
	PG_RETURN_BOOL(true);
}

/*
 * bm25_index_doc_counts(regclass): every index entry (segments and write
 * buffer) checked against the heap with the current snapshot.
 */
Datum
bm25_index_doc_counts(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	index;
	Relation	heap;
	Bm25IndexState *st;
	IndexFetchTableData *fetch;
	TupleTableSlot *slot;
	Snapshot	snapshot = GetActiveSnapshot();
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	int64		indexed = 0;
	int64		visible = 0;

	bm25_require_preload();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	index = bm25_open_index_checked(relid);
	heap = table_open(index->rd_index->indrelid, AccessShareLock);
	st = bm25_index_state(index);
	fetch = table_index_fetch_begin(heap);
	slot = table_slot_create(heap, NULL);
	for (uint32 s = 0; s < st->nsegs; s++)
	{
		uint32		ndocs = bm25_segment_ndocs(st->segs[s]);

		for (uint32 d = 0; d < ndocs; d++)
		{
			bm25_tid	t = bm25_segment_tid(st->segs[s], d);
			ItemPointerData ip;
			bool		call_again = false;
			bool		all_dead = false;

			CHECK_FOR_INTERRUPTS();
			ItemPointerSet(&ip, BM25_TID_BLOCK(t), BM25_TID_OFFSET(t));
			indexed++;
			if (table_index_fetch_tuple(fetch, &ip, snapshot, slot, &call_again, &all_dead))
				visible++;
		}
	}
	ExecDropSingleTupleTableSlot(slot);
	table_index_fetch_end(fetch);
	table_close(heap, AccessShareLock);
	index_close(index, AccessShareLock);
	values[0] = Int64GetDatum(indexed);
	values[1] = Int64GetDatum(visible);
	values[2] = Int64GetDatum(indexed - visible);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
