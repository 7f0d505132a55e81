# Point-in-time recovery of bm25 indexes from a base backup taken while
# writes run.
#
# A primary with WAL archiving gets a background workload (inserts, updates
# of the indexed column, deletes, rollbacks, transactions large enough to
# convert the write buffer, VACUUM rewrites) while pg_basebackup copies it
# (rate-limited, so the copy overlaps the writes and the creation and
# removal of segment files).  After the backup more writes commit; then the
# target is set: a named restore point and a target time, with one
# transaction still open (its rows must not exist at the target) and one
# just committed.  After the target: inserts, deletes, VACUUM rewrites that
# unlink segment files live at the target, REINDEX of one index and DROP of
# another, and the open transaction commits.
#
# Two nodes are restored from the backup, to the restore point and to the
# target time.  On each, the heap equals the primary's heap at the target;
# @@@ through both bm25 indexes finds exactly the rows containing each
# marker term; both indexes verify; and after VACUUM, N and top-k (ids and
# scores) equal a freshly built index on the restored data.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use POSIX ();
use IO::Handle;
use Time::HiRes qw(time sleep);

my $t0 = time;
my @VOCAB = qw(apple river stone cloud forest garden silver window candle
  harbor meadow thunder pepper violet copper);
srand(6060);

my $primary = PostgreSQL::Test::Cluster->new('pitr_primary');
$primary->init(has_archiving => 1, allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'bm25'
autovacuum = off
});
$primary->start;

sub body
{
	my ($phase) = @_;
	my $len = 2 + int(rand(14));
	return join(' ', 'mark', $phase, map { $VOCAB[ int(rand()**2 * @VOCAB) ] } 1 .. $len);
}

sub values_list
{
	my ($from, $to, $phase) = @_;
	return join(',', map { "($_, '" . body($phase) . "')" } $from .. $to);
}

$primary->safe_psql('postgres', 'CREATE EXTENSION bm25; CREATE TABLE docs (id int PRIMARY KEY, body text)');
for my $chunk (0 .. 9)
{
	$primary->safe_psql('postgres', 'INSERT INTO docs VALUES '
		  . values_list($chunk * 3000 + 1, $chunk * 3000 + 3000, 'seed'));
}
$primary->safe_psql('postgres', q{
	CREATE INDEX docs_bm25 ON docs USING bm25 (body) WITH (text_config = 'english', write_buffer_docs = 25);
	CREATE INDEX docs_simple ON docs USING bm25 (body) WITH (text_config = 'simple', write_buffer_docs = 60);
	-- padding so that the rate-limited backup takes a few seconds
	CREATE TABLE pad AS SELECT i, repeat('x', 500) AS filler FROM generate_series(1, 20000) i;
});

# ---------------------------------------------------------------------------
# Background writer: runs until the stop file appears.  Ids 100000 + 4n + w.
# ---------------------------------------------------------------------------
my $stopfile = PostgreSQL::Test::Utils::tempdir() . '/stop';

sub writer_main
{
	my ($w) = @_;
	srand(100 + $w);
	my $s = $primary->background_psql('postgres', timeout => 120);
	my $n = 0;
	my @mine;
	for (my $i = 0; !-e $stopfile; $i++)
	{
		my $commit = rand() < 0.7;
		my $phase = $commit ? 'backupwrite' : 'aborted';
		my $k = rand() < 0.1 ? 30 : 1 + int(rand(3));
		my @ids = map { 100000 + 4 * $n++ + $w } 1 .. $k;
		my $sql = "BEGIN;\nINSERT INTO docs VALUES "
		  . join(',', map { "($_, '" . body($phase) . "')" } @ids) . ";\n";
		if (@mine)
		{
			$sql .= "UPDATE docs SET body = '" . body($phase) . "' WHERE id = $mine[int(rand(@mine))];\n";
			$sql .= "DELETE FROM docs WHERE id = $mine[int(rand(@mine))];\n" if rand() < 0.3;
		}
		$sql .= "UPDATE docs SET body = '" . body($phase) . "' WHERE id = " . (1 + int(rand(30000))) . ";\n"
		  if rand() < 0.3;
		$sql .= $commit ? "COMMIT;\n" : "ROLLBACK;\n";
		$s->query_safe($sql);
		push @mine, @ids if $commit;
		$s->query_safe('VACUUM docs') if $w == 0 && $i % 15 == 14;
	}
	$s->quit;
}

sub spawn
{
	my ($fn, @args) = @_;
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		my $ok = eval { $fn->(@args); 1 };
		print STDERR "writer failed: $@" unless $ok;
		POSIX::_exit($ok ? 0 : 1);
	}
	return $pid;
}

