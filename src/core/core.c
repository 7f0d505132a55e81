/*-------------------------------------------------------------------------
 * core.c
 *	  Small shared helpers of the PostgreSQL-independent core.
 *-------------------------------------------------------------------------
 */
#include "bm25_core.h"
#include "codec.h"

/*
 * Map a bm25_status to a short English description, so that every caller
 * (the glue's ereport, the tests) prints the same wording.
 */
const char *
bm25_strerror(int status)
{
	switch (status)
	{
		case BM25_OK:
			return "success";
		case BM25_ENOMEM:
			return "out of memory";
		case BM25_EIO:
			return "I/O error";
		case BM25_ECORRUPT:
			return "index data is corrupted";
		case BM25_EINVAL:
			return "invalid argument";
		case BM25_ELIMIT:
			return "index format limit exceeded";
	}
	return "unknown error";
}

/* See bm25_core.h. */
void
bm25_core_init(void)
{
	static const uint8_t none[1] = {0};

	(void) bm25_crc32c(0, none, 0);
	bm25_codec_init();
}
