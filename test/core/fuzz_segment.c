/*
 * fuzz_segment.c
 *	  libFuzzer target for the segment reader: open, verify, lookup,
 *	  foreach_term and cursors (next / advance / shallow) over arbitrary
 *	  bytes.  Must never crash or read out of bounds.
 *
 * Input byte 0 selects a mode:
 *	  even: the remaining bytes are the segment image itself;
 *	  odd:  the remaining bytes are edits (u16 offset, xor byte) applied to
 *			a valid seed segment built on the first call; when bit 1 is
 *			set, checksums are then recomputed so the structural checks
 *			behind them are reached too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "segment.h"
#include "seg_format.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fz_buf
{
	uint8_t    *data;
	size_t		len;
	size_t		cap;
} fz_buf;

static fz_buf seed;
static int	seed_ready = 0;

/* io callback writing into an fz_buf. */
static int
fz_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	fz_buf	   *b = (fz_buf *) ctx;

	if (off + len > b->cap)
	{
		size_t		ncap = b->cap ? b->cap : 4096;
		uint8_t    *nd;

		while (ncap < off + len)
			ncap *= 2;
		nd = realloc(b->data, ncap);
		if (nd == NULL)
			return -1;
		memset(nd + b->cap, 0, ncap - b->cap);
		b->data = nd;
		b->cap = ncap;
	}
	memcpy(b->data + off, buf, len);
	if (off + len > b->len)
		b->len = off + len;
	return 0;
}

/* Build a small but varied valid segment: short, long, multi-block terms. */
static void
make_seed(void)
{
	bm25_builder *b;
	bm25_writer_io io;
	bm25_doc_term t[4];
	char		name[3][16];
	char		longt[300];
	uint32_t	d;

	memset(longt, 'z', sizeof(longt));
	io.ctx = &seed;
	io.write = fz_write;
	if (bm25_builder_create(&b) != BM25_OK)
		abort();
	for (d = 0; d < 300; d++)
	{
		uint32_t	n = 0;

		t[n].text = "common";
		t[n].len = 6;
		t[n].tf = 1 + d % 3;
		n++;
		name[0][0] = 'a' + d % 7;
		name[0][1] = 0;
		t[n].text = name[0];
		t[n].len = 1;
		t[n].tf = 1 + (d * 7) % 40;
		n++;
		if (d % 5 == 0)
		{
			t[n].text = longt;
			t[n].len = sizeof(longt);
			t[n].tf = 1;
			n++;
		}
		if (d % 3 == 0)
		{
			name[1][0] = 'm';
			name[1][1] = (char) ('a' + d % 90);
			t[n].text = name[1];
			t[n].len = 2;
			t[n].tf = 2;
			n++;
		}
		if (bm25_builder_add_doc(b, BM25_TID_MAKE(d / 3, d % 3 + 1), 5 + d % 11, t, n) != BM25_OK)
			abort();
	}
	if (bm25_builder_write(b, &io, NULL) != BM25_OK)
		abort();
	bm25_builder_free(b);
	seed_ready = 1;
}

/* Recompute every checksum whose location can be found in bounds. */
static void
fix_crcs(uint8_t *img, size_t len)
{
	uint64_t	fsize;
	uint64_t	off[SEG_NSECTIONS];
	uint64_t	slen[SEG_NSECTIONS];
	uint32_t	ndb;
	int			s;
	uint32_t	i;

	if (len < SEG_HDR_SIZE)
		return;
	fsize = bm25_get_u64(img + HDR_FILE_SIZE);
	if (fsize > len)
		fsize = len;
	for (s = 0; s < SEG_NSECTIONS; s++)
	{
		uint8_t    *e = img + HDR_SECTIONS + s * SECT_ENTRY_SIZE;

		off[s] = bm25_get_u64(e + SECT_OFF);
		slen[s] = bm25_get_u64(e + SECT_LEN);
		if (off[s] > fsize || slen[s] > fsize - off[s])
			slen[s] = 0;
	}
	/* dictionary blocks, then postings blocks of their terms */
	ndb = bm25_get_u32(img + HDR_NDICTBLOCKS);
	for (i = 0; slen[SECT_DICTINDEX] >= (uint64_t) DIDX_ENTRY_SIZE * (i + 1) && i < ndb; i++)
	{
		uint8_t    *e = img + off[SECT_DICTINDEX] + (size_t) i * DIDX_ENTRY_SIZE;
		uint64_t	boff = bm25_get_u64(e + DIDX_OFF);
		uint32_t	blen = bm25_get_u32(e + DIDX_LEN);
		uint32_t	crc;

		if (boff > fsize || blen < DICTBLK_HDR_SIZE || blen > fsize - boff)
			continue;
		crc = bm25_crc32c(0, img + boff, DICTBLK_CRC);
		crc = bm25_crc32c(crc, img + boff + DICTBLK_HDR_SIZE, blen - DICTBLK_HDR_SIZE);
		bm25_put_u32(img + boff + DICTBLK_CRC, crc);
	}
	for (s = 0; s < SEG_NSECTIONS; s++)
		bm25_put_u32(img + HDR_SECTIONS + s * SECT_ENTRY_SIZE + SECT_CRC,
					 bm25_crc32c(0, img + off[s], (size_t) slen[s]));
	bm25_put_u32(img + HDR_CRC, bm25_crc32c(0, img, HDR_CRC));
}

