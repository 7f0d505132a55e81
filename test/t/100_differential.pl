#!/usr/bin/perl
# 100_differential.pl - randomized differential test of ranked queries
# (issue 4): for every query shape, the index path (bm25 index, top-k custom
# scan where the planner picks it) must return exactly what the reference
# path returns: the same SQL with the bm25 index disabled, every qualifying
# row scored with bm25_score() and sorted.
#
# Data: >= 20k rows with a Zipf-ish vocabulary (log-uniform word ids, so
# w1..w10 are very frequent and w1000+ rare), short bodies and duplicated
# bodies (many exact score ties), filter columns (category int, price
# numeric, flag bool, author_id, id), a second bm25 index on title, and an
# authors table (some author ids missing, so inner joins drop rows).
#
# History before the queries (autovacuum off, no VACUUM anywhere):
#   * rows inserted after CREATE INDEX through the write buffer, with a
#     small write_buffer_docs so the buffer converts into several segments;
#   * deletes without VACUUM; updates of body (new index entries, dead old
#     versions) and of other columns only (HOT chains);
#   * an aborted transaction's high-scoring inserts;
#   * session A: an open transaction with uncommitted high-scoring inserts,
#     an uncommitted body update and an uncommitted delete (held open with
#     background_psql for the whole test);
#   * session B: a REPEATABLE READ snapshot taken before further committed
#     high-scoring inserts, deletes and body updates.
# The "hot" inserted bodies repeat the most frequent words, so any invisible
# row that wrongly took a top-k slot would be visible in the results.
#
# Queries are run in new sessions (see committed data), in session B (old
# snapshot) and in session A (sees its own uncommitted rows).  Statistics
# (N, avgdl, df) include every index entry, dead or uncommitted, and are the
# same for both paths; nothing changes the index while the two paths of one
# query run (autovacuum is off, A and B are idle).
#
# The reference for one query is computed with enable_indexscan and
# enable_bitmapscan off and the ranked part wrapped in a MATERIALIZED CTE
# around an OFFSET 0 subquery, so no ORDER BY reaches the base relation and
# the top-k scan cannot be used; EXPLAIN of every reference is checked to
# contain no "BM25 Top-K".  It lists rows in the total order
# (score, ctid) -- DESC, ctid ASC for descending shapes -- with row_number()
# and returns every row up to the window end plus all rows tied with the
# score at the window end, and the total number of qualifying rows.
#
# Comparison (scores as float8 text with extra_float_digits = 1, i.e. the
# shortest exact representation, so string equality is float8 equality):
#   * strict: the rows (by ctid) and scores of the result, in order, equal
#     the reference window [m, m+k).  Used when the SQL defines a total
#     order (explicit ctid/id tie-break) and whenever the index plan uses
#     the top-k scan with nothing above it that could reorder rows (no Sort,
#     Hash, Merge, Aggregate, Gather, Append): then the documented tie rule
#     (score desc, ctid asc) applies.
#   * valid-answer (loose): when the plan sorts and SQL leaves ties in any
#     order.  The score sequence must equal the reference window's score
#     sequence exactly; every returned row must be a qualifying row of the
#     reference with exactly that score; no row twice.  Together these mean
#     the result is one of the correct answers: score groups inside the
#     window are complete (same count, all distinct, all qualifying), and the
#     groups cut by the window edges hold the right number of tied rows.
# Both kinds require the row count to be exactly min(k, qualifying - m)
# (for WITH TIES: k plus the rows tied with the k-th).  When the order of
# an intrinsically ordered plan (no total ORDER BY) is a correct answer but
# its ties are not in ctid order, that is counted apart and asserted at the
# end: the top-k scan must return ties in the visible rows' ctid order,
# also for HOT-updated rows, whose index entry points at the chain's root.
# A wrong row, score or count is never tolerated.
use strict;
use warnings;

use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

if (!$ENV{PG_REGRESS})
{
	my $pgxs = `pg_config --pgxs`;
	chomp $pgxs;
	$ENV{PG_REGRESS} = dirname(dirname($pgxs)) . '/test/regress/pg_regress';
}

my $SEED      = 4004;
my $N_MAIN    = 330;    # queries in new sessions
my $N_RR      = 45;     # queries in the REPEATABLE READ session
my $N_OPEN    = 25;     # queries in the session with uncommitted inserts
my $MAX_DIAG  = 12;
srand($SEED);

my $node = PostgreSQL::Test::Cluster->new('diff');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'bm25'
autovacuum = off
log_statement = none
max_parallel_workers_per_gather = 0
});
$node->start;

# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', q{
CREATE EXTENSION bm25;
CREATE TABLE authors (id int PRIMARY KEY, name text);
INSERT INTO authors SELECT i, 'author ' || i FROM generate_series(0, 199) i WHERE i % 17 <> 5;
SELECT setseed(0.4004);
CREATE TABLE gen AS
SELECT i,
       (SELECT string_agg('w' || floor(exp(random() * ln(3000)))::int, ' ')
          FROM generate_series(1, 2 + (random() * 18)::int + 0 * i)) AS body,
       (SELECT string_agg('t' || floor(exp(random() * ln(60)))::int, ' ')
          FROM generate_series(1, 1 + (random() * 3)::int + 0 * i)) AS title
  FROM generate_series(1, 21000) i;
