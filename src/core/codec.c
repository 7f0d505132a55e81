/*-------------------------------------------------------------------------
 * codec.c
 *	  Bit-packing of postings blocks and LEB128 varints.
 *
 * Packed layout: value i occupies bits [i*w, (i+1)*w) of the byte string,
 * bit k of the string being bit (k % 8) of byte k / 8 (LSB-first).  The
 * string is ceil(n*w/8) bytes; unused high bits of the last byte are 0.
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "codec.h"

/*
 * x86-64 with gcc or clang: an AVX2 unpacker for widths up to 24, chosen
 * at run time (the build itself assumes nothing beyond x86-64).
 */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define BM25_HAVE_AVX2_UNPACK 1
#include <immintrin.h>
#endif

/* Number of significant bits of v, 0 for 0; used to pick block widths. */
uint32_t
bm25_bit_width(uint32_t v)
{
#if defined(__GNUC__) || defined(__clang__)
	return v == 0 ? 0 : 32 - (uint32_t) __builtin_clz(v);
#else
	uint32_t	w = 0;

	while (v != 0)
	{
		w++;
		v >>= 1;
	}
	return w;
#endif
}

/* Width that fits every value of v[0..n): the width of their bitwise OR. */
uint32_t
bm25_max_width(const uint32_t *v, uint32_t n)
{
	uint32_t	acc = 0;
	uint32_t	i;

	for (i = 0; i < n; i++)
		acc |= v[i];
	return bm25_bit_width(acc);
}

/* Size in bytes of n values packed at width bits, rounded up to a byte. */
size_t
bm25_packed_size(uint32_t n, uint32_t width)
{
	return (size_t) (((uint64_t) n * width + 7) / 8);
}

/* Pack values LSB-first through a 64-bit accumulator; see file header. */
size_t
bm25_pack(uint8_t *out, const uint32_t *v, uint32_t n, uint32_t width)
{
	uint64_t	acc = 0;
	uint32_t	nbits = 0;
	uint32_t	mask;
	size_t		o = 0;
	uint32_t	i;

	if (width == 0)
		return 0;
	mask = width >= 32 ? 0xFFFFFFFFu : ((1u << width) - 1);
	for (i = 0; i < n; i++)
	{
		acc |= (uint64_t) (v[i] & mask) << nbits;
		nbits += width;
		while (nbits >= 8)
		{
			out[o++] = (uint8_t) acc;
			acc >>= 8;
			nbits -= 8;
		}
	}
	if (nbits > 0)
		out[o++] = (uint8_t) acc;
	return o;
}

/*
 * Load up to 8 little-endian bytes from p, of which only avail are
 * readable; missing high bytes read as zero.
 */
static inline uint64_t
load_tail(const uint8_t *p, size_t avail)
{
	uint64_t	x = 0;
	size_t		i;

	if (avail > 8)
		avail = 8;
	for (i = 0; i < avail; i++)
		x |= (uint64_t) p[i] << (8 * i);
	return x;
}

#if defined(__GNUC__) || defined(__clang__)
#define BM25_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define BM25_ALWAYS_INLINE inline
#endif

/*
 * Little-endian 64-bit load for the unpack fast path, forced inline (gcc
 * would otherwise call bm25_get_u64 from the large specialized switch).
 */
static BM25_ALWAYS_INLINE uint64_t
load_u64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
	__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t	x;

	memcpy(&x, p, sizeof(x));
	return x;
#else
	return bm25_get_u64(p);
#endif
}

/*
 * What the unpacker does with each value v it extracts (a constant after
 * inlining, so each mode gets its own specialized loops):
 *	UNPACK_PLAIN	out = v
 *	UNPACK_DOCS		out = acc + v, then acc += v + 1 (doc id gaps, see
 *					bm25_unpack_docs)
 *	UNPACK_TFS		out = v + 1 (tf - 1 is stored)
 */
#define UNPACK_PLAIN	0
#define UNPACK_DOCS		1
#define UNPACK_TFS		2

/* Store value v at out[i] as mode says; acc is the running doc id. */
static BM25_ALWAYS_INLINE void
unpack_emit(uint32_t *out, uint32_t i, uint32_t v, int mode, uint64_t *acc)
{
	if (mode == UNPACK_DOCS)
	{
		uint64_t	d = *acc + v;

		out[i] = (uint32_t) d;
		*acc = d + 1;
	}
	else if (mode == UNPACK_TFS)
		out[i] = v + 1;
	else
		out[i] = v;
}

/*
 * Unpack whole groups of 8 values at a width w known at compile time
 * (after inlining): 8 values take exactly w bytes, so every shift and
 * offset inside a group is a constant.  Only groups whose every 8-byte
 * window lies inside in[0..avail) are done; returns the values unpacked
 * (a multiple of 8).
 */
