# A streaming standby returns the same results as the primary after
# catch-up, across index builds, real-time inserts, write buffer
# conversions, merges, deletes + VACUUM rewrites, REINDEX and DROP; then it
# is promoted and keeps writing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'bm25'");
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION bm25;
	CREATE TABLE docs (id int PRIMARY KEY, body text);
	INSERT INTO docs SELECT i, 'alpha ' || (i % 50) || ' beta' || (i % 7) || ' w' || i
	  FROM generate_series(1, 5000) i;
	CREATE INDEX docs_bm25 ON docs USING bm25 (body) WITH (write_buffer_docs = 50);
});

$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;

my @queries = ('beta3', 'alpha 7 beta2', '+beta1 w42', 'w4999 w1 w2 w3', 'gamma', 'new');
sub ranked
{
	my ($node) = @_;
	my $out = '';
	for my $q (@queries)
	{
		$out .= $node->safe_psql('postgres', qq{
			SELECT '$q: ' || coalesce(string_agg(id || '=' || s, ' '), '') FROM (
			  SELECT id, bm25_score(body, '$q') AS s FROM docs WHERE body @@@ '$q'
			   ORDER BY bm25_score(body, '$q') DESC LIMIT 15) x}) . "\n";
	}
	$out .= $node->safe_psql('postgres',
		"SELECT documents || ' ' || total_tokens FROM bm25_index_stats('docs_bm25')");
	return $out;
}

sub check_same
{
	my ($name) = @_;
	$primary->wait_for_catchup($standby);
	my $p = ranked($primary);
	is(ranked($standby), $p, "standby matches primary: $name");
	is($standby->safe_psql('postgres', "SELECT bm25_verify_index('docs_bm25')"), 't',
		"standby index verifies: $name");
}

check_same('after initial build');

# Real-time inserts: write buffer only, then conversions and merges.
$primary->safe_psql('postgres', q{
	INSERT INTO docs SELECT i, 'new gamma ' || i || ' beta3' FROM generate_series(5001, 5030) i});
check_same('write buffer');
$primary->safe_psql('postgres', q{
	INSERT INTO docs SELECT i, 'new gamma ' || i || ' alpha 7' FROM generate_series(5031, 5400) i});
my $segs = $primary->safe_psql('postgres', "SELECT segments FROM bm25_index_stats('docs_bm25')");
cmp_ok($segs, '>=', 2, "conversions created segments ($segs)");
check_same('after conversions and merges');

# Deletes + VACUUM rewrite segments and unlink the old files.
$primary->safe_psql('postgres', 'DELETE FROM docs WHERE id % 4 = 0; VACUUM docs');
check_same('after delete + VACUUM');

# The standby's directory holds exactly the files the manifest lists.
sub seg_files
{
	my ($node) = @_;
	my $dir = $node->safe_psql('postgres', q{
		SELECT format('bm25/%s/%s_%s', d.oid, t.oid, c.relfilenode)
		  FROM pg_class c, pg_database d, pg_tablespace t
		 WHERE c.relname = 'docs_bm25' AND d.datname = current_database()
		   AND t.spcname = 'pg_default'});
	opendir(my $dh, $node->data_dir . "/$dir") or return 'missing';
	my @f = sort grep { /^seg_/ } readdir($dh);
	closedir($dh);
	return join(',', @f);
}
is(seg_files($standby), seg_files($primary), 'standby has the same segment files as the primary');

# REINDEX gives new storage; the standby follows.
$primary->safe_psql('postgres', 'REINDEX INDEX docs_bm25');
check_same('after REINDEX');

# A second index, then DROP of the first.
$primary->safe_psql('postgres', q{
	CREATE INDEX docs_bm25_simple ON docs USING bm25 (body) WITH (text_config = 'simple');
	DROP INDEX docs_bm25_simple});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', "SELECT count(*) FROM pg_class WHERE relname = 'docs_bm25_simple'"),
	'0', 'DROP INDEX replayed');
check_same('after CREATE + DROP of another index');

# CREATE DATABASE from a template with bm25 indexes copies the segment
# files, on the primary and, through WAL, on the standby.
for my $strategy ('WAL_LOG', 'FILE_COPY')
{
	my $db = 'copy_' . lc($strategy);
	$primary->safe_psql('postgres', "CREATE DATABASE $db TEMPLATE postgres STRATEGY $strategy");
	$primary->wait_for_catchup($standby);
	my $expect = $primary->safe_psql($db, "SELECT count(*) FROM docs WHERE body @@@ 'beta3'");
	cmp_ok($expect, '>', 0, "$strategy copy: primary finds rows");
	is($standby->safe_psql($db, "SELECT count(*) FROM docs WHERE body @@@ 'beta3'"), $expect,
		"$strategy copy: standby finds the same rows");
	is($standby->safe_psql($db, "SELECT bm25_verify_index('docs_bm25')"), 't',
		"$strategy copy: standby index verifies");
}

# Promote, keep writing, and queries still work and agree with a REINDEX.
$standby->promote;
$standby->safe_psql('postgres', q{
	INSERT INTO docs SELECT i, 'after promotion beta3 ' || i FROM generate_series(9001, 9120) i});
is($standby->safe_psql('postgres', "SELECT count(*) FROM docs WHERE body @@@ 'promotion'"), '120',
	'promoted standby indexes new rows');
my $before = $standby->safe_psql('postgres', q{
	SELECT string_agg(id || '=' || bm25_score(body, 'beta3 promotion'), ' ' ORDER BY id)
	  FROM docs WHERE body @@@ 'beta3 promotion'});
$standby->safe_psql('postgres', 'VACUUM docs; REINDEX INDEX docs_bm25');
is($standby->safe_psql('postgres', q{
	SELECT string_agg(id || '=' || bm25_score(body, 'beta3 promotion'), ' ' ORDER BY id)
	  FROM docs WHERE body @@@ 'beta3 promotion'}), $before,
	'scores on the promoted standby equal a fresh REINDEX');

$standby->stop;
$primary->stop;
done_testing();
