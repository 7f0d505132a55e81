/*-------------------------------------------------------------------------
 * wal.h
 *	  The bm25 custom WAL resource manager: records that replicate segment
 *	  files (which live outside relation pages) through PostgreSQL's WAL.
 *
 * Page changes (metapage, write buffer) use generic WAL; only file
 * operations need this resource manager.  Redo never opens a relation or
 * reads the catalog, and replaying any record twice, or over a half
 * written file, gives the same result.  See docs/durability.md.
 *-------------------------------------------------------------------------
 */
#ifndef BM25_WAL_H
#define BM25_WAL_H

#include "bm25.h"

#include "access/xlogreader.h"
#include "lib/stringinfo.h"

/*
 * Our custom resource manager id.  128 is reserved for experiments; this
 * id is the one bm25 claims on PostgreSQL's list of custom WAL resource
 * managers (https://wiki.postgresql.org/wiki/CustomWALResourceManagers).
 * It must never change once WAL has been written with it.
 */
#define BM25_RMGR_ID		163
#define BM25_RMGR_NAME		"bm25"

/* Record types (high nibble of xl_info). */
#define XLOG_BM25_SEG_CREATE	0x10	/* create/truncate a segment file */
#define XLOG_BM25_SEG_CHUNK		0x20	/* bytes of a segment file */
#define XLOG_BM25_SEG_DONE		0x30	/* file complete: fsync it */
#define XLOG_BM25_SEG_UNLINK	0x40	/* remove a segment file */
#define XLOG_BM25_DIR_RESET		0x50	/* empty the index's directory */
#define XLOG_BM25_COPY_DB		0x60	/* CREATE DATABASE copied a template's tree */
#define XLOG_BM25_COPY_DIR		0x70	/* an index's storage moved: copy its dir */

/* Largest chunk of file bytes in one record. */
#define BM25_WAL_CHUNK			(1024 * 1024)

/* Identifies one segment file (segid unused by DIR_RESET). */
typedef struct xl_bm25_file
{
	Oid			spc;
	Oid			db;
	uint32		rel;
	uint32		pad;
	uint64		segid;
} xl_bm25_file;

typedef struct xl_bm25_seg_create
{
	xl_bm25_file file;
	uint64		size;			/* final size, for desc and checks */
} xl_bm25_seg_create;

typedef struct xl_bm25_seg_chunk
{
	xl_bm25_file file;
	uint64		offset;
	uint32		len;
	uint32		pad;
	/* len bytes of file data follow */
} xl_bm25_seg_chunk;

typedef struct xl_bm25_seg_done
{
	xl_bm25_file file;
	uint64		size;
} xl_bm25_seg_done;

/* CREATE DATABASE ... TEMPLATE: the sidecar tree was copied. */
typedef struct xl_bm25_copy_db
{
	Oid			src_db;
	Oid			dst_db;
	Oid			src_spc;		/* default tablespaces, for directory names */
	Oid			dst_spc;
} xl_bm25_copy_db;

/* ALTER ... SET TABLESPACE moved an index: its directory was copied. */
typedef struct xl_bm25_copy_dir
{
	Oid			db;
	Oid			src_spc;
	uint32		src_rel;
	Oid			dst_spc;
	uint32		dst_rel;
	uint32		pad;
} xl_bm25_copy_dir;

extern void bm25_copy_db_tree(Oid src, Oid dst, Oid src_spc, Oid dst_spc);
extern void bm25_copy_index_dir(Oid db, Oid src_spc, uint32 src_rel, Oid dst_spc, uint32 dst_rel);
extern void bm25_wal_register(void);
extern void bm25_wal_log_segment(Relation index, uint64 segid, const char *path, uint64 size);
extern void bm25_wal_log_unlink(Relation index, uint64 segid);
extern void bm25_wal_log_dir_reset(Relation index);

extern void bm25_redo(XLogReaderState *record);
extern void bm25_desc(StringInfo buf, XLogReaderState *record);
extern const char *bm25_identify(uint8 info);

#endif							/* BM25_WAL_H */
