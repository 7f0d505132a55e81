-- Ranked query shapes (issue 4): one small deterministic case per shape,
-- with EXPLAIN showing which shapes use the top-k scan.  Ties in the top-k
-- scan are broken by ctid ascending; rows are inserted in id order and
-- never moved, so here that is id order.  The randomized comparison of
-- every shape against the reference is test/t/100_differential.pl.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS bm25;
RESET client_min_messages;
CREATE TABLE shp_authors (id int PRIMARY KEY, name text);
INSERT INTO shp_authors SELECT i, 'author ' || i FROM generate_series(0, 9) i WHERE i <> 7;
CREATE TABLE shp (id int PRIMARY KEY, category int, price numeric, flag bool,
                  author_id int, title text, body text)
  WITH (autovacuum_enabled = off);
-- 3000 rows; bodies repeat, so scores tie in groups:
--   id % 11 = 0: 'postgres ranking ranking search'   (best for 'ranking search')
--   id % 7 = 0:  'postgres search engine'
--   id % 5 = 0:  'search tips'
--   otherwise:   'filler text number <id>'
INSERT INTO shp
SELECT i, i % 5, i % 100, i % 2 = 0, i % 10,
       CASE WHEN i % 3 = 0 THEN 'guide' ELSE 'notes' END || ' ' ||
       CASE WHEN i % 4 = 0 THEN 'postgres' ELSE 'misc' END,
       CASE WHEN i % 11 = 0 THEN 'postgres ranking ranking search'
            WHEN i % 7 = 0 THEN 'postgres search engine'
            WHEN i % 5 = 0 THEN 'search tips'
            ELSE 'filler text number ' || i END
  FROM generate_series(1, 3000) i;
CREATE INDEX shp_body ON shp USING bm25 (body);
CREATE INDEX shp_title ON shp USING bm25 (title);
ANALYZE shp;
ANALYZE shp_authors;

-- A reference: every row scored with the index disabled, then sorted by
-- (score DESC, ctid).  shp_ref(where, k) returns the ids of the top k.
CREATE FUNCTION shp_ref(cond text, q text, k int) RETURNS int[]
LANGUAGE plpgsql AS $$
DECLARE r int[];
BEGIN
	PERFORM set_config('enable_indexscan', 'off', true);
	PERFORM set_config('enable_bitmapscan', 'off', true);
	EXECUTE format('SELECT array_agg(id ORDER BY s DESC, c) FROM
	                  (SELECT id, ctid c, bm25_score(body, %L) s FROM shp
	                    WHERE body @@@ %L AND %s OFFSET 0) x',
	               q, q, cond) INTO r;
	PERFORM set_config('enable_indexscan', 'on', true);
	PERFORM set_config('enable_bitmapscan', 'on', true);
	RETURN r[1:k];
END $$;

-- 1. Other WHERE conditions: checked inside the scan, exactly k rows.
EXPLAIN (COSTS OFF)
SELECT id, bm25_score(body, 'ranking search') FROM shp
 WHERE body @@@ 'ranking search' AND category = 2
 ORDER BY bm25_score(body, 'ranking search') DESC LIMIT 4;
SELECT id, category, round(bm25_score(body, 'ranking search')::numeric, 6) AS score FROM shp
 WHERE body @@@ 'ranking search' AND category = 2
 ORDER BY bm25_score(body, 'ranking search') DESC LIMIT 4;
-- range condition and a modulus keeping 0.1% of the rows
SELECT id, round(bm25_score(body, 'ranking search')::numeric, 6) AS score FROM shp
 WHERE body @@@ 'ranking search' AND price BETWEEN 10 AND 12
 ORDER BY bm25_score(body, 'ranking search') DESC LIMIT 4;
SET bm25.topk_initial_batch = 1;
SELECT id, round(bm25_score(body, 'search')::numeric, 6) AS score FROM shp
 WHERE body @@@ 'search' AND id % 1000 = 0
 ORDER BY bm25_score(body, 'search') DESC LIMIT 3;
SELECT array_agg(id) = shp_ref('id % 1000 = 0', 'search', 3) AS same_as_reference FROM
  (SELECT id FROM shp WHERE body @@@ 'search' AND id % 1000 = 0
    ORDER BY bm25_score(body, 'search') DESC LIMIT 3) t;
RESET bm25.topk_initial_batch;

-- 2. MVCC: deleted (not vacuumed) and updated rows never take a slot.
DELETE FROM shp WHERE id IN (11, 22);
UPDATE shp SET body = 'filler moved away' WHERE id = 33;
UPDATE shp SET category = 9 WHERE id = 2992;        -- HOT update, body unchanged
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT id FROM shp WHERE body @@@ 'ranking search'
 ORDER BY bm25_score(body, 'ranking search') DESC LIMIT 4;
SELECT id, category, round(bm25_score(body, 'ranking search')::numeric, 6) AS score FROM shp
 WHERE body @@@ 'ranking search'
 ORDER BY bm25_score(body, 'ranking search') DESC LIMIT 4;
