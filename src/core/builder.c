/*-------------------------------------------------------------------------
 * builder.c
 *	  In-memory inverted index that accumulates documents and writes one
 *	  segment (the CREATE INDEX hot path).
 *
 * Terms live in an open-addressing hash table (slot = hash and term index,
 * so probes do not touch term records) over an array of term records;
 * term bytes are stored in one arena.
 * Postings are appended as varint bytes to per-term chains of slices in
 * a paged byte pool (the scheme of Lucene's ByteBlockPool): a term's
 * first slice is 16 bytes, each next one twice as big up to 8 kB, and the
 * last 4 bytes of a slice hold the address / 8 of the next slice.  So a
 * posting costs no malloc and typically 1-3 bytes: varint(delta << 1 |
 * (tf == 1)), followed by varint(tf) when tf > 1.
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "seg_format.h"

#define POOL_PAGE_SHIFT		16
#define POOL_PAGE_SIZE		((size_t) 1 << POOL_PAGE_SHIFT)
#define POOL_MAX_ADDR		((uint64_t) UINT32_MAX * 8)
#define NLEVELS				10
#define POSTING_MAX_BYTES	(2 * BM25_VARINT_MAX)

static const uint32_t slice_size[NLEVELS] =
{16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192};

typedef struct bterm
{
	uint64_t	text_off;		/* term bytes in the arena */
	uint64_t	head;			/* pool address of the first slice */
	uint64_t	wpos;			/* pool address of the next byte */
	uint32_t	len;
	uint16_t	remain;			/* bytes left before the current slice's link */
	uint16_t	level;			/* slice level of the current slice */
	uint32_t	df;
	uint32_t	last_doc;
	uint32_t	stamp;			/* ndocs + 1 when seen in the doc being added */
} bterm;

/* Hash slot: (hash << 32) | (term index + 1); 0 = empty. */
#define SLOT_MAKE(h, i)		(((uint64_t) (h) << 32) | ((uint64_t) (i) + 1))
#define SLOT_HASH(s)		((uint32_t) ((s) >> 32))
#define SLOT_INDEX(s)		((uint32_t) (s) - 1)

struct bm25_builder
{
	int			status;			/* sticky ENOMEM/ELIMIT after a failed add */

	uint32_t	ndocs;
	uint32_t	doc_cap;
	uint32_t   *doclens;
	bm25_tid   *tids;

	bterm	   *terms;
	uint32_t	nterms;
	uint32_t	term_cap;
	uint64_t   *slots;			/* see SLOT_MAKE */
	uint32_t	nslots;			/* power of two */

	char	   *text;
	size_t		text_len;
	size_t		text_cap;

	uint8_t   **pages;
	uint32_t	npages;			/* allocated */
	uint32_t	pages_cap;
	uint64_t	pool_used;		/* next free pool address */

	uint32_t   *scratch;		/* term indexes of the doc being added */
	uint32_t	scratch_cap;
};

/* Pointer to the byte at pool address a (which must be allocated). */
static inline uint8_t *
pool_ptr(const bm25_builder *b, uint64_t a)
{
	return b->pages[a >> POOL_PAGE_SHIFT] + (a & (POOL_PAGE_SIZE - 1));
}

/*
 * Carve a slice of size bytes out of the pool; slices never straddle a
 * page and start 8-aligned so their address / 8 fits a u32 link.
 */
static int
pool_alloc(bm25_builder *b, uint32_t size, uint64_t *addr)
{
	uint64_t	a = b->pool_used;
	uint32_t	page = (uint32_t) (a >> POOL_PAGE_SHIFT);

	if ((a & (POOL_PAGE_SIZE - 1)) + size > POOL_PAGE_SIZE)
	{
		page++;
		a = (uint64_t) page << POOL_PAGE_SHIFT;
	}
	if (a + size > POOL_MAX_ADDR)
		return BM25_ELIMIT;
	if (page >= b->npages)
	{
		if (b->npages == b->pages_cap)
		{
			uint32_t	ncap = b->pages_cap ? b->pages_cap * 2 : 16;
			uint8_t   **np = realloc(b->pages, ncap * sizeof(uint8_t *));

			if (np == NULL)
				return BM25_ENOMEM;
			b->pages = np;
			b->pages_cap = ncap;
		}
		b->pages[b->npages] = malloc(POOL_PAGE_SIZE);
		if (b->pages[b->npages] == NULL)
			return BM25_ENOMEM;
		b->npages++;
	}
	b->pool_used = a + size;
	*addr = a;
	return BM25_OK;
}

