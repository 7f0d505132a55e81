/*-------------------------------------------------------------------------
 * redo.c
 *	  Replay, description and identification of bm25 WAL records.
 *
 * Redo works from the file identity in the record alone: no relation is
 * opened and no catalog is read, so it runs in the startup process of a
 * standby or of crash recovery.  Every operation is idempotent: CREATE
 * truncates, CHUNK writes the same bytes at the same offset, DONE and
 * UNLINK tolerate repetition.  Each replayed chunk is fsync'd at once,
 * because a restartpoint knows nothing of our files and must not be able
 * to pass unsynced bytes.
 *-------------------------------------------------------------------------
 */
#include "wal/wal.h"

#include <sys/stat.h>
#include <unistd.h>

#include "common/file_perm.h"
#include "storage/fd.h"

/* Path of the file a record names (relative to the data directory). */
static char *
redo_path(const xl_bm25_file *f, bool dir_only)
{
	if (dir_only)
		return psprintf("bm25/%u/%u_%u", f->db, f->spc, f->rel);
	return psprintf("bm25/%u/%u_%u/seg_" UINT64_FORMAT ".bm25",
					f->db, f->spc, f->rel, f->segid);
}

/* mkdir -p of the record's directory, each level made durable. */
static void
redo_make_dirs(const xl_bm25_file *f)
{
	char	   *levels[3];

	levels[0] = pstrdup("bm25");
	levels[1] = psprintf("bm25/%u", f->db);
	levels[2] = redo_path(f, true);
	for (int i = 0; i < 3; i++)
	{
		if (MakePGDirectory(levels[i]) == 0)
			fsync_fname(i == 0 ? "." : levels[i - 1], true);
		else if (errno != EEXIST)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not create directory \"%s\": %m", levels[i])));
	}
}

/* Opens a segment file for redo writes, creating it (and dirs) if needed. */
static int
redo_open(const xl_bm25_file *f, int flags)
{
	char	   *path = redo_path(f, false);
	int			fd;

	redo_make_dirs(f);
	fd = OpenTransientFile(path, flags | O_WRONLY | O_CREAT | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open bm25 segment file \"%s\" during recovery: %m", path)));
	pfree(path);
	return fd;
}

/* fsync and close a file opened by redo_open. */
static void
redo_sync_close(int fd, const xl_bm25_file *f)
{
	if (pg_fsync(fd) != 0)
		ereport(data_sync_elevel(ERROR),
				(errcode_for_file_access(),
				 errmsg("could not fsync bm25 segment file \"%s\": %m", redo_path(f, false))));
	CloseTransientFile(fd);
}

/* rm_redo: applies one bm25 record to the files it names. */
void
bm25_redo(XLogReaderState *record)
{
	uint8		info = XLogRecGetInfo(record) & ~XLR_INFO_MASK;
	char	   *data = XLogRecGetData(record);

	switch (info)
	{
		case XLOG_BM25_SEG_CREATE:
			{
				xl_bm25_seg_create *xl = (xl_bm25_seg_create *) data;
				int			fd = redo_open(&xl->file, O_TRUNC);

				redo_sync_close(fd, &xl->file);
				fsync_fname(redo_path(&xl->file, true), true);
				break;
			}
		case XLOG_BM25_SEG_CHUNK:
			{
				xl_bm25_seg_chunk *xl = (xl_bm25_seg_chunk *) data;
				char	   *bytes = data + sizeof(xl_bm25_seg_chunk);
				int			fd;
				uint32		done = 0;

				if (XLogRecGetDataLen(record) != sizeof(xl_bm25_seg_chunk) + xl->len)
					elog(PANIC, "bm25 redo: chunk record has %u bytes, expected %zu",
						 (unsigned) XLogRecGetDataLen(record),
						 sizeof(xl_bm25_seg_chunk) + xl->len);
				fd = redo_open(&xl->file, 0);
				while (done < xl->len)
				{
					ssize_t		n = pg_pwrite(fd, bytes + done, xl->len - done,
											  (off_t) (xl->offset + done));

					if (n < 0 && errno == EINTR)
						continue;
					if (n <= 0)
						ereport(ERROR,
								(errcode_for_file_access(),
								 errmsg("could not write bm25 segment file \"%s\" during recovery: %m",
										redo_path(&xl->file, false))));
					done += n;
				}
				redo_sync_close(fd, &xl->file);
				break;
			}
		case XLOG_BM25_SEG_DONE:
			{
				xl_bm25_seg_done *xl = (xl_bm25_seg_done *) data;
				int			fd = redo_open(&xl->file, 0);

				/* a stale longer file was truncated by CREATE; be sure */
				if (ftruncate(fd, (off_t) xl->size) != 0)
					ereport(ERROR,
							(errcode_for_file_access(),
							 errmsg("could not truncate bm25 segment file \"%s\": %m",
									redo_path(&xl->file, false))));
				redo_sync_close(fd, &xl->file);
				fsync_fname(redo_path(&xl->file, true), true);
				break;
			}
		case XLOG_BM25_SEG_UNLINK:
			{
				xl_bm25_file *xl = (xl_bm25_file *) data;
				char	   *path = redo_path(xl, false);

				if (unlink(path) != 0 && errno != ENOENT)
					ereport(WARNING,
							(errcode_for_file_access(),
							 errmsg("could not remove bm25 segment file \"%s\": %m", path)));
				else
				{
					struct stat st;
					char	   *dir = redo_path(xl, true);

					if (stat(dir, &st) == 0)
						fsync_fname(dir, true);
				}
				break;
			}
		case XLOG_BM25_DIR_RESET:
			{
				xl_bm25_file *xl = (xl_bm25_file *) data;
				char	   *dir = redo_path(xl, true);
				struct stat st;

				if (stat(dir, &st) == 0)
					(void) rmtree(dir, true);
				redo_make_dirs(xl);
				break;
			}
		case XLOG_BM25_COPY_DB:
			{
				xl_bm25_copy_db *xl = (xl_bm25_copy_db *) data;

				bm25_copy_db_tree(xl->src_db, xl->dst_db, xl->src_spc, xl->dst_spc);
				break;
			}
		case XLOG_BM25_COPY_DIR:
			{
				xl_bm25_copy_dir *xl = (xl_bm25_copy_dir *) data;

				bm25_copy_index_dir(xl->db, xl->src_spc, xl->src_rel, xl->dst_spc, xl->dst_rel);
				break;
			}
		default:
			elog(PANIC, "bm25 redo: unknown record type %u", info);
	}
}

