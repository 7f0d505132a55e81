/*-------------------------------------------------------------------------
 * shcache.c
 *	  Caches shared by every backend: the lexemes a query clause analyzes
 *	  to, and the result of looking a term up in a segment file.
 *
 * Each backend keeps both itself (analyze.c's clause cache, the segment
 * handle's term cache), but a new connection starts with them empty and
 * pays for its first meeting with every word: about 2.5 us of parser and
 * stemmer per word and 2.8 us of dictionary search per lexeme, a tenth of
 * a short query.  Applications open connections all the time, and their
 * users send the same words again and again, so the results are kept in
 * shared memory too, where the next backend finds them.
 *
 * Both tables are direct-mapped arrays of fixed-size slots.  A slot is
 * guarded by a change counter, the protocol PostgreSQL uses for backend
 * status entries: a writer makes the counter odd (by compare-and-swap, so
 * two writers never share a slot: the loser gives up), writes, and makes
 * it even again; a reader copies the slot out and keeps the copy only if
 * the counter was even and the same before and after.  Nobody waits, and
 * a reader always checks the copied key in full.
 *
 * Segment files never change, so a term's lookup result, keyed by the
 * file's identity (relfilenode, index instance, segment id and size) and
 * the term's bytes, stays true for as long as the file exists, and a
 * later file never has the same identity.
 *
 * What a clause analyzes to depends on the text search catalogs, which
 * can change.  Every backend's text search syscache callback moves a
 * shared epoch, and entries only count under the epoch they were made in:
 *   - a backend stores an analysis only if the epoch it read before making
 *     its caches current (AcceptInvalidationMessages) and analyzing is
 *     still the epoch afterwards, so no analysis made from catalogs older
 *     than a change that some backend has already seen gets stored under
 *     an epoch that backend reads;
 *   - a transaction whose backend saw a text search catalog change (its
 *     own uncommitted one, possibly) neither reads nor writes the table,
 *     and moves the epoch again when it ends and once more before the
 *     backend next uses the table, so nothing analyzed before its change
 *     committed outlives the commit (the second move covers the moment
 *     between the commit and its invalidation messages);
 *   - every backend moves the epoch as it processes a change, so nothing
 *     stored by a backend that had not processed it yet outlives that.
 * A backend that has not yet processed a change may be given a clause as
 * the new catalogs analyze it, as if its query had started a moment later.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/inval.h"

/* Slot sizes; what does not fit is simply not shared. */
#define SHC_CLAUSE_SLOT		512
#define SHC_TERM_SLOT		256

/* The start of every slot of both tables. */
typedef struct ShcSlotHead
{
	pg_atomic_uint32 changecount;
	uint32		hash;			/* of the key, to pass over other ways quickly */
} ShcSlotHead;

typedef struct ShcClauseHead
{
	ShcSlotHead s;
	Oid			db;
	Oid			cfg;
	uint16		textlen;
	uint16		nlex;
	uint16		datalen;		/* text, then nlex NUL-terminated lexemes */
	uint16		pad;
	uint32		pad2;
	uint64		epoch;
} ShcClauseHead;

#define SHC_CLAUSE_DATA		(SHC_CLAUSE_SLOT - sizeof(ShcClauseHead))

typedef struct ShcClauseSlot
{
	ShcClauseHead h;
	char		data[SHC_CLAUSE_DATA];
} ShcClauseSlot;

StaticAssertDecl(sizeof(ShcClauseSlot) == SHC_CLAUSE_SLOT, "clause slot size");

typedef struct ShcTermHead
{
	ShcSlotHead s;
	uint32		termlen;
	uint32		pad;
	Bm25SegmentKey key;
	bm25_term_info info;
} ShcTermHead;

#define SHC_TERM_DATA		(SHC_TERM_SLOT - sizeof(ShcTermHead))

typedef struct ShcTermSlot
{
	ShcTermHead h;
	char		term[SHC_TERM_DATA];
} ShcTermSlot;

StaticAssertDecl(sizeof(ShcTermSlot) == SHC_TERM_SLOT, "term slot size");

/*
 * Each table is split into sets of SHC_WAYS slots; a key may sit in any
 * slot of its set, so a few keys with the same set do not evict each
 * other (a direct-mapped table lost a quarter of the benchmark's terms to
 * collisions at a load of 0.6).
 */
#define SHC_WAYS			4

/* Counters shown by bm25_shared_cache_stats() */
enum
{
	SHC_CLAUSE_HIT, SHC_CLAUSE_MISS, SHC_CLAUSE_STORE,
	SHC_TERM_HIT, SHC_TERM_MISS, SHC_TERM_STORE,
	SHC_NCOUNTERS
};

