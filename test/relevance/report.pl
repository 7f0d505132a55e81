#!/usr/bin/perl
# report.pl - the table of test/relevance/run.sh: reads OUT/metrics.tsv,
# exactness.tsv and queries.tsv, puts the reference figures of
# reference.tsv next to the measured nDCG@10, prints the table and writes
# OUT/results.json and OUT/results.md.
#
#   perl report.pl OUT reference.tsv "description of what was measured"
#
# Perl core modules only (JSON::PP), so nothing needs installing.

use strict;
use warnings;
use JSON::PP ();

my ($out, $reffile, $what) = @ARGV;
die "usage: report.pl OUT reference.tsv [description]\n" unless defined $reffile;
$what //= '';

# Reads a TSV with a header line into a list of hashes (# lines skipped).
sub read_tsv
{
	my ($path) = @_;
	open my $fh, '<', $path or die "cannot read $path: $!";
	my @head;
	my @rows;
	while (my $line = <$fh>)
	{
		chomp $line;
		next if $line =~ /^#/ || $line eq '';
		my @f = split /\t/, $line, -1;
		if (!@head) { @head = @f; next }
		my %r;
		@r{@head} = @f;
		push @rows, \%r;
	}
	return \@rows;
}

my $metrics = read_tsv("$out/metrics.tsv");
my $exact   = read_tsv("$out/exactness.tsv");
my $queries = read_tsv("$out/queries.tsv");

# reference.tsv: ranker, then one column per collection
my %ref;
for my $r (@{ read_tsv($reffile) })
{
	for my $c (grep { $_ ne 'ranker' } keys %$r)
	{
		$ref{$c}{ $r->{ranker} } = $r->{$c};
	}
}

# The measured rankers in display order; each is compared with the
# reference row of the same name.
my @order = ('ts_rank', 'bm25 k1=1.2 b=0.75', 'bm25 k1=0.9 b=0.4');
my %label = (
	'ts_rank'            => 'ts_rank over GIN',
	'bm25 k1=1.2 b=0.75' => 'bm25 k1=1.2 b=0.75',
	'bm25 k1=0.9 b=0.4'  => 'bm25 k1=0.9 b=0.4');

# a difference with 3 decimals and its sign, "+0.000" rather than "-0.000"
sub signed3
{
	my $s = sprintf('%+.3f', $_[0]);
	$s =~ s/^-(0\.000)$/+$1/;
	return $s;
}

