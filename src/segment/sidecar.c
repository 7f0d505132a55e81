/*-------------------------------------------------------------------------
 * sidecar.c
 *	  Segment files kept beside the index relation, inside the data
 *	  directory: $PGDATA/bm25/<db oid>/<tablespace oid>_<relfilenode>/.
 *
 * The directory is named after the index's relfilenode, not its OID, so
 * that every operation that gives an index new storage (REINDEX, TRUNCATE,
 * rewrites) also gives it a fresh directory, and a rollback keeps the old
 * one.  A directory is an orphan once its relfilenode's main fork file is
 * gone; bm25_sidecar_sweep removes those.  The tree lives outside base/ so
 * that pg_basebackup does not try to verify page checksums on it.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"
#include "wal/wal.h"

#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "miscadmin.h"
#include "storage/fd.h"

#define BM25_SIDECAR_ROOT	"bm25"

/*
 * Takes the sidecar tree's lock (an flock on bm25/.lock): sweeps and
 * directory resets hold it, so a sweep can never remove the directory a
 * build has just claimed for a reused relfilenode.  Returns the fd.
 */
int
bm25_sidecar_lock(void)
{
	int			fd;

	if (MakePGDirectory(BM25_SIDECAR_ROOT) == 0)
		fsync_fname(".", true);
	fd = OpenTransientFile(BM25_SIDECAR_ROOT "/.lock", O_RDWR | O_CREAT | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open \"%s\": %m", BM25_SIDECAR_ROOT "/.lock")));
	while (flock(fd, LOCK_EX) != 0)
	{
		if (errno != EINTR)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not lock \"%s\": %m", BM25_SIDECAR_ROOT "/.lock")));
	}
	return fd;
}

/* Releases bm25_sidecar_lock (closing the file drops the flock). */
void
bm25_sidecar_unlock(int fd)
{
	CloseTransientFile(fd);
}

/* Directory of one index's segment files, relative to the data directory. */
char *
bm25_sidecar_dir(const Bm25RelFile *rf)
{
	return psprintf(BM25_SIDECAR_ROOT "/%u/%u_%u",
					BM25_RELFILE_DB(*rf), BM25_RELFILE_SPC(*rf),
					(unsigned) BM25_RELFILE_REL(*rf));
}

/* Path of segment segid of the index stored at rf. */
char *
bm25_segment_path(const Bm25RelFile *rf, uint64 segid)
{
	return psprintf(BM25_SIDECAR_ROOT "/%u/%u_%u/seg_" UINT64_FORMAT ".bm25",
					BM25_RELFILE_DB(*rf), BM25_RELFILE_SPC(*rf),
					(unsigned) BM25_RELFILE_REL(*rf), segid);
}

/* Creates dir if missing and makes its entry in the parent durable. */
static void
bm25_mkdir_durable(const char *dir, const char *parent)
{
	if (MakePGDirectory(dir) == 0)
	{
		if (parent)
			fsync_fname(parent, true);
	}
	else if (errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", dir)));
}

/*
 * Makes an empty sidecar directory for a brand-new relfilenode.  Anything
 * already there belongs to a dropped relation that had the same number;
 * the WAL record tells standbys to forget such leftovers too.
 */
void
bm25_sidecar_reset_dir(Relation index)
{
	Bm25RelFile rfv = BM25_RELFILE(index);
	Bm25RelFile *rf = &rfv;
	char	   *dbdir = psprintf(BM25_SIDECAR_ROOT "/%u", BM25_RELFILE_DB(*rf));
	char	   *dir = bm25_sidecar_dir(rf);
	struct stat st;
	int			lockfd = bm25_sidecar_lock();

	bm25_mkdir_durable(BM25_SIDECAR_ROOT, ".");
	bm25_mkdir_durable(dbdir, BM25_SIDECAR_ROOT);
	if (stat(dir, &st) == 0)
	{
		if (!rmtree(dir, true))
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not remove stale bm25 directory \"%s\"", dir)));
		fsync_fname(dbdir, true);
	}
	bm25_mkdir_durable(dir, dbdir);
	bm25_sidecar_unlock(lockfd);
	bm25_wal_log_dir_reset(index);
	(void) bm25_sidecar_sweep(BM25_RELFILE_DB(*rf));
}

/* pwrite-style callback handed to the core writer. */
static int
bm25_file_write(void *ctx, uint64_t offset, const void *buf, size_t len)
{
	Bm25FileWriter *w = (Bm25FileWriter *) ctx;
	const char *p = buf;

	while (len > 0)
	{
		ssize_t		n = pg_pwrite(w->fd, p, len, (off_t) offset);

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			w->saved_errno = errno;
			return -1;
		}
		if (n == 0)
		{
			w->saved_errno = ENOSPC;
			return -1;
		}
		p += n;
		len -= n;
		offset += n;
	}
	return 0;
}

