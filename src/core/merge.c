/*-------------------------------------------------------------------------
 * merge.c
 *	  k-way merge of segments into one, dropping documents the keep
 *	  callback rejects.
 *
 * Output doc ids are the kept docs of segment 0, then of segment 1, ...
 * in their original order, so remapping through a per-segment table
 * keeps every postings list ascending when the sources of one term are
 * visited in segment order.  Terms are merged with a binary heap of
 * dictionary iterators ordered by (term, segment number); postings are
 * streamed through cursors into the writer one block at a time.  Memory:
 * the doc id maps and the output doc length / TID arrays (O(total docs)),
 * one dictionary iterator per input, and the writer's bounded state.
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "seg_format.h"

#define DROPPED		UINT32_MAX

typedef struct merge_state
{
	const bm25_segment *const *in;
	uint32_t	n;
	seg_dict_iter *its;			/* one per input */
	uint32_t   *heap;			/* input numbers */
	uint32_t	nheap;
} merge_state;

/* Heap order: term, then input number (so equal terms pop in input order). */
static int
heap_less(const merge_state *m, uint32_t a, uint32_t b)
{
	int			c = bm25_term_cmp(m->its[a].term, m->its[a].termlen,
								  m->its[b].term, m->its[b].termlen);

	return c < 0 || (c == 0 && a < b);
}

/* Insert input s into the heap. */
static void
heap_push(merge_state *m, uint32_t s)
{
	uint32_t	i = m->nheap++;

	m->heap[i] = s;
	while (i > 0)
	{
		uint32_t	p = (i - 1) / 2;
		uint32_t	tmp;

		if (!heap_less(m, m->heap[i], m->heap[p]))
			break;
		tmp = m->heap[i];
		m->heap[i] = m->heap[p];
		m->heap[p] = tmp;
		i = p;
	}
}

/* Remove and return the smallest input. */
static uint32_t
heap_pop(merge_state *m)
{
	uint32_t	top = m->heap[0];
	uint32_t	i = 0;

	m->heap[0] = m->heap[--m->nheap];
	for (;;)
	{
		uint32_t	l = 2 * i + 1;
		uint32_t	r = l + 1;
		uint32_t	s = i;
		uint32_t	tmp;

		if (l < m->nheap && heap_less(m, m->heap[l], m->heap[s]))
			s = l;
		if (r < m->nheap && heap_less(m, m->heap[r], m->heap[s]))
			s = r;
		if (s == i)
			break;
		tmp = m->heap[i];
		m->heap[i] = m->heap[s];
		m->heap[s] = tmp;
		i = s;
	}
	return top;
}

/*
 * Merge the postings of one term from the inputs group[0..ng) (ascending
 * input number) into the writer; the term is begun only once a kept
 * posting is seen, so a term whose documents all vanished is dropped.
 */
static int
merge_term(merge_state *m, const uint32_t *group, uint32_t ng,
		   const uint32_t *const *maps, bm25_seg_writer *w, bm25_cursor *c)
{
	const seg_dict_iter *first = &m->its[group[0]];
	uint32_t	docs[BM25_BLOCK_SIZE];
	uint32_t	tfs[BM25_BLOCK_SIZE];
	uint32_t	nb = 0;
	int			begun = 0;
	uint32_t	g;
	int			rc;

	for (g = 0; g < ng; g++)
	{
		uint32_t	s = group[g];
		const uint32_t *map = maps[s];

		if ((rc = bm25_cursor_init(c, m->in[s], &m->its[s].info)) != BM25_OK)
			return rc;
		while (c->doc != BM25_NO_MORE_DOCS)
		{
			uint32_t	nd = map[c->doc];

			if (nd != DROPPED)
			{
				if (!begun)
				{
					/* out of order only if an input's dictionary is bad */
					rc = bm25_seg_writer_begin_term(w, first->term, first->termlen);
					if (rc != BM25_OK)
						return rc == BM25_EINVAL ? BM25_ECORRUPT : rc;
					begun = 1;
				}
				docs[nb] = nd;
				tfs[nb] = c->tf;
				if (++nb == BM25_BLOCK_SIZE)
				{
					if ((rc = bm25_seg_writer_add_postings(w, nb, docs, tfs)) != BM25_OK)
						return rc;
					nb = 0;
				}
			}
			if ((rc = bm25_cursor_next(c)) != BM25_OK)
				return rc;
		}
	}
	if (nb > 0 && (rc = bm25_seg_writer_add_postings(w, nb, docs, tfs)) != BM25_OK)
		return rc;
	if (begun)
		return bm25_seg_writer_end_term(w);
	return BM25_OK;
}

