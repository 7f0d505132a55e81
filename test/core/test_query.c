/*
 * test_query.c
 *	  Query parser and term normalization tests.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "query.h"

void		suite_query(void);

/* Parse s and compare against "occ:text" descriptors, e.g. "+:foo". */
static void
expect_ok(const char *s, size_t len, int n, const char *const *want)
{
	bm25_clause *cl = NULL;
	uint32_t	ncl = 12345;
	char		err[128];
	int			rc;
	int			i;

	rc = bm25_parse_query(s, len, &cl, &ncl, err, sizeof(err));
	CHECK_MSG(rc == BM25_OK, "query \"%s\": rc %d (%s)", s, rc, err);
	if (rc != BM25_OK)
		return;
	CHECK(cl != NULL);
	CHECK_MSG(ncl == (uint32_t) n, "query \"%s\": %u clauses, want %d", s, ncl, n);
	for (i = 0; i < n && i < (int) ncl; i++)
	{
		const char *w = want[i];
		bm25_occur	o = w[0] == '+' ? BM25_MUST : w[0] == '-' ? BM25_MUST_NOT : BM25_SHOULD;
		const char *t = w + 2;

		CHECK_MSG(cl[i].occur == o, "query \"%s\" clause %d occur %d", s, i, cl[i].occur);
		CHECK_MSG(cl[i].len == strlen(t) && memcmp(cl[i].text, t, cl[i].len) == 0,
				  "query \"%s\" clause %d is \"%.*s\", want \"%s\"", s, i,
				  (int) cl[i].len, cl[i].text, t);
		CHECK(cl[i].text >= s && cl[i].text + cl[i].len <= s + len);
	}
	free(cl);
}

/* Parse s, expecting an error with exactly the message want. */
static void
expect_err(const char *s, size_t len, int status, const char *want)
{
	bm25_clause *cl = (bm25_clause *) 0x1;
	uint32_t	ncl = 77;
	char		err[128];
	int			rc;

	memset(err, 'x', sizeof(err));
	rc = bm25_parse_query(s, len, &cl, &ncl, err, sizeof(err));
	CHECK_MSG(rc == status, "query \"%s\": rc %d want %d", s, rc, status);
	CHECK(cl == NULL);
	CHECK(ncl == 0);
	CHECK_MSG(strcmp(err, want) == 0, "query \"%s\": error \"%s\", want \"%s\"",
			  s, err, want);
}

#define OK(s, ...) do { \
		static const char *const w_[] = {"", __VA_ARGS__}; \
		expect_ok((s), strlen(s), (int) (sizeof(w_) / sizeof(w_[0])) - 1, w_ + 1); \
	} while (0)
#define OK0(s) expect_ok((s), strlen(s), 0, NULL)
#define ERR(s, msg) expect_err((s), strlen(s), BM25_EINVAL, (msg))

static void
test_parse_valid(void)
{
	bm25_clause *cl = NULL;
	uint32_t	n = 9;

	OK0("");
	OK0("   ");
	OK0(" \t\r\n\f\v ");
	OK("foo", " :foo");
	OK("  foo  ", " :foo");
	OK("foo bar", " :foo", " :bar");
	OK("+foo -bar baz", "+:foo", "-:bar", " :baz");
	OK("e-mail", " :e-mail");
	OK("x+ y- +a+b -c-d", " :x+", " :y-", "+:a+b", "-:c-d");
	OK("a\tb\nc\rd\fe\vf", " :a", " :b", " :c", " :d", " :e", " :f");
	OK("+'quoted' -it's", "+:'quoted'", "-:it's");
	OK("caf\xc3\xa9 +na\xc3\xafve", " :caf\xc3\xa9", "+:na\xc3\xafve");
	OK("+x+", "+:x+");
	OK("a+ -b+ c-+", " :a+", "-:b+", " :c-+");

	/* NULL query with zero length is an empty query. */
	CHECK(bm25_parse_query(NULL, 0, &cl, &n, NULL, 0) == BM25_OK);
	CHECK(n == 0 && cl != NULL);
	free(cl);
	/* Length bounds the input: text after len is ignored. */
	expect_ok("foo bar", 3, 1, (const char *const[]) {" :foo"});
	expect_ok("+foo -bar", 7, 2, (const char *const[]) {"+:foo", "-:b"});
}

