#!/usr/bin/perl
# 010_exactness.pl - BM25 scores and top-k rankings of the bm25 index must be
# exactly those of a brute-force reference computed in plain SQL from
# to_tsvector().
#
# A deterministic synthetic corpus (fixed seed, Zipf-like vocabulary of made-up
# words, varying lengths, repeated words, duplicate documents, NULL / empty /
# stopword-only bodies, a few hyphenated compounds, numbers, capitals and
# plurals) is indexed with bm25 (english, k1 = 1.2, b = 0.75).  For a few
# hundred random queries (plain OR queries, plus some with +MUST / -MUST_NOT
# clauses) the test compares, per query:
#
#   * top-10 and top-100 of the ranked query (BM25 Top-K custom scan, checked
#     with EXPLAIN), both with and without an explicit ", ctid" tie-break
#     (the extension breaks ties by ctid itself), against the reference
#     ORDER BY ref_score DESC, ctid: same rows, same order, scores equal
#     within 1e-9 relative; rows with equal scores must come in ctid order;
#   * the same ranking computed by a seq-scan formulation (per-row @@@ and
#     bm25_score, no top-k plan shape) for a subset of the queries;
#   * count(*) WHERE body @@@ q (bitmap scan, plain index scan, seq scan)
#     against the reference number of matching documents;
#   * bm25_index_stats() N / total tokens / avgdl against the reference.
#
# Then more rows are inserted through the index's insert path (including
# duplicates of old rows and NULL/empty bodies) and the ranking checks are
# repeated against a recomputed reference.
#
# The reference is plain SQL over unnest(to_tsvector('english', body)) (the
# heredoc below); it sums the per-term parts in canonical (lexeme) order, as
# docs/ranking.md specifies, so scores are normally bit-identical.  Rows are
# compared by ctid.  Score differences below 1e-9 relative are accepted, and
# a swap of two rows whose reference scores differ by less than that is
# reported (note) but not counted as a mismatch.
#
# Runtime: about a minute on an idle 2-core machine, most of it in the
# seq-scan formulation and in to_tsvector() for the reference.

use strict;
use warnings;

use Cwd ();
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $t_start = time;

# PG 15's Cluster->init runs pg_regress --config-auth unconditionally.
if (!$ENV{PG_REGRESS})
{
	my $pgxs = `pg_config --pgxs`;
	chomp $pgxs;
	$ENV{PG_REGRESS} = dirname(dirname($pgxs)) . '/test/regress/pg_regress';
}

# ---------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------
my $SEED         = 20240611;
my $N_VOCAB      = 5000;
my $N_DOCS       = 20000;      # phase 1, indexed by CREATE INDEX
my $N_DOCS2      = 2500;       # phase 2, inserted through aminsert
my $N_QUERIES    = 240;        # plain queries (plus a few hand-written)
my $N_OPQUERIES  = 60;         # queries with +/- clauses (plus a few)
my $N_SEQ        = 12;         # queries also checked with the seq-scan form
my $N_QUERIES2   = 120;        # queries re-checked after the inserts
my $K1           = 1.2;
my $B            = 0.75;
my $REL_TOL      = 1e-9;
my $MAX_DIAG     = 8;          # mismatch details printed per check

# ---------------------------------------------------------------------------
# Deterministic corpus generation (Perl's own drand48 since 5.20, so the
# sequence is the same on every platform).
# ---------------------------------------------------------------------------
srand($SEED);

# Snowball english stop words (a superset is fine: only used to keep them out
# of the synthetic vocabulary) and a subset sprinkled into documents/queries.
my %STOP = map { $_ => 1 } qw(
  i me my myself we our ours ourselves you your yours yourself yourselves he
  him his himself she her hers herself it its itself they them their theirs
  themselves what which who whom this that these those am is are was were be
  been being have has had having do does did doing a an the and but if or
  because as until while of at by for with about against between into through
  during before after above below to from up down in out on off over under
  again further then once here there when where why how all any both each few
  more most other some such no nor not only own same so than too very s t can
  will just don should now d ll m o re ve y ain aren couldn didn doesn hadn
  hasn haven isn ma mightn mustn needn shan shouldn wasn weren won wouldn);
my @STOPWORDS = qw(the and of to in is it that for with was on as be at by
  this from or an are but not they have which there been were all would she he
  we you);

my @ONSET = qw(b d f g k l m n p r s t v z b d k m n t br st);
my @VOWEL = qw(a e i o u a o);
my @CODA  = ('', '', '', '', '', '', 'n', 'r', 'l', 'k', 'm', 't');

sub make_word
{
	my ($nsyl) = @_;
	my $w = '';
	$w .= $ONSET[ int rand @ONSET ] . $VOWEL[ int rand @VOWEL ] for 1 .. $nsyl;
	return $w . $CODA[ int rand @CODA ];
}

my (@vocab, %seen);
while (@vocab < $N_VOCAB)
{
	my $w = make_word(rand() < 0.65 ? 2 : 3);
	next if $seen{$w}++ || $STOP{$w};
	push @vocab, $w;
}

# Words that never occur in the corpus (for absent query terms).
my @absent;
while (@absent < 200)
{
	my $w = 'xq' . make_word(1 + int rand 2);
	next if $seen{$w}++;
	push @absent, $w;
}

# Zipf-like ranks: P(rank r) ~ 1 / (r + 2)^1.05
my @cdf;
{
	my $acc = 0;
	for my $r (0 .. $N_VOCAB - 1)
	{
		$acc += 1.0 / ($r + 2)**1.05;
		push @cdf, $acc;
	}
	$_ /= $acc for @cdf;
}

