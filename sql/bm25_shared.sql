-- Caches shared by all backends (scoring/shcache.c): a new connection
-- finds the clauses and term lookups other backends made, gets the same
-- results, and sees text search changes and new rows at once.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS bm25;
RESET client_min_messages;

SELECT cache, slots > 0 AS enabled FROM bm25_shared_cache_stats() ORDER BY cache;

CREATE TEXT SEARCH CONFIGURATION t_sh_cfg (COPY = simple);
CREATE TABLE t_sh (id int, body text);
INSERT INTO t_sh VALUES (1, 'cat'), (2, 'cats'), (3, 'dog'), (4, 'cats and dogs'),
  (5, 'a cat and more cats');
CREATE INDEX t_sh_bm25 ON t_sh USING bm25 (body) WITH (text_config = 't_sh_cfg');
SET enable_seqscan = off;
CREATE TABLE t_sh_res AS
  SELECT 0 AS pass, id, bm25_score(body, 'cats zebra') AS s
    FROM t_sh WHERE body @@@ 'cats zebra' ORDER BY s DESC, id LIMIT 5;

-- This backend analyzed the query's clause and looked its terms up in the
-- segment first; a new backend takes both from shared memory.
SELECT sum(hits) FILTER (WHERE cache = 'clauses') AS clause_hits,
       sum(hits) FILTER (WHERE cache = 'terms') AS term_hits
  FROM bm25_shared_cache_stats() \gset
\c
SET enable_seqscan = off;
INSERT INTO t_sh_res
  SELECT 1, id, bm25_score(body, 'cats zebra') AS s
    FROM t_sh WHERE body @@@ 'cats zebra' ORDER BY s DESC, id LIMIT 5;
SELECT sum(hits) FILTER (WHERE cache = 'clauses') > :clause_hits AS clause_shared,
       sum(hits) FILTER (WHERE cache = 'terms') > :term_hits AS term_shared
  FROM bm25_shared_cache_stats();
-- the same rows with the same scores
SELECT pass, array_agg(id ORDER BY s DESC, id) AS ids, count(*) AS n FROM t_sh_res GROUP BY pass ORDER BY pass;
SELECT count(*) AS differing FROM t_sh_res a JOIN t_sh_res b ON a.id = b.id AND a.pass = 0 AND b.pass = 1
 WHERE a.s <> b.s;

-- Rows in the write buffer (not a segment file) are seen by a new backend.
INSERT INTO t_sh VALUES (6, 'cats cats cats');
\c
SET enable_seqscan = off;
SELECT id FROM t_sh WHERE body @@@ 'cats zebra' ORDER BY bm25_score(body, 'cats zebra') DESC, id LIMIT 5;

-- A configuration change made here reaches a backend that finds the
-- clause in the shared cache: 'cats' now analyzes to 'cat', which the
-- index holds for rows 1 and 5 only (it was built with simple).
ALTER TEXT SEARCH CONFIGURATION t_sh_cfg ALTER MAPPING FOR asciiword WITH english_stem;
\c
SET enable_seqscan = off;
SELECT id FROM t_sh WHERE body @@@ 'cats zebra' ORDER BY bm25_score(body, 'cats zebra') DESC, id LIMIT 5;

-- A change rolled back leaves nothing behind, in this backend or the next.
BEGIN;
ALTER TEXT SEARCH CONFIGURATION t_sh_cfg ALTER MAPPING FOR asciiword WITH simple;
SELECT id FROM t_sh WHERE body @@@ 'cats zebra' ORDER BY bm25_score(body, 'cats zebra') DESC, id LIMIT 5;
ROLLBACK;
SELECT id FROM t_sh WHERE body @@@ 'cats zebra' ORDER BY bm25_score(body, 'cats zebra') DESC, id LIMIT 5;
\c
SET enable_seqscan = off;
SELECT id FROM t_sh WHERE body @@@ 'cats zebra' ORDER BY bm25_score(body, 'cats zebra') DESC, id LIMIT 5;

DROP TABLE t_sh, t_sh_res;
DROP TEXT SEARCH CONFIGURATION t_sh_cfg;
