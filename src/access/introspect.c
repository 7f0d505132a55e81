/*-------------------------------------------------------------------------
 * introspect.c
 *	  SQL functions that describe and verify a bm25 index.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(bm25_index_stats);
PG_FUNCTION_INFO_V1(bm25_verify_index);

/* Opens relid, insisting that it is a bm25 index. */
static Relation
bm25_open_index_checked(Oid relid)
{
	Relation	index = index_open(relid, AccessShareLock);

	if (index->rd_rel->relam != bm25_am_oid())
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a bm25 index", RelationGetRelationName(index))));
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