my @writers = map { spawn(\&writer_main, $_) } 0 .. 2;
sleep(1);
my $segs_before = $primary->safe_psql('postgres', "SELECT segments FROM bm25_index_stats('docs_bm25')");
my $bk_t0 = time;
$primary->backup('bk', backup_options => ['--max-rate=4M']);
my $bk_secs = time - $bk_t0;
sleep(1);
open(my $fh, '>', $stopfile) or die;
close($fh);
my $writers_ok = 1;
for my $p (@writers)
{
	waitpid($p, 0);
	$writers_ok = 0 if $? != 0;
}
ok($writers_ok, 'background writers ran without errors');
my $during = $primary->safe_psql('postgres', "SELECT count(*) FROM docs WHERE body \@\@\@ 'backupwrite'");
cmp_ok($during, '>', 50, "rows committed while the backup ran ($during, backup took "
	  . sprintf('%.1f', $bk_secs) . 's)');
note("segments of docs_bm25 when the backup started: $segs_before");

# More committed writes, with conversions and a VACUUM rewrite, before the
# target.
$primary->safe_psql('postgres', 'INSERT INTO docs VALUES ' . values_list(200001, 200140, 'pretarget'));
$primary->safe_psql('postgres', q{
	DELETE FROM docs WHERE id % 97 = 0 AND id <= 30000;
	UPDATE docs SET body = body || ' pretarget' WHERE id % 89 = 0 AND id <= 30000;
	VACUUM docs;
});

# The target: one transaction open (must not survive), one just committed.
my $open = $primary->background_psql('postgres');
$open->query_safe("BEGIN; INSERT INTO docs VALUES " . values_list(300001, 300060, 'pending')
	  . "; DELETE FROM docs WHERE id <= 50;");
$primary->safe_psql('postgres', 'INSERT INTO docs VALUES ' . values_list(200201, 200210, 'lastcommit'));

my $heap_sql = q{SET enable_indexscan = off; SET enable_bitmapscan = off;
	SELECT id || ':' || body FROM docs ORDER BY id};
my $target_heap = $primary->safe_psql('postgres', $heap_sql);
my $target_time = $primary->safe_psql('postgres', 'SELECT now()');
$primary->safe_psql('postgres', "SELECT pg_create_restore_point('bm25_target')");
sleep(1.2);    # commits after this have a later timestamp than the target

# After the target.
$open->query_safe('COMMIT');
$open->quit;
$primary->safe_psql('postgres', 'INSERT INTO docs VALUES ' . values_list(400001, 400200, 'post'));
$primary->safe_psql('postgres', q{
	DELETE FROM docs WHERE id % 5 = 0;
	UPDATE docs SET body = body || ' post' WHERE id % 7 = 0;
	VACUUM docs;
	REINDEX INDEX docs_simple;
});
$primary->safe_psql('postgres', 'INSERT INTO docs VALUES ' . values_list(400201, 400300, 'post'));
$primary->safe_psql('postgres', 'DROP INDEX docs_simple; VACUUM docs');
is($primary->safe_psql('postgres', "SELECT bm25_verify_index('docs_bm25')"), 't', 'primary index verifies');

my $walfile = $primary->safe_psql('postgres', 'SELECT pg_walfile_name(pg_current_wal_lsn())');
$primary->safe_psql('postgres', 'SELECT pg_switch_wal()');
$primary->poll_query_until('postgres',
	"SELECT last_archived_wal >= '$walfile' FROM pg_stat_archiver")
  or die 'timed out waiting for WAL archiving';

# ---------------------------------------------------------------------------
# Checks on a restored node
# ---------------------------------------------------------------------------
my %expect;    # term -> ids, from the target heap
my $nrows = 0;
for my $line (split(/\n/, $target_heap))
{
	my ($id, $b) = split(/:/, $line, 2);
	$nrows++;
	my %seen;
	push @{ $expect{$_} }, $id for grep { !$seen{$_}++ } split(/ /, $b);
}
my @TERMS = ('mark', 'seed', 'backupwrite', 'pretarget', 'lastcommit', 'pending', 'post', 'aborted', @VOCAB);
my @RANKED = ('apple', 'river stone', 'thunder violet copper', '+silver apple',
	'meadow -apple', 'candle harbor pepper window', 'backupwrite copper', 'pretarget');

