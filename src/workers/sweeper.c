/*-------------------------------------------------------------------------
 * sweeper.c
 *	  The "bm25 sweeper" background worker: removes sidecar directories
 *	  whose index no longer exists.
 *
 * DROP INDEX, DROP TABLE, DROP DATABASE, REINDEX and TRUNCATE all leave
 * the old relfilenode's directory behind; it becomes removable once the
 * relfilenode's main fork file is gone (after the next checkpoint).  The
 * test needs no catalog access, so the worker connects to no database and
 * runs on standbys too (it starts once the cluster is consistent).  It
 * sweeps once at start, then every bm25.sweep_interval seconds.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"

/* Seconds between sweeps; 0 sweeps only at start. */
int			bm25_sweep_interval = 60;

PGDLLEXPORT void bm25_sweeper_main(Datum arg);

/* Registers the worker; called from _PG_init while preloading. */
void
bm25_sweeper_register(void)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	snprintf(bgw.bgw_name, BGW_MAXLEN, "bm25 sweeper");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "bm25 sweeper");
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS;
	bgw.bgw_start_time = BgWorkerStart_ConsistentState;
	bgw.bgw_restart_time = 10;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "bm25");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "bm25_sweeper_main");
	RegisterBackgroundWorker(&bgw);
}

/*
 * Sweeps every database's sidecar tree, and removes the tree of a database
 * that no longer exists once it is empty.  Returns directories removed.
 */
int
bm25_sweep_all(void)
{
	DIR		   *d;
	struct dirent *de;
	int			removed = 0;

	d = AllocateDir("bm25");
	if (d == NULL)
		return 0;
	while ((de = ReadDirExtended(d, "bm25", LOG)) != NULL)
	{
		unsigned	dbid;
		char		tail;
		char	   *dbdir;
		char	   *basedir;
		struct stat st;

		if (sscanf(de->d_name, "%u%c", &dbid, &tail) != 1)
			continue;
		removed += bm25_sidecar_sweep(dbid);
		dbdir = psprintf("bm25/%u", dbid);
		basedir = psprintf("base/%u", dbid);
		if (stat(basedir, &st) != 0 && errno == ENOENT)
		{
			/* rmdir fails, harmlessly, while anything is left inside */
			if (rmdir(dbdir) == 0)
			{
				fsync_fname("bm25", true);
				removed++;
			}
		}
	}
	FreeDir(d);
	return removed;
}

/* Main loop of the worker. */
void
bm25_sweeper_main(Datum arg)
{
	MemoryContext ctx;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	ctx = AllocSetContextCreate(TopMemoryContext, "bm25 sweeper", ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		MemoryContext old = MemoryContextSwitchTo(ctx);
		int			removed = bm25_sweep_all();

		if (removed > 0)
			ereport(LOG,
					(errmsg("bm25 sweeper removed %d orphaned index director%s",
							removed, removed == 1 ? "y" : "ies")));
		MemoryContextSwitchTo(old);
		MemoryContextReset(ctx);

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_EXIT_ON_PM_DEATH |
						 (bm25_sweep_interval > 0 ? WL_TIMEOUT : 0),
						 (long) bm25_sweep_interval * 1000L,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}
}
