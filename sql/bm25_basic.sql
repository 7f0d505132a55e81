-- Basic behaviour of the bm25 access method: options, matching, scoring,
-- query syntax, NULLs and empty documents.
CREATE EXTENSION bm25;

CREATE TABLE docs (id int PRIMARY KEY, title text, body text);
INSERT INTO docs VALUES
  (1, 'foxes', 'The quick brown fox jumps over the lazy dog'),
  (2, 'dogs', 'Lazy dogs sleep all day; the dog is lazy'),
  (3, 'cats', 'Cats and dogs are friends, sometimes'),
  (4, 'running', 'Running runners run quickly'),
  (5, 'empty', ''),
  (6, 'null', NULL),
  (7, 'stop', 'the and of a'),
  (8, 'fox2', 'A fox, another fox, and a third fox');

-- Option validation: each bad option fails with a clear error.
CREATE INDEX docs_bad ON docs USING bm25 (body) WITH (k1 = -1);
CREATE INDEX docs_bad ON docs USING bm25 (body) WITH (b = 1.5);
CREATE INDEX docs_bad ON docs USING bm25 (body) WITH (b = -0.1);
CREATE INDEX docs_bad ON docs USING bm25 (body) WITH (text_config = 'no_such_config');
CREATE INDEX docs_bad ON docs USING bm25 (body) WITH (text_config = '');
CREATE INDEX docs_bad ON docs USING bm25 (body) WITH (nonsense = 1);
CREATE INDEX docs_bad ON docs USING bm25 (id);
CREATE INDEX docs_bad ON docs USING bm25 (title, body);

CREATE INDEX docs_body ON docs USING bm25 (body)
  WITH (text_config = 'english', k1 = 1.2, b = 0.75);

-- N counts rows with at least one lexeme: NULL, '' and stopword-only rows are out.
SELECT format_version, text_config, segments, documents, total_tokens,
       round(avg_doc_length::numeric, 4) AS avgdl
  FROM bm25_index_stats('docs_body');

-- Matching: stemmed OR semantics.
SELECT id FROM docs WHERE body @@@ 'fox' ORDER BY id;
SELECT id FROM docs WHERE body @@@ 'dog' ORDER BY id;
SELECT id FROM docs WHERE body @@@ 'running' ORDER BY id;
SELECT id FROM docs WHERE body @@@ 'fox cat' ORDER BY id;
-- Required and excluded terms.
SELECT id FROM docs WHERE body @@@ '+dog +lazy' ORDER BY id;
SELECT id FROM docs WHERE body @@@ 'dog -cat' ORDER BY id;
SELECT id FROM docs WHERE body @@@ '+dog fox' ORDER BY id;
SELECT id FROM docs WHERE body @@@ '-dog' ORDER BY id;
-- Empty, blank and all-stopword queries match nothing, without error.
SELECT count(*) FROM docs WHERE body @@@ '';
SELECT count(*) FROM docs WHERE body @@@ '   ';
SELECT count(*) FROM docs WHERE body @@@ 'the and';
-- A term absent from the corpus.
SELECT count(*) FROM docs WHERE body @@@ 'zebra';
-- Malformed queries get an error, never a crash.
SELECT count(*) FROM docs WHERE body @@@ '+';
SELECT count(*) FROM docs WHERE body @@@ 'fox -';
SELECT count(*) FROM docs WHERE body @@@ '+-fox';
SELECT count(*) FROM docs WHERE body @@@ '"quick fox"';
-- NULL query: no rows.
SELECT count(*) FROM docs WHERE body @@@ NULL::text;

-- Scores: hand-checkable BM25 (N = 5 scored docs).  Doc 8 has tf(fox)=3, dl=5.
SELECT id, round(bm25_score(body, 'fox')::numeric, 6) AS score
  FROM docs WHERE body @@@ 'fox' ORDER BY score DESC, id;
-- The same computed by hand from the formula.
WITH s AS (SELECT documents::float8 AS n, avg_doc_length AS avgdl FROM bm25_index_stats('docs_body')),
     d AS (SELECT 8 AS id, 3.0 AS tf, 5.0 AS dl UNION ALL SELECT 1, 1.0, 6.0)
SELECT d.id,
       round((ln(1 + (s.n - 2 + 0.5) / (2 + 0.5)) * d.tf * 2.2
              / (d.tf + 1.2 * (1 - 0.75 + 0.75 * d.dl / s.avgdl)))::numeric, 6) AS expected
  FROM s, d ORDER BY expected DESC;
