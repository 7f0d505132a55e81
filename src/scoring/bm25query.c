/*-------------------------------------------------------------------------
 * bm25query.c
 *	  The bm25query type and query binding.
 *
 * A plain `col @@@ 'text'` or `bm25_score(col, 'text')` cannot be evaluated
 * on its own: matching needs the index's text configuration and scoring
 * needs its corpus statistics.  At plan time the support function of those
 * functions finds the bm25 index on col and rewrites the call to its bound
 * form, `col @@@ bm25query` / `bm25_score(col, bm25query)`, where the
 * bm25query value carries the index OID with the query text.  Index scans,
 * the top-k scan, sequential scans and per-row scoring then all mean the
 * same thing.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "funcapi.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/supportnodes.h"
#include "optimizer/optimizer.h"
#include "parser/parse_func.h"
#include "parser/parse_oper.h"
#include "parser/parsetree.h"
#include "optimizer/tlist.h"
#include "rewrite/rewriteManip.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/selfuncs.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(bm25query_in);
PG_FUNCTION_INFO_V1(bm25query_out);
PG_FUNCTION_INFO_V1(bm25_query_bind);
PG_FUNCTION_INFO_V1(bm25_query_index);
PG_FUNCTION_INFO_V1(bm25_support);
PG_FUNCTION_INFO_V1(bm25_match_unbound);
PG_FUNCTION_INFO_V1(bm25_match_bound);
PG_FUNCTION_INFO_V1(bm25_score_unbound);
PG_FUNCTION_INFO_V1(bm25_score_bound);
PG_FUNCTION_INFO_V1(bm25_matchsel);

/* ---------------------------------------------------------------------
 * Catalog cache
 * ---------------------------------------------------------------------
 */
static Bm25Catalog catalog;
static bool catalog_valid = false;
static bool catalog_installed = false;
static bool catalog_callbacks = false;

/* Any change to functions, types or access methods may drop or recreate us. */
static void
bm25_catalog_inval(Datum arg, int cacheid, uint32 hashvalue)
{
	catalog_valid = false;
}

/* The OID of the bm25 access method, or InvalidOid if not installed. */
Oid
bm25_am_oid(void)
{
	return get_am_oid(BM25_AM_NAME, true);
}

/*
 * Looks up the extension's SQL objects once per backend (again after any
 * DDL on functions or types); returns NULL when the extension is not
 * installed in this database.
 */
