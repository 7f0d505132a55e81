/*-------------------------------------------------------------------------
 * segment.h
 *	  Immutable segment files: writer, reader, postings cursors, the
 *	  in-memory builder and the merger.  PostgreSQL-independent.
 *
 * A segment holds a set of documents numbered 0..ndocs-1 (doc ids), each
 * with its length in tokens (dl) and its heap TID, and for every term a
 * postings list of (doc id, tf) in ascending doc id order, cut into blocks
 * of BM25_BLOCK_SIZE postings.  Every block carries impact data, a small
 * set of (tf, dl) pairs that dominates every posting in the block, so a
 * query can bound a block's best score without decoding it.
 *
 * The byte layout is documented in docs/format.md.  All integers are
 * little-endian.  Every structure has a magic, a format version and a
 * CRC-32C; the reader validates sizes and checksums and returns
 * BM25_ECORRUPT rather than reading out of bounds.
 *-------------------------------------------------------------------------
 */
#ifndef BM25_SEGMENT_H
#define BM25_SEGMENT_H

#include "bm25_core.h"

#define BM25_SEGMENT_MAGIC		0x35324D42u	/* bytes "BM25" on disk */
#define BM25_SEGMENT_VERSION	1
#define BM25_BLOCK_SIZE			128
#define BM25_MAX_IMPACTS		4
#define BM25_MAX_TERM_LEN		2047	/* bytes; longer terms are rejected */
#define BM25_NO_MORE_DOCS		UINT32_MAX

/* One (tf, dl) pair of a block's or a term's impact set. */
typedef struct bm25_impact
{
	uint32_t	tf;
	uint32_t	dl;
} bm25_impact;

/* Where a writer puts its bytes: pwrite semantics, 0 on success. */
typedef struct bm25_writer_io
{
	void	   *ctx;
	int			(*write) (void *ctx, uint64_t offset, const void *buf, size_t len);
} bm25_writer_io;

/* What a finished segment contains; filled in by writer/builder/merge. */
typedef struct bm25_seg_summary
{
	uint64_t	file_size;		/* bytes written, header included */
	uint32_t	ndocs;
	uint32_t	nterms;
	uint64_t	total_tokens;	/* sum of dl over all docs */
	uint64_t	npostings;		/* sum of df over all terms */
} bm25_seg_summary;

/* ---------------------------------------------------------------------
 * Writer.  Memory stays bounded: postings blocks are written as they fill,
 * and only the current term's block metadata plus a sparse dictionary
 * index are held until finish.
 * ---------------------------------------------------------------------
 */
typedef struct bm25_seg_writer bm25_seg_writer;

/*
 * doclens[ndocs] and tids[ndocs] must stay valid until finish.  tids need
 * not be sorted.  A segment may have ndocs == 0 (an empty index).
 */
extern int	bm25_seg_writer_create(const bm25_writer_io *io, uint32_t ndocs,
								   const uint32_t *doclens, const bm25_tid *tids,
								   bm25_seg_writer **out);

/* Terms come in strictly ascending memcmp order (a prefix sorts first). */
extern int	bm25_seg_writer_begin_term(bm25_seg_writer *w, const char *term, uint32_t len);

/* Postings of the current term, doc ids strictly ascending, tf >= 1. */
extern int	bm25_seg_writer_add_postings(bm25_seg_writer *w, uint32_t n,
										 const uint32_t *docids, const uint32_t *tfs);
extern int	bm25_seg_writer_end_term(bm25_seg_writer *w);

/* Writes the remaining sections and the header; fills *summary. */
extern int	bm25_seg_writer_finish(bm25_seg_writer *w, bm25_seg_summary *summary);
extern void bm25_seg_writer_free(bm25_seg_writer *w);

/* ---------------------------------------------------------------------
 * Reader over a memory region (normally an mmap of the whole file).
 * open() validates the header, the section table and the checksums of
 * the small sections; postings blocks and dictionary blocks are checked
 * when they are first decoded.
 * ---------------------------------------------------------------------
 */
typedef struct bm25_segment bm25_segment;

extern int	bm25_segment_open(const void *base, size_t len, bm25_segment **out,
							  char *errbuf, size_t errlen);
extern void bm25_segment_close(bm25_segment *seg);

extern uint32_t bm25_segment_ndocs(const bm25_segment *seg);
extern uint32_t bm25_segment_nterms(const bm25_segment *seg);
extern uint64_t bm25_segment_total_tokens(const bm25_segment *seg);
extern uint32_t bm25_segment_doclen(const bm25_segment *seg, uint32_t docid);
extern bm25_tid bm25_segment_tid(const bm25_segment *seg, uint32_t docid);

/*
 * Full-file verification (every block's checksum, dictionary order, doc id
 * ranges); O(file size).  For bm25_verify_index() and tests.
 */
extern int	bm25_segment_verify(const bm25_segment *seg, char *errbuf, size_t errlen);

