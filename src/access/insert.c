/*-------------------------------------------------------------------------
 * insert.c
 *	  aminsert for bm25: real-time writes through the write buffer.
 *
 * A new row is analyzed and appended to the WAL-logged write buffer in the
 * index's own pages (segment/l0.c), where searches see it at once; the
 * executor's visibility checks decide who may see the row.  When the
 * buffer reaches write_buffer_docs documents it is turned into a segment
 * file inline (segment/maintain.c).
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

#include "utils/memutils.h"

/* Indexes one new heap tuple. */
bool
bm25_aminsert(Relation index, Datum *values, bool *isnull,
			  ItemPointer ht_ctid, Relation heapRel,
			  IndexUniqueCheck checkUnique, bool indexUnchanged,
			  IndexInfo *indexInfo)
{
	MemoryContext ctx;
	MemoryContext old;
	Bm25MetaPageData meta;
	text	   *t;
	Bm25Doc		doc;

	bm25_require_preload();
	if (isnull[0])
		return false;			/* NULL documents are never indexed */

	ctx = AllocSetContextCreate(CurrentMemoryContext, "bm25 insert",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(ctx);
	bm25_meta_read(index, &meta);
	t = DatumGetTextPP(values[0]);
	bm25_analyze_doc(meta.text_config, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &doc, NULL);
	if (doc.dl > 0)
	{
		bm25_l0_append(index, &doc,
					   BM25_TID_MAKE(ItemPointerGetBlockNumber(ht_ctid),
									 ItemPointerGetOffsetNumber(ht_ctid)));
		bm25_flush_l0(index, false);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(ctx);
	return false;
}
