/*-------------------------------------------------------------------------
 * vacuum.c
 *	  VACUUM support: segments holding dead heap TIDs are rewritten without
 *	  them, so corpus statistics (N, avgdl, df) exclude removed rows as soon
 *	  as VACUUM finishes and a reused TID can never be mistaken for an old
 *	  document.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

#include "access/xlog.h"
#include "commands/vacuum.h"
#include "miscadmin.h"

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
 * Rewrites every segment that contains a dead TID, publishes the new
 * manifest, and only after its WAL is flushed removes the old files.
 * Returns the number of index entries removed.
 */
uint64
bm25_vacuum_segments(Relation index, IndexBulkDeleteCallback callback,
					 void *callback_state)
{
	Bm25MetaPageData meta;
	Bm25MetaPageData newmeta;
	Bm25RelFile rf = BM25_RELFILE(index);
	uint64		removed = 0;
	uint64	   *obsolete;
	int			nobsolete = 0;
	XLogRecPtr	lsn;

	bm25_require_preload();
	bm25_meta_read(index, &meta);
	newmeta = meta;
	newmeta.nsegments = 0;
	obsolete = palloc(sizeof(uint64) * Max(meta.nsegments, 1));

	for (uint32 s = 0; s < meta.nsegments; s++)
	{
		Bm25Mapped	m;
		uint32		ndocs = meta.segments[s].ndocs;
		uint8	   *dead = palloc0(ndocs / 8 + 1);
		uint32		ndead = 0;

		bm25_map_segment(index, &meta.segments[s], &m);
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
			newmeta.segments[newmeta.nsegments++] = meta.segments[s];
		else
		{
			removed += ndead;
			obsolete[nobsolete++] = meta.segments[s].id;
			if (ndead < ndocs)
			{
				Bm25DeadSet ds;
				const bm25_segment *in[1];
				Bm25FileWriter w;
				bm25_seg_summary sum;
				Bm25SegmentEntry *e = &newmeta.segments[newmeta.nsegments++];
				int			status;

				ds.dead = &dead;
				in[0] = m.seg;
				e->id = newmeta.next_segment_id++;
				bm25_sidecar_begin(&w, &rf, e->id);
				status = bm25_merge(in, 1, bm25_keep_live, &ds, &w.io, &sum);
				bm25_sidecar_finish(&w, status, index);
				e->file_size = sum.file_size;
				e->total_tokens = sum.total_tokens;
				e->ndocs = sum.ndocs;
				e->nterms = sum.nterms;
			}
		}
		bm25_unmap_segment(&m);
		pfree(dead);
	}

	if (nobsolete == 0)
		return 0;

	lsn = bm25_meta_write(index, &newmeta, false);
	if (!XLogRecPtrIsInvalid(lsn))
		XLogFlush(lsn);
	for (int i = 0; i < nobsolete; i++)
		bm25_sidecar_unlink(&rf, obsolete[i]);
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

/* amvacuumcleanup: reports the index's size and live entry count. */
IndexBulkDeleteResult *
bm25_amvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	Bm25MetaPageData meta;

	if (info->analyze_only)
		return stats;
	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	bm25_meta_read(info->index, &meta);
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	stats->num_index_tuples = (double) meta.total_docs;
	stats->estimated_count = false;
	return stats;
}
