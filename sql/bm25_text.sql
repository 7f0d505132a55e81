-- Text handling: configurations, non-ASCII text, large documents, varchar,
-- expression and partial indexes.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS bm25;
RESET client_min_messages;

-- simple keeps every word and does not stem.
CREATE TABLE t_simple (id int, body text);
INSERT INTO t_simple VALUES (1, 'The Running man'), (2, 'the runs'), (3, 'running running');
CREATE INDEX t_simple_bm25 ON t_simple USING bm25 (body) WITH (text_config = 'simple');
SELECT id FROM t_simple WHERE body @@@ 'running' ORDER BY id;
SELECT id FROM t_simple WHERE body @@@ 'the' ORDER BY id;
SELECT documents, total_tokens FROM bm25_index_stats('t_simple_bm25');

-- german stems German words; non-ASCII text round-trips.
CREATE TABLE t_de (id int, body text);
INSERT INTO t_de VALUES
  (1, 'Die Häuser stehen am Fluss'),
  (2, 'Ein Haus mit großem Garten'),
  (3, 'Straßenbahn fährt über die Brücke'),
  (4, 'Les élèves étudient à l''école');
CREATE INDEX t_de_bm25 ON t_de USING bm25 (body) WITH (text_config = 'german');
SELECT id FROM t_de WHERE body @@@ 'Haus' ORDER BY id;
SELECT id FROM t_de WHERE body @@@ 'brücke' ORDER BY id;
SELECT id FROM t_de WHERE body @@@ 'élèves' ORDER BY id;
SELECT id, bm25_score(body, 'haus') > 0 AS matched FROM t_de ORDER BY id;

-- A schema-qualified configuration name works too.
CREATE INDEX t_de_bm25_2 ON t_de USING bm25 (body) WITH (text_config = 'pg_catalog.simple');
SELECT text_config FROM bm25_index_stats('t_de_bm25_2');

-- Documents over 1 MB.
CREATE TABLE t_big (id int, body text);
INSERT INTO t_big
SELECT 1, repeat('alpha beta gamma delta ', 60000) || ' needle';
INSERT INTO t_big VALUES (2, 'a short needle document'), (3, 'nothing here');
CREATE INDEX t_big_bm25 ON t_big USING bm25 (body) WITH (text_config = 'simple');
SELECT id, length(body) > 1000000 AS over_1mb FROM t_big WHERE body @@@ 'needle' ORDER BY id;
SELECT total_tokens FROM bm25_index_stats('t_big_bm25');
-- The short document outranks the huge one for the same single occurrence.
SELECT id FROM t_big WHERE body @@@ 'needle' ORDER BY bm25_score(body, 'needle') DESC LIMIT 2;

-- varchar columns use the text operator class.
CREATE TABLE t_vc (id int, body varchar(100));
INSERT INTO t_vc VALUES (1, 'quick fox fox'), (2, 'slow turtle'), (3, 'a red fox walks home');
CREATE INDEX t_vc_bm25 ON t_vc USING bm25 (body);
SELECT id, round(bm25_score(body, 'fox')::numeric, 6) FROM t_vc WHERE body @@@ 'fox' ORDER BY id;
-- Tiny tables favour a sequential scan; disable it to show the index paths.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM t_vc WHERE body @@@ 'fox'
  ORDER BY bm25_score(body, 'fox') DESC LIMIT 1;

-- Expression index over two columns.
CREATE TABLE t_expr (id int, title text, body text);
INSERT INTO t_expr VALUES (1, 'Fox tales', 'stories of animals'),
  (2, 'Cooking', 'how to cook a fox-shaped cake'), (3, 'Birds', 'feathers');
CREATE INDEX t_expr_bm25 ON t_expr USING bm25 ((title || ' ' || body));
SELECT id FROM t_expr WHERE (title || ' ' || body) @@@ 'fox' ORDER BY id;
SELECT id FROM t_expr WHERE (title || ' ' || body) @@@ 'fox'
 ORDER BY bm25_score(title || ' ' || body, 'fox') DESC, id;
