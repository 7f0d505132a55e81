/*-------------------------------------------------------------------------
 * relocate.c
 *	  Keeping sidecar files with their index when DDL gives the index new
 *	  physical storage without calling the access method:
 *
 *	  - CREATE DATABASE ... TEMPLATE copies relation files, not ours;
 *	  - ALTER INDEX ... SET TABLESPACE (and ALTER INDEX ALL IN TABLESPACE)
 *	    copies the index pages to a new relfilenode;
 *	  - ALTER DATABASE ... SET TABLESPACE moves relations of the default
 *	    tablespace, which changes the tablespace in our directory names.
 *
 * In each case a utility hook copies the affected directories to their new
 * names after the command succeeded and WAL-logs the copy, so standbys do
 * the same.  Copies, not renames: a rolled-back ALTER INDEX keeps using the
 * old directory, and whichever name loses its relation is swept later.
 *
 * PostgreSQL copies the template's relation files (either strategy) and
 * keeps their relfilenode numbers, but knows nothing of our sidecar
 * files.  After CREATE DATABASE succeeds, a utility hook copies the
 * template's bm25/<db> tree into the new database's and WAL-logs the copy,
 * so standbys do the same.  Relations in the template's default tablespace
 * move to the new database's default tablespace, so their directory names
 * are mapped accordingly.  A failure to copy does not undo the database
 * (it cannot be undone at that point); it is reported as a WARNING naming
 * REINDEX as the repair.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"
#include "wal/wal.h"

#include <dirent.h>
#include <sys/stat.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "utils/rel.h"
#include "access/xloginsert.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/copydir.h"
#include "storage/fd.h"
#include "tcop/utility.h"
#include "utils/syscache.h"

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/* A database's default tablespace. */
static Oid
db_default_tablespace(Oid dbid)
{
	HeapTuple	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dbid));
	Oid			spc;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for database %u", dbid);
	spc = ((Form_pg_database) GETSTRUCT(tup))->dattablespace;
	ReleaseSysCache(tup);
	return spc;
}

/*
 * Copies bm25/<src> to bm25/<dst>, mapping directories of the source's
 * default tablespace to the destination's.  Idempotent: a destination
 * directory that already exists is replaced.  Used by the hook and redo.
 */
void
bm25_copy_db_tree(Oid src, Oid dst, Oid src_spc, Oid dst_spc)
{
	char	   *srcdir = psprintf("bm25/%u", src);
	char	   *dstdir = psprintf("bm25/%u", dst);
	DIR		   *d;
	struct dirent *de;
	struct stat st;
	int			lockfd;

	if (stat(srcdir, &st) != 0)
		return;
	lockfd = bm25_sidecar_lock();
	if (MakePGDirectory(dstdir) == 0)
		fsync_fname("bm25", true);
	else if (errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", dstdir)));
	d = AllocateDir(srcdir);
	while ((de = ReadDir(d, srcdir)) != NULL)
	{
		unsigned	spc;
		unsigned	rel;
		char		tail;
		char	   *from;
		char	   *to;

		if (sscanf(de->d_name, "%u_%u%c", &spc, &rel, &tail) != 2)
			continue;
		from = psprintf("%s/%s", srcdir, de->d_name);
		to = psprintf("%s/%u_%u", dstdir, spc == src_spc ? dst_spc : spc, rel);
		if (stat(to, &st) == 0)
			(void) rmtree(to, true);
		copydir(from, to, false);	/* fsyncs the files and the directory */
	}
	FreeDir(d);
	fsync_fname(dstdir, true);
	bm25_sidecar_unlock(lockfd);
}

/* Copies the template's sidecar tree after CREATE DATABASE succeeded. */
static void
bm25_after_createdb(CreatedbStmt *stmt)
{
	const char *volatile tmpl = "template1";
	ListCell   *lc;
	Oid			src;
	Oid			dst;
	xl_bm25_copy_db xl;

	foreach(lc, stmt->options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "template") == 0 && def->arg != NULL)
			tmpl = defGetString(def);
	}
	src = get_database_oid(tmpl, true);
	dst = get_database_oid(stmt->dbname, true);
	if (!OidIsValid(src) || !OidIsValid(dst))
		return;

	xl.src_db = src;
	xl.dst_db = dst;
	xl.src_spc = db_default_tablespace(src);
	xl.dst_spc = db_default_tablespace(dst);
	PG_TRY();
	{
		bm25_copy_db_tree(src, dst, xl.src_spc, xl.dst_spc);
	}
	PG_CATCH();
	{
		EmitErrorReport();
		FlushErrorState();
		ereport(WARNING,
				(errmsg("could not copy the bm25 index files of template database \"%s\"", tmpl),
				 errhint("Run REINDEX on the bm25 indexes of database \"%s\".", stmt->dbname)));
		return;
	}
	PG_END_TRY();

	XLogBeginInsert();
	XLogRegisterData((char *) &xl, sizeof(xl));
	XLogInsert(BM25_RMGR_ID, XLOG_BM25_COPY_DB);
}

