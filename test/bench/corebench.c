/*
 * corebench.c - time the core top-k engine alone on a real segment file.
 *
 *   corebench SEGMENT QUERIES [ROUNDS [K]]
 *
 * SEGMENT is a seg_<id>.bm25 file (for example the benchmark's index under
 * $PGDATA/bm25/...); QUERIES is a TSV of  qid  bucket  lexeme...  (run.sh's
 * queries.run.lex.tsv).  Every query runs ROUNDS times (default 20) with
 * bm25_topk_tie (K, default 10: what a LIMIT 10 scan asks for); the first round
 * is also checked against bm25_topk_exhaustive (unless the environment sets
 * COREBENCH_NOCHECK, which keeps the reference out of a profile).  Prints per bucket the mean
 * and median time per query in microseconds.  No PostgreSQL involved: this
 * separates engine time from planner, executor and round trip when
 * profiling (perf record corebench ...).  All queries share one doc-length
 * norm cache, as a server backend's do (COREBENCH_NO_NORM_CACHE: none).
 * COREBENCH_SCALAR=1 keeps the postings unpackers on their portable path
 * (for A/B runs of the SIMD one).
 * COREBENCH_EVICT_MB=N writes to an N MB buffer before every query (64 is
 * well above this host's L3): in a server backend the executor, protocol
 * and other processes run between two queries, so the engine starts with
 * the doc lengths and postings out of the CPU caches, which repeating
 * queries back to back never shows.
 *
 * Build with "make corebench": build/corebench, and build/corebench-stats,
 * which also prints per query the windows, candidates, candidates scored
 * and hits emitted (COREBENCH_VERBOSE=1: time and terms of every query).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../src/core/codec.h"
#include "../../src/core/query.h"
#include "../../src/core/score.h"
#include "../../src/core/segment.h"
#include "../../src/core/topk.h"

#define MAXT 64

#ifdef BM25_TOPK_STATS
extern uint64_t bm25_topk_stats[4];
#endif

typedef struct
{
	char		bucket[8];
	uint32_t	n;
	bm25_qterm	t[MAXT];
	bm25_term_info info[MAXT];
	double		idf[MAXT];
	bm25_scorer sc;
	double		us;
} Query;

/* Push the engine's data out of the CPU caches: one write per cache line. */
static void
evict_caches(volatile char *buf, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i += 64)
		buf[i]++;
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
dcmp(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	int			fd;
	struct stat st;
	void	   *base;
	bm25_segment *seg;
	char		err[256];
	FILE	   *f;
	char	   *line = NULL;
	size_t		cap = 0;
	Query	   *q = NULL;
	int			nq = 0,
				rounds,
				r,
				i,
				bad = 0;
	uint64_t	k;
	const char *buckets[] = {"1", "2-3", "4-7", "8+"};
	static bm25_norm_cache norms;
	char	   *evict = NULL;
	size_t		evict_bytes = 0;

	if (argc < 3)
	{
		fprintf(stderr, "usage: corebench SEGMENT QUERIES [ROUNDS [K]]\n");
		return 2;
	}
	rounds = argc > 3 ? atoi(argv[3]) : 20;
	k = argc > 4 ? strtoull(argv[4], NULL, 10) : 10;
	if (getenv("COREBENCH_SCALAR"))
		bm25_codec_force_scalar(1);
	if (getenv("COREBENCH_EVICT_MB"))
	{
		evict_bytes = (size_t) atoi(getenv("COREBENCH_EVICT_MB")) << 20;
		if (evict_bytes > 0 && (evict = calloc(1, evict_bytes)) == NULL)
		{
			perror("calloc");
			return 1;
		}
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0)
	{
		perror(argv[1]);
		return 1;
	}
	base = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED || bm25_segment_open(base, st.st_size, &seg, err, sizeof(err)) != BM25_OK)
	{
		fprintf(stderr, "cannot open segment: %s\n", err);
		return 1;
	}
	f = fopen(argv[2], "r");
	if (!f)
	{
		perror(argv[2]);
		return 1;
	}
	while (getline(&line, &cap, f) > 0)
	{
		char	   *save = NULL;
		char	   *tok;
		Query	   *x;
		q = realloc(q, (nq + 1) * sizeof(Query));
		x = &q[nq];
		memset(x, 0, sizeof(*x));
		line[strcspn(line, "\n")] = '\0';
		tok = strtok_r(line, "\t", &save);	/* qid */
		tok = strtok_r(NULL, "\t", &save);
		if (!tok)
			continue;
		snprintf(x->bucket, sizeof(x->bucket), "%s", tok);
		while ((tok = strtok_r(NULL, "\t", &save)) && x->n < MAXT)
		{
			x->t[x->n].text = strdup(tok);
			x->t[x->n].len = strlen(tok);
			x->t[x->n].occur = BM25_SHOULD;
			x->n++;
		}
		bm25_query_normalize(x->t, &x->n);
		nq++;
	}
	/* The scorers point into q[], so they are made once q stops moving. */
	for (i = 0; i < nq; i++)
	{
		Query	   *x = &q[i];
		uint64_t	dfs[MAXT];
		uint32_t	j;

		for (j = 0; j < x->n; j++)
		{
			if (bm25_segment_lookup(seg, x->t[j].text, x->t[j].len, &x->info[j]) != BM25_OK)
				return 1;
			dfs[j] = x->info[j].df;
		}
		bm25_scorer_init(&x->sc, 1.2, 0.75, bm25_segment_ndocs(seg),
						 bm25_segment_total_tokens(seg), x->t, x->n, dfs, x->idf);
		/* one norm cache for all queries, as a server backend has */
		if (!getenv("COREBENCH_NO_NORM_CACHE"))
			x->sc.norms = &norms;
	}
	for (r = 0; r < rounds; r++)
	{
		for (i = 0; i < nq; i++)
		{
			bm25_search_seg ss = {seg, q[i].info};
			bm25_hit   *hits = NULL;
			uint64_t	nh = 0;
			bm25_hit	tie;
			int			has_tie;
			double		t0;

			if (evict != NULL)
				evict_caches(evict, evict_bytes);
			t0 = now_us();
			if (bm25_topk_tie(&ss, 1, &q[i].sc, k, &hits, &nh, &tie, &has_tie) != BM25_OK)
				return 1;
			q[i].us += now_us() - t0;
			if (r == 0 && !getenv("COREBENCH_NOCHECK"))
			{
				bm25_hit   *ref = NULL;
				uint64_t	nref = 0,
							j;

				if (bm25_topk_exhaustive(&ss, 1, &q[i].sc, k, &ref, &nref) != BM25_OK)
					return 1;
				if (nref != nh)
					bad++;
				else
					for (j = 0; j < nh; j++)
						if (hits[j].score != ref[j].score ||
							memcmp(&hits[j].tid, &ref[j].tid, sizeof(bm25_tid)) != 0)
						{
							bad++;
							break;
						}
				free(ref);
			}
			free(hits);
		}
	}
	if (getenv("COREBENCH_VERBOSE"))
		for (i = 0; i < nq; i++)
		{
			uint32_t	j;

			printf("%s\t%.2f\t", q[i].bucket, q[i].us / rounds);
			for (j = 0; j < q[i].n; j++)
				printf(" %s:%u", q[i].t[j].text, q[i].info[j].df);
			printf("\n");
		}
	for (i = 0; i < 4; i++)
	{
		double		v[4096],
					sum = 0;
		int			n = 0,
					j;

		for (j = 0; j < nq && n < 4096; j++)
			if (strcmp(q[j].bucket, buckets[i]) == 0)
			{
				v[n] = q[j].us / rounds;
				sum += v[n++];
			}
		if (n == 0)
			continue;
		qsort(v, n, sizeof(double), dcmp);
		printf("bucket %-4s queries %4d mean %8.2f us p50 %8.2f us p95 %8.2f us\n",
			   buckets[i], n, sum / n, v[n / 2], v[(int) (n * 0.95)]);
	}
#ifdef BM25_TOPK_STATS
	printf("per query and round: windows %.1f candidates %.1f scored %.1f emitted %.1f\n",
		   bm25_topk_stats[0] / (double) nq / rounds, bm25_topk_stats[1] / (double) nq / rounds,
		   bm25_topk_stats[2] / (double) nq / rounds, bm25_topk_stats[3] / (double) nq / rounds);
#endif
	printf("mismatches against exhaustive: %d\n", bad);
	return bad != 0;
}