typedef struct ShcShared
{
	pg_atomic_uint64 epoch;
	uint32		nsets;			/* per table */
	pg_atomic_uint64 counters[SHC_NCOUNTERS];
} ShcShared;

int			bm25_shared_cache_slots = 8192;

static ShcShared *shc = NULL;
static ShcClauseSlot *shc_clauses = NULL;
static ShcTermSlot *shc_terms = NULL;

/* This transaction's backend saw a text search catalog change. */
static bool ts_changed_in_xact = false;

/* The epoch is to move once more before this backend next uses the table. */
static bool epoch_move_pending = false;

/* Picks the way a store replaces when its set is full. */
static uint32 shc_victim = 0;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Sets per table: the slots asked for, in whole sets. */
static uint32
shc_nsets(void)
{
	return (bm25_shared_cache_slots + SHC_WAYS - 1) / SHC_WAYS;
}

/* Bytes of shared memory the caches take. */
static Size
shc_size(void)
{
	Size		nslots = (Size) shc_nsets() * SHC_WAYS;
	Size		sz = MAXALIGN(sizeof(ShcShared));

	sz = add_size(sz, mul_size(nslots, sizeof(ShcClauseSlot)));
	sz = add_size(sz, mul_size(nslots, sizeof(ShcTermSlot)));
	return sz;
}

/* shmem_request_hook: asks for the tables' memory. */
static void
shc_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shc_size());
}