/*
 * Merge n segments into one written through io.  keep (may be NULL)
 * decides per document; see the file header for doc id assignment.
 */
int
bm25_merge(const bm25_segment *const *in, uint32_t n,
		   bm25_keep_fn keep, void *keep_arg,
		   const bm25_writer_io *io, bm25_seg_summary *summary)
{
	merge_state m;
	uint64_t	total = 0;
	uint32_t   *mapbuf = NULL;
	uint32_t  **maps = NULL;
	uint32_t   *outdl = NULL;
	bm25_tid   *outtid = NULL;
	uint32_t   *group = NULL;
	bm25_cursor *c = NULL;
	bm25_seg_writer *w = NULL;
	uint32_t	kept = 0;
	uint64_t	pos = 0;
	uint32_t	s;
	int			rc = BM25_OK;

	if (io == NULL || (n > 0 && in == NULL))
		return BM25_EINVAL;
	for (s = 0; s < n; s++)
	{
		if (in[s] == NULL)
			return BM25_EINVAL;
		total += bm25_segment_ndocs(in[s]);
	}
	if (total > SIZE_MAX / sizeof(bm25_tid))
		return BM25_ELIMIT;
	memset(&m, 0, sizeof(m));
	m.in = in;
	m.n = n;

	mapbuf = malloc(total > 0 ? (size_t) total * sizeof(uint32_t) : 1);
	outdl = malloc(total > 0 ? (size_t) total * sizeof(uint32_t) : 1);
	outtid = malloc(total > 0 ? (size_t) total * sizeof(bm25_tid) : 1);
	maps = malloc(n > 0 ? n * sizeof(uint32_t *) : 1);
	m.its = malloc(n > 0 ? n * sizeof(seg_dict_iter) : 1);
	m.heap = malloc(n > 0 ? n * sizeof(uint32_t) : 1);
	group = malloc(n > 0 ? n * sizeof(uint32_t) : 1);
	c = malloc(sizeof(bm25_cursor));
	if (mapbuf == NULL || outdl == NULL || outtid == NULL || maps == NULL ||
		m.its == NULL || m.heap == NULL || group == NULL || c == NULL)
	{
		rc = BM25_ENOMEM;
		goto done;
	}

	/* doc id maps and the output's doc lengths and TIDs */
	for (s = 0; s < n; s++)
	{
		uint32_t	nd = bm25_segment_ndocs(in[s]);
		uint32_t	d;

		maps[s] = mapbuf + pos;
		for (d = 0; d < nd; d++)
		{
			bm25_tid	tid = bm25_segment_tid(in[s], d);

			if (keep == NULL || keep(keep_arg, s, d, tid))
			{
				if (kept >= UINT32_MAX - 1)
				{
					rc = BM25_ELIMIT;
					goto done;
				}
				maps[s][d] = kept;
				outdl[kept] = bm25_segment_doclen(in[s], d);
				outtid[kept] = tid;
				kept++;
			}
			else
				maps[s][d] = DROPPED;
		}
		pos += nd;
	}

	if ((rc = bm25_seg_writer_create(io, kept, outdl, outtid, &w)) != BM25_OK)
		goto done;
	for (s = 0; s < n; s++)
	{
		if ((rc = bm25_seg_iter_init(&m.its[s], in[s], NULL, 0)) != BM25_OK)
			goto done;
		if (!m.its[s].done)
			heap_push(&m, s);
	}
	while (m.nheap > 0)
	{
		uint32_t	ng = 0;
		uint32_t	g;

		group[ng++] = heap_pop(&m);
		while (m.nheap > 0 &&
			   bm25_term_cmp(m.its[m.heap[0]].term, m.its[m.heap[0]].termlen,
							 m.its[group[0]].term, m.its[group[0]].termlen) == 0)
			group[ng++] = heap_pop(&m);
		if ((rc = merge_term(&m, group, ng, (const uint32_t *const *) maps, w, c)) != BM25_OK)
			goto done;
		for (g = 0; g < ng; g++)
		{
			if ((rc = bm25_seg_iter_next(&m.its[group[g]], NULL, 0)) != BM25_OK)
				goto done;
			if (!m.its[group[g]].done)
				heap_push(&m, group[g]);
		}
	}
	rc = bm25_seg_writer_finish(w, summary);

done:
	bm25_seg_writer_free(w);
	free(mapbuf);
	free(maps);
	free(outdl);
	free(outtid);
	free(m.its);
	free(m.heap);
	free(group);
	free(c);
	return rc;
}
