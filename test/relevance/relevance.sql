-- relevance.sql - SQL side of the ranking-quality evaluation, shared by
-- test/relevance/run.sh and test/t/120_relevance.pl.
--
-- Run in a database of its own per collection, after CREATE EXTENSION bm25.
-- Everything (loading, the rankers, the brute-force reference and the
-- metrics) is SQL so that both drivers compute exactly the same thing and
-- need nothing beyond psql.  The collections and their conventions are
-- described in the README.md next to them (../shared/relevance in CI):
--
--   corpus.tsv   id, title, body      queries.tsv  qid, text
--   qrels.tsv    qid, docid, rel      (rel > 0 is relevant; cran is graded)
--
-- Usage:
--   SELECT rel_load('/path/to/relevance/cacm');
--   SELECT rel_run_bm25('bm25 k1=1.2 b=0.75', 1.2, 0.75);
--   SELECT rel_run_tsrank('ts_rank');
--   SELECT * FROM rel_metrics();
--   SELECT rel_ref_build(1.2, 0.75);   -- brute-force BM25 (exactness)
--   SELECT * FROM rel_exact_diffs('bm25 k1=1.2 b=0.75', 10);

-- The functions below refer to tables that rel_load() and rel_ref_build()
-- create later.
SET check_function_bodies = off;

