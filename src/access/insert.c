/*-------------------------------------------------------------------------
 * insert.c
 *	  aminsert for bm25.
 *
 * Real-time inserts (a WAL-logged write buffer searched together with the
 * segments) are not built yet.  Until they are, a row that would need an
 * index entry is refused with a clear error instead of being silently
 * missing from search results.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

/* Refuses the insert: see the file header. */
bool
bm25_aminsert(Relation index, Datum *values, bool *isnull,
			  ItemPointer ht_ctid, Relation heapRel,
			  IndexUniqueCheck checkUnique, bool indexUnchanged,
			  IndexInfo *indexInfo)
{
	bm25_require_preload();
	if (isnull[0])
		return false;			/* NULL documents are never indexed */
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("bm25 index \"%s\" does not support inserting rows yet",
					RelationGetRelationName(index)),
			 errdetail("Rows added after CREATE INDEX would be missing from search results."),
			 errhint("Load the data before creating the index, or drop the index, write, and create it again.")));
	return false;
}