const Bm25Catalog *
bm25_catalog(void)
{
	Oid			amoid;
	HeapTuple	tup;
	Oid			handler;
	Oid			nsp;
	char	   *nspname;
	Oid			args[2];
	List	   *name;

	if (!catalog_callbacks)
	{
		CacheRegisterSyscacheCallback(PROCOID, bm25_catalog_inval, (Datum) 0);
		CacheRegisterSyscacheCallback(TYPEOID, bm25_catalog_inval, (Datum) 0);
		CacheRegisterSyscacheCallback(AMOID, bm25_catalog_inval, (Datum) 0);
		catalog_callbacks = true;
	}
	if (catalog_valid)
		return catalog_installed ? &catalog : NULL;

	catalog_installed = false;
	amoid = bm25_am_oid();
	if (!OidIsValid(amoid))
	{
		catalog_valid = true;
		return NULL;
	}
	tup = SearchSysCache1(AMOID, ObjectIdGetDatum(amoid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for access method %u", amoid);
	handler = ((Form_pg_am) GETSTRUCT(tup))->amhandler;
	ReleaseSysCache(tup);

	nsp = get_func_namespace(handler);
	nspname = get_namespace_name(nsp);
	memset(&catalog, 0, sizeof(catalog));
	catalog.query_type = get_function_sibling_type(handler, "bm25query");
	if (!OidIsValid(catalog.query_type))
	{
		catalog_valid = true;
		return NULL;
	}

	name = list_make2(makeString(nspname), makeString("@@@"));
	catalog.match_bound_op = LookupOperName(NULL, name, TEXTOID, catalog.query_type, true, -1);
	catalog.match_text_op = LookupOperName(NULL, name, TEXTOID, TEXTOID, true, -1);
	catalog.match_bound_func = get_opcode(catalog.match_bound_op);
	catalog.match_text_func = get_opcode(catalog.match_text_op);

	args[0] = TEXTOID;
	args[1] = catalog.query_type;
	name = list_make2(makeString(nspname), makeString("bm25_score"));
	catalog.score_bound_func = LookupFuncName(name, 2, args, true);
	args[1] = TEXTOID;
	catalog.score_text_func = LookupFuncName(name, 2, args, true);
	args[1] = REGCLASSOID;
	name = list_make2(makeString(nspname), makeString("bm25_query"));
	catalog.bind_func = LookupFuncName(name, 2, args, true);

	catalog_installed = OidIsValid(catalog.match_bound_op) &&
		OidIsValid(catalog.score_bound_func) && OidIsValid(catalog.bind_func);
	catalog_valid = true;
	return catalog_installed ? &catalog : NULL;
}

/* ---------------------------------------------------------------------
 * The bm25query type
 * ---------------------------------------------------------------------
 */

/* Builds a bm25query value bound to indexoid (InvalidOid: unbound). */
Bm25Query *
bm25_query_make(Oid indexoid, const char *q, int len)
{
	Bm25Query  *r = palloc(BM25_QUERY_HDRSZ + len);

	SET_VARSIZE(r, BM25_QUERY_HDRSZ + len);
	r->indexoid = indexoid;
	memcpy(r->query, q, len);
	return r;
}

/* Text input: the query string, not yet bound to an index. */
Datum
bm25query_in(PG_FUNCTION_ARGS)
{
	char	   *s = PG_GETARG_CSTRING(0);

	PG_RETURN_POINTER(bm25_query_make(InvalidOid, s, strlen(s)));
}

/* Text output: the query string (the binding shows in EXPLAIN elsewhere). */
Datum
bm25query_out(PG_FUNCTION_ARGS)
{
	Bm25Query  *q = DatumGetBm25QueryP(PG_GETARG_DATUM(0));

	PG_RETURN_CSTRING(pnstrdup(q->query, BM25_QUERY_LEN(q)));
}

/*
 * bm25_query(text, regclass): binds a query to a bm25 index explicitly;
 * the planner emits calls to it when the query text is not a constant.
 */
Datum
bm25_query_bind(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	Oid			indexoid = PG_GETARG_OID(1);

	PG_RETURN_POINTER(bm25_query_make(indexoid, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)));
}

/* bm25_query_index(bm25query): the index a query is bound to, or NULL. */
Datum
bm25_query_index(PG_FUNCTION_ARGS)
{
	Bm25Query  *q = DatumGetBm25QueryP(PG_GETARG_DATUM(0));

	if (!OidIsValid(q->indexoid))
		PG_RETURN_NULL();
	PG_RETURN_OID(q->indexoid);
}

/* ---------------------------------------------------------------------
 * Binding at plan time
 * ---------------------------------------------------------------------
 */

/* Strips implicit casts such as varchar -> text. */
static Node *
bm25_strip(Node *n)
{
	while (n && IsA(n, RelabelType))
		n = (Node *) ((RelabelType *) n)->arg;
	return n;
}

/*
 * Finds the bm25 index on relation relid whose (only) key is expr, where
 * expr's Vars use range table index varno at levelsup; lowest OID wins so
 * the choice is deterministic.
 */
Oid
bm25_find_index_for_expr(Oid relid, Node *expr, Index varno)
{
	Oid			amoid = bm25_am_oid();
	Relation	heap;
	List	   *indexes;
	ListCell   *lc;
	Oid			result = InvalidOid;
	Var		   *var;

	expr = bm25_strip(expr);
	var = IsA(expr, Var) ? (Var *) expr : NULL;
	heap = table_open(relid, AccessShareLock);
	indexes = RelationGetIndexList(heap);
	foreach(lc, indexes)
	{
		Oid			ioid = lfirst_oid(lc);
		Relation	idx = index_open(ioid, AccessShareLock);
		bool		match = false;

		if (idx->rd_rel->relam == amoid && idx->rd_index->indnatts == 1)
		{
			AttrNumber	key = idx->rd_index->indkey.values[0];

			if (key != 0)
				match = var != NULL && var->varattno == key;
			else
			{
				List	   *exprs = RelationGetIndexExpressions(idx);
				Node	   *ie = (Node *) linitial(exprs);

				if (varno != 1)
					ChangeVarNodes(ie, 1, varno, 0);
				match = equal(bm25_strip(ie), expr);
			}
		}
		index_close(idx, AccessShareLock);
		if (match && (!OidIsValid(result) || ioid < result))
			result = ioid;
	}
	list_free(indexes);
	table_close(heap, AccessShareLock);
	return result;
}

/*
 * Finds the bm25 index that doc is the key of, where doc is an expression
 * of query (whose outer queries are in outer[0..nouter), innermost first).
 * Vars of a subquery or CTE in FROM are followed into its target list, so
 * `SELECT ... FROM (SELECT body FROM docs) s ORDER BY bm25_score(s.body, q)`
 * binds to the index on docs.body.
 */
static Oid
bm25_index_in_query(Query *query, List *outer, Node *doc, int depth)
{
	List	   *vars;
	Var		   *first;
	ListCell   *lc;
	Query	   *q = query;
	RangeTblEntry *rte;
	Node	   *local;

	if (depth > 16)
		return InvalidOid;
	vars = pull_var_clause(doc, PVC_RECURSE_AGGREGATES | PVC_RECURSE_WINDOWFUNCS |
						   PVC_RECURSE_PLACEHOLDERS);
	if (vars == NIL)
		return InvalidOid;
	first = (Var *) linitial(vars);
	foreach(lc, vars)
	{
		Var		   *v = (Var *) lfirst(lc);

		if (!IsA(v, Var) || v->varno != first->varno ||
			v->varlevelsup != first->varlevelsup)
			return InvalidOid;
	}
	if (first->varlevelsup > 0)
	{
		if (first->varlevelsup > list_length(outer))
			return InvalidOid;
		q = (Query *) list_nth(outer, first->varlevelsup - 1);
		outer = list_copy_tail(outer, first->varlevelsup);
	}
	if (first->varno < 1 || first->varno > list_length(q->rtable))
		return InvalidOid;
	rte = rt_fetch(first->varno, q->rtable);

	local = doc;
	if (first->varlevelsup > 0)
	{
		local = copyObject(doc);
		IncrementVarSublevelsUp(local, -((int) first->varlevelsup), 0);
	}

	if (rte->rtekind == RTE_RELATION)
	{
		if (rte->relkind != RELKIND_RELATION && rte->relkind != RELKIND_MATVIEW)
			return InvalidOid;
		return bm25_find_index_for_expr(rte->relid, local, first->varno);
	}

	/* A plain column of a subquery or CTE: follow it into its target list. */
	if (IsA(bm25_strip(local), Var) && first->varattno > 0)
	{
		Query	   *sub = NULL;
		TargetEntry *tle;

		if (rte->rtekind == RTE_SUBQUERY)
			sub = rte->subquery;
		else if (rte->rtekind == RTE_CTE && !rte->self_reference)
		{
			Query	   *cteq = q;
			ListCell   *c;

			if (rte->ctelevelsup > 0)
			{
				if (rte->ctelevelsup > list_length(outer))
					return InvalidOid;
				cteq = (Query *) list_nth(outer, rte->ctelevelsup - 1);
			}
			foreach(c, cteq->cteList)
			{
				CommonTableExpr *cte = lfirst(c);

				if (strcmp(cte->ctename, rte->ctename) == 0 && IsA(cte->ctequery, Query))
					sub = (Query *) cte->ctequery;
			}
		}
		if (sub == NULL || sub->setOperations != NULL || sub->commandType != CMD_SELECT)
			return InvalidOid;
		tle = get_tle_by_resno(sub->targetList, first->varattno);
		if (tle == NULL || tle->resjunk)
			return InvalidOid;
		return bm25_index_in_query(sub, lcons(q, outer), (Node *) tle->expr, depth + 1);
	}
	return InvalidOid;
}

/* The bm25 index on doc, an expression of the query being planned at root. */
static Oid
bm25_index_for_arg(PlannerInfo *root, Node *doc)
{
	List	   *outer = NIL;

	for (PlannerInfo *r = root->parent_root; r != NULL; r = r->parent_root)
		outer = lappend(outer, r->parse);
	return bm25_index_in_query(root->parse, outer, doc, 0);
}

/*
 * Produces the bound query expression for qarg: a bm25query constant when
 * qarg is a constant, else a call to bm25_query(qarg, index).
 */
static Node *
bm25_bound_query_expr(const Bm25Catalog *cat, Node *qarg, Oid indexoid)
{
	if (IsA(qarg, Const))
	{
		Const	   *c = (Const *) qarg;
		Datum		d = (Datum) 0;

		if (!c->constisnull)
		{
			text	   *t = DatumGetTextPP(c->constvalue);

			d = PointerGetDatum(bm25_query_make(indexoid, VARDATA_ANY(t),
												VARSIZE_ANY_EXHDR(t)));
		}
		return (Node *) makeConst(cat->query_type, -1, InvalidOid, -1, d,
								  c->constisnull, false);
	}
	return (Node *) makeFuncExpr(cat->bind_func, cat->query_type,
								 list_make2(qarg,
											makeConst(REGCLASSOID, -1, InvalidOid,
													  sizeof(Oid), ObjectIdGetDatum(indexoid),
													  false, true)),
								 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
}

/*
 * Support function of bm25_match(text, text) and bm25_score(text, text):
 * on SupportRequestSimplify, rewrites the call to its form bound to the
 * bm25 index on the document argument, when there is one.
 */
Datum
bm25_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);
	SupportRequestSimplify *req;
	const Bm25Catalog *cat;
	FuncExpr   *f;
	Node	   *doc;
	Node	   *q;
	Oid			indexoid;
	Node	   *bq;

	if (!IsA(rawreq, SupportRequestSimplify))
		PG_RETURN_POINTER(NULL);
	req = (SupportRequestSimplify *) rawreq;
	if (req->root == NULL || list_length(req->fcall->args) != 2)
		PG_RETURN_POINTER(NULL);
	cat = bm25_catalog();
	if (cat == NULL)
		PG_RETURN_POINTER(NULL);

	f = req->fcall;
	doc = linitial(f->args);
	q = lsecond(f->args);
	if (contain_volatile_functions(q))
		PG_RETURN_POINTER(NULL);
	indexoid = bm25_index_for_arg(req->root, doc);
	if (!OidIsValid(indexoid))
		PG_RETURN_POINTER(NULL);
	bq = bm25_bound_query_expr(cat, q, indexoid);

	if (f->funcid == cat->match_text_func)
	{
		OpExpr	   *op = makeNode(OpExpr);

		op->opno = cat->match_bound_op;
		op->opfuncid = cat->match_bound_func;
		op->opresulttype = BOOLOID;
		op->opretset = false;
		op->opcollid = InvalidOid;
		op->inputcollid = f->inputcollid;
		op->args = list_make2(doc, bq);
		op->location = f->location;
		PG_RETURN_POINTER(op);
	}
	if (f->funcid == cat->score_text_func)
		PG_RETURN_POINTER(makeFuncExpr(cat->score_bound_func, FLOAT8OID,
									   list_make2(doc, bq), InvalidOid,
									   f->inputcollid, f->funcformat));
	PG_RETURN_POINTER(NULL);
}

