/*-------------------------------------------------------------------------
 * crc32c.c
 *	  CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * A portable slice-by-8 implementation, plus an SSE4.2 path on x86-64
 * chosen at run time.  Both give identical results; the tests compare
 * them.  crc32c("123456789") == 0xE3069283.
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
			impl = 1;
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
