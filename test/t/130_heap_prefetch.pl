#!/usr/bin/perl
# 130_heap_prefetch.pl - the Top-K scan requests the heap blocks of the next
# candidates ahead once a fetch has missed the shared buffers, and only then.
#
# The rows that match sit on different heap blocks (a wide filler column).
# After a restart the shared buffers are empty: the first fetch reads its
# block, so EXPLAIN ANALYZE must report heap prefetches, and the rows must be
# the ones a warm run returns.  Warm (same session, blocks now in shared
# buffers) and with effective_io_concurrency = 0 there must be none.

use strict;
use warnings;

use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# PG 15's Cluster->init runs pg_regress --config-auth unconditionally.
if (!$ENV{PG_REGRESS})
{
	my $pgxs = `pg_config --pgxs`;
	chomp $pgxs;
	$ENV{PG_REGRESS} = dirname(dirname($pgxs)) . '/test/regress/pg_regress';
}

my $node = PostgreSQL::Test::Cluster->new('prefetch');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'bm25'");
$node->start;

# 3000 rows of about 1 kB: a few per heap block.  Every 40th row holds the
# term, with a tf that varies, so the top 10 are spread over the table.
$node->safe_psql('postgres', q{
	CREATE EXTENSION bm25;
	CREATE TABLE docs (id int, body text, filler text);
	INSERT INTO docs
	SELECT i,
	       CASE WHEN i % 40 = 0
	            THEN repeat('needle ', 1 + (i / 40) % 7) || 'haystack ' || i
	            ELSE 'haystack straw ' || i END,
	       repeat('x', 1000)
	FROM generate_series(1, 3000) i;
	CREATE INDEX docs_bm25 ON docs USING bm25 (body);
	VACUUM ANALYZE docs;
});

my $query = q{SELECT id FROM docs WHERE body @@@ 'needle'
	ORDER BY bm25_score(body, 'needle') DESC LIMIT 10};
my $explain = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $query";

# The rows and the prefetch count of one session: cold first, then warm.
sub run_session
{
	my ($setting) = @_;
	my $out = $node->safe_psql('postgres', qq{
		$setting
		$explain;
		SELECT string_agg(id::text, ',') FROM ($query) q;
		$explain;
	});
	my @prefetches = ($out =~ /Heap Prefetches: (\d+)/g);
	my ($rows) = ($out =~ /^(\d+(?:,\d+)+)$/m);
	like($out, qr/Custom Scan \(BM25 Top-K\)/, "top-k plan ($setting)");
	is(scalar @prefetches, 2, "two EXPLAIN ANALYZE outputs ($setting)");
	return ($rows, @prefetches);
}

my $warm_rows = $node->safe_psql('postgres',
	"SELECT string_agg(id::text, ',') FROM ($query) q");
my @ids = split /,/, $warm_rows;
is(scalar @ids, 10, 'ten rows');
my $blocks = $node->safe_psql('postgres', qq{
	SELECT count(DISTINCT (ctid::text::point)[0]) FROM docs
	WHERE id IN ($warm_rows)});
cmp_ok($blocks, '>=', 5, "the ten rows are on $blocks heap blocks");

$node->restart;
my ($rows, $cold, $warm) = run_session('');
is($rows, $warm_rows, 'same rows after a restart');
cmp_ok($cold, '>', 0, "cold scan prefetched heap blocks ($cold)");
cmp_ok($cold, '<=', 10, 'no more than the candidates after the first fetch');
is($warm, 0, 'warm scan prefetches nothing');

$node->restart;
($rows, $cold, $warm) = run_session('SET effective_io_concurrency = 0;');
is($rows, $warm_rows, 'same rows with effective_io_concurrency = 0');
is($cold, 0, 'effective_io_concurrency = 0 turns prefetching off');

$node->stop;
done_testing();
