# Crash safety of what exists today: a committed CREATE INDEX, REINDEX or
# VACUUM rewrite survives an immediate shutdown (segment files are fsync'd
# before the WAL record that publishes them), and a build killed halfway
# leaves no index and its files are swept away later.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'bm25'");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION bm25;
	CREATE TABLE docs (id int, body text);
	INSERT INTO docs SELECT i, 'alpha ' || (i % 50) || ' beta' || (i % 7) || ' w' || i
	  FROM generate_series(1, 20000) i;
});

my $q = "SELECT string_agg(id::text, ',' ORDER BY bm25_score(body, 'beta3 w17') DESC, id)
           FROM (SELECT id, body FROM docs WHERE body @@@ 'beta3 w17'
                  ORDER BY bm25_score(body, 'beta3 w17') DESC LIMIT 20) s";

for my $cycle (1 .. 3)
{
	$node->safe_psql('postgres', 'DROP INDEX IF EXISTS docs_bm25; CREATE INDEX docs_bm25 ON docs USING bm25 (body)');
	my $before = $node->safe_psql('postgres', $q);
	$node->stop('immediate');
	$node->start;
	is($node->safe_psql('postgres', $q), $before, "cycle $cycle: ranked results survive a crash after CREATE INDEX");
	is($node->safe_psql('postgres', "SELECT bm25_verify_index('docs_bm25')"), 't', "cycle $cycle: index verifies");
}

# VACUUM rewrite, then crash: the new manifest and file are both there.
$node->safe_psql('postgres', 'DELETE FROM docs WHERE id % 3 = 0; VACUUM docs');
my $after_vacuum = $node->safe_psql('postgres', $q);
my $docs = $node->safe_psql('postgres', "SELECT documents FROM bm25_index_stats('docs_bm25')");
is($docs, '13334', 'VACUUM removed the deleted rows from the statistics');
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', $q), $after_vacuum, 'results after VACUUM survive a crash');
is($node->safe_psql('postgres', "SELECT documents FROM bm25_index_stats('docs_bm25')"), $docs,
	'statistics after VACUUM survive a crash');

# A build killed in the middle (an immutable-declared slow function keeps it
# running): no index afterwards, and the other index is intact.
$node->safe_psql('postgres', q{
	CREATE FUNCTION slow_text(t text) RETURNS text IMMUTABLE LANGUAGE plpgsql
	AS $$ BEGIN PERFORM pg_sleep(0.0005); RETURN t; END $$;
});
my $bg = $node->background_psql('postgres');
$bg->query_safe("SET maintenance_work_mem = '1MB'");
$bg->query_until(qr/started/,
	"\\echo started\nCREATE INDEX docs_killed ON docs USING bm25 (slow_text(body));\n");
sleep(2);
$node->stop('immediate');
$bg->{run}->kill_kill;
$node->start;
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_class WHERE relname = 'docs_killed'"), '0',
	'killed build left no index');
is($node->safe_psql('postgres', $q), $after_vacuum, 'existing index unaffected by the killed build');

# A dropped index's directory is swept once its relfilenode's file is gone
# (after a checkpoint); any later build runs the sweep.
my $dbdir = $node->data_dir . '/bm25/' . $node->safe_psql('postgres',
	"SELECT oid FROM pg_database WHERE datname = 'postgres'");
my $dropped = $node->safe_psql('postgres', q{
	SELECT format('%s_%s', t.oid, c.relfilenode) FROM pg_class c, pg_tablespace t
	 WHERE c.relname = 'docs_bm25' AND t.spcname = 'pg_default'});
ok(-d "$dbdir/$dropped", 'index directory exists before DROP');
$node->safe_psql('postgres', 'DROP INDEX docs_bm25');
$node->safe_psql('postgres', 'CHECKPOINT');
$node->safe_psql('postgres', 'CREATE INDEX docs_bm25_b ON docs USING bm25 (body)');
ok(!-d "$dbdir/$dropped", 'dropped index directory swept by the next build');
my $live = $node->safe_psql('postgres', q{
	SELECT format('%s_%s', t.oid, c.relfilenode) FROM pg_class c, pg_tablespace t
	 WHERE c.relname = 'docs_bm25_b' AND t.spcname = 'pg_default'});
ok(-d "$dbdir/$live", 'live index directory kept');

$node->stop;
done_testing();
