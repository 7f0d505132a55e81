/*
 * test_score.c
 *	  BM25 formula tests: idf, tfpart, document scores and impact bounds.
 */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "score.h"

void		suite_score(void);

/* |a - b| <= tol * max(1, |b|). */
static int
near(double a, long double b, double tol)
{
	long double d = fabsl((long double) a - b);
	long double m = fabsl(b) > 1.0L ? fabsl(b) : 1.0L;

	return d <= (long double) tol * m;
}

/* The formula in long double, as an independent reference. */
static long double
ref_idf(uint64_t N, uint64_t df)
{
	long double n = (long double) N;
	long double d = (long double) (df > N ? N : df);

	return logl(1.0L + (n - d + 0.5L) / (d + 0.5L));
}

/* tfpart in long double. */
static long double
ref_tfpart(long double k1, long double b, long double avgdl, uint32_t tf, uint32_t dl)
{
	long double t = tf;

	return t * (k1 + 1.0L) / (t + k1 * (1.0L - b + b * (long double) dl / avgdl));
}

static void
test_idf(void)
{
	uint64_t	N;
	uint64_t	df;
	double		prev;

	/* Literal values: ln(4/3), ln(2), ln(1 + 9.5/1.5), ln(1 + 0.5/10.5). */
	CHECK(near(bm25_idf(1, 1), 0.28768207245178092744L, 1e-15));
	CHECK(near(bm25_idf(0, 0), 0.69314718055994530942L, 1e-15));
	CHECK(near(bm25_idf(10, 1), 1.9924301646902061621L, 1e-15));
	CHECK(near(bm25_idf(10, 10), 0.046520015634892856979L, 1e-14));
	CHECK(near(bm25_idf(1000000, 3), 12.562748589468406L, 1e-14));

	/* df > N is clamped to N: finite, positive, no NaN. */
	CHECK(bm25_idf(5, 9) == bm25_idf(5, 5));
	CHECK(bm25_idf(0, 7) == bm25_idf(0, 0));
	CHECK(bm25_idf(3, UINT64_MAX) > 0.0);
	CHECK(!isnan(bm25_idf(UINT64_MAX, UINT64_MAX)));
	CHECK(bm25_idf(UINT64_MAX, 0) > 0.0);

	for (N = 0; N < 300; N += 7)
		for (df = 0; df <= N + 2; df++)
			CHECK(near(bm25_idf(N, df), ref_idf(N, df), 1e-14));

	/* Strictly decreasing in df, always positive. */
	N = 100000;
	prev = HUGE_VAL;
	for (df = 0; df <= N; df += (df < 100 ? 1 : 997))
	{
		double		v = bm25_idf(N, df);

		CHECK_MSG(v > 0.0 && v < prev, "idf(%llu, %llu) = %g", (unsigned long long) N,
				  (unsigned long long) df, v);
		prev = v;
	}
	CHECK(bm25_idf(N, N) > 0.0);
}