-- Non-matching rows score 0; NULL documents give NULL.
SELECT id, bm25_score(body, 'fox') FROM docs WHERE id IN (2, 5, 6) ORDER BY id;

-- Index path and seq scan agree bit for bit, for matches and scores.
CREATE TEMP TABLE q(qtext text);
INSERT INTO q VALUES ('fox'), ('lazy dog'), ('+dog +lazy'), ('dog -cat'),
  ('run quick'), ('cats friends fox'), ('the'), ('jumps over');
CREATE TEMP TABLE via_index AS
  SELECT q.qtext, d.id, bm25_score(d.body, q.qtext) AS score
    FROM q, LATERAL (SELECT * FROM docs WHERE body @@@ q.qtext) d;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
CREATE TEMP TABLE via_seq AS
  SELECT q.qtext, d.id, bm25_score(d.body, q.qtext) AS score
    FROM q, LATERAL (SELECT * FROM docs WHERE body @@@ q.qtext) d;
RESET enable_indexscan;
RESET enable_bitmapscan;
SELECT count(*) AS rows_compared FROM via_index;
(SELECT * FROM via_index EXCEPT SELECT * FROM via_seq)
UNION ALL
(SELECT * FROM via_seq EXCEPT SELECT * FROM via_index);

-- Ranked query: score order, ties broken by heap TID.
SELECT id, round(bm25_score(body, 'dog lazy')::numeric, 6) AS score
  FROM docs WHERE body @@@ 'dog lazy'
 ORDER BY bm25_score(body, 'dog lazy') DESC LIMIT 2;
-- Without LIMIT: every match, in score order; nothing is capped.
SELECT id FROM docs WHERE body @@@ 'dog fox cat run'
 ORDER BY bm25_score(body, 'dog fox cat run') DESC;

-- Explicit binding to an index, and what it reports.
SELECT bm25_query_index(bm25_query('fox', 'docs_body'));
SELECT bm25_query('fox', 'docs_body');
SELECT id FROM docs WHERE body @@@ bm25_query('fox', 'docs_body') ORDER BY id;

-- Binding follows subqueries and CTEs down to the table's index.
SELECT id, round(bm25_score(body, 'lazy')::numeric, 6) AS score
  FROM (SELECT id, body FROM docs OFFSET 0) s
 WHERE body @@@ 'lazy' ORDER BY score DESC, id;
WITH c AS MATERIALIZED (SELECT id, body AS txt FROM docs)
SELECT id, round(bm25_score(txt, 'lazy')::numeric, 6) AS score
  FROM c WHERE txt @@@ 'lazy' ORDER BY score DESC, id;
SELECT string_agg(id::text, ',' ORDER BY bm25_score(body, 'lazy') DESC, id)
  FROM (SELECT id, body FROM docs WHERE body @@@ 'lazy'
         ORDER BY bm25_score(body, 'lazy') DESC LIMIT 5) s;

-- Without a bm25 index on the argument there is no configuration or
-- statistics to use: a clear error.
SELECT bm25_score(title, 'fox') FROM docs LIMIT 1;
SELECT count(*) FROM docs WHERE title @@@ 'fox';
SELECT 'some text' @@@ 'text';
SELECT bm25_score('fox', 'fox'::bm25query);

-- Rows inserted after CREATE INDEX are searchable at once (bm25_writes
-- covers the write path in depth).
INSERT INTO docs VALUES (100, 'new', 'a new fox');
INSERT INTO docs VALUES (101, 'new null', NULL);
-- Updating a non-indexed column is a HOT update: no index entry needed.
UPDATE docs SET title = 'renamed' WHERE id = 1;
SELECT id, title FROM docs WHERE body @@@ 'jumps';

-- DELETE + VACUUM removes documents and updates the statistics.
DELETE FROM docs WHERE id = 8;
SELECT documents FROM bm25_index_stats('docs_body');
VACUUM docs;
SELECT documents, segments FROM bm25_index_stats('docs_body');
SELECT id FROM docs WHERE body @@@ 'fox' ORDER BY id;
SELECT bm25_verify_index('docs_body');

-- bm25_verify_index and bm25_index_stats insist on a bm25 index.
SELECT bm25_verify_index('docs_pkey');
