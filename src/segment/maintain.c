/*-------------------------------------------------------------------------
 * maintain.c
 *	  Turning the write buffer into segment files, merging segments, and
 *	  publishing a new manifest.
 *
 * Every change follows one protocol, which is what makes it crash safe:
 *	 1. write new segment files, fsync them and their directory, WAL-log
 *	    their bytes (sidecar.c);
 *	 2. WAL-log the new metapage listing them (the publication);
 *	 3. flush that WAL, then unlink and WAL-log the removal of files the
 *	    new manifest no longer lists.
 * A crash before 2 leaves unlisted files, a crash between 2 and 3 leaves
 * unlisted old files, never a listed file that is missing; unlisted files
 * are ignored by readers and removed by the next publication or VACUUM
 * (bm25_remove_unlisted).  bm25.debug_fault injects crashes between
 * the steps for the TAP tests.
 *
 * The metapage is held exclusively throughout, so these run one at a time
 * per index and readers never see a half-made change.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

#include <dirent.h>

#include "access/xlog.h"
#include "storage/fd.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"

/* Documents the write buffer holds before it becomes a segment. */
int			bm25_write_buffer_docs = 1000;

/* Crash-injection point for tests (superuser only; empty = none). */
char	   *bm25_debug_fault = NULL;

/* Crashes the server (PANIC) when the named injection point is armed. */
void
bm25_fault(const char *point)
{
	if (bm25_debug_fault && bm25_debug_fault[0] != '\0' &&
		strcmp(bm25_debug_fault, point) == 0)
		elog(PANIC, "bm25 fault injection at \"%s\"", point);
}

/* Reset callback of Bm25BuilderGuard. */
static void
builder_guard_free(void *arg)
{
	Bm25BuilderGuard *g = (Bm25BuilderGuard *) arg;

	if (g->b)
		bm25_builder_free(g->b);
	g->b = NULL;
}

/* A fresh core builder, or an out-of-memory error. */
static bm25_builder *
builder_new(void)
{
	bm25_builder *b;

	if (bm25_builder_create(&b) != BM25_OK)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	return b;
}

/*
 * Creates a core builder freed with the current memory context, even when
 * an error unwinds past it (the core allocates with malloc).
 */
Bm25BuilderGuard *
bm25_builder_guard_create(void)
{
	Bm25BuilderGuard *g = palloc0(sizeof(Bm25BuilderGuard));

	g->b = builder_new();
	g->cb.func = builder_guard_free;
	g->cb.arg = g;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &g->cb);
	return g;
}

/*
 * Starts the guarded builder over empty.  A reset builder keeps its
 * allocations (and reports them as held), so it is replaced instead: the
 * memory really goes back.
 */
void
bm25_builder_guard_renew(Bm25BuilderGuard *g)
{
	if (g->b)
		bm25_builder_free(g->b);
	g->b = NULL;
	g->b = builder_new();
}

/*
 * Writes the builder's documents as segment file segid of index, durable
 * (and, with wal, logged) when this returns; fills *entry.
 */
void
bm25_segment_from_builder(Relation index, bm25_builder *b, uint64 segid,
						  Bm25SegmentEntry *entry, bool wal)
{
	Bm25RelFile rf = BM25_RELFILE(index);
	Bm25FileWriter w;
	bm25_seg_summary sum;
	int			status;

	bm25_sidecar_begin(&w, &rf, segid);
	status = bm25_builder_write(b, &w.io, &sum);
	bm25_sidecar_finish(&w, status, index, wal);
	entry->id = segid;
	entry->file_size = sum.file_size;
	entry->total_tokens = sum.total_tokens;
	entry->ndocs = sum.ndocs;
	entry->nterms = sum.nterms;
}

/*
 * Removes every segment file of the index's directory that the manifest in
 * ml (held exclusively, already durable) does not list: leftovers of a
 * crash between writing and publishing, or between publishing and
 * unlinking.  Nothing else writes files while the metapage is held, and
 * readers map files under the share lock, so none is in use or on its way.
 */
void
bm25_remove_unlisted(Relation index, const Bm25MetaPageData *meta)
{
	Bm25RelFile rf = BM25_RELFILE(index);
	char	   *dir = bm25_sidecar_dir(&rf);
	DIR		   *d;
	struct dirent *de;
	List	   *stale = NIL;
	ListCell   *lc;

	d = AllocateDir(dir);
	if (d == NULL)
		return;
	while ((de = ReadDirExtended(d, dir, LOG)) != NULL)
	{
		uint64		id;
		char		tail[8];
		bool		listed = false;

		if (sscanf(de->d_name, "seg_" UINT64_FORMAT ".bm2%7s", &id, tail) != 2 ||
			strcmp(tail, "5") != 0)
			continue;
		for (uint32 i = 0; i < meta->nsegments; i++)
			if (meta->segments[i].id == id)
				listed = true;
		if (!listed)
		{
			uint64	   *p = palloc(sizeof(uint64));

			*p = id;
			stale = lappend(stale, p);
		}
	}
	FreeDir(d);
	foreach(lc, stale)
		bm25_sidecar_unlink(index, *(uint64 *) lfirst(lc), true);
}

/*
 * Publishes the manifest in ml (held exclusively), then removes the files
 * it dropped: steps 2 and 3 of the protocol above.
 */
