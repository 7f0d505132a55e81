/*-------------------------------------------------------------------------
 * segment_write.c
 *	  Streaming segment writer and the impact-frontier helpers.
 *
 * The writer appends the postings section sequentially through a 64 kB
 * buffer: for every term its postings blocks (flushed as they fill), then
 * its block metadata array.  Every DICT_BLOCK_TERMS terms make one
 * dictionary block, kept in memory; finish() appends all of them together
 * at the end of the postings section, then the doc length, TID and
 * dictionary index sections, and finally writes the header at offset 0.
 *
 * The dictionary is kept together because every query's first step is a
 * lookup per term: spread among the postings, each lookup in a new backend
 * touched a page of its own, and on a virtual machine a page fault costs
 * several microseconds (on the benchmark host, 4-8 us: 1.4 faults per
 * query in lookups alone).  Together, a fault maps 64 kB of dictionary
 * around it, and a cold dictionary is read sequentially.
 *
 * Memory held: the buffer, one pending block, the current term's metadata
 * array, the dictionary blocks (about 1/7 of the postings bytes on the
 * benchmark corpus) and the sparse dictionary index (one entry and the
 * first term per dictionary block).  See docs/format.md.
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "seg_format.h"

/*
 * Output is handed to the io callback in pieces that end on multiples of
 * WBUF_SIZE in the file (the first one starts after the header).  2 MB
 * pieces let a kernel whose page cache takes large folios (Linux 6.16+ on
 * ext4, xfs) keep the file in 2 MB folios, which every backend then maps
 * with one page-table entry each instead of 512; in small folios a new
 * backend spends 4-5 us on each 64 kB of segment it touches first (see
 * docs/benchmarks.md).  Elsewhere it only means fewer, larger writes.
 */
#define WBUF_SIZE			(2 * 1024 * 1024)
#define TERM_FRONTIER_CAP	64	/* working term frontier, reduced when full */
#define TERM_FRONTIER_KEEP	32

struct bm25_seg_writer
{
	bm25_writer_io io;
	uint32_t	ndocs;
	const uint32_t *doclens;
	const bm25_tid *tids;
	uint32_t	tid_width;
	uint64_t	total_tokens;
	int			status;			/* sticky failure, BM25_OK while healthy */
	int			in_term;
	int			finished;

	/* output buffer: wbuf holds file bytes [wstart, wstart + wlen) */
	uint8_t    *wbuf;
	size_t		wlen;
	uint64_t	wstart;
	uint32_t	crc;			/* running CRC of the current section */

	/* previous term, for order checks and prefix compression */
	char	   *prev;
	uint32_t	prevlen;
	int			have_prev;

	/* current term */
	char	   *cur;
	uint32_t	curlen;
	uint32_t	df;
	uint64_t	cf;
	uint32_t	last_doc;
	uint64_t	blk_base;		/* first possible doc id of the next block */
	uint64_t	postings_off;
	uint32_t	pend_n;
	uint32_t	pend_docs[BM25_BLOCK_SIZE];
	uint32_t	pend_tfs[BM25_BLOCK_SIZE];
	uint8_t    *meta;
	size_t		meta_len;
	size_t		meta_cap;
	uint32_t	ntfront;
	bm25_impact tfront[TERM_FRONTIER_CAP + 1];

	/* current dictionary block (header reserved at dblk[0..20)) */
	uint8_t    *dblk;
	size_t		dblk_len;
	size_t		dblk_cap;
	uint32_t	dblk_n;
	uint32_t	key_off;		/* first term of the current dict block */
	uint32_t	key_len;

	/* finished dictionary blocks, written out by finish() */
	uint8_t    *dall;
	size_t		dall_len;
	size_t		dall_cap;

	/* sparse dictionary index; offsets relative to dall until finish() */
	uint8_t    *didx;
	size_t		didx_len;
	size_t		didx_cap;
	uint8_t    *dkeys;
	size_t		dkeys_len;
	size_t		dkeys_cap;
	uint32_t	ndictblocks;

