/*-------------------------------------------------------------------------
 * seg_format.h
 *	  Internal: byte layout of segment files (see docs/format.md) and the
 *	  reader's private structures shared by segment_read.c and merge.c.
 *
 * No C struct mirrors on-disk bytes; every field is read and written at
 * the byte offsets below with the little-endian helpers of codec.h.  The
 * static assertions check that the offsets add up to the record sizes.
 *-------------------------------------------------------------------------
 */
#ifndef BM25_SEG_FORMAT_H
#define BM25_SEG_FORMAT_H

#include "codec.h"
#include "segment.h"

/* ---- file header, at offset 0 ---- */
#define SEG_HDR_SIZE			160
#define HDR_MAGIC				0	/* u32 BM25_SEGMENT_MAGIC */
#define HDR_VERSION				4	/* u32 BM25_SEGMENT_VERSION */
#define HDR_HEADER_SIZE			8	/* u32 SEG_HDR_SIZE */
#define HDR_NSECTIONS			12	/* u32 SEG_NSECTIONS */
#define HDR_NDOCS				16	/* u32 */
#define HDR_NTERMS				20	/* u32 */
#define HDR_TOTAL_TOKENS		24	/* u64 */
#define HDR_NPOSTINGS			32	/* u64 */
#define HDR_FILE_SIZE			40	/* u64 */
#define HDR_NDICTBLOCKS			48	/* u32 */
#define HDR_TID_WIDTH			52	/* u32: 6 or 8 */
#define HDR_SECTIONS			56	/* SEG_NSECTIONS x section entry */
#define HDR_RESERVED			152 /* u32, zero */
#define HDR_CRC					156 /* u32 CRC-32C of bytes [0, 156) */

/* ---- section table entry ---- */
#define SECT_ENTRY_SIZE			24
#define SECT_OFF				0	/* u64 absolute file offset */
#define SECT_LEN				8	/* u64 bytes */
#define SECT_CRC				16	/* u32 CRC-32C of the section bytes */
#define SECT_RESERVED			20	/* u32, zero */

#define SEG_NSECTIONS			4
#define SECT_POSTINGS			0	/* postings blocks, block metadata, dict blocks */
#define SECT_DOCLENS			1	/* ndocs x u32 */
#define SECT_TIDS				2	/* ndocs x tid_width bytes */
#define SECT_DICTINDEX			3	/* dictionary index entries + keys */

BM25_STATIC_ASSERT(HDR_SECTIONS + SEG_NSECTIONS * SECT_ENTRY_SIZE == HDR_RESERVED,
				   hdr_sections);
BM25_STATIC_ASSERT(HDR_CRC + 4 == SEG_HDR_SIZE, hdr_size);
BM25_STATIC_ASSERT(SECT_RESERVED + 4 == SECT_ENTRY_SIZE, sect_size);

/* ---- per-block metadata entry (array after a term's postings) ---- */
#define META_SIZE				56
#define META_LAST_DOC			0	/* u32 last doc id of the block */
#define META_LEN				4	/* u32 block bytes */
#define META_OFF				8	/* u64 block offset from the term's postings_off */
#define META_CRC				16	/* u32 see below */
#define META_COUNT				20	/* u8 postings in block, 1..128 */
#define META_NIMP				21	/* u8 impacts, 1..BM25_MAX_IMPACTS */
#define META_RESERVED			22	/* u16 zero */
#define META_IMPACTS			24	/* BM25_MAX_IMPACTS x (u32 tf, u32 dl) */

BM25_STATIC_ASSERT(META_IMPACTS + BM25_MAX_IMPACTS * 8 == META_SIZE, meta_size);
BM25_STATIC_ASSERT(BM25_BLOCK_SIZE <= 255, block_count_fits_u8);

/* ---- postings block ---- */
#define BLK_DOC_WIDTH			0	/* u8 */
#define BLK_TF_WIDTH			1	/* u8 */
#define BLK_HDR_SIZE			2	/* then packed doc deltas, packed tf-1 */
#define BLK_MAX_SIZE			(BLK_HDR_SIZE + 2 * 4 * BM25_BLOCK_SIZE)

/* ---- dictionary block ---- */
#define DICT_MAGIC				0x42444D42u /* bytes "BMDB" */
#define DICT_BLOCK_TERMS		64	/* terms per block written */
#define DICTBLK_HDR_SIZE		20
#define DICTBLK_MAGIC			0	/* u32 DICT_MAGIC */
#define DICTBLK_VERSION			4	/* u16 BM25_SEGMENT_VERSION */
#define DICTBLK_RESERVED		6	/* u16 zero */
#define DICTBLK_NENTRIES		8	/* u32 */
#define DICTBLK_LEN				12	/* u32 bytes including this header */
#define DICTBLK_CRC				16	/* u32 CRC of [0,16) then [20,len) */

