# pg_rewind of a former primary whose bm25 indexes diverged, then it follows
# the new primary.
#
# Primary + streaming standby; the standby is promoted.  Both then write
# independently, with bm25 changes on each side: inserts into the write
# buffer, conversions to segment files and merges, deletes + VACUUM
# rewrites that unlink segment files both sides had, a REINDEX on the old
# primary, a new index on the new primary.  The old primary is stopped,
# rewound with pg_rewind against the new primary, and started as its
# standby.  After catch-up (and after more writes on the new primary) it
# returns exactly the new primary's results: rows per marker term, ranked
# top-k with scores, index statistics, the same segment files, and every
# index verifies.  Then the old primary, promoted again, gives results
# equal to a freshly built index.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my @VOCAB = qw(apple river stone cloud forest garden silver window candle
  harbor meadow thunder pepper violet copper);
srand(7070);

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

my $old = PostgreSQL::Test::Cluster->new('rewind_old');
$old->init(allows_streaming => 1);
$old->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'bm25'
wal_log_hints = on
wal_keep_size = '1GB'
autovacuum = off
});
$old->start;
$old->safe_psql('postgres', 'CREATE EXTENSION bm25; CREATE TABLE docs (id int PRIMARY KEY, body text)');
$old->safe_psql('postgres', 'INSERT INTO docs VALUES ' . values_list(1, 4000, 'common'));
$old->safe_psql('postgres', q{
	CREATE INDEX docs_bm25 ON docs USING bm25 (body) WITH (text_config = 'english', write_buffer_docs = 30);
	CREATE INDEX docs_other ON docs USING bm25 (body) WITH (text_config = 'simple', write_buffer_docs = 50);
});
$old->safe_psql('postgres', 'INSERT INTO docs VALUES ' . values_list(4001, 4100, 'common'));

$old->backup('bk');
my $new = PostgreSQL::Test::Cluster->new('rewind_new');
$new->init_from_backup($old, 'bk', has_streaming => 1);
$new->start;
$old->safe_psql('postgres', 'INSERT INTO docs VALUES ' . values_list(4101, 4200, 'common'));
$old->wait_for_catchup($new);

$new->promote;
$new->safe_psql('postgres', 'CHECKPOINT');

# Divergence.  Old primary: its own rows, conversions, a VACUUM rewrite of
# segments both sides share, REINDEX of one index.
$old->safe_psql('postgres', 'INSERT INTO docs VALUES ' . values_list(10001, 10300, 'oldside'));
$old->safe_psql('postgres', q{
	DELETE FROM docs WHERE id % 3 = 0 AND id <= 4200;
	UPDATE docs SET body = body || ' oldside' WHERE id % 11 = 0 AND id <= 4200;
	VACUUM docs;
	REINDEX INDEX docs_other;
});
$old->safe_psql('postgres', 'INSERT INTO docs VALUES ' . values_list(10301, 10400, 'oldside'));
$old->safe_psql('postgres', 'CHECKPOINT');

# New primary: different rows, deletes, VACUUM rewrite, a new index.
$new->safe_psql('postgres', 'INSERT INTO docs VALUES ' . values_list(20001, 20250, 'newside'));
$new->safe_psql('postgres', q{
	DELETE FROM docs WHERE id % 4 = 1 AND id <= 4200;
	UPDATE docs SET body = body || ' newside' WHERE id % 13 = 0 AND id <= 4200;
	VACUUM docs;
	CREATE INDEX docs_third ON docs USING bm25 (body) WITH (write_buffer_docs = 20);
});
$new->safe_psql('postgres', 'INSERT INTO docs VALUES ' . values_list(20251, 20330, 'newside'));

cmp_ok($old->safe_psql('postgres', "SELECT count(*) FROM docs WHERE body \@\@\@ bm25_query('oldside', 'docs_bm25')"),
	'>', 0, 'old primary has diverged');

# Rewind.  pg_rewind copies postgresql.conf from the source (with its port):
# keep the old primary's own, as src/bin/pg_rewind's tests do.
$old->stop;
my $conf = $old->data_dir . '/postgresql.conf';
my $saved_conf = slurp_file($conf);
command_ok(
	[
		'pg_rewind', '--debug',
		'--source-server', $new->connstr('postgres'),
		'--target-pgdata', $old->data_dir,
		'--no-sync'
	],
	'pg_rewind');
die 'pg_rewind failed' unless Test::More->builder->is_passing;
open(my $cfh, '>', $conf) or die "$conf: $!";
print $cfh $saved_conf;
close($cfh);
$old->enable_streaming($new);
$old->start;
$old->poll_query_until('postgres', 'SELECT pg_is_in_recovery()') or die 'old primary is not a standby';

# More writes on the new primary, streamed to the rewound node.
$new->safe_psql('postgres', 'INSERT INTO docs VALUES ' . values_list(20331, 20500, 'afterrewind'));
$new->safe_psql('postgres', 'DELETE FROM docs WHERE id % 10 = 7; VACUUM docs');
$new->safe_psql('postgres', 'INSERT INTO docs VALUES ' . values_list(20501, 20530, 'afterrewind'));
$new->wait_for_catchup($old);

