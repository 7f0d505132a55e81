/* bm25 extension, version 0.1.0 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION bm25" to load this file. \quit

-- The library registers a custom WAL resource manager, which PostgreSQL
-- only allows from shared_preload_libraries: refuse to install otherwise.
CREATE FUNCTION bm25_check_preload() RETURNS void
	AS 'MODULE_PATHNAME', 'bm25_check_preload' LANGUAGE C STRICT;
SELECT bm25_check_preload();

-- A query bound to a bm25 index: the index supplies the text search
-- configuration and the corpus statistics.
CREATE TYPE bm25query;

CREATE FUNCTION bm25query_in(cstring) RETURNS bm25query
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION bm25query_out(bm25query) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE bm25query (
	INPUT = bm25query_in,
	OUTPUT = bm25query_out,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = extended
);

CREATE FUNCTION bm25_query(query text, index regclass) RETURNS bm25query
	AS 'MODULE_PATHNAME', 'bm25_query_bind' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION bm25_query(text, regclass) IS 'bind a query string to a bm25 index';

CREATE FUNCTION bm25_query_index(bm25query) RETURNS regclass
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Planner support: binds unbound calls to the bm25 index on the column.
CREATE FUNCTION bm25_support(internal) RETURNS internal
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

CREATE FUNCTION bm25_matchsel(internal, oid, internal, integer) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;

-- Evaluated outside an index scan, these analyze the whole document text
-- per row, like to_tsvector (cost 100); the COST tells the planner so.
CREATE FUNCTION bm25_match(document text, query text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'bm25_match_unbound' LANGUAGE C STABLE STRICT PARALLEL SAFE
	COST 100 SUPPORT bm25_support;
CREATE FUNCTION bm25_match(document text, query bm25query) RETURNS boolean
	AS 'MODULE_PATHNAME', 'bm25_match_bound' LANGUAGE C STABLE STRICT PARALLEL SAFE
	COST 100;

CREATE OPERATOR @@@ (
	LEFTARG = text, RIGHTARG = text, FUNCTION = bm25_match,
	RESTRICT = bm25_matchsel, JOIN = contjoinsel
);
CREATE OPERATOR @@@ (
	LEFTARG = text, RIGHTARG = bm25query, FUNCTION = bm25_match,
	RESTRICT = bm25_matchsel, JOIN = contjoinsel
);

CREATE FUNCTION bm25_score(document text, query text) RETURNS float8
	AS 'MODULE_PATHNAME', 'bm25_score_unbound' LANGUAGE C STABLE STRICT PARALLEL SAFE
	COST 100 SUPPORT bm25_support;
CREATE FUNCTION bm25_score(document text, query bm25query) RETURNS float8
	AS 'MODULE_PATHNAME', 'bm25_score_bound' LANGUAGE C STABLE STRICT PARALLEL SAFE
	COST 100;
COMMENT ON FUNCTION bm25_score(text, text) IS 'BM25 score of a document for a query, using the statistics of the bm25 index on the column';

-- The access method.
CREATE FUNCTION bm25_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE ACCESS METHOD bm25 TYPE INDEX HANDLER bm25_handler;
COMMENT ON ACCESS METHOD bm25 IS 'BM25 full-text index with exact top-k ranking';

CREATE OPERATOR CLASS bm25_text_ops DEFAULT FOR TYPE text USING bm25 AS
	OPERATOR 1 @@@ (text, text),
	OPERATOR 2 @@@ (text, bm25query);

-- Introspection.  documents/total_tokens cover segments and write buffer;
-- terms and segment_bytes cover segment files only.
CREATE FUNCTION bm25_index_stats(index regclass,
	OUT format_version integer,
	OUT text_config regconfig,
	OUT segments integer,
	OUT documents bigint,
	OUT total_tokens bigint,
	OUT avg_doc_length float8,
	OUT terms bigint,
	OUT segment_bytes bigint,
	OUT write_buffer_docs bigint,
	OUT write_buffer_bytes bigint)
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

CREATE FUNCTION bm25_verify_index(index regclass) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
COMMENT ON FUNCTION bm25_verify_index(regclass) IS 'check every checksum of every segment of a bm25 index; raises an error on corruption';

-- Index entries split by visibility to the current snapshot: "invisible"
-- entries are deleted rows, old versions of updated rows, aborted or not
-- yet committed inserts, until VACUUM removes them.  Visits the heap for
-- every entry, so it costs a full index scan.
CREATE FUNCTION bm25_index_doc_counts(index regclass,
	OUT indexed bigint,
	OUT visible bigint,
	OUT invisible bigint)
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

-- The caches every backend shares (bm25.shared_cache_slots): what query
-- clauses analyze to, and term lookups in segment files.  Counters run
-- from server start; slots is 0 when the caches are off.
CREATE FUNCTION bm25_shared_cache_stats(
	OUT cache text,
	OUT slots bigint,
	OUT hits bigint,
	OUT misses bigint,
	OUT stores bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
