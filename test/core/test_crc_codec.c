/*
 * test_crc_codec.c
 *	  CRC-32C test vectors and bit-packing / varint round trips.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "bm25_core.h"
#include "codec.h"

void		suite_crc_codec(void);

/* Known CRC-32C answers, hardware path equal to software, chaining. */
static void
test_crc_vectors(void)
{
	static const uint8_t zeros[32] = {0};
	uint8_t		ones[32];
	uint8_t		incr[32];
	uint8_t		buf[1000];
	unsigned long long seed = 42;
	size_t		i;

	memset(ones, 0xFF, sizeof(ones));
	for (i = 0; i < 32; i++)
		incr[i] = (uint8_t) i;

	/* set up ahead, as a server's postmaster does; the CRC is unchanged */
	bm25_core_init();
	CHECK(bm25_crc32c(0, "123456789", 9) == 0xE3069283u);
	CHECK(bm25_crc32c_sw(0, "123456789", 9) == 0xE3069283u);
	CHECK(bm25_crc32c(0, "", 0) == 0);
	/* RFC 3720 (iSCSI) B.4 vectors */
	CHECK(bm25_crc32c(0, zeros, 32) == 0x8A9136AAu);
	CHECK(bm25_crc32c(0, ones, 32) == 0x62A8AB43u);
	CHECK(bm25_crc32c(0, incr, 32) == 0x46DD794Eu);
	CHECK(bm25_crc32c(0, "a", 1) == 0xC1D04330u);

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t) harness_rand(&seed);
	for (i = 0; i < 200; i++)
	{
		size_t		off = harness_rand(&seed) % 64;
		size_t		len = harness_rand(&seed) % (sizeof(buf) - off);
		size_t		cut = len ? harness_rand(&seed) % len : 0;
		uint32_t	whole = bm25_crc32c(0, buf + off, len);

		CHECK(whole == bm25_crc32c_sw(0, buf + off, len));
		CHECK(whole == bm25_crc32c(bm25_crc32c(0, buf + off, cut), buf + off + cut, len - cut));
		CHECK(whole == bm25_crc32c_sw(bm25_crc32c_sw(0, buf + off, cut), buf + off + cut, len - cut));
	}

	/*
	 * Lengths around the three-stream stretches of the SSE4.2 path (3 x
	 * 256 and 3 x 8192 bytes, and several of each), at odd offsets, and
	 * chained from a nonzero crc: equal to the slice-by-8 result.
	 */
	{
		static const size_t edges[] = {767, 768, 769, 775, 776, 1535, 1536, 1537,
			24575, 24576, 24577, 24576 + 768, 24576 + 767, 49152, 49152 + 2303,
		50000, 65535};
		size_t		big = 65536 + 64;
		uint8_t    *b = malloc(big);

		CHECK(b != NULL);
		for (i = 0; i < big; i++)
			b[i] = (uint8_t) harness_rand(&seed);
		for (i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		{
			for (size_t off = 0; off < 9; off += 4)
			{
				uint32_t	start = (uint32_t) harness_rand(&seed);

				CHECK_MSG(bm25_crc32c(0, b + off, edges[i]) == bm25_crc32c_sw(0, b + off, edges[i]),
						  "length %zu offset %zu", edges[i], off);
				CHECK_MSG(bm25_crc32c(start, b + off, edges[i]) ==
						  bm25_crc32c_sw(start, b + off, edges[i]),
						  "chained, length %zu offset %zu", edges[i], off);
			}
		}
		for (i = 0; i < 100; i++)
		{
			size_t		off = harness_rand(&seed) % 64;
			size_t		len = harness_rand(&seed) % (big - off);

			CHECK(bm25_crc32c(0, b + off, len) == bm25_crc32c_sw(0, b + off, len));
		}
		free(b);
	}
}

