# Corrupt, truncated or missing segment files and a corrupt metapage raise
# ERRCODE_DATA_CORRUPTED (XX001) with a hint to rebuild, never a crash.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('corrupt');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'bm25'");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION bm25;
	CREATE TABLE docs (id int, body text);
	INSERT INTO docs SELECT i, 'alpha beta ' || (i % 97) || ' gamma' || (i % 13) || ' word' || i
	  FROM generate_series(1, 3000) i;
	CREATE INDEX docs_bm25 ON docs USING bm25 (body);
});

# Where the index's files are.
sub segment_files
{
	my $dir = $node->safe_psql('postgres', q{
		SELECT format('bm25/%s/%s_%s', d.oid,
		              CASE WHEN c.reltablespace = 0 THEN t.oid ELSE c.reltablespace END,
		              c.relfilenode)
		  FROM pg_class c, pg_database d, pg_tablespace t
		 WHERE c.relname = 'docs_bm25' AND d.datname = current_database()
		   AND t.spcname = 'pg_default'});
	my $path = $node->data_dir . '/' . $dir;
	opendir(my $dh, $path) or die "no sidecar dir $path";
	my @files = map { "$path/$_" } sort grep { /^seg_\d+\.bm25$/ } readdir($dh);
	closedir($dh);
	return @files;
}

sub query_fails_corrupt
{
	my ($sql, $name) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	isnt($ret, 0, "$name: query fails");
	like($err, qr/ERROR:\s+XX001/, "$name: SQLSTATE is data_corrupted");
	like($err, qr/HINT:.*REINDEX/, "$name: hint says to rebuild");
	is($node->safe_psql('postgres', 'SELECT 1'), '1', "$name: server still up");
}

sub patch_file
{
	my ($file, $offset, $bytes) = @_;
	open(my $fh, '+<:raw', $file) or die "open $file: $!";
	seek($fh, $offset, 0);
	print $fh $bytes;
	close($fh);
}

my $expected = $node->safe_psql('postgres', "SELECT count(*) FROM docs WHERE body @@@ 'gamma3'");
is($expected, '231', 'baseline match count');
is($node->safe_psql('postgres', "SELECT bm25_verify_index('docs_bm25')"), 't', 'clean index verifies');

my @files = segment_files();
is(scalar(@files), 1, 'one segment file');
my $seg = $files[0];
my $size = -s $seg;
open(my $fh, '<:raw', $seg) or die;
my $orig;
read($fh, $orig, $size);
close($fh);

# 1. Header damage: caught when the segment is opened.
patch_file($seg, 0, "XXXX");
query_fails_corrupt("SELECT count(*) FROM docs WHERE body @@@ 'gamma3'", 'bad magic');

# 2. Every byte flipped in turn at spaced offsets: the query either still
#    answers correctly (byte not read by it) or fails as corrupt; full
#    verification always notices.
my ($detected, $answered) = (0, 0);
for (my $off = 64; $off < $size; $off += int($size / 40) + 1)
{
	patch_file($seg, 0, $orig);
	my $byte = substr($orig, $off, 1);
	patch_file($seg, $off, chr(ord($byte) ^ 0x5A));
	my ($ret, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\nSELECT count(*) FROM docs WHERE body @@@ 'gamma3 word77 alpha'");
	if ($ret == 0)
	{
		$answered++;
	}
	elsif ($err =~ /XX001/)
	{
		$detected++;
	}
	else
	{
		fail("offset $off: unexpected failure: $err");
	}
	my ($vret, $vout, $verr) = $node->psql('postgres',
		"\\set VERBOSITY verbose\nSELECT bm25_verify_index('docs_bm25')");
	ok($vret != 0 && $verr =~ /XX001/, "offset $off: bm25_verify_index detects the flip")
	  or diag($verr);
}
ok($detected > 0, "flipped bytes detected by queries ($detected detected, $answered unaffected)");
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'server survived every flip');

# 3. Truncated file.
patch_file($seg, 0, $orig);
truncate($seg, $size - 100) or die;
query_fails_corrupt("SELECT count(*) FROM docs WHERE body @@@ 'gamma3'", 'truncated file');

# 4. Missing file; REINDEX repairs it.
unlink($seg) or die;
query_fails_corrupt("SELECT count(*) FROM docs WHERE body @@@ 'gamma3'", 'missing file');
$node->safe_psql('postgres', 'REINDEX INDEX docs_bm25');
is($node->safe_psql('postgres', "SELECT count(*) FROM docs WHERE body @@@ 'gamma3'"),
	$expected, 'REINDEX repairs a missing file');

# 5. Metapage damage (inside the checksummed contents, past the page header).
my $relpath = $node->safe_psql('postgres', "SELECT pg_relation_filepath('docs_bm25')");
$node->stop;
patch_file($node->data_dir . '/' . $relpath, 24 + 40, "\xde\xad\xbe\xef");
$node->start;
query_fails_corrupt("SELECT count(*) FROM docs WHERE body @@@ 'gamma3'", 'metapage checksum');
query_fails_corrupt("SELECT * FROM bm25_index_stats('docs_bm25')", 'metapage via stats');
$node->safe_psql('postgres', 'REINDEX INDEX docs_bm25');
is($node->safe_psql('postgres', "SELECT count(*) FROM docs WHERE body @@@ 'gamma3'"),
	$expected, 'REINDEX repairs a corrupt metapage');

$node->stop;
done_testing();