/* Fast multiplicative hash of a term (any alignment). */
static uint32_t
term_hash(const char *s, uint32_t len)
{
	const uint8_t *p = (const uint8_t *) s;
	uint64_t	h = 0x9E3779B97F4A7C15ULL ^ len;

	while (len >= 8)
	{
		h = (h ^ bm25_get_u64(p)) * 0xBF58476D1CE4E5B9ULL;
		h ^= h >> 29;
		p += 8;
		len -= 8;
	}
	if (len > 0)
	{
		uint64_t	v = 0;
		uint32_t	i;

		for (i = 0; i < len; i++)
			v |= (uint64_t) p[i] << (8 * i);
		h = (h ^ v) * 0xBF58476D1CE4E5B9ULL;
	}
	h ^= h >> 32;
	h *= 0x94D049BB133111EBULL;
	h ^= h >> 29;
	return (uint32_t) h;
}

/* Make an empty builder. */
int
bm25_builder_create(bm25_builder **out)
{
	bm25_builder *b;

	if (out == NULL)
		return BM25_EINVAL;
	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return BM25_ENOMEM;
	b->nslots = 1024;
	b->slots = calloc(b->nslots, sizeof(uint64_t));
	if (b->slots == NULL)
	{
		free(b);
		return BM25_ENOMEM;
	}
	*out = b;
	return BM25_OK;
}

/* Double the hash table and reinsert every term by its stored hash. */
static int
grow_slots(bm25_builder *b)
{
	uint32_t	n = b->nslots * 2;
	uint64_t   *s;
	uint32_t	i;

	if (n == 0 || n > (1u << 31))
		return BM25_ELIMIT;
	s = calloc(n, sizeof(uint64_t));
	if (s == NULL)
		return BM25_ENOMEM;
	for (i = 0; i < b->nslots; i++)
	{
		uint64_t	slot = b->slots[i];
		uint32_t	j;

		if (slot == 0)
			continue;
		j = SLOT_HASH(slot) & (n - 1);
		while (s[j] != 0)
			j = (j + 1) & (n - 1);
		s[j] = slot;
	}
	free(b->slots);
	b->slots = s;
	b->nslots = n;
	return BM25_OK;
}

/* Find the term (hash h) by index, inserting a new record (df 0) if absent. */
static int
find_or_add_term(bm25_builder *b, const char *text, uint32_t len, uint32_t h, uint32_t *idx)
{
	uint32_t	mask = b->nslots - 1;
	uint32_t	j = h & mask;
	bterm	   *t;
	int			rc;

	for (;;)
	{
		uint64_t	s = b->slots[j];

		if (s == 0)
			break;
		if (SLOT_HASH(s) == h)
		{
			t = &b->terms[SLOT_INDEX(s)];
			if (t->len == len && memcmp(b->text + t->text_off, text, len) == 0)
			{
				*idx = SLOT_INDEX(s);
				return BM25_OK;
			}
		}
		j = (j + 1) & mask;
	}

	if (b->nterms == UINT32_MAX - 1)
		return BM25_ELIMIT;
	if (b->nterms == b->term_cap)
	{
		uint32_t	ncap = b->term_cap ? b->term_cap * 2 : 1024;
		bterm	   *nt;

		if (ncap < b->term_cap)
			ncap = UINT32_MAX - 1;
		nt = realloc(b->terms, (size_t) ncap * sizeof(bterm));
		if (nt == NULL)
			return BM25_ENOMEM;
		b->terms = nt;
		b->term_cap = ncap;
	}
	if (b->text_len + len > b->text_cap)
	{
		size_t		ncap = b->text_cap ? b->text_cap * 2 : 65536;
		char	   *nt;

		while (ncap < b->text_len + len)
			ncap *= 2;
		nt = realloc(b->text, ncap);
		if (nt == NULL)
			return BM25_ENOMEM;
		b->text = nt;
		b->text_cap = ncap;
	}
	t = &b->terms[b->nterms];
	memset(t, 0, sizeof(*t));
	t->text_off = b->text_len;
	t->len = len;
	memcpy(b->text + b->text_len, text, len);
	b->text_len += len;
	if ((rc = pool_alloc(b, slice_size[0], &t->head)) != BM25_OK)
		return rc;
	t->wpos = t->head;
	t->remain = (uint16_t) (slice_size[0] - 4);
	b->slots[j] = SLOT_MAKE(h, b->nterms);
	*idx = b->nterms++;
	if ((uint64_t) b->nterms * 2 > b->nslots)
		return grow_slots(b);
	return BM25_OK;
}

