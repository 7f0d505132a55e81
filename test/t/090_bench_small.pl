#!/usr/bin/perl
# 090_bench_small.pl - the benchmark's small mode (test/bench/run.sh --small:
# ~20k passages of the Debian-docs corpus, 20 queries, every engine) must run
# through, every engine must answer every query with the expected number of
# rows, and bm25's top-10 must equal the exact (brute-force) BM25 top-10 for
# every query.  Timings are reported by the benchmark but never asserted.
#
# Skips when the Debian packages the benchmark needs are not installed (the
# benchmark itself installs them when run as root: make bench-small).
use strict;
use warnings;

use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my @need = qw(postgresql-15-rum libxapian-dev libpq-dev g++ groff-base
  postgresql-doc-15 python3.11-doc debian-handbook perl-doc);
my @missing = grep {
	my $st = `dpkg-query -W -f='\${Status}' $_ 2>/dev/null`;
	$st ne 'install ok installed'
} @need;
push @missing, '/usr/bin/python3' unless -x '/usr/bin/python3';
plan skip_all => "benchmark packages not installed: @missing "
  . "(make bench-small as root installs them)"
  if @missing;

my $root = Cwd::abs_path(dirname(__FILE__) . '/../..');
my $dir  = tempdir('bm25-bench-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $log  = "$dir/run.log";

my $t0 = time;
my $rc = system("$root/test/bench/run.sh --small --bm25 installed --dir $dir --port $port "
	  . "--no-publish > $log 2>&1");
my $secs = time - $t0;
my $out  = do { local (@ARGV, $/) = ($log); <> } // '';
is($rc, 0, "run.sh --small exits 0 (took ${secs}s)")
  or diag("last lines of the benchmark output:\n"
	  . join("\n", (split /\n/, $out)[-40 .. -1]));

my $json = "$dir/results/results.json";
ok(-s $json, 'results.json written') or BAIL_OUT('no results');
my $r = decode_json(do { local (@ARGV, $/) = ($json); <> });
my $c = $r->{checks};
my $nq = $c->{queries};
is($nq, 20, '20 queries (5 per bucket)');

for my $e (qw(bm25 gin rum xapian))
{
	for my $round (@{ $c->{rounds} })
	{
		is($c->{timed}{$e}{$round}, $nq, "$e round $round: every query timed");
		is($c->{answered}{$e}{$round}, $nq,
			"$e round $round: every query answered with min(10, matches) rows");
	}
	is(scalar @{ $c->{errors}{$e} }, 0, "$e: no query failed")
	  or diag(join("\n", @{ $c->{errors}{$e} }));
	is(scalar @{ $c->{row_count_mismatches}{$e} }, 0, "$e: row counts as expected")
	  or diag(join("\n", @{ $c->{row_count_mismatches}{$e} }));
}
is($c->{bm25_exact_mismatches}, 0, 'bm25 top-10 equals exact BM25 for every query')
  or diag(join("\n", @{ $c->{bm25_exact_mismatch_details} }));
for my $b ('1', '2-3', '4-7', '8+')
{
	is($r->{overlap}{bm25}{$b}, 1, "bm25 overlap with exact top-10 is 1 ($b terms)");
}

# the results are for humans too: print the table into the test log
note(do { local (@ARGV, $/) = ("$dir/results/results.md"); <> } // '');

done_testing();