sub zipf_rank
{
	my $u = rand();
	my ($lo, $hi) = (0, $#cdf);
	while ($lo < $hi)
	{
		my $mid = int(($lo + $hi) / 2);
		if ($cdf[$mid] < $u) { $lo = $mid + 1 }
		else                 { $hi = $mid }
	}
	return $lo;
}

sub zipf_word { return $vocab[ zipf_rank() ] }

# One document body (undef = NULL).
my @bodies;    # all generated bodies, for duplicates

sub gen_body
{
	my $kind = rand();
	return undef if $kind < 0.003;
	return ''    if $kind < 0.006;
	if ($kind < 0.008)
	{
		# stopword-only (and punctuation-only) bodies
		return join(' ', map { $STOPWORDS[ int rand @STOPWORDS ] } 1 .. 1 + int rand 12)
		  if rand() < 0.8;
		return '... -- !!! ,, ?';
	}
	if ($kind < 0.030 && @bodies)
	{
		# exact duplicate of an earlier document (ties!)
		return $bodies[ int rand @bodies ];
	}

	my $len;
	my $lk = rand();
	if    ($lk < 0.01)  { $len = 1 + int rand 4 }          # very short
	elsif ($lk < 0.015) { $len = 200 + int rand 400 }      # a few long ones
	elsif ($lk < 0.60)  { $len = 5 + int rand 26 }
	elsif ($lk < 0.90)  { $len = 31 + int rand 70 }
	else                { $len = 101 + int rand 100 }

	my @w;
	while (@w < $len)
	{
		my $r = rand();
		if ($r < 0.12) { push @w, $STOPWORDS[ int rand @STOPWORDS ]; next }
		if ($r < 0.125) { push @w, int rand 2000; next }
		my $word = ($r < 0.80) ? zipf_word() : $vocab[ int rand @vocab ];
		my $d = rand();
		if    ($d < 0.04)  { $word = ucfirst $word }
		elsif ($d < 0.05)  { $word = uc $word }
		elsif ($d < 0.07)  { $word .= 's' }
		elsif ($d < 0.075) { $word .= '-' . zipf_word() }
		elsif ($d < 0.09)  { $word .= (',', '.', ';', ':', '!', '?')[ int rand 6 ] }
		push @w, $word;
		# bursts: the same word again (tf > 1)
		if (rand() < 0.07) { push @w, $word for 1 .. 1 + int rand 3 }
	}
	# a heavy-tf document now and then (tf well above 1, below 256)
	if (rand() < 0.01)
	{
		my $word = zipf_word();
		push @w, $word for 1 .. 10 + int rand 60;
	}
	return join(' ', @w);
}

sub gen_docs
{
	my ($first_id, $n) = @_;
	my @rows;
	for my $id ($first_id .. $first_id + $n - 1)
	{
		my $body = gen_body();
		push @bodies, $body if defined $body && length $body;
		push @rows, [ $id, $body ];
	}
	# a few clusters of many copies of one document
	for (1 .. 5)
	{
		my $src = $bodies[ int rand @bodies ];
		my $copies = 3 + int rand 8;
		for (1 .. $copies)
		{
			my $i = int rand @rows;
			$rows[$i][1] = $src;
		}
	}
	return \@rows;
}

sub write_copy_file
{
	my ($path, $rows) = @_;
	open my $fh, '>', $path or die "cannot write $path: $!";
	for my $r (@$rows)
	{
		print $fh join("\t", map { defined $_ ? $_ : '\N' } @$r), "\n";
	}
	close $fh or die;
}

sub gen_query
{
	my ($ops) = @_;    # with +MUST / -MUST_NOT prefixes
	my $nterms = 1 + int rand 10;
	my (@t, @base);
	my $has_real = 0;
	for (1 .. $nterms)
	{
		my $r = rand();
		my $w;
		if    ($r < 0.40) { $w = zipf_word(); $has_real = 1 }        # frequent-ish
		elsif ($r < 0.78) { $w = $vocab[ int rand @vocab ]; $has_real = 1 }  # rare-ish
		elsif ($r < 0.88) { $w = $absent[ int rand @absent ]; $has_real = 1 }
		elsif ($r < 0.94) { $w = $STOPWORDS[ int rand @STOPWORDS ] }
		else  { $w = @base ? $base[ int rand @base ] : zipf_word(); $has_real = 1 }  # duplicate term
		my $d = rand();
		$w = ucfirst $w if $d < 0.05;
		$w .= 's' if $d >= 0.05 && $d < 0.10 && $w =~ /^[a-z]+$/;
		push @base, $w;
		if ($ops)
		{
			my $o = rand();
			$w = "+$w" if $o < 0.25;
			$w = "-$w" if $o >= 0.25 && $o < 0.42;
		}
		push @t, $w;
	}
	push @t, zipf_word() unless $has_real;
	return join(' ', @t);
}

my $docs1 = gen_docs(1, $N_DOCS);
my @queries = map { gen_query(0) } 1 .. $N_QUERIES;
# a few hand-written shapes
push @queries, $vocab[0], "$vocab[0] $vocab[1] $vocab[2]", "$vocab[4999]",
  "$absent[0]", "$absent[1] $absent[2] the", "\U$vocab[3]\E and $vocab[3]s";
my $n_plain = scalar @queries;
# queries with +MUST / -MUST_NOT clauses
push @queries, map { gen_query(1) } 1 .. $N_OPQUERIES;
push @queries, "+$vocab[0] +$vocab[1]", "+$vocab[2] -$vocab[0]", "-$vocab[0] $vocab[5]",
  "+$absent[3] $vocab[0]", "-$vocab[0] -$vocab[1]", "+$vocab[7] +$vocab[7]s -the";
my $docs2 = gen_docs($N_DOCS + 1, $N_DOCS2);

# ---------------------------------------------------------------------------
# Cluster
# ---------------------------------------------------------------------------
my $node = PostgreSQL::Test::Cluster->new('exactness');
$node->init;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'bm25'
log_statement = none
shared_buffers = 128MB
work_mem = 32MB
maintenance_work_mem = 256MB
max_parallel_workers_per_gather = 2
extra_float_digits = 3
jit = off
});
$node->start;