/* Pack and unpack n values at one width; check values and exact sizes. */
static void
roundtrip(unsigned long long *seed, uint32_t n, uint32_t width)
{
	uint32_t	in[BM25_PACK_MAX_VALUES];
	uint32_t	out[BM25_PACK_MAX_VALUES];
	uint8_t		packed[BM25_PACK_MAX_VALUES * 4 + 8];
	uint8_t    *exact;
	uint32_t	mask = width >= 32 ? 0xFFFFFFFFu : ((1u << width) - 1);
	size_t		size;
	size_t		used = 0;
	uint32_t	i;
	int			ok = 1;

	for (i = 0; i < n; i++)
		in[i] = (uint32_t) harness_rand(seed) & mask;
	if (n > 0 && width > 0)
		in[harness_rand(seed) % n] = mask;	/* force the full width */
	size = bm25_pack(packed, in, n, width);
	CHECK(size == bm25_packed_size(n, width));
	CHECK(size == ((size_t) n * width + 7) / 8);
	if (n > 0)
		CHECK(bm25_max_width(in, n) == width);

	/* decode from a buffer of exactly the packed size (ASan catches overreads) */
	exact = malloc(size ? size : 1);
	memcpy(exact, packed, size);
	memset(out, 0xAB, sizeof(out));
	CHECK(bm25_unpack(exact, size, n, width, out, &used) == BM25_OK);
	CHECK(used == size);
	for (i = 0; i < n; i++)
		if (out[i] != in[i])
			ok = 0;
	CHECK_MSG(ok, "n=%u width=%u", n, width);

	/* the fused decoders: gaps to ids from a 64-bit start, and tf - 1 to tf */
	{
		uint64_t	start = harness_rand(seed) % 2 ? 0 : 0xFFFFFF00ull + (harness_rand(seed) % 512);
		uint64_t	next = start;
		uint64_t	ref = start;
		int			tf_ok = 1;
		int			rc;

		memset(out, 0xAB, sizeof(out));
		CHECK(bm25_unpack_docs(exact, size, n, width, out, &next) == BM25_OK);
		ok = 1;
		for (i = 0; i < n; i++)
		{
			uint64_t	d = ref + in[i];

			if (out[i] != (uint32_t) d)
				ok = 0;
			ref = d + 1;
		}
		CHECK_MSG(ok && next == ref, "docs n=%u width=%u", n, width);

		memset(out, 0xAB, sizeof(out));
		rc = bm25_unpack_tfs(exact, size, n, width, out);
		for (i = 0; i < n; i++)
			if (in[i] == 0xFFFFFFFFu)
				tf_ok = 0;
		CHECK_MSG(rc == (tf_ok ? BM25_OK : BM25_ECORRUPT), "tfs n=%u width=%u rc=%d", n, width, rc);
		ok = 1;
		for (i = 0; tf_ok && i < n; i++)
			if (out[i] != in[i] + 1)
				ok = 0;
		CHECK_MSG(ok, "tfs n=%u width=%u", n, width);
	}

	/* truncated input is rejected */
	if (size > 0)
	{
		uint64_t	next = 0;

		CHECK(bm25_unpack(exact, size - 1, n, width, out, &used) == BM25_ECORRUPT);
		CHECK(bm25_unpack_docs(exact, size - 1, n, width, out, &next) == BM25_ECORRUPT);
		CHECK(bm25_unpack_tfs(exact, size - 1, n, width, out) == BM25_ECORRUPT);
	}
	free(exact);
}