/* ---------------------------------------------------------------------
 * Evaluation outside the index
 * ---------------------------------------------------------------------
 */

/* Per-call-site cache: the prepared query for the last bm25query seen. */
typedef struct Bm25FnCache
{
	Bm25Query  *query;
	Bm25Prepared *prepared;
} Bm25FnCache;

/*
 * Returns the prepared form of q for this call site, preparing it (index
 * metapage, segments, dfs) once per distinct query value.
 */
static Bm25Prepared *
bm25_fn_prepare(FunctionCallInfo fcinfo, Bm25Query *q)
{
	Bm25FnCache *cache = (Bm25FnCache *) fcinfo->flinfo->fn_extra;
	MemoryContext old;
	Relation	index;

	if (cache && VARSIZE(cache->query) == VARSIZE(q) &&
		memcmp(cache->query, q, VARSIZE(q)) == 0)
		return cache->prepared;

	if (!OidIsValid(q->indexoid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("bm25 query is not bound to an index"),
				 errhint("Use bm25_query('...', 'index_name') to name the bm25 index whose configuration and statistics apply.")));

	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	if (cache == NULL)
		cache = palloc0(sizeof(Bm25FnCache));
	cache->query = palloc(VARSIZE(q));
	memcpy(cache->query, q, VARSIZE(q));
	index = index_open(q->indexoid, AccessShareLock);
	if (index->rd_rel->relam != bm25_am_oid())
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a bm25 index", RelationGetRelationName(index))));
	cache->prepared = bm25_prepare_cached(index, q->query, BM25_QUERY_LEN(q));
	index_close(index, AccessShareLock);
	fcinfo->flinfo->fn_extra = cache;
	MemoryContextSwitchTo(old);
	return cache->prepared;
}

