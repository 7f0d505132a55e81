/*
 * test_main.c
 *	  Runs every core unit test suite and prints a closing tally.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"

int			harness_checks = 0;
int			harness_failures = 0;

typedef void (*suite_fn) (void);

/* Each suite lives in its own test_*.c file. */
extern void suite_crc_codec(void);
extern void suite_segment(void);
extern void suite_query(void);
extern void suite_score(void);
extern void suite_topk(void);

static const struct
{
	const char *name;
	suite_fn	fn;
}			suites[] =
{
	{"crc_codec", suite_crc_codec},
	{"segment", suite_segment},
	{"query", suite_query},
	{"score", suite_score},
	{"topk", suite_topk},
};

int
main(int argc, char **argv)
{
	int			passed = 0;
	int			failed = 0;

	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
	{
		int			before = harness_failures;
		int			checks = harness_checks;

		if (argc > 1 && strcmp(argv[1], suites[i].name) != 0)
			continue;
		suites[i].fn();
		if (harness_failures == before)
			passed++;
		else
			failed++;
		printf("%-10s %s (%d checks)\n", suites[i].name,
			   harness_failures == before ? "ok" : "FAILED",
			   harness_checks - checks);
	}
	printf("core: %d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
