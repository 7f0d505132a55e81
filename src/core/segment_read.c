/*-------------------------------------------------------------------------
 * segment_read.c
 *	  Segment reader: open/validate, doc lengths and TIDs, dictionary
 *	  lookup and iteration, postings cursors and full verification.
 *
 * The reader never trusts an offset: every one is checked against the
 * bounds of its section before use, and postings/dictionary blocks are
 * checksummed when decoded.  See docs/format.md for the layout.
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seg_format.h"

static int	seg_corrupt(char *errbuf, size_t errlen, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

/* Format a message into errbuf (when given) and return BM25_ECORRUPT. */
static int
seg_corrupt(char *errbuf, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	if (errbuf != NULL && errlen > 0)
	{
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return BM25_ECORRUPT;
}

/* memcmp order with a prefix sorting first: the dictionary's term order. */
int
bm25_term_cmp(const char *a, uint32_t alen, const char *b, uint32_t blen)
{
	uint32_t	n = alen < blen ? alen : blen;
	int			c = n > 0 ? memcmp(a, b, n) : 0;

	if (c != 0)
		return c;
	return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

/*
 * Validate the header, the section table and the checksums of the doc
 * length, TID and dictionary index sections; then build the handle.
 */
int
bm25_segment_open(const void *base, size_t len, bm25_segment **out,
				  char *errbuf, size_t errlen)
{
	const uint8_t *b = (const uint8_t *) base;
	bm25_segment tmp;
	bm25_segment *seg;
	uint32_t	v;
	int			s;

	if (out == NULL)
		return BM25_EINVAL;
	*out = NULL;
	if (base == NULL && len > 0)
		return BM25_EINVAL;
	if (len < SEG_HDR_SIZE)
		return seg_corrupt(errbuf, errlen, "segment too short: %zu bytes", len);
	if (bm25_get_u32(b + HDR_MAGIC) != BM25_SEGMENT_MAGIC)
		return seg_corrupt(errbuf, errlen, "bad segment magic 0x%08X",
						   (unsigned) bm25_get_u32(b + HDR_MAGIC));
	v = bm25_get_u32(b + HDR_VERSION);
	if (v != BM25_SEGMENT_VERSION)
		return seg_corrupt(errbuf, errlen, "unsupported segment format version %u (expected %u)",
						   (unsigned) v, (unsigned) BM25_SEGMENT_VERSION);
	if (bm25_get_u32(b + HDR_CRC) != bm25_crc32c(0, b, HDR_CRC))
		return seg_corrupt(errbuf, errlen, "segment header checksum mismatch");
	if (bm25_get_u32(b + HDR_HEADER_SIZE) != SEG_HDR_SIZE ||
		bm25_get_u32(b + HDR_NSECTIONS) != SEG_NSECTIONS)
		return seg_corrupt(errbuf, errlen, "bad segment header size or section count");

	memset(&tmp, 0, sizeof(tmp));
	tmp.base = b;
	tmp.file_size = bm25_get_u64(b + HDR_FILE_SIZE);
	tmp.ndocs = bm25_get_u32(b + HDR_NDOCS);
	tmp.nterms = bm25_get_u32(b + HDR_NTERMS);
	tmp.total_tokens = bm25_get_u64(b + HDR_TOTAL_TOKENS);
	tmp.npostings = bm25_get_u64(b + HDR_NPOSTINGS);
	tmp.ndictblocks = bm25_get_u32(b + HDR_NDICTBLOCKS);
	tmp.tid_width = bm25_get_u32(b + HDR_TID_WIDTH);
	if (tmp.file_size > len || tmp.file_size < SEG_HDR_SIZE)
		return seg_corrupt(errbuf, errlen, "segment truncated: header says %llu bytes, have %zu",
						   (unsigned long long) tmp.file_size, len);
	if (tmp.ndocs == UINT32_MAX || (tmp.tid_width != 6 && tmp.tid_width != 8))
		return seg_corrupt(errbuf, errlen, "bad document count or TID width in segment header");
	if ((tmp.nterms == 0) != (tmp.ndictblocks == 0) || tmp.ndictblocks > tmp.nterms ||
		tmp.npostings < tmp.nterms)
		return seg_corrupt(errbuf, errlen, "inconsistent term counts in segment header");

	for (s = 0; s < SEG_NSECTIONS; s++)
	{
		const uint8_t *e = b + HDR_SECTIONS + s * SECT_ENTRY_SIZE;

		tmp.sect_off[s] = bm25_get_u64(e + SECT_OFF);
		tmp.sect_len[s] = bm25_get_u64(e + SECT_LEN);
		tmp.sect_crc[s] = bm25_get_u32(e + SECT_CRC);
		if (tmp.sect_off[s] < SEG_HDR_SIZE || tmp.sect_off[s] > tmp.file_size ||
			tmp.sect_len[s] > tmp.file_size - tmp.sect_off[s])
			return seg_corrupt(errbuf, errlen, "segment section %d out of bounds", s);
	}
	if (tmp.sect_len[SECT_DOCLENS] != (uint64_t) tmp.ndocs * 4 ||
		tmp.sect_len[SECT_TIDS] != (uint64_t) tmp.ndocs * tmp.tid_width)
		return seg_corrupt(errbuf, errlen, "doc length or TID section has the wrong size");
	if (tmp.sect_len[SECT_DICTINDEX] < (uint64_t) tmp.ndictblocks * DIDX_ENTRY_SIZE)
		return seg_corrupt(errbuf, errlen, "dictionary index section too short");
	for (s = SECT_DOCLENS; s <= SECT_DICTINDEX; s++)
	{
		if (bm25_crc32c(0, b + tmp.sect_off[s], (size_t) tmp.sect_len[s]) != tmp.sect_crc[s])
			return seg_corrupt(errbuf, errlen, "segment section %d checksum mismatch", s);
	}
	tmp.doclens = b + tmp.sect_off[SECT_DOCLENS];
	tmp.tids = b + tmp.sect_off[SECT_TIDS];
	tmp.didx = b + tmp.sect_off[SECT_DICTINDEX];
	tmp.dkeys = tmp.didx + (size_t) tmp.ndictblocks * DIDX_ENTRY_SIZE;
	tmp.dkeys_len = tmp.sect_len[SECT_DICTINDEX] - (uint64_t) tmp.ndictblocks * DIDX_ENTRY_SIZE;

	seg = malloc(sizeof(*seg));
	if (seg == NULL)
		return BM25_ENOMEM;
	*seg = tmp;
	seg->memo = calloc(1, sizeof(seg_memo));
	if (seg->memo != NULL)
	{
		seg->memo->dict_ok = calloc((size_t) tmp.ndictblocks / 8 + 1, 1);
		seg->memo->block_ok = calloc((size_t) (tmp.sect_len[SECT_POSTINGS] / META_SIZE) / 8 + 1, 1);
	}
	*out = seg;
	return BM25_OK;
}

/* Free the handle; the mapped bytes belong to the caller. */
void
bm25_segment_close(bm25_segment *seg)
{
	if (seg == NULL)
		return;
	if (seg->memo != NULL)
	{
		for (int i = 0; i < SEG_TERM_CACHE; i++)
			free(seg->memo->terms[i]);
		free(seg->memo->dict_ok);
		free(seg->memo->block_ok);
		free(seg->memo);
	}
	free(seg);
}

/* Header accessors. */
uint32_t
bm25_segment_ndocs(const bm25_segment *seg)
{
	return seg->ndocs;
}

uint32_t
bm25_segment_nterms(const bm25_segment *seg)
{
	return seg->nterms;
}

uint64_t
bm25_segment_total_tokens(const bm25_segment *seg)
{
	return seg->total_tokens;
}

/* Length of docid in tokens; 0 for an out-of-range id. */
uint32_t
bm25_segment_doclen(const bm25_segment *seg, uint32_t docid)
{
	if (docid >= seg->ndocs)
		return 0;
	return bm25_get_u32(seg->doclens + (size_t) docid * 4);
}

/* Heap TID of docid; 0 for an out-of-range id. */
bm25_tid
bm25_segment_tid(const bm25_segment *seg, uint32_t docid)
{
	const uint8_t *p;
	bm25_tid	t;

	if (docid >= seg->ndocs)
		return 0;
	p = seg->tids + (size_t) docid * seg->tid_width;
	t = (bm25_tid) bm25_get_u32(p) | ((bm25_tid) bm25_get_u16(p + 4) << 32);
	if (seg->tid_width == 8)
		t |= (bm25_tid) bm25_get_u16(p + 6) << 48;
	return t;
}

/* Bounds of the postings section, where all term data and dict blocks live. */
static inline uint64_t
post_start(const bm25_segment *seg)
{
	return seg->sect_off[SECT_POSTINGS];
}

static inline uint64_t
post_end(const bm25_segment *seg)
{
	return seg->sect_off[SECT_POSTINGS] + seg->sect_len[SECT_POSTINGS];
}

/*
 * Check that a term's offsets lie inside the postings section and that
 * its block count matches df, so the cursor can index metadata freely.
 */
static int
seg_check_term(const bm25_segment *seg, const bm25_term_info *t)
{
	uint64_t	end = post_end(seg);

	if (t->df == 0 || t->df > seg->ndocs || t->nblocks != SEG_NBLOCKS(t->df) ||
		t->postings_off < post_start(seg) || t->meta_off < t->postings_off ||
		t->meta_off > end || (uint64_t) t->nblocks * META_SIZE > end - t->meta_off)
		return BM25_ECORRUPT;
	return BM25_OK;
}

/* The exported form of seg_check_term, which also accepts absent terms. */
int
bm25_segment_check_info(const bm25_segment *seg, const bm25_term_info *info)
{
	if (seg == NULL || info == NULL)
		return BM25_EINVAL;
	if (info->df == 0)
		return BM25_OK;
	if (info->nimpacts > BM25_MAX_IMPACTS)
		return BM25_ECORRUPT;
	return seg_check_term(seg, info);
}

/* Read and check dictionary index entry i; returns its first term. */
static int
didx_entry(const bm25_segment *seg, uint32_t i, uint64_t *off, uint32_t *len,
		   uint32_t *nentries, const char **key, uint32_t *keylen)
{
	const uint8_t *e = seg->didx + (size_t) i * DIDX_ENTRY_SIZE;
	uint32_t	koff = bm25_get_u32(e + DIDX_KEY_OFF);
	uint32_t	klen = bm25_get_u32(e + DIDX_KEY_LEN);

	*off = bm25_get_u64(e + DIDX_OFF);
	*len = bm25_get_u32(e + DIDX_LEN);
	*nentries = bm25_get_u32(e + DIDX_NENTRIES);
	if (klen == 0 || klen > BM25_MAX_TERM_LEN || koff > seg->dkeys_len ||
		klen > seg->dkeys_len - koff)
		return BM25_ECORRUPT;
	if (*off < post_start(seg) || *off > post_end(seg) || *len < DICTBLK_HDR_SIZE ||
		*len > post_end(seg) - *off || *nentries == 0)
		return BM25_ECORRUPT;
	*key = (const char *) seg->dkeys + koff;
	*keylen = klen;
	return BM25_OK;
}

/* Whether bit i of a memo bitmap (NULL: nothing remembered) is set. */
static inline bool
memo_bit(const uint8_t *bits, uint64_t i)
{
	return bits != NULL && (bits[i >> 3] >> (i & 7)) & 1;
}

/* Set bit i of a memo bitmap, if there is one. */
static inline void
memo_set(uint8_t *bits, uint64_t i)
{
	if (bits != NULL)
		bits[i >> 3] |= (uint8_t) (1u << (i & 7));
}

/*
 * Locate dictionary block i and verify its header, and its checksum the
 * first time this handle reads it.
 */
static int
dict_block_open(const bm25_segment *seg, uint32_t i, const uint8_t **blk,
				uint32_t *blklen, uint32_t *nentries, char *errbuf, size_t errlen)
{
	uint64_t	off;
	uint32_t	len;
	uint32_t	n;
	const char *key;
	uint32_t	keylen;
	const uint8_t *p;
	uint32_t	crc;

	if (i >= seg->ndictblocks)
		return seg_corrupt(errbuf, errlen, "dictionary block %u out of range", (unsigned) i);
	if (didx_entry(seg, i, &off, &len, &n, &key, &keylen) != BM25_OK)
		return seg_corrupt(errbuf, errlen, "dictionary index entry %u is invalid", (unsigned) i);
	p = seg->base + off;
	if (bm25_get_u32(p + DICTBLK_MAGIC) != DICT_MAGIC ||
		bm25_get_u16(p + DICTBLK_VERSION) != BM25_SEGMENT_VERSION ||
		bm25_get_u32(p + DICTBLK_NENTRIES) != n ||
		bm25_get_u32(p + DICTBLK_LEN) != len)
		return seg_corrupt(errbuf, errlen, "dictionary block %u has a bad header", (unsigned) i);
	if (seg->memo == NULL || !memo_bit(seg->memo->dict_ok, i))
	{
		crc = bm25_crc32c(0, p, DICTBLK_CRC);
		crc = bm25_crc32c(crc, p + DICTBLK_HDR_SIZE, len - DICTBLK_HDR_SIZE);
		if (crc != bm25_get_u32(p + DICTBLK_CRC))
			return seg_corrupt(errbuf, errlen, "dictionary block %u checksum mismatch", (unsigned) i);
		if (seg->memo != NULL)
			memo_set(seg->memo->dict_ok, i);
	}
	*blk = p;
	*blklen = len;
	*nentries = n;
	return BM25_OK;
}

/*
 * First half of decoding the dictionary entry at blk[*pos]: the term is
 * rebuilt in term[] from the previous term (*termlen on entry) and the
 * stored suffix.
 */
static inline int
dict_entry_term(const uint8_t *blk, uint32_t blklen, size_t *pos, char *term,
				uint32_t *termlen)
{
	uint64_t	prefix;
	uint64_t	suffix;

	if (bm25_varint_get(blk, blklen, pos, &prefix) != BM25_OK ||
		bm25_varint_get(blk, blklen, pos, &suffix) != BM25_OK)
		return BM25_ECORRUPT;
	if (prefix > *termlen || suffix > BM25_MAX_TERM_LEN ||
		prefix + suffix == 0 || prefix + suffix > BM25_MAX_TERM_LEN ||
		suffix > blklen - *pos)
		return BM25_ECORRUPT;
	memcpy(term + prefix, blk + *pos, (size_t) suffix);
	*pos += (size_t) suffix;
	*termlen = (uint32_t) (prefix + suffix);
	return BM25_OK;
}

static int	dict_entry_info(const bm25_segment *seg, const uint8_t *blk, uint32_t blklen,
							size_t *pos, bm25_term_info *info);

/* Steps over n varints without decoding them. */
static inline int
skip_varints(const uint8_t *blk, uint32_t blklen, size_t *pos, uint32_t n)
{
	size_t		p = *pos;

	while (n-- > 0)
	{
		while (p < blklen && (blk[p] & 0x80))
			p++;
		if (p >= blklen)
			return BM25_ECORRUPT;
		p++;
	}
	*pos = p;
	return BM25_OK;
}

/*
 * Steps over the info of an entry whose term did not match: five varints
 * and the impact pairs, read only as far as needed to find the next entry
 * (a lookup validates the entry it returns, not the ones it passes).
 */
static inline int
dict_entry_skip_info(const uint8_t *blk, uint32_t blklen, size_t *pos)
{
	uint32_t	nimp;

	/* df, cf - df, postings offset, metadata delta */
	if (skip_varints(blk, blklen, pos, 4) != BM25_OK || *pos >= blklen)
		return BM25_ECORRUPT;
	/* the impact count is at most BM25_MAX_IMPACTS: a one-byte varint */
	nimp = blk[(*pos)++];
	if (nimp == 0 || nimp > BM25_MAX_IMPACTS)
		return BM25_ECORRUPT;
	/* (tf, dl) per impact */
	return skip_varints(blk, blklen, pos, 2 * nimp);
}

/*
 * Decode the dictionary entry at blk[*pos]: the term is rebuilt in term[]
 * from the previous term (*termlen on entry) and the stored suffix, and
 * its info is validated against the section bounds.
 */
static int
dict_entry_decode(const bm25_segment *seg, const uint8_t *blk, uint32_t blklen,
				  size_t *pos, char *term, uint32_t *termlen, bm25_term_info *info)
{
	if (dict_entry_term(blk, blklen, pos, term, termlen) != BM25_OK)
		return BM25_ECORRUPT;
	return dict_entry_info(seg, blk, blklen, pos, info);
}

/* Second half: the entry's info, validated against the section bounds. */
static int
dict_entry_info(const bm25_segment *seg, const uint8_t *blk, uint32_t blklen,
				size_t *pos, bm25_term_info *info)
{
	uint64_t	df;
	uint64_t	cfx;
	uint64_t	poff;
	uint64_t	mdelta;
	uint64_t	nimp;
	uint64_t	x;
	uint64_t	y;
	uint32_t	i;

	if (bm25_varint_get(blk, blklen, pos, &df) != BM25_OK ||
		bm25_varint_get(blk, blklen, pos, &cfx) != BM25_OK ||
		bm25_varint_get(blk, blklen, pos, &poff) != BM25_OK ||
		bm25_varint_get(blk, blklen, pos, &mdelta) != BM25_OK ||
		bm25_varint_get(blk, blklen, pos, &nimp) != BM25_OK)
		return BM25_ECORRUPT;
	if (df == 0 || df > seg->ndocs || cfx > UINT64_MAX - df ||
		mdelta > UINT64_MAX - poff || nimp == 0 || nimp > BM25_MAX_IMPACTS)
		return BM25_ECORRUPT;
	memset(info, 0, sizeof(*info));
	info->df = (uint32_t) df;
	info->cf = df + cfx;
	info->nblocks = (uint32_t) SEG_NBLOCKS(df);
	info->postings_off = poff;
	info->meta_off = poff + mdelta;
	info->nimpacts = (uint32_t) nimp;
	for (i = 0; i < nimp; i++)
	{
		if (bm25_varint_get(blk, blklen, pos, &x) != BM25_OK ||
			bm25_varint_get(blk, blklen, pos, &y) != BM25_OK ||
			x == 0 || x > UINT32_MAX || y > UINT32_MAX)
			return BM25_ECORRUPT;
		info->impacts[i].tf = (uint32_t) x;
		info->impacts[i].dl = (uint32_t) y;
	}
	return seg_check_term(seg, info);
}

/* Cache slot of a term: FNV-1a of its bytes. */
static inline uint32_t
term_slot(const char *term, uint32_t len)
{
	uint32_t	h = 2166136261u;

	for (uint32_t i = 0; i < len; i++)
		h = (h ^ (uint8_t) term[i]) * 16777619u;
	return h % SEG_TERM_CACHE;
}

/*
 * Remember a lookup's result (found or not) in its slot, replacing what
 * was there; silently does nothing when memory is short.
 */
static void
term_remember(const bm25_segment *seg, uint32_t slot, const char *term, uint32_t len,
			  const bm25_term_info *info)
{
	seg_term_entry *e = seg->memo->terms[slot];

	if (e == NULL || e->len < len)
	{
		seg_term_entry *n = malloc(offsetof(seg_term_entry, term) + (len > 0 ? len : 1));

		if (n == NULL)
			return;
		free(e);
		e = n;
		seg->memo->terms[slot] = e;
	}
	e->len = len;
	e->info = *info;
	memcpy(e->term, term, len);
}

static int	segment_lookup(const bm25_segment *seg, const char *term, uint32_t len,
						   bm25_term_info *info);

/*
 * Find a term, through the handle's cache of recent lookups: a query's
 * terms recur across queries, and a dictionary lookup (an index search
 * plus decoding part of a block) costs more than the rest of preparing a
 * short query.  Only successful lookups are cached.
 */
int
bm25_segment_lookup(const bm25_segment *seg, const char *term, uint32_t len,
					bm25_term_info *info)
{
	uint32_t	slot;
	seg_term_entry *e;
	int			rc;

	if (seg == NULL || info == NULL || (term == NULL && len > 0))
		return BM25_EINVAL;
	if (seg->memo == NULL || len == 0 || len > BM25_MAX_TERM_LEN)
		return segment_lookup(seg, term, len, info);
	slot = term_slot(term, len);
	e = seg->memo->terms[slot];
	if (e != NULL && e->len == len && memcmp(e->term, term, len) == 0)
	{
		*info = e->info;
		return BM25_OK;
	}
	rc = segment_lookup(seg, term, len, info);
	if (rc == BM25_OK)
		term_remember(seg, slot, term, len, info);
	return rc;
}

/*
 * The dictionary search itself: binary search the dictionary index for
 * the last block whose first term is <= term, then scan that block.
 */
static int
segment_lookup(const bm25_segment *seg, const char *term, uint32_t len,
			   bm25_term_info *info)
{
	const uint8_t *blk;
	uint32_t	blklen;
	uint32_t	n;
	size_t		pos;
	uint32_t	curlen = 0;		/* length of the last entry's term */
	uint32_t	m = 0;
	uint32_t	lo;
	uint32_t	hi;
	uint32_t	e;
	int			rc;

	if (seg == NULL || info == NULL || (term == NULL && len > 0))
		return BM25_EINVAL;
	memset(info, 0, sizeof(*info));
	if (len == 0 || len > BM25_MAX_TERM_LEN || seg->ndictblocks == 0)
		return BM25_OK;

	/* largest i with key(i) <= term; lo = count of such blocks */
	lo = 0;
	hi = seg->ndictblocks;
	while (lo < hi)
	{
		uint32_t	mid = lo + (hi - lo) / 2;
		uint64_t	off;
		uint32_t	blen;
		const char *key;
		uint32_t	keylen;

		if (didx_entry(seg, mid, &off, &blen, &n, &key, &keylen) != BM25_OK)
			return BM25_ECORRUPT;
		if (bm25_term_cmp(key, keylen, term, len) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return BM25_OK;

	if ((rc = dict_block_open(seg, lo - 1, &blk, &blklen, &n, NULL, 0)) != BM25_OK)
		return rc;
	/*
	 * Scan the front-coded block keeping m, the length of the common prefix
	 * of term and the last entry passed (which sorts before term).  An entry
	 * sharing more than m bytes with that one diverges from term where it
	 * did, so it sorts before term as well; one sharing fewer sorts after
	 * term, which ends the search; only an entry sharing exactly m bytes
	 * needs its suffix compared.  Terms are never rebuilt.
	 */
	pos = DICTBLK_HDR_SIZE;
	for (e = 0; e < n; e++)
	{
		uint64_t	prefix;
		uint64_t	suffix;
		const uint8_t *sfx;
		uint32_t	j = 0;

		if (bm25_varint_get(blk, blklen, &pos, &prefix) != BM25_OK ||
			bm25_varint_get(blk, blklen, &pos, &suffix) != BM25_OK)
			return BM25_ECORRUPT;
		if (prefix > curlen || suffix > BM25_MAX_TERM_LEN ||
			prefix + suffix == 0 || prefix + suffix > BM25_MAX_TERM_LEN ||
			suffix > blklen - pos)
			return BM25_ECORRUPT;
		sfx = blk + pos;
		pos += (size_t) suffix;
		curlen = (uint32_t) (prefix + suffix);
		if (prefix < m)
			break;
		if (prefix == m)
		{
			while (j < suffix && m + j < len && sfx[j] == (uint8_t) term[m + j])
				j++;
			if (j == suffix && m + j == len)
			{
				bm25_term_info ti;

				if (dict_entry_info(seg, blk, blklen, &pos, &ti) != BM25_OK)
					return BM25_ECORRUPT;
				*info = ti;
				return BM25_OK;
			}
			/* term is a proper prefix of the entry, or sorts below it */
			if (m + j == len || (j < suffix && sfx[j] > (uint8_t) term[m + j]))
				break;
			m += j;
		}
		if (dict_entry_skip_info(blk, blklen, &pos) != BM25_OK)
			return BM25_ECORRUPT;
	}
	return BM25_OK;
}

/* Decode the next entry, moving to the next dictionary block as needed. */
int
bm25_seg_iter_next(seg_dict_iter *it, char *errbuf, size_t errlen)
{
	int			rc;

	if (it->done)
		return BM25_OK;
	while (it->blk == NULL || it->entry == it->nentries)
	{
		if (it->blk != NULL)
			it->blockno++;
		if (it->blockno >= it->seg->ndictblocks)
		{
			it->done = 1;
			return BM25_OK;
		}
		rc = dict_block_open(it->seg, it->blockno, &it->blk, &it->blklen,
							 &it->nentries, errbuf, errlen);
		if (rc != BM25_OK)
			return rc;
		it->entry = 0;
		it->pos = DICTBLK_HDR_SIZE;
		it->termlen = 0;
	}
	if (dict_entry_decode(it->seg, it->blk, it->blklen, &it->pos, it->term,
						  &it->termlen, &it->info) != BM25_OK)
		return seg_corrupt(errbuf, errlen, "dictionary block %u entry %u is invalid",
						   (unsigned) it->blockno, (unsigned) it->entry);
	it->entry++;
	return BM25_OK;
}

/* Start a dictionary walk positioned on the first term. */
int
bm25_seg_iter_init(seg_dict_iter *it, const bm25_segment *seg, char *errbuf, size_t errlen)
{
	it->seg = seg;
	it->blockno = 0;
	it->blk = NULL;
	it->blklen = 0;
	it->nentries = 0;
	it->entry = 0;
	it->pos = 0;
	it->done = 0;
	it->termlen = 0;
	return bm25_seg_iter_next(it, errbuf, errlen);
}

/* Visit every term in dictionary order until cb returns non-zero. */
int
bm25_segment_foreach_term(const bm25_segment *seg, bm25_term_visit_fn cb, void *arg)
{
	seg_dict_iter *it;
	int			rc;

	if (seg == NULL || cb == NULL)
		return BM25_EINVAL;
	it = malloc(sizeof(*it));
	if (it == NULL)
		return BM25_ENOMEM;
	rc = bm25_seg_iter_init(it, seg, NULL, 0);
	while (rc == BM25_OK && !it->done)
	{
		if (cb(arg, it->term, it->termlen, &it->info) != 0)
			break;
		rc = bm25_seg_iter_next(it, NULL, 0);
	}
	free(it);
	return rc;
}

/* ---------------------------------------------------------------------
 * Cursors
 * ---------------------------------------------------------------------
 */

/* Address of block b's metadata entry (b < nblocks, checked at init). */
static inline const uint8_t *
cur_meta(const bm25_cursor *c, uint32_t b)
{
	return c->seg->base + c->term.meta_off + (size_t) b * META_SIZE;
}

/* Last doc id of block b as stored in its metadata. */
static inline uint32_t
cur_last(const bm25_cursor *c, uint32_t b)
{
	return bm25_get_u32(cur_meta(c, b) + META_LAST_DOC);
}

/*
 * Decode block b into c->docs / c->tfs: check the metadata against the
 * term, the block checksum (which also covers the metadata entry; only
 * the first time this handle decodes the block), the widths and sizes,
 * and that the decoded doc ids end exactly at the stored last doc id,
 * which must be < ndocs.  The structural checks run at every read, so a
 * block never verified is still decoded safely.
 */
static int
cursor_load_block(bm25_cursor *c, uint32_t b)
{
	const bm25_segment *seg = c->seg;
	const uint8_t *m = cur_meta(c, b);
	uint64_t	area = c->term.meta_off - c->term.postings_off;
	uint32_t	last = bm25_get_u32(m + META_LAST_DOC);
	uint32_t	len = bm25_get_u32(m + META_LEN);
	uint64_t	off = bm25_get_u64(m + META_OFF);
	uint32_t	count = m[META_COUNT];
	uint32_t	expect;
	const uint8_t *p;
	uint32_t	crc;
	uint32_t	dw;
	uint32_t	tw;
	size_t		dsz;
	size_t		tsz;
	uint64_t	next;
	uint64_t	tail;
	uint64_t	slot;

	expect = (b + 1 < c->term.nblocks) ? BM25_BLOCK_SIZE :
		c->term.df - (c->term.nblocks - 1) * BM25_BLOCK_SIZE;
	if (count != expect || off > area || len > area - off || len < BLK_HDR_SIZE ||
		last >= seg->ndocs)
		return BM25_ECORRUPT;
	p = seg->base + c->term.postings_off + off;
	/* seg_check_term put the metadata array inside the postings section */
	slot = (uint64_t) (m - (seg->base + post_start(seg))) / META_SIZE;
	if (seg->memo == NULL || !memo_bit(seg->memo->block_ok, slot))
	{
		crc = bm25_crc32c(0, m, META_CRC);
		crc = bm25_crc32c(crc, m + META_CRC + 4, META_SIZE - META_CRC - 4);
		crc = bm25_crc32c(crc, p, len);
		if (crc != bm25_get_u32(m + META_CRC))
			return BM25_ECORRUPT;
	}
	dw = p[BLK_DOC_WIDTH];
	tw = p[BLK_TF_WIDTH];
	if (dw > 32 || tw > 32)
		return BM25_ECORRUPT;
	dsz = bm25_packed_size(count, dw);
	tsz = bm25_packed_size(count, tw);
	/*
	 * The unpacker may read (and mask away) bytes past the block, up to
	 * the end of the term's metadata array, which seg_check_term placed
	 * inside the postings section; that keeps it on its fast path.
	 */
	tail = area + (uint64_t) c->term.nblocks * META_SIZE - off;
	next = b == 0 ? 0 : (uint64_t) cur_last(c, b - 1) + 1;
	if ((uint64_t) BLK_HDR_SIZE + dsz + tsz != len ||
		bm25_unpack_docs(p + BLK_HDR_SIZE, (size_t) (tail - BLK_HDR_SIZE), count, dw,
						 c->docs, &next) != BM25_OK ||
		bm25_unpack_tfs(p + BLK_HDR_SIZE + dsz, (size_t) (tail - BLK_HDR_SIZE - dsz), count, tw,
						c->tfs) != BM25_OK)
		return BM25_ECORRUPT;
	/*
	 * Ids rise strictly from the previous block's last one; ending exactly
	 * at this block's last (< ndocs) keeps every one below 2^32.
	 */
	if (next != (uint64_t) last + 1)
		return BM25_ECORRUPT;
	/* remembered only once the whole block has decoded cleanly */
	if (seg->memo != NULL)
		memo_set(seg->memo->block_ok, slot);
	c->block = b;
	c->nbuf = count;
	c->pos = 0;
	return BM25_OK;
}

/* Mark the cursor exhausted. */
static inline int
cursor_exhaust(bm25_cursor *c)
{
	c->doc = BM25_NO_MORE_DOCS;
	c->tf = 0;
	c->pos = c->nbuf;
	return BM25_OK;
}

/* Position a cursor on the first posting of term (df == 0: exhausted). */
int
bm25_cursor_init(bm25_cursor *c, const bm25_segment *seg, const bm25_term_info *term)
{
	int			rc;

	if (c == NULL || seg == NULL || term == NULL)
		return BM25_EINVAL;
	c->seg = seg;
	c->term = *term;
	c->block = 0;
	c->shallow_block = 0;
	c->pos = 0;
	c->nbuf = 0;
	c->doc = BM25_NO_MORE_DOCS;
	c->tf = 0;
	if (term->df == 0)
	{
		c->term.nblocks = 0;
		return BM25_OK;
	}
	if (seg_check_term(seg, term) != BM25_OK)
	{
		c->term.df = 0;
		c->term.nblocks = 0;
		return BM25_ECORRUPT;
	}
	if ((rc = cursor_load_block(c, 0)) != BM25_OK)
	{
		c->term.df = 0;
		c->term.nblocks = 0;
		return rc;
	}
	c->doc = c->docs[0];
	c->tf = c->tfs[0];
	return BM25_OK;
}

/*
 * Decode the block after the current one and step onto its first
 * posting; a block that does not continue the doc id order is corrupt.
 */
static int
cursor_next_block(bm25_cursor *c, uint32_t b)
{
	uint32_t	prev = c->doc;
	int			rc;

	if (b >= c->term.nblocks)
		return cursor_exhaust(c);
	if ((rc = cursor_load_block(c, b)) != BM25_OK)
	{
		cursor_exhaust(c);
		return rc;
	}
	if (c->docs[0] <= prev && prev != BM25_NO_MORE_DOCS)
	{
		cursor_exhaust(c);
		return BM25_ECORRUPT;
	}
	c->doc = c->docs[0];
	c->tf = c->tfs[0];
	return BM25_OK;
}

/* Step to the next posting. */
int
bm25_cursor_next(bm25_cursor *c)
{
	if (c->doc == BM25_NO_MORE_DOCS)
		return BM25_OK;
	if (++c->pos < c->nbuf)
	{
		c->doc = c->docs[c->pos];
		c->tf = c->tfs[c->pos];
		return BM25_OK;
	}
	return cursor_next_block(c, c->block + 1);
}

/*
 * First block in [from, nblocks) whose last doc id is >= target, by
 * galloping then binary search over the metadata; nblocks if none.
 */
static uint32_t
find_block(const bm25_cursor *c, uint32_t from, uint32_t target)
{
	uint32_t	n = c->term.nblocks;
	uint32_t	lo = from;
	uint32_t	hi;
	uint32_t	step = 1;

	if (from >= n)
		return n;
	/* gallop: find hi with last(hi) >= target */
	hi = from;
	while (cur_last(c, hi) < target)
	{
		lo = hi + 1;
		if (lo >= n)
			return n;
		hi = (n - lo > step) ? lo + step - 1 : n - 1;
		step *= 2;
		if (hi == n - 1 && cur_last(c, hi) < target)
			return n;
	}
	/* first in [lo, hi] with last >= target; last(hi) >= target */
	while (lo < hi)
	{
		uint32_t	mid = lo + (hi - lo) / 2;

		if (cur_last(c, mid) >= target)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/*
 * Move to the first posting with doc >= target.  Whole blocks are skipped
 * using their metadata; only the landing block is decoded.
 */
int
bm25_cursor_advance(bm25_cursor *c, uint32_t target)
{
	uint32_t	pos;

	if (target <= c->doc)
		return BM25_OK;
	if (target > c->docs[c->nbuf - 1])
	{
		uint32_t	b = find_block(c, c->block + 1, target);
		int			rc;

		if (b >= c->term.nblocks)
			return cursor_exhaust(c);
		if ((rc = cursor_next_block(c, b)) != BM25_OK)
			return rc;
		if (c->doc >= target)
			return BM25_OK;

		/*
		 * Landing inside a fresh block (a probe, usually): the target lies
		 * anywhere in it, so a branch-free binary search over docs[1..]
		 * replaces a scan of half a block on average.  docs[0] < target
		 * <= docs[nbuf - 1], so nbuf >= 2 and the result is a real posting.
		 */
		{
			const uint32_t *base = c->docs + 1;
			uint32_t	n = c->nbuf - 1;

			while (n > 1)
			{
				uint32_t	half = n / 2;

				base = base[half] < target ? base + half : base;
				n -= half;
			}
			pos = (uint32_t) (base - c->docs) + (*base < target);
		}
	}
	else
	{
		/* the current block's last doc is >= target, so this stops */
		pos = c->pos + 1;
		while (c->docs[pos] < target)
			pos++;
	}
	c->pos = pos;
	c->doc = c->docs[pos];
	c->tf = c->tfs[pos];
	return BM25_OK;
}

/*
 * Impacts of block b (< nblocks) of the cursor's term, copied to
 * imp[0..BM25_MAX_IMPACTS), from the metadata alone.  Threshold estimation
 * reads blocks in no particular order, so the cursor is left as it is.
 */
int
bm25_cursor_block_impacts(const bm25_cursor *c, uint32_t b, bm25_impact *imp,
						  uint32_t *nimp)
{
	const uint8_t *m;
	uint32_t	n;
	uint32_t	i;

	*nimp = 0;
	if (b >= c->term.nblocks)
		return BM25_EINVAL;
	m = cur_meta(c, b);
	n = m[META_NIMP];
	if (n == 0 || n > BM25_MAX_IMPACTS)
		return BM25_ECORRUPT;
	for (i = 0; i < n; i++)
	{
		imp[i].tf = bm25_get_u32(m + META_IMPACTS + 8 * i);
		imp[i].dl = bm25_get_u32(m + META_IMPACTS + 8 * i + 4);
	}
	*nimp = n;
	return BM25_OK;
}

/*
 * Decode block b (< nblocks) and sit on its first posting.  Unlike advance
 * this may move backwards, so it is for scratch cursors (threshold
 * estimation), never for one a candidate loop is stepping.
 */
int
bm25_cursor_load(bm25_cursor *c, uint32_t b)
{
	int			rc;

	if (b >= c->term.nblocks)
		return BM25_EINVAL;
	if ((rc = cursor_load_block(c, b)) != BM25_OK)
	{
		cursor_exhaust(c);
		return rc;
	}
	c->doc = c->docs[0];
	c->tf = c->tfs[0];
	return BM25_OK;
}

/*
 * Locate, by metadata only, the block that would hold target and report
 * its last doc id and impacts.  The impacts are decoded into the cursor's
 * private copy of the term info (c->term.impacts), which is what *imp
 * points at until the next shallow call.
 */
int
bm25_cursor_shallow(bm25_cursor *c, uint32_t target, uint32_t *last_doc,
					const bm25_impact **imp, uint32_t *nimp)
{
	uint32_t	b = c->shallow_block;
	const uint8_t *m;
	uint32_t	n;
	uint32_t	i;

	*imp = c->term.impacts;
	if (c->term.nblocks == 0)
	{
		*last_doc = BM25_NO_MORE_DOCS;
		*nimp = 0;
		return BM25_OK;
	}
	if (b >= c->term.nblocks)
		b = 0;
	if (cur_last(c, b) >= target)
	{
		if (b > 0 && cur_last(c, b - 1) >= target)
			b = find_block(c, 0, target);
	}
	else
		b = find_block(c, b + 1, target);
	if (b >= c->term.nblocks)
	{
		*last_doc = BM25_NO_MORE_DOCS;
		*nimp = 0;
		return BM25_OK;
	}
	c->shallow_block = b;
	m = cur_meta(c, b);
	n = m[META_NIMP];
	if (n == 0 || n > BM25_MAX_IMPACTS)
	{
		*last_doc = BM25_NO_MORE_DOCS;
		*nimp = 0;
		return BM25_ECORRUPT;
	}
	for (i = 0; i < n; i++)
	{
		c->term.impacts[i].tf = bm25_get_u32(m + META_IMPACTS + 8 * i);
		c->term.impacts[i].dl = bm25_get_u32(m + META_IMPACTS + 8 * i + 4);
	}
	c->term.nimpacts = n;
	*last_doc = cur_last(c, b);
	*nimp = n;
	return BM25_OK;
}

/* ---------------------------------------------------------------------
 * Verification
 * ---------------------------------------------------------------------
 */

/* True if some impact of imp[0..n) dominates (tf, dl). */
static int
dominated(const bm25_impact *imp, uint32_t n, uint32_t tf, uint32_t dl)
{
	uint32_t	i;

	for (i = 0; i < n; i++)
		if (imp[i].tf >= tf && imp[i].dl <= dl)
			return 1;
	return 0;
}

/*
 * Check every postings block of one term: layout, checksums, doc ids,
 * counts, cf and impact dominance (block and term level).
 */
static int
verify_term(const bm25_segment *seg, const seg_dict_iter *it, bm25_cursor *c,
			char *errbuf, size_t errlen)
{
	const bm25_term_info *ti = &it->info;
	uint64_t	expect_off = 0;
	uint64_t	cf = 0;
	uint32_t	b;
	int			rc;

	if ((rc = bm25_cursor_init(c, seg, ti)) != BM25_OK)
		return seg_corrupt(errbuf, errlen, "term \"%.*s\": postings block 0 is corrupt",
						   (int) (it->termlen > 64 ? 64 : it->termlen), it->term);
	for (b = 0; b < ti->nblocks; b++)
	{
		const uint8_t *m = cur_meta(c, b);
		bm25_impact bimp[BM25_MAX_IMPACTS];
		uint32_t	nb = m[META_NIMP];
		uint32_t	i;

		if (b > 0 && (rc = cursor_next_block(c, b)) != BM25_OK)
			return seg_corrupt(errbuf, errlen, "term \"%.*s\": postings block %u is corrupt",
							   (int) (it->termlen > 64 ? 64 : it->termlen), it->term,
							   (unsigned) b);
		if (bm25_get_u64(m + META_OFF) != expect_off || nb == 0 || nb > BM25_MAX_IMPACTS)
			return seg_corrupt(errbuf, errlen, "term \"%.*s\": block %u metadata is inconsistent",
							   (int) (it->termlen > 64 ? 64 : it->termlen), it->term,
							   (unsigned) b);
		expect_off += bm25_get_u32(m + META_LEN);
		for (i = 0; i < nb; i++)
		{
			bimp[i].tf = bm25_get_u32(m + META_IMPACTS + 8 * i);
			bimp[i].dl = bm25_get_u32(m + META_IMPACTS + 8 * i + 4);
		}
		for (i = 0; i < c->nbuf; i++)
		{
			uint32_t	dl = bm25_segment_doclen(seg, c->docs[i]);

			cf += c->tfs[i];
			if (!dominated(bimp, nb, c->tfs[i], dl) ||
				!dominated(ti->impacts, ti->nimpacts, c->tfs[i], dl))
				return seg_corrupt(errbuf, errlen,
								   "term \"%.*s\": doc %u (tf %u, dl %u) not dominated by impacts",
								   (int) (it->termlen > 64 ? 64 : it->termlen), it->term,
								   (unsigned) c->docs[i], (unsigned) c->tfs[i], (unsigned) dl);
		}
	}
	if (expect_off != ti->meta_off - ti->postings_off || cf != ti->cf)
		return seg_corrupt(errbuf, errlen, "term \"%.*s\": postings size or cf mismatch",
						   (int) (it->termlen > 64 ? 64 : it->termlen), it->term);
	return BM25_OK;
}

/*
 * Full verification: postings section checksum, dictionary order and
 * index keys, every postings block, and the header's totals.
 */
int
bm25_segment_verify(const bm25_segment *seg, char *errbuf, size_t errlen)
{
	seg_dict_iter *it;
	bm25_cursor *c;
	char	   *prev;
	uint32_t	prevlen = 0;
	uint32_t	nterms = 0;
	uint64_t	npostings = 0;
	uint64_t	total = 0;
	uint32_t	lastblock = UINT32_MAX;
	uint32_t	i;
	int			rc;

	if (seg == NULL)
		return BM25_EINVAL;
	if (bm25_crc32c(0, seg->base + seg->sect_off[SECT_POSTINGS],
					(size_t) seg->sect_len[SECT_POSTINGS]) != seg->sect_crc[SECT_POSTINGS])
		return seg_corrupt(errbuf, errlen, "postings section checksum mismatch");
	for (i = 0; i < seg->ndocs; i++)
		total += bm25_segment_doclen(seg, i);
	if (total != seg->total_tokens)
		return seg_corrupt(errbuf, errlen, "total_tokens %llu does not match doc lengths (%llu)",
						   (unsigned long long) seg->total_tokens,
						   (unsigned long long) total);

	it = malloc(sizeof(*it));
	c = malloc(sizeof(*c));
	prev = malloc(BM25_MAX_TERM_LEN);
	if (it == NULL || c == NULL || prev == NULL)
	{
		free(it);
		free(c);
		free(prev);
		return BM25_ENOMEM;
	}
	for (rc = bm25_seg_iter_init(it, seg, errbuf, errlen);
		 rc == BM25_OK && !it->done;
		 rc = bm25_seg_iter_next(it, errbuf, errlen))
	{
		if (nterms > 0 && bm25_term_cmp(prev, prevlen, it->term, it->termlen) >= 0)
		{
			rc = seg_corrupt(errbuf, errlen, "dictionary terms out of order at term %u",
							 (unsigned) nterms);
			break;
		}
		if (it->blockno != lastblock)
		{
			uint64_t	off;
			uint32_t	len;
			uint32_t	n;
			const char *key;
			uint32_t	keylen;

			lastblock = it->blockno;
			if (didx_entry(seg, it->blockno, &off, &len, &n, &key, &keylen) != BM25_OK ||
				bm25_term_cmp(key, keylen, it->term, it->termlen) != 0)
			{
				rc = seg_corrupt(errbuf, errlen, "dictionary index key %u does not match its block",
								 (unsigned) it->blockno);
				break;
			}
		}
		if ((rc = verify_term(seg, it, c, errbuf, errlen)) != BM25_OK)
			break;
		memcpy(prev, it->term, it->termlen);
		prevlen = it->termlen;
		nterms++;
		npostings += it->info.df;
	}
	if (rc == BM25_OK && (nterms != seg->nterms || npostings != seg->npostings))
		rc = seg_corrupt(errbuf, errlen, "segment has %u terms / %llu postings, header says %u / %llu",
						 (unsigned) nterms, (unsigned long long) npostings,
						 (unsigned) seg->nterms, (unsigned long long) seg->npostings);
	free(it);
	free(c);
	free(prev);
	return rc;
}
