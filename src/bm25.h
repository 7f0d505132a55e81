/*-------------------------------------------------------------------------
 * bm25.h
 *	  Declarations shared by the PostgreSQL glue of the bm25 extension.
 *
 * The glue wraps the PostgreSQL-independent core (src/core) with access
 * method callbacks, sidecar file management, query binding and planner
 * integration.  See docs/architecture.md for the map of files.
 *-------------------------------------------------------------------------
 */
#ifndef BM25_H
#define BM25_H

#include "compat.h"

#include "access/amapi.h"
#include "access/genam.h"
#include "nodes/execnodes.h"
#include "access/xlogdefs.h"
#include "nodes/pathnodes.h"
#include "port/pg_crc32c.h"
#include "storage/block.h"
#include "storage/buf.h"
#include "storage/bufpage.h"
#include "utils/relcache.h"

#include "core/bm25_core.h"
#include "core/query.h"
#include "core/score.h"
#include "core/segment.h"
#include "core/topk.h"

#define BM25_AM_NAME				"bm25"

/* Strategy numbers of the operator class bm25_text_ops. */
#define BM25_STRATEGY_TEXT			1	/* text @@@ text */
#define BM25_STRATEGY_QUERY			2	/* text @@@ bm25query */
#define BM25_NSTRATEGIES			2

/* ----- module state (bm25.c) ----- */
extern bool bm25_loaded_by_preload;
extern int	bm25_topk_initial_batch;

extern void bm25_require_preload(void);
extern void bm25_report_status(int status, Relation index, const char *what);

/* ----- reloptions (access/options.c) ----- */
typedef struct Bm25Options
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int			text_config_offset;	/* offset of the config name string */
	double		k1;
	double		b;
	int			write_buffer_docs;	/* -1: use the GUC */
} Bm25Options;

#define BM25_DEFAULT_K1		1.2
#define BM25_DEFAULT_B		0.75
#define BM25_DEFAULT_CONFIG	"english"

extern void bm25_init_reloptions(void);
extern bytea *bm25_amoptions(Datum reloptions, bool validate);
extern const char *bm25_options_config_name(Relation index);
extern void bm25_options_params(Relation index, double *k1, double *b);
extern Oid	bm25_resolve_config(const char *name, bool missing_ok);
extern int	bm25_options_write_buffer_docs(Relation index);

/* ----- metapage (segment/metapage.c) ----- */
#define BM25_META_MAGIC			0x4D35324Bu	/* "K25M" */
#define BM25_META_VERSION		1
#define BM25_L0_PAGE_CAPACITY	(BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - 8)
#define BM25_METAPAGE_BLKNO		0
#define BM25_MAX_SEGMENTS		64

/* One live segment as the metapage lists it. */
typedef struct Bm25SegmentEntry
{
	uint64		id;				/* file seg_<id>.bm25 in the sidecar dir */
	uint64		file_size;
	uint64		total_tokens;
	uint32		ndocs;
	uint32		nterms;
} Bm25SegmentEntry;

/* Contents of block 0 (after the page header). */
typedef struct Bm25MetaPageData
{
	uint32		magic;
	uint32		version;
	Oid			text_config;	/* regconfig the index was built with */
	uint32		nsegments;
	uint64		next_segment_id;
	uint64		total_docs;		/* sum of ndocs over live segments */
	uint64		total_tokens;	/* sum of dl over live segments */
	uint64		instance_id;	/* random per build: tells relfilenode reuses apart */
	uint64		l0_bytes;		/* valid bytes in the write buffer */
	uint64		l0_tokens;		/* sum of dl of the write buffer's docs */
	uint64		l0_generation;	/* bumped whenever the write buffer is emptied */
	uint32		l0_docs;		/* documents in the write buffer */
	uint32		l0_pages;		/* blocks 1..l0_pages are write buffer pages */
	Bm25SegmentEntry segments[BM25_MAX_SEGMENTS];
	uint32		crc;			/* CRC-32C of everything above */
	uint32		padding;
} Bm25MetaPageData;