/*
 * Copies one index directory to a new name (replacing what is there) under
 * the sidecar lock; a missing source is skipped.  Used by redo too.
 */
void
bm25_copy_index_dir(Oid db, Oid src_spc, uint32 src_rel, Oid dst_spc, uint32 dst_rel)
{
	char	   *from = psprintf("bm25/%u/%u_%u", db, src_spc, src_rel);
	char	   *to = psprintf("bm25/%u/%u_%u", db, dst_spc, dst_rel);
	struct stat st;
	int			lockfd;

	if (stat(from, &st) != 0)
		return;
	lockfd = bm25_sidecar_lock();
	if (stat(to, &st) == 0)
		(void) rmtree(to, true);
	copydir(from, to, false);	/* fsyncs the files and the directory */
	fsync_fname(psprintf("bm25/%u", db), true);
	bm25_sidecar_unlock(lockfd);
}

/* Copies an index directory and WAL-logs the copy. */
static void
copy_index_dir_logged(Oid db, Oid src_spc, uint32 src_rel, Oid dst_spc, uint32 dst_rel)
{
	xl_bm25_copy_dir xl;

	bm25_copy_index_dir(db, src_spc, src_rel, dst_spc, dst_rel);
	xl.db = db;
	xl.src_spc = src_spc;
	xl.src_rel = src_rel;
	xl.dst_spc = dst_spc;
	xl.dst_rel = dst_rel;
	xl.pad = 0;
	XLogBeginInsert();
	XLogRegisterData((char *) &xl, sizeof(xl));
	XLogInsert(BM25_RMGR_ID, XLOG_BM25_COPY_DIR);
}

/* Physical location of one bm25 index, before a DDL command. */
typedef struct IndexLoc
{
	Oid			oid;
	Oid			spc;
	uint32		rel;
} IndexLoc;

/* Where an index's storage is, from its pg_class row. */
static void
index_loc(Form_pg_class form, IndexLoc *loc)
{
	loc->spc = OidIsValid(form->reltablespace) ? form->reltablespace : MyDatabaseTableSpace;
	loc->rel = (uint32) form->relfilenode;
}

/* The locations of every bm25 index of the current database. */
static List *
snapshot_bm25_indexes(void)
{
	Oid			amoid = bm25_am_oid();
	Relation	pgclass;
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *result = NIL;

	if (!OidIsValid(amoid))
		return NIL;
	pgclass = table_open(RelationRelationId, AccessShareLock);
	scan = systable_beginscan(pgclass, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_class form = (Form_pg_class) GETSTRUCT(tup);

		if (form->relam == amoid && form->relkind == RELKIND_INDEX)
		{
			IndexLoc   *loc = palloc(sizeof(IndexLoc));

			loc->oid = form->oid;
			index_loc(form, loc);
			result = lappend(result, loc);
		}
	}
	systable_endscan(scan);
	table_close(pgclass, AccessShareLock);
	return result;
}