static void
test_parse_invalid(void)
{
	char		err[8];
	bm25_clause *cl;
	uint32_t	n;

	ERR("+", "bare \"+\" at character 1");
	ERR("-", "bare \"-\" at character 1");
	ERR("foo +", "bare \"+\" at character 5");
	ERR("foo + bar", "bare \"+\" at character 5");
	ERR("foo\t-\tbar", "bare \"-\" at character 5");
	ERR("++x", "doubled prefix \"++\" at character 1");
	ERR("a +-x", "doubled prefix \"+-\" at character 3");
	ERR("a --x", "doubled prefix \"--\" at character 3");
	ERR("a -+", "doubled prefix \"-+\" at character 3");
	ERR("-+", "doubled prefix \"-+\" at character 1");
	ERR("a \"b c\"", "phrase queries (double quotes) are not supported yet, at character 3");
	ERR("ab\"", "phrase queries (double quotes) are not supported yet, at character 3");
	ERR("+\"x", "phrase queries (double quotes) are not supported yet, at character 2");
	ERR("-\"", "phrase queries (double quotes) are not supported yet, at character 2");
	/* Positions count characters, not bytes. */
	ERR("caf\xc3\xa9 +", "bare \"+\" at character 6");
	ERR("\xe2\x82\xac\xe2\x82\xac \"", "phrase queries (double quotes) are not supported yet, at character 4");
	/* The first error wins. */
	ERR("a \" +", "phrase queries (double quotes) are not supported yet, at character 3");
	ERR("+ \"", "bare \"+\" at character 1");
	expect_err("ab\0cd", 5, BM25_EINVAL, "NUL byte at character 3");
	expect_err("\0", 1, BM25_EINVAL, "NUL byte at character 1");
	expect_err("+\0", 2, BM25_EINVAL, "NUL byte at character 2");
	expect_err("x \0", 3, BM25_EINVAL, "NUL byte at character 3");

	/* A short error buffer is truncated, still terminated. */
	CHECK(bm25_parse_query("a +", 3, &cl, &n, err, sizeof(err)) == BM25_EINVAL);
	CHECK(strlen(err) == sizeof(err) - 1 && strncmp(err, "bare \"+", 7) == 0);
	/* No error buffer at all is fine. */
	CHECK(bm25_parse_query("a +", 3, &cl, &n, NULL, 0) == BM25_EINVAL);
	CHECK(bm25_parse_query(NULL, 3, &cl, &n, NULL, 0) == BM25_EINVAL);
}

/* Build a qterm array from "occ:text" descriptors. */
static uint32_t
make_terms(bm25_qterm *t, const char *const *d, uint32_t n)
{
	uint32_t	i;

	for (i = 0; i < n; i++)
	{
		t[i].occur = d[i][0] == '+' ? BM25_MUST : d[i][0] == '-' ? BM25_MUST_NOT : BM25_SHOULD;
		t[i].text = d[i] + 2;
		t[i].len = (uint32_t) strlen(d[i] + 2);
		t[i].qtf = 0;
	}
	return n;
}

/* Normalize in[] and compare against want[]. */
static void
expect_norm(const char *const *in, uint32_t nin, const char *const *want, uint32_t nwant)
{
	bm25_qterm	t[32];
	bm25_qterm	w[32];
	uint32_t	n = make_terms(t, in, nin);
	uint32_t	i;

	make_terms(w, want, nwant);
	bm25_query_normalize(t, &n);
	CHECK_MSG(n == nwant, "normalize: %u terms, want %u", n, nwant);
	for (i = 0; i < n && i < nwant; i++)
	{
		CHECK_MSG(t[i].len == w[i].len && memcmp(t[i].text, w[i].text, w[i].len) == 0,
				  "normalize: term %u is \"%.*s\", want \"%.*s\"", i,
				  (int) t[i].len, t[i].text, (int) w[i].len, w[i].text);
		CHECK_MSG(t[i].occur == w[i].occur, "normalize: term %u occur %d want %d",
				  i, t[i].occur, w[i].occur);
	}
}

#define NORM(in, want) expect_norm((in), sizeof(in) / sizeof((in)[0]), \
								   (want), sizeof(want) / sizeof((want)[0]))