/*
 * Append encoded posting bytes to a term's slice chain, allocating the
 * next slice (and linking it) when the current one is full.
 */
static int
term_append(bm25_builder *b, bterm *t, const uint8_t *bytes, uint32_t n)
{
	uint32_t	i;

	if (t->remain >= n)
	{
		memcpy(pool_ptr(b, t->wpos), bytes, n);
		t->wpos += n;
		t->remain -= (uint16_t) n;
		return BM25_OK;
	}
	for (i = 0; i < n; i++)
	{
		if (t->remain == 0)
		{
			uint32_t	level = t->level + 1 < NLEVELS ? t->level + 1 : NLEVELS - 1;
			uint64_t	a;
			int			rc;

			if ((rc = pool_alloc(b, slice_size[level], &a)) != BM25_OK)
				return rc;
			bm25_put_u32(pool_ptr(b, t->wpos), (uint32_t) (a >> 3));
			t->level = (uint16_t) level;
			t->wpos = a;
			t->remain = (uint16_t) (slice_size[level] - 4);
		}
		*pool_ptr(b, t->wpos) = bytes[i];
		t->wpos++;
		t->remain--;
	}
	return BM25_OK;
}

/*
 * Add one document.  Arguments are checked before anything changes, so
 * EINVAL/ELIMIT for bad input leave the builder as it was (apart from
 * possibly registering new terms with no postings, which write() skips).
 * ENOMEM while appending postings leaves the builder unusable: it then
 * only accepts reset() or free().
 */