/* rm_desc: a readable line for pg_walinspect and debugging. */
void
bm25_desc(StringInfo buf, XLogReaderState *record)
{
	uint8		info = XLogRecGetInfo(record) & ~XLR_INFO_MASK;
	char	   *data = XLogRecGetData(record);
	xl_bm25_file *f = (xl_bm25_file *) data;

	if (info == XLOG_BM25_COPY_DIR)
	{
		xl_bm25_copy_dir *xl = (xl_bm25_copy_dir *) data;

		appendStringInfo(buf, "db %u: %u_%u -> %u_%u", xl->db, xl->src_spc, xl->src_rel,
						 xl->dst_spc, xl->dst_rel);
		return;
	}
	if (info == XLOG_BM25_COPY_DB)
	{
		xl_bm25_copy_db *xl = (xl_bm25_copy_db *) data;

		appendStringInfo(buf, "db %u -> %u (default tablespace %u -> %u)",
						 xl->src_db, xl->dst_db, xl->src_spc, xl->dst_spc);
		return;
	}
	appendStringInfo(buf, "rel %u/%u/%u", f->spc, f->db, f->rel);
	switch (info)
	{
		case XLOG_BM25_SEG_CREATE:
			appendStringInfo(buf, " seg " UINT64_FORMAT " size " UINT64_FORMAT,
							 f->segid, ((xl_bm25_seg_create *) data)->size);
			break;
		case XLOG_BM25_SEG_CHUNK:
			appendStringInfo(buf, " seg " UINT64_FORMAT " offset " UINT64_FORMAT " len %u",
							 f->segid, ((xl_bm25_seg_chunk *) data)->offset,
							 ((xl_bm25_seg_chunk *) data)->len);
			break;
		case XLOG_BM25_SEG_DONE:
			appendStringInfo(buf, " seg " UINT64_FORMAT " size " UINT64_FORMAT,
							 f->segid, ((xl_bm25_seg_done *) data)->size);
			break;
		case XLOG_BM25_SEG_UNLINK:
			appendStringInfo(buf, " seg " UINT64_FORMAT, f->segid);
			break;
		default:
			break;
	}
}

/* rm_identify: the record type's name. */
const char *
bm25_identify(uint8 info)
{
	switch (info & ~XLR_INFO_MASK)
	{
		case XLOG_BM25_SEG_CREATE:
			return "SEG_CREATE";
		case XLOG_BM25_SEG_CHUNK:
			return "SEG_CHUNK";
		case XLOG_BM25_SEG_DONE:
			return "SEG_DONE";
		case XLOG_BM25_SEG_UNLINK:
			return "SEG_UNLINK";
		case XLOG_BM25_DIR_RESET:
			return "DIR_RESET";
		case XLOG_BM25_COPY_DB:
			return "COPY_DB";
		case XLOG_BM25_COPY_DIR:
			return "COPY_DIR";
	}
	return NULL;
}
