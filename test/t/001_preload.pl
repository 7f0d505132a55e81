# Without shared_preload_libraries = 'bm25' every entry point refuses to
# work, saying exactly that, with a hint.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('nopreload');
$node->init;
$node->start;

my ($ret, $out, $err) = $node->psql('postgres', 'CREATE EXTENSION bm25');
isnt($ret, 0, 'CREATE EXTENSION fails without preloading');
like($err, qr/bm25 must be loaded via shared_preload_libraries/, 'error names the missing preload');
like($err, qr/HINT:\s+Add 'bm25' to shared_preload_libraries/, 'error carries a hint');

# A LOAD in the session does not count: the WAL resource manager can only be
# registered at server start.
($ret, $out, $err) = $node->psql('postgres', "LOAD 'bm25'; CREATE EXTENSION bm25");
isnt($ret, 0, 'LOAD does not replace preloading');
like($err, qr/shared_preload_libraries/, 'LOAD then CREATE EXTENSION names the preload');

# Installed while preloaded, then the server restarted without it: every
# use of an index or function fails with the same message.
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'bm25'");
$node->restart;
$node->safe_psql('postgres', q{
	CREATE EXTENSION bm25;
	CREATE TABLE t (body text);
	INSERT INTO t VALUES ('hello world'), ('goodbye world');
	CREATE INDEX t_bm25 ON t USING bm25 (body);
});
is($node->safe_psql('postgres', "SELECT count(*) FROM t WHERE body @@@ 'world'"), '2',
	'works when preloaded');

$node->adjust_conf('postgresql.conf', 'shared_preload_libraries', "''");
$node->restart;
for my $sql (
	"SELECT count(*) FROM t WHERE body @@@ 'world'",
	"SELECT bm25_score(body, 'world') FROM t",
	"SELECT * FROM bm25_index_stats('t_bm25')",
	"CREATE INDEX t_bm25_2 ON t USING bm25 (body)",
	"REINDEX INDEX t_bm25")
{
	($ret, $out, $err) = $node->psql('postgres', $sql);
	isnt($ret, 0, "fails without preload: $sql");
	like($err, qr/bm25 must be loaded via shared_preload_libraries.*\n.*HINT:.*shared_preload_libraries/s,
		"message and hint: $sql");
}

$node->stop;
done_testing();