	uint32_t	nterms;
	uint64_t	npostings;
	uint64_t	sect_off[SEG_NSECTIONS];
	uint64_t	sect_len[SEG_NSECTIONS];
	uint32_t	sect_crc[SEG_NSECTIONS];
};

/*
 * Add (tf, dl) to a frontier of n points (room for n + 1 required) and
 * return the new count.  Points are kept sorted by dl ascending, tf
 * strictly ascending; the new point is dropped if dominated and removes
 * the points it dominates.
 */
uint32_t
bm25_frontier_add(bm25_impact *f, uint32_t n, uint32_t tf, uint32_t dl)
{
	uint32_t	i = 0;
	uint32_t	j;
	uint32_t	k;

	while (i < n && f[i].dl <= dl)
		i++;
	if (i > 0 && f[i - 1].tf >= tf)
		return n;				/* dominated */
	k = i;
	if (k > 0 && f[k - 1].dl == dl)
		k--;					/* same dl, lower tf: dominated by new point */
	j = i;
	while (j < n && f[j].tf <= tf)
		j++;
	if (j != k + 1)
		memmove(f + k + 1, f + j, (n - j) * sizeof(bm25_impact));
	f[k].tf = tf;
	f[k].dl = dl;
	return n - (j - k) + 1;
}

/*
 * Shrink a frontier to at most max points by repeatedly replacing the
 * adjacent pair whose merge loosens the bound least with its dominating
 * point (the higher tf, the lower dl).  Every point dominated before is
 * still dominated after.
 */
uint32_t
bm25_frontier_reduce(bm25_impact *f, uint32_t n, uint32_t max)
{
	if (max < 1)
		max = 1;
	while (n > max)
	{
		uint32_t	best = 0;
		double		bestcost = 0;
		uint32_t	i;

		for (i = 0; i + 1 < n; i++)
		{
			double		cost;

			cost = (double) (f[i + 1].tf - f[i].tf) / (double) f[i + 1].tf +
				(double) (f[i + 1].dl - f[i].dl) / ((double) f[i + 1].dl + 1.0);
			if (i == 0 || cost < bestcost)
			{
				best = i;
				bestcost = cost;
			}
		}
		f[best].tf = f[best + 1].tf;
		memmove(f + best + 1, f + best + 2, (n - best - 2) * sizeof(bm25_impact));
		n--;
	}
	return n;
}

/* Grow a byte buffer to hold at least need bytes; ENOMEM on failure. */
static int
grow(uint8_t **buf, size_t *cap, size_t need)
{
	size_t		ncap = *cap ? *cap : 256;
	uint8_t    *nbuf;

	if (need <= *cap)
		return BM25_OK;
	while (ncap < need)
		ncap *= 2;
	nbuf = realloc(*buf, ncap);
	if (nbuf == NULL)
		return BM25_ENOMEM;
	*buf = nbuf;
	*cap = ncap;
	return BM25_OK;
}

/* Current file offset of the next byte to be emitted. */
static inline uint64_t
w_pos(const bm25_seg_writer *w)
{
	return w->wstart + w->wlen;
}

/* Hand the buffered bytes to the io callback. */
static int
w_flush(bm25_seg_writer *w)
{
	if (w->wlen == 0)
		return BM25_OK;
	if (w->io.write(w->io.ctx, w->wstart, w->wbuf, w->wlen) != 0)
		return w->status = BM25_EIO;
	w->wstart += w->wlen;
	w->wlen = 0;
	return BM25_OK;
}

