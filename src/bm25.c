/*-------------------------------------------------------------------------
 * bm25.c
 *	  Module entry point: preload check, GUCs, and hook registration.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"
#include "wal/wal.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

/* True when _PG_init ran from shared_preload_libraries. */
bool		bm25_loaded_by_preload = false;

/* First batch size of a top-k scan when the planner knows no LIMIT. */
int			bm25_topk_initial_batch = 100;

void		_PG_init(void);

PG_FUNCTION_INFO_V1(bm25_check_preload);

/*
 * Registers everything the extension needs in this process.  Hooks and the
 * custom scan provider are installed even without preloading so that a
 * clear error, not a crash, meets the user.
 */
void
_PG_init(void)
{
	bm25_loaded_by_preload = process_shared_preload_libraries_in_progress;

	DefineCustomIntVariable("bm25.topk_initial_batch",
							"Candidates ranked in the first batch of a top-k scan without a known LIMIT.",
							"Later batches double in size until the consumer stops asking.",
							&bm25_topk_initial_batch,
							100, 1, 1000000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("bm25.write_buffer_docs",
							"Documents a bm25 index's write buffer holds before it becomes a segment file.",
							"The index option write_buffer_docs overrides it per index.",
							&bm25_write_buffer_docs,
							1000, 1, 10000000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("bm25.debug_fault",
							   "Crash the server at a named point of segment maintenance (tests only).",
							   "Points: before_publish, after_publish.",
							   &bm25_debug_fault,
							   "",
							   PGC_SUSET, GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("bm25.sweep_interval",
							"Seconds between sweeps for orphaned bm25 segment directories (0: only at start).",
							NULL,
							&bm25_sweep_interval,
							60, 0, 86400,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	/* A server-start setting can only be created while preloading. */
	if (bm25_loaded_by_preload)
		DefineCustomIntVariable("bm25.shared_cache_slots",
								"Slots of each cache that backends share: analyzed query clauses and term lookups.",
								"Each clause slot takes 512 bytes and each term slot 256 bytes of shared memory; 0 turns the shared caches off.",
								&bm25_shared_cache_slots,
								8192, 0, 1048576,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);

	MarkGUCPrefixReserved("bm25");

	/* Only possible while preloading; otherwise bm25_require_preload() says so. */
	if (bm25_loaded_by_preload)
	{
		bm25_wal_register();
		bm25_sweeper_register();
		bm25_shcache_init();
		bm25_analyze_register_callbacks();
	}

	/* in the postmaster when preloaded: every backend inherits it */
	bm25_core_init();
	bm25_init_reloptions();
	bm25_planner_init();
	bm25_dbcopy_init();
	bm25_topk_exec_init();
}

/*
 * Errors out unless the library was preloaded; called by every entry point
 * that will eventually depend on the custom WAL resource manager.
 */
void
bm25_require_preload(void)
{
	if (!bm25_loaded_by_preload)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("bm25 must be loaded via shared_preload_libraries"),
				 errhint("Add 'bm25' to shared_preload_libraries in postgresql.conf and restart the server, on the primary and on every standby.")));
}

/*
 * SQL-callable preload check, run by the extension script so that CREATE
 * EXTENSION fails early with the same message.
 */
Datum
bm25_check_preload(PG_FUNCTION_ARGS)
{
	bm25_require_preload();
	PG_RETURN_VOID();
}

/*
 * Turns a non-OK core status into the matching ereport; what names the
 * operation for the message.
 */
void
bm25_report_status(int status, Relation index, const char *what)
{
	const char *relname = index ? RelationGetRelationName(index) : "?";

	switch (status)
	{
		case BM25_OK:
			return;
		case BM25_ENOMEM:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while %s for bm25 index \"%s\"", what, relname)));
			break;
		case BM25_ECORRUPT:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("bm25 index \"%s\" is corrupted: invalid data found while %s",
							relname, what),
					 errhint("Rebuild the index with REINDEX INDEX %s.",
							 quote_identifier(relname))));
			break;
		case BM25_ELIMIT:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("bm25 index \"%s\" exceeds a format limit while %s", relname, what)));
			break;
		default:
			elog(ERROR, "bm25 index \"%s\": internal error while %s: %s",
				 relname, what, bm25_strerror(status));
	}
}
