/*-------------------------------------------------------------------------
 * dbcopy.c
 *	  CREATE DATABASE ... TEMPLATE with bm25 indexes.
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

#include "access/htup_details.h"
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

/* Utility hook: runs the command, then handles CREATE DATABASE. */
static void
bm25_ProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					ProcessUtilityContext context, ParamListInfo params,
					QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
							queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);

	if (IsA(parsetree, CreatedbStmt) && bm25_loaded_by_preload)
		bm25_after_createdb((CreatedbStmt *) parsetree);
}

/* Installs the utility hook. */
void
bm25_dbcopy_init(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = bm25_ProcessUtility;
}
