/*-------------------------------------------------------------------------
 * compat.h
 *	  The one place where differences between PostgreSQL 15 and 16-18 are
 *	  papered over.  Everything else includes this instead of testing
 *	  PG_VERSION_NUM itself.
 *-------------------------------------------------------------------------
 */
#ifndef BM25_COMPAT_H
#define BM25_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 150000
#error "bm25 requires PostgreSQL 15 or later"
#endif

#include "common/relpath.h"
#include "storage/bufmgr.h"
#include "utils/rel.h"

/*
 * PostgreSQL 16 renamed RelFileNode to RelFileLocator and its fields.
 * Bm25RelFile is our spelling of "the physical identity of a relation".
 */
#if PG_VERSION_NUM >= 160000
#include "storage/relfilelocator.h"
typedef RelFileLocator Bm25RelFile;
#define BM25_RELFILE(rel)			((rel)->rd_locator)
#define BM25_RELFILE_SPC(rf)		((rf).spcOid)
#define BM25_RELFILE_DB(rf)			((rf).dbOid)
#define BM25_RELFILE_REL(rf)		((rf).relNumber)
#define bm25_relpath_main(rf)		relpathperm((rf), MAIN_FORKNUM)
#else
#include "storage/relfilenode.h"
typedef RelFileNode Bm25RelFile;
#define BM25_RELFILE(rel)			((rel)->rd_node)
#define BM25_RELFILE_SPC(rf)		((rf).spcNode)
#define BM25_RELFILE_DB(rf)			((rf).dbNode)
#define BM25_RELFILE_REL(rf)		((rf).relNode)
#define bm25_relpath_main(rf)		relpathperm((rf), MAIN_FORKNUM)
#endif

/* PostgreSQL 18 turned relpath results into a struct of fixed size. */
#if PG_VERSION_NUM >= 180000
#define BM25_RELPATH_STR(p)			((p).str)
typedef RelPathStr Bm25RelPath;
#else
#define BM25_RELPATH_STR(p)			(p)
typedef char *Bm25RelPath;
#endif

/* PostgreSQL 18 moved ExplainProperty* into their own header. */
#if PG_VERSION_NUM >= 180000
#define BM25_EXPLAIN_HDR "commands/explain_format.h"
#else
#define BM25_EXPLAIN_HDR "commands/explain.h"
#endif

/* PostgreSQL 16 replaced pg_class_ownercheck() and friends. */
#if PG_VERSION_NUM >= 160000
#define bm25_index_ownercheck(relid) \
	object_ownercheck(RelationRelationId, (relid), GetUserId())
#else
#define bm25_index_ownercheck(relid)	pg_class_ownercheck((relid), GetUserId())
#endif

/* PostgreSQL 16 gave stringToQualifiedNameList a soft-error argument. */
#if PG_VERSION_NUM >= 160000
#define bm25_qualified_name_list(s)	stringToQualifiedNameList((s), NULL)
#else
#define bm25_qualified_name_list(s)	stringToQualifiedNameList(s)
#endif

/* PostgreSQL 16 replaced ReadBuffer(P_NEW) with ExtendBufferedRel(). */
#if PG_VERSION_NUM >= 160000
#define bm25_new_buffer(rel) \
	ExtendBufferedRel(BMR_REL(rel), MAIN_FORKNUM, NULL, EB_LOCK_FIRST)
#else
#define bm25_new_buffer(rel) \
	bm25_new_buffer_pg15(rel)
static inline Buffer
bm25_new_buffer_pg15(Relation rel)
{
	Buffer		buf = ReadBufferExtended(rel, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	return buf;
}
#endif

#endif							/* BM25_COMPAT_H */
