-- Index lifecycle: DROP, TRUNCATE, REINDEX and table rewrites, committed,
-- rolled back and rolled back to a savepoint; partitioned tables; unlogged
-- and temporary tables; DROP EXTENSION.  The bm25/ tree on disk (orphan
-- and missing directories) is checked by test/t/045_lifecycle.pl; here
-- every step checks that queries still work and give the same top-k ids
-- and scores as before, and that the index verifies.
-- (quietly: whether an earlier test created it does not matter)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS bm25;
RESET client_min_messages;
CREATE SCHEMA lcs;
SET search_path = lcs, public;

CREATE TABLE lc (id int PRIMARY KEY, body text);
INSERT INTO lc SELECT i, 'alpha ' || (i % 17) || ' beta' || (i % 7) || ' word' || i
  || CASE WHEN i % 5 = 0 THEN ' apple pie' ELSE ' pear' END
  FROM generate_series(1, 300) i;
CREATE INDEX lc_bm25 ON lc USING bm25 (body) WITH (write_buffer_docs = 40);
-- real-time inserts: some segments from conversions plus a write buffer
INSERT INTO lc SELECT i, 'later apple crumble ' || i || ' beta' || (i % 7)
  FROM generate_series(301, 390) i;
SELECT segments >= 2 AS has_segments, write_buffer_docs > 0 AS has_buffer, documents
  FROM bm25_index_stats('lc_bm25');

CREATE TABLE lc_q (qtext text);
INSERT INTO lc_q VALUES ('apple'), ('beta3'), ('+apple -crumble'), ('alpha 7 beta2'),
  ('word42 word300 word350'), ('pear beta1');

-- Top 15 of every query through the index, ties broken by id.
CREATE FUNCTION lc_results() RETURNS TABLE (qtext text, id int, s float8)
LANGUAGE sql SET search_path = lcs, public AS $$
  SELECT q.qtext, x.id, x.s FROM lc_q q, LATERAL (
    SELECT lc.id, bm25_score(lc.body, q.qtext) AS s FROM lc WHERE lc.body @@@ q.qtext
     ORDER BY bm25_score(lc.body, q.qtext) DESC, lc.id LIMIT 15) x
$$;
CREATE TABLE lc_snap AS SELECT * FROM lc_results();
SELECT count(*) AS snapshot_rows FROM lc_snap;

-- Rows that differ between the snapshot and the current results.
CREATE FUNCTION lc_diff() RETURNS bigint
LANGUAGE sql SET search_path = lcs, public AS $$
  SELECT count(*) FROM (
    (SELECT * FROM lc_snap EXCEPT ALL SELECT * FROM lc_results()) UNION ALL
    (SELECT * FROM lc_results() EXCEPT ALL SELECT * FROM lc_snap)) d
$$;
SELECT lc_diff();

-- ---------------------------------------------------------------------
-- DROP INDEX / TABLE / SCHEMA rolled back, and rolled back to a savepoint.
-- ---------------------------------------------------------------------
BEGIN;
DROP INDEX lc_bm25;
SELECT count(*) FROM pg_class WHERE relname = 'lc_bm25';
ROLLBACK;
SELECT lc_diff(), bm25_verify_index('lc_bm25');

BEGIN;
SAVEPOINT s1;
DROP INDEX lc_bm25;
ROLLBACK TO SAVEPOINT s1;
SELECT lc_diff(), bm25_verify_index('lc_bm25');
COMMIT;

BEGIN;
DROP TABLE lc CASCADE;
ROLLBACK;
SELECT lc_diff(), bm25_verify_index('lc_bm25');

BEGIN;
SAVEPOINT s1;
DROP TABLE lc CASCADE;
ROLLBACK TO SAVEPOINT s1;
SELECT lc_diff(), bm25_verify_index('lc_bm25');
COMMIT;