void
bm25_publish(Relation index, Bm25MetaLock *ml, const uint64 *obsolete, int nobsolete)
{
	XLogRecPtr	lsn;

	bm25_fault("before_publish");
	lsn = bm25_meta_update(index, ml);
	if (!XLogRecPtrIsInvalid(lsn))
		XLogFlush(lsn);
	if (nobsolete > 0)
		bm25_fault("after_publish");
	for (int i = 0; i < nobsolete; i++)
		bm25_sidecar_unlink(index, obsolete[i], true);
	bm25_remove_unlisted(index, &ml->meta);
}

/* Removes unlisted files under the metapage lock (VACUUM's cleanup). */
void
bm25_cleanup_files(Relation index)
{
	Bm25MetaLock ml;

	bm25_meta_lock(index, &ml, BUFFER_LOCK_EXCLUSIVE);
	bm25_remove_unlisted(index, &ml.meta);
	bm25_meta_unlock(&ml);
}

/*
 * Merges segments [from, nsegments) of the manifest in ml into one new
 * segment, in place in the manifest; appends the replaced ids to obsolete.
 */
static void
merge_tail(Relation index, Bm25MetaLock *ml, uint32 from, uint64 *obsolete, int *nobsolete)
{
	Bm25MetaPageData *meta = &ml->meta;
	uint32		n = meta->nsegments - from;
	Bm25Mapped *maps = palloc0(sizeof(Bm25Mapped) * n);
	const bm25_segment **in = palloc(sizeof(bm25_segment *) * n);
	Bm25RelFile rf = BM25_RELFILE(index);
	Bm25FileWriter w;
	bm25_seg_summary sum;
	Bm25SegmentEntry out;
	int			status = BM25_OK;

	PG_TRY();
	{
		for (uint32 i = 0; i < n; i++)
		{
			bm25_map_segment(index, &meta->segments[from + i], &maps[i]);
			in[i] = maps[i].seg;
		}
		out.id = meta->next_segment_id++;
		bm25_sidecar_begin(&w, &rf, out.id);
		status = bm25_merge(in, n, NULL, NULL, &w.io, &sum);
	}
	PG_FINALLY();
	{
		for (uint32 i = 0; i < n; i++)
			bm25_unmap_segment(&maps[i]);
	}
	PG_END_TRY();
	bm25_sidecar_finish(&w, status, index, true);

	out.file_size = sum.file_size;
	out.total_tokens = sum.total_tokens;
	out.ndocs = sum.ndocs;
	out.nterms = sum.nterms;
	for (uint32 i = 0; i < n; i++)
		obsolete[(*nobsolete)++] = meta->segments[from + i].id;
	meta->segments[from] = out;
	meta->nsegments = from + 1;
}

/*
 * Picks the tail of the manifest to merge: the longest run of newest
 * segments each no larger than twice the rest of the run, like a binary
 * counter, so every document is merged O(log n) times.  Returns
 * nsegments when there is nothing worth merging.
 */
static uint32
merge_policy(const Bm25MetaPageData *meta)
{
	uint32		n = meta->nsegments;
	uint32		i;
	uint64		acc;

	if (n < 2)
		return n;
	i = n - 1;
	acc = meta->segments[i].ndocs;
	while (i > 0 && meta->segments[i - 1].ndocs <= 2 * acc)
	{
		acc += meta->segments[i - 1].ndocs;
		i--;
	}
	/* never let the manifest fill up */
	if (i == n - 1 && n >= BM25_MAX_SEGMENTS / 2)
		i = 0;
	return i == n - 1 ? n : i;
}

/* Merges segments when the policy asks for it. */
void
bm25_maybe_merge(Relation index)
{
	Bm25MetaLock ml;
	uint32		from;
	uint64		obsolete[BM25_MAX_SEGMENTS];
	int			nobsolete = 0;

	bm25_meta_lock(index, &ml, BUFFER_LOCK_EXCLUSIVE);
	from = merge_policy(&ml.meta);
	if (from < ml.meta.nsegments)
	{
		merge_tail(index, &ml, from, obsolete, &nobsolete);
		bm25_publish(index, &ml, obsolete, nobsolete);
	}
	bm25_meta_unlock(&ml);
}

/*
 * Turns the write buffer into a new segment file once it holds the index's
 * write_buffer_docs documents (or at all, with force), then lets the merge
 * policy run.
 */
void
bm25_flush_l0(Relation index, bool force)
{
	Bm25MetaLock ml;
	int			limit = bm25_options_write_buffer_docs(index);
	MemoryContext ctx;
	MemoryContext old;
	Bm25BuilderGuard *g;
	char	   *bytes;
	uint64		obsolete[BM25_MAX_SEGMENTS];
	int			nobsolete = 0;

	bm25_meta_lock(index, &ml, BUFFER_LOCK_EXCLUSIVE);
	if (ml.meta.l0_docs == 0 || (!force && ml.meta.l0_docs < (uint32) limit))
	{
		bm25_meta_unlock(&ml);
		return;
	}

	ctx = AllocSetContextCreate(CurrentMemoryContext, "bm25 flush", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(ctx);
	if (ml.meta.nsegments >= BM25_MAX_SEGMENTS)
		merge_tail(index, &ml, 0, obsolete, &nobsolete);
	bytes = bm25_l0_read(index, &ml.meta);
	g = bm25_builder_guard_create();
	(void) bm25_l0_add_to_builder(index, bytes, ml.meta.l0_bytes, g->b);
	bm25_segment_from_builder(index, g->b, ml.meta.next_segment_id++,
							  &ml.meta.segments[ml.meta.nsegments], true);
	ml.meta.nsegments++;
	bm25_l0_reset(&ml.meta);
	bm25_publish(index, &ml, obsolete, nobsolete);
	bm25_meta_unlock(&ml);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(ctx);

	bm25_maybe_merge(index);
}