sub ranked
{
	my ($node, $q, $idx, $k) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT coalesce(string_agg(id || '=' || s, ' ' ORDER BY n), '') FROM (
		  SELECT id, s, row_number() OVER () AS n FROM (
		    SELECT id, bm25_score(body, bm25_query('$q', '$idx')) AS s FROM docs
		     WHERE body \@\@\@ bm25_query('$q', '$idx')
		     ORDER BY bm25_score(body, bm25_query('$q', '$idx')) DESC LIMIT $k) x) y});
}

sub check_restored
{
	my ($node, $what) = @_;
	is($node->safe_psql('postgres', $heap_sql) eq $target_heap ? 'same' : 'different', 'same',
		"$what: heap equals the primary's at the target");
	is($node->safe_psql('postgres', "SELECT count(*) FROM pg_class WHERE relname = 'docs_simple'"), '1',
		"$what: the index dropped after the target exists");
	for my $idx ('docs_bm25', 'docs_simple')
	{
		my $bad = 0;
		for my $t (@TERMS)
		{
			my $got = $node->safe_psql('postgres', qq{SET enable_seqscan = off;
				SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM docs
				 WHERE body \@\@\@ bm25_query('$t', '$idx')});
			my $exp = join(',', sort { $a <=> $b } @{ $expect{$t} // [] });
			next if $got eq $exp;
			$bad++;
			diag("$what: $idx: term '$t': got " . scalar(split(/,/, $got)) . " ids, expected "
				  . scalar(@{ $expect{$t} // [] }));
		}
		is($bad, 0, "$what: $idx finds exactly the target's rows for each marker term");
		is($node->safe_psql('postgres', "SELECT bm25_verify_index('$idx')"), 't', "$what: $idx verifies");
	}
	for my $t ('pending', 'post', 'aborted')
	{
		is($node->safe_psql('postgres', "SELECT count(*) FROM docs WHERE body \@\@\@ bm25_query('$t', 'docs_bm25')"),
			'0', "$what: no '$t' row is found");
	}
	cmp_ok(scalar(@{ $expect{lastcommit} // [] }), '==', 10, "$what: the last commit before the target is there");

	$node->safe_psql('postgres', q{
		VACUUM (INDEX_CLEANUP ON) docs;
		CREATE INDEX docs_fresh ON docs USING bm25 (body) WITH (text_config = 'english')});
	my $st = "SELECT documents || ' ' || total_tokens FROM bm25_index_stats('%s')";
	is($node->safe_psql('postgres', sprintf($st, 'docs_bm25')), $node->safe_psql('postgres', sprintf($st, 'docs_fresh')),
		"$what: N and total tokens equal a fresh index's");
	is($node->safe_psql('postgres', "SELECT documents FROM bm25_index_stats('docs_bm25')"), $nrows,
		"$what: N is the number of rows at the target");
	my ($old, $new) = ('', '');
	for my $q (@RANKED)
	{
		$old .= "$q: " . ranked($node, $q, 'docs_bm25', 10) . "\n";
		$new .= "$q: " . ranked($node, $q, 'docs_fresh', 10) . "\n";
	}
	$old .= 'all: ' . ranked($node, 'pretarget river', 'docs_bm25', 100000);
	$new .= 'all: ' . ranked($node, 'pretarget river', 'docs_fresh', 100000);
	is($old, $new, "$what: top-k ids and scores equal a fresh index's");

	# and it keeps working as a primary
	$node->safe_psql('postgres', 'INSERT INTO docs VALUES ' . values_list(500001, 500100, 'restored'));
	is($node->safe_psql('postgres', "SELECT count(*) FROM docs WHERE body \@\@\@ bm25_query('restored', 'docs_bm25')"),
		'100', "$what: new rows are indexed after recovery");
	is($node->safe_psql('postgres', "SELECT bm25_verify_index('docs_bm25')"), 't', "$what: index verifies after new writes");
}

my $by_name = PostgreSQL::Test::Cluster->new('pitr_name');
$by_name->init_from_backup($primary, 'bk', has_restoring => 1);
$by_name->append_conf('postgresql.conf', qq{
recovery_target_name = 'bm25_target'
recovery_target_action = 'promote'
});
$by_name->start;
$by_name->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die 'recovery did not end';
check_restored($by_name, 'restore point');
$by_name->stop;

my $by_time = PostgreSQL::Test::Cluster->new('pitr_time');
$by_time->init_from_backup($primary, 'bk', has_restoring => 1);
$by_time->append_conf('postgresql.conf', qq{
recovery_target_time = '$target_time'
recovery_target_action = 'promote'
});
$by_time->start;
$by_time->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die 'recovery did not end';
check_restored($by_time, 'target time');
$by_time->stop;

$primary->stop;
note(sprintf('took %.0fs', time - $t0));
done_testing();