RESET search_path;
BEGIN;
DROP SCHEMA lcs CASCADE;
ROLLBACK;
SELECT lcs.lc_diff(), bm25_verify_index('lcs.lc_bm25');
BEGIN;
SAVEPOINT s1;
DROP SCHEMA lcs CASCADE;
ROLLBACK TO SAVEPOINT s1;
SELECT lcs.lc_diff(), bm25_verify_index('lcs.lc_bm25');
COMMIT;
SET search_path = lcs, public;

-- Writes after a rolled-back DROP go to the same, still valid index.
BEGIN;
DROP INDEX lc_bm25;
ROLLBACK;
INSERT INTO lc VALUES (1000, 'zebra after rollback');
SELECT id FROM lc WHERE body @@@ 'zebra';
DELETE FROM lc WHERE id = 1000;
VACUUM lc;
SELECT lc_diff(), bm25_verify_index('lc_bm25');

-- Committed DROP INDEX, then a new index over the same data agrees.
DROP INDEX lc_bm25;
-- without a bm25 index an unbound @@@ has no statistics: a clear error
SELECT count(*) FROM lc WHERE body @@@ 'apple';
CREATE INDEX lc_bm25 ON lc USING bm25 (body) WITH (write_buffer_docs = 40);
SELECT lc_diff(), bm25_verify_index('lc_bm25');

-- A committed DROP TABLE inside a transaction that also creates: both gone.
BEGIN;
CREATE TABLE lc_tmp (id int, body text);
INSERT INTO lc_tmp VALUES (1, 'short lived');
CREATE INDEX lc_tmp_bm25 ON lc_tmp USING bm25 (body);
SELECT id FROM lc_tmp WHERE body @@@ 'lived';
DROP TABLE lc_tmp;
COMMIT;
-- CREATE INDEX rolled back, whole and to a savepoint.
BEGIN;
CREATE INDEX lc_bm25_simple ON lc USING bm25 (body) WITH (text_config = 'simple');
ROLLBACK;
BEGIN;
SAVEPOINT s1;
CREATE INDEX lc_bm25_simple ON lc USING bm25 (body) WITH (text_config = 'simple');
ROLLBACK TO SAVEPOINT s1;
COMMIT;
SELECT count(*) FROM pg_class WHERE relname = 'lc_bm25_simple';
SELECT lc_diff(), bm25_verify_index('lc_bm25');

-- ---------------------------------------------------------------------
-- TRUNCATE: rolled back, rolled back to a savepoint (with inserts made
-- in between), committed, then inserts.
-- ---------------------------------------------------------------------
BEGIN;
TRUNCATE lc;
SELECT count(*) FROM lc WHERE body @@@ 'apple';
SELECT documents, segments FROM bm25_index_stats('lc_bm25');
INSERT INTO lc VALUES (5000, 'apple inside truncating transaction');
SELECT id FROM lc WHERE body @@@ 'apple';
ROLLBACK;
SELECT lc_diff(), bm25_verify_index('lc_bm25');
SELECT count(*) FROM lc WHERE body @@@ 'truncating';

BEGIN;
INSERT INTO lc VALUES (5001, 'kept insert before the savepoint');
SAVEPOINT s1;
TRUNCATE lc;
INSERT INTO lc SELECT i, 'apple in subtransaction ' || i FROM generate_series(6000, 6100) i;
SELECT count(*) FROM lc WHERE body @@@ 'subtransaction';
ROLLBACK TO SAVEPOINT s1;
SELECT count(*) FROM lc WHERE body @@@ 'subtransaction';
SELECT id FROM lc WHERE body @@@ 'kept';
COMMIT;
SELECT id FROM lc WHERE body @@@ 'kept';
DELETE FROM lc WHERE id = 5001;
VACUUM lc;
SELECT lc_diff(), bm25_verify_index('lc_bm25');