/* A locked metapage buffer and a working copy of its contents. */
typedef struct Bm25MetaLock
{
	Buffer		buf;
	Bm25MetaPageData meta;
} Bm25MetaLock;

extern void bm25_meta_init_empty(Bm25MetaPageData *meta, Oid cfg);
extern void bm25_meta_finalize(Bm25MetaPageData *meta);
extern void bm25_meta_check(Relation index, Bm25MetaPageData *meta);
extern void bm25_meta_lock(Relation index, Bm25MetaLock *ml, int mode);
extern void bm25_meta_unlock(Bm25MetaLock *ml);
extern void bm25_meta_read(Relation index, Bm25MetaPageData *meta);
extern void bm25_meta_put(Page page, Bm25MetaPageData *meta);
extern XLogRecPtr bm25_meta_update(Relation index, Bm25MetaLock *ml);
extern void bm25_meta_create(Relation index, Bm25MetaPageData *meta);

/* ----- write buffer, L0 (segment/l0.c) ----- */
struct Bm25Doc;
#define BM25_L0_MAGIC			0x4C35324Bu	/* "K25L" */

extern void bm25_l0_append(Relation index, const struct Bm25Doc *doc, bm25_tid tid);
extern char *bm25_l0_read(Relation index, const Bm25MetaPageData *meta);
extern void bm25_l0_reset(Bm25MetaPageData *meta);
extern int	bm25_l0_add_to_builder(Relation index, const char *bytes, uint64 len,
								   bm25_builder *b);

/* ----- segment maintenance (segment/maintain.c) ----- */
extern int	bm25_write_buffer_docs;
extern char *bm25_debug_fault;

extern void bm25_fault(const char *point);

/* A malloc'd core builder tied to a memory context's lifetime. */
typedef struct Bm25BuilderGuard
{
	bm25_builder *b;
	MemoryContextCallback cb;
} Bm25BuilderGuard;

extern Bm25BuilderGuard *bm25_builder_guard_create(void);
extern void bm25_builder_guard_renew(Bm25BuilderGuard *g);
extern void bm25_flush_l0(Relation index, bool force);
extern void bm25_maybe_merge(Relation index);
extern void bm25_segment_from_builder(Relation index, bm25_builder *b, uint64 segid,
									  Bm25SegmentEntry *entry, bool wal);
extern void bm25_publish(Relation index, Bm25MetaLock *ml,
						 const uint64 *obsolete, int nobsolete);
extern void bm25_remove_unlisted(Relation index, const Bm25MetaPageData *meta);
extern void bm25_cleanup_files(Relation index);

/* ----- sidecar files (segment/sidecar.c) ----- */
typedef struct Bm25FileWriter
{
	bm25_writer_io io;
	int			fd;
	int			saved_errno;
	uint64		segid;
	char	   *path;
} Bm25FileWriter;

extern char *bm25_sidecar_dir(const Bm25RelFile *rf);
extern char *bm25_segment_path(const Bm25RelFile *rf, uint64 segid);
extern void bm25_sidecar_reset_dir(Relation index);
extern void bm25_sidecar_begin(Bm25FileWriter *w, const Bm25RelFile *rf, uint64 segid);
extern void bm25_sidecar_finish(Bm25FileWriter *w, int status, Relation index, bool wal);
extern void bm25_sidecar_unlink(Relation index, uint64 segid, bool wal);
extern int	bm25_sidecar_sweep(Oid dbid);
extern int	bm25_sidecar_lock(void);
extern void bm25_sidecar_unlock(int fd);

/* ----- DDL that moves storage (segment/relocate.c) ----- */
extern void bm25_dbcopy_init(void);

/* ----- background workers (src/workers) ----- */
extern int	bm25_sweep_interval;
extern void bm25_sweeper_register(void);
extern int	bm25_sweep_all(void);

/* ----- segment cache and index state (segment/segcache.c) ----- */

/*
 * The identity of a segment file, for caches that outlive a backend: files
 * never change, and no later file has the same identity.  shared is 0 for
 * the write buffer's in-memory segment, which has none.  No padding: keys
 * are compared bytewise.
 */
