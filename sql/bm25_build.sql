-- CREATE INDEX stays within maintenance_work_mem by spilling partial
-- segments and merging them; the result equals an in-memory build.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS bm25;
RESET client_min_messages;
SELECT setseed(0.42);
CREATE TABLE corpus AS
SELECT i AS id,
       (SELECT string_agg('w' || (floor(power(random(), 3) * 4000))::int, ' ')
          FROM generate_series(1, 5 + (i % 40)) g WHERE i > 0) AS body
  FROM generate_series(1, 20000) i;
CREATE TABLE corpus2 AS SELECT * FROM corpus ORDER BY id;

SET maintenance_work_mem = '1MB';
SET client_min_messages = debug1;
CREATE INDEX corpus_small ON corpus USING bm25 (body) WITH (text_config = 'simple');
RESET client_min_messages;
RESET maintenance_work_mem;
CREATE INDEX corpus_big ON corpus2 USING bm25 (body) WITH (text_config = 'simple');

-- Same statistics, one merged segment each.
SELECT segments, documents, total_tokens, terms FROM bm25_index_stats('corpus_small');
SELECT (SELECT (segments, documents, total_tokens, terms) FROM bm25_index_stats('corpus_small')) =
       (SELECT (segments, documents, total_tokens, terms) FROM bm25_index_stats('corpus_big')) AS same_stats;
SELECT bm25_verify_index('corpus_small');

-- Same ranked results for a set of queries.
CREATE TEMP TABLE queries AS
SELECT 'w' || a || ' w' || b || ' w' || c AS q
  FROM (VALUES (1, 2, 3), (10, 200, 3000), (5, 55, 555), (0, 17, 3999), (123, 1234, 2345)) v(a, b, c);
CREATE TEMP TABLE r1 AS
SELECT q.q, x.id, x.s, x.rk FROM queries q, LATERAL (
  SELECT id, bm25_score(body, q.q) AS s, row_number() OVER () AS rk FROM corpus
   WHERE body @@@ q.q ORDER BY bm25_score(body, q.q) DESC LIMIT 20) x;
CREATE TEMP TABLE r2 AS
SELECT q.q, x.id, x.s, x.rk FROM queries q, LATERAL (
  SELECT id, bm25_score(body, q.q) AS s, row_number() OVER () AS rk FROM corpus2
   WHERE body @@@ q.q ORDER BY bm25_score(body, q.q) DESC LIMIT 20) x;
SELECT count(*) AS compared FROM r1;
SELECT count(*) AS differences FROM (
  (SELECT * FROM r1 EXCEPT SELECT * FROM r2) UNION ALL (SELECT * FROM r2 EXCEPT SELECT * FROM r1)) d;

-- Parallel build: workers and the leader each scan part of the heap into
-- partial segments, which the leader merges; the result equals a serial
-- build (doc ids follow a different order, scores and ranking do not).
DROP INDEX corpus_small;
SET max_parallel_maintenance_workers = 2;
SET maintenance_work_mem = '96MB';	-- plan_create_index_workers wants 32MB each
SET min_parallel_table_scan_size = 0;
ALTER TABLE corpus SET (parallel_workers = 2);
SET client_min_messages = debug1;
CREATE INDEX corpus_par ON corpus USING bm25 (body) WITH (text_config = 'simple');
RESET client_min_messages;
SELECT (SELECT (segments, documents, total_tokens, terms) FROM bm25_index_stats('corpus_par')) =
       (SELECT (segments, documents, total_tokens, terms) FROM bm25_index_stats('corpus_big')) AS same_stats;
SELECT bm25_verify_index('corpus_par');
DROP TABLE r1;
CREATE TEMP TABLE r1 AS
SELECT q.q, x.id, x.s, x.rk FROM queries q, LATERAL (
  SELECT id, bm25_score(body, q.q) AS s, row_number() OVER () AS rk FROM corpus
   WHERE body @@@ q.q ORDER BY bm25_score(body, q.q) DESC LIMIT 20) x;
SELECT count(*) AS compared FROM r1;
SELECT count(*) AS differences FROM (
  (SELECT * FROM r1 EXCEPT SELECT * FROM r2) UNION ALL (SELECT * FROM r2 EXCEPT SELECT * FROM r1)) d;

-- CREATE INDEX CONCURRENTLY builds in parallel too (MVCC snapshot scan).
DROP INDEX corpus_par;
SET client_min_messages = debug1;
CREATE INDEX CONCURRENTLY corpus_parc ON corpus USING bm25 (body) WITH (text_config = 'simple');
RESET client_min_messages;
SELECT (SELECT (segments, documents, total_tokens, terms) FROM bm25_index_stats('corpus_parc')) =
       (SELECT (segments, documents, total_tokens, terms) FROM bm25_index_stats('corpus_big')) AS same_stats;
SELECT bm25_verify_index('corpus_parc');
RESET maintenance_work_mem;
RESET min_parallel_table_scan_size;
RESET max_parallel_maintenance_workers;
