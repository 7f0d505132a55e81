/*
 * harness.h
 *	  Minimal assertion harness for the core unit tests (no dependencies).
 *
 * Each test_*.c file defines one entry point listed in test_main.c.  A
 * failed CHECK records the failure and carries on, so one run reports
 * every broken assertion; the binary exits non-zero if any failed.
 */
#ifndef BM25_TEST_HARNESS_H
#define BM25_TEST_HARNESS_H

#include <stdio.h>

extern int	harness_checks;
extern int	harness_failures;

#define CHECK(cond) \
	do { \
		harness_checks++; \
		if (!(cond)) { \
			harness_failures++; \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		} \
	} while (0)

#define CHECK_MSG(cond, ...) \
	do { \
		harness_checks++; \
		if (!(cond)) { \
			harness_failures++; \
			fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
		} \
	} while (0)

/* Deterministic PRNG (splitmix64) so failures reproduce. */
static inline unsigned long long
harness_rand(unsigned long long *state)
{
	unsigned long long z = (*state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

#endif