-- Committed TRUNCATE on a copy of the table, then inserts through the
-- write buffer and conversions: the results equal the original's.
CREATE TABLE lc2 (id int PRIMARY KEY, body text);
INSERT INTO lc2 SELECT * FROM lc;
CREATE INDEX lc2_bm25 ON lc2 USING bm25 (body) WITH (write_buffer_docs = 40);
TRUNCATE lc2;
SELECT documents, segments, write_buffer_docs FROM bm25_index_stats('lc2_bm25');
SELECT count(*) FROM lc2 WHERE body @@@ 'apple';
INSERT INTO lc2 SELECT * FROM lc;
SELECT documents, segments >= 2 AS has_segments FROM bm25_index_stats('lc2_bm25');
SELECT count(*) AS differences FROM (
  (SELECT q.qtext, x.id, x.s FROM lc_q q, LATERAL (
     SELECT lc2.id, bm25_score(lc2.body, q.qtext) AS s FROM lc2 WHERE lc2.body @@@ q.qtext
      ORDER BY bm25_score(lc2.body, q.qtext) DESC, lc2.id LIMIT 15) x
   EXCEPT ALL SELECT * FROM lc_snap)
  UNION ALL
  (SELECT * FROM lc_snap EXCEPT ALL
   SELECT q.qtext, x.id, x.s FROM lc_q q, LATERAL (
     SELECT lc2.id, bm25_score(lc2.body, q.qtext) AS s FROM lc2 WHERE lc2.body @@@ q.qtext
      ORDER BY bm25_score(lc2.body, q.qtext) DESC, lc2.id LIMIT 15) x)) d;
SELECT bm25_verify_index('lc2_bm25');
-- TRUNCATE then ROLLBACK in a subtransaction, then TRUNCATE committed in
-- the same transaction.
BEGIN;
SAVEPOINT s1;
TRUNCATE lc2;
ROLLBACK TO SAVEPOINT s1;
SELECT count(*) FROM lc2 WHERE body @@@ 'apple';
TRUNCATE lc2;
INSERT INTO lc2 VALUES (1, 'only apple left');
COMMIT;
SELECT id FROM lc2 WHERE body @@@ 'apple';
SELECT documents FROM bm25_index_stats('lc2_bm25');
SELECT bm25_verify_index('lc2_bm25');
DROP TABLE lc2;

-- ---------------------------------------------------------------------
-- REINDEX in a transaction block: rolled back, to a savepoint, committed.
-- ---------------------------------------------------------------------
BEGIN;
REINDEX INDEX lc_bm25;
SELECT lc_diff();
ROLLBACK;
SELECT lc_diff(), bm25_verify_index('lc_bm25');
BEGIN;
REINDEX TABLE lc;
ROLLBACK;
SELECT lc_diff(), bm25_verify_index('lc_bm25');
BEGIN;
SAVEPOINT s1;
REINDEX INDEX lc_bm25;
INSERT INTO lc VALUES (7000, 'apple written after reindex in subxact');
ROLLBACK TO SAVEPOINT s1;
COMMIT;
SELECT count(*) FROM lc WHERE body @@@ 'subxact';
SELECT lc_diff(), bm25_verify_index('lc_bm25');
REINDEX INDEX lc_bm25;
SELECT lc_diff(), bm25_verify_index('lc_bm25');
REINDEX TABLE lc;
SELECT lc_diff(), bm25_verify_index('lc_bm25');
REINDEX SCHEMA lcs;
SELECT lc_diff(), bm25_verify_index('lc_bm25');
REINDEX INDEX CONCURRENTLY lc_bm25;
SELECT lc_diff(), bm25_verify_index('lc_bm25');
REINDEX TABLE CONCURRENTLY lc;
SELECT lc_diff(), bm25_verify_index('lc_bm25');
SELECT indisvalid, indisready FROM pg_index WHERE indexrelid = 'lc_bm25'::regclass;
-- CREATE INDEX CONCURRENTLY of a second index; then the planner may pick
-- either, and both must agree.
CREATE INDEX CONCURRENTLY lc_bm25_b ON lc USING bm25 (body);
SELECT indisvalid FROM pg_index WHERE indexrelid = 'lc_bm25_b'::regclass;
SELECT bm25_verify_index('lc_bm25_b');
DROP INDEX lc_bm25;
SELECT lc_diff();
ALTER INDEX lc_bm25_b RENAME TO lc_bm25;
SELECT lc_diff(), bm25_verify_index('lc_bm25');