EXPLAIN (COSTS OFF) SELECT id FROM t_expr WHERE (title || ' ' || body) @@@ 'fox'
 ORDER BY bm25_score(title || ' ' || body, 'fox') DESC LIMIT 1;

-- Partial index: only covered rows are indexed and counted.
CREATE TABLE t_part (id int, published bool, body text);
INSERT INTO t_part VALUES (1, true, 'fox one'), (2, false, 'fox two'), (3, true, 'dog three');
CREATE INDEX t_part_bm25 ON t_part USING bm25 (body) WHERE published;
SELECT documents FROM bm25_index_stats('t_part_bm25');
SELECT id FROM t_part WHERE published AND body @@@ 'fox' ORDER BY id;
EXPLAIN (COSTS OFF) SELECT id FROM t_part WHERE published AND body @@@ 'fox'
 ORDER BY bm25_score(body, 'fox') DESC LIMIT 5;

-- Unlogged and temporary tables are refused for now.
CREATE UNLOGGED TABLE t_unlogged (body text);
CREATE INDEX ON t_unlogged USING bm25 (body);
CREATE TEMP TABLE t_temp (body text);
CREATE INDEX ON t_temp USING bm25 (body);

-- An empty table gives an empty, queryable index.
CREATE TABLE t_empty (body text);
CREATE INDEX t_empty_bm25 ON t_empty USING bm25 (body);
SELECT segments, documents FROM bm25_index_stats('t_empty_bm25');
SELECT count(*) FROM t_empty WHERE body @@@ 'anything';
SELECT * FROM t_empty WHERE body @@@ 'x' ORDER BY bm25_score(body, 'x') DESC LIMIT 3;

-- REINDEX and TRUNCATE rebuild the index from the table.
REINDEX INDEX t_simple_bm25;
SELECT id FROM t_simple WHERE body @@@ 'running' ORDER BY id;
TRUNCATE t_simple;
SELECT documents FROM bm25_index_stats('t_simple_bm25');
SELECT count(*) FROM t_simple WHERE body @@@ 'running';

-- Changing text_config without rebuilding is detected.
ALTER INDEX t_vc_bm25 SET (text_config = 'simple');
SELECT id FROM t_vc WHERE body @@@ 'fox';
REINDEX INDEX t_vc_bm25;
SELECT id FROM t_vc WHERE body @@@ 'fox' ORDER BY id;
-- k1 and b apply at once: with b = 0 length no longer matters.
ALTER INDEX t_vc_bm25 SET (k1 = 2.0, b = 0.0);
SELECT id, round(bm25_score(body, 'fox')::numeric, 6) FROM t_vc WHERE body @@@ 'fox' ORDER BY id;
RESET enable_seqscan;

-- CREATE INDEX remembers what the dictionaries make of each token; it must
-- count exactly what parsetext() counts (the insert path, to_tsvector), for
-- one-token dictionaries (synonym, with a prefix flag) and for a thesaurus,
-- which looks at several tokens and makes the build fall back to parsetext().
CREATE TEXT SEARCH DICTIONARY t_syn (TEMPLATE = synonym, SYNONYMS = synonym_sample);
CREATE TEXT SEARCH DICTIONARY t_th (TEMPLATE = thesaurus, DictFile = thesaurus_sample,
  Dictionary = english_stem);
CREATE TEXT SEARCH CONFIGURATION t_syn_cfg (COPY = english);
ALTER TEXT SEARCH CONFIGURATION t_syn_cfg ALTER MAPPING FOR asciiword WITH t_syn, english_stem;
CREATE TEXT SEARCH CONFIGURATION t_th_cfg (COPY = english);
ALTER TEXT SEARCH CONFIGURATION t_th_cfg ALTER MAPPING FOR asciiword WITH t_th, english_stem;
CREATE TABLE t_lc (id int, body text);
INSERT INTO t_lc SELECT i, (ARRAY['one two three stars', 'supernovae stars and postgres',
  'PostgreSQL indices, postgre indices', 'booking the tickets', 'one two one',
  'two supernovae', 'gogle one two three four'])[1 + i % 7] || ' ' || i
  FROM generate_series(1, 70) i;