/* Fix the block checksums of one term (offsets checked here too). */
static void
fix_term_blocks(uint8_t *img, size_t len, const bm25_term_info *ti)
{
	uint32_t	b;

	for (b = 0; b < ti->nblocks; b++)
	{
		uint64_t	moff = ti->meta_off + (uint64_t) b * META_SIZE;
		uint8_t    *m;
		uint64_t	boff;
		uint32_t	blen;
		uint32_t	crc;

		if (moff > len || META_SIZE > len - moff)
			return;
		m = img + moff;
		boff = ti->postings_off + bm25_get_u64(m + META_OFF);
		blen = bm25_get_u32(m + META_LEN);
		if (boff < ti->postings_off || boff > len || blen > len - boff)
			continue;
		crc = bm25_crc32c(0, m, META_CRC);
		crc = bm25_crc32c(crc, m + META_CRC + 4, META_SIZE - META_CRC - 4);
		crc = bm25_crc32c(crc, img + boff, blen);
		bm25_put_u32(m + META_CRC, crc);
	}
}

/* Drive one cursor through a term with a mix of operations. */
static void
walk_term(const bm25_segment *seg, const bm25_term_info *ti, const uint8_t *ops, size_t nops)
{
	bm25_cursor c;
	size_t		k = 0;
	int			guard = 0;

	if (bm25_cursor_init(&c, seg, ti) != BM25_OK)
		return;
	while (c.doc != BM25_NO_MORE_DOCS && guard++ < 400)
	{
		uint8_t		op = nops ? ops[k++ % nops] : 0;
		uint32_t	last;
		const bm25_impact *imp;
		uint32_t	nimp;
		int			rc;

		if (op % 4 == 0)
			rc = bm25_cursor_next(&c);
		else if (op % 4 == 1)
			rc = bm25_cursor_advance(&c, c.doc + op);
		else if (op % 4 == 2)
			rc = bm25_cursor_shallow(&c, c.doc + (uint32_t) op * 3, &last, &imp, &nimp);
		else
			rc = bm25_cursor_shallow(&c, op, &last, &imp, &nimp);
		if (rc != BM25_OK)
			break;
	}
}

typedef struct fz_visit
{
	const bm25_segment *seg;
	const uint8_t *ops;
	size_t		nops;
	int			n;
} fz_visit;

/* foreach_term callback: walk the first few terms' postings. */
static int
fz_visit_cb(void *arg, const char *term, uint32_t len, const bm25_term_info *info)
{
	fz_visit   *v = (fz_visit *) arg;

	(void) term;
	(void) len;
	if (v->n++ < 16)
		walk_term(v->seg, info, v->ops, v->nops);
	return 0;
}

/* Open and exercise every read API on img[0..len). */
static void
exercise(const uint8_t *img, size_t len, const uint8_t *ops, size_t nops)
{
	static const char *const probes[] = {"common", "a", "b", "g", "ma", "mz", "zzz", "", "m"};
	bm25_segment *seg = NULL;
	char		err[128];
	fz_visit	v;
	size_t		i;

	if (bm25_segment_open(img, len, &seg, err, sizeof(err)) != BM25_OK)
		return;
	(void) bm25_segment_verify(seg, err, sizeof(err));
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
	{
		bm25_term_info ti;

		if (bm25_segment_lookup(seg, probes[i], (uint32_t) strlen(probes[i]), &ti) == BM25_OK)
			walk_term(seg, &ti, ops, nops);
	}
	v.seg = seg;
	v.ops = ops;
	v.nops = nops;
	v.n = 0;
	(void) bm25_segment_foreach_term(seg, fz_visit_cb, &v);
	for (i = 0; i < 8; i++)
	{
		(void) bm25_segment_doclen(seg, (uint32_t) i * 50);
		(void) bm25_segment_tid(seg, (uint32_t) i * 50);
	}
	bm25_segment_close(seg);
}

typedef struct fz_fix
{
	uint8_t    *img;
	size_t		len;
} fz_fix;

/* foreach_term callback used to fix postings block checksums. */
static int
fz_fix_cb(void *arg, const char *term, uint32_t len, const bm25_term_info *info)
{
	fz_fix	   *f = (fz_fix *) arg;

	(void) term;
	(void) len;
	fix_term_blocks(f->img, f->len, info);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t    *img;
	size_t		len;

	if (!seed_ready)
		make_seed();
	if (size == 0)
		return 0;
	if ((data[0] & 1) == 0)
	{
		len = size - 1;
		img = malloc(len ? len : 1);
		memcpy(img, data + 1, len);
		exercise(img, len, data, size > 64 ? 64 : size);
		free(img);
		return 0;
	}

	len = seed.len;
	img = malloc(len);
	memcpy(img, seed.data, len);
	{
		size_t		i;

		for (i = 1; i + 3 <= size; i += 3)
		{
			size_t		off = ((size_t) data[i] | ((size_t) data[i + 1] << 8)) % len;

			img[off] ^= data[i + 2];
		}
	}
	if (data[0] & 2)
	{
		bm25_segment *seg = NULL;

		/* block CRCs first (their terms are found through the dictionary) */
		fix_crcs(img, len);
		if (bm25_segment_open(img, len, &seg, NULL, 0) == BM25_OK)
		{
			fz_fix		f;

			f.img = img;
			f.len = len;
			(void) bm25_segment_foreach_term(seg, fz_fix_cb, &f);
			bm25_segment_close(seg);
		}
		fix_crcs(img, len);
	}
	exercise(img, len, data, size > 64 ? 64 : size);
	free(img);
	return 0;
}