my $tmp = Cwd::abs_path(PostgreSQL::Test::Utils::tempdir);
write_copy_file("$tmp/docs1.tsv", $docs1);
write_copy_file("$tmp/docs2.tsv", $docs2);
{
	my $i = 0;
	write_copy_file("$tmp/queries.tsv", [ map { [ ++$i, $_ ] } @queries ]);
}

sub psql { return $node->safe_psql('postgres', $_[0]) }

sub phase_time
{
	my ($what, $t0) = @_;
	note(sprintf("%-40s %6.1fs", $what, time - $t0));
}

my $t0 = time;
psql(qq{
CREATE EXTENSION bm25;
CREATE TABLE docs (id int PRIMARY KEY, body text);
COPY docs (id, body) FROM '$tmp/docs1.tsv';
CREATE TABLE docs_phase2 (id int PRIMARY KEY, body text);
COPY docs_phase2 (id, body) FROM '$tmp/docs2.tsv';
CREATE TABLE queries (qid int PRIMARY KEY, q text NOT NULL);
COPY queries (qid, q) FROM '$tmp/queries.tsv';
ANALYZE docs;
ANALYZE queries;
});
phase_time('load', $t0);

$t0 = time;
psql(qq{CREATE INDEX docs_bm25 ON docs USING bm25 (body)
        WITH (text_config = 'english', k1 = $K1, b = $B);
        ANALYZE docs;});
phase_time('create index', $t0);

# ---------------------------------------------------------------------------
# Reference (plain SQL) and the runner that collects the extension's answers
# ---------------------------------------------------------------------------
psql(<<"EOSQL");
-- One BM25 term contribution, exactly as specified (Lucene's classic
-- form), idf * tfpart, each part evaluated left to right as written in
-- docs/ranking.md, so the reference rounds like the extension should.
CREATE FUNCTION ref_term(idf float8, tf float8, dl float8, avgdl float8)
RETURNS float8 LANGUAGE sql IMMUTABLE AS
\$\$ SELECT idf * (tf * (${K1}::float8 + 1.0::float8)
                  / (tf + ${K1}::float8 * (1.0::float8 - ${B}::float8
                                            + ${B}::float8 * dl / avgdl))) \$\$;