-- the HOT-updated row is found through its chain, once, with its new category
SELECT id, category FROM shp WHERE body @@@ 'ranking search' AND id > 2950
 ORDER BY bm25_score(body, 'ranking search') DESC, id LIMIT 5;
-- an aborted insert of better rows
BEGIN;
INSERT INTO shp VALUES (5001, 0, 0, true, 0, 'x', 'ranking ranking ranking search search');
ROLLBACK;
SELECT id FROM shp WHERE body @@@ 'ranking search'
 ORDER BY bm25_score(body, 'ranking search') DESC LIMIT 2;

-- 3. Parameters: prepared statements (custom and generic plans) and PL/pgSQL.
PREPARE shp_ranked(text, int, int) AS
  SELECT id FROM shp WHERE body @@@ $1 AND category = $3
   ORDER BY bm25_score(body, $1) DESC LIMIT $2;
SET plan_cache_mode = force_custom_plan;
EXPLAIN (COSTS OFF) EXECUTE shp_ranked('search engine', 3, 1);
EXECUTE shp_ranked('search engine', 3, 1);
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE shp_ranked('search engine', 3, 1);
EXECUTE shp_ranked('search engine', 3, 1);
RESET plan_cache_mode;
DEALLOCATE shp_ranked;
CREATE FUNCTION shp_top(q text, k int) RETURNS SETOF int LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY SELECT id FROM shp WHERE body @@@ q ORDER BY bm25_score(body, q) DESC LIMIT k;
END $$;
SELECT shp_top('ranking', 3);

-- 4. Result shapes.
-- LIMIT k OFFSET m
EXPLAIN (COSTS OFF)
SELECT id FROM shp WHERE body @@@ 'search'
 ORDER BY bm25_score(body, 'search') DESC LIMIT 3 OFFSET 270;
SELECT id, round(bm25_score(body, 'search')::numeric, 6) AS score FROM shp WHERE body @@@ 'search'
 ORDER BY bm25_score(body, 'search') DESC LIMIT 3 OFFSET 270;
-- large k: everything that matches (269 + 390 + 468 rows), no cap
EXPLAIN (COSTS OFF)
SELECT id FROM shp WHERE body @@@ 'search' ORDER BY bm25_score(body, 'search') DESC LIMIT 10000;
SELECT count(*), count(DISTINCT id) FROM
  (SELECT id FROM shp WHERE body @@@ 'search' ORDER BY bm25_score(body, 'search') DESC LIMIT 10000) t;
-- no LIMIT: a selective query still ranks; a broad one sorts
EXPLAIN (COSTS OFF)
SELECT id FROM shp WHERE body @@@ 'ranking' ORDER BY bm25_score(body, 'ranking') DESC;
EXPLAIN (COSTS OFF)
SELECT id FROM shp WHERE body @@@ 'search' ORDER BY bm25_score(body, 'search') DESC;
SELECT count(*) FROM (SELECT id FROM shp WHERE body @@@ 'ranking'
                       ORDER BY bm25_score(body, 'ranking') DESC) t;
-- LIMIT as a parameter (generic plan: first batch bm25.topk_initial_batch)
PREPARE shp_lim(int) AS
  SELECT id FROM shp WHERE body @@@ 'engine' ORDER BY bm25_score(body, 'engine') DESC LIMIT $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE shp_lim(2);
EXECUTE shp_lim(2);
RESET plan_cache_mode;
DEALLOCATE shp_lim;
-- FETCH FIRST ... WITH TIES: all rows tied with the 2nd (the whole group)
EXPLAIN (COSTS OFF)
SELECT id FROM shp WHERE body @@@ 'engine'
 ORDER BY bm25_score(body, 'engine') DESC FETCH FIRST 2 ROWS WITH TIES;
SELECT count(*) FROM (SELECT id FROM shp WHERE body @@@ 'engine'
 ORDER BY bm25_score(body, 'engine') DESC FETCH FIRST 2 ROWS WITH TIES) t;
-- cursor fetched in steps continues in rank order across batches
SET bm25.topk_initial_batch = 1;
BEGIN;
DECLARE shp_c CURSOR FOR
  SELECT id, round(bm25_score(body, 'postgres search')::numeric, 6) AS score FROM shp
   WHERE body @@@ 'postgres search' ORDER BY bm25_score(body, 'postgres search') DESC;
FETCH 2 FROM shp_c;
FETCH 3 FROM shp_c;
MOVE 257 IN shp_c;    -- rows 263..265 of the 390 tied 'postgres search engine' rows
FETCH 3 FROM shp_c;
COMMIT;
RESET bm25.topk_initial_batch;
-- the score in ORDER BY only, in the select list only, in both (by alias)
SELECT id FROM shp WHERE body @@@ 'engine' ORDER BY bm25_score(body, 'engine') DESC LIMIT 2;
SELECT id, round(bm25_score(body, 'engine')::numeric, 6) AS score FROM shp
 WHERE body @@@ 'engine' ORDER BY id LIMIT 2;