/* Append bytes to the file, updating the running section CRC. */
static int
w_emit(bm25_seg_writer *w, const void *data, size_t len)
{
	const uint8_t *p = (const uint8_t *) data;

	w->crc = bm25_crc32c(w->crc, data, len);
	while (len > 0)
	{
		/* the buffer's piece ends at the next multiple of WBUF_SIZE */
		size_t		n = WBUF_SIZE - (size_t) (w->wstart % WBUF_SIZE) - w->wlen;

		if (n == 0)
		{
			if (w_flush(w) != BM25_OK)
				return w->status;
			n = WBUF_SIZE;
		}
		if (n > len)
			n = len;
		memcpy(w->wbuf + w->wlen, p, n);
		w->wlen += n;
		p += n;
		len -= n;
	}
	return BM25_OK;
}

/* Mark the start of section s at the current offset. */
static void
w_section_begin(bm25_seg_writer *w, int s)
{
	w->sect_off[s] = w_pos(w);
	w->crc = 0;
}

/* Record length and CRC of section s, which ends at the current offset. */
static void
w_section_end(bm25_seg_writer *w, int s)
{
	w->sect_len[s] = w_pos(w) - w->sect_off[s];
	w->sect_crc[s] = w->crc;
}

/*
 * Create a writer.  doclens and tids are borrowed until finish; they are
 * scanned once here for total_tokens and the TID width.
 */
int
bm25_seg_writer_create(const bm25_writer_io *io, uint32_t ndocs,
					   const uint32_t *doclens, const bm25_tid *tids,
					   bm25_seg_writer **out)
{
	bm25_seg_writer *w;
	uint64_t	total = 0;
	bm25_tid	tidor = 0;
	uint32_t	i;

	if (out == NULL)
		return BM25_EINVAL;
	*out = NULL;
	if (io == NULL || io->write == NULL)
		return BM25_EINVAL;
	if (ndocs >= UINT32_MAX)
		return BM25_ELIMIT;
	if (ndocs > 0 && (doclens == NULL || tids == NULL))
		return BM25_EINVAL;
	for (i = 0; i < ndocs; i++)
	{
		total += doclens[i];
		tidor |= tids[i];
	}

	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return BM25_ENOMEM;
	w->wbuf = malloc(WBUF_SIZE);
	w->prev = malloc(BM25_MAX_TERM_LEN);
	w->cur = malloc(BM25_MAX_TERM_LEN);
	if (w->wbuf == NULL || w->prev == NULL || w->cur == NULL ||
		grow(&w->dblk, &w->dblk_cap, 4096) != BM25_OK)
	{
		bm25_seg_writer_free(w);
		return BM25_ENOMEM;
	}
	w->io = *io;
	w->ndocs = ndocs;
	w->doclens = doclens;
	w->tids = tids;
	w->total_tokens = total;
	w->tid_width = (tidor >> 48) == 0 ? 6 : 8;
	w->dblk_len = DICTBLK_HDR_SIZE;
	w->wstart = SEG_HDR_SIZE;
	w_section_begin(w, SECT_POSTINGS);
	*out = w;
	return BM25_OK;
}

/* Start a term; it must sort strictly after the previous one. */
int
bm25_seg_writer_begin_term(bm25_seg_writer *w, const char *term, uint32_t len)
{
	if (w == NULL)
		return BM25_EINVAL;
	if (w->status != BM25_OK)
		return w->status;
	if (w->in_term || w->finished || (term == NULL && len > 0))
		return BM25_EINVAL;
	if (len == 0)
		return BM25_EINVAL;
	if (len > BM25_MAX_TERM_LEN)
		return BM25_ELIMIT;
	if (w->have_prev && bm25_term_cmp(w->prev, w->prevlen, term, len) >= 0)
		return BM25_EINVAL;
	if (w->nterms == UINT32_MAX)
		return BM25_ELIMIT;
	memcpy(w->cur, term, len);
	w->curlen = len;
	w->in_term = 1;
	w->df = 0;
	w->cf = 0;
	w->blk_base = 0;
	w->pend_n = 0;
	w->meta_len = 0;
	w->ntfront = 0;
	w->postings_off = w_pos(w);
	return BM25_OK;
}

