# bm25: BM25 full-text index access method for PostgreSQL (PGXS build).
#
#   make && sudo make install      build and install the extension
#   make core-check                core unit tests under ASan + UBSan
#   make core-fuzz                 short libFuzzer runs of the core parsers
#   scripts/test.sh                the whole suite (see README.md)
#   make relevance                 ranking quality (docs/relevance.md)
#   make corebench                 the top-k engine alone (docs/benchmarks.md)

EXTENSION = bm25
EXTVERSION = 0.1.0
MODULE_big = bm25

PG_CONFIG ?= pg_config

CORE_SRCS = $(sort $(wildcard src/core/*.c))
GLUE_SRCS = $(sort $(wildcard src/*.c src/access/*.c src/segment/*.c \
			  src/scoring/*.c src/planner/*.c src/wal/*.c src/workers/*.c))
OBJS = $(CORE_SRCS:.c=.o) $(GLUE_SRCS:.c=.o)

DATA = sql/bm25--$(EXTVERSION).sql

# pg_regress suite (sql/*.sql, expected/*.out); run by scripts/test.sh
# against a temporary instance that preloads the library.
REGRESS = $(patsubst sql/%.sql,%,$(filter-out sql/bm25--%,$(sort $(wildcard sql/*.sql))))
REGRESS_OPTS = --temp-config=$(srcdir)/test/regress.conf

PG_CPPFLAGS = -I$(srcdir)/src -I$(srcdir)/src/core
# -ffp-contract=off: the index path and the single-row path must round the
# same way, so no fused multiply-add may appear in scoring code.
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wno-sign-compare -ffp-contract=off

EXTRA_CLEAN = build

# Skip LLVM bitcode: the build then needs no clang, and JIT does not help
# an access method.  "override" because PGXS assigns with_llvm itself.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies; a changed struct must rebuild all.
$(OBJS): $(wildcard src/*.h src/*/*.h)

# ---------------------------------------------------------------------------
# Core (PostgreSQL-independent) tests, built outside the server.
# ---------------------------------------------------------------------------
CORE_CC ?= clang
CORE_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CORE_TEST_CFLAGS = -std=c99 -D_POSIX_C_SOURCE=200809L -g -O1 -Wall -Wextra -Werror \
	-ffp-contract=off -Isrc/core
CORE_TEST_SRCS = $(sort $(wildcard test/core/test_*.c))
CORE_FUZZ_SRCS = $(sort $(wildcard test/core/fuzz_*.c))
FUZZ_SECONDS ?= 20

build/core-tests: $(CORE_SRCS) $(CORE_TEST_SRCS) $(wildcard src/core/*.h test/core/*.h)
	@mkdir -p build
	$(CORE_CC) $(CORE_TEST_CFLAGS) $(CORE_SAN) -o $@ $(CORE_SRCS) $(CORE_TEST_SRCS) -lm

core-check: build/core-tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./build/core-tests

build/fuzz_%: test/core/fuzz_%.c $(CORE_SRCS)
	@mkdir -p build
	$(CORE_CC) $(CORE_TEST_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(CORE_SRCS) -lm

core-fuzz: $(patsubst test/core/fuzz_%.c,build/fuzz_%,$(CORE_FUZZ_SRCS))
	@for f in $^; do \
		echo "== $$f ($(FUZZ_SECONDS)s)"; \
		mkdir -p build/corpus/$$(basename $$f); \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/corpus/$$(basename $$f) || exit 1; \
	done

.PHONY: core-check core-fuzz

# PostgreSQL's CFLAGS come from the gcc it was built with; drop the flags
# clang does not know so that "make CC=clang" also builds with -Werror.
ifneq (,$(findstring clang,$(CC)))
override CFLAGS := $(filter-out -fexcess-precision=standard -Wno-format-truncation \
	-Wno-stringop-truncation -Wimplicit-fallthrough=3 -Wcast-function-type,$(CFLAGS)) \
	-Wimplicit-fallthrough -Wno-ignored-attributes
endif

# ---------------------------------------------------------------------------
# Benchmark (issue 5): bm25 vs GIN + ts_rank vs RUM vs Xapian on a corpus
# built from Debian's documentation packages.  See docs/benchmarks.md.
# BENCH_BM25=head|installed|REV measures another bm25 than the working tree.
# ---------------------------------------------------------------------------
bench:
	test/bench/run.sh

bench-small:
	test/bench/run.sh --small

# The top-k engine alone on a segment file, without PostgreSQL, optimized
# as the server build is; build/corebench-stats also counts windows,
# candidates and emitted hits.  Usage is in test/bench/corebench.c.
CORE_BENCH_CFLAGS = -std=gnu99 -O2 -g -ffp-contract=off -Wall -Wextra -Isrc/core

build/corebench: test/bench/corebench.c $(CORE_SRCS) $(wildcard src/core/*.h)
	@mkdir -p build
	$(CC) $(CORE_BENCH_CFLAGS) -o $@ $< $(CORE_SRCS) -lm

build/corebench-stats: test/bench/corebench.c $(CORE_SRCS) $(wildcard src/core/*.h)
	@mkdir -p build
	$(CC) $(CORE_BENCH_CFLAGS) -DBM25_TOPK_STATS -o $@ $< $(CORE_SRCS) -lm

corebench: build/corebench build/corebench-stats

.PHONY: bench bench-small corebench

# ---------------------------------------------------------------------------
# Ranking quality (nDCG@10 ...) of the installed bm25 on relevance-judged
# collections kept outside the repository (../shared/relevance, or
# BM25_RELEVANCE_DIR); skipped with a message when they are absent.  See
# docs/relevance.md.
# ---------------------------------------------------------------------------
relevance:
	test/relevance/run.sh

.PHONY: relevance
