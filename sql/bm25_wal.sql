-- bm25's WAL records are readable through pg_walinspect: the custom
-- resource manager's rm_identify and rm_desc.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS bm25;
CREATE EXTENSION IF NOT EXISTS pg_walinspect;
RESET client_min_messages;
CREATE TABLE walt (id int, body text);
INSERT INTO walt SELECT i, 'wal record sample ' || i FROM generate_series(1, 200) i;
SELECT pg_current_wal_lsn() AS start_lsn \gset
CREATE INDEX walt_bm25 ON walt USING bm25 (body) WITH (write_buffer_docs = 10);
INSERT INTO walt SELECT i, 'more text ' || i FROM generate_series(201, 215) i;
DELETE FROM walt WHERE id <= 100;
VACUUM walt;
-- pg_walinspect reads only flushed WAL; the commit above flushed ours.
SELECT pg_current_wal_flush_lsn() AS end_lsn \gset
SELECT record_type, count(*) > 0 AS present
  FROM pg_get_wal_records_info(:'start_lsn', :'end_lsn')
 WHERE resource_manager = 'bm25'
 GROUP BY record_type ORDER BY record_type;
-- Descriptions name the file and the byte ranges.
SELECT bool_and(description ~ '^rel \d+/\d+/\d+ seg \d+ offset \d+ len \d+$') AS chunk_desc_ok
  FROM pg_get_wal_records_info(:'start_lsn', :'end_lsn')
 WHERE resource_manager = 'bm25' AND record_type = 'SEG_CHUNK';
-- Every CHUNK belongs to a segment that also has CREATE and DONE.
WITH r AS (
  SELECT record_type, substring(description from 'seg (\d+)') AS seg
    FROM pg_get_wal_records_info(:'start_lsn', :'end_lsn')
   WHERE resource_manager = 'bm25' AND record_type LIKE 'SEG_%')
SELECT count(DISTINCT seg) FILTER (WHERE record_type = 'SEG_CREATE') =
       count(DISTINCT seg) FILTER (WHERE record_type = 'SEG_DONE') AS balanced
  FROM r;
DROP TABLE walt;