-- Brute-force reference over the current contents of docs, for the queries
-- in p_qids: ref_top (top 100 of each query, ties by ctid, with the
-- number of matching documents) and ref_counts.
--
-- Query semantics (docs/ranking.md): clauses are blank-separated; "+word"
-- is MUST, "-word" MUST_NOT, otherwise SHOULD.  Each clause is analyzed
-- like to_tsvector(config, word); duplicate lexemes merge, keeping the
-- strongest occurrence (MUST_NOT > MUST > SHOULD).  A document matches iff
-- it contains every MUST lexeme, no MUST_NOT lexeme and at least one
-- MUST/SHOULD lexeme; its score sums the present MUST/SHOULD lexemes.
CREATE FUNCTION ref_build(p_qids int[]) RETURNS void LANGUAGE plpgsql AS \$\$
BEGIN
	DROP TABLE IF EXISTS ref_postings, ref_docs, ref_df, ref_stats, qlex_all,
		qlex, qmust, qexcl, ref_top, ref_counts;

	CREATE TABLE ref_postings AS
		SELECT d.id, t.lexeme, array_length(t.positions, 1) AS tf
		FROM docs d, unnest(to_tsvector('english', d.body)) t
		WHERE d.body IS NOT NULL;
	-- counted documents: at least one lexeme
	CREATE TABLE ref_docs AS
		SELECT d.id, d.ctid AS tid, p.dl
		FROM docs d
		JOIN (SELECT id, sum(tf)::bigint AS dl FROM ref_postings GROUP BY id) p
		  USING (id);
	CREATE TABLE ref_df AS
		SELECT lexeme, count(*)::bigint AS df FROM ref_postings GROUP BY lexeme;
	ANALYZE ref_postings;
	ANALYZE ref_docs;
	ANALYZE ref_df;
	CREATE TABLE ref_stats AS
		SELECT count(*)::bigint AS n, sum(dl)::bigint AS sumdl,
		       sum(dl)::float8 / count(*)::float8 AS avgdl,
		       (SELECT count(*) FROM ref_df)::bigint AS terms
		FROM ref_docs;
	-- distinct lexemes of each query with their occurrence
	-- (1 SHOULD, 2 MUST, 3 MUST_NOT) and how often the query gives them
	-- (qtf: a lexeme given twice weighs twice)
	CREATE TABLE qlex_all AS
		SELECT c.qid, t.lexeme, max(c.occur) AS occur,
		       sum(array_length(t.positions, 1)) AS qtf
		FROM (SELECT q.qid,
		             CASE left(w, 1) WHEN '+' THEN 2 WHEN '-' THEN 3 ELSE 1 END AS occur,
		             CASE WHEN left(w, 1) IN ('+', '-') THEN substr(w, 2) ELSE w END AS word
		      FROM queries q, regexp_split_to_table(q.q, '\\s+') w
		      WHERE q.qid = ANY (p_qids) AND w <> '') c,
		     unnest(to_tsvector('english', c.word)) t
		GROUP BY c.qid, t.lexeme;
	-- the scoring lexemes with their weight qtf * idf, idf first as in
	-- bm25_scorer_init (absent ones contribute nothing)
	CREATE TABLE qlex AS
		SELECT x.qid, x.lexeme, x.occur,
		       ln(1.0::float8 + (s.n::float8 - f.df::float8 + 0.5::float8)
		                        / (f.df::float8 + 0.5::float8)) * x.qtf::float8 AS idf
		FROM qlex_all x
		JOIN ref_df f USING (lexeme)
		CROSS JOIN ref_stats s
		WHERE x.occur < 3;
	-- number of MUST lexemes (present in the corpus or not)
	CREATE TABLE qmust AS
		SELECT qid, count(*) AS nmust FROM qlex_all WHERE occur = 2 GROUP BY qid;
	-- documents excluded by a MUST_NOT lexeme
	CREATE TABLE qexcl AS
		SELECT DISTINCT x.qid, p.id
		FROM qlex_all x JOIN ref_postings p USING (lexeme)
		WHERE x.occur = 3;
	ANALYZE ref_stats;
	ANALYZE qlex;
	ANALYZE qmust;
	ANALYZE qexcl;
	-- The sum runs over input sorted by lexeme, so it adds the parts in the
	-- canonical order, like ref_lookup's sum(... ORDER BY lexeme) (hash or
	-- group aggregation both consume their input in order; parallelism is
	-- off).
	CREATE TABLE ref_top AS
		SELECT qid, rnk, cnt, tid, id, score FROM (
			SELECT qid, row_number() OVER (PARTITION BY qid
			                              ORDER BY score DESC, tid) AS rnk,
			       count(*) OVER (PARTITION BY qid) AS cnt, tid, id, score
			FROM (SELECT sc.*
			      FROM (SELECT qid, id, tid, sum(part) AS score,
			                   count(*) FILTER (WHERE occur = 2) AS nmust
			            FROM (SELECT ql.qid, p.id, d.tid, ql.occur,
			                         ref_term(ql.idf, p.tf, d.dl, s.avgdl) AS part
			                  FROM qlex ql
			                  JOIN ref_postings p ON p.lexeme = ql.lexeme
			                  JOIN ref_docs d ON d.id = p.id
			                  CROSS JOIN ref_stats s
			                  ORDER BY ql.qid, p.id, ql.lexeme COLLATE "C") parts
			            GROUP BY qid, id, tid) sc
			      LEFT JOIN qmust m ON m.qid = sc.qid
			      WHERE sc.nmust = coalesce(m.nmust, 0)
			        AND NOT EXISTS (SELECT 1 FROM qexcl e
			                        WHERE e.qid = sc.qid AND e.id = sc.id)) matched) x
		WHERE rnk <= 100;
	CREATE TABLE ref_counts AS
		SELECT q.qid, coalesce(max(t.cnt), 0)::bigint AS cnt
		FROM queries q LEFT JOIN ref_top t USING (qid)
		WHERE q.qid = ANY (p_qids)
		GROUP BY q.qid;
END
\$\$;

-- Reference score of every row the extension returned in a phase, summed in
-- the canonical (lexeme) order; rows that should not match get no entry.
CREATE FUNCTION ref_lookup_build(p_phase int) RETURNS void LANGUAGE plpgsql AS \$\$
BEGIN
	DROP TABLE IF EXISTS ref_lookup;
	ANALYZE idx_res;
	CREATE TABLE ref_lookup AS
		SELECT sc.qid, sc.id, sc.score
		FROM (SELECT k.qid, k.id,
		             sum(ref_term(ql.idf, p.tf, d.dl, s.avgdl)
		                 ORDER BY ql.lexeme COLLATE "C") AS score,
		             count(*) FILTER (WHERE ql.occur = 2) AS nmust
		      FROM (SELECT DISTINCT qid, id FROM idx_res WHERE phase = p_phase) k
		      JOIN qlex ql ON ql.qid = k.qid
		      JOIN ref_postings p ON p.id = k.id AND p.lexeme = ql.lexeme
		      JOIN ref_docs d ON d.id = k.id
		      CROSS JOIN ref_stats s
		      GROUP BY k.qid, k.id) sc
		LEFT JOIN qmust m ON m.qid = sc.qid
		WHERE sc.nmust = coalesce(m.nmust, 0)
		  AND NOT EXISTS (SELECT 1 FROM qexcl e WHERE e.qid = sc.qid AND e.id = sc.id);
END
\$\$;
CREATE TABLE idx_res (phase int, qid int, variant text, rnk int,
                      tid tid, id int, score float8);
CREATE TABLE idx_cnt (phase int, qid int, variant text, cnt bigint);
CREATE TABLE idx_plan (phase int, qid int, variant text, plan text, ms float8);
CREATE TABLE idx_err (phase int, qid int, variant text, sqlstate text,
                      message text);

-- Runs the given variants for the given queries and records the
-- ordered result rows (or counts), the plans and any errors.
CREATE FUNCTION run_variants(p_phase int, p_variants text[], p_qids int[])
RETURNS void LANGUAGE plpgsql AS \$\$
DECLARE
	r record;
	v text;
	k int;
	tmpl text;
	sql text;
	line text;
	plan text;
	rec record;
	n int;
	c bigint;
	t0 timestamptz;