static void
test_tfpart_and_score(void)
{
	static const struct
	{
		double		k1;
		double		b;
		uint64_t	N;
		uint64_t	tokens;
	}			params[] =
	{
		{1.2, 0.75, 1000, 25000},
		{0.9, 0.4, 10, 57},
		{2.0, 1.0, 3, 3},
		{1.2, 0.0, 50, 1234},
		{0.0, 0.75, 50, 1234},
	};
	static const bm25_qterm terms[4] = {
		{"a", 1, BM25_SHOULD, 1}, {"b", 1, BM25_MUST, 1}, {"c", 1, BM25_MUST_NOT, 1}, {"d", 1, BM25_SHOULD, 1}
	};
	uint64_t	dfs[4] = {3, 500, 40, 999};
	double		idf[4];
	bm25_scorer s;
	size_t		p;

	/* Hand-computed: k1 = 1.2, b = 0.75, dl == avgdl gives tf*2.2/(tf+1.2). */
	bm25_scorer_init(&s, 1.2, 0.75, 4, 40, terms, 4, dfs, idf);
	CHECK(s.avgdl == 10.0);
	CHECK(near(bm25_tfpart(&s, 1, 10), 1.0L, 1e-15));
	CHECK(near(bm25_tfpart(&s, 2, 10), 1.375L, 1e-15));
	/* dl = 20: 3 * 2.2 / (3 + 1.2 * 1.75) = 6.6 / 5.1 */
	CHECK(near(bm25_tfpart(&s, 3, 20), 1.29411764705882352941L, 1e-15));
	/* avgdl fallbacks. */
	bm25_scorer_init(&s, 1.2, 0.75, 0, 0, terms, 4, dfs, idf);
	CHECK(s.avgdl == 1.0);
	bm25_scorer_init(&s, 1.2, 0.75, 5, 0, terms, 4, dfs, idf);
	CHECK(s.avgdl == 1.0);
	CHECK(idf[0] == bm25_idf(5, 3) && idf[1] == bm25_idf(5, 500));

	for (p = 0; p < sizeof(params) / sizeof(params[0]); p++)
	{
		long double avgdl = (long double) params[p].tokens / (long double) params[p].N;
		uint32_t	tf;
		uint32_t	dl;

		bm25_scorer_init(&s, params[p].k1, params[p].b, params[p].N, params[p].tokens,
						 terms, 4, dfs, idf);
		CHECK(s.avgdl == (double) params[p].tokens / (double) params[p].N);
		CHECK(s.nterms == 4 && s.terms == terms && s.idf == idf);
		for (tf = 1; tf < 60; tf += 3)
			for (dl = tf; dl < 400; dl += 17)
				CHECK_MSG(near(bm25_tfpart(&s, tf, dl),
							   ref_tfpart(params[p].k1, params[p].b, avgdl, tf, dl), 1e-14),
						  "tfpart k1 %g b %g tf %u dl %u", params[p].k1, params[p].b, tf, dl);

		/* Document scores: canonical sum of the present scoring terms. */
		{
			uint32_t	t1[4] = {2, 1, 0, 0};	/* a + b */
			uint32_t	t2[4] = {0, 3, 0, 5};	/* b + d */
			uint32_t	t3[4] = {1, 0, 0, 4};	/* MUST b missing */
			uint32_t	t4[4] = {1, 1, 1, 0};	/* MUST_NOT c present */
			uint32_t	t5[4] = {0, 0, 0, 0};
			double		expect;
			long double lexpect;

			expect = 0.0;
			expect += idf[0] * bm25_tfpart(&s, 2, 30);
			expect += idf[1] * bm25_tfpart(&s, 1, 30);
			CHECK(bm25_score_doc(&s, t1, 30) == expect);
			lexpect = ref_idf(params[p].N, 3) * ref_tfpart(params[p].k1, params[p].b, avgdl, 2, 30) +
				ref_idf(params[p].N, 500) * ref_tfpart(params[p].k1, params[p].b, avgdl, 1, 30);
			CHECK(near(bm25_score_doc(&s, t1, 30), lexpect, 1e-13));

			expect = 0.0;
			expect += idf[1] * bm25_tfpart(&s, 3, 12);
			expect += idf[3] * bm25_tfpart(&s, 5, 12);
			CHECK(bm25_score_doc(&s, t2, 12) == expect);
			CHECK(bm25_score_doc(&s, t2, 12) > 0.0);

			CHECK(bm25_score_doc(&s, t3, 12) == 0.0);
			CHECK(bm25_score_doc(&s, t4, 12) == 0.0);
			CHECK(bm25_score_doc(&s, t5, 12) == 0.0);
		}
	}

	/* A query of only excluded terms matches nothing. */
	{
		static const bm25_qterm neg[2] = {{"x", 1, BM25_MUST_NOT, 1}, {"y", 1, BM25_MUST_NOT, 1}};
		uint64_t	d2[2] = {1, 1};
		double		i2[2];
		uint32_t	tf0[2] = {0, 0};
		uint32_t	tf1[2] = {0, 1};

		bm25_scorer_init(&s, 1.2, 0.75, 10, 100, neg, 2, d2, i2);
		CHECK(bm25_score_doc(&s, tf0, 10) == 0.0);
		CHECK(bm25_score_doc(&s, tf1, 10) == 0.0);
	}
	/* SHOULD-only: one present term suffices; none present is 0. */
	{
		static const bm25_qterm sh[2] = {{"x", 1, BM25_SHOULD, 1}, {"y", 1, BM25_SHOULD, 1}};
		uint64_t	d2[2] = {1, 2};
		double		i2[2];
		uint32_t	tf0[2] = {0, 0};
		uint32_t	tf1[2] = {0, 1};

		bm25_scorer_init(&s, 1.2, 0.75, 10, 100, sh, 2, d2, i2);
		CHECK(bm25_score_doc(&s, tf0, 10) == 0.0);
		CHECK(bm25_score_doc(&s, tf1, 10) == i2[1] * bm25_tfpart(&s, 1, 10));
	}
}