CREATE TABLE docs (id int PRIMARY KEY, category int, price numeric(10,2), flag bool,
                   author_id int, title text, body text);
-- every 10th body (and every 4th title) repeats an earlier one: exact ties
INSERT INTO docs
SELECT g.i, g.i % 10, ((g.i * 37) % 1000) / 10.0, g.i % 3 = 0, (g.i * 7) % 200,
       CASE WHEN g.i % 4 = 0 THEN t.title ELSE g.title END,
       CASE WHEN g.i % 10 = 0 THEN p.body ELSE g.body END
  FROM gen g JOIN gen p ON p.i = greatest(g.i - 7, 1)
             JOIN gen t ON t.i = greatest(g.i - 3, 1)
 WHERE g.i <= 15000;
CREATE INDEX docs_body_bm25 ON docs USING bm25 (body) WITH (write_buffer_docs = 1500);
CREATE INDEX docs_title_bm25 ON docs USING bm25 (title) WITH (write_buffer_docs = 1500);
-- through the write buffer: several conversions into segments
INSERT INTO docs
SELECT g.i, g.i % 10, ((g.i * 37) % 1000) / 10.0, g.i % 3 = 0, (g.i * 7) % 200,
       g.title, CASE WHEN g.i % 10 = 0 THEN p.body ELSE g.body END
  FROM gen g JOIN gen p ON p.i = g.i - 7
 WHERE g.i > 15000;
ANALYZE docs; ANALYZE authors;
});

# History on committed data.
$node->safe_psql('postgres', q{
DELETE FROM docs WHERE id % 23 = 0;
UPDATE docs SET body = body || ' w1 w2' WHERE id % 31 = 0;
UPDATE docs SET category = category + 1, price = price + 1 WHERE id % 37 = 0;
UPDATE docs SET flag = NOT flag WHERE id % 41 = 0;
BEGIN;
INSERT INTO docs SELECT 900000 + i, i % 10, i, true, i % 200, 't1 t1 t2', 'w1 w1 w2 w2 w3 w1'
  FROM generate_series(1, 400) i;
ROLLBACK;
});

my $hot = "'t1 t2', 'w1 w2 w1 w3 w2 w1 w4 w5 w6 w7 w8 w9 w10'";

# Session A: uncommitted inserts (high scores), an uncommitted update of body
# and an uncommitted delete.  Other sessions must not see any of it.
my $sess_a = $node->background_psql('postgres');
$sess_a->query_safe(qq{
BEGIN;
INSERT INTO docs SELECT 700000 + i, i % 10, i % 100, i % 2 = 0, i % 200, $hot FROM generate_series(1, 500) i;
UPDATE docs SET body = 'w1 w1 w1 w2 w2 w3' WHERE id % 53 = 1;
DELETE FROM docs WHERE id % 59 = 2;
});

# Session B: REPEATABLE READ snapshot, then committed changes it must not see.
my $sess_b = $node->background_psql('postgres');
$sess_b->query_safe(q{BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM docs;});
$node->safe_psql('postgres', qq{
INSERT INTO docs SELECT 800000 + i, i % 10, i % 100, i % 2 = 0, i % 200, $hot FROM generate_series(1, 500) i;
-- (rows session A locked are left alone: id % 53 = 1 or id % 59 = 2)
DELETE FROM docs WHERE id % 61 = 4 AND id % 53 <> 1 AND id % 59 <> 2;
UPDATE docs SET body = 'w1 w1 w2 w2 w3 w3' WHERE id % 67 = 5 AND id % 53 <> 1 AND id % 59 <> 2;
});

my $counts = $node->safe_psql('postgres',
	q{SELECT count(*), (SELECT documents + write_buffer_docs FROM bm25_index_stats('docs_body_bm25')),
	         (SELECT segments FROM bm25_index_stats('docs_body_bm25')),
	         (SELECT write_buffer_docs FROM bm25_index_stats('docs_body_bm25')) FROM docs});
my ($nvis, $nidx, $nseg, $nbuf) = split /\|/, $counts;
diag("visible rows $nvis, index entries $nidx, segments $nseg, write buffer $nbuf");
cmp_ok($nvis, '>=', 20000, "table has >= 20k visible rows ($nvis)");
cmp_ok($nidx, '>', $nvis, "index statistics include dead and uncommitted rows ($nidx entries)");
ok($nseg > 1 || $nbuf > 0, "index has more than one part (segments $nseg, write buffer $nbuf)");

# ---------------------------------------------------------------------------
# Query generation
# ---------------------------------------------------------------------------
sub zipf_word
{
	my ($prefix, $max) = @_;
	return $prefix . int(exp(rand() * log($max)));
}

sub gen_query
{
	my ($prefix, $max) = @_;
	my $n = 1 + int(rand(3));
	my @t = map { zipf_word($prefix, $max) } 1 .. $n;
	if ($n > 1 && rand() < 0.2) { $t[0] = "+$t[0]"; }
	if ($n > 1 && rand() < 0.15) { $t[-1] = "-$t[-1]"; }
	return join(' ', @t);
}