/* After ALTER ...: follows every bm25 index whose storage moved. */
static void
follow_moved_indexes(List *before)
{
	ListCell   *lc;

	CommandCounterIncrement();
	foreach(lc, before)
	{
		IndexLoc   *old = lfirst(lc);
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(old->oid));
		IndexLoc	now;
		char	   *newdir;
		struct stat st;

		if (!HeapTupleIsValid(tup))
			continue;			/* dropped by the command */
		index_loc((Form_pg_class) GETSTRUCT(tup), &now);
		ReleaseSysCache(tup);
		if (now.spc == old->spc && now.rel == old->rel)
			continue;
		/* a rebuild (ambuild) already made the new directory */
		newdir = psprintf("bm25/%u/%u_%u", MyDatabaseId, now.spc, now.rel);
		if (stat(newdir, &st) == 0)
			continue;
		copy_index_dir_logged(MyDatabaseId, old->spc, old->rel, now.spc, now.rel);
	}
}

/*
 * After ALTER DATABASE ... SET TABLESPACE: directories of relations in the
 * old default tablespace are copied to the new default tablespace's name.
 */
static void
follow_moved_database(Oid db, Oid old_spc, Oid new_spc)
{
	char	   *dbdir = psprintf("bm25/%u", db);
	DIR		   *d;
	struct dirent *de;
	List	   *rels = NIL;
	ListCell   *lc;

	if (old_spc == new_spc)
		return;
	d = AllocateDir(dbdir);
	if (d == NULL)
		return;
	while ((de = ReadDirExtended(d, dbdir, LOG)) != NULL)
	{
		unsigned	spc;
		unsigned	rel;
		char		tail;

		if (sscanf(de->d_name, "%u_%u%c", &spc, &rel, &tail) == 2 && spc == old_spc)
			rels = lappend_oid(rels, rel);
	}
	FreeDir(d);
	foreach(lc, rels)
		copy_index_dir_logged(db, old_spc, lfirst_oid(lc), new_spc, lfirst_oid(lc));
}

/* The tablespace an ALTER DATABASE statement moves to, or NULL. */
static const char *
alterdb_tablespace(AlterDatabaseStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "tablespace") == 0)
			return defGetString(def);
	}
	return NULL;
}

/* Utility hook: runs the command, then keeps sidecar files with it. */
static void
bm25_ProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					ProcessUtilityContext context, ParamListInfo params,
					QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	List	   *moved_before = NIL;
	Oid			alterdb = InvalidOid;
	Oid			alterdb_old_spc = InvalidOid;

	if (bm25_loaded_by_preload && IsTransactionState() &&
		(IsA(parsetree, AlterTableStmt) || IsA(parsetree, AlterTableMoveAllStmt)))
		moved_before = snapshot_bm25_indexes();
	if (bm25_loaded_by_preload && IsA(parsetree, AlterDatabaseStmt) &&
		alterdb_tablespace((AlterDatabaseStmt *) parsetree) != NULL)
	{
		alterdb = get_database_oid(((AlterDatabaseStmt *) parsetree)->dbname, true);
		if (OidIsValid(alterdb))
			alterdb_old_spc = db_default_tablespace(alterdb);
	}

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
							queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);

	if (IsA(parsetree, CreatedbStmt) && bm25_loaded_by_preload)
		bm25_after_createdb((CreatedbStmt *) parsetree);
	if (moved_before != NIL)
		follow_moved_indexes(moved_before);
	if (OidIsValid(alterdb))
		follow_moved_database(alterdb, alterdb_old_spc, db_default_tablespace(alterdb));
}

/* Installs the utility hook. */
void
bm25_dbcopy_init(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = bm25_ProcessUtility;
}