/* A term's entry in one segment. */
typedef struct bm25_term_info
{
	uint32_t	df;				/* 0 = term absent from this segment */
	uint32_t	nblocks;
	uint64_t	cf;				/* total occurrences */
	uint64_t	postings_off;	/* private to the reader */
	uint64_t	meta_off;		/* private to the reader */
	uint32_t	nimpacts;		/* term-level impact set, dominates all */
	bm25_impact impacts[BM25_MAX_IMPACTS];
} bm25_term_info;

/* Returns BM25_OK and info->df == 0 when the term is absent. */
extern int	bm25_segment_lookup(const bm25_segment *seg, const char *term, uint32_t len,
								bm25_term_info *info);

/*
 * Check a lookup result obtained elsewhere (a cache) against the segment:
 * BM25_OK for an absent term or one whose postings lie inside the file.
 */
extern int	bm25_segment_check_info(const bm25_segment *seg, const bm25_term_info *info);

/* Visit every term in ascending order; cb returns non-zero to stop. */
typedef int (*bm25_term_visit_fn) (void *arg, const char *term, uint32_t len,
								   const bm25_term_info *info);
extern int	bm25_segment_foreach_term(const bm25_segment *seg, bm25_term_visit_fn cb, void *arg);

/* ---------------------------------------------------------------------
 * Postings cursor.  Lives in caller memory; no allocation.
 * After init, doc == BM25_NO_MORE_DOCS - 1 is never reported: the cursor
 * is positioned on its first posting (or exhausted, doc == NO_MORE_DOCS).
 * ---------------------------------------------------------------------
 */
typedef struct bm25_cursor
{
	/* public, read-only */
	uint32_t	doc;			/* current doc id, or BM25_NO_MORE_DOCS */
	uint32_t	tf;				/* tf at doc */

	/* private */
	const bm25_segment *seg;
	bm25_term_info term;
	uint32_t	block;			/* block whose postings are decoded */
	uint32_t	shallow_block;	/* block located by the last shallow call */
	uint32_t	pos;			/* index within decoded block */
	uint32_t	nbuf;
	uint32_t	docs[BM25_BLOCK_SIZE];
	uint32_t	tfs[BM25_BLOCK_SIZE];
} bm25_cursor;

extern int	bm25_cursor_init(bm25_cursor *c, const bm25_segment *seg, const bm25_term_info *term);
extern int	bm25_cursor_next(bm25_cursor *c);
/* Move to the first posting with doc >= target (no-op if already there). */
extern int	bm25_cursor_advance(bm25_cursor *c, uint32_t target);

/* Block b's impacts by metadata only; the cursor does not move. */
extern int	bm25_cursor_block_impacts(const bm25_cursor *c, uint32_t b,
									  bm25_impact *imp, uint32_t *nimp);
/* Decode block b and sit on its first posting (may move backwards). */
extern int	bm25_cursor_load(bm25_cursor *c, uint32_t b);

/*
 * Locate, without decoding postings, the block that would contain target.
 * Sets *last_doc to that block's last doc id (BM25_NO_MORE_DOCS if target
 * is past the end) and *imp / *nimp to its impact set.
 */
extern int	bm25_cursor_shallow(bm25_cursor *c, uint32_t target, uint32_t *last_doc,
								const bm25_impact **imp, uint32_t *nimp);

/* ---------------------------------------------------------------------
 * In-memory builder: accumulates documents, then writes one segment.
 * Doc ids are assigned in add order.
 * ---------------------------------------------------------------------
 */
typedef struct bm25_builder bm25_builder;

typedef struct bm25_doc_term
{
	const char *text;
	uint32_t	len;
	uint32_t	tf;
} bm25_doc_term;

extern int	bm25_builder_create(bm25_builder **out);

/* terms[] must be distinct within the doc; tf >= 1; dl >= 1. */
extern int	bm25_builder_add_doc(bm25_builder *b, bm25_tid tid, uint32_t dl,
								 const bm25_doc_term *terms, uint32_t nterms);
extern uint32_t bm25_builder_ndocs(const bm25_builder *b);
/* Approximate bytes held, for spilling against a memory budget. */
extern size_t bm25_builder_mem(const bm25_builder *b);
extern int	bm25_builder_write(bm25_builder *b, const bm25_writer_io *io,
							   bm25_seg_summary *summary);
/* Forget all documents but keep allocations for reuse. */
extern void bm25_builder_reset(bm25_builder *b);
extern void bm25_builder_free(bm25_builder *b);

/* ---------------------------------------------------------------------
 * Merge: streams n segments into one.  Doc ids of the output follow input
 * order (segment 0's kept docs first).  keep may be NULL (keep all).
 * Terms whose postings all vanish are dropped.
 * ---------------------------------------------------------------------
 */
typedef int (*bm25_keep_fn) (void *arg, uint32_t segno, uint32_t docid, bm25_tid tid);

extern int	bm25_merge(const bm25_segment *const *in, uint32_t n,
					   bm25_keep_fn keep, void *keep_arg,
					   const bm25_writer_io *io, bm25_seg_summary *summary);

#endif							/* BM25_SEGMENT_H */