my @FILTERS = (
	'true', 'true', 'true',
	'd.category = 3',
	'd.category IN (1, 4, 7)',
	'd.price BETWEEN 20 AND 45.5',
	'd.flag',
	'NOT d.flag AND d.category < 5',
	'd.id % 100 = 0',
	'd.id % 1000 = 0',
	'd.id % 7 = 3 AND d.price > 50',
	'd.author_id IN (SELECT id FROM authors WHERE name LIKE \'%3%\')',
	'd.id > 15000',
	'd.id >= 700000',
);

my @K = (1, 3, 10, 10, 25, 100);
my @M = (0, 0, 1, 5, 17);

# Shapes.  Each returns a hash:
#   run     => SQL run as the index path (multi-statement; output = rows)
#   explain => SQL whose EXPLAIN output is checked
#   base    => reference relation: SELECT key, s, ord FROM ... WHERE ...
#   order   => 'desc' (s DESC, ord), 'asc' (s ASC, ord) or 'ord' (ord only)
#   m, k    => window (k undef = no limit); ties => 1 for WITH TIES
#   cols    => 'ks' (key|score...) or 'k' (key only; score from reference)
#   total   => 1 if the SQL order is total (strict regardless of plan)
#   topk    => 1 if the index plan must use the top-k scan
my $SEL = q{d.ctid::text AS key, d.id, bm25_score(d.body, '%Q%') AS s};
my $REFB = q{SELECT d.ctid::text AS key, bm25_score(d.body, '%Q%') AS s, d.ctid AS ord
               FROM docs d WHERE d.body @@@ '%Q%' AND %F%};

sub fill
{
	my ($sql, %v) = @_;
	$sql =~ s/%(\w+)%/exists $v{$1} ? $v{$1} : die "no $1"/ge;
	return $sql;
}