static BM25_ALWAYS_INLINE uint32_t
unpack_groups(const uint8_t *in, size_t avail, uint32_t n, uint32_t w,
			  uint32_t *out, int mode, uint64_t *acc)
{
	uint32_t	mask = w >= 32 ? 0xFFFFFFFFu : ((1u << w) - 1);
	uint32_t	g = 0;
	size_t		reach = (size_t) ((7 * w) / 8) + 8;

	while (g + 8 <= n && (size_t) (g / 8) * w + reach <= avail)
	{
		const uint8_t *p = in + (size_t) (g / 8) * w;

#define UNPACK_ONE(j) \
		unpack_emit(out, g + (j), \
					(uint32_t) (load_u64(p + ((j) * w) / 8) >> (((j) * w) % 8)) & mask, \
					mode, acc)
		UNPACK_ONE(0);
		UNPACK_ONE(1);
		UNPACK_ONE(2);
		UNPACK_ONE(3);
		UNPACK_ONE(4);
		UNPACK_ONE(5);
		UNPACK_ONE(6);
		UNPACK_ONE(7);
#undef UNPACK_ONE
		g += 8;
	}
	return g;
}

#ifdef BM25_HAVE_AVX2_UNPACK

/*
 * A group of 8 values at width w is w bytes, and value j starts at bit
 * j*w: byte (j*w)/8, bit (j*w)%8.  With w <= 24 a value and its bit offset
 * fit the 4 bytes at that byte, and the 4 bytes of values 0-3 lie in the
 * 16 bytes at the group's start, those of values 4-7 in the 16 bytes at
 * byte (4*w)/8.  So two 16-byte loads fill the two 128-bit halves of a
 * register, one byte shuffle moves each value's 4 bytes into its 32-bit
 * lane, one variable shift per lane drops its offset bits and a mask its
 * neighbour's.  The shuffle and shifts depend on w only.
 */
#define AVX2_MAX_WIDTH	24

typedef struct avx2_plan
{
	uint8_t		shuf[32];
	uint32_t	shift[8];
} avx2_plan;

static avx2_plan avx2_plans[AVX2_MAX_WIDTH + 1];
static int	avx2_state = -1;	/* -1 not probed yet, 0 unusable, 1 usable */
static int	avx2_forced_off = 0;

/* Probe the CPU once and fill the per-width plans. */
static void
avx2_probe(void)
{
	uint32_t	w;

	for (w = 1; w <= AVX2_MAX_WIDTH; w++)
	{
		uint32_t	half = (4 * w) / 8;
		uint32_t	j;

		for (j = 0; j < 8; j++)
		{
			uint32_t	bit = j * w;
			uint32_t	from = bit / 8 - (j < 4 ? 0 : half);
			uint32_t	t;

			for (t = 0; t < 4; t++)
				avx2_plans[w].shuf[j * 4 + t] = (uint8_t) (from + t);
			avx2_plans[w].shift[j] = bit % 8;
		}
	}
	__builtin_cpu_init();
	avx2_state = __builtin_cpu_supports("avx2") ? 1 : 0;
}

/* Probe now rather than on the first block decoded (bm25_core_init). */
void
bm25_codec_init(void)
{
	if (avx2_state < 0)
		avx2_probe();
}

/*
 * Whole groups of 8 values of width w (1..AVX2_MAX_WIDTH) as mode says,
 * while both 16-byte loads of a group lie inside in[0..avail); returns the
 * values done (a multiple of 8).  Doc ids are summed in 32-bit lanes, which
 * wrap exactly as the scalar path's truncation to 32 bits does; the 64-bit
 * running id in *acc advances by the groups' total, which for at most 128
 * gaps below 2^24 is at most 2^31 and so equals the 32-bit difference
 * between the last id and the running id before them.
 */