sub rank_of
{
	my ($r) = @_;
	for my $i (0 .. $#order) { return $i if $order[$i] eq $r }
	return scalar @order;
}

my (@collections, %seen);
for my $m (@$metrics)
{
	push @collections, $m->{collection} unless $seen{ $m->{collection} }++;
}

my %json = (description => $what, collections => {});
my @md_ndcg;
my @md_all;
my $hdr = sprintf("%-34s %7s %6s %7s %8s %6s %6s %6s %7s",
	'ranker', 'nDCG@10', 'ref', 'diff', 'MAP@100', 'P@10', 'P@30', 'R@100', 'time');
print "\nRanking quality ($what)\n";
print "ref = nDCG\@10 reference figure of the collections' README; diff = measured - ref\n";

for my $c (@collections)
{
	my ($q) = grep { $_->{collection} eq $c } @$queries;
	my @ms = sort { rank_of($a->{ranker}) <=> rank_of($b->{ranker}) || $a->{ranker} cmp $b->{ranker} }
	  grep { $_->{collection} eq $c } @$metrics;
	my $cj = $json{collections}{$c} = { rankers => {}, exactness => {} };
	if ($q)
	{
		$cj->{queries} = {
			total                 => $q->{queries} + 0,
			judged                => $q->{judged} + 0,
			repeating_a_lexeme    => $q->{repeating_a_lexeme} + 0,
			lexemes_per_query     => $q->{lexemes_per_query} + 0,
			occurrences_per_query => $q->{occurrences_per_query} + 0 };
		printf("\n%s: %d judged queries of %d; %d repeat a lexeme (%.1f lexemes, %.1f occurrences per query)\n",
			$c, $q->{judged}, $q->{queries}, $q->{repeating_a_lexeme},
			$q->{lexemes_per_query}, $q->{occurrences_per_query});
	}
	else
	{
		print "\n$c\n";
	}
	print "$hdr\n";
	for my $m (@ms)
	{
		my $r    = $m->{ranker};
		my $rv   = $ref{$c}{ $r };
		my $diff = defined $rv ? $m->{ndcg10} - $rv : undef;
		printf("%-34s %7.3f %6s %7s %8.3f %6.3f %6.3f %6.3f %6.2fs\n",
			$label{$r} // $r, $m->{ndcg10},
			defined $rv ? sprintf('%.3f', $rv) : '-',
			defined $diff ? signed3($diff) : '-',
			$m->{map100}, $m->{p10}, $m->{p30}, $m->{recall100}, $m->{seconds});
		$cj->{rankers}{$r} = {
			queries          => $m->{queries} + 0,
			ndcg10           => $m->{ndcg10} + 0,
			map100           => $m->{map100} + 0,
			p10              => $m->{p10} + 0,
			p30              => $m->{p30} + 0,
			recall100        => $m->{recall100} + 0,
			seconds          => $m->{seconds} + 0,
			reference_ndcg10 => defined $rv ? $rv + 0 : undef };
		push @md_all, sprintf('| %s | %s | %.3f | %.3f | %.3f | %.3f | %.3f |',
			$c, $label{$r} // $r, $m->{ndcg10}, $m->{map100}, $m->{p10},
			$m->{p30}, $m->{recall100});
	}
	for my $e (grep { $_->{collection} eq $c } @$exact)
	{
		printf("exactness, %s: %d of %d queries differ from brute-force BM25; %d of %d scores bit-identical\n",
			$e->{ranker}, $e->{mismatched_queries}, $e->{queries},
			$e->{bit_identical_scores}, $e->{compared_scores});
		$cj->{exactness}{ $e->{ranker} } = {
			queries              => $e->{queries} + 0,
			mismatched_queries   => $e->{mismatched_queries} + 0,
			compared_scores      => $e->{compared_scores} + 0,
			bit_identical_scores => $e->{bit_identical_scores} + 0 };
	}
}

# nDCG@10 as in the README's table: rankers as rows, collections as columns
{
	my @rows;
	push @rows, '| ranker | ' . join(' | ', @collections) . ' |';
	push @rows, '| --- |' . (' ---: |' x @collections);
	for my $r (@order)
	{
		my @cells;
		my $any = 0;
		for my $c (@collections)
		{
			my ($m) = grep { $_->{collection} eq $c && $_->{ranker} eq $r } @$metrics;
			my $rv = $ref{$c}{ $r };
			if ($m)
			{
				$any = 1;
				push @cells, sprintf('%.3f', $m->{ndcg10})
				  . (defined $rv ? sprintf(' (ref %.3f, %s)', $rv, signed3($m->{ndcg10} - $rv)) : '');
			}
			else { push @cells, '-' }
		}
		push @rows, "| $label{$r} | " . join(' | ', @cells) . ' |' if $any;
	}
	@md_ndcg = @rows;
}

open my $md, '>', "$out/results.md" or die "cannot write $out/results.md: $!";
print $md "Ranking quality ($what)\n\nnDCG\@10 (README reference figure, difference):\n\n",
  join("\n", @md_ndcg), "\n\nAll metrics:\n\n",
  "| collection | ranker | nDCG\@10 | MAP\@100 | P\@10 | P\@30 | R\@100 |\n",
  "| --- | --- | ---: | ---: | ---: | ---: | ---: |\n",
  join("\n", @md_all), "\n";
close $md or die;

open my $js, '>', "$out/results.json" or die "cannot write $out/results.json: $!";
print $js JSON::PP->new->canonical->pretty->encode(\%json);
close $js or die;

print "\nwritten: $out/{metrics,per_query,runs,exactness,queries}.tsv, results.json, results.md\n";
