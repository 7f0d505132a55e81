# The regression suite under wal_consistency_checking = 'all'.
#
# The primary logs a full-page image with every record that touches a
# buffer (generic WAL of the bm25 metapage and write buffer included); a
# streaming standby replays it and compares each page it rebuilds with the
# image, masked by the resource manager's rm_mask, stopping with FATAL
# "inconsistent page found" on any difference.  The extension's own SQL
# tests (sql/bm25_*.sql, output ignored: they contain intentional errors)
# and a write workload of our own (write buffer, conversions, merges,
# updates, deletes, VACUUM rewrites, REINDEX) run on the primary.  After
# catch-up the standby must still be running with no inconsistency in its
# log, and return the same results as the primary for every bm25 index.
use strict;
use warnings;
use Cwd ();
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $t0 = time;

# sql/ of the tree under test: next to test/t/ (the suite runs in a copy of
# the whole tree), else under TESTDIR.
my $sqldir;
for my $d (dirname(Cwd::abs_path(__FILE__)) . '/../../sql', ($ENV{TESTDIR} // '.') . '/sql')
{
	if (-d $d) { $sqldir = $d; last }
}
die 'cannot find the sql/ directory of the extension' unless $sqldir;
my @files = sort grep { !m{/bm25--[^/]*\.sql$} } glob("$sqldir/bm25_*.sql");
cmp_ok(scalar(@files), '>', 0, 'found the regression SQL files (' . scalar(@files) . ')');

my $primary = PostgreSQL::Test::Cluster->new('walcheck_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'bm25'
wal_consistency_checking = 'all'
wal_keep_size = '1GB'
log_statement = none
});
$primary->start;
$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('walcheck_standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;

is($primary->safe_psql('postgres', 'SHOW wal_consistency_checking'), 'all', 'wal_consistency_checking is on');

# The regression files, in order, in one database as pg_regress runs them.
$primary->safe_psql('postgres', 'CREATE DATABASE regression');
my $start_lsn = $primary->safe_psql('postgres', 'SELECT pg_current_wal_insert_lsn()');
for my $f (@files)
{
	my ($out, $err) = ('', '');
	$primary->psql('regression', slurp_file($f), stdout => \$out, stderr => \$err,
		extra_params => ['-v', 'ON_ERROR_STOP=0'], timeout => 600);
	note("ran $f");
}

# Our own workload, with known contents.
my @VOCAB = qw(apple river stone cloud forest garden silver window candle
  harbor meadow thunder pepper violet copper);
srand(8080);
sub values_list
{
	my ($from, $to, $phase) = @_;
	return join(',', map {
		my $len = 2 + int(rand(14));
		"($_, '" . join(' ', 'mark', $phase, map { $VOCAB[ int(rand()**2 * @VOCAB) ] } 1 .. $len) . "')"
	} $from .. $to);
}
$primary->safe_psql('postgres', 'CREATE EXTENSION bm25; CREATE TABLE docs (id int PRIMARY KEY, body text)');
$primary->safe_psql('postgres', 'INSERT INTO docs VALUES ' . values_list(1, 2000, 'seed'));
$primary->safe_psql('postgres', q{
	CREATE INDEX docs_bm25 ON docs USING bm25 (body) WITH (text_config = 'english', write_buffer_docs = 20)});
for my $round (1 .. 6)
{
	my $base = 10000 * $round;
	$primary->safe_psql('postgres', 'INSERT INTO docs VALUES ' . values_list($base + 1, $base + 150, "round$round"));
	$primary->safe_psql('postgres', "BEGIN; INSERT INTO docs VALUES " . values_list($base + 500, $base + 530, 'aborted')
		  . "; ROLLBACK");
	$primary->safe_psql('postgres', qq{
		UPDATE docs SET body = body || ' updated$round' WHERE id % 17 = $round;
		DELETE FROM docs WHERE id % 23 = $round;
		VACUUM docs});
	$primary->safe_psql('postgres', 'REINDEX INDEX docs_bm25') if $round == 3;
}
$primary->safe_psql('postgres', 'INSERT INTO docs VALUES ' . values_list(90001, 90015, 'tail'));

$primary->wait_for_catchup($standby);

# The bm25 pages' generic WAL records really carried verification images.
my $end_lsn = $primary->safe_psql('postgres', 'SELECT pg_current_wal_insert_lsn()');
my ($dump, $dump_err) = ('', '');
IPC::Run::run(['pg_waldump', '--path', $primary->data_dir . '/pg_wal', '--start', $start_lsn,
		'--end', $end_lsn, '--rmgr', 'Generic'], '>', \$dump, '2>', \$dump_err);
my $verif = () = $dump =~ /for WAL verification/g;
cmp_ok($verif, '>', 100, "generic WAL records carry images for verification ($verif)");

my $log = slurp_file($standby->logfile);
unlike($log, qr/inconsistent page found/, 'standby log has no inconsistent page');
unlike($log, qr/(FATAL|PANIC):/, 'standby log has no FATAL or PANIC');
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'standby is still running and replaying');
unlike(slurp_file($primary->logfile), qr/PANIC:|server process .* was terminated by signal/,
	'the primary never crashed during the regression files');

# Same results on both, for our table ...
sub ranked
{
	my ($node, $q) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT coalesce(string_agg(id || '=' || s, ' ' ORDER BY n), '') FROM (
		  SELECT id, s, row_number() OVER () AS n FROM (
		    SELECT id, bm25_score(body, '$q') AS s FROM docs WHERE body \@\@\@ '$q'
		     ORDER BY bm25_score(body, '$q') DESC LIMIT 20) x) y});
}
for my $q ('apple', 'river stone', 'round3 copper', '+updated2 silver', 'tail', 'aborted', 'mark')
{
	is(ranked($standby, $q), ranked($primary, $q), "standby equals primary: '$q'");
}
is($standby->safe_psql('postgres', q{SET enable_seqscan = off;
	SELECT string_agg(id::text, ',' ORDER BY id) FROM docs WHERE body @@@ 'mark'}),
	$primary->safe_psql('postgres', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM docs'),
	'standby finds every row of the primary');

# ... and statistics of every bm25 index the regression files left behind.
for my $db ('regression', 'postgres')
{
	my @idx = split(/\n/, $primary->safe_psql($db, q{
		SELECT c.oid::regclass FROM pg_class c JOIN pg_am a ON a.oid = c.relam
		 WHERE a.amname = 'bm25' AND c.relkind = 'i' ORDER BY 1::text}));
	note("$db: bm25 indexes: @idx");
	my $stats = join("\n", map {
		"SELECT '$_', segments, documents, total_tokens, terms, segment_bytes, write_buffer_docs FROM bm25_index_stats('$_');"
	} @idx);
	next unless @idx;
	is($standby->safe_psql($db, $stats), $primary->safe_psql($db, $stats),
		"$db: every bm25 index has the same statistics on the standby (" . scalar(@idx) . ' indexes)');
	my $verify = join("\n", map { "SELECT '$_', bm25_verify_index('$_');" } @idx);
	is($standby->safe_psql($db, $verify), $primary->safe_psql($db, $verify),
		"$db: every bm25 index verifies on the standby");
}

$standby->stop;
$primary->stop;
note(sprintf('took %.0fs', time - $t0));
done_testing();