__attribute__((target("avx2"))) static BM25_ALWAYS_INLINE uint32_t
unpack_groups_avx2(const uint8_t *in, size_t avail, uint32_t n, uint32_t w,
				   uint32_t *out, int mode, uint64_t *acc)
{
	const avx2_plan *pl = &avx2_plans[w];
	const __m256i shuf = _mm256_loadu_si256((const __m256i *) pl->shuf);
	const __m256i shift = _mm256_loadu_si256((const __m256i *) pl->shift);
	const __m256i mask = _mm256_set1_epi32((int) ((1u << w) - 1));
	const __m256i one = _mm256_set1_epi32(1);
	const __m256i lane3 = _mm256_set1_epi32(3);
	const __m256i lane7 = _mm256_set1_epi32(7);
	size_t		half = (4 * w) / 8;
	uint32_t	ngroups = n / 8;
	uint32_t	start = 0;
	__m256i		base = _mm256_setzero_si256();
	const uint8_t *p = in;
	uint32_t	g;

	/* group g's loads end at g*w + half + 16 */
	if (avail < half + 16)
		return 0;
	if ((avail - half - 16) / w + 1 < ngroups)
		ngroups = (uint32_t) ((avail - half - 16) / w + 1);
	if (mode == UNPACK_DOCS)
	{
		start = (uint32_t) *acc;
		base = _mm256_set1_epi32((int) (start - 1));
	}
	for (g = 0; g < ngroups; g++, p += w)
	{
		__m256i		v;

		v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *) p)),
									_mm_loadu_si128((const __m128i *) (p + half)), 1);
		v = _mm256_and_si256(_mm256_srlv_epi32(_mm256_shuffle_epi8(v, shuf), shift), mask);
		if (mode == UNPACK_TFS)
			v = _mm256_add_epi32(v, one);
		else if (mode == UNPACK_DOCS)
		{
			/* inclusive prefix sums of gap + 1, then id = running - 1 + sum */
			v = _mm256_add_epi32(v, one);
			v = _mm256_add_epi32(v, _mm256_slli_si256(v, 4));
			v = _mm256_add_epi32(v, _mm256_slli_si256(v, 8));
			v = _mm256_add_epi32(v, _mm256_blend_epi32(_mm256_setzero_si256(),
													   _mm256_permutevar8x32_epi32(v, lane3),
													   0xF0));
			v = _mm256_add_epi32(v, base);
			base = _mm256_permutevar8x32_epi32(v, lane7);
		}
		_mm256_storeu_si256((__m256i *) (out + (size_t) g * 8), v);
	}
	if (mode == UNPACK_DOCS && ngroups > 0)
		*acc += (uint32_t) ((uint32_t) _mm256_cvtsi256_si32(base) + 1u - start);
	return ngroups * 8;
}

/* unpack_groups_avx2 for plain values (mode a constant after inlining). */
__attribute__((target("avx2")))
static uint32_t
unpack_avx2_plain(const uint8_t *in, size_t avail, uint32_t n, uint32_t w, uint32_t *out)
{
	return unpack_groups_avx2(in, avail, n, w, out, UNPACK_PLAIN, NULL);
}

/* unpack_groups_avx2 turning doc id gaps into ids. */
__attribute__((target("avx2")))
static uint32_t
unpack_avx2_docs(const uint8_t *in, size_t avail, uint32_t n, uint32_t w, uint32_t *out,
				 uint64_t *acc)
{
	return unpack_groups_avx2(in, avail, n, w, out, UNPACK_DOCS, acc);
}

/* unpack_groups_avx2 turning stored tf - 1 into tf. */
__attribute__((target("avx2")))
static uint32_t
unpack_avx2_tfs(const uint8_t *in, size_t avail, uint32_t n, uint32_t w, uint32_t *out)
{
	return unpack_groups_avx2(in, avail, n, w, out, UNPACK_TFS, NULL);
}
#endif							/* BM25_HAVE_AVX2_UNPACK */

/* For tests and benchmarks: keep (on != 0) or stop using the SIMD path. */
void
bm25_codec_force_scalar(int on)
{
#ifdef BM25_HAVE_AVX2_UNPACK
	avx2_forced_off = on != 0;
#else
	(void) on;
#endif
}

/*
 * Unpack n values of width bits, each handled as mode says.  Each value is
 * extracted from an 8-byte window starting at its first byte (bit offset
 * <= 7, width <= 32, so the value fits the window); windows that would
 * cross in + avail are loaded bytewise, so no byte outside in[0..avail) is
 * touched.  Leading groups of 8 values go through a per-width specialized
 * path (unpack_groups).
 */