-- Query text as it is sent to both rankers: every character that is not a
-- letter, a digit or blank becomes a blank.  The collections' queries are
-- natural language ("TSS (Time Sharing System)", "I'm", "...?"), and a
-- leading "-" or "+" or a '"' would otherwise be read as bm25 query syntax
-- (MUST_NOT, MUST, phrase).  The collections are pure ASCII, so the
-- character classes do not depend on the locale.
CREATE FUNCTION rel_strip(q text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS
$$ SELECT btrim(regexp_replace(q, '[^[:alnum:][:space:]]+', ' ', 'g')) $$;

-- log2 in float8 (PostgreSQL has log(b, x) only for numeric).
CREATE FUNCTION rel_log2(x float8) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT AS
$$ SELECT ln(x) / ln(2.0::float8) $$;

-- Loads one collection directory into docs, queries and qrels.
--
-- Document ids are integers in three collections and strings
-- ("CACM-0001", zero-padded) in cacm.  Ties are broken by docid
-- descending, which for the integer collections must be numeric order
-- ("99" sorts after "100" as text), so the column becomes bigint when
-- every id is a number and stays text otherwise (zero padding makes text
-- order numeric order there).  Server-side COPY: the files must be
-- readable by the server's OS user.
CREATE FUNCTION rel_load(p_dir text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	CREATE TABLE docs (id text PRIMARY KEY, title text, body text);
	CREATE TABLE queries (qid int PRIMARY KEY, qtext text NOT NULL);
	CREATE TABLE qrels (qid int NOT NULL, docid text NOT NULL, rel int NOT NULL,
						PRIMARY KEY (qid, docid));
	EXECUTE format('COPY docs FROM %L', p_dir || '/corpus.tsv');
	EXECUTE format('COPY queries FROM %L', p_dir || '/queries.tsv');
	EXECUTE format('COPY qrels FROM %L', p_dir || '/qrels.tsv');
	IF NOT EXISTS (SELECT 1 FROM docs WHERE id !~ '^[0-9]{1,18}$')
	   AND NOT EXISTS (SELECT 1 FROM qrels WHERE docid !~ '^[0-9]{1,18}$') THEN
		ALTER TABLE docs ALTER id TYPE bigint USING id::bigint;
		ALTER TABLE qrels ALTER docid TYPE bigint USING docid::bigint;
	END IF;
	-- one row per query and ranker run; results takes the docid type
	CREATE TABLE rel_runs (ranker text PRIMARY KEY, seconds float8);
	CREATE TABLE results AS
		SELECT ''::text AS ranker, 0 AS qid, 0 AS rnk, id AS docid,
			   0::float8 AS score
		FROM docs WITH NO DATA;
	ALTER TABLE results ADD PRIMARY KEY (ranker, qid, rnk);
	-- the baseline's tsvector, stored: ts_rank would otherwise re-analyze
	-- every matching body of every query (17 s instead of under 1 s for
	-- cacm's 64 queries); the ranking is the same
	ALTER TABLE docs ADD COLUMN tsv tsvector
		GENERATED ALWAYS AS (to_tsvector('english', body)) STORED;
	CREATE INDEX docs_tsv_gin ON docs USING gin (tsv);
	ANALYZE docs;
	ANALYZE queries;
	ANALYZE qrels;
END
$$;

-- Runs every query through a freshly built bm25 index (english, k1, b) in
-- the shape an application would use, keeping the top p_limit rows:
--
--   SELECT id FROM docs WHERE body @@@ 'q'
--   ORDER BY bm25_score(body, 'q') DESC, id DESC LIMIT 100
--
-- (plus the score in the select list, which the top-k scan provides
-- anyway).  EXECUTE with the query as a literal, so every statement is
-- planned with a constant query, as a client sending SQL text would get.
CREATE FUNCTION rel_run_bm25(p_ranker text, p_k1 float8, p_b float8,
							 p_limit int DEFAULT 100) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	t0 timestamptz;
BEGIN
	DROP INDEX IF EXISTS docs_body_bm25;
	EXECUTE format('CREATE INDEX docs_body_bm25 ON docs USING bm25 (body)
					WITH (text_config = %L, k1 = %s, b = %s)',
				   'english', p_k1, p_b);
	DELETE FROM results WHERE ranker = p_ranker;
	DELETE FROM rel_runs WHERE ranker = p_ranker;
	t0 := clock_timestamp();
	FOR r IN SELECT qid, rel_strip(qtext) AS q FROM queries ORDER BY qid LOOP
		-- the rank is recomputed from the returned (score, id), which is
		-- exactly the statement's ORDER BY
		EXECUTE format(
			'INSERT INTO results
			 SELECT %L, %s, row_number() OVER (ORDER BY score DESC, id DESC), id, score
			 FROM (SELECT id, bm25_score(body, %L) AS score
				   FROM docs WHERE body @@@ %L
				   ORDER BY bm25_score(body, %L) DESC, id DESC
				   LIMIT %s) s',
			p_ranker, r.qid, r.q, r.q, r.q, p_limit);
	END LOOP;
	INSERT INTO rel_runs
		VALUES (p_ranker, extract(epoch FROM clock_timestamp() - t0));
END
$$;

-- The built-in baseline: GIN on to_tsvector('english', body) (the stored
-- column tsv), the OR of the query's english lexemes, ordered by ts_rank
-- (default normalization).
CREATE FUNCTION rel_run_tsrank(p_ranker text, p_limit int DEFAULT 100)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	tsq tsquery;
	t0 timestamptz;
BEGIN
	DELETE FROM results WHERE ranker = p_ranker;
	DELETE FROM rel_runs WHERE ranker = p_ranker;
	t0 := clock_timestamp();
	FOR r IN SELECT qid, rel_strip(qtext) AS q FROM queries ORDER BY qid LOOP
		-- quoted lexemes: the cast takes them as they are (no second
		-- stemming, as to_tsquery would do)
		SELECT string_agg(quote_literal(lexeme), ' | ' ORDER BY lexeme)::tsquery
		  INTO tsq
		  FROM unnest(to_tsvector('english', r.q));
		CONTINUE WHEN tsq IS NULL;	-- only stopwords: no result
		EXECUTE format(
			'INSERT INTO results
			 SELECT %L, %s, row_number() OVER (ORDER BY score DESC, id DESC), id, score
			 FROM (SELECT id, ts_rank(tsv, %L::tsquery) AS score
				   FROM docs WHERE tsv @@ %L::tsquery
				   ORDER BY 2 DESC, id DESC
				   LIMIT %s) s',
			p_ranker, r.qid, tsq, tsq, p_limit);
	END LOOP;
	INSERT INTO rel_runs
		VALUES (p_ranker, extract(epoch FROM clock_timestamp() - t0));
END
$$;

-- Per-query metrics of every run, over the queries with at least one
-- relevant judgment (rel > 0); a query a ranker returned nothing for
-- scores 0 on everything.
--
--   nDCG@10    DCG@10 = sum over ranks i <= 10 of rel_i / log2(i + 1),
--              divided by the DCG of the ideal ordering of the judged
--              relevant documents (graded gains for cran, binary otherwise)
--   AP@100     sum of P@i over the ranks i <= 100 holding a relevant
--              document, divided by the number of relevant documents
--   P@10, P@30, Recall@100
CREATE FUNCTION rel_per_query()
RETURNS TABLE (ranker text, qid int, returned bigint, nrel bigint,
			   ndcg10 float8, ap100 float8, p10 float8, p30 float8,
			   recall100 float8)
LANGUAGE sql STABLE AS $$
WITH judged AS (
	SELECT qid, count(*) AS nrel FROM qrels WHERE rel > 0 GROUP BY qid
), ideal AS (
	SELECT qid, sum(rel / rel_log2(rn + 1)) AS idcg
	FROM (SELECT qid, rel,
				 row_number() OVER (PARTITION BY qid ORDER BY rel DESC) AS rn
		  FROM qrels WHERE rel > 0) x
	WHERE rn <= 10
	GROUP BY qid
), hits AS (
	SELECT r.ranker, r.qid, r.rnk, coalesce(q.rel, 0) AS rel,
		   count(*) FILTER (WHERE q.rel > 0)
			   OVER (PARTITION BY r.ranker, r.qid ORDER BY r.rnk) AS relsofar
	FROM results r LEFT JOIN qrels q ON q.qid = r.qid AND q.docid = r.docid
), per AS (
	SELECT ranker, qid,
		   sum(rel / rel_log2(rnk + 1)) FILTER (WHERE rnk <= 10) AS dcg10,
		   sum(relsofar::float8 / rnk) FILTER (WHERE rel > 0 AND rnk <= 100) AS sumprec,
		   count(*) FILTER (WHERE rel > 0 AND rnk <= 10) AS rel10,
		   count(*) FILTER (WHERE rel > 0 AND rnk <= 30) AS rel30,
		   count(*) FILTER (WHERE rel > 0 AND rnk <= 100) AS rel100,
		   count(*) AS returned
	FROM hits GROUP BY ranker, qid
)
SELECT k.ranker, j.qid, coalesce(p.returned, 0) AS returned, j.nrel,
	   coalesce(p.dcg10, 0) / i.idcg AS ndcg10,
	   coalesce(p.sumprec, 0) / j.nrel AS ap100,
	   coalesce(p.rel10, 0) / 10.0::float8 AS p10,
	   coalesce(p.rel30, 0) / 30.0::float8 AS p30,
	   coalesce(p.rel100, 0)::float8 / j.nrel AS recall100
FROM rel_runs k
CROSS JOIN judged j
JOIN ideal i USING (qid)
LEFT JOIN per p ON p.ranker = k.ranker AND p.qid = j.qid
ORDER BY 1, 2
$$;

-- Means over the judged queries, one row per run.
CREATE FUNCTION rel_metrics()
RETURNS TABLE (ranker text, queries bigint, ndcg10 float8, map100 float8,
			   p10 float8, p30 float8, recall100 float8, seconds float8)
LANGUAGE sql STABLE AS $$
	SELECT q.ranker, count(*), avg(q.ndcg10), avg(q.ap100), avg(q.p10),
		   avg(q.p30), avg(q.recall100), min(k.seconds)
	FROM rel_per_query() q JOIN rel_runs k USING (ranker)
	GROUP BY q.ranker ORDER BY q.ranker
$$;

-- ---------------------------------------------------------------------------
-- Brute-force BM25 reference in plain SQL, as in test/t/010_exactness.pl:
-- Lucene's idf ln(1 + (N - df + 0.5) / (df + 0.5)), tf and dl counted over
-- the lexemes the english configuration produces, avgdl over the documents
-- that have at least one lexeme, the per-term parts summed in the canonical
-- (byte-wise lexeme) order of docs/ranking.md, so scores are normally
-- bit-identical to the extension's.  A query is its stripped text split on
-- blanks, each word analyzed on its own as the extension does, every
-- lexeme SHOULD.  The query is a bag of words: a lexeme weighs
-- w = idf * qtf, qtf the number of its occurrences among the analyzed
-- words, and a document's part is w * tfpart (the extension's order of
-- operations; idf * 1.0 is exact, so lexemes given once keep the plain
-- idf).
--
-- Documents and queries are analyzed token by token with ts_parse() and
-- ts_lexize() over the configuration's mapping (what ts_debug() and the
-- extension's parsetext() do), not with to_tsvector(): a tsvector keeps at
-- most 255 positions per lexeme, and cacm's citation lists repeat numbers
-- like "1" and "5" more often than that in some documents, which would
-- undercount their tf and dl.  Queries go the same way, so qtf counts
-- every lexeme occurrence the parser yields, as the extension does.
-- ---------------------------------------------------------------------------
-- w * tfpart, w = idf * qtf
CREATE FUNCTION rel_ref_term(w float8, tf float8, dl float8, avgdl float8,
							 k1 float8, b float8)
RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT w * (tf * (k1 + 1.0::float8)
				 / (tf + k1 * (1.0::float8 - b + b * dl / avgdl))) $$;

-- ref_rank: every matching document of every query, by score DESC, id DESC
CREATE FUNCTION rel_ref_build(p_k1 float8, p_b float8) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	cfg regconfig := 'english';
BEGIN
	DROP TABLE IF EXISTS ref_tokens, ref_lexize, ref_postings, ref_docs,
		ref_stats, ref_qlex, ref_rank;
	CREATE TEMP TABLE ref_tokens AS
		SELECT d.id, p.tokid, p.token
		FROM docs d,
			 ts_parse((SELECT cfgparser FROM pg_ts_config WHERE oid = cfg),
					  d.body) p
		WHERE d.body IS NOT NULL;
	-- each distinct token once: the first dictionary of its token type's
	-- list that recognizes it (NULL = does not know it, try the next; an
	-- empty array = stopword); token types without a mapping (blanks)
	-- produce nothing
	CREATE TEMP TABLE ref_lexize AS
		SELECT t.tokid, t.token, lx.lexemes
		FROM (SELECT DISTINCT tokid, token FROM ref_tokens) t,
			 LATERAL (SELECT ts_lexize(m.mapdict::regdictionary, t.token) AS lexemes
					  FROM pg_ts_config_map m
					  WHERE m.mapcfg = cfg AND m.maptokentype = t.tokid
						AND ts_lexize(m.mapdict::regdictionary, t.token) IS NOT NULL
					  ORDER BY m.mapseqno
					  LIMIT 1) lx;
	CREATE TABLE ref_postings AS
		SELECT t.id, l.lexeme, count(*) AS tf
		FROM ref_tokens t
		JOIN ref_lexize x USING (tokid, token)
		CROSS JOIN unnest(x.lexemes) l(lexeme)
		WHERE l.lexeme <> ''
		GROUP BY t.id, l.lexeme;
	DROP TABLE ref_tokens, ref_lexize;
	CREATE TABLE ref_docs AS
		SELECT id, sum(tf)::bigint AS dl FROM ref_postings GROUP BY id;
	CREATE TABLE ref_stats AS
		SELECT count(*)::bigint AS n, sum(dl)::bigint AS sumdl,
			   sum(dl)::float8 / count(*)::float8 AS avgdl,
			   p_k1 AS k1, p_b AS b
		FROM ref_docs;
	-- qtf: occurrences of the lexeme among the lexemes of the query's
	-- words, each word parsed and lexized as the documents are
	CREATE TABLE ref_qlex AS
		SELECT x.qid, x.lexeme, x.qtf,
			   ln(1.0::float8 + (s.n::float8 - f.df::float8 + 0.5::float8)
								/ (f.df::float8 + 0.5::float8))
			   * x.qtf::float8 AS w
		FROM (SELECT q.qid, l.lexeme, count(*) AS qtf
			  FROM queries q,
				   regexp_split_to_table(rel_strip(q.qtext), '\s+') w,
				   ts_parse((SELECT cfgparser FROM pg_ts_config WHERE oid = cfg), w) p,
				   LATERAL (SELECT ts_lexize(m.mapdict::regdictionary, p.token) AS lexemes
							FROM pg_ts_config_map m
							WHERE m.mapcfg = cfg AND m.maptokentype = p.tokid
							  AND ts_lexize(m.mapdict::regdictionary, p.token) IS NOT NULL
							ORDER BY m.mapseqno
							LIMIT 1) lx,
				   unnest(lx.lexemes) l(lexeme)
			  WHERE w <> '' AND l.lexeme <> ''
			  GROUP BY q.qid, l.lexeme) x
		JOIN (SELECT lexeme, count(*) AS df FROM ref_postings GROUP BY lexeme) f
		  USING (lexeme)
		CROSS JOIN ref_stats s;
	ANALYZE ref_postings;
	ANALYZE ref_docs;
	ANALYZE ref_qlex;
	CREATE TABLE ref_rank AS
		SELECT qid, id, score,
			   row_number() OVER (PARTITION BY qid ORDER BY score DESC, id DESC) AS rnk
		FROM (SELECT ql.qid, p.id,
					 sum(rel_ref_term(ql.w, p.tf, d.dl, s.avgdl, p_k1, p_b)
						 ORDER BY ql.lexeme COLLATE "C") AS score
			  FROM ref_qlex ql
			  JOIN ref_postings p ON p.lexeme = ql.lexeme
			  JOIN ref_docs d ON d.id = p.id
			  CROSS JOIN ref_stats s
			  GROUP BY ql.qid, p.id) sc;
	CREATE INDEX ON ref_rank (qid, id);
	ANALYZE ref_rank;
END
$$;

-- Shape of the judged queries, after rel_ref_build(): how many there are,
-- how many repeat a lexeme, mean distinct lexemes and lexeme occurrences
-- per query (lexemes absent from the corpus are not counted).
CREATE FUNCTION rel_query_stats()
RETURNS TABLE (queries bigint, judged bigint, repeating bigint,
			   lexemes float8, occurrences float8)
LANGUAGE sql STABLE AS $$
	SELECT (SELECT count(*) FROM queries),
		   count(*), count(*) FILTER (WHERE occ > nlex),
		   avg(nlex), avg(occ)
	FROM (SELECT j.qid, count(l.lexeme)::float8 AS nlex,
				 coalesce(sum(l.qtf), 0)::float8 AS occ
		  FROM (SELECT DISTINCT qid FROM qrels WHERE rel > 0) j
		  LEFT JOIN ref_qlex l USING (qid)
		  GROUP BY j.qid) x
$$;

-- Differences between a run's top p_k and the reference's top p_k, one
-- row per offending (query, rank).  A rank may hold a different document
-- than the reference only when the two reference scores are equal within
-- 1e-9 relative (a near tie that rounding could order either way); every
-- returned score must equal the reference score of its own document within
-- 1e-9 relative, and the run must return as many rows as match, up to p_k.
CREATE FUNCTION rel_exact_diffs(p_ranker text, p_k int)
RETURNS TABLE (qid int, rnk bigint, problem text)
LANGUAGE sql STABLE AS $$
	WITH got AS (
		SELECT r.qid, r.rnk, r.docid, r.score, x.score AS own_ref
		FROM results r
		LEFT JOIN ref_rank x ON x.qid = r.qid AND x.id = r.docid
		WHERE r.ranker = p_ranker AND r.rnk <= p_k
	), want AS (
		SELECT x.qid, x.rnk, x.id, x.score FROM ref_rank x WHERE x.rnk <= p_k
	)
	SELECT coalesce(g.qid, w.qid), coalesce(g.rnk, w.rnk),
		   CASE
			 WHEN g.qid IS NULL THEN format('missing: reference has %s (%s)', w.id, w.score)
			 WHEN w.qid IS NULL THEN format('extra row %s (%s)', g.docid, g.score)
			 WHEN g.own_ref IS NULL THEN format('%s does not match the query', g.docid)
			 WHEN abs(g.score - g.own_ref) > 1e-9 * abs(g.own_ref)
			   THEN format('%s: score %s, reference %s', g.docid, g.score, g.own_ref)
			 ELSE format('got %s (%s), reference has %s (%s)',
						 g.docid, g.score, w.id, w.score)
		   END
	FROM got g
	FULL JOIN want w ON w.qid = g.qid AND w.rnk = g.rnk
	WHERE g.qid IS NULL OR w.qid IS NULL OR g.own_ref IS NULL
	   OR abs(g.score - g.own_ref) > 1e-9 * abs(g.own_ref)
	   OR (g.docid <> w.id AND abs(g.own_ref - w.score) > 1e-9 * abs(w.score))
	ORDER BY 1, 2
$$;

-- (compared, bit-identical) scores of a run's top p_k, for the record
CREATE FUNCTION rel_exact_bits(p_ranker text, p_k int)
RETURNS TABLE (compared bigint, bit_identical bigint)
LANGUAGE sql STABLE AS $$
	SELECT count(*), count(*) FILTER (WHERE r.score = x.score)
	FROM results r JOIN ref_rank x ON x.qid = r.qid AND x.id = r.docid
	WHERE r.ranker = p_ranker AND r.rnk <= p_k
$$;