typedef struct Bm25SegmentKey
{
	Oid			spc;
	Oid			db;
	uint32		rel;
	uint32		shared;
	uint64		instance;		/* Bm25MetaPageData.instance_id */
	uint64		segid;
	uint64		file_size;
} Bm25SegmentKey;

StaticAssertDecl(sizeof(Bm25SegmentKey) == 40, "Bm25SegmentKey has no padding");

typedef struct Bm25IndexState
{
	Oid			indexoid;
	Oid			cfg;
	double		k1;
	double		b;
	uint64		N;
	uint64		total_tokens;
	uint32		nsegs;			/* live segments, plus the write buffer if any */
	const bm25_segment **segs;
	Bm25SegmentKey *segkeys;	/* per entry of segs */
	Bm25MetaPageData meta;
} Bm25IndexState;

/* A segment file mapped outside the cache (build and vacuum use these). */
typedef struct Bm25Mapped
{
	void	   *base;
	size_t		len;
	bm25_segment *seg;
} Bm25Mapped;

extern void bm25_map_segment(Relation index, const Bm25SegmentEntry *entry, Bm25Mapped *m);
extern void bm25_unmap_segment(Bm25Mapped *m);
extern Bm25IndexState *bm25_index_state(Relation index);

/* ----- analysis (scoring/analyze.c) ----- */
typedef struct Bm25Doc
{
	bm25_doc_term *terms;		/* distinct lexemes with tf, any order */
	uint32		nterms;
	uint32		dl;				/* tokens after analysis */
} Bm25Doc;

/* Build-time cache of dictionary results per token (NULL: none). */
typedef struct Bm25LexCache Bm25LexCache;
extern Bm25LexCache *bm25_lexcache_create(Size budget);
extern void bm25_analyze_doc(Oid cfg, const char *text, int len, Bm25Doc *doc,
							 Bm25LexCache *cache);
extern uint64 bm25_ts_generation(void);
extern void bm25_analyze_register_callbacks(void);
extern void bm25_analyze_query(Oid cfg, const char *q, int len,
							   bm25_qterm **terms, uint32 *nterms);

/* ----- caches shared by all backends (scoring/shcache.c) ----- */
extern int	bm25_shared_cache_slots;
extern void bm25_shcache_init(void);
extern void bm25_shcache_ts_changed(void);
extern void bm25_shcache_sync(void);
extern bool bm25_shcache_clause_get(Oid cfg, const char *text, int len,
									char ***words, int *n, uint64 *epoch);
extern void bm25_shcache_clause_put(Oid cfg, const char *text, int len,
									char **words, int n, uint64 epoch);
extern bool bm25_shcache_term_get(const Bm25SegmentKey *key, const char *term,
								  uint32 len, bm25_term_info *info);
extern void bm25_shcache_term_put(const Bm25SegmentKey *key, const char *term,
								  uint32 len, const bm25_term_info *info);

/* ----- prepared queries (scoring/prepare.c) ----- */
typedef struct Bm25Prepared
{
	Bm25IndexState *state;
	bm25_qterm *terms;
	uint32		nterms;
	uint64	   *dfs;
	double	   *idf;
	bm25_scorer scorer;
	bm25_search_seg *ssegs;		/* one per segment */
	bool		can_match;		/* false: no term can make a doc match */
} Bm25Prepared;

extern Bm25Prepared *bm25_prepare(Bm25IndexState *state, const char *query, int len);
extern Bm25Prepared *bm25_prepare_cached(Relation index, const char *query, int len);
extern double bm25_score_text(const Bm25Prepared *p, const char *text, int len);
extern bool bm25_match_text(const Bm25Prepared *p, const char *text, int len);

/* ----- bm25query type and binding (scoring/bm25query.c) ----- */
typedef struct Bm25Query
{
	int32		vl_len_;
	Oid			indexoid;		/* bound index, InvalidOid if unbound */
	char		query[FLEXIBLE_ARRAY_MEMBER];	/* not NUL-terminated */
} Bm25Query;