/* shmem_startup_hook: creates (or, in EXEC_BACKEND children, attaches) the tables. */
static void
shc_shmem_startup(void)
{
	bool		found;
	char	   *base;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	base = ShmemInitStruct("bm25 shared caches", shc_size(), &found);
	shc = (ShcShared *) base;
	shc_clauses = (ShcClauseSlot *) (base + MAXALIGN(sizeof(ShcShared)));
	shc_terms = (ShcTermSlot *) (shc_clauses + (Size) shc_nsets() * SHC_WAYS);
	if (!found)
	{
		memset(base, 0, shc_size());
		pg_atomic_init_u64(&shc->epoch, 1);
		shc->nsets = shc_nsets();
		for (int i = 0; i < SHC_NCOUNTERS; i++)
			pg_atomic_init_u64(&shc->counters[i], 0);
		for (Size i = 0; i < (Size) shc->nsets * SHC_WAYS; i++)
		{
			pg_atomic_init_u32(&shc_clauses[i].h.s.changecount, 0);
			pg_atomic_init_u32(&shc_terms[i].h.s.changecount, 0);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Transaction end: a text search change seen in it moves the epoch again. */
static void
shc_xact_callback(XactEvent event, void *arg)
{
	if (!ts_changed_in_xact)
		return;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			ts_changed_in_xact = false;
			epoch_move_pending = true;
			if (shc != NULL)
				pg_atomic_fetch_add_u64(&shc->epoch, 1);
			break;
		default:
			break;
	}
}

/* Installs the shared memory hooks; only called while preloading. */
void
bm25_shcache_init(void)
{
	if (bm25_shared_cache_slots <= 0)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = shc_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = shc_shmem_startup;
	RegisterXactCallback(shc_xact_callback, NULL);
}

/*
 * A text search catalog entry was invalidated in this backend (analyze.c's
 * syscache callback): whatever was analyzed before is stale.
 */
void
bm25_shcache_ts_changed(void)
{
	ts_changed_in_xact = true;
	if (shc != NULL)
		pg_atomic_fetch_add_u64(&shc->epoch, 1);
}

/*
 * Whether this backend may use the clause table now.  After a transaction
 * that saw a change, the epoch moves once more first: the commit's own move
 * comes before its invalidation messages go out, and a backend that
 * analyzed in between, with the old catalogs, could have stored under it.
 */
static bool
shc_clauses_usable(void)
{
	if (shc == NULL || ts_changed_in_xact || IsParallelWorker())
		return false;
	if (epoch_move_pending)
	{
		pg_atomic_fetch_add_u64(&shc->epoch, 1);
		epoch_move_pending = false;
	}
	return true;
}

/* Claims slot's change counter for writing; false if someone else holds it. */
static bool
shc_begin_write(pg_atomic_uint32 *cc)
{
	uint32		v = pg_atomic_read_u32(cc);

	if (v & 1)
		return false;
	return pg_atomic_compare_exchange_u32(cc, &v, v + 1);
}

/* Publishes what was written since shc_begin_write. */
static void
shc_end_write(pg_atomic_uint32 *cc)
{
	pg_write_barrier();
	pg_atomic_fetch_add_u32(cc, 1);
}

/*
 * Copies a slot of size bytes out to dst; false when it was being written
 * (or was rewritten while being copied).
 */
static bool
shc_read(ShcSlotHead *slot, void *dst, Size size)
{
	uint32		before = pg_atomic_read_u32(&slot->changecount);

	if (before & 1)
		return false;
	pg_read_barrier();
	memcpy(dst, slot, size);
	pg_read_barrier();
	return pg_atomic_read_u32(&slot->changecount) == before;
}

/* Counts an event for bm25_shared_cache_stats(). */
static inline void
shc_count(int counter)
{
	pg_atomic_fetch_add_u64(&shc->counters[counter], 1);
}

/* Way w of the set of hash in a table of slot_size-byte slots. */
static inline ShcSlotHead *
shc_way(void *table, Size slot_size, uint32 hash, uint32 w)
{
	return (ShcSlotHead *) ((char *) table +
							((Size) (hash % shc->nsets) * SHC_WAYS + w) * slot_size);
}

/*
 * Claims for writing the slot a store of hash should use: the way already
 * holding the key (by hash; the caller has just missed, so usually none),
 * else one never written, else the next in this backend's rotation.
 * NULL when another backend is writing that slot.  The caller writes the
 * rest of the slot and calls shc_end_write.
 */
static ShcSlotHead *
shc_claim(void *table, Size slot_size, uint32 hash)
{
	ShcSlotHead *slot = NULL;

	for (uint32 w = 0; w < SHC_WAYS && slot == NULL; w++)
	{
		ShcSlotHead *h = shc_way(table, slot_size, hash, w);

		if (pg_atomic_read_u32(&h->changecount) != 0 && h->hash == hash)
			slot = h;
	}
	for (uint32 w = 0; w < SHC_WAYS && slot == NULL; w++)
	{
		ShcSlotHead *h = shc_way(table, slot_size, hash, w);

		if (pg_atomic_read_u32(&h->changecount) == 0)
			slot = h;
	}
	if (slot == NULL)
		slot = shc_way(table, slot_size, hash, shc_victim++ % SHC_WAYS);
	if (!shc_begin_write(&slot->changecount))
		return NULL;
	slot->hash = hash;
	return slot;
}

/* Hash of a clause key: its bytes, database and configuration. */
static uint32
shc_clause_hash(Oid cfg, const char *text, int len)
{
	return (uint32) hash_bytes_extended((const unsigned char *) text, len,
										((uint64) MyDatabaseId << 32) | cfg);
}

/*
 * Looks a clause up; on a hit returns true with its lexemes in *words (*n
 * of them, allocated in the current memory context).  *epoch is set to the
 * epoch to give bm25_shcache_clause_put after analyzing, 0 when the table
 * must not be used.
 */
bool
bm25_shcache_clause_get(Oid cfg, const char *text, int len, char ***words, int *n,
						uint64 *epoch)
{
	ShcClauseSlot copy;
	uint32		hash;

	*epoch = 0;
	if (!shc_clauses_usable() || len <= 0 || len > (int) SHC_CLAUSE_DATA)
		return false;
	*epoch = pg_atomic_read_u64(&shc->epoch);
	hash = shc_clause_hash(cfg, text, len);
	for (uint32 w = 0; w < SHC_WAYS; w++)
	{
		ShcSlotHead *slot = shc_way(shc_clauses, sizeof(ShcClauseSlot), hash, w);
		const char *p;
		const char *end;
		char	  **out;

		if (slot->hash != hash)
			continue;
		if (!shc_read(slot, &copy, sizeof(copy)))
			continue;
		if (copy.h.s.hash != hash || copy.h.epoch != *epoch || copy.h.db != MyDatabaseId ||
			copy.h.cfg != cfg || copy.h.textlen != len ||
			copy.h.datalen > SHC_CLAUSE_DATA || copy.h.textlen > copy.h.datalen ||
			memcmp(copy.data, text, len) != 0)
			continue;

		out = palloc(sizeof(char *) * Max(copy.h.nlex, 1));
		p = copy.data + copy.h.textlen;
		end = copy.data + copy.h.datalen;
		for (int i = 0; i < copy.h.nlex; i++)
		{
			const char *nul = memchr(p, '\0', end - p);

			if (nul == NULL)
				elog(ERROR, "bm25 shared clause cache entry is malformed");
			out[i] = pnstrdup(p, nul - p);
			p = nul + 1;
		}
		*words = out;
		*n = copy.h.nlex;
		shc_count(SHC_CLAUSE_HIT);
		return true;
	}
	shc_count(SHC_CLAUSE_MISS);
	return false;
}

/*
 * Stores what a clause analyzed to, unless the epoch moved since
 * bm25_shcache_clause_get gave epoch (which it read before the caller made
 * its caches current; see the file header).
 */
void
bm25_shcache_clause_put(Oid cfg, const char *text, int len, char **words, int n,
						uint64 epoch)
{
	ShcClauseSlot *slot;
	Size		datalen = len;
	char	   *p;

	if (epoch == 0 || !shc_clauses_usable() || len <= 0 || n > PG_UINT16_MAX)
		return;
	for (int i = 0; i < n; i++)
		datalen += strlen(words[i]) + 1;
	if (datalen > SHC_CLAUSE_DATA)
		return;
	if (pg_atomic_read_u64(&shc->epoch) != epoch)
		return;
	slot = (ShcClauseSlot *) shc_claim(shc_clauses, sizeof(ShcClauseSlot),
									   shc_clause_hash(cfg, text, len));
	if (slot == NULL)
		return;
	slot->h.db = MyDatabaseId;
	slot->h.cfg = cfg;
	slot->h.textlen = (uint16) len;
	slot->h.nlex = (uint16) n;
	slot->h.datalen = (uint16) datalen;
	slot->h.epoch = epoch;
	memcpy(slot->data, text, len);
	p = slot->data + len;
	for (int i = 0; i < n; i++)
	{
		size_t		l = strlen(words[i]);

		memcpy(p, words[i], l + 1);
		p += l + 1;
	}
	shc_end_write(&slot->h.s.changecount);
	shc_count(SHC_CLAUSE_STORE);
}

/*
 * Makes this backend's text search caches current before an analysis that
 * will be shared (see the file header).
 */
void
bm25_shcache_sync(void)
{
	if (shc_clauses_usable())
		AcceptInvalidationMessages();
}

/* Hash of a term key: the segment file's identity and the term's bytes. */
static uint32
shc_term_hash(const Bm25SegmentKey *key, const char *term, uint32 len)
{
	return (uint32) hash_bytes_extended((const unsigned char *) term, len,
										hash_bytes((const unsigned char *) key, sizeof(*key)));
}

/*
 * Looks up the result of looking term up in the segment file key names;
 * false on a miss.
 */
bool
bm25_shcache_term_get(const Bm25SegmentKey *key, const char *term, uint32 len,
					  bm25_term_info *info)
{
	ShcTermSlot copy;
	uint32		hash;

	if (shc == NULL || len == 0 || len > SHC_TERM_DATA)
		return false;
	hash = shc_term_hash(key, term, len);
	for (uint32 w = 0; w < SHC_WAYS; w++)
	{
		ShcSlotHead *slot = shc_way(shc_terms, sizeof(ShcTermSlot), hash, w);

		if (slot->hash != hash)
			continue;
		if (!shc_read(slot, &copy, sizeof(copy)))
			continue;
		if (copy.h.s.hash != hash || copy.h.termlen != len ||
			memcmp(&copy.h.key, key, sizeof(*key)) != 0 ||
			memcmp(copy.term, term, len) != 0)
			continue;
		*info = copy.h.info;
		shc_count(SHC_TERM_HIT);
		return true;
	}
	shc_count(SHC_TERM_MISS);
	return false;
}

/* Remembers the result of looking term up in the segment file key names. */
void
bm25_shcache_term_put(const Bm25SegmentKey *key, const char *term, uint32 len,
					  const bm25_term_info *info)
{
	ShcTermSlot *slot;

	if (shc == NULL || len == 0 || len > SHC_TERM_DATA)
		return;
	slot = (ShcTermSlot *) shc_claim(shc_terms, sizeof(ShcTermSlot),
									 shc_term_hash(key, term, len));
	if (slot == NULL)
		return;
	slot->h.termlen = len;
	slot->h.key = *key;
	slot->h.info = *info;
	memcpy(slot->term, term, len);
	shc_end_write(&slot->h.s.changecount);
	shc_count(SHC_TERM_STORE);
}

PG_FUNCTION_INFO_V1(bm25_shared_cache_stats);

/*
 * bm25_shared_cache_stats(): per shared cache, its slots and the lookups
 * that hit and missed and the entries stored since the server started.
 * Slots are 0 when the caches are off.
 */
Datum
bm25_shared_cache_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	static const char *const names[] = {"clauses", "terms"};

	InitMaterializedSRF(fcinfo, 0);
	for (int c = 0; c < 2; c++)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		values[0] = CStringGetTextDatum(names[c]);
		values[1] = Int64GetDatum(shc ? (int64) shc->nsets * SHC_WAYS : 0);
		for (int i = 0; i < 3; i++)
			values[2 + i] = Int64GetDatum(shc ?
										  (int64) pg_atomic_read_u64(&shc->counters[c * 3 + i]) : 0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
