/*-------------------------------------------------------------------------
 * crc32c.c
 *	  CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * A portable slice-by-8 implementation, plus an SSE4.2 path on x86-64
 * chosen at run time.  Both give identical results; the tests compare
 * them.  crc32c("123456789") == 0xE3069283.
 *
 * One crc32 instruction depends on the previous one's result, so a single
 * stream runs at its latency (about 8 bytes per 3 cycles).  The SSE4.2
 * path runs three streams over consecutive thirds of a stretch and joins
 * them: without the final inversion the CRC register is linear, so the
 * register after A then B is the register after A advanced over |B| zero
 * bytes, XOR the register after B started from 0.  Advancing over a fixed
 * number of zero bytes is a 32x32 bit matrix over GF(2), applied a byte of
 * the register at a time through four 256-entry tables.  Segment open
 * checksums whole sections (megabytes at scale) in every new backend.
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "bm25_core.h"
#include "codec.h"

#define CRC32C_POLY 0x82F63B78u

static uint32_t crc_table[8][256];
static int	crc_table_ready = 0;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define BM25_HAVE_SSE42_CRC 1
#endif

#ifdef BM25_HAVE_SSE42_CRC
#define CRC_LONG		8192	/* bytes per stream, long stretches */
#define CRC_SHORT		256		/* bytes per stream, short stretches */

/* Advance a register over CRC_LONG / CRC_SHORT zero bytes, a byte at a time. */
static uint32_t crc_long_zeros[4][256];
static uint32_t crc_short_zeros[4][256];

/* GF(2) matrix (mat[i] = image of bit i) times vector. */
static uint32_t
gf2_times(const uint32_t *mat, uint32_t vec)
{
	uint32_t	sum = 0;

	for (; vec != 0; vec >>= 1, mat++)
		if (vec & 1)
			sum ^= *mat;
	return sum;
}

/* Tables that advance a register over nbytes zero bytes (a power of two). */
static void
crc_zeros_tables(uint32_t tab[4][256], uint32_t nbytes)
{
	uint32_t	op[32];
	uint32_t	sq[32];
	uint32_t	bits;
	int			i;

	/* one zero bit: shift right, folding the polynomial in for bit 0 */
	op[0] = CRC32C_POLY;
	for (i = 1; i < 32; i++)
		op[i] = 1u << (i - 1);
	/* square up to 8 * nbytes zero bits */
	for (bits = 1; bits < 8 * nbytes; bits *= 2)
	{
		for (i = 0; i < 32; i++)
			sq[i] = gf2_times(op, op[i]);
		memcpy(op, sq, sizeof(op));
	}
	for (i = 0; i < 256; i++)
	{
		tab[0][i] = gf2_times(op, (uint32_t) i);
		tab[1][i] = gf2_times(op, (uint32_t) i << 8);
		tab[2][i] = gf2_times(op, (uint32_t) i << 16);
		tab[3][i] = gf2_times(op, (uint32_t) i << 24);
	}
}

/* Register crc advanced over the zero bytes tab was built for. */
static inline uint32_t
crc_shift(uint32_t tab[4][256], uint32_t crc)
{
	return tab[0][crc & 0xFF] ^ tab[1][(crc >> 8) & 0xFF] ^
		tab[2][(crc >> 16) & 0xFF] ^ tab[3][crc >> 24];
}
#endif

/*
 * Fill the slice-by-8 tables once; the values are deterministic so a
 * racing second initialization would store identical bytes.
 */