EXPLAIN (COSTS OFF)
SELECT id, bm25_score(body, 'engine') AS s FROM shp WHERE body @@@ 'engine' ORDER BY s DESC LIMIT 2;
-- ascending order: correct, with a sort
EXPLAIN (COSTS OFF)
SELECT id FROM shp WHERE body @@@ 'ranking search' ORDER BY bm25_score(body, 'ranking search') LIMIT 3;
SELECT id, round(bm25_score(body, 'ranking search')::numeric, 6) AS score FROM shp
 WHERE body @@@ 'ranking search' ORDER BY bm25_score(body, 'ranking search'), id LIMIT 3;

-- 5. Joins, subqueries and CTEs.
EXPLAIN (COSTS OFF)
SELECT s.id, a.name FROM shp s JOIN shp_authors a ON a.id = s.author_id
 WHERE s.body @@@ 'ranking' ORDER BY bm25_score(s.body, 'ranking') DESC LIMIT 3;
-- author 7 does not exist: id 77 (author_id 7) is skipped by the join
SELECT s.id, a.name FROM shp s JOIN shp_authors a ON a.id = s.author_id
 WHERE s.body @@@ 'ranking' AND s.id > 50 ORDER BY bm25_score(s.body, 'ranking') DESC LIMIT 3;
EXPLAIN (COSTS OFF)
WITH top AS (SELECT id, bm25_score(body, 'ranking') AS s FROM shp WHERE body @@@ 'ranking'
              ORDER BY bm25_score(body, 'ranking') DESC LIMIT 3)
SELECT top.id, a.name FROM top JOIN shp_authors a ON a.id = top.id % 10 ORDER BY top.s DESC, top.id;
WITH top AS (SELECT id, bm25_score(body, 'ranking') AS s FROM shp WHERE body @@@ 'ranking'
              ORDER BY bm25_score(body, 'ranking') DESC LIMIT 3)
SELECT top.id, a.name FROM top JOIN shp_authors a ON a.id = top.id % 10 ORDER BY top.s DESC, top.id;
SELECT id FROM shp WHERE id IN (SELECT id FROM shp WHERE body @@@ 'engine'
                                 ORDER BY bm25_score(body, 'engine') DESC LIMIT 3)
 ORDER BY id;
-- the query text from an outer row (LATERAL): one ranked scan per row
CREATE TABLE shp_q (qid int, q text);
INSERT INTO shp_q VALUES (1, 'ranking'), (2, 'tips'), (3, 'engine postgres');
EXPLAIN (COSTS OFF)
SELECT shp_q.qid, t.id FROM shp_q, LATERAL (
  SELECT id FROM shp WHERE body @@@ shp_q.q ORDER BY bm25_score(body, shp_q.q) DESC LIMIT 2) t;
SELECT shp_q.qid, t.id FROM shp_q, LATERAL (
  SELECT id FROM shp WHERE body @@@ shp_q.q ORDER BY bm25_score(body, shp_q.q) DESC LIMIT 2) t
 ORDER BY 1, 2;

-- 6. Two indexes on one table: each binds to its own column.
EXPLAIN (COSTS OFF)
SELECT id FROM shp WHERE title @@@ 'guide postgres' ORDER BY bm25_score(title, 'guide postgres') DESC LIMIT 3;
SELECT id, round(bm25_score(title, 'guide postgres')::numeric, 6) AS score FROM shp
 WHERE title @@@ 'guide postgres' ORDER BY bm25_score(title, 'guide postgres') DESC LIMIT 3;
-- a sum of both scores falls back to a sort, and is still exact
EXPLAIN (COSTS OFF)
SELECT id FROM shp WHERE body @@@ 'postgres' AND title @@@ 'postgres'
 ORDER BY bm25_score(body, 'postgres') + bm25_score(title, 'postgres') DESC, id LIMIT 3;
SELECT id, round((bm25_score(body, 'postgres') + bm25_score(title, 'postgres'))::numeric, 6) AS score
  FROM shp WHERE body @@@ 'postgres' AND title @@@ 'postgres'
 ORDER BY bm25_score(body, 'postgres') + bm25_score(title, 'postgres') DESC, id LIMIT 3;

-- 7. Parallel query: test/t/110_parallel.pl.

-- 8. Mismatched query strings: each means what it says (no top-k scan).
EXPLAIN (COSTS OFF)
SELECT id FROM shp WHERE body @@@ 'tips' ORDER BY bm25_score(body, 'ranking') DESC LIMIT 3;
-- rows match 'tips' and none matches 'ranking', so every score is 0
SELECT id, bm25_score(body, 'ranking') AS score FROM shp
 WHERE body @@@ 'tips' ORDER BY bm25_score(body, 'ranking') DESC, id LIMIT 3;

DROP TABLE shp, shp_authors, shp_q;
DROP FUNCTION shp_ref(text, text, int);
DROP FUNCTION shp_top(text, int);