/* Opens a new segment file for writing and prepares the core io struct. */
void
bm25_sidecar_begin(Bm25FileWriter *w, const Bm25RelFile *rf, uint64 segid)
{
	w->path = bm25_segment_path(rf, segid);
	w->segid = segid;
	w->saved_errno = 0;
	w->fd = OpenTransientFile(w->path, O_CREAT | O_TRUNC | O_WRONLY | PG_BINARY);
	if (w->fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create bm25 segment file \"%s\": %m", w->path)));
	w->io.ctx = w;
	w->io.write = bm25_file_write;
}

/*
 * Completes a segment file: on success fsyncs the file and its directory
 * entry, which must happen before any WAL record publishes it, and with
 * wal logs its bytes for standbys and backups; on failure removes the
 * partial file and reports the error.  Temporary files (build spills) pass
 * wal = false: they are never published.
 */
void
bm25_sidecar_finish(Bm25FileWriter *w, int status, Relation index, bool wal)
{
	char	   *dir;
	struct stat st;

	if (status != BM25_OK)
	{
		int			save = w->saved_errno;

		CloseTransientFile(w->fd);
		(void) unlink(w->path);
		if (status == BM25_EIO)
		{
			errno = save;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write bm25 segment file \"%s\": %m", w->path)));
		}
		bm25_report_status(status, index, "writing a segment");
	}

	if (pg_fsync(w->fd) != 0)
		ereport(data_sync_elevel(ERROR),
				(errcode_for_file_access(),
				 errmsg("could not fsync bm25 segment file \"%s\": %m", w->path)));
	if (fstat(w->fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat bm25 segment file \"%s\": %m", w->path)));
	if (CloseTransientFile(w->fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not close bm25 segment file \"%s\": %m", w->path)));
	dir = pstrdup(w->path);
	*strrchr(dir, '/') = '\0';
	fsync_fname(dir, true);
	pfree(dir);
	if (wal)
		bm25_wal_log_segment(index, w->segid, w->path, (uint64) st.st_size);
}

/*
 * Removes a segment file that no metapage lists any more.  With wal, the
 * removal is logged; the caller must already have flushed the WAL of the
 * manifest that dropped the file.
 */
void
bm25_sidecar_unlink(Relation index, uint64 segid, bool wal)
{
	Bm25RelFile rfv = BM25_RELFILE(index);
	Bm25RelFile *rf = &rfv;
	char	   *path = bm25_segment_path(rf, segid);

	if (wal)
		bm25_wal_log_unlink(index, segid);

	if (unlink(path) != 0 && errno != ENOENT)
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not remove bm25 segment file \"%s\": %m", path)));
	pfree(path);
}

/*
 * Removes sidecar directories of database dbid whose relfilenode no longer
 * has a main fork file (dropped, truncated or rebuilt relations); returns
 * how many were removed.  A relfilenode number cannot be reused while its
 * file exists, so a directory without one can belong to no live index.
 */
int
bm25_sidecar_sweep(Oid dbid)
{
	char	   *dbdir = psprintf(BM25_SIDECAR_ROOT "/%u", dbid);
	DIR		   *d;
	struct dirent *de;
	int			removed = 0;
	int			lockfd;
	struct stat dst;

	if (stat(dbdir, &dst) != 0)
		return 0;
	lockfd = bm25_sidecar_lock();
	d = AllocateDir(dbdir);
	if (d == NULL)
	{
		bm25_sidecar_unlock(lockfd);
		return 0;
	}
	while ((de = ReadDirExtended(d, dbdir, LOG)) != NULL)
	{
		unsigned	spc;
		unsigned	rel;
		char		tail;
		Bm25RelFile rf;
		Bm25RelPath relpath;
		struct stat st;

		if (sscanf(de->d_name, "%u_%u%c", &spc, &rel, &tail) != 2)
			continue;
		memset(&rf, 0, sizeof(rf));
		BM25_RELFILE_SPC(rf) = spc;
		BM25_RELFILE_DB(rf) = dbid;
		BM25_RELFILE_REL(rf) = rel;
		relpath = bm25_relpath_main(rf);
		if (stat(BM25_RELPATH_STR(relpath), &st) != 0 && errno == ENOENT)
		{
			char	   *dir = psprintf("%s/%s", dbdir, de->d_name);

			if (rmtree(dir, true))
				removed++;
			pfree(dir);
		}
	}
	FreeDir(d);
	bm25_sidecar_unlock(lockfd);
	if (removed > 0)
		fsync_fname(dbdir, true);
	return removed;
}