static void
crc32c_init_table(void)
{
	uint32_t	n;
	uint32_t	k;

	for (n = 0; n < 256; n++)
	{
		uint32_t	c = n;

		for (k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc_table[0][n] = c;
	}
	for (n = 0; n < 256; n++)
	{
		uint32_t	c = crc_table[0][n];

		for (k = 1; k < 8; k++)
		{
			c = crc_table[0][c & 0xFF] ^ (c >> 8);
			crc_table[k][n] = c;
		}
	}
	crc_table_ready = 1;
}

/*
 * Software CRC-32C, slice-by-8.  Exposed (via codec.h) so the tests can
 * check the hardware path against it.
 */
uint32_t
bm25_crc32c_sw(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = (const uint8_t *) data;

	if (!crc_table_ready)
		crc32c_init_table();
	crc = ~crc;
	while (len >= 8)
	{
		uint32_t	lo = bm25_get_u32(p) ^ crc;
		uint32_t	hi = bm25_get_u32(p + 4);

		crc = crc_table[7][lo & 0xFF] ^
			crc_table[6][(lo >> 8) & 0xFF] ^
			crc_table[5][(lo >> 16) & 0xFF] ^
			crc_table[4][lo >> 24] ^
			crc_table[3][hi & 0xFF] ^
			crc_table[2][(hi >> 8) & 0xFF] ^
			crc_table[1][(hi >> 16) & 0xFF] ^
			crc_table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len > 0)
	{
		crc = crc_table[0][(crc ^ *p) & 0xFF] ^ (crc >> 8);
		p++;
		len--;
	}
	return ~crc;
}

#ifdef BM25_HAVE_SSE42_CRC
/*
 * CRC-32C with the SSE4.2 crc32 instruction, eight bytes per step; only
 * called after __builtin_cpu_supports("sse4.2") said yes.
 */
__attribute__((target("sse4.2")))
static uint32_t
crc32c_sse42(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = (const uint8_t *) data;
	uint64_t	c = (uint32_t) ~crc;
	uint32_t	c32;

	while (len >= 3 * CRC_LONG)
	{
		uint64_t	c1 = 0;
		uint64_t	c2 = 0;
		const uint8_t *end = p + CRC_LONG;

		do
		{
			c = __builtin_ia32_crc32di(c, bm25_get_u64(p));
			c1 = __builtin_ia32_crc32di(c1, bm25_get_u64(p + CRC_LONG));
			c2 = __builtin_ia32_crc32di(c2, bm25_get_u64(p + 2 * CRC_LONG));
			p += 8;
		} while (p < end);
		c = crc_shift(crc_long_zeros, (uint32_t) c) ^ (uint32_t) c1;
		c = crc_shift(crc_long_zeros, (uint32_t) c) ^ (uint32_t) c2;
		p += 2 * CRC_LONG;
		len -= 3 * CRC_LONG;
	}
	while (len >= 3 * CRC_SHORT)
	{
		uint64_t	c1 = 0;
		uint64_t	c2 = 0;
		const uint8_t *end = p + CRC_SHORT;

		do
		{
			c = __builtin_ia32_crc32di(c, bm25_get_u64(p));
			c1 = __builtin_ia32_crc32di(c1, bm25_get_u64(p + CRC_SHORT));
			c2 = __builtin_ia32_crc32di(c2, bm25_get_u64(p + 2 * CRC_SHORT));
			p += 8;
		} while (p < end);
		c = crc_shift(crc_short_zeros, (uint32_t) c) ^ (uint32_t) c1;
		c = crc_shift(crc_short_zeros, (uint32_t) c) ^ (uint32_t) c2;
		p += 2 * CRC_SHORT;
		len -= 3 * CRC_SHORT;
	}
	while (len >= 8)
	{
		c = __builtin_ia32_crc32di(c, bm25_get_u64(p));
		p += 8;
		len -= 8;
	}
	c32 = (uint32_t) c;
	while (len > 0)
	{
		c32 = __builtin_ia32_crc32qi(c32, *p);
		p++;
		len--;
	}
	return ~c32;
}
#endif

/* -1 = not yet probed, 0 = software, 1 = SSE4.2. */
static int	crc_impl = -1;

/*
 * Public CRC-32C entry point: start with crc = 0 and chain by passing the
 * previous result.  Picks the fastest implementation on first use.
 */
uint32_t
bm25_crc32c(uint32_t crc, const void *data, size_t len)
{
	if (crc_impl < 0)
	{
		int			impl = 0;

#ifdef BM25_HAVE_SSE42_CRC
		__builtin_cpu_init();
		if (__builtin_cpu_supports("sse4.2"))
		{
			crc_zeros_tables(crc_long_zeros, CRC_LONG);
			crc_zeros_tables(crc_short_zeros, CRC_SHORT);
			impl = 1;
		}
#endif
		if (impl == 0 && !crc_table_ready)
			crc32c_init_table();
		crc_impl = impl;
	}
#ifdef BM25_HAVE_SSE42_CRC
	if (crc_impl == 1)
		return crc32c_sse42(crc, data, len);
#endif
	return bm25_crc32c_sw(crc, data, len);
}
