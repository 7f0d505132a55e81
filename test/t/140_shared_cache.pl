# The caches all backends share (bm25.shared_cache_slots, scoring/
# shcache.c).  With them off, queries answer and the statistics show no
# slots.  With a table of a single set of four slots, two clients that
# open a new connection for every query (so every analysis and lookup
# goes through the shared tables) run forty different queries at once,
# overwriting each other's entries all the time; every answer, ids and
# scores, must equal the one computed with the caches off.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('shcache');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'bm25'
bm25.shared_cache_slots = 0
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION bm25;
	CREATE TABLE docs (id int PRIMARY KEY, body text);
	INSERT INTO docs
	SELECT i, 'w' || (i % 37) || ' w' || (i % 53) || ' w' || (i % 11) || repeat(' filler', i % 7)
	  FROM generate_series(1, 3000) i;
	CREATE INDEX docs_bm25 ON docs USING bm25 (body) WITH (text_config = 'simple');
	-- the queries, with their answers quoted for pgbench to paste
	CREATE TABLE exp (i int PRIMARY KEY, q text, ids text);
});

# The top 10 (id and score) of query q, as one string.
sub answer_sql
{
	my ($q) = @_;
	return "SELECT coalesce(string_agg(id || ':' || s::text, ',' ORDER BY s DESC, id), '') "
	  . "FROM (SELECT id, bm25_score(body, $q) AS s FROM docs WHERE body @@@ $q "
	  . "ORDER BY bm25_score(body, $q) DESC, id LIMIT 10) x";
}

is( $node->safe_psql('postgres',
		"SELECT string_agg(cache || ' ' || slots || ' ' || hits || ' ' || stores, ', ' ORDER BY cache) FROM bm25_shared_cache_stats()"),
	'clauses 0 0 0, terms 0 0 0',
	'caches off: no slots, nothing counted');

for my $i (1 .. 40)
{
	my $q = "'w" . ($i % 37) . " w" . (($i * 7) % 53) . " filler'";
	my $ans = $node->safe_psql('postgres', "SET enable_seqscan = off; " . answer_sql($q));
	$node->safe_psql('postgres',
		"INSERT INTO exp VALUES ($i, quote_literal($q), quote_literal(\$a\$$ans\$a\$))");
}
is($node->safe_psql('postgres', "SELECT count(*) FROM exp WHERE ids <> quote_literal('')"),
	'40', 'every query has hits with the caches off');
is( $node->safe_psql('postgres',
		"SELECT sum(hits + misses + stores) FROM bm25_shared_cache_stats()"),
	'0', 'caches off: still nothing counted');

$node->append_conf('postgresql.conf', "bm25.shared_cache_slots = 4\n");
$node->restart;
is($node->safe_psql('postgres', "SELECT string_agg(slots::text, ',') FROM bm25_shared_cache_stats()"),
	'4,4', 'one set of four slots per cache');

my $check = q{
\set i random(1, 40)
SELECT q AS q, ids AS ids FROM exp WHERE i = :i \gset
SET enable_seqscan = off;
SELECT 1 / (CASE WHEN (ANSWER) = :ids THEN 1 ELSE 0 END) AS same_answer;
};
my $answer = answer_sql(':q');
$check =~ s/ANSWER/$answer/;

$node->pgbench(
	'--no-vacuum --connect --client=2 --jobs=2 --transactions=250',
	0,
	[qr{processed: 500/500}],
	[qr{^$}],
	'concurrent queries through a four-slot shared cache give the exact answers',
	{ '140_shared_cache_check' => $check });

my ($hits, $stores) = split /\|/, $node->safe_psql('postgres',
	"SELECT sum(hits), sum(stores) FROM bm25_shared_cache_stats()");
cmp_ok($stores, '>', 100, "entries kept being replaced ($stores stores)");
cmp_ok($hits, '>', 0, "and were found by other backends ($hits hits)");

$node->stop;
done_testing();
