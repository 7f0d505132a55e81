/*-------------------------------------------------------------------------
 * xlog.c
 *	  Writing bm25's custom WAL records.
 *
 * A segment file is logged after it has been written and fsync'd: a CREATE
 * record, its bytes in chunks, then DONE.  The metapage record that
 * publishes the file comes after all of them, so any standby or restored
 * backup that sees the new manifest also has the whole file.
 *-------------------------------------------------------------------------
 */
#include "wal/wal.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "access/xloginsert.h"
#include "storage/fd.h"
#include "utils/rel.h"

StaticAssertDecl(sizeof(xl_bm25_file) == 24, "xl_bm25_file layout changed");
StaticAssertDecl(sizeof(xl_bm25_seg_create) == 32, "xl_bm25_seg_create layout changed");
StaticAssertDecl(sizeof(xl_bm25_seg_chunk) == 40, "xl_bm25_seg_chunk layout changed");
StaticAssertDecl(sizeof(xl_bm25_seg_done) == 32, "xl_bm25_seg_done layout changed");
StaticAssertDecl(sizeof(xl_bm25_copy_db) == 16, "xl_bm25_copy_db layout changed");
StaticAssertDecl(sizeof(xl_bm25_copy_dir) == 24, "xl_bm25_copy_dir layout changed");

static RmgrData bm25_rmgr = {
	.rm_name = BM25_RMGR_NAME,
	.rm_redo = bm25_redo,
	.rm_desc = bm25_desc,
	.rm_identify = bm25_identify,
	.rm_startup = NULL,
	.rm_cleanup = NULL,
	.rm_mask = NULL,			/* no buffer records: pages use generic WAL */
	.rm_decode = NULL,
};

/* Registers the resource manager; only possible while preloading. */
void
bm25_wal_register(void)
{
	RegisterCustomRmgr(BM25_RMGR_ID, &bm25_rmgr);
}

/* Fills the file identity of segment segid of index. */
static void
bm25_wal_file(xl_bm25_file *f, Relation index, uint64 segid)
{
	Bm25RelFile rf = BM25_RELFILE(index);

	memset(f, 0, sizeof(*f));
	f->spc = BM25_RELFILE_SPC(rf);
	f->db = BM25_RELFILE_DB(rf);
	f->rel = (uint32) BM25_RELFILE_REL(rf);
	f->segid = segid;
}

/*
 * Logs a complete, already durable segment file.  Skipped when the index
 * needs no WAL (wal_level = minimal in the creating transaction), where
 * the fsync alone makes it durable.
 */
void
bm25_wal_log_segment(Relation index, uint64 segid, const char *path, uint64 size)
{
	xl_bm25_seg_create create;
	xl_bm25_seg_done done;
	int			fd;
	char	   *base;
	uint64		off;

	if (!RelationNeedsWAL(index))
		return;

	bm25_wal_file(&create.file, index, segid);
	create.size = size;
	XLogBeginInsert();
	XLogRegisterData((char *) &create, sizeof(create));
	XLogInsert(BM25_RMGR_ID, XLOG_BM25_SEG_CREATE);

	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open bm25 segment file \"%s\": %m", path)));
	base = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not map bm25 segment file \"%s\": %m", path)));
	CloseTransientFile(fd);
	(void) madvise(base, size, MADV_SEQUENTIAL);

	PG_TRY();
	{
		for (off = 0; off < size; off += BM25_WAL_CHUNK)
		{
			xl_bm25_seg_chunk chunk;

			bm25_wal_file(&chunk.file, index, segid);
			chunk.offset = off;
			chunk.len = (uint32) Min((uint64) BM25_WAL_CHUNK, size - off);
			chunk.pad = 0;
			XLogBeginInsert();
			XLogRegisterData((char *) &chunk, sizeof(chunk));
			XLogRegisterData(base + off, chunk.len);
			XLogInsert(BM25_RMGR_ID, XLOG_BM25_SEG_CHUNK);
		}
	}
	PG_FINALLY();
	{
		munmap(base, size);
	}
	PG_END_TRY();

	bm25_wal_file(&done.file, index, segid);
	done.size = size;
	XLogBeginInsert();
	XLogRegisterData((char *) &done, sizeof(done));
	XLogInsert(BM25_RMGR_ID, XLOG_BM25_SEG_DONE);
}

/* Logs the removal of a segment file the manifest no longer lists. */
void
bm25_wal_log_unlink(Relation index, uint64 segid)
{
	xl_bm25_file f;

	if (!RelationNeedsWAL(index))
		return;
	bm25_wal_file(&f, index, segid);
	XLogBeginInsert();
	XLogRegisterData((char *) &f, sizeof(f));
	XLogInsert(BM25_RMGR_ID, XLOG_BM25_SEG_UNLINK);
}

/*
 * Logs that the index's directory starts empty: a relfilenode can be
 * reused, and a standby may still hold the files of its previous owner.
 */
void
bm25_wal_log_dir_reset(Relation index)
{
	xl_bm25_file f;

	if (!RelationNeedsWAL(index))
		return;
	bm25_wal_file(&f, index, 0);
	XLogBeginInsert();
	XLogRegisterData((char *) &f, sizeof(f));
	XLogInsert(BM25_RMGR_ID, XLOG_BM25_DIR_RESET);
}
