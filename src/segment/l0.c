/*-------------------------------------------------------------------------
 * l0.c
 *	  The write buffer ("L0"): documents inserted after CREATE INDEX, kept
 *	  in the index relation's own pages until they are turned into a
 *	  segment file.
 *
 * The buffer is a byte stream of entries laid over blocks 1..l0_pages, each
 * page holding BM25_L0_PAGE_CAPACITY bytes, so logical offset o lives on
 * block 1 + o / capacity.  Appends hold the metapage exclusively and are
 * WAL-logged with generic WAL, in groups of at most three buffer pages;
 * the last group also carries the metapage, whose l0_bytes is what makes
 * the new bytes count.  A crash between groups leaves bytes past l0_bytes
 * that nobody reads and the next append overwrites.
 *
 * Entry layout (host byte order): u32 length of the whole entry, u32
 * CRC-32C of the bytes after these 8, u64 TID, u32 dl, u32 nterms, then
 * per term u16 length, u32 tf, the lexeme bytes.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

#include "access/generic_xlog.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"

#define L0_ENTRY_HDR	24
#define L0_TERM_HDR		6
#define L0_GROUP_PAGES	3		/* + the metapage = MAX_GENERIC_XLOG_PAGES */

StaticAssertDecl(L0_GROUP_PAGES + 1 <= MAX_GENERIC_XLOG_PAGES,
				 "an append group must fit in one generic WAL record");

/* Start of a write buffer page's data area. */
static char *
l0_page_data(Page page)
{
	return PageGetContents(page) + 8;
}

/* Serializes one document into a palloc'd entry; *len gets its size. */
static char *
l0_serialize(const Bm25Doc *doc, bm25_tid tid, uint32 *len)
{
	Size		size = L0_ENTRY_HDR;
	char	   *buf;
	char	   *p;
	uint32		crc;

	for (uint32 i = 0; i < doc->nterms; i++)
		size += L0_TERM_HDR + doc->terms[i].len;
	if (size > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("document too large for the bm25 write buffer")));
	buf = palloc(size);
	p = buf + 8;
	memcpy(p, &tid, 8);
	memcpy(p + 8, &doc->dl, 4);
	memcpy(p + 12, &doc->nterms, 4);
	p += 16;
	for (uint32 i = 0; i < doc->nterms; i++)
	{
		uint16		tl = (uint16) doc->terms[i].len;

		memcpy(p, &tl, 2);
		memcpy(p + 2, &doc->terms[i].tf, 4);
		memcpy(p + L0_TERM_HDR, doc->terms[i].text, tl);
		p += L0_TERM_HDR + tl;
	}
	*len = (uint32) size;
	memcpy(buf, len, 4);
	crc = bm25_crc32c(0, buf + 8, size - 8);
	memcpy(buf + 4, &crc, 4);
	return buf;
}

/* Pins and exclusively locks write buffer page p, extending if needed. */
static Buffer
l0_get_page(Relation index, uint32 p)
{
	BlockNumber blkno = 1 + p;
	Buffer		buf;

	if (blkno < RelationGetNumberOfBlocks(index))
	{
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		return buf;
	}
	buf = bm25_new_buffer(index);
	if (BufferGetBlockNumber(buf) != blkno)
		elog(ERROR, "bm25 write buffer page allocated at block %u, expected %u",
			 BufferGetBlockNumber(buf), blkno);
	return buf;
}

/*
 * Appends one analyzed document to the write buffer.  The document counts
 * for searches and statistics once this returns.
 */
void
bm25_l0_append(Relation index, const Bm25Doc *doc, bm25_tid tid)
{
	uint32		len;
	char	   *entry = l0_serialize(doc, tid, &len);
	Bm25MetaLock ml;
	uint64		pos;
	uint64		end;
	uint32		first;
	uint32		last;

	bm25_meta_lock(index, &ml, BUFFER_LOCK_EXCLUSIVE);
	pos = ml.meta.l0_bytes;
	end = pos + len;
	first = (uint32) (pos / BM25_L0_PAGE_CAPACITY);
	last = (uint32) ((end - 1) / BM25_L0_PAGE_CAPACITY);

	for (uint32 g = first; g <= last; g += L0_GROUP_PAGES)
	{
		GenericXLogState *state = GenericXLogStart(index);
		Buffer		bufs[L0_GROUP_PAGES];
		int			nbufs = 0;
		uint32		glast = Min(last, g + L0_GROUP_PAGES - 1);

		for (uint32 p = g; p <= glast; p++)
		{
			uint64		pstart = (uint64) p * BM25_L0_PAGE_CAPACITY;
			uint64		from = Max(pos, pstart);
			uint64		to = Min(end, pstart + BM25_L0_PAGE_CAPACITY);
			bool		fresh = (from == pstart);
			Buffer		buf = l0_get_page(index, p);
			Page		page;
			uint32		magic = BM25_L0_MAGIC;

			bufs[nbufs++] = buf;
			page = GenericXLogRegisterBuffer(state, buf,
											 fresh ? GENERIC_XLOG_FULL_IMAGE : 0);
			if (fresh)
			{
				PageInit(page, BLCKSZ, 0);
				memcpy(PageGetContents(page), &magic, 4);
				memcpy(PageGetContents(page) + 4, &p, 4);
			}
			memcpy(l0_page_data(page) + (from - pstart), entry + (from - pos), to - from);
			((PageHeader) page)->pd_lower =
				(l0_page_data(page) + (to - pstart)) - (char *) page;
		}
		if (glast == last)
		{
			Page		mpage = GenericXLogRegisterBuffer(state, ml.buf, 0);

			ml.meta.l0_bytes = end;
			ml.meta.l0_docs++;
			ml.meta.l0_tokens += doc->dl;
			ml.meta.l0_pages = Max(ml.meta.l0_pages, last + 1);
			bm25_meta_put(mpage, &ml.meta);
		}
		GenericXLogFinish(state);
		for (int i = 0; i < nbufs; i++)
			UnlockReleaseBuffer(bufs[i]);
	}
	bm25_meta_unlock(&ml);
	pfree(entry);
}