static void
test_impact_bound(void)
{
	static const bm25_qterm terms[2] = {{"a", 1, BM25_SHOULD, 1}, {"b", 1, BM25_MUST, 1}};
	uint64_t	dfs[2] = {17, 4};
	double		idf[2];
	bm25_scorer s;
	unsigned long long seed = 7;
	int			iter;

	bm25_scorer_init(&s, 1.2, 0.75, 1000, 31000, terms, 2, dfs, idf);

	/* The empty set bounds nothing. */
	CHECK(bm25_impact_bound(&s, 0, NULL, 0) == 0.0);

	for (iter = 0; iter < 3000; iter++)
	{
		bm25_impact imp[BM25_MAX_IMPACTS];
		uint32_t	nimp = 1 + (uint32_t) (harness_rand(&seed) % BM25_MAX_IMPACTS);
		uint32_t	i = (uint32_t) (harness_rand(&seed) % 2);
		double		bound;
		double		best = 0.0;
		uint32_t	j;
		int			probe;

		for (j = 0; j < nimp; j++)
		{
			imp[j].tf = 1 + (uint32_t) (harness_rand(&seed) % 200);
			imp[j].dl = imp[j].tf + (uint32_t) (harness_rand(&seed) % 3000);
		}
		bound = bm25_impact_bound(&s, i, imp, nimp);
		for (j = 0; j < nimp; j++)
		{
			double		v = idf[i] * bm25_tfpart(&s, imp[j].tf, imp[j].dl);

			CHECK(bound >= v);
			if (v > best)
				best = v;
		}
		CHECK(bound == best);

		/* Every pair dominated by some impact (tf <=, dl >=) is bounded. */
		for (probe = 0; probe < 20; probe++)
		{
			const bm25_impact *m = &imp[harness_rand(&seed) % nimp];
			uint32_t	tf = 1 + (uint32_t) (harness_rand(&seed) % m->tf);
			uint32_t	dl = m->dl + (uint32_t) (harness_rand(&seed) % 5000);

			if (dl < tf)
				dl = tf;
			CHECK_MSG(bound >= idf[i] * bm25_tfpart(&s, tf, dl),
					  "bound %.17g < tf %u dl %u", bound, tf, dl);
		}
	}

	/* Extreme values keep tfpart monotone: tf up, dl down. */
	{
		bm25_impact big = {1000000, 1000000};
		double		bound = bm25_impact_bound(&s, 1, &big, 1);

		CHECK(bound >= idf[1] * bm25_tfpart(&s, 999999, 1000000));
		CHECK(bound >= idf[1] * bm25_tfpart(&s, 1000000, UINT32_MAX));
		CHECK(bound >= idf[1] * bm25_tfpart(&s, 1, 1000000));
		CHECK(isfinite(bound) && bound > 0.0);
	}
}

/*
 * A lexeme given qtf times weighs qtf times: weights are qtf * idf, a
 * single occurrence (qtf 1, or 0 from a caller that never normalized)
 * keeps the plain idf bit for bit, and bag-of-words semantics give a doc
 * with "a" given twice exactly twice the score of "a" given once.
 */
static void
test_query_tf(void)
{
	bm25_qterm	once[1] = {{"a", 1, BM25_SHOULD, 1}};
	bm25_qterm	zero[1] = {{"a", 1, BM25_SHOULD, 0}};
	bm25_qterm	twice[1] = {{"a", 1, BM25_SHOULD, 2}};
	bm25_qterm	mixed[2] = {{"a", 1, BM25_SHOULD, 3}, {"b", 1, BM25_MUST, 1}};
	uint64_t	dfs[2] = {40, 7};
	double		w1[1], w0[1], w2[1], wm[2];
	bm25_scorer s1, s0, s2, sm;
	uint32_t	tf[2] = {3, 2};
	uint32_t	dl;

	bm25_scorer_init(&s1, 1.2, 0.75, 1000, 50000, once, 1, dfs, w1);
	bm25_scorer_init(&s0, 1.2, 0.75, 1000, 50000, zero, 1, dfs, w0);
	bm25_scorer_init(&s2, 1.2, 0.75, 1000, 50000, twice, 1, dfs, w2);
	bm25_scorer_init(&sm, 1.2, 0.75, 1000, 50000, mixed, 2, dfs, wm);
	CHECK(w1[0] == bm25_idf(1000, 40));
	CHECK(w0[0] == w1[0]);
	CHECK(w2[0] == 2.0 * w1[0]);
	CHECK(wm[0] == 3.0 * bm25_idf(1000, 40) && wm[1] == bm25_idf(1000, 7));
	for (dl = 1; dl < 400; dl += 7)
	{
		CHECK(bm25_score_doc(&s2, tf, dl) == 2.0 * bm25_score_doc(&s1, tf, dl));
		CHECK(bm25_score_doc(&s0, tf, dl) == bm25_score_doc(&s1, tf, dl));
		CHECK(bm25_score_doc(&sm, tf, dl) ==
			  wm[0] * bm25_tfpart(&sm, 3, dl) + wm[1] * bm25_tfpart(&sm, 2, dl));
	}
}

void
suite_score(void)
{
	test_query_tf();
	test_idf();
	test_tfpart_and_score();
	test_impact_bound();
}