static BM25_ALWAYS_INLINE int
unpack_mode(const uint8_t *in, size_t avail, uint32_t n, uint32_t width,
			uint32_t *out, size_t *used, int mode, uint64_t *acc)
{
	size_t		size;
	uint32_t	mask;
	uint64_t	bit;
	uint32_t	i;

	if (width > 32 || n > BM25_PACK_MAX_VALUES)
		return BM25_ECORRUPT;
	size = bm25_packed_size(n, width);
	if (size > avail)
		return BM25_ECORRUPT;
	if (used)
		*used = size;
	if (width == 0)
	{
		for (i = 0; i < n; i++)
			unpack_emit(out, i, 0, mode, acc);
		return BM25_OK;
	}
#ifdef BM25_HAVE_AVX2_UNPACK
	if (avx2_state < 0)
		avx2_probe();
	if (avx2_state > 0 && !avx2_forced_off && width <= AVX2_MAX_WIDTH)
	{
		if (mode == UNPACK_DOCS)
			i = unpack_avx2_docs(in, avail, n, width, out, acc);
		else if (mode == UNPACK_TFS)
			i = unpack_avx2_tfs(in, avail, n, width, out);
		else
			i = unpack_avx2_plain(in, avail, n, width, out);
		goto tail;
	}
#endif
	switch (width)
	{
#define UNPACK_CASE(W) case W: i = unpack_groups(in, avail, n, W, out, mode, acc); break
		UNPACK_CASE(1);
		UNPACK_CASE(2);
		UNPACK_CASE(3);
		UNPACK_CASE(4);
		UNPACK_CASE(5);
		UNPACK_CASE(6);
		UNPACK_CASE(7);
		UNPACK_CASE(8);
		UNPACK_CASE(9);
		UNPACK_CASE(10);
		UNPACK_CASE(11);
		UNPACK_CASE(12);
		UNPACK_CASE(13);
		UNPACK_CASE(14);
		UNPACK_CASE(15);
		UNPACK_CASE(16);
		UNPACK_CASE(17);
		UNPACK_CASE(18);
		UNPACK_CASE(19);
		UNPACK_CASE(20);
		UNPACK_CASE(21);
		UNPACK_CASE(22);
		UNPACK_CASE(23);
		UNPACK_CASE(24);
		UNPACK_CASE(25);
		UNPACK_CASE(26);
		UNPACK_CASE(27);
		UNPACK_CASE(28);
		UNPACK_CASE(29);
		UNPACK_CASE(30);
		UNPACK_CASE(31);
		UNPACK_CASE(32);
#undef UNPACK_CASE
		default:
			i = 0;
			break;
	}
#ifdef BM25_HAVE_AVX2_UNPACK
tail:
#endif
	mask = width >= 32 ? 0xFFFFFFFFu : ((1u << width) - 1);
	bit = (uint64_t) i * width;
	for (; i < n; i++)
	{
		size_t		byte = (size_t) (bit >> 3);
		uint64_t	x;

		if (byte + 8 <= avail)
			x = bm25_get_u64(in + byte);
		else
			x = load_tail(in + byte, avail - byte);
		unpack_emit(out, i, (uint32_t) (x >> (bit & 7)) & mask, mode, acc);
		bit += width;
	}
	return BM25_OK;
}

/* Unpack n values of width bits; see unpack_mode. */
int
bm25_unpack(const uint8_t *in, size_t avail, uint32_t n, uint32_t width,
			uint32_t *out, size_t *used)
{
	return unpack_mode(in, avail, n, width, out, used, UNPACK_PLAIN, NULL);
}

/*
 * Unpack n doc id gaps and turn them into doc ids in the same pass: with
 * the running id starting at *next, each id is that plus its gap, and the
 * running id moves one past it.  *next ends one past the last id.  It is
 * 64-bit, so it cannot wrap: a caller that checks the final *next against
 * the stored last id + 1 (< 2^32) knows every id fit in 32 bits.
 */
int
bm25_unpack_docs(const uint8_t *in, size_t avail, uint32_t n, uint32_t width,
				 uint32_t *out, uint64_t *next)
{
	return unpack_mode(in, avail, n, width, out, NULL, UNPACK_DOCS, next);
}

/*
 * Unpack n stored tf - 1 values into tfs.  Only a 32-bit width can hold
 * the value that would wrap to tf 0; that block is corrupt.
 */
int
bm25_unpack_tfs(const uint8_t *in, size_t avail, uint32_t n, uint32_t width,
				uint32_t *out)
{
	int			rc = unpack_mode(in, avail, n, width, out, NULL, UNPACK_TFS, NULL);
	uint32_t	i;

	if (rc == BM25_OK && width == 32)
		for (i = 0; i < n; i++)
			if (out[i] == 0)
				return BM25_ECORRUPT;
	return rc;
}

/* LEB128: 7 bits per byte, low groups first, high bit = more follows. */
size_t
bm25_varint_put(uint8_t *out, uint64_t v)
{
	size_t		n = 0;

	while (v >= 0x80)
	{
		out[n++] = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t) v;
	return n;
}

/* Bounds-checked LEB128 decode; rejects truncation and 64-bit overflow. */
int
bm25_varint_get(const uint8_t *buf, size_t len, size_t *pos, uint64_t *out)
{
	uint64_t	v = 0;
	uint32_t	shift = 0;
	size_t		p = *pos;

	for (;;)
	{
		uint8_t		b;

		if (p >= len)
			return BM25_ECORRUPT;
		b = buf[p++];
		if (shift == 63 && (b & 0x7E) != 0)
			return BM25_ECORRUPT;
		v |= (uint64_t) (b & 0x7F) << shift;
		if ((b & 0x80) == 0)
			break;
		shift += 7;
		if (shift > 63)
			return BM25_ECORRUPT;
	}
	*pos = p;
	*out = v;
	return BM25_OK;
}