/* The error for @@@ / bm25_score used where no bm25 index can be found. */
static void
bm25_unbound_error(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("%s needs a bm25 index on its document argument", what),
			 errhint("Create one with CREATE INDEX ... USING bm25 (column), or bind the query explicitly with bm25_query('...', 'index_name').")));
}

/* text @@@ text when it could not be bound at plan time. */
Datum
bm25_match_unbound(PG_FUNCTION_ARGS)
{
	bm25_require_preload();
	bm25_unbound_error("operator @@@");
	PG_RETURN_BOOL(false);
}

/* text @@@ bm25query: does the document match the bound query? */
Datum
bm25_match_bound(PG_FUNCTION_ARGS)
{
	text	   *doc = PG_GETARG_TEXT_PP(0);
	Bm25Query  *q = DatumGetBm25QueryP(PG_GETARG_DATUM(1));
	Bm25Prepared *p = bm25_fn_prepare(fcinfo, q);

	PG_RETURN_BOOL(bm25_match_text(p, VARDATA_ANY(doc), VARSIZE_ANY_EXHDR(doc)));
}

/* bm25_score(text, text) when it could not be bound at plan time. */
Datum
bm25_score_unbound(PG_FUNCTION_ARGS)
{
	bm25_require_preload();
	bm25_unbound_error("bm25_score()");
	PG_RETURN_FLOAT8(0);
}