my @TERMS = ('mark', 'common', 'oldside', 'newside', 'afterrewind', @VOCAB);
my @RANKED = ('apple', 'river stone', 'thunder violet copper', '+silver apple',
	'meadow -apple', 'newside candle', 'afterrewind copper');
my @INDEXES = ('docs_bm25', 'docs_other', 'docs_third');

sub state_of
{
	my ($node, @idx) = @_;
	my $out = '';
	for my $idx (@idx)
	{
		$out .= "$idx stats: " . $node->safe_psql('postgres', qq{
			SELECT segments || ' ' || documents || ' ' || total_tokens || ' ' || terms || ' '
			       || segment_bytes || ' ' || write_buffer_docs FROM bm25_index_stats('$idx')}) . "\n";
		for my $t (@TERMS)
		{
			$out .= "$idx $t: " . $node->safe_psql('postgres', qq{SET enable_seqscan = off;
				SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM docs
				 WHERE body \@\@\@ bm25_query('$t', '$idx')}) . "\n";
		}
		for my $q (@RANKED)
		{
			$out .= "$idx ranked $q: " . ranked($node, $q, $idx, 10) . "\n";
		}
	}
	return $out;
}

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

sub seg_files
{
	my ($node, $idx) = @_;
	my $dir = $node->safe_psql('postgres', qq{
		SELECT format('bm25/%s/%s_%s', d.oid, t.oid, c.relfilenode)
		  FROM pg_class c, pg_database d, pg_tablespace t
		 WHERE c.relname = '$idx' AND d.datname = current_database()
		   AND t.spcname = 'pg_default'});
	opendir(my $dh, $node->data_dir . "/$dir") or return 'missing';
	my @f = sort grep { /^seg_/ } readdir($dh);
	closedir($dh);
	return join(',', @f);
}

my $want = state_of($new, @INDEXES);
like($want, qr/docs_bm25 afterrewind: \d/, 'the new primary finds its new rows');
is(state_of($old, @INDEXES), $want, 'rewound standby returns the new primary\'s results');
unlike(state_of($old, 'docs_bm25'), qr/oldside: \d/, 'rows of the old timeline are gone');
for my $idx (@INDEXES)
{
	is($old->safe_psql('postgres', "SELECT bm25_verify_index('$idx')"), 't', "rewound standby: $idx verifies");
	is(seg_files($old, $idx), seg_files($new, $idx), "rewound standby: $idx has the new primary's segment files");
}

# The whole sidecar tree: no directory or file of the old timeline remains
# (REINDEX on the old primary made a directory the new primary never had).
sub bm25_tree
{
	my ($node) = @_;
	my $root = $node->data_dir . '/bm25';
	my @out;
	my @todo = ('');
	while (@todo)
	{
		my $rel = shift @todo;
		opendir(my $dh, "$root$rel") or next;
		for my $e (sort grep { !/^\.\.?$/ } readdir($dh))
		{
			push @out, "$rel/$e";
			push @todo, "$rel/$e" if -d "$root$rel/$e";
		}
		closedir($dh);
	}
	return join("\n", @out);
}
$new->safe_psql('postgres', 'CHECKPOINT');
$new->wait_for_catchup($old);
is(bm25_tree($old), bm25_tree($new), 'rewound standby has exactly the new primary\'s bm25 directory tree');

# Keep following: conversions, merges, VACUUM, DROP INDEX.
$new->safe_psql('postgres', 'INSERT INTO docs VALUES ' . values_list(30001, 30400, 'afterrewind'));
$new->safe_psql('postgres', 'DELETE FROM docs WHERE id % 9 = 2; VACUUM docs; DROP INDEX docs_other');
$new->wait_for_catchup($old);
is(state_of($old, 'docs_bm25', 'docs_third'), state_of($new, 'docs_bm25', 'docs_third'),
	'rewound standby keeps following');
is($old->safe_psql('postgres', "SELECT count(*) FROM pg_class WHERE relname = 'docs_other'"), '0',
	'DROP INDEX replayed on the rewound standby');

# Promote the rewound node again: it writes, and equals a fresh index.
$new->stop;
$old->promote;
$old->safe_psql('postgres', 'INSERT INTO docs VALUES ' . values_list(40001, 40100, 'repromoted'));
$old->safe_psql('postgres', q{VACUUM (INDEX_CLEANUP ON) docs;
	CREATE INDEX docs_fresh ON docs USING bm25 (body) WITH (text_config = 'english')});
my ($ra, $rb) = ('', '');
for my $q (@RANKED, 'repromoted river')
{
	$ra .= "$q: " . ranked($old, $q, 'docs_bm25', 10) . "\n";
	$rb .= "$q: " . ranked($old, $q, 'docs_fresh', 10) . "\n";
}
$ra .= ranked($old, 'mark', 'docs_bm25', 100000);
$rb .= ranked($old, 'mark', 'docs_fresh', 100000);
is($ra, $rb, 'after promotion, top-k ids and scores equal a fresh index\'s');
is($old->safe_psql('postgres', "SELECT bm25_verify_index('docs_bm25')"), 't', 'promoted node: index verifies');

$old->stop;
done_testing();