#define BM25_QUERY_HDRSZ		offsetof(Bm25Query, query)
#define BM25_QUERY_LEN(q)		(VARSIZE(q) - BM25_QUERY_HDRSZ)
#define DatumGetBm25QueryP(d)	((Bm25Query *) PG_DETOAST_DATUM(d))

extern Bm25Query *bm25_query_make(Oid indexoid, const char *q, int len);
extern Oid	bm25_am_oid(void);
extern Oid	bm25_find_index_for_expr(Oid relid, Node *expr, Index varno);

/* Catalog lookups of our SQL objects, cached per backend. */
typedef struct Bm25Catalog
{
	Oid			query_type;		/* bm25query */
	Oid			match_bound_op;	/* text @@@ bm25query */
	Oid			match_bound_func;
	Oid			match_text_op;	/* text @@@ text */
	Oid			match_text_func;
	Oid			score_bound_func;	/* bm25_score(text, bm25query) */
	Oid			score_text_func;	/* bm25_score(text, text) */
	Oid			bind_func;		/* bm25_query(text, regclass) */
} Bm25Catalog;

extern const Bm25Catalog *bm25_catalog(void);

/* ----- access method callbacks (src/access) ----- */
extern IndexBuildResult *bm25_ambuild(Relation heap, Relation index, IndexInfo *indexInfo);
extern void bm25_ambuildempty(Relation index);
extern bool bm25_aminsert(Relation index, Datum *values, bool *isnull,
						  ItemPointer ht_ctid, Relation heapRel,
						  IndexUniqueCheck checkUnique, bool indexUnchanged,
						  IndexInfo *indexInfo);
extern IndexBulkDeleteResult *bm25_ambulkdelete(IndexVacuumInfo *info,
												IndexBulkDeleteResult *stats,
												IndexBulkDeleteCallback callback,
												void *callback_state);
extern IndexBulkDeleteResult *bm25_amvacuumcleanup(IndexVacuumInfo *info,
												   IndexBulkDeleteResult *stats);
extern void bm25_amcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
								Cost *indexStartupCost, Cost *indexTotalCost,
								Selectivity *indexSelectivity, double *indexCorrelation,
								double *indexPages);
extern bool bm25_amvalidate(Oid opclassoid);
extern IndexScanDesc bm25_ambeginscan(Relation index, int nkeys, int norderbys);
extern void bm25_amrescan(IndexScanDesc scan, ScanKey keys, int nkeys,
						  ScanKey orderbys, int norderbys);
extern bool bm25_amgettuple(IndexScanDesc scan, ScanDirection dir);
extern int64 bm25_amgetbitmap(IndexScanDesc scan, TIDBitmap *tbm);
extern void bm25_amendscan(IndexScanDesc scan);

/*
 * CREATE INDEX (build.c, build_parallel.c).  A participant scans its share
 * of the heap (all of it when scan is NULL) and writes every document it
 * analyzes to partial segment files numbered from first_segid.
 */
struct TableScanDescData;
struct dsm_segment;
struct shm_toc;
extern void bm25_build_participant(Relation heap, Relation index, IndexInfo *indexInfo,
								   struct TableScanDescData *scan, Oid cfg,
								   Size mem_budget, uint64 first_segid,
								   Bm25SegmentEntry **partials, int *npartials,
								   double *heap_tuples, double *index_tuples,
								   uint64 *next_segid);
extern int	bm25_parallel_build_workers(Relation heap, Relation index);
extern Bm25SegmentEntry *bm25_parallel_build(Relation heap, Relation index,
											 IndexInfo *indexInfo, Oid cfg,
											 int nworkers, int *npartials,
											 double *heap_tuples, double *index_tuples,
											 uint64 *next_segid, int *nlaunched);
PGDLLEXPORT extern void bm25_parallel_build_main(struct dsm_segment *seg,
												 struct shm_toc *toc);

/* Rewrite segments dropping docs the callback says are dead (vacuum.c). */
extern uint64 bm25_vacuum_segments(Relation index, IndexBulkDeleteCallback callback,
								   void *callback_state);

/* ----- planner (src/planner) ----- */
extern void bm25_planner_init(void);
extern void bm25_topk_exec_init(void);

#endif							/* BM25_H */