BM25_STATIC_ASSERT(DICTBLK_CRC + 4 == DICTBLK_HDR_SIZE, dictblk_size);

/* ---- dictionary index entry ---- */
#define DIDX_ENTRY_SIZE			24
#define DIDX_OFF				0	/* u64 absolute offset of the dict block */
#define DIDX_LEN				8	/* u32 */
#define DIDX_NENTRIES			12	/* u32 */
#define DIDX_KEY_OFF			16	/* u32 offset of first term in keys area */
#define DIDX_KEY_LEN			20	/* u32 */

BM25_STATIC_ASSERT(DIDX_KEY_LEN + 4 == DIDX_ENTRY_SIZE, didx_size);

/* Blocks of a term with df postings. */
#define SEG_NBLOCKS(df)	(((uint64_t) (df) + BM25_BLOCK_SIZE - 1) / BM25_BLOCK_SIZE)

/* An opened segment: pointers into the caller's memory region. */
/*
 * What a segment handle remembers (the bytes never change while it is
 * open): the results of recent term lookups, and which dictionary and
 * postings blocks have already passed their checksum.  A block is verified
 * the first time the handle reads it and trusted afterwards, as a buffer
 * page is verified when it is read in and not on every access.  Purely an
 * accelerator: when an allocation fails the handle has none of it, or an
 * entry is not kept, and every read does the full search and check.
 */
#define SEG_TERM_CACHE		512		/* lookup cache slots, direct-mapped */

typedef struct seg_term_entry
{
	uint32_t	len;
	bm25_term_info info;		/* df == 0: the term is absent */
	char		term[];			/* len bytes */
} seg_term_entry;

typedef struct seg_memo
{
	seg_term_entry *terms[SEG_TERM_CACHE];
	uint8_t    *dict_ok;		/* bit per dictionary block; NULL: none kept */
	uint8_t    *block_ok;		/* bit per META_SIZE bytes of the postings
								 * section, set at the metadata entry of each
								 * verified block; NULL: none kept */
} seg_memo;

struct bm25_segment
{
	const uint8_t *base;
	uint64_t	file_size;
	uint32_t	ndocs;
	uint32_t	nterms;
	uint64_t	total_tokens;
	uint64_t	npostings;
	uint32_t	ndictblocks;
	uint32_t	tid_width;
	uint64_t	sect_off[SEG_NSECTIONS];
	uint64_t	sect_len[SEG_NSECTIONS];
	uint32_t	sect_crc[SEG_NSECTIONS];
	const uint8_t *doclens;
	const uint8_t *tids;
	const uint8_t *didx;		/* dictionary index entries */
	const uint8_t *dkeys;		/* dictionary index keys area */
	uint64_t	dkeys_len;
	seg_memo   *memo;			/* NULL when it could not be allocated */
};

/*
 * Sequential walk over the dictionary (foreach_term, merge, verify).
 * Holds the current term's bytes and info.
 */
typedef struct seg_dict_iter
{
	const bm25_segment *seg;
	uint32_t	blockno;		/* dict block being read */
	const uint8_t *blk;
	uint32_t	blklen;
	uint32_t	nentries;
	uint32_t	entry;			/* entries consumed in this block */
	size_t		pos;			/* byte position of the next entry */
	int			done;			/* no more terms */
	uint32_t	termlen;
	bm25_term_info info;
	char		term[BM25_MAX_TERM_LEN];
} seg_dict_iter;

/* Position on the first term (it->done set if none). */
extern int	bm25_seg_iter_init(seg_dict_iter *it, const bm25_segment *seg,
							   char *errbuf, size_t errlen);

/* Step to the next term (it->done set past the end). */
extern int	bm25_seg_iter_next(seg_dict_iter *it, char *errbuf, size_t errlen);

/* memcmp order, a prefix first; returns <0, 0, >0. */
extern int	bm25_term_cmp(const char *a, uint32_t alen, const char *b, uint32_t blen);

/*
 * Impact frontier helpers (segment_write.c).  A frontier is sorted by dl
 * ascending with tf strictly ascending; every added point is dominated
 * (tf >= and dl <=) by some frontier point.
 */
extern uint32_t bm25_frontier_add(bm25_impact *f, uint32_t n, uint32_t tf, uint32_t dl);
extern uint32_t bm25_frontier_reduce(bm25_impact *f, uint32_t n, uint32_t max);

#endif							/* BM25_SEG_FORMAT_H */
