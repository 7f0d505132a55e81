/*
 * synth.c - synthetic corpus for scale runs, fitted to the real corpus.
 *
 *   synth FITDIR NDOCS SEED > synthetic.tsv
 *
 * FITDIR is the output of test/bench/synth_fit.py (vocab.tsv, dl.tsv,
 * fit.tsv).  The vocabulary has V = heaps_k * T^heaps_beta terms, T being
 * the expected number of tokens of NDOCS documents; term r (1-based) is
 * drawn with probability proportional to r^-zipf_s.  Ranks covered by the
 * real corpus use its lexemes (by collection frequency), further ranks get
 * made-up words ("zq" + base-26 digits).  Document lengths are drawn from
 * the real corpus's length histogram.  Output: the run.sh corpus format
 * "id \t synth \t synthetic \t body", streamed; memory is O(V), not
 * O(NDOCS).  The generator is xoshiro256** seeded by splitmix64(SEED), so
 * the output depends only on the inputs.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t s[4];

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
next(void)
{
	uint64_t	r = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

static double
uniform(void)
{
	return (next() >> 11) * 0x1.0p-53;
}

static void
seed(uint64_t x)
{
	for (int i = 0; i < 4; i++)
	{
		uint64_t	z = (x += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		s[i] = z ^ (z >> 31);
	}
}

/* index of the first cdf[i] > u (cdf ascending, cdf[n-1] == 1) */
static size_t
search(const double *cdf, size_t n, double u)
{
	size_t		lo = 0,
				hi = n - 1;

	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static FILE *
open_in(const char *dir, const char *name)
{
	char		path[4096];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
	{
		perror(path);
		exit(2);
	}
	return f;
}

int
main(int argc, char **argv)
{
	const char *dir;
	long		ndocs;
	double		zs = 1.0,
				hk = 1.0,
				hb = 0.5;
	char		line[8192];
	FILE	   *f;
	char	  **words = NULL;
	size_t		nwords = 0,
				capw = 0;
	double	   *dlcdf = NULL;
	int		   *dlval = NULL;
	size_t		ndl = 0,
				capdl = 0;
	double		meandl = 0,
				dltot = 0;
	size_t		V;
	double	   *cdf;
	char		buf[64];

	if (argc != 4)
	{
		fprintf(stderr, "usage: synth FITDIR NDOCS SEED > out.tsv\n");
		return 2;
	}
	dir = argv[1];
	ndocs = atol(argv[2]);
	seed(strtoull(argv[3], NULL, 10));

	f = open_in(dir, "fit.tsv");
	while (fgets(line, sizeof(line), f))
	{
		char		k[64];
		double		v;

		if (sscanf(line, "%63s %lf", k, &v) != 2)
			continue;
		if (strcmp(k, "zipf_s") == 0)
			zs = v;
		else if (strcmp(k, "heaps_k") == 0)
			hk = v;
		else if (strcmp(k, "heaps_beta") == 0)
			hb = v;
	}
	fclose(f);

	f = open_in(dir, "vocab.tsv");
	while (fgets(line, sizeof(line), f))
	{
		char	   *a = strchr(line, '\t'),
				   *b;

		if (!a || !(b = strchr(a + 1, '\t')))
			continue;
		*b = 0;
		if (nwords == capw)
			words = realloc(words, sizeof(char *) * (capw = capw ? capw * 2 : 65536));
		words[nwords++] = strdup(a + 1);
	}
	fclose(f);

	f = open_in(dir, "dl.tsv");
	while (fgets(line, sizeof(line), f))
	{
		int			v;
		double		c;

		if (sscanf(line, "%d %lf", &v, &c) != 2)
			continue;
		if (ndl == capdl)
		{
			capdl = capdl ? capdl * 2 : 1024;
			dlcdf = realloc(dlcdf, sizeof(double) * capdl);
			dlval = realloc(dlval, sizeof(int) * capdl);
		}
		dlval[ndl] = v;
		dltot += c;
		meandl += c * v;
		dlcdf[ndl++] = dltot;
	}
	fclose(f);
	if (ndl == 0 || nwords == 0)
	{
		fprintf(stderr, "synth: empty fit\n");
		return 2;
	}
	for (size_t i = 0; i < ndl; i++)
		dlcdf[i] /= dltot;
	dlcdf[ndl - 1] = 1.0;
	meandl /= dltot;

	V = (size_t) (hk * pow((double) ndocs * meandl, hb));
	if (V < 1000)
		V = 1000;
	cdf = malloc(sizeof(double) * V);
	if (!cdf)
		return 2;
	{
		double		acc = 0;

		for (size_t r = 0; r < V; r++)
			cdf[r] = (acc += pow((double) (r + 1), -zs));
		for (size_t r = 0; r < V; r++)
			cdf[r] /= acc;
		cdf[V - 1] = 1.0;
	}
	fprintf(stderr, "synth: %ld docs, mean length %.1f, vocabulary %zu "
			"(%zu real), zipf s %.3f\n", ndocs, meandl, V,
			V < nwords ? V : nwords, zs);

	for (long d = 1; d <= ndocs; d++)
	{
		int			len = dlval[search(dlcdf, ndl, uniform())];

		printf("%ld\tsynth\tsynthetic\t", d);
		for (int i = 0; i < len; i++)
		{
			size_t		r = search(cdf, V, uniform());
			const char *w;

			if (r < nwords)
				w = words[r];
			else
			{
				/* made-up word: "zq" + base-26 digits of the rank */
				size_t		x = r;
				int			p = sizeof(buf) - 1;

				buf[p] = 0;
				do
				{
					buf[--p] = 'a' + x % 26;
					x /= 26;
				} while (x);
				buf[--p] = 'q';
				buf[--p] = 'z';
				w = buf + p;
			}
			if (i)
				putchar(' ');
			fputs(w, stdout);
		}
		putchar('\n');
	}
	return 0;
}