/*
 * Encode the pending postings as one block, append it and its metadata
 * entry, and fold its impact frontier into the term's.
 */
static int
w_flush_block(bm25_seg_writer *w)
{
	uint32_t	n = w->pend_n;
	uint32_t	vals[BM25_BLOCK_SIZE];
	uint8_t		blk[BLK_MAX_SIZE];
	uint8_t		m[META_SIZE];
	bm25_impact front[BM25_BLOCK_SIZE + 1];
	uint32_t	nf = 0;
	uint64_t	prev = w->blk_base;
	uint32_t	acc = 0;
	uint32_t	dw;
	uint32_t	tw;
	size_t		len;
	uint32_t	crc;
	uint32_t	i;
	int			rc;

	for (i = 0; i < n; i++)
	{
		vals[i] = (uint32_t) (w->pend_docs[i] - prev);
		prev = (uint64_t) w->pend_docs[i] + 1;
		acc |= vals[i];
	}
	dw = bm25_bit_width(acc);
	blk[BLK_DOC_WIDTH] = (uint8_t) dw;
	len = BLK_HDR_SIZE + bm25_pack(blk + BLK_HDR_SIZE, vals, n, dw);
	acc = 0;
	for (i = 0; i < n; i++)
	{
		vals[i] = w->pend_tfs[i] - 1;
		acc |= vals[i];
	}
	tw = bm25_bit_width(acc);
	blk[BLK_TF_WIDTH] = (uint8_t) tw;
	len += bm25_pack(blk + len, vals, n, tw);

	for (i = 0; i < n; i++)
		nf = bm25_frontier_add(front, nf, w->pend_tfs[i], w->doclens[w->pend_docs[i]]);
	for (i = 0; i < nf; i++)
	{
		w->ntfront = bm25_frontier_add(w->tfront, w->ntfront, front[i].tf, front[i].dl);
		if (w->ntfront >= TERM_FRONTIER_CAP)
			w->ntfront = bm25_frontier_reduce(w->tfront, w->ntfront, TERM_FRONTIER_KEEP);
	}
	nf = bm25_frontier_reduce(front, nf, BM25_MAX_IMPACTS);

	memset(m, 0, sizeof(m));
	bm25_put_u32(m + META_LAST_DOC, w->pend_docs[n - 1]);
	bm25_put_u32(m + META_LEN, (uint32_t) len);
	bm25_put_u64(m + META_OFF, w_pos(w) - w->postings_off);
	m[META_COUNT] = (uint8_t) n;
	m[META_NIMP] = (uint8_t) nf;
	for (i = 0; i < nf; i++)
	{
		bm25_put_u32(m + META_IMPACTS + 8 * i, front[i].tf);
		bm25_put_u32(m + META_IMPACTS + 8 * i + 4, front[i].dl);
	}
	crc = bm25_crc32c(0, m, META_CRC);
	crc = bm25_crc32c(crc, m + META_CRC + 4, META_SIZE - META_CRC - 4);
	crc = bm25_crc32c(crc, blk, len);
	bm25_put_u32(m + META_CRC, crc);

	if ((rc = grow(&w->meta, &w->meta_cap, w->meta_len + META_SIZE)) != BM25_OK)
		return w->status = rc;
	memcpy(w->meta + w->meta_len, m, META_SIZE);
	w->meta_len += META_SIZE;
	w->blk_base = (uint64_t) w->pend_docs[n - 1] + 1;
	w->pend_n = 0;
	return w_emit(w, blk, len);
}

/*
 * Append postings to the current term.  The batch is validated before
 * anything is appended, so an EINVAL leaves the writer usable.
 */