/* Every width 0..32, full and partial blocks, bad widths and counts. */
static void
test_codec(void)
{
	unsigned long long seed = 7;
	uint32_t	out[BM25_PACK_MAX_VALUES + 1];
	uint8_t		buf[1024];
	uint32_t	w;
	uint32_t	n;

	/* the SIMD unpackers where the CPU has them, then the portable ones */
	for (int scalar = 0; scalar <= 1; scalar++)
	{
		bm25_codec_force_scalar(scalar);
		for (w = 0; w <= 32; w++)
		{
			roundtrip(&seed, 128, w);
			roundtrip(&seed, 1, w);
			roundtrip(&seed, 0, w);
			for (n = 0; n < 30; n++)
				roundtrip(&seed, 1 + (uint32_t) (harness_rand(&seed) % 127), w);
		}
	}
	bm25_codec_force_scalar(0);
	CHECK(bm25_bit_width(0) == 0);
	CHECK(bm25_bit_width(1) == 1);
	CHECK(bm25_bit_width(255) == 8);
	CHECK(bm25_bit_width(256) == 9);
	CHECK(bm25_bit_width(0xFFFFFFFFu) == 32);

	memset(buf, 0, sizeof(buf));
	CHECK(bm25_unpack(buf, sizeof(buf), 10, 33, out, NULL) == BM25_ECORRUPT);
	CHECK(bm25_unpack(buf, sizeof(buf), 129, 1, out, NULL) == BM25_ECORRUPT);
	CHECK(bm25_unpack(buf, 0, 1, 1, out, NULL) == BM25_ECORRUPT);
	CHECK(bm25_unpack(buf, 0, 5, 0, out, NULL) == BM25_OK);
	CHECK(bm25_unpack(NULL, 0, 0, 7, out, NULL) == BM25_OK);
}

/* Varint round trips at the edges, truncation and overflow rejection. */
static void
test_varint(void)
{
	static const uint64_t vals[] = {0, 1, 127, 128, 255, 300, 16383, 16384,
		0xFFFFFFFFull, 0x100000000ull, 0x7FFFFFFFFFFFFFFFull, 0xFFFFFFFFFFFFFFFFull};
	uint8_t		buf[BM25_VARINT_MAX * 2];
	size_t		i;

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
	{
		size_t		n = bm25_varint_put(buf, vals[i]);
		size_t		pos = 0;
		uint64_t	v = 0;

		CHECK(n >= 1 && n <= BM25_VARINT_MAX);
		CHECK(bm25_varint_get(buf, n, &pos, &v) == BM25_OK);
		CHECK(pos == n && v == vals[i]);
		pos = 0;
		CHECK(bm25_varint_get(buf, n - 1, &pos, &v) == BM25_ECORRUPT);
	}
	/* 11 continuation bytes: overflow */
	memset(buf, 0x80, 11);
	buf[11] = 0;
	{
		size_t		pos = 0;
		uint64_t	v;

		CHECK(bm25_varint_get(buf, 12, &pos, &v) == BM25_ECORRUPT);
		/* tenth byte carrying more than one bit: overflow */
		memset(buf, 0xFF, 9);
		buf[9] = 0x02;
		pos = 0;
		CHECK(bm25_varint_get(buf, 10, &pos, &v) == BM25_ECORRUPT);
		buf[9] = 0x01;
		pos = 0;
		CHECK(bm25_varint_get(buf, 10, &pos, &v) == BM25_OK && v == UINT64_MAX);
	}
}

/* LE helpers at odd addresses and bm25_strerror coverage. */
static void
test_misc(void)
{
	uint8_t		buf[16];
	int			s;

	bm25_put_u64(buf + 1, 0x0102030405060708ull);
	CHECK(buf[1] == 8 && buf[8] == 1);
	CHECK(bm25_get_u64(buf + 1) == 0x0102030405060708ull);
	bm25_put_u32(buf + 3, 0xDEADBEEFu);
	CHECK(bm25_get_u32(buf + 3) == 0xDEADBEEFu);
	bm25_put_u16(buf + 5, 0xBEEF);
	CHECK(bm25_get_u16(buf + 5) == 0xBEEF);
	for (s = 0; s <= 6; s++)
		CHECK(bm25_strerror(s) != NULL && bm25_strerror(s)[0] != '\0');
	CHECK(strcmp(bm25_strerror(BM25_OK), "success") == 0);
}

void
suite_crc_codec(void)
{
	test_crc_vectors();
	test_codec();
	test_varint();
	test_misc();
}
