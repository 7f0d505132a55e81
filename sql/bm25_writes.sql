-- Real-time writes: INSERT, UPDATE, COPY and DELETE after CREATE INDEX,
-- through the write buffer, its conversion to segments, and merges.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS bm25;
RESET client_min_messages;
CREATE TABLE w (id int PRIMARY KEY, body text);
INSERT INTO w SELECT i, 'seed document number ' || i || CASE WHEN i % 3 = 0 THEN ' apple' ELSE ' pear' END
  FROM generate_series(1, 30) i;
CREATE INDEX w_bm25 ON w USING bm25 (body) WITH (write_buffer_docs = 5);

-- A new row is searchable at once, in its own transaction first.
BEGIN;
INSERT INTO w VALUES (101, 'a fresh apple pie');
SELECT id FROM w WHERE body @@@ 'pie';
SELECT documents, write_buffer_docs FROM bm25_index_stats('w_bm25');
ROLLBACK;
-- Rolled back: the index entry remains (like any index) but the row is
-- invisible, so it never appears; it still counts in N until VACUUM.
SELECT id FROM w WHERE body @@@ 'pie';
SELECT documents, write_buffer_docs FROM bm25_index_stats('w_bm25');

-- More inserts than write_buffer_docs: the buffer becomes segments, and
-- segments are merged as they accumulate.
INSERT INTO w SELECT i, 'later document ' || i || ' apple crumble' FROM generate_series(200, 217) i;
SELECT segments <= 4 AS merged, documents, write_buffer_docs < 5 AS buffer_bounded
  FROM bm25_index_stats('w_bm25');
SELECT count(*) FROM w WHERE body @@@ 'crumble';

-- COPY goes through the same path.
COPY w FROM stdin;
300	copied apple document
301	copied pear document
\.
SELECT id FROM w WHERE body @@@ 'copied' ORDER BY id;

-- A non-HOT UPDATE of the document: the new text is found, the old is not.
UPDATE w SET body = 'renamed banana text' WHERE id = 1;
SELECT id FROM w WHERE body @@@ 'banana';
SELECT count(*) FROM w WHERE body @@@ 'seed' AND id = 1;

-- Exactness over segments + write buffer: index path == sequential path,
-- for matches and scores, bit for bit.
CREATE TEMP TABLE q(qtext text);
INSERT INTO q VALUES ('apple'), ('pear document'), ('+apple crumble'), ('copied -pear'),
  ('banana'), ('seed apple pear'), ('number 7');
CREATE TEMP TABLE via_index AS
  SELECT q.qtext, x.id, x.s FROM q, LATERAL (
    SELECT id, bm25_score(body, q.qtext) AS s FROM w WHERE body @@@ q.qtext
     ORDER BY bm25_score(body, q.qtext) DESC LIMIT 1000) x;
SET enable_indexscan = off; SET enable_bitmapscan = off;
CREATE TEMP TABLE via_seq AS
  SELECT q.qtext, w.id, bm25_score(w.body, q.qtext) AS s FROM q, w WHERE w.body @@@ q.qtext;
RESET enable_indexscan; RESET enable_bitmapscan;
SELECT count(*) > 50 AS enough FROM via_index;
SELECT count(*) AS differences FROM (
  (SELECT * FROM via_index EXCEPT SELECT * FROM via_seq) UNION ALL
  (SELECT * FROM via_seq EXCEPT SELECT * FROM via_index)) d;

-- Before VACUUM the index still holds the rolled-back insert and the old
-- version of the updated row.
SELECT indexed - visible = invisible AS consistent, invisible
  FROM bm25_index_doc_counts('w_bm25');

-- VACUUM removes the dead versions (updated row, rolled-back insert) and
-- empties the write buffer; a fresh REINDEX then agrees on every score.
VACUUM w;
SELECT documents = (SELECT count(*) FROM w WHERE body IS NOT NULL) AS n_exact,
       write_buffer_docs FROM bm25_index_stats('w_bm25');
SELECT indexed, visible, invisible FROM bm25_index_doc_counts('w_bm25');
CREATE TEMP TABLE before_reindex AS
  SELECT q.qtext, w.id, bm25_score(w.body, q.qtext) AS s FROM q, w WHERE w.body @@@ q.qtext;
REINDEX INDEX w_bm25;
CREATE TEMP TABLE after_reindex AS
  SELECT q.qtext, w.id, bm25_score(w.body, q.qtext) AS s FROM q, w WHERE w.body @@@ q.qtext;
SELECT count(*) AS differences FROM (
  (SELECT * FROM before_reindex EXCEPT SELECT * FROM after_reindex) UNION ALL
  (SELECT * FROM after_reindex EXCEPT SELECT * FROM before_reindex)) d;
SELECT bm25_verify_index('w_bm25');

-- Repeated delete/vacuum/insert cycles do not grow the index without bound.
CREATE TEMP TABLE sizes (cycle int, bytes bigint, segments int);
SELECT stmt FROM generate_series(1, 6) c,
  LATERAL unnest(ARRAY[
    'DELETE FROM w WHERE id >= 1000',
    'INSERT INTO w SELECT 1000 + i, ''cycle document '' || i || '' apple'' FROM generate_series(1, 40) i',
    'VACUUM w',
    format('INSERT INTO sizes SELECT %s, segment_bytes, segments FROM bm25_index_stats(''w_bm25'')', c)
  ]) WITH ORDINALITY AS s(stmt, n)
 ORDER BY c, n \gexec
SELECT count(*) AS cycles FROM sizes;
SELECT max(bytes) <= 2 * min(bytes) AS bounded, max(segments) <= 8 AS few_segments FROM sizes;
SELECT pg_relation_size('w_bm25') <= 16 * 8192 AS relation_small;