static void
test_normalize(void)
{
	uint32_t	n = 0;
	bm25_qterm	t[4];

	{
		static const char *const in[] = {" :b", " :a", " :c"};
		static const char *const want[] = {" :a", " :b", " :c"};

		NORM(in, want);
	}
	{
		/* A prefix sorts first; bytes compare unsigned. */
		static const char *const in[] = {" :ab", " :a", " :\xc3\xa9", " :z", " :abc", " :B"};
		static const char *const want[] = {" :B", " :a", " :ab", " :abc", " :z", " :\xc3\xa9"};

		NORM(in, want);
	}
	{
		/* Precedence: MUST_NOT > MUST > SHOULD, in any input order. */
		static const char *const in[] = {
			" :x", "+:x", " :y", "-:y", "+:z", "-:z", " :z",
			"+:w", " :w", " :v", " :v", "-:u", "+:u", "+:t", "+:t"
		};
		static const char *const want[] = {
			"+:t", "-:u", " :v", "+:w", "+:x", "-:y", "-:z"
		};

		NORM(in, want);
	}
	{
		/* qtf counts every occurrence merged into a term, any occurrence. */
		static const char *const in[] = {
			" :x", "+:x", " :y", "-:y", "+:z", "-:z", " :z", " :v", " :v",
			" :w", " :v", "+:t"
		};
		static const uint32_t want_qtf[] = {1, 3, 1, 2, 2, 3};	/* t v w x y z */
		bm25_qterm	q[16];
		uint32_t	nq = make_terms(q, in, sizeof(in) / sizeof(in[0]));
		uint32_t	i;

		q[0].qtf = 77;			/* an incoming qtf is not trusted */
		bm25_query_normalize(q, &nq);
		CHECK(nq == 6);
		for (i = 0; i < nq && i < 6; i++)
			CHECK_MSG(q[i].qtf == want_qtf[i], "normalize: term %.*s qtf %u, want %u",
					  (int) q[i].len, q[i].text, q[i].qtf, want_qtf[i]);
	}
	{
		static const char *const in[] = {"-:q", " :q", "+:q"};
		static const char *const want[] = {"-:q"};

		NORM(in, want);
	}
	{
		/* The empty string is a term like any other and sorts first. */
		static const char *const in[] = {" :a", "+:", " :"};
		static const char *const want[] = {"+:", " :a"};

		NORM(in, want);
	}

	bm25_query_normalize(NULL, &n);
	bm25_query_normalize(t, &n);
	CHECK(n == 0);

	make_terms(t, (const char *const[]) {" :a", "+:b", "-:c", "+:d"}, 4);
	CHECK(bm25_query_count(t, 4, BM25_SHOULD) == 1);
	CHECK(bm25_query_count(t, 4, BM25_MUST) == 2);
	CHECK(bm25_query_count(t, 4, BM25_MUST_NOT) == 1);
	CHECK(bm25_query_count(t, 0, BM25_MUST) == 0);
}

/* Random strings over a small alphabet: the parser never misbehaves. */
static void
test_parse_random(void)
{
	static const char alpha[] = "ab+-\" \t\0\xc3\xa9";
	unsigned long long seed = 42;
	int			iter;

	for (iter = 0; iter < 20000; iter++)
	{
		char		q[24];
		size_t		len = (size_t) (harness_rand(&seed) % sizeof(q));
		size_t		i;
		bm25_clause *cl = NULL;
		uint32_t	n = 0;
		char		err[128];
		int			rc;
		int			has_bad = 0;

		for (i = 0; i < len; i++)
		{
			q[i] = alpha[harness_rand(&seed) % (sizeof(alpha) - 1)];
			if (q[i] == '"' || q[i] == '\0')
				has_bad = 1;
		}
		rc = bm25_parse_query(q, len, &cl, &n, err, sizeof(err));
		if (has_bad)
			CHECK(rc == BM25_EINVAL);
		if (rc == BM25_OK)
		{
			uint32_t	j;
			size_t		total = 0;

			for (j = 0; j < n; j++)
			{
				CHECK(cl[j].len >= 1);
				CHECK(cl[j].text >= q && cl[j].text + cl[j].len <= q + len);
				if (cl[j].occur != BM25_SHOULD)
					CHECK(cl[j].text[-1] == (cl[j].occur == BM25_MUST ? '+' : '-'));
				if (cl[j].occur == BM25_SHOULD && cl[j].len >= 1)
					CHECK(cl[j].text[0] != '+' && cl[j].text[0] != '-');
				total += cl[j].len;
			}
			CHECK(total <= len);
			free(cl);
		}
		else
		{
			CHECK(rc == BM25_EINVAL);
			CHECK(cl == NULL && n == 0);
			CHECK(strstr(err, " at character ") != NULL);
		}
	}
}

void
suite_query(void)
{
	test_parse_valid();
	test_parse_invalid();
	test_normalize();
	test_parse_random();
}