int
bm25_builder_add_doc(bm25_builder *b, bm25_tid tid, uint32_t dl,
					 const bm25_doc_term *terms, uint32_t nterms)
{
	uint32_t	docid;
	uint32_t	i;
	int			rc;

	if (b == NULL || (terms == NULL && nterms > 0) || dl == 0)
		return BM25_EINVAL;
	if (b->status != BM25_OK)
		return b->status;
	if (b->ndocs >= UINT32_MAX - 1)
		return BM25_ELIMIT;
	for (i = 0; i < nterms; i++)
	{
		if (terms[i].tf == 0 || terms[i].len == 0 || terms[i].text == NULL)
			return BM25_EINVAL;
		if (terms[i].len > BM25_MAX_TERM_LEN)
			return BM25_ELIMIT;
	}
	docid = b->ndocs;
	if (docid == b->doc_cap)
	{
		uint32_t	ncap = b->doc_cap ? b->doc_cap * 2 : 1024;
		uint32_t   *nd;
		bm25_tid   *nt;

		if (ncap < b->doc_cap || ncap > UINT32_MAX - 1)
			ncap = UINT32_MAX - 1;
		nd = realloc(b->doclens, (size_t) ncap * sizeof(uint32_t));
		if (nd == NULL)
			return BM25_ENOMEM;
		b->doclens = nd;
		nt = realloc(b->tids, (size_t) ncap * sizeof(bm25_tid));
		if (nt == NULL)
			return BM25_ENOMEM;
		b->tids = nt;
		b->doc_cap = ncap;
	}
	if (nterms > b->scratch_cap)
	{
		uint32_t   *ns = realloc(b->scratch, (size_t) nterms * sizeof(uint32_t));

		if (ns == NULL)
			return BM25_ENOMEM;
		b->scratch = ns;
		b->scratch_cap = nterms;
	}

	/*
	 * pass 1: hash every term and prefetch its slot, so the cache misses
	 * of the (mostly random) probes overlap; then resolve terms and reject
	 * duplicates.
	 */
	for (i = 0; i < nterms; i++)
	{
		b->scratch[i] = term_hash(terms[i].text, terms[i].len);
		BM25_PREFETCH(&b->slots[b->scratch[i] & (b->nslots - 1)]);
	}
	for (i = 0; i < nterms; i++)
	{
		rc = find_or_add_term(b, terms[i].text, terms[i].len, b->scratch[i], &b->scratch[i]);
		if (rc == BM25_OK && b->terms[b->scratch[i]].stamp == docid + 1)
			rc = BM25_EINVAL;
		if (rc != BM25_OK)
		{
			/* undo the stamps so a retry of a fixed doc works */
			uint32_t	k;

			for (k = 0; k < i; k++)
				b->terms[b->scratch[k]].stamp = 0;
			return rc;
		}
		b->terms[b->scratch[i]].stamp = docid + 1;
	}
	for (i = 0; i < nterms; i++)
		BM25_PREFETCH(pool_ptr(b, b->terms[b->scratch[i]].wpos));

	/* pass 2: append postings */
	for (i = 0; i < nterms; i++)
	{
		bterm	   *t = &b->terms[b->scratch[i]];
		uint8_t		enc[POSTING_MAX_BYTES];
		uint32_t	n;
		uint64_t	delta = t->df > 0 ? docid - t->last_doc : docid;

		n = (uint32_t) bm25_varint_put(enc, (delta << 1) | (terms[i].tf == 1 ? 1 : 0));
		if (terms[i].tf != 1)
			n += (uint32_t) bm25_varint_put(enc + n, terms[i].tf);
		if ((rc = term_append(b, t, enc, n)) != BM25_OK)
			return b->status = rc;
		t->df++;
		t->last_doc = docid;
	}
	b->doclens[docid] = dl;
	b->tids[docid] = tid;
	b->ndocs++;
	return BM25_OK;
}

/* Number of documents added since creation or the last reset. */
uint32_t
bm25_builder_ndocs(const bm25_builder *b)
{
	return b->ndocs;
}

/*
 * Bytes held by the builder: every allocation at its capacity (pool
 * pages, term records, hash slots, term text, doc arrays, scratch).
 */
size_t
bm25_builder_mem(const bm25_builder *b)
{
	return sizeof(*b) +
		(size_t) b->npages * POOL_PAGE_SIZE +
		(size_t) b->pages_cap * sizeof(uint8_t *) +
		(size_t) b->term_cap * sizeof(bterm) +
		(size_t) b->nslots * sizeof(uint64_t) +
		b->text_cap +
		(size_t) b->doc_cap * (sizeof(uint32_t) + sizeof(bm25_tid)) +
		(size_t) b->scratch_cap * sizeof(uint32_t);
}

/* A term to sort: its bytes and record index. */
typedef struct sort_term
{
	const char *text;
	uint32_t	len;
	uint32_t	idx;
} sort_term;

/* qsort comparator: dictionary (memcmp, prefix-first) order. */
static int
sort_term_cmp(const void *a, const void *b)
{
	const sort_term *x = (const sort_term *) a;
	const sort_term *y = (const sort_term *) b;

	return bm25_term_cmp(x->text, x->len, y->text, y->len);
}

/* Reads a term's postings back out of its slice chain. */
typedef struct slice_reader
{
	uint64_t	pos;
	uint64_t	end;			/* link position of the current slice */
	uint32_t	level;
} slice_reader;

/* Next byte of the chain, following links at slice ends. */
static inline uint8_t
slice_byte(const bm25_builder *b, slice_reader *r)
{
	if (r->pos == r->end)
	{
		uint64_t	a = (uint64_t) bm25_get_u32(pool_ptr(b, r->end)) << 3;

		if (r->level + 1 < NLEVELS)
			r->level++;
		r->pos = a;
		r->end = a + slice_size[r->level] - 4;
	}
	return *pool_ptr(b, r->pos++);
}

