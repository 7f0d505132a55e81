/*-------------------------------------------------------------------------
 * codec.h
 *	  Internal encoding helpers of the core: little-endian loads and stores
 *	  at any alignment, bit-packing of postings blocks, LEB128 varints.
 *
 * Nothing here is part of the glue-facing API; segment_*.c, builder.c and
 * merge.c use it, and the tests exercise it directly.
 *-------------------------------------------------------------------------
 */
#ifndef BM25_CODEC_H
#define BM25_CODEC_H

#include "bm25_core.h"

/* C99-compatible compile-time assertion (file scope only). */
#define BM25_STATIC_ASSERT(cond, name) \
	typedef char bm25_static_assert_##name[(cond) ? 1 : -1]

/* Maximum number of values one bm25_pack / bm25_unpack call handles. */
#define BM25_PACK_MAX_VALUES	128

/* Largest encoding of a 64-bit varint. */
#define BM25_VARINT_MAX			10

/*
 * Little-endian loads and stores at any alignment.  Byte assembly is used
 * instead of pointer casts so UBSan stays quiet and big-endian hosts work;
 * gcc and clang turn these into single moves on x86-64.
 */
static inline uint16_t
bm25_get_u16(const void *p)
{
	const uint8_t *b = (const uint8_t *) p;

	return (uint16_t) (b[0] | ((uint16_t) b[1] << 8));
}

static inline uint32_t
bm25_get_u32(const void *p)
{
	const uint8_t *b = (const uint8_t *) p;

	return (uint32_t) b[0] | ((uint32_t) b[1] << 8) |
		((uint32_t) b[2] << 16) | ((uint32_t) b[3] << 24);
}

static inline uint64_t
bm25_get_u64(const void *p)
{
	const uint8_t *b = (const uint8_t *) p;

	return (uint64_t) bm25_get_u32(b) | ((uint64_t) bm25_get_u32(b + 4) << 32);
}

static inline void
bm25_put_u16(void *p, uint16_t v)
{
	uint8_t    *b = (uint8_t *) p;

	b[0] = (uint8_t) v;
	b[1] = (uint8_t) (v >> 8);
}

static inline void
bm25_put_u32(void *p, uint32_t v)
{
	uint8_t    *b = (uint8_t *) p;

	b[0] = (uint8_t) v;
	b[1] = (uint8_t) (v >> 8);
	b[2] = (uint8_t) (v >> 16);
	b[3] = (uint8_t) (v >> 24);
}

static inline void
bm25_put_u64(void *p, uint64_t v)
{
	uint8_t    *b = (uint8_t *) p;

	bm25_put_u32(b, (uint32_t) v);
	bm25_put_u32(b + 4, (uint32_t) (v >> 32));
}

/* Portable software CRC-32C (slice-by-8); bm25_crc32c may use hardware. */
extern uint32_t bm25_crc32c_sw(uint32_t crc, const void *data, size_t len);

/* Number of bits needed to represent v (0 for v == 0). */
extern uint32_t bm25_bit_width(uint32_t v);

/* Smallest width that holds every one of v[0..n). */
extern uint32_t bm25_max_width(const uint32_t *v, uint32_t n);

/* Bytes taken by n values packed at width bits each. */
extern size_t bm25_packed_size(uint32_t n, uint32_t width);

/*
 * Pack v[0..n) (n <= BM25_PACK_MAX_VALUES, width <= 32, every value must
 * fit in width bits) LSB-first into out; returns bytes written, which is
 * bm25_packed_size(n, width).
 */
extern size_t bm25_pack(uint8_t *out, const uint32_t *v, uint32_t n, uint32_t width);

/*
 * Unpack n values of width bits from in[0..avail).  Returns BM25_ECORRUPT
 * if width > 32, n > BM25_PACK_MAX_VALUES or the packed bytes do not fit
 * in avail; never reads at or past in + avail.  *used gets the bytes
 * consumed (may be NULL).
 */
extern int	bm25_unpack(const uint8_t *in, size_t avail, uint32_t n, uint32_t width,
						uint32_t *out, size_t *used);

/*
 * bm25_unpack of a postings block's two arrays, decoded in the same pass:
 * doc id gaps become ids (the running id starts at *next and ends one past
 * the last id), and stored tf - 1 values become tfs (BM25_ECORRUPT if one
 * would be 0).
 */
extern int	bm25_unpack_docs(const uint8_t *in, size_t avail, uint32_t n, uint32_t width,
							 uint32_t *out, uint64_t *next);
extern int	bm25_unpack_tfs(const uint8_t *in, size_t avail, uint32_t n, uint32_t width,
							uint32_t *out);

/*
 * Tests and benchmarks only: on != 0 makes the unpackers take the portable
 * path even where a SIMD one is available (both give identical results).
 */
extern void bm25_codec_force_scalar(int on);
extern void bm25_codec_init(void);

/* Append v as a LEB128 varint; returns bytes written (<= 10). */
extern size_t bm25_varint_put(uint8_t *out, uint64_t v);

/*
 * Decode a varint at buf[*pos] within buf[0..len); advances *pos.  Returns
 * BM25_ECORRUPT on truncation or a value that does not fit 64 bits.
 */
extern int	bm25_varint_get(const uint8_t *buf, size_t len, size_t *pos, uint64_t *out);

#endif							/* BM25_CODEC_H */