int
bm25_seg_writer_add_postings(bm25_seg_writer *w, uint32_t n,
							 const uint32_t *docids, const uint32_t *tfs)
{
	uint64_t	next;
	uint32_t	i;

	if (w == NULL)
		return BM25_EINVAL;
	if (w->status != BM25_OK)
		return w->status;
	if (!w->in_term || (n > 0 && (docids == NULL || tfs == NULL)))
		return BM25_EINVAL;
	next = w->df > 0 ? (uint64_t) w->last_doc + 1 : 0;
	for (i = 0; i < n; i++)
	{
		if (docids[i] < next || docids[i] >= w->ndocs || tfs[i] == 0)
			return BM25_EINVAL;
		next = (uint64_t) docids[i] + 1;
	}
	for (i = 0; i < n; i++)
	{
		w->pend_docs[w->pend_n] = docids[i];
		w->pend_tfs[w->pend_n] = tfs[i];
		w->cf += tfs[i];
		if (++w->pend_n == BM25_BLOCK_SIZE && w_flush_block(w) != BM25_OK)
			return w->status;
	}
	if (n > 0)
	{
		w->df += n;
		w->last_doc = docids[n - 1];
	}
	return BM25_OK;
}

/* Write out the current dictionary block and add its index entry. */
static int
w_flush_dict_block(bm25_seg_writer *w)
{
	uint8_t		e[DIDX_ENTRY_SIZE];
	uint32_t	crc;
	int			rc;

	bm25_put_u32(w->dblk + DICTBLK_MAGIC, DICT_MAGIC);
	bm25_put_u16(w->dblk + DICTBLK_VERSION, BM25_SEGMENT_VERSION);
	bm25_put_u16(w->dblk + DICTBLK_RESERVED, 0);
	bm25_put_u32(w->dblk + DICTBLK_NENTRIES, w->dblk_n);
	bm25_put_u32(w->dblk + DICTBLK_LEN, (uint32_t) w->dblk_len);
	crc = bm25_crc32c(0, w->dblk, DICTBLK_CRC);
	crc = bm25_crc32c(crc, w->dblk + DICTBLK_HDR_SIZE, w->dblk_len - DICTBLK_HDR_SIZE);
	bm25_put_u32(w->dblk + DICTBLK_CRC, crc);

	bm25_put_u64(e + DIDX_OFF, w->dall_len);
	bm25_put_u32(e + DIDX_LEN, (uint32_t) w->dblk_len);
	bm25_put_u32(e + DIDX_NENTRIES, w->dblk_n);
	bm25_put_u32(e + DIDX_KEY_OFF, w->key_off);
	bm25_put_u32(e + DIDX_KEY_LEN, w->key_len);
	if ((rc = grow(&w->didx, &w->didx_cap, w->didx_len + DIDX_ENTRY_SIZE)) != BM25_OK)
		return w->status = rc;
	memcpy(w->didx + w->didx_len, e, DIDX_ENTRY_SIZE);
	w->didx_len += DIDX_ENTRY_SIZE;
	w->ndictblocks++;
	if ((rc = grow(&w->dall, &w->dall_cap, w->dall_len + w->dblk_len)) != BM25_OK)
		return w->status = rc;
	memcpy(w->dall + w->dall_len, w->dblk, w->dblk_len);
	w->dall_len += w->dblk_len;
	w->dblk_len = DICTBLK_HDR_SIZE;
	w->dblk_n = 0;
	return BM25_OK;
}

/*
 * Finish the current term: flush its last block, write its metadata
 * array and add its dictionary entry.  A term without postings is
 * rejected (EINVAL) and forgotten.
 */
