#!/usr/bin/perl
# 110_parallel.pl - parallel query (issue 4): a parallel plan returns the
# same rows and scores as a serial one, for ranked and unranked queries,
# with bm25_score and @@@ evaluated in the workers.  Corpus statistics are
# global to the index (read from its metapage), never per worker.
#
# Parallelism is forced with zero setup/tuple costs and
# min_parallel_table_scan_size = 0; the plan must show a Gather (or Gather
# Merge) and "Workers Launched" > 0 under EXPLAIN ANALYZE.  debug_parallel_query
# is called force_parallel_mode in PostgreSQL 15 and is used for one extra
# pass (it puts a Gather on top of any parallel-safe plan, including the
# top-k scan's Limit when it is parallel safe).
use strict;
use warnings;

use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

if (!$ENV{PG_REGRESS})
{
	my $pgxs = `pg_config --pgxs`;
	chomp $pgxs;
	$ENV{PG_REGRESS} = dirname(dirname($pgxs)) . '/test/regress/pg_regress';
}

my $node = PostgreSQL::Test::Cluster->new('par');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'bm25'
autovacuum = off
log_statement = none
max_worker_processes = 8
max_parallel_workers = 8
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION bm25;
SELECT setseed(0.11);
CREATE TABLE docs (id int PRIMARY KEY, category int, body text);
INSERT INTO docs
SELECT i, i % 10,
       (SELECT string_agg('w' || floor(exp(random() * ln(500)))::int, ' ')
          FROM generate_series(1, 2 + (random() * 12)::int + 0 * i))
  FROM generate_series(1, 30000) i;
CREATE INDEX docs_bm25 ON docs USING bm25 (body) WITH (write_buffer_docs = 2000);
-- writes after the build: write buffer, segments, dead rows
INSERT INTO docs SELECT 100000 + i, i % 10, 'w1 w2 w3 w' || (i % 50) FROM generate_series(1, 3000) i;
DELETE FROM docs WHERE id % 29 = 0;
UPDATE docs SET body = body || ' w7' WHERE id % 31 = 0;
ANALYZE docs;
});

my $SERIAL = q{SET max_parallel_workers_per_gather = 0; SET extra_float_digits = 1;};
my $PARALLEL = q{SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET min_parallel_index_scan_size = 0; SET parallel_leader_participation = off;
SET extra_float_digits = 1;};
# Make the serial and parallel plans scan the table (not the bm25 index),
# so that the workers evaluate @@@ and bm25_score row by row.
my $NOINDEX = q{SET enable_indexscan = off; SET enable_bitmapscan = off;};

# [name, SQL, SQL in scan form].  The scan form computes the same rows with
# the ranking in an OFFSET 0 subquery, so the top-k custom scan (which is
# not disabled by enable_indexscan/enable_bitmapscan) cannot be used and a
# (parallel) sequential scan evaluates @@@ and bm25_score row by row.  Sums
# of scores are not compared: float addition depends on the order in which
# workers combine partial sums.
my @queries = (
	[ 'unranked score', q{SELECT id, bm25_score(body, 'w3 w17') FROM docs WHERE body @@@ 'w3 w17' ORDER BY id} ],
	[ 'unranked, filter', q{SELECT id, bm25_score(body, '+w2 w40') FROM docs WHERE body @@@ '+w2 w40' AND category < 5 ORDER BY id} ],
	[ 'count', q{SELECT count(*), min(bm25_score(body, 'w5 w9 -w1')), max(bm25_score(body, 'w5 w9 -w1')) FROM docs WHERE body @@@ 'w5 w9 -w1'} ],
	[ 'aggregate by category', q{SELECT category, count(*), max(bm25_score(body, 'w12')) FROM docs WHERE body @@@ 'w12' GROUP BY category ORDER BY category} ],
	[ 'ranked top 50',
	  q{SELECT id, bm25_score(body, 'w1 w4 w30') FROM docs WHERE body @@@ 'w1 w4 w30' ORDER BY bm25_score(body, 'w1 w4 w30') DESC, id LIMIT 50},
	  q{SELECT id, s FROM (SELECT id, bm25_score(body, 'w1 w4 w30') s FROM docs WHERE body @@@ 'w1 w4 w30' OFFSET 0) x ORDER BY s DESC, id LIMIT 50} ],
	[ 'ranked filtered',
	  q{SELECT id, bm25_score(body, 'w6 w60') FROM docs WHERE body @@@ 'w6 w60' AND id % 100 = 7 ORDER BY 2 DESC, id LIMIT 20},
	  q{SELECT id, s FROM (SELECT id, bm25_score(body, 'w6 w60') s FROM docs WHERE body @@@ 'w6 w60' AND id % 100 = 7 OFFSET 0) x ORDER BY s DESC, id LIMIT 20} ],
	[ 'ranked all',
	  q{SELECT id, bm25_score(body, 'w250 w251 w252') FROM docs WHERE body @@@ 'w250 w251 w252' ORDER BY 2 DESC, id},
	  q{SELECT id, s FROM (SELECT id, bm25_score(body, 'w250 w251 w252') s FROM docs WHERE body @@@ 'w250 w251 w252' OFFSET 0) x ORDER BY s DESC, id} ],
	[ 'ranked join',
	  q{SELECT d.id, bm25_score(d.body, 'w8') FROM docs d JOIN docs e ON e.id = d.id + 1 WHERE d.body @@@ 'w8' AND e.category = 3 ORDER BY 2 DESC, d.id LIMIT 30},
	  q{SELECT id, s FROM (SELECT d.id, bm25_score(d.body, 'w8') s FROM docs d JOIN docs e ON e.id = d.id + 1 WHERE d.body @@@ 'w8' AND e.category = 3 OFFSET 0) x ORDER BY s DESC, id LIMIT 30} ],
);