-- ---------------------------------------------------------------------
-- Table rewrites rebuild the index: same results, index verifies.
-- ---------------------------------------------------------------------
ALTER TABLE lc ALTER COLUMN body SET DATA TYPE text USING body || '';
SELECT lc_diff(), bm25_verify_index('lc_bm25');
ALTER TABLE lc ADD COLUMN r float8 DEFAULT random();
SELECT lc_diff(), bm25_verify_index('lc_bm25');
ALTER TABLE lc DROP COLUMN r;
VACUUM FULL lc;
SELECT lc_diff(), bm25_verify_index('lc_bm25');
CLUSTER lc USING lc_pkey;
SELECT lc_diff(), bm25_verify_index('lc_bm25');
BEGIN;
VACUUM FULL lc;  -- not allowed in a block
ROLLBACK;
BEGIN;
CLUSTER lc USING lc_pkey;
ALTER TABLE lc ADD COLUMN r2 int DEFAULT (random() * 10)::int;
SELECT lc_diff();
ROLLBACK;
SELECT lc_diff(), bm25_verify_index('lc_bm25');
BEGIN;
SAVEPOINT s1;
ALTER TABLE lc ALTER COLUMN body SET DATA TYPE text USING upper(body);
SELECT count(*) FROM lc WHERE body @@@ 'APPLE';
ROLLBACK TO SAVEPOINT s1;
COMMIT;
SELECT lc_diff(), bm25_verify_index('lc_bm25');
-- varchar column: the index is rebuilt over a binary-coercible type.
ALTER TABLE lc ALTER COLUMN body TYPE varchar(500);
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'lc'::regclass AND attname = 'body';
SELECT count(*) FROM lc WHERE body @@@ 'apple';
SELECT lc_diff(), bm25_verify_index('lc_bm25');
ALTER TABLE lc ALTER COLUMN body TYPE text;
SELECT lc_diff(), bm25_verify_index('lc_bm25');

-- ---------------------------------------------------------------------
-- Partitioned table: CREATE INDEX on the parent makes one bm25 index per
-- partition; each partition is a separate corpus (its own statistics).
-- ---------------------------------------------------------------------
CREATE TABLE pt (id int, body text) PARTITION BY RANGE (id);
CREATE TABLE pt1 PARTITION OF pt FOR VALUES FROM (0) TO (200);
CREATE TABLE pt2 PARTITION OF pt FOR VALUES FROM (200) TO (1000);
INSERT INTO pt SELECT id, body FROM lc;
CREATE INDEX pt_bm25 ON pt USING bm25 (body);
SELECT c.relname, c.relkind, a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam
 WHERE c.relname LIKE 'pt%' AND c.relkind IN ('i', 'I') ORDER BY 1;
-- @@@ on the parent: per-partition index scans, the union of matches.
SELECT count(*) FROM pt WHERE body @@@ 'apple';
SELECT (SELECT count(*) FROM pt1 WHERE body @@@ 'apple') + (SELECT count(*) FROM pt2 WHERE body @@@ 'apple') AS per_partition;
SELECT count(*) FROM lc WHERE body @@@ 'apple';
-- bm25_score on the parent: no bm25 index on the parent's column.
SELECT id, bm25_score(body, 'apple') FROM pt WHERE body @@@ 'apple' ORDER BY 2 DESC, id LIMIT 3;
-- Partitions separately: scores use each partition's own statistics.
SELECT id, round(bm25_score(body, 'apple')::numeric, 6) FROM pt1 WHERE body @@@ 'apple'
 ORDER BY bm25_score(body, 'apple') DESC, id LIMIT 3;
