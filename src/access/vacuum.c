/*-------------------------------------------------------------------------
 * vacuum.c
 *	  VACUUM support.  The write buffer is first turned into a segment, then
 *	  every segment holding dead heap TIDs is rewritten without them, so
 *	  corpus statistics (N, avgdl, df) exclude removed rows as soon as
 *	  VACUUM finishes and a reused TID can never be mistaken for an old
 *	  document.  Files go through the publication protocol of maintain.c.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"

typedef struct Bm25DeadSet
{
	uint8	  **dead;			/* per segment bitmap of dead doc ids */
} Bm25DeadSet;

/* Merge keep-callback: keeps docs not marked dead by the first pass. */
static int
bm25_keep_live(void *arg, uint32_t segno, uint32_t docid, bm25_tid tid)
{
	Bm25DeadSet *ds = (Bm25DeadSet *) arg;

	return !(ds->dead[segno][docid / 8] & (1 << (docid % 8)));
}

/*
 * Rewrites every segment that contains a dead TID and publishes the new
 * manifest.  Returns the number of index entries removed.
 */
uint64
bm25_vacuum_segments(Relation index, IndexBulkDeleteCallback callback,
					 void *callback_state)
{
	Bm25MetaLock ml;
	Bm25MetaPageData old;
	Bm25RelFile rf = BM25_RELFILE(index);
	uint64		removed = 0;
	uint64		obsolete[BM25_MAX_SEGMENTS];
	int			nobsolete = 0;

	bm25_require_preload();
	bm25_flush_l0(index, true);

	bm25_meta_lock(index, &ml, BUFFER_LOCK_EXCLUSIVE);
	old = ml.meta;
	ml.meta.nsegments = 0;
	for (uint32 s = 0; s < old.nsegments; s++)
	{
		Bm25Mapped	m;
		uint32		ndocs = old.segments[s].ndocs;
		uint8	   *dead = palloc0(ndocs / 8 + 1);
		uint32		ndead = 0;

		bm25_map_segment(index, &old.segments[s], &m);
		for (uint32 d = 0; d < ndocs; d++)
		{
			bm25_tid	t = bm25_segment_tid(m.seg, d);
			ItemPointerData ip;

			vacuum_delay_point();
			ItemPointerSet(&ip, BM25_TID_BLOCK(t), BM25_TID_OFFSET(t));
			if (callback(&ip, callback_state))
			{
				dead[d / 8] |= 1 << (d % 8);
				ndead++;
			}
		}

		if (ndead == 0)
			ml.meta.segments[ml.meta.nsegments++] = old.segments[s];
		else
		{
			removed += ndead;
			obsolete[nobsolete++] = old.segments[s].id;
			if (ndead < ndocs)
			{
				Bm25DeadSet ds;
				const bm25_segment *in[1];
				Bm25FileWriter w;
				bm25_seg_summary sum;
				Bm25SegmentEntry *e = &ml.meta.segments[ml.meta.nsegments++];
				int			status;

				ds.dead = &dead;
				in[0] = m.seg;
				e->id = ml.meta.next_segment_id++;
				bm25_sidecar_begin(&w, &rf, e->id);
				status = bm25_merge(in, 1, bm25_keep_live, &ds, &w.io, &sum);
				bm25_unmap_segment(&m);
				bm25_sidecar_finish(&w, status, index, true);
				e->file_size = sum.file_size;
				e->total_tokens = sum.total_tokens;
				e->ndocs = sum.ndocs;
				e->nterms = sum.nterms;
			}
		}
		bm25_unmap_segment(&m);
		pfree(dead);
	}

	if (nobsolete > 0)
		bm25_publish(index, &ml, obsolete, nobsolete);
	bm25_meta_unlock(&ml);
	return removed;
}

/* ambulkdelete: removes index entries of dead heap tuples. */
IndexBulkDeleteResult *
bm25_ambulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
				  IndexBulkDeleteCallback callback, void *callback_state)
{
	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	stats->tuples_removed += bm25_vacuum_segments(info->index, callback, callback_state);
	return stats;
}

/*
 * amvacuumcleanup: turns the write buffer into a segment (so autovacuum
 * keeps searches on the fast path), removes segment files a crash left
 * unlisted, and reports size and entry count.
 */
IndexBulkDeleteResult *
bm25_amvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	Bm25MetaPageData meta;

	if (info->analyze_only)
		return stats;
	bm25_require_preload();
	bm25_flush_l0(info->index, true);
	bm25_cleanup_files(info->index);
	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	bm25_meta_read(info->index, &meta);
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	stats->num_index_tuples = (double) meta.total_docs;
	stats->estimated_count = false;
	return stats;
}