/* Decode one varint from the chain (written by us, so well-formed). */
static inline uint64_t
slice_varint(const bm25_builder *b, slice_reader *r)
{
	uint64_t	v = 0;
	uint32_t	shift = 0;
	uint8_t		c;

	do
	{
		c = slice_byte(b, r);
		v |= (uint64_t) (c & 0x7F) << shift;
		shift += 7;
	} while ((c & 0x80) && shift < 64);
	return v;
}

/*
 * Sort the terms and stream them, with their postings decoded in chunks
 * of one block, into a segment writer.
 */
int
bm25_builder_write(bm25_builder *b, const bm25_writer_io *io, bm25_seg_summary *summary)
{
	sort_term  *st = NULL;
	bm25_seg_writer *w = NULL;
	uint32_t	docs[BM25_BLOCK_SIZE];
	uint32_t	tfs[BM25_BLOCK_SIZE];
	uint32_t	n = 0;
	uint32_t	i;
	int			rc;

	if (b == NULL || io == NULL)
		return BM25_EINVAL;
	if (b->status != BM25_OK)
		return b->status;
	if (b->nterms > 0)
	{
		st = malloc((size_t) b->nterms * sizeof(sort_term));
		if (st == NULL)
			return BM25_ENOMEM;
	}
	for (i = 0; i < b->nterms; i++)
	{
		if (b->terms[i].df == 0)
			continue;
		st[n].text = b->text + b->terms[i].text_off;
		st[n].len = b->terms[i].len;
		st[n].idx = i;
		n++;
	}
	if (n > 1)
		qsort(st, n, sizeof(sort_term), sort_term_cmp);

	rc = bm25_seg_writer_create(io, b->ndocs, b->doclens, b->tids, &w);
	for (i = 0; rc == BM25_OK && i < n; i++)
	{
		const bterm *t = &b->terms[st[i].idx];
		slice_reader r;
		uint32_t	doc = 0;
		uint32_t	k;
		uint32_t	nb = 0;

		rc = bm25_seg_writer_begin_term(w, st[i].text, st[i].len);
		r.pos = t->head;
		r.end = t->head + slice_size[0] - 4;
		r.level = 0;
		for (k = 0; rc == BM25_OK && k < t->df; k++)
		{
			uint64_t	code = slice_varint(b, &r);

			doc = k == 0 ? (uint32_t) (code >> 1) : doc + (uint32_t) (code >> 1);
			docs[nb] = doc;
			tfs[nb] = (code & 1) ? 1 : (uint32_t) slice_varint(b, &r);
			if (++nb == BM25_BLOCK_SIZE || k + 1 == t->df)
			{
				rc = bm25_seg_writer_add_postings(w, nb, docs, tfs);
				nb = 0;
			}
		}
		if (rc == BM25_OK)
			rc = bm25_seg_writer_end_term(w);
	}
	if (rc == BM25_OK)
		rc = bm25_seg_writer_finish(w, summary);
	bm25_seg_writer_free(w);
	free(st);
	return rc;
}

/* Forget all documents, keeping allocations (pool pages, tables). */
void
bm25_builder_reset(bm25_builder *b)
{
	if (b == NULL)
		return;
	b->status = BM25_OK;
	b->ndocs = 0;
	b->nterms = 0;
	b->text_len = 0;
	b->pool_used = 0;
	memset(b->slots, 0, (size_t) b->nslots * sizeof(uint64_t));
}

/* Release everything (NULL is a no-op). */
void
bm25_builder_free(bm25_builder *b)
{
	uint32_t	i;

	if (b == NULL)
		return;
	for (i = 0; i < b->npages; i++)
		free(b->pages[i]);
	free(b->pages);
	free(b->terms);
	free(b->slots);
	free(b->text);
	free(b->doclens);
	free(b->tids);
	free(b->scratch);
	free(b);
}