SELECT id, round(bm25_score(body, 'apple')::numeric, 6) FROM pt2 WHERE body @@@ 'apple'
 ORDER BY bm25_score(body, 'apple') DESC, id LIMIT 3;
SELECT documents FROM bm25_index_stats('pt1_body_idx');
SELECT documents FROM bm25_index_stats('pt2_body_idx');
SELECT bm25_verify_index('pt1_body_idx'), bm25_verify_index('pt2_body_idx');
-- The partitioned index itself has no storage: both functions say so.
\set VERBOSITY terse
SELECT documents FROM bm25_index_stats('pt_bm25');
SELECT bm25_verify_index('pt_bm25');
\set VERBOSITY default
-- A new partition gets its own index; detach keeps it; TRUNCATE of the
-- parent truncates every partition's index.
CREATE TABLE pt3 PARTITION OF pt FOR VALUES FROM (1000) TO (2000);
INSERT INTO pt VALUES (1500, 'apple in the third partition');
SELECT id FROM pt WHERE body @@@ 'third';
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'pt_bm25'::regclass ORDER BY 1;
ALTER TABLE pt DETACH PARTITION pt3;
SELECT id FROM pt3 WHERE body @@@ 'third';
SELECT id FROM pt WHERE body @@@ 'third';
BEGIN;
TRUNCATE pt;
SELECT count(*) FROM pt WHERE body @@@ 'apple';
ROLLBACK;
SELECT count(*) FROM pt WHERE body @@@ 'apple';
TRUNCATE pt;
SELECT count(*) FROM pt WHERE body @@@ 'apple';
SELECT documents FROM bm25_index_stats('pt1_body_idx');
BEGIN;
DROP INDEX pt_bm25;
ROLLBACK;
SELECT count(*) FROM pg_class WHERE relname IN ('pt_bm25', 'pt1_body_idx', 'pt2_body_idx');
DROP INDEX pt_bm25;
SELECT count(*) FROM pg_class WHERE relname IN ('pt_bm25', 'pt1_body_idx', 'pt2_body_idx');
DROP TABLE pt, pt3;

-- ---------------------------------------------------------------------
-- Unlogged and temporary tables are refused with a clear error.
-- ---------------------------------------------------------------------
CREATE UNLOGGED TABLE lc_unlogged (id int, body text);
CREATE INDEX ON lc_unlogged USING bm25 (body);
CREATE TEMP TABLE lc_temp (id int, body text);
CREATE INDEX ON lc_temp USING bm25 (body);
-- nor can a logged table with a bm25 index become unlogged
CREATE TABLE lc_logged (id int, body text);
INSERT INTO lc_logged VALUES (1, 'apple');
CREATE INDEX lc_logged_bm25 ON lc_logged USING bm25 (body);
ALTER TABLE lc_logged SET UNLOGGED;
SELECT relpersistence FROM pg_class WHERE relname IN ('lc_logged', 'lc_logged_bm25') ORDER BY relname;
SELECT id FROM lc_logged WHERE body @@@ 'apple';
DROP TABLE lc_unlogged, lc_temp, lc_logged;

-- ---------------------------------------------------------------------
-- DROP EXTENSION ... CASCADE rolled back (committed: in the TAP test).
-- ---------------------------------------------------------------------
BEGIN;
SET LOCAL client_min_messages = warning;
DROP EXTENSION bm25 CASCADE;
SELECT count(*) FROM pg_class WHERE relname = 'lc_bm25';
ROLLBACK;
SELECT lc_diff(), bm25_verify_index('lc_bm25');
BEGIN;
SAVEPOINT s1;
SET LOCAL client_min_messages = warning;
DROP EXTENSION bm25 CASCADE;
ROLLBACK TO SAVEPOINT s1;
COMMIT;
SELECT lc_diff(), bm25_verify_index('lc_bm25');

RESET search_path;
DROP SCHEMA lcs CASCADE;
