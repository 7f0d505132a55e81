/*-------------------------------------------------------------------------
 * bm25_core.h
 *	  Shared definitions of the PostgreSQL-independent core.
 *
 * The core is plain C99: it never calls palloc or elog and never longjmps.
 * Every fallible function returns a bm25_status; the glue turns a non-zero
 * status into an ereport.  Memory comes from malloc and is released by the
 * matching *_free / *_close function, so the glue must arrange cleanup (for
 * example with a memory context reset callback) if it can error out while
 * a core object is alive.
 *-------------------------------------------------------------------------
 */
#ifndef BM25_CORE_H
#define BM25_CORE_H

#include <stddef.h>
#include <stdint.h>

typedef enum bm25_status
{
	BM25_OK = 0,
	BM25_ENOMEM = 1,			/* allocation failed */
	BM25_EIO = 2,				/* an I/O callback reported failure */
	BM25_ECORRUPT = 3,			/* on-disk data failed validation */
	BM25_EINVAL = 4,			/* caller broke an API precondition */
	BM25_ELIMIT = 5				/* a format limit was exceeded */
} bm25_status;

/* Human-readable name of a status, never NULL. */
extern const char *bm25_strerror(int status);

/*
 * Does the core's one-time set-up (CPU probes, CRC shift tables) now
 * instead of at first use.  Optional; a server calls it in the postmaster
 * so that backends inherit the result instead of each paying for it
 * (about 0.2 ms) on its first segment read.
 */
extern void bm25_core_init(void);

/*
 * A heap TID packed as (block << 16) | offset.  The core treats it as an
 * opaque, totally ordered 64-bit key; ascending TID is the tie-break rule.
 */
typedef uint64_t bm25_tid;

/*
 * A hint that p will be read soon.  The top-k loops issue it for the doc
 * lengths of postings ahead: those loads go to random places in a large
 * array, and once other work has pushed it out of the CPU caches each one
 * is a memory round trip that a hint lets overlap with the others.
 */
#if defined(__GNUC__) || defined(__clang__)
#define BM25_PREFETCH(p)	__builtin_prefetch(p)
#else
#define BM25_PREFETCH(p)	((void) (p))
#endif

#define BM25_TID_MAKE(blk, off)	(((uint64_t) (blk) << 16) | (uint64_t) (uint16_t) (off))
#define BM25_TID_BLOCK(t)		((uint32_t) ((t) >> 16))
#define BM25_TID_OFFSET(t)		((uint16_t) ((t) & 0xFFFF))

/* CRC-32C (Castagnoli).  Start with crc = 0; chain by passing the result. */
extern uint32_t bm25_crc32c(uint32_t crc, const void *data, size_t len);

#endif							/* BM25_CORE_H */