CREATE TABLE t_lc_ins (LIKE t_lc);
CREATE INDEX t_lc_syn_ins ON t_lc_ins USING bm25 (body) WITH (text_config = 't_syn_cfg');
INSERT INTO t_lc_ins SELECT * FROM t_lc;
CREATE INDEX t_lc_syn ON t_lc USING bm25 (body) WITH (text_config = 't_syn_cfg');
SELECT b.documents = i.documents AS docs_equal, b.total_tokens = i.total_tokens AS tokens_equal,
       b.total_tokens = (SELECT sum(array_length(positions, 1))
                         FROM t_lc, unnest(to_tsvector('t_syn_cfg', body))) AS tokens_as_tsvector
FROM bm25_index_stats('t_lc_syn') b, bm25_index_stats('t_lc_syn_ins') i;
SELECT (SELECT array_agg(id || ':' || bm25_score(body, 'pgsql index stars') ORDER BY id)
        FROM t_lc WHERE body @@@ 'pgsql index stars') =
       (SELECT array_agg(id || ':' || bm25_score(body, 'pgsql index stars') ORDER BY id)
        FROM t_lc_ins WHERE body @@@ 'pgsql index stars') AS syn_scores_equal;
DROP INDEX t_lc_syn, t_lc_syn_ins;
TRUNCATE t_lc_ins;
CREATE INDEX t_lc_th_ins ON t_lc_ins USING bm25 (body) WITH (text_config = 't_th_cfg');
INSERT INTO t_lc_ins SELECT * FROM t_lc;
CREATE INDEX t_lc_th ON t_lc USING bm25 (body) WITH (text_config = 't_th_cfg');
SELECT b.documents = i.documents AS docs_equal, b.total_tokens = i.total_tokens AS tokens_equal,
       b.total_tokens = (SELECT sum(array_length(positions, 1))
                         FROM t_lc, unnest(to_tsvector('t_th_cfg', body))) AS tokens_as_tsvector
FROM bm25_index_stats('t_lc_th') b, bm25_index_stats('t_lc_th_ins') i;
SELECT (SELECT array_agg(id || ':' || bm25_score(body, 'one two three sn') ORDER BY id)
        FROM t_lc WHERE body @@@ 'one two three sn') =
       (SELECT array_agg(id || ':' || bm25_score(body, 'one two three sn') ORDER BY id)
        FROM t_lc_ins WHERE body @@@ 'one two three sn') AS th_scores_equal;

-- Query analysis is cached per backend (per clause, and per prepared
-- query); a change to a text search configuration is seen at once.
CREATE TEXT SEARCH CONFIGURATION t_chg_cfg (COPY = simple);
CREATE TABLE t_chg (id int, body text);
INSERT INTO t_chg VALUES (1, 'cat'), (2, 'cats'), (3, 'dog');
CREATE INDEX t_chg_bm25 ON t_chg USING bm25 (body) WITH (text_config = 't_chg_cfg');
SET enable_seqscan = off;
SELECT id FROM t_chg WHERE body @@@ 'cats' ORDER BY id;
SELECT id FROM t_chg WHERE body @@@ 'cats' ORDER BY bm25_score(body, 'cats') DESC, id LIMIT 5;
ALTER TEXT SEARCH CONFIGURATION t_chg_cfg ALTER MAPPING FOR asciiword WITH english_stem;
-- The query now analyzes to 'cat'; the index still holds row 2 as 'cats'.
SELECT id FROM t_chg WHERE body @@@ 'cats' ORDER BY id;
SELECT id FROM t_chg WHERE body @@@ 'cats' ORDER BY bm25_score(body, 'cats') DESC, id LIMIT 5;
-- Without the index every row's text is analyzed afresh too.
RESET enable_seqscan;
SELECT id, bm25_score(body, 'cats') > 0 AS scored FROM t_chg ORDER BY id;
ALTER TEXT SEARCH CONFIGURATION t_chg_cfg ALTER MAPPING FOR asciiword WITH simple;
SET enable_seqscan = off;
SELECT id FROM t_chg WHERE body @@@ 'cats' ORDER BY bm25_score(body, 'cats') DESC, id LIMIT 5;
RESET enable_seqscan;
