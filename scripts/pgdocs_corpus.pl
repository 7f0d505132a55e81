#!/usr/bin/perl
# pgdocs_corpus.pl - turn the PostgreSQL HTML manual into a text corpus.
#
# Usage:
#   scripts/pgdocs_corpus.pl [HTML_DIR] > docs.tsv
#
# HTML_DIR defaults to /usr/share/doc/postgresql-doc-15/html (Debian package
# postgresql-doc-15).  Every page is split at its section headings (h1-h4:
# chapter, sect1, sect2, sect3, and the refsect1 parts of reference pages),
# and each section becomes one row of PostgreSQL COPY text format with four
# tab-separated columns:
#
#   id     integer, 1.., stable for a given manual (files sorted by name)
#   page   "file.html#ANCHOR" (or just "file.html" when the section has no id)
#   title  the heading, e.g. "25.1.5. Preventing Transaction ID Wraparound
#          Failures"; headings of reference pages that carry no number
#          ("Description", "Parameters") are prefixed with the page title,
#          e.g. "VACUUM: Description"
#   body   the section text: tags stripped, entities decoded, whitespace
#          collapsed to single spaces
#
# Load it with:
#   CREATE TABLE docs (id int PRIMARY KEY, page text, title text, body text);
#   \copy docs FROM 'docs.tsv'
#
# Only core Perl is used, so this runs on a bare Debian system.  The output
# is deterministic (same manual -> byte-identical file), so benchmarks can
# rely on it.
use strict;
use warnings;

my $dir = shift(@ARGV) // '/usr/share/doc/postgresql-doc-15/html';
my $min_body = $ENV{PGDOCS_MIN_BODY} // 40;    # drop near-empty sections

opendir(my $dh, $dir) or die "pgdocs_corpus: cannot open $dir: $!\n";
my @files = sort grep { /\.html$/ && $_ ne 'bookindex.html' } readdir($dh);
closedir($dh);
die "pgdocs_corpus: no .html files in $dir\n" unless @files;

binmode(STDOUT, ':encoding(UTF-8)');

my %entity = (
	amp => '&', lt => '<', gt => '>', quot => '"', apos => "'",
	nbsp => ' ', ndash => "\x{2013}", mdash => "\x{2014}",
	hellip => "\x{2026}", copy => "\x{a9}", reg => "\x{ae}",
	trade => "\x{2122}", lsquo => "\x{2018}", rsquo => "\x{2019}",
	ldquo => "\x{201c}", rdquo => "\x{201d}", times => "\x{d7}",
	minus => "\x{2212}", le => "\x{2264}", ge => "\x{2265}",
	ne => "\x{2260}", larr => "\x{2190}", rarr => "\x{2192}",
	deg => "\x{b0}", para => "\x{b6}", sect => "\x{a7}", shy => '',
);

sub decode_entities
{
	my ($s) = @_;
	$s =~ s{&(#[xX][0-9a-fA-F]+|#[0-9]+|[A-Za-z][A-Za-z0-9]*);}{
		my $e = $1;
		if ($e =~ /^#[xX](.+)/) { chr(hex($1)) }
		elsif ($e =~ /^#(.+)/) { chr($1) }
		elsif (exists $entity{$e}) { $entity{$e} }
		else { "&$e;" }
	}ge;
	return $s;
}

sub to_text
{
	my ($html) = @_;
	$html =~ s{<!--.*?-->}{ }sg;
	$html =~ s{<(script|style)\b.*?</\1>}{ }sgi;
	# block-level tags separate words; inline tags (span, code, a, em...) do not
	$html =~ s{</?(?:p|div|br|hr|li|ul|ol|dl|dt|dd|tr|td|th|table|thead|tbody|pre|blockquote|h[1-6]|title|caption)\b[^>]*>}{ }sgi;
	$html =~ s{<[^>]*>}{}sg;
	my $t = decode_entities($html);
	$t =~ s/[\s\x{a0}]+/ /g;
	$t =~ s/^ //;
	$t =~ s/ $//;
	return $t;
}

sub copy_escape
{
	my ($s) = @_;
	$s =~ s/\\/\\\\/g;
	$s =~ s/\t/\\t/g;
	$s =~ s/\n/\\n/g;
	$s =~ s/\r/\\r/g;
	return $s;
}

# Section-level divs (not tables, examples, notes); their id is the anchor.
my $SECT_DIV = qr{<div class="(?:sect[1-5]|refsect[1-3]|refentry|chapter|appendix|preface|part|reference|simplesect|book|set|index)" id="([^"]+)"};

my $id = 0;
for my $file (@files)
{
	my $path = "$dir/$file";
	open(my $fh, '<:encoding(UTF-8)', $path)
	  or die "pgdocs_corpus: cannot read $path: $!\n";
	local $/;
	my $html = <$fh>;
	close($fh);

	my ($page_title) = $html =~ m{<title>(.*?)</title>}s;
	$page_title = defined $page_title ? to_text($page_title) : $file;

	# Keep only the body, minus navigation and tables of contents.
	$html =~ s{^.*?<body[^>]*>}{}s;
	$html =~ s{</body>.*$}{}s;
	$html =~ s{<div class="navheader">.*?</div>}{}s;
	$html =~ s{<div class="navfooter">.*?</div>}{}s;
	$html =~ s{<div class="toc">.*?</div>}{}sg;
	$html =~ s{<div class="(?:list-of-tables|list-of-figures|list-of-examples)">.*?</div>}{}sg;

	# Admonitions (Note, Tip, Warning, ...) carry an <h3> of their own; keep
	# them inside the enclosing section instead of splitting there.
	$html =~ s{(<div class="(?:note|tip|warning|caution|important)"[^>]*>)<h3 class="title">(.*?)</h3>}{$1<p>$2: </p>}sg;

	# Split at headings.  Each piece starts with one heading; the anchor of
	# a section is the id of the closest <div ... id="..."> opened before
	# its heading.
	my @pieces = split(m{(?=<h[1-4](?:\s[^>]*)?>)}, $html);
	my $anchor = '';
	for my $piece (@pieces)
	{
		my ($htag, $hhtml, $rest) =
		  $piece =~ m{^<(h[1-4])(?:\s[^>]*)?>(.*?)</\1>(.*)$}s;
		if (!defined $htag)
		{
			# text before the first heading: just track anchors
			$anchor = $1 while $piece =~ /$SECT_DIV/g;
			next;
		}
		my $title = to_text($hhtml);
		$title = $page_title if $title eq '';
		$title = "$page_title: $title" unless $title =~ /^[0-9A-Z]+(?:\.[0-9]+)*\.\s/
		  or $title eq $page_title;
		my $body = to_text($rest);
		my $page = $anchor ne '' ? "$file#$anchor" : $file;
		# the anchor for the next heading is the last div id inside this one
		$anchor = "";
		$anchor = $1 while $rest =~ /$SECT_DIV/g;
		next if length($body) < $min_body;
		$id++;
		print join("\t", $id, map { copy_escape($_) } $page, $title, $body), "\n";
	}
}
print STDERR "pgdocs_corpus: $id sections from ", scalar(@files), " pages\n"
  if $ENV{PGDOCS_VERBOSE};