int
bm25_seg_writer_end_term(bm25_seg_writer *w)
{
	uint8_t    *p;
	uint64_t	meta_off;
	uint32_t	prefix = 0;
	uint32_t	nimp;
	uint32_t	i;
	int			rc;

	if (w == NULL)
		return BM25_EINVAL;
	if (w->status != BM25_OK)
		return w->status;
	if (!w->in_term)
		return BM25_EINVAL;
	w->in_term = 0;
	if (w->df == 0)
		return BM25_EINVAL;
	if (w->pend_n > 0 && w_flush_block(w) != BM25_OK)
		return w->status;
	meta_off = w_pos(w);
	if (w_emit(w, w->meta, w->meta_len) != BM25_OK)
		return w->status;
	nimp = bm25_frontier_reduce(w->tfront, w->ntfront, BM25_MAX_IMPACTS);

	if (w->dblk_n == 0)
	{
		if ((uint64_t) w->dkeys_len + w->curlen > UINT32_MAX)
			return w->status = BM25_ELIMIT;
		if ((rc = grow(&w->dkeys, &w->dkeys_cap, w->dkeys_len + w->curlen)) != BM25_OK)
			return w->status = rc;
		memcpy(w->dkeys + w->dkeys_len, w->cur, w->curlen);
		w->key_off = (uint32_t) w->dkeys_len;
		w->key_len = w->curlen;
		w->dkeys_len += w->curlen;
	}
	else
	{
		uint32_t	max = w->prevlen < w->curlen ? w->prevlen : w->curlen;

		while (prefix < max && w->prev[prefix] == w->cur[prefix])
			prefix++;
	}
	if ((rc = grow(&w->dblk, &w->dblk_cap,
				   w->dblk_len + w->curlen + 8 * BM25_VARINT_MAX +
				   2 * BM25_MAX_IMPACTS * BM25_VARINT_MAX)) != BM25_OK)
		return w->status = rc;
	p = w->dblk + w->dblk_len;
	p += bm25_varint_put(p, prefix);
	p += bm25_varint_put(p, w->curlen - prefix);
	memcpy(p, w->cur + prefix, w->curlen - prefix);
	p += w->curlen - prefix;
	p += bm25_varint_put(p, w->df);
	p += bm25_varint_put(p, w->cf - w->df);
	p += bm25_varint_put(p, w->postings_off);
	p += bm25_varint_put(p, meta_off - w->postings_off);
	p += bm25_varint_put(p, nimp);
	for (i = 0; i < nimp; i++)
	{
		p += bm25_varint_put(p, w->tfront[i].tf);
		p += bm25_varint_put(p, w->tfront[i].dl);
	}
	w->dblk_len = (size_t) (p - w->dblk);
	w->dblk_n++;

	memcpy(w->prev, w->cur, w->curlen);
	w->prevlen = w->curlen;
	w->have_prev = 1;
	w->nterms++;
	w->npostings += w->df;
	if (w->dblk_n == DICT_BLOCK_TERMS)
		return w_flush_dict_block(w);
	return BM25_OK;
}

/*
 * Append the doc length, TID and dictionary index sections, then write
 * the header at offset 0 and fill *summary.
 */