/*
 * Copies the write buffer's valid bytes into memory.  The caller holds the
 * metapage (shared or exclusive), so no append can change them meanwhile.
 */
char *
bm25_l0_read(Relation index, const Bm25MetaPageData *meta)
{
	char	   *out = palloc(Max(meta->l0_bytes, 1));
	uint64		done = 0;

	for (uint32 p = 0; done < meta->l0_bytes; p++)
	{
		Buffer		buf = ReadBuffer(index, 1 + p);
		Page		page;
		uint32		magic;
		uint32		pno;
		uint64		n = Min((uint64) BM25_L0_PAGE_CAPACITY, meta->l0_bytes - done);

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		memcpy(&magic, PageGetContents(page), 4);
		memcpy(&pno, PageGetContents(page) + 4, 4);
		if (magic != BM25_L0_MAGIC || pno != p)
		{
			UnlockReleaseBuffer(buf);
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("bm25 index \"%s\" has a corrupted write buffer page at block %u",
							RelationGetRelationName(index), 1 + p),
					 errhint("Rebuild the index with REINDEX.")));
		}
		memcpy(out + done, l0_page_data(page), n);
		UnlockReleaseBuffer(buf);
		done += n;
	}
	return out;
}

/* Reports a malformed write buffer entry. */
static void
l0_corrupt(Relation index, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("bm25 index \"%s\" has a corrupted write buffer entry: %s",
					RelationGetRelationName(index), what),
			 errhint("Rebuild the index with REINDEX.")));
}

/*
 * Adds every entry of a write buffer image to a core builder, validating
 * lengths and checksums; returns the number of documents.
 */
int
bm25_l0_add_to_builder(Relation index, const char *bytes, uint64 len, bm25_builder *b)
{
	uint64		pos = 0;
	int			ndocs = 0;
	bm25_doc_term *terms = NULL;
	uint32		cap = 0;

	while (pos < len)
	{
		uint32		elen;
		uint32		crc;
		bm25_tid	tid;
		uint32		dl;
		uint32		nterms;
		const char *p;
		const char *eend;
		int			status;

		if (len - pos < L0_ENTRY_HDR)
			l0_corrupt(index, "truncated header");
		memcpy(&elen, bytes + pos, 4);
		memcpy(&crc, bytes + pos + 4, 4);
		if (elen < L0_ENTRY_HDR || elen > len - pos)
			l0_corrupt(index, "bad length");
		if (bm25_crc32c(0, bytes + pos + 8, elen - 8) != crc)
			l0_corrupt(index, "checksum mismatch");
		memcpy(&tid, bytes + pos + 8, 8);
		memcpy(&dl, bytes + pos + 16, 4);
		memcpy(&nterms, bytes + pos + 20, 4);
		if (nterms > elen / L0_TERM_HDR)
			l0_corrupt(index, "bad term count");
		if (nterms > cap)
		{
			cap = Max(nterms, 64);
			terms = terms ? repalloc(terms, sizeof(bm25_doc_term) * cap)
				: palloc(sizeof(bm25_doc_term) * cap);
		}
		p = bytes + pos + L0_ENTRY_HDR;
		eend = bytes + pos + elen;
		for (uint32 i = 0; i < nterms; i++)
		{
			uint16		tl;

			if (eend - p < L0_TERM_HDR)
				l0_corrupt(index, "truncated term");
			memcpy(&tl, p, 2);
			memcpy(&terms[i].tf, p + 2, 4);
			if (eend - p - L0_TERM_HDR < tl)
				l0_corrupt(index, "truncated term");
			terms[i].text = p + L0_TERM_HDR;
			terms[i].len = tl;
			p += L0_TERM_HDR + tl;
		}
		status = bm25_builder_add_doc(b, tid, dl, terms, nterms);
		if (status == BM25_EINVAL)
			l0_corrupt(index, "invalid document");
		bm25_report_status(status, index, "reading the write buffer");
		ndocs++;
		pos += elen;
	}
	return ndocs;
}

/* Empties the write buffer in a metapage copy (its pages are reused). */
void
bm25_l0_reset(Bm25MetaPageData *meta)
{
	meta->l0_bytes = 0;
	meta->l0_docs = 0;
	meta->l0_tokens = 0;
	meta->l0_generation++;
}
