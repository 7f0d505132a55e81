/*-------------------------------------------------------------------------
 * options.c
 *	  Index options: WITH (text_config = ..., k1 = ..., b = ...).
 *
 * k1 and b only shape scoring, so they are read at query time and ALTER
 * INDEX ... SET (k1 = ...) takes effect at once.  text_config shapes the
 * index contents, so the build records the resolved regconfig OID in the
 * metapage and queries refuse to run if the option no longer matches.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

#include "access/reloptions.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "nodes/makefuncs.h"
#include "utils/regproc.h"

static relopt_kind bm25_relopt_kind;

/*
 * Validates text_config when the option is set, so typos fail early.
 * reloptions.c also validates the default while the postmaster loads the
 * library, outside any transaction, where the catalogs cannot be read.
 */
static void
bm25_validate_config(const char *value)
{
	if (!IsTransactionState())
		return;
	if (value == NULL || value[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("text_config must name a text search configuration")));
	(void) bm25_resolve_config(value, false);
}

/* Registers the option kind and the three options with reloptions.c. */
void
bm25_init_reloptions(void)
{
	bm25_relopt_kind = add_reloption_kind();
	add_string_reloption(bm25_relopt_kind, "text_config",
						 "Text search configuration used to analyze documents and queries.",
						 BM25_DEFAULT_CONFIG, bm25_validate_config,
						 AccessExclusiveLock);
	add_real_reloption(bm25_relopt_kind, "k1",
					   "BM25 term frequency saturation (k1 >= 0).",
					   BM25_DEFAULT_K1, 0.0, 1000.0, AccessExclusiveLock);
	add_real_reloption(bm25_relopt_kind, "b",
					   "BM25 length normalization (0 <= b <= 1).",
					   BM25_DEFAULT_B, 0.0, 1.0, AccessExclusiveLock);
	add_int_reloption(bm25_relopt_kind, "write_buffer_docs",
					  "Documents the write buffer holds before it becomes a segment (0: use bm25.write_buffer_docs).",
					  0, 0, 10000000, ShareUpdateExclusiveLock);
}

/* amoptions callback: parses and validates the WITH (...) list. */
bytea *
bm25_amoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"text_config", RELOPT_TYPE_STRING, offsetof(Bm25Options, text_config_offset)},
		{"k1", RELOPT_TYPE_REAL, offsetof(Bm25Options, k1)},
		{"b", RELOPT_TYPE_REAL, offsetof(Bm25Options, b)},
		{"write_buffer_docs", RELOPT_TYPE_INT, offsetof(Bm25Options, write_buffer_docs)},
	};

	return (bytea *) build_reloptions(reloptions, validate, bm25_relopt_kind,
									  sizeof(Bm25Options), tab, lengthof(tab));
}

/* Configuration name from the index's options (default if unset). */
const char *
bm25_options_config_name(Relation index)
{
	Bm25Options *opts = (Bm25Options *) index->rd_options;

	if (opts == NULL || opts->text_config_offset == 0)
		return BM25_DEFAULT_CONFIG;
	return (const char *) opts + opts->text_config_offset;
}

/* k1 and b from the index's options (defaults if unset). */
void
bm25_options_params(Relation index, double *k1, double *b)
{
	Bm25Options *opts = (Bm25Options *) index->rd_options;

	*k1 = opts ? opts->k1 : BM25_DEFAULT_K1;
	*b = opts ? opts->b : BM25_DEFAULT_B;
}

/* The write buffer limit: the index option, else the GUC. */
int
bm25_options_write_buffer_docs(Relation index)
{
	Bm25Options *opts = (Bm25Options *) index->rd_options;

	if (opts && opts->write_buffer_docs > 0)
		return opts->write_buffer_docs;
	return bm25_write_buffer_docs;
}

/*
 * Resolves a (possibly schema-qualified) configuration name to its OID;
 * with missing_ok, returns InvalidOid instead of raising an error.
 */
Oid
bm25_resolve_config(const char *name, bool missing_ok)
{
	List	   *names;
	Oid			cfg;

	names = bm25_qualified_name_list(name);
	cfg = get_ts_config_oid(names, true);
	if (!OidIsValid(cfg) && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("text search configuration \"%s\" does not exist", name),
				 errhint("Use one of the configurations listed by \\dF in psql, for example 'english' or 'simple'.")));
	return cfg;
}