int
bm25_seg_writer_finish(bm25_seg_writer *w, bm25_seg_summary *summary)
{
	uint8_t		tmp[4096];
	uint8_t		hdr[SEG_HDR_SIZE];
	size_t		n;
	uint32_t	i;
	int			s;

	if (w == NULL)
		return BM25_EINVAL;
	if (w->status != BM25_OK)
		return w->status;
	if (w->in_term || w->finished)
		return BM25_EINVAL;
	if (w->dblk_n > 0 && w_flush_dict_block(w) != BM25_OK)
		return w->status;
	/* the dictionary blocks, together, close the postings section */
	for (i = 0; i < w->ndictblocks; i++)
	{
		uint8_t    *e = w->didx + (size_t) i * DIDX_ENTRY_SIZE;

		bm25_put_u64(e + DIDX_OFF, w_pos(w) + bm25_get_u64(e + DIDX_OFF));
	}
	if (w_emit(w, w->dall, w->dall_len) != BM25_OK)
		return w->status;
	w_section_end(w, SECT_POSTINGS);

	w_section_begin(w, SECT_DOCLENS);
	n = 0;
	for (i = 0; i < w->ndocs; i++)
	{
		bm25_put_u32(tmp + n, w->doclens[i]);
		n += 4;
		if (n + 4 > sizeof(tmp) || i + 1 == w->ndocs)
		{
			if (w_emit(w, tmp, n) != BM25_OK)
				return w->status;
			n = 0;
		}
	}
	w_section_end(w, SECT_DOCLENS);

	w_section_begin(w, SECT_TIDS);
	n = 0;
	for (i = 0; i < w->ndocs; i++)
	{
		bm25_put_u32(tmp + n, (uint32_t) w->tids[i]);
		bm25_put_u16(tmp + n + 4, (uint16_t) (w->tids[i] >> 32));
		if (w->tid_width == 8)
			bm25_put_u16(tmp + n + 6, (uint16_t) (w->tids[i] >> 48));
		n += w->tid_width;
		if (n + 8 > sizeof(tmp) || i + 1 == w->ndocs)
		{
			if (w_emit(w, tmp, n) != BM25_OK)
				return w->status;
			n = 0;
		}
	}
	w_section_end(w, SECT_TIDS);

	w_section_begin(w, SECT_DICTINDEX);
	if (w_emit(w, w->didx, w->didx_len) != BM25_OK ||
		w_emit(w, w->dkeys, w->dkeys_len) != BM25_OK)
		return w->status;
	w_section_end(w, SECT_DICTINDEX);
	if (w_flush(w) != BM25_OK)
		return w->status;

	memset(hdr, 0, sizeof(hdr));
	bm25_put_u32(hdr + HDR_MAGIC, BM25_SEGMENT_MAGIC);
	bm25_put_u32(hdr + HDR_VERSION, BM25_SEGMENT_VERSION);
	bm25_put_u32(hdr + HDR_HEADER_SIZE, SEG_HDR_SIZE);
	bm25_put_u32(hdr + HDR_NSECTIONS, SEG_NSECTIONS);
	bm25_put_u32(hdr + HDR_NDOCS, w->ndocs);
	bm25_put_u32(hdr + HDR_NTERMS, w->nterms);
	bm25_put_u64(hdr + HDR_TOTAL_TOKENS, w->total_tokens);
	bm25_put_u64(hdr + HDR_NPOSTINGS, w->npostings);
	bm25_put_u64(hdr + HDR_FILE_SIZE, w_pos(w));
	bm25_put_u32(hdr + HDR_NDICTBLOCKS, w->ndictblocks);
	bm25_put_u32(hdr + HDR_TID_WIDTH, w->tid_width);
	for (s = 0; s < SEG_NSECTIONS; s++)
	{
		uint8_t    *e = hdr + HDR_SECTIONS + s * SECT_ENTRY_SIZE;

		bm25_put_u64(e + SECT_OFF, w->sect_off[s]);
		bm25_put_u64(e + SECT_LEN, w->sect_len[s]);
		bm25_put_u32(e + SECT_CRC, w->sect_crc[s]);
	}
	bm25_put_u32(hdr + HDR_CRC, bm25_crc32c(0, hdr, HDR_CRC));
	if (w->io.write(w->io.ctx, 0, hdr, SEG_HDR_SIZE) != 0)
		return w->status = BM25_EIO;
	w->finished = 1;
	if (summary)
	{
		summary->file_size = w_pos(w);
		summary->ndocs = w->ndocs;
		summary->nterms = w->nterms;
		summary->total_tokens = w->total_tokens;
		summary->npostings = w->npostings;
	}
	return BM25_OK;
}

/* Release the writer and everything it holds (NULL is a no-op). */
void
bm25_seg_writer_free(bm25_seg_writer *w)
{
	if (w == NULL)
		return;
	free(w->wbuf);
	free(w->prev);
	free(w->cur);
	free(w->meta);
	free(w->dblk);
	free(w->dall);
	free(w->didx);
	free(w->dkeys);
	free(w);
}