BEGIN
	FOR r IN SELECT qid, q FROM queries WHERE qid = ANY (p_qids) ORDER BY qid LOOP
		FOREACH v IN ARRAY p_variants LOOP
			k := CASE WHEN v LIKE '%10' THEN 10 ELSE 100 END;
			tmpl := CASE
				WHEN v LIKE 'topk_ctid%' THEN
					'SELECT ctid AS t, id, bm25_score(body, %1\$L) AS s FROM docs '
					'WHERE body @@@ %1\$L ORDER BY bm25_score(body, %1\$L) DESC, ctid LIMIT %2\$s'
				WHEN v LIKE 'topk%' THEN
					'SELECT ctid AS t, id, bm25_score(body, %1\$L) AS s FROM docs '
					'WHERE body @@@ %1\$L ORDER BY bm25_score(body, %1\$L) DESC LIMIT %2\$s'
				WHEN v LIKE 'seq%' THEN
					'SELECT t, id, s, count(*) OVER () AS c FROM (SELECT ctid AS t, id, '
					'bm25_score(body, %1\$L) AS s FROM docs WHERE body @@@ %1\$L OFFSET 0) x '
					'ORDER BY s DESC, t LIMIT %2\$s'
				WHEN v LIKE 'count%' THEN
					'SELECT count(*) FROM docs WHERE body @@@ %1\$L'
			END;
			sql := format(tmpl, r.q, k);
			BEGIN
				plan := '';
				FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || sql LOOP
					plan := plan || line || E'\\n';
				END LOOP;
				t0 := clock_timestamp();
				IF v LIKE 'count%' THEN
					EXECUTE sql INTO c;
					INSERT INTO idx_cnt VALUES (p_phase, r.qid, v, c);
				ELSIF v LIKE 'seq%' THEN
					-- the window count gives the number of matches of the
					-- seq-scan form as well
					n := 0;
					c := 0;
					FOR rec IN EXECUTE sql LOOP
						n := n + 1;
						c := rec.c;
						INSERT INTO idx_res VALUES (p_phase, r.qid, v, n, rec.t, rec.id, rec.s);
					END LOOP;
					INSERT INTO idx_cnt VALUES (p_phase, r.qid, 'count_' || v, c);
				ELSE
					n := 0;
					FOR rec IN EXECUTE sql LOOP
						n := n + 1;
						INSERT INTO idx_res VALUES (p_phase, r.qid, v, n, rec.t, rec.id, rec.s);
					END LOOP;
				END IF;
				INSERT INTO idx_plan VALUES (p_phase, r.qid, v, plan,
					1000 * extract(epoch FROM clock_timestamp() - t0));
			EXCEPTION WHEN OTHERS THEN
				INSERT INTO idx_err VALUES (p_phase, r.qid, v, SQLSTATE, SQLERRM);
			END;
		END LOOP;
	END LOOP;
END
\$\$;
EOSQL

my $n_queries = scalar @queries;
my @plain_q = (1 .. $n_plain);
my @op_q    = ($n_plain + 1 .. $n_queries);
my @all_q   = (1 .. $n_queries);
my @seq_q   = ((1 .. $N_SEQ - 4), ($n_plain + 1 .. $n_plain + 4));
my @q2      = ((1 .. $N_QUERIES2), ($n_plain + 1 .. $n_plain + 30));
sub sql_array { return 'ARRAY[' . join(',', @{ $_[0] }) . ']::int[]' }
my $total_compared = 0;      # (query, variant) rankings compared
my $max_rel = 0;             # max relative score difference seen
my $near_tie_swaps = 0;
my $exact_ties = 0;          # adjacent result rows with equal scores
my ($n_scores, $n_bit_equal) = (0, 0);

sub rel_diff
{
	my ($a, $b) = @_;
	my $m = abs($a) > abs($b) ? abs($a) : abs($b);
	return 0 if $m == 0;
	return abs($a - $b) / $m;
}

sub parse_tid
{
	my ($t) = @_;
	my ($blk, $off) = $t =~ /^\((\d+),(\d+)\)$/ or die "bad tid $t";
	return ($blk, $off);
}

sub tid_lt
{
	my ($x, $y) = @_;
	my @x = parse_tid($x);
	my @y = parse_tid($y);
	return $x[0] < $y[0] || ($x[0] == $y[0] && $x[1] < $y[1]);
}