sub run { my ($set, $sql) = @_; return $node->safe_psql('postgres', "$set\n$sql"); }

my $nparallel = 0;
for my $q (@queries)
{
	my ($name, $sql, $scan) = @$q;
	$scan //= $sql;
	my $serial = run("$SERIAL $NOINDEX", $scan);
	my $plan = run("$PARALLEL $NOINDEX", "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $scan");
	like($plan, qr/Gather/, "$name: parallel plan has a Gather");
	my ($launched) = $plan =~ /Workers Launched: (\d+)/;
	cmp_ok($launched // 0, '>', 0, "$name: workers launched");
	$nparallel++ if ($launched // 0) > 0;
	my $par = run("$PARALLEL $NOINDEX", $scan);
	ok($serial ne '', "$name: non-empty result");
	is($par, $serial, "$name: parallel rows and scores equal serial");

	# the index paths (top-k scan, index scans) without forcing: same result
	my $idx = run($SERIAL, $sql);
	is($idx, $serial, "$name: index path equals the serial scan");
	my $idxpar = run($PARALLEL, $sql);
	is($idxpar, $serial, "$name: index path with parallel settings equals the serial scan");
}

# The ranked shape itself (ties broken by the scan) under parallel settings:
# whatever plan is chosen must give the serial top-k result.
my $ranked = q{SELECT id, bm25_score(body, 'w1 w2') FROM docs WHERE body @@@ 'w1 w2'
  ORDER BY bm25_score(body, 'w1 w2') DESC LIMIT 40};
my $ranked_ref = q{SELECT id, s FROM (SELECT id, ctid c, bm25_score(body, 'w1 w2') s FROM docs
  WHERE body @@@ 'w1 w2' OFFSET 0) x ORDER BY s DESC, c LIMIT 40};
my $want = run("$SERIAL $NOINDEX", $ranked_ref);
my $plan = run($PARALLEL, "EXPLAIN (COSTS OFF) $ranked");
like($plan, qr/BM25 Top-K/, 'ranked query under parallel settings uses the top-k scan');
is(run($PARALLEL, $ranked), $want, 'top-k under parallel settings equals the reference');
is(run("$PARALLEL SET force_parallel_mode = on;", $ranked), $want,
	'top-k with force_parallel_mode = on equals the reference');
my $fplan = run("$PARALLEL SET force_parallel_mode = on;", "EXPLAIN (COSTS OFF) $ranked");
note("force_parallel_mode plan:\n$fplan");

# force_parallel_mode: every query again (scan form), in a worker.
for my $q (@queries)
{
	my ($name, $sql, $scan) = @$q;
	$scan //= $sql;
	my $serial = run("$SERIAL $NOINDEX", $scan);
	is(run("$PARALLEL $NOINDEX SET force_parallel_mode = on;", $scan), $serial,
		"$name: force_parallel_mode equals serial");
}

# Statistics are global: a score computed in a worker for one row equals the
# score computed in the leader for that row, for rows of every segment and
# the write buffer.
my $cmp = q{SELECT count(*) FILTER (WHERE p.s IS DISTINCT FROM l.s), count(*)
  FROM (SELECT id, bm25_score(body, 'w1 w3 w5') s FROM docs WHERE body @@@ 'w1 w3 w5') p
  JOIN LATERAL (SELECT bm25_score(d2.body, 'w1 w3 w5') s FROM docs d2 WHERE d2.id = p.id OFFSET 0) l ON true};
my ($ndiff, $n) = split /\|/, run("$PARALLEL $NOINDEX SET enable_nestloop = on;", $cmp);
cmp_ok($n, '>', 1000, "worker/leader score comparison covers $n rows");
is($ndiff, 0, 'scores computed in workers equal scores computed per row');

diag("parallel: $nparallel of " . scalar(@queries) . " queries ran with workers launched");
$node->stop;
done_testing();
