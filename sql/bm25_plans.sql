-- Plan shapes: Index Scan, Bitmap Index Scan, and the top-k custom scan
-- with the k it pushed down.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS bm25;
RESET client_min_messages;
CREATE TABLE articles (id int PRIMARY KEY, category int, body text);
INSERT INTO articles
SELECT i, i % 10,
       CASE WHEN i % 7 = 0 THEN 'postgres index search ranking '
            WHEN i % 5 = 0 THEN 'search engine relevance '
            ELSE 'unrelated filler words ' END || 'row ' || i
  FROM generate_series(1, 5000) i;
CREATE INDEX articles_bm25 ON articles USING bm25 (body);
ANALYZE articles;

-- Selective match: the planner uses the index.
EXPLAIN (COSTS OFF) SELECT id FROM articles WHERE body @@@ 'ranking';
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM articles WHERE body @@@ 'ranking';
RESET enable_bitmapscan;
SET enable_indexscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM articles WHERE body @@@ 'ranking';
RESET enable_indexscan;

-- Top-k: its own node, no Sort, and the LIMIT pushed down as Top-K.
EXPLAIN (COSTS OFF)
SELECT id, bm25_score(body, 'search ranking') FROM articles
 WHERE body @@@ 'search ranking'
 ORDER BY bm25_score(body, 'search ranking') DESC LIMIT 10;
-- LIMIT + OFFSET pushes down both.
EXPLAIN (COSTS OFF)
SELECT id FROM articles WHERE body @@@ 'search ranking'
 ORDER BY bm25_score(body, 'search ranking') DESC LIMIT 10 OFFSET 5;
-- Other filters stay as quals of the scan.
EXPLAIN (COSTS OFF)
SELECT id FROM articles WHERE body @@@ 'search' AND category = 3
 ORDER BY bm25_score(body, 'search') DESC LIMIT 5;
-- A second sort key becomes an Incremental Sort over the ranked scan.
EXPLAIN (COSTS OFF)
SELECT id FROM articles WHERE body @@@ 'search'
 ORDER BY bm25_score(body, 'search') DESC, id LIMIT 5;
-- Different query strings in WHERE and ORDER BY: not the top-k shape.
EXPLAIN (COSTS OFF)
SELECT id FROM articles WHERE body @@@ 'search'
 ORDER BY bm25_score(body, 'ranking') DESC LIMIT 5;
-- Ascending order is correct but needs a sort.
EXPLAIN (COSTS OFF)
SELECT id FROM articles WHERE body @@@ 'ranking'
 ORDER BY bm25_score(body, 'ranking') LIMIT 5;

-- The score the top-k scan returns is the score of the row.
SELECT id, category, bm25_score(body, 'search ranking') = (
         SELECT bm25_score(a2.body, 'search ranking') FROM articles a2 WHERE a2.id = a.id
       ) AS same_score
  FROM articles a
 WHERE body @@@ 'search ranking' AND category = 3
 ORDER BY bm25_score(body, 'search ranking') DESC LIMIT 5;

-- The filtered top-k has exactly k rows, equal to the exhaustive reference.
CREATE TEMP TABLE topk AS
SELECT id, bm25_score(body, 'search') AS s FROM articles
 WHERE body @@@ 'search' AND id % 100 = 0
 ORDER BY bm25_score(body, 'search') DESC LIMIT 10;
SET enable_indexscan = off; SET enable_bitmapscan = off;
SET bm25.topk_initial_batch = 1;
CREATE TEMP TABLE ref AS
SELECT id, s FROM (SELECT id, bm25_score(body, 'search') AS s FROM articles
                    WHERE body @@@ 'search' AND id % 100 = 0 OFFSET 0) x
 ORDER BY s DESC, (SELECT ctid FROM articles a WHERE a.id = x.id) LIMIT 10;
RESET enable_indexscan; RESET enable_bitmapscan;
SELECT count(*) FROM topk;
SELECT count(*) FROM (SELECT * FROM topk EXCEPT SELECT * FROM ref) d;

-- EXPLAIN ANALYZE reports the ranking work: with a filter keeping 1% of
-- the matches, the scan ranks in growing batches until 10 rows qualify.
SET enable_sort = off;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT id FROM articles WHERE body @@@ 'search' AND id % 100 = 0
 ORDER BY bm25_score(body, 'search') DESC LIMIT 10;
SELECT id, round(bm25_score(body, 'search')::numeric, 6) FROM articles
 WHERE body @@@ 'search' AND id % 100 = 0
 ORDER BY bm25_score(body, 'search') DESC LIMIT 10;
RESET enable_sort;
RESET bm25.topk_initial_batch;

-- Prepared statements with the query as a parameter keep the top-k scan
-- in both custom and generic plans.
PREPARE ranked(text, int) AS
  SELECT id FROM articles WHERE body @@@ $1 ORDER BY bm25_score(body, $1) DESC LIMIT $2;
SET plan_cache_mode = force_custom_plan;
EXPLAIN (COSTS OFF) EXECUTE ranked('ranking', 3);
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE ranked('ranking', 3);
EXECUTE ranked('ranking', 3);
RESET plan_cache_mode;
SET plan_cache_mode = force_custom_plan;
EXECUTE ranked('ranking', 3);
RESET plan_cache_mode;