my %SHAPES = (
	limit => sub {
		my %v = @_;
		my $q = fill("SELECT $SEL FROM docs d WHERE d.body @@@ '%Q%' AND %F%
		               ORDER BY bm25_score(d.body, '%Q%') DESC LIMIT %K%", %v);
		return { run => $q, explain => $q, base => fill($REFB, %v), order => 'desc',
			m => 0, k => $v{K}, topk => 1 };
	},
	limit_offset => sub {
		my %v = @_;
		my $q = fill("SELECT $SEL FROM docs d WHERE d.body @@@ '%Q%' AND %F%
		               ORDER BY bm25_score(d.body, '%Q%') DESC LIMIT %K% OFFSET %M%", %v);
		return { run => $q, explain => $q, base => fill($REFB, %v), order => 'desc',
			m => $v{M}, k => $v{K}, topk => 1 };
	},
	large_k => sub {
		my %v = @_;
		my $q = fill("SELECT $SEL FROM docs d WHERE d.body @@@ '%Q%' AND %F%
		               ORDER BY bm25_score(d.body, '%Q%') DESC LIMIT 10000", %v);
		return { run => $q, explain => $q, base => fill($REFB, %v), order => 'desc',
			m => 0, k => 10000 };
	},
	no_limit => sub {
		my %v = @_;
		my $q = fill("SELECT $SEL FROM docs d WHERE d.body @@@ '%Q%' AND %F%
		               ORDER BY bm25_score(d.body, '%Q%') DESC", %v);
		return { run => $q, explain => $q, base => fill($REFB, %v), order => 'desc',
			m => 0, k => undef };
	},
	with_ties => sub {
		my %v = @_;
		my $q = fill("SELECT $SEL FROM docs d WHERE d.body @@@ '%Q%' AND %F%
		               ORDER BY bm25_score(d.body, '%Q%') DESC FETCH FIRST %K% ROWS WITH TIES", %v);
		return { run => $q, explain => $q, base => fill($REFB, %v), order => 'desc',
			m => 0, k => $v{K}, ties => 1, topk => 1 };
	},
	prepared_generic => sub { prepared('force_generic_plan', @_) },
	prepared_custom  => sub { prepared('force_custom_plan', @_) },
	cursor => sub {
		my %v = @_;
		my $lim = rand() < 0.5 ? '' : " LIMIT $v{K}";
		my $q = fill("SELECT $SEL FROM docs d WHERE d.body @@@ '%Q%' AND %F%
		               ORDER BY bm25_score(d.body, '%Q%') DESC$lim", %v);
		my @steps = (1 + int(rand(3)), 1 + int(rand(7)), 5 + int(rand(20)));
		my $n = 0;
		$n += $_ for @steps;
		my $k = $lim eq '' ? $n : ($v{K} < $n ? $v{K} : $n);
		my $fetch = join('', map { "FETCH $_ FROM c;\n" } @steps);
		my $run = $v{intx}
		  ? "DECLARE c CURSOR FOR $q;\n${fetch}CLOSE c;"
		  : "BEGIN;\nDECLARE c CURSOR FOR $q;\n${fetch}COMMIT;";
		return { run => $run, explain => "DECLARE c CURSOR FOR $q", base => fill($REFB, %v),
			order => 'desc', m => 0, k => $k, explain_in_tx => !$v{intx} };
	},
	score_order_only => sub {
		my %v = @_;
		my $q = fill("SELECT d.ctid::text, d.id FROM docs d WHERE d.body @@@ '%Q%' AND %F%
		               ORDER BY bm25_score(d.body, '%Q%') DESC LIMIT %K%", %v);
		return { run => $q, explain => $q, base => fill($REFB, %v), order => 'desc',
			m => 0, k => $v{K}, cols => 'k', topk => 1 };
	},
	score_alias => sub {
		my %v = @_;
		my $q = fill("SELECT $SEL FROM docs d WHERE d.body @@@ '%Q%' AND %F%
		               ORDER BY s DESC LIMIT %K%", %v);
		return { run => $q, explain => $q, base => fill($REFB, %v), order => 'desc',
			m => 0, k => $v{K}, topk => 1 };
	},
	score_select_only => sub {
		my %v = @_;
		my $q = fill("SELECT $SEL FROM docs d WHERE d.body @@@ '%Q%' AND %F%
		               ORDER BY d.id LIMIT %K%", %v);
		my $b = fill(q{SELECT d.ctid::text AS key, bm25_score(d.body, '%Q%') AS s, d.id AS ord
		                 FROM docs d WHERE d.body @@@ '%Q%' AND %F%}, %v);
		return { run => $q, explain => $q, base => $b, order => 'ord',
			m => 0, k => $v{K}, total => 1 };
	},
	tiebreak_ctid => sub {
		my %v = @_;
		my $q = fill("SELECT $SEL FROM docs d WHERE d.body @@@ '%Q%' AND %F%
		               ORDER BY bm25_score(d.body, '%Q%') DESC, d.ctid LIMIT %K% OFFSET %M%", %v);
		return { run => $q, explain => $q, base => fill($REFB, %v), order => 'desc',
			m => $v{M}, k => $v{K}, total => 1, topk => 1 };
	},
	asc => sub {
		my %v = @_;
		my $q = fill("SELECT $SEL FROM docs d WHERE d.body @@@ '%Q%' AND %F%
		               ORDER BY bm25_score(d.body, '%Q%') ASC LIMIT %K%", %v);
		return { run => $q, explain => $q, base => fill($REFB, %v), order => 'asc',
			m => 0, k => $v{K} };
	},
	explicit_bind => sub {
		my %v = @_;
		my $bq = "bm25_query('$v{Q}', 'docs_body_bm25')";
		my $q = "SELECT d.ctid::text AS key, d.id, bm25_score(d.body, $bq) AS s FROM docs d
		          WHERE d.body @@@ $bq AND $v{F} ORDER BY bm25_score(d.body, $bq) DESC LIMIT $v{K}";
		return { run => $q, explain => $q, base => fill($REFB, %v), order => 'desc',
			m => 0, k => $v{K}, topk => 1 };
	},
	join => sub {
		my %v = @_;
		my $jt = rand() < 0.5 ? 'JOIN' : 'LEFT JOIN';
		my $q = fill("SELECT d.ctid::text AS key, a.name, bm25_score(d.body, '%Q%') AS s
		                FROM docs d $jt authors a ON a.id = d.author_id
		               WHERE d.body @@@ '%Q%' AND %F%
		               ORDER BY bm25_score(d.body, '%Q%') DESC LIMIT %K%", %v);
		my $b = fill("SELECT d.ctid::text AS key, bm25_score(d.body, '%Q%') AS s, d.ctid AS ord
		                FROM docs d $jt authors a ON a.id = d.author_id
		               WHERE d.body @@@ '%Q%' AND %F%", %v);
		return { run => $q, explain => $q, base => $b, order => 'desc', m => 0, k => $v{K} };
	},
	join_tiebreak => sub {
		my %v = @_;
		my $q = fill("SELECT d.ctid::text AS key, a.name, bm25_score(d.body, '%Q%') AS s
		                FROM docs d JOIN authors a ON a.id = d.author_id
		               WHERE d.body @@@ '%Q%' AND %F%
		               ORDER BY bm25_score(d.body, '%Q%') DESC, d.ctid LIMIT %K% OFFSET %M%", %v);
		my $b = fill("SELECT d.ctid::text AS key, bm25_score(d.body, '%Q%') AS s, d.ctid AS ord
		                FROM docs d JOIN authors a ON a.id = d.author_id
		               WHERE d.body @@@ '%Q%' AND %F%", %v);
		return { run => $q, explain => $q, base => $b, order => 'desc', m => $v{M}, k => $v{K},
			total => 1 };
	},
	cte => sub {
		my %v = @_;
		my $mat = rand() < 0.5 ? 'MATERIALIZED' : '';
		my $q = fill("WITH r AS $mat (SELECT $SEL FROM docs d WHERE d.body @@@ '%Q%' AND %F%
		                        ORDER BY bm25_score(d.body, '%Q%') DESC LIMIT %K%)
		              SELECT r.key, a.name, r.s FROM r LEFT JOIN authors a ON a.id = r.id % 200
		               ORDER BY r.s DESC", %v);
		return { run => $q, explain => $q, base => fill($REFB, %v), order => 'desc',
			m => 0, k => $v{K}, topk => 1 };
	},
	subquery_in => sub {
		my %v = @_;
		my $q = fill("SELECT $SEL FROM docs d WHERE d.id IN
		                (SELECT d2.id FROM docs d2 WHERE d2.body @@@ '%Q%' AND %F2%
		                  ORDER BY bm25_score(d2.body, '%Q%') DESC LIMIT %K%)
		              ORDER BY s DESC", %v);
		return { run => $q, explain => $q, base => fill($REFB, %v), order => 'desc',
			m => 0, k => $v{K}, topk => 1 };
	},
	subquery_from => sub {
		my %v = @_;
		my $q = fill("SELECT x.key, x.s FROM (SELECT $SEL FROM docs d WHERE d.body @@@ '%Q%' AND %F%
		               ORDER BY bm25_score(d.body, '%Q%') DESC LIMIT %K% OFFSET %M%) x", %v);
		return { run => $q, explain => $q, base => fill($REFB, %v), order => 'desc',
			m => $v{M}, k => $v{K}, topk => 1 };
	},
	# the ranked query over a subquery or CTE that only renames columns: the
	# planner follows s.body to docs.body and binds to its index
	outer_binding => sub {
		my %v = @_;
		my $from = rand() < 0.5
		  ? "(SELECT d.ctid::text AS key, d.id, d.body FROM docs d) s"
		  : "docs_cte s";
		my $with = $from eq 'docs_cte s'
		  ? "WITH docs_cte AS (SELECT d.ctid::text AS key, d.id, d.body FROM docs d) " : '';
		my $q = fill("${with}SELECT s.key, s.id, bm25_score(s.body, '%Q%') AS sc FROM $from
		               WHERE s.body @@@ '%Q%' ORDER BY bm25_score(s.body, '%Q%') DESC LIMIT %K%", %v);
		return { run => $q, explain => $q, base => fill($REFB, %v, F => 'true'), order => 'desc',
			m => 0, k => $v{K}, topk => 1, F => 'true' };
	},
	title => sub {
		my %v = @_;
		my $q = fill("SELECT d.ctid::text AS key, d.id, bm25_score(d.title, '%TQ%') AS s FROM docs d
		               WHERE d.title @@@ '%TQ%' AND %F% ORDER BY bm25_score(d.title, '%TQ%') DESC
		               LIMIT %K% OFFSET %M%", %v);
		my $b = fill("SELECT d.ctid::text AS key, bm25_score(d.title, '%TQ%') AS s, d.ctid AS ord
		                FROM docs d WHERE d.title @@@ '%TQ%' AND %F%", %v);
		return { run => $q, explain => $q, base => $b, order => 'desc', m => $v{M}, k => $v{K},
			topk => 1, index => 'docs_title_bm25' };
	},
	sum_two_indexes => sub {
		my %v = @_;
		my $s = "bm25_score(d.body, '$v{Q}') + bm25_score(d.title, '$v{TQ}')";
		my $w = rand() < 0.5 ? "(d.body @@@ '$v{Q}' OR d.title @@@ '$v{TQ}')"
		                     : "d.body @@@ '$v{Q}' AND d.title @@@ '$v{TQ}'";
		my $q = "SELECT d.ctid::text AS key, d.id, $s AS s FROM docs d WHERE $w AND $v{F}
		          ORDER BY $s DESC LIMIT $v{K}";
		my $b = "SELECT d.ctid::text AS key, $s AS s, d.ctid AS ord FROM docs d WHERE $w AND $v{F}";
		return { run => $q, explain => $q, base => $b, order => 'desc', m => 0, k => $v{K} };
	},
	mismatch => sub {
		my %v = @_;
		my $q = fill("SELECT d.ctid::text AS key, d.id, bm25_score(d.body, '%Q2%') AS s FROM docs d
		               WHERE d.body @@@ '%Q%' AND %F% ORDER BY bm25_score(d.body, '%Q2%') DESC LIMIT %K%", %v);
		my $b = fill("SELECT d.ctid::text AS key, bm25_score(d.body, '%Q2%') AS s, d.ctid AS ord
		                FROM docs d WHERE d.body @@@ '%Q%' AND %F%", %v);
		return { run => $q, explain => $q, base => $b, order => 'desc', m => 0, k => $v{K},
			notopk => 1 };
	},
	plpgsql => sub {
		my %v = @_;
		my $cat = $v{CAT};
		my $q = "SELECT * FROM ranked_fn('$v{Q}', $v{K}, $cat)";
		my $b = "SELECT d.ctid::text AS key, bm25_score(d.body, '$v{Q}') AS s, d.ctid AS ord
		           FROM docs d WHERE d.body @@@ '$v{Q}' AND d.category <> $cat";
		return { run => $q, base => $b, order => 'desc', m => 0, k => $v{K} };
	},
);

sub prepared
{
	my ($mode, %v) = @_;
	my $p = fill("PREPARE p(text, int, int) AS SELECT d.ctid::text AS key, d.id, bm25_score(d.body, \$1) AS s
	                FROM docs d WHERE d.body @@@ \$1 AND %F%
	               ORDER BY bm25_score(d.body, \$1) DESC LIMIT \$2 OFFSET \$3;", %v);
	my $set = "SET plan_cache_mode = $mode;\n$p\n";
	return { pre => $set, run => "EXECUTE p('$v{Q}', $v{K}, $v{M});",
		explain => "EXECUTE p('$v{Q}', $v{K}, $v{M})", post => "DEALLOCATE p;",
		base => fill($REFB, %v), order => 'desc', m => $v{M}, k => $v{K}, topk => 1 };
}

# PL/pgSQL with the query text, k and a filter value as parameters.
$node->safe_psql('postgres', q{
CREATE FUNCTION ranked_fn(q text, k int, cat int) RETURNS TABLE (key text, s float8)
LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY SELECT d.ctid::text, bm25_score(d.body, q) FROM docs d
	  WHERE d.body @@@ q AND d.category <> cat ORDER BY bm25_score(d.body, q) DESC LIMIT k;
END $$;
});

# ---------------------------------------------------------------------------
# Runners and comparison
# ---------------------------------------------------------------------------
my $REF_SET = "SET enable_indexscan = off; SET enable_bitmapscan = off; SET extra_float_digits = 1;\n";

sub runner_new
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql);
}

sub runner_session
{
	my ($s) = @_;
	return sub {
		my ($sql) = @_;
		my $out = $s->query_safe("RESET ALL;\n$sql\nRESET ALL;");
		return $out;
	};
}

my %stat;       # shape => {n, topk, strict, diff}
my $ndiff = 0;
my $nqueries = 0;
my $nfull = 0;  # queries with >= k qualifying rows that returned exactly k
my $ndiag = 0;
my $ntie = 0;   # correct answers whose ties are not in ctid order
my $ntiediag = 0;

sub problem
{
	my ($shape, $sql, $msg) = @_;
	$ndiff++;
	$stat{$shape}{diff}++;
	if ($ndiag++ < $MAX_DIAG)
	{
		diag("DIFFERENCE [$shape]: $msg\n  SQL: $sql");
	}
}

sub parse_rows
{
	my ($out) = @_;
	return [ map { [ split /\|/, $_, -1 ] } grep { $_ ne '' } split /\n/, $out ];
}

sub check_one
{
	my ($shape, $t, $run, $label) = @_;
	$nqueries++;
	$stat{$shape}{n}++;
	my $ref_order = $t->{order} eq 'desc' ? 's DESC, ord' : $t->{order} eq 'asc' ? 's ASC, ord' : 'ord';
	my $m = $t->{m};
	my $end = defined $t->{k} ? $m + $t->{k} : undef;
	my $cut;
	if (!defined $end) { $cut = 'true'; }
	elsif ($t->{order} eq 'ord') { $cut = "rn <= $end"; }
	else
	{
		my $op = $t->{order} eq 'desc' ? '>=' : '<=';
		my $inf = $t->{order} eq 'desc' ? '-Infinity' : 'Infinity';
		$cut = "s $op coalesce((SELECT s FROM o WHERE rn = $end), '$inf'::float8)";
	}
	my $ref = "WITH x AS MATERIALIZED (SELECT * FROM ($t->{base}) b OFFSET 0),
	  o AS (SELECT key, s, row_number() OVER (ORDER BY $ref_order) rn, count(*) OVER () AS total FROM x)
	  SELECT key, s, total FROM o WHERE $cut ORDER BY rn";

	# reference
	my $rplan = $run->("$REF_SET EXPLAIN (COSTS OFF) $ref;");
	if ($rplan =~ /BM25 Top-K/)
	{
		problem($shape, $ref, "reference plan uses the top-k scan:\n$rplan");
		return;
	}
	my $rrows = parse_rows($run->("$REF_SET $ref;"));
	my $total = @$rrows ? $rrows->[0][2] : 0;
	my %refscore = map { $_->[0] => $_->[1] } @$rrows;

	# index path
	my $batch = (1, 2, 3, 0, 0)[ int(rand(5)) ];
	my $set = "SET extra_float_digits = 1;\n"
	  . ($batch ? "SET bm25.topk_initial_batch = $batch;\n" : '');
	$set .= $t->{pre} if $t->{pre};
	my $post = $t->{post} // '';
	my ($plan, $uses) = ('', 0);
	if ($t->{explain})
	{
		my $ex = "EXPLAIN (COSTS OFF) $t->{explain};";
		$ex = "BEGIN; $ex COMMIT;" if $t->{explain_in_tx};
		$plan = $run->("$set$ex\n$post");
		$uses = $plan =~ /Custom Scan \(BM25 Top-K\)/ ? 1 : 0;
		$stat{$shape}{topk} += $uses;
		# With an extra filter the planner may rightly prefer another index
		# or index scan + sort (e.g. id % 1000 = 0); without one, a ranked
		# query with LIMIT must use the top-k scan.
		if ($t->{topk} && $t->{F} eq 'true' && !$uses)
		{
			problem($shape, $t->{explain}, "expected the top-k scan, plan:\n$plan");
		}
		if ($t->{notopk} && $uses)
		{
			problem($shape, $t->{explain}, "top-k scan used where @@@ and bm25_score differ:\n$plan");
		}
		if ($t->{index} && $uses && $plan !~ /Index: $t->{index}/)
		{
			problem($shape, $t->{explain}, "top-k scan on the wrong index:\n$plan");
		}
	}
	my $rows = parse_rows($run->("$set$t->{run};\n$post"));

	# expected window
	my $n_exp;
	if ($t->{ties})
	{
		$n_exp = $total < $t->{k} ? $total : $t->{k};
		$n_exp++ while $n_exp < @$rrows && $n_exp > 0 && $rrows->[$n_exp][1] eq $rrows->[ $n_exp - 1 ][1];
	}
	else
	{
		$n_exp = $total - $m;
		$n_exp = 0 if $n_exp < 0;
		$n_exp = $t->{k} if defined $t->{k} && $t->{k} < $n_exp;
	}
	my @exp = @$rrows[ $m .. $m + $n_exp - 1 ];
	my $what = "$label q=" . ($t->{run} =~ /'([^']*)'/ ? $1 : '?');

	if (@$rows != $n_exp)
	{
		problem($shape, $t->{run}, "$what: got " . scalar(@$rows) . " rows, expected $n_exp (qualifying $total, offset $m)");
		return;
	}
	$nfull++ if defined $t->{k} && !$t->{ties} && $total - $m >= $t->{k};

	# the score of each result row
	my $scol = $t->{cols} && $t->{cols} eq 'k' ? undef : -1;
	my @got = map { [ $_->[0], defined $scol ? $_->[$scol] : ($refscore{ $_->[0] } // 'MISSING') ] } @$rows;
	my $strict = $t->{total} || ($uses && $plan !~ /Sort|Hash|Merge|Aggregate|Gather|Append|Unique/);
	$stat{$shape}{strict} += $strict ? 1 : 0;
	my $tie_diff;
	for my $i (0 .. $#got)
	{
		if ($got[$i][1] ne $exp[$i][1])
		{
			problem($shape, $t->{run}, "$what: row $i score $got[$i][1], expected $exp[$i][1] (key $got[$i][0] / $exp[$i][0])");
			return;
		}
		if ($strict && $got[$i][0] ne $exp[$i][0])
		{
			if ($t->{total})
			{
				problem($shape, $t->{run}, "$what: row $i is $got[$i][0], expected $exp[$i][0] (score $exp[$i][1], ORDER BY is total)\nplan:\n$plan");
				return;
			}
			# the top-k scan's own tie order; asserted at the end
			$tie_diff //= "$what: row $i is $got[$i][0], expected $exp[$i][0] (same score $exp[$i][1])";
		}
		my $rs = $refscore{ $got[$i][0] };
		if (!defined $rs || $rs ne $got[$i][1])
		{
			problem($shape, $t->{run}, "$what: row $got[$i][0] (score $got[$i][1]) is not a qualifying row with that score (reference " . ($rs // 'none') . ")");
			return;
		}
	}
	my %seen;
	for (@got)
	{
		if ($seen{ $_->[0] }++)
		{
			problem($shape, $t->{run}, "$what: row $_->[0] returned twice");
			return;
		}
	}
	if (defined $tie_diff)
	{
		# a correct answer (the valid-answer checks above passed) whose ties
		# are not in ctid order
		$ntie++;
		$stat{$shape}{tie}++;
		diag("TIE ORDER [$shape]: $tie_diff\n  SQL: $t->{run}") if $ntiediag++ < 3;
	}
	return;
}

sub random_vars
{
	my $f = $FILTERS[ int(rand(@FILTERS)) ];
	my $f2 = $f;
	$f2 =~ s/\bd\./d2./g;
	my $q = gen_query('w', 3000);
	$q = 'w1 w2' if rand() < 0.05;
	return (Q => $q, Q2 => gen_query('w', 3000), TQ => gen_query('t', 60), F => $f, F2 => $f2,
		K => $K[ int(rand(@K)) ], M => $M[ int(rand(@M)) ], CAT => int(rand(10)));
}

my @shape_names = sort keys %SHAPES;

# Every shape at least 8 times in new sessions, the rest at random.
my @plan;
for my $i (0 .. $N_MAIN - 1)
{
	push @plan, $i < 8 * @shape_names ? $shape_names[ $i % @shape_names ] : $shape_names[ int(rand(@shape_names)) ];
}
for my $shape (@plan)
{
	my %v = random_vars();
	# large k and no LIMIT: frequent terms, so thousands of rows qualify
	$v{Q} = (qw(w1 w2 w3), 'w1 w5', 'w2 w7 w11')[ int(rand(5)) ] if $shape eq 'large_k';
	my $t = $SHAPES{$shape}->(%v);
	$t->{F} //= $v{F};
	check_one($shape, $t, \&runner_new, 'new session');
}

# REPEATABLE READ snapshot taken before later committed inserts/deletes/updates.
my @rr_shapes = qw(limit limit_offset cursor prepared_generic prepared_custom join with_ties score_order_only no_limit);
my $rb = runner_session($sess_b);
for my $i (0 .. $N_RR - 1)
{
	my $shape = $rr_shapes[ $i % @rr_shapes ];
	my %v = random_vars();
	$v{Q} = 'w1 w2' if $i % 3 == 0;
	my $t = $SHAPES{$shape}->(%v, intx => 1);
	$t->{F} = $v{F};
	check_one("$shape/rr", $t, $rb, 'RR snapshot');
}

# The session that holds the uncommitted rows sees them itself.
my $ra = runner_session($sess_a);
for my $i (0 .. $N_OPEN - 1)
{
	my $shape = $rr_shapes[ $i % @rr_shapes ];
	my %v = random_vars();
	$v{Q} = 'w1 w3' if $i % 2 == 0;
	my $t = $SHAPES{$shape}->(%v, intx => 1);
	$t->{F} = $v{F};
	check_one("$shape/own-uncommitted", $t, $ra, 'own uncommitted');
}

# PL/pgSQL uses the top-k scan with the query text as a parameter, in its
# custom and its generic plan (auto_explain of the nested statement).
for my $mode (qw(force_custom_plan force_generic_plan))
{
	my $log_off = -s $node->logfile;
	$node->safe_psql('postgres', qq{
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET plan_cache_mode = $mode;
SELECT * FROM ranked_fn('w1 w4', 5, 3);
});
	my $log = slurp_file($node->logfile, $log_off);
	like($log, qr/Custom Scan \(BM25 Top-K\)/, "PL/pgSQL function uses the top-k scan ($mode)");
}

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
my $report = sprintf("%-34s %6s %6s %6s %6s %6s\n", 'shape', 'n', 'top-k', 'strict', 'diffs', 'ties');
for my $s (sort keys %stat)
{
	$report .= sprintf("%-34s %6d %6d %6d %6d %6d\n", $s, $stat{$s}{n} // 0, $stat{$s}{topk} // 0,
		$stat{$s}{strict} // 0, $stat{$s}{diff} // 0, $stat{$s}{tie} // 0);
}
diag("differential: $nqueries queries, $nfull with >= k qualifying rows (all returned exactly k), "
	  . "$ndiff differences, $ntie correct answers with ties not in ctid order\n$report");

cmp_ok($nqueries, '>=', 300 + $N_RR + $N_OPEN - 45 - 25, "ran $nqueries random queries");
cmp_ok($nfull, '>=', 100, "at least 100 queries had >= k qualifying rows and returned exactly k");
is($ndiff, 0, 'index path equals reference path for every query');
ok(($stat{'limit'}{topk} // 0) > 0, 'ranked queries use the top-k scan');

# ---------------------------------------------------------------------------
# Ties after a HOT update: the index entry points at the HOT chain's root,
# but the documented order is the visible row's ctid, so LIMIT must keep
# the same tied rows as ORDER BY score DESC, ctid.
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', q{
CREATE TABLE hot (id int, cat int, body text) WITH (fillfactor = 50);
INSERT INTO hot SELECT i, 0, 'same words here' FROM generate_series(1, 6) i;
CREATE INDEX hot_bm25 ON hot USING bm25 (body);
UPDATE hot SET cat = 1 WHERE id = 2;
});
my $hot_plan = $node->safe_psql('postgres', q{SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT ctid FROM hot WHERE body @@@ 'words' ORDER BY bm25_score(body, 'words') DESC LIMIT 3});
like($hot_plan, qr/BM25 Top-K/, 'HOT tie case uses the top-k scan');
my $hot_got = $node->safe_psql('postgres', q{SET enable_sort = off;
SELECT string_agg(ctid::text, ' ') FROM (SELECT ctid FROM hot WHERE body @@@ 'words'
 ORDER BY bm25_score(body, 'words') DESC LIMIT 3) t});
is($hot_got, '(0,1) (0,3) (0,4)', 'ties are in ctid order after a HOT update');
is($ntie, 0, 'the top-k scan returned every tie group in ctid order');

# ---------------------------------------------------------------------------
# A cursor over the top-k scan keeps its view of the index (including the
# write buffer's in-memory segment) while the same backend runs other
# queries that see a newer write buffer; the old view must stay valid
# until the cursor is done (reference-counted cache).  Run on its own node
# with restart_after_crash so a regression cannot disturb anything else.
# ---------------------------------------------------------------------------
my $crash = PostgreSQL::Test::Cluster->new('cursor_crash');
$crash->init;
$crash->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'bm25'
restart_after_crash = on
});
$crash->start;
$crash->safe_psql('postgres', q{
CREATE EXTENSION bm25;
CREATE TABLE t1 (id int, body text);
INSERT INTO t1 SELECT i, 'apple ' || i FROM generate_series(1, 20) i;
CREATE INDEX t1_bm25 ON t1 USING bm25 (body);
INSERT INTO t1 VALUES (100, 'apple pie');
});
my ($rc, $out, $err) = $crash->psql('postgres', q{
SET enable_sort = off;
SET bm25.topk_initial_batch = 1;
BEGIN;
DECLARE c CURSOR FOR SELECT id FROM t1 WHERE body @@@ 'apple' ORDER BY bm25_score(body, 'apple') DESC;
FETCH 1 FROM c;
INSERT INTO t1 VALUES (101, 'kiwi');
SELECT count(*) FROM t1 WHERE body @@@ 'apple';
FETCH 5 FROM c;
COMMIT;
}, on_error_stop => 1);
is($rc, 0, 'cursor FETCH after a write-buffer change in the same backend does not crash');
is(scalar(split /\n/, $out), 7, 'cursor returns 1 + count + 5 rows');
$crash->poll_query_until('postgres', 'SELECT 1', '1');
$crash->stop;

$sess_a->quit;
$sess_b->quit;
$node->stop;
done_testing();