/*
 * bm25_score(text, bm25query): the document's BM25 score with the index's
 * corpus statistics; 0 when it does not match.
 */
Datum
bm25_score_bound(PG_FUNCTION_ARGS)
{
	text	   *doc = PG_GETARG_TEXT_PP(0);
	Bm25Query  *q = DatumGetBm25QueryP(PG_GETARG_DATUM(1));
	Bm25Prepared *p = bm25_fn_prepare(fcinfo, q);

	PG_RETURN_FLOAT8(bm25_score_text(p, VARDATA_ANY(doc), VARSIZE_ANY_EXHDR(doc)));
}

/*
 * Restriction selectivity of @@@: with a constant bound query, estimated
 * from the index's document frequencies; otherwise a small default.
 */
Datum
bm25_matchsel(PG_FUNCTION_ARGS)
{
	List	   *args = (List *) PG_GETARG_POINTER(2);
	const Bm25Catalog *cat = bm25_catalog();
	Node	   *right;
	Const	   *c;
	Bm25Query  *q;
	Relation	index;
	Bm25Prepared *p;
	double		sel = 0.005;

	if (cat == NULL || list_length(args) != 2)
		PG_RETURN_FLOAT8(sel);
	right = estimate_expression_value((PlannerInfo *) PG_GETARG_POINTER(0), lsecond(args));
	if (!IsA(right, Const) || ((Const *) right)->consttype != cat->query_type ||
		((Const *) right)->constisnull)
		PG_RETURN_FLOAT8(sel);
	c = (Const *) right;
	q = DatumGetBm25QueryP(c->constvalue);
	if (!OidIsValid(q->indexoid))
		PG_RETURN_FLOAT8(sel);
	index = try_relation_open(q->indexoid, AccessShareLock);
	if (index == NULL)
		PG_RETURN_FLOAT8(sel);
	if (index->rd_rel->relam == bm25_am_oid() && bm25_loaded_by_preload)
	{
		p = bm25_prepare_cached(index, q->query, BM25_QUERY_LEN(q));
		if (!p->can_match || p->state->N == 0)
			sel = 0.0;
		else
		{
			double		miss = 1.0;
			double		must = 1.0;

			for (uint32 i = 0; i < p->nterms; i++)
			{
				double		f = Min(1.0, (double) p->dfs[i] / (double) p->state->N);

				if (p->terms[i].occur == BM25_SHOULD)
					miss *= 1.0 - f;
				else if (p->terms[i].occur == BM25_MUST)
					must = Min(must, f);
			}
			if (bm25_query_count(p->terms, p->nterms, BM25_MUST) > 0)
				sel = must;
			else
				sel = 1.0 - miss;
		}
		sel = Max(sel, 1.0 / Max(p->state->N, 1));
	}
	relation_close(index, AccessShareLock);
	CLAMP_PROBABILITY(sel);
	PG_RETURN_FLOAT8(sel);
}