sub rows_of
{
	my ($sql, $ncols) = @_;
	my $out = psql($sql);
	return [ map { [ split /\|/, $_, $ncols // -1 ] } grep { length } split /\n/, $out ];
}

# Compares the rankings of the given variants in a phase with ref_top.
# Returns the number of mismatching (query, variant) pairs.
sub compare_rankings
{
	my ($phase, $variants, $qids) = @_;
	my $maxqid = (sort { $b <=> $a } @$qids)[0];

	my %ref;    # qid -> [ [tid, id, score], ... ] by rank
	for my $r (@{ rows_of("SELECT qid, rnk, tid, id, score FROM ref_top
	                       WHERE qid <= $maxqid ORDER BY qid, rnk") })
	{
		push @{ $ref{ $r->[0] } }, [ $r->[2], $r->[3], $r->[4] ];
	}
	my %got;    # "qid/variant" -> [ [tid, id, score, refscore], ... ]
	my $vlist = join(',', map { "'$_'" } @$variants);
	for my $r (@{ rows_of(
		"SELECT i.qid, i.variant, i.rnk, i.tid, i.id, i.score, l.score
		 FROM idx_res i LEFT JOIN ref_lookup l ON l.qid = i.qid AND l.id = i.id
		 WHERE i.phase = $phase AND i.variant IN ($vlist)
		 ORDER BY i.qid, i.variant, i.rnk") })
	{
		push @{ $got{"$r->[0]/$r->[1]"} }, [ @$r[ 3 .. 6 ] ];
	}
	my %err;
	for my $r (@{ rows_of("SELECT qid, variant, sqlstate, message FROM idx_err
	                       WHERE phase = $phase AND variant IN ($vlist)", 4) })
	{
		$err{"$r->[0]/$r->[1]"} = "ERROR $r->[2]: $r->[3]";
	}

	my $mismatches = 0;
	my $shown = 0;
	for my $qid (@$qids)
	{
		for my $v (@$variants)
		{
			my $k = $v =~ /10$/ ? 10 : 100;
			my @R = @{ $ref{$qid} || [] };
			splice(@R, $k) if @R > $k;
			my @L = @{ $got{"$qid/$v"} || [] };
			my @why;

			push @why, $err{"$qid/$v"} if $err{"$qid/$v"};
			push @why, sprintf("%d rows, expected %d", scalar @L, scalar @R)
			  if @L != @R;
			my (%dup, %by_ref);
			for my $i (0 .. $#L)
			{
				my ($tid, $id, $s, $rs) = @{ $L[$i] };
				my $rank = $i + 1;
				push @why, "rank $rank: row $tid (id $id) returned twice" if $dup{$tid}++;
				if ($s eq '')
				{
					push @why, "rank $rank: row $tid (id $id): NULL score";
					next;
				}
				if ($rs eq '')
				{
					push @why, "rank $rank: row $tid (id $id, score $s) does not match the query";
					next;
				}
				# the row's own score
				my $d = rel_diff($s, $rs);
				$max_rel = $d if $d > $max_rel;
				$n_scores++;
				$n_bit_equal++ if $s == $rs;
				push @why, sprintf("rank %d: row %s (id %d) score %.17g, reference %.17g (rel diff %.3g)",
					$rank, $tid, $id, $s, $rs, $d)
				  if $d > $REL_TOL;
				# rows whose reference scores are bit-identical (same
				# lexemes, tfs and length) must get identical scores
				if (exists $by_ref{$rs} && $by_ref{$rs}[1] != $s)
				{
					push @why, sprintf("rank %d: rows %s and %s have identical reference score %.17g but scores %.17g and %.17g",
						$rank, $by_ref{$rs}[0], $tid, $rs, $by_ref{$rs}[1], $s);
				}
				$by_ref{$rs} //= [ $tid, $s ];
				# the extension's own order: score DESC, then ctid ASC
				if ($i > 0)
				{
					my ($ptid, undef, $ps) = @{ $L[ $i - 1 ] };
					push @why, sprintf("rank %d: out of order after rank %d: (%s, %.17g) then (%s, %.17g)",
						$rank, $i, $ptid, $ps, $tid, $s)
					  unless $ps > $s || ($ps == $s && tid_lt($ptid, $tid));
					$exact_ties++ if $ps == $s;
				}
				next if $i > $#R;
				# the reference ranking at this position
				my ($rtid, $rid, $rscore) = @{ $R[$i] };
				my $dr = rel_diff($s, $rscore);
				$max_rel = $dr if $dr > $max_rel;
				if ($tid ne $rtid)
				{
					if (rel_diff($rs, $rscore) <= $REL_TOL)
					{
						# two rows whose scores differ only by rounding:
						# the order may legitimately differ from the reference
						$near_tie_swaps++;
						note(sprintf("phase %d, %s, query %d, rank %d: near tie: got %s (%.17g, ref %.17g), reference has %s (%.17g)",
							$phase, $v, $qid, $rank, $tid, $s, $rs, $rtid, $rscore));
					}
					else
					{
						push @why, sprintf("rank %d: got row %s (id %d, score %.17g, ref %.17g), expected row %s (id %d, score %.17g)",
							$rank, $tid, $id, $s, $rs, $rtid, $rid, $rscore);
					}
				}
				elsif ($dr > $REL_TOL)
				{
					push @why, sprintf("rank %d: row %s score %.17g, expected %.17g",
						$rank, $tid, $s, $rscore);
				}
			}
			$total_compared++;
			next unless @why;
			$mismatches++;
			if ($shown++ < $MAX_DIAG)
			{
				splice(@why, 6, @why - 6, '... (' . (@why - 6) . ' more)') if @why > 7;
				diag("phase $phase, $v, query $qid '$queries[$qid-1]':\n    "
					  . join("\n    ", @why));
			}
		}
	}
	return $mismatches;
}

# Compares count variants with ref_counts.
sub compare_counts
{
	my ($phase, $variant, $qids) = @_;
	my $maxqid = (sort { $b <=> $a } @$qids)[0];
	my %ref = map { ($_->[0] => $_->[1]) }
	  @{ rows_of("SELECT qid, cnt FROM ref_counts WHERE qid <= $maxqid") };
	my %got = map { ($_->[0] => $_->[1]) }
	  @{ rows_of("SELECT qid, cnt FROM idx_cnt WHERE phase = $phase AND variant = '$variant'") };
	my %err = map { ($_->[0] => "ERROR $_->[1]: $_->[2]") }
	  @{ rows_of("SELECT qid, sqlstate, message FROM idx_err WHERE phase = $phase AND variant = '$variant'", 3) };
	my ($bad, $shown) = (0, 0);
	for my $qid (@$qids)
	{
		my $g = $err{$qid} // $got{$qid} // '(missing)';
		next if $g eq $ref{$qid};
		$bad++;
		diag("phase $phase, $variant, query $qid '$queries[$qid-1]': count $g, expected $ref{$qid}")
		  if $shown++ < $MAX_DIAG;
	}
	return $bad;
}

# Plans of a variant that do (or do not) contain the top-k node.
sub count_plans
{
	my ($phase, $variant, $pattern) = @_;
	my $r = rows_of("SELECT count(*) FILTER (WHERE plan ~ '$pattern'), count(*)
	                 FROM idx_plan WHERE phase = $phase AND variant = '$variant'");
	return @{ $r->[0] };
}

sub check_stats
{
	my ($phase) = @_;
	my $r = rows_of("SELECT s.text_config, s.documents, s.total_tokens,
	                        s.avg_doc_length, s.terms, s.segments,
	                        r.n, r.sumdl, r.avgdl, r.terms
	                 FROM bm25_index_stats('docs_bm25') s, ref_stats r")->[0];
	my ($cfg, $docs, $tokens, $avg, $terms, $segs, $rn, $rsum, $ravg, $rterms) = @$r;
	diag("phase $phase: index stats: segments $segs, documents $docs, total_tokens $tokens, "
		  . "avg_doc_length $avg, terms $terms; reference N $rn, sum(dl) $rsum, "
		  . "avgdl $ravg, distinct lexemes $rterms");
	is($cfg, 'english', "phase $phase: text_config is english");
	is($docs, $rn, "phase $phase: documents = reference N");
	is($tokens, $rsum, "phase $phase: total_tokens = reference sum(dl)");
	ok(rel_diff($avg, $ravg) <= 1e-12, "phase $phase: avg_doc_length = reference avgdl")
	  or diag("avg_doc_length $avg vs $ravg");
	is($terms, $rterms, "phase $phase: terms = distinct lexemes (single segment)")
	  if $segs == 1;
}

# ---------------------------------------------------------------------------
# Phase 1: index built by CREATE INDEX
# ---------------------------------------------------------------------------
$t0 = time;
psql("SET work_mem = '512MB'; SET max_parallel_workers_per_gather = 0; SELECT ref_build(${\ sql_array(\@all_q)})");
phase_time('reference (phase 1)', $t0);
{
	my $r = rows_of("SELECT (SELECT count(*) FROM docs WHERE body IS NULL),
	                        (SELECT count(*) FROM docs WHERE body = ''),
	                        (SELECT count(*) FROM docs) - (SELECT count(*) FROM ref_docs),
	                        (SELECT count(*) FROM (SELECT body FROM docs WHERE body <> ''
	                                GROUP BY body HAVING count(*) > 1) x),
	                        (SELECT max(tf) FROM ref_postings),
	                        (SELECT count(*) FROM ref_postings WHERE tf > 1),
	                        (SELECT min(dl) || '..' || max(dl) FROM ref_docs),
	                        (SELECT count(*) FROM qlex_all),
	                        (SELECT count(*) FROM ref_df),
	                        (SELECT count(*) FILTER (WHERE cnt = 0) || ' / ' || count(*)
	                         FROM ref_counts WHERE qid <= $n_plain),
	                        (SELECT count(*) FILTER (WHERE cnt = 0) || ' / ' || count(*)
	                         FROM ref_counts WHERE qid > $n_plain),
	                        (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY cnt)
	                         FROM ref_counts)")->[0];
	diag("corpus: $N_DOCS docs ($r->[0] NULL, $r->[1] empty, $r->[2] without lexemes, "
		  . "$r->[3] bodies duplicated), max tf $r->[4], $r->[5] postings with tf > 1, "
		  . "dl $r->[6], $r->[8] lexemes; $n_queries queries with $r->[7] distinct query lexemes; "
		  . "queries without matches: $r->[9] plain, $r->[10] with +/-; median matches per query $r->[11]");
}
check_stats(1);

$t0 = time;
# count(*) through the bitmap path and through the plain index scan
psql(qq{
SELECT run_variants(1, ARRAY['topk10', 'topk100', 'topk_ctid10', 'topk_ctid100'], ${\ sql_array(\@all_q)});
SET enable_seqscan = off; SET enable_indexscan = off;
SELECT run_variants(1, ARRAY['count_bitmap'], ${\ sql_array(\@all_q)});
SET enable_indexscan = on; SET enable_bitmapscan = off;
SELECT run_variants(1, ARRAY['count_idx'], ${\ sql_array(\@all_q)});
});
phase_time('index queries (phase 1)', $t0);

# The seq-scan form: no index, no top-k shape; a parallel seq scan so both
# cores work (and the bound query travels to parallel workers).
$t0 = time;
psql(qq{
SET enable_indexscan = off; SET enable_bitmapscan = off;
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;
SELECT run_variants(1, ARRAY['seq100'], ${\ sql_array(\@seq_q)});
});
phase_time('seq-scan queries (phase 1)', $t0);

sub variant_times
{
	my ($phase) = @_;
	my $r = rows_of("SELECT variant, count(*), round(sum(ms)::numeric / 1000, 1),
	                        round(max(ms)::numeric, 1)
	                 FROM idx_plan WHERE phase = $phase GROUP BY variant ORDER BY variant");
	diag("phase $phase query times: "
		  . join('; ', map { "$_->[0] $_->[1] queries $_->[2]s (max $_->[3]ms)" } @$r));
}

{
	variant_times(1);
	my @v = qw(topk10 topk100 topk_ctid10 topk_ctid100);
	for my $v (@v)
	{
		my ($with, $all) = count_plans(1, $v, 'BM25 Top-K');
		is($with, $n_queries, "phase 1: $v plans use the BM25 Top-K custom scan ($with of $all)");
	}
	my ($seq_topk) = count_plans(1, 'seq100', 'BM25 Top-K|Index');
	my ($seq_seq, $seq_all) = count_plans(1, 'seq100', 'Seq Scan');
	ok($seq_topk == 0 && $seq_seq == $seq_all && $seq_all == @seq_q,
		"phase 1: seq100 plans are seq scans without top-k ($seq_seq of $seq_all)");
	my ($cb) = count_plans(1, 'count_bitmap', 'Bitmap Index Scan on docs_bm25');
	is($cb, $n_queries, "phase 1: count_bitmap plans use a bitmap scan of docs_bm25");
	my ($ci) = count_plans(1, 'count_idx', 'Index Scan using docs_bm25');
	is($ci, $n_queries, "phase 1: count_idx plans use an index scan of docs_bm25");
	for my $v (qw(topk_ctid100 seq100))
	{
		note("plan of $v, query 1:\n"
			  . psql("SELECT plan FROM idx_plan WHERE phase = 1 AND variant = '$v' AND qid = 1"));
	}

	$t0 = time;
	psql("SELECT ref_lookup_build(1)");
	my $mm = compare_rankings(1, \@v, \@plain_q);
	is($mm, 0, "phase 1: top-10/top-100 rankings of ${\ scalar @plain_q} plain (OR) queries match the reference");
	$mm = compare_rankings(1, \@v, \@op_q);
	is($mm, 0, "phase 1: top-10/top-100 rankings of ${\ scalar @op_q} queries with +/- clauses match the reference");
	$mm = compare_rankings(1, ['seq100'], \@seq_q);
	is($mm, 0, "phase 1: seq-scan rankings of ${\ scalar @seq_q} queries match the reference");
	is(compare_counts(1, 'count_bitmap', \@all_q), 0,
		"phase 1: count(*) WHERE body \@\@\@ q (bitmap scan) matches the reference");
	is(compare_counts(1, 'count_idx', \@all_q), 0,
		"phase 1: count(*) WHERE body \@\@\@ q (index scan) matches the reference");
	is(compare_counts(1, 'count_seq100', \@seq_q), 0,
		"phase 1: number of matches of the seq-scan form (count(*) OVER ()) matches the reference");
	phase_time('comparisons (phase 1)', $t0);
}

# ---------------------------------------------------------------------------
# Phase 2: rows added through the index insert path
# ---------------------------------------------------------------------------
$t0 = time;
my $inserted = eval {
	my $per = int(($N_DOCS2 + 3) / 4);
	for my $b (0 .. 3)
	{
		my $lo = $N_DOCS + 1 + $b * $per;
		my $hi = $lo + $per - 1;
		psql("INSERT INTO docs SELECT * FROM docs_phase2 WHERE id BETWEEN $lo AND $hi ORDER BY id");
	}
	# duplicates of old rows, inserted late: ties across segments
	psql("INSERT INTO docs SELECT id + 1000000, body FROM docs WHERE id % 997 = 0 AND id <= $N_DOCS ORDER BY id");
	psql("ANALYZE docs");
	1;
};
my $insert_error = $@;
# INSERT is not implemented yet in early versions of the extension: then
# phase 2 is skipped (loudly); any other failure is a failure.
my $insert_unsupported = !$inserted && $insert_error =~ /does not support inserting rows yet/;
ok($inserted || $insert_unsupported, "phase 2: INSERT into the indexed table")
  or diag($insert_error);
diag("phase 2 SKIPPED: the index does not support INSERT yet") if $insert_unsupported;
phase_time('inserts (phase 2)', $t0);

SKIP:
{
	skip "phase 2 needs INSERT", 7 unless $inserted;

	$t0 = time;
	psql("SET work_mem = '512MB'; SET max_parallel_workers_per_gather = 0; SELECT ref_build(${\ sql_array(\@q2)})");
	phase_time('reference (phase 2)', $t0);
	check_stats(2);
	$t0 = time;
	psql(qq{
SELECT run_variants(2, ARRAY['topk10', 'topk100', 'topk_ctid100'], ${\ sql_array(\@q2)});
SET enable_seqscan = off; SET enable_indexscan = off;
SELECT run_variants(2, ARRAY['count_bitmap'], ${\ sql_array(\@q2)});
});
	phase_time('index queries (phase 2)', $t0);
	variant_times(2);
	my @v = qw(topk10 topk100 topk_ctid100);
	my ($with, $all) = count_plans(2, 'topk100', 'BM25 Top-K');
	is($with, scalar @q2, "phase 2: topk100 plans use the BM25 Top-K custom scan ($with of $all)");
	psql("SELECT ref_lookup_build(2)");
	my $mm = compare_rankings(2, \@v, \@q2);
	is($mm, 0, "phase 2: rankings of ${\ scalar @q2} queries after the inserts match the reference");
	is(compare_counts(2, 'count_bitmap', \@q2), 0,
		"phase 2: count(*) WHERE body \@\@\@ q matches the reference");
}

my $verified = eval { psql("SELECT bm25_verify_index('docs_bm25')") };
is($verified, 't', 'bm25_verify_index passes') or diag($@);

diag(sprintf("compared %d rankings (%d queries in phase 1, %d with the seq-scan form; %d in phase 2); "
	  . "%d scores checked, %d bit-identical to the reference, max relative difference %.3g; "
	  . "%d adjacent rows with equal scores (ctid tie-breaks); near-tie reorders %d; elapsed %.1fs",
	$total_compared, $n_queries, scalar @seq_q, $inserted ? scalar @q2 : 0,
	$n_scores, $n_bit_equal, $max_rel,
	$exact_ties, $near_tie_swaps, time - $t_start));

$node->stop;
done_testing();
