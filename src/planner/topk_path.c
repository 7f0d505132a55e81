/*-------------------------------------------------------------------------
 * topk_path.c
 *	  Planner side of the top-k scan: recognizes
 *
 *		WHERE col @@@ q ... ORDER BY bm25_score(col, q) DESC [LIMIT k]
 *
 *	  on a base relation and offers a CustomPath that returns matching rows
 *	  already in score order, so no Sort is needed and LIMIT stops it early.
 *
 * The path claims only the first ORDER BY key; further keys (ties broken
 * by id, say) are handled by an Incremental Sort above it.  Other WHERE
 * conditions stay as quals of the scan; because the scan keeps producing
 * candidates in score order until its consumer stops, filters can never
 * make the result shorter than the LIMIT.
 *-------------------------------------------------------------------------
 */
#include "planner/topk.h"

#include "access/stratnum.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "optimizer/tlist.h"
#include "utils/lsyscache.h"

static set_rel_pathlist_hook_type prev_set_rel_pathlist = NULL;

static Plan *bm25_topk_plan(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
							List *tlist, List *clauses, List *custom_plans);

static const CustomPathMethods bm25_topk_path_methods = {
	.CustomName = BM25_TOPK_NAME,
	.PlanCustomPath = bm25_topk_plan,
};

/* Strips implicit binary-compatible casts. */
static Node *
strip_relabel(Node *n)
{
	while (n && IsA(n, RelabelType))
		n = (Node *) ((RelabelType *) n)->arg;
	return n;
}

/*
 * The index a bound query expression names: a bm25query Const, or a call
 * bm25_query(expr, 'index'::regclass).
 */
static Oid
bound_query_index(const Bm25Catalog *cat, Node *q)
{
	if (IsA(q, Const))
	{
		Const	   *c = (Const *) q;

		if (c->consttype == cat->query_type && !c->constisnull)
			return DatumGetBm25QueryP(c->constvalue)->indexoid;
		return InvalidOid;
	}
	if (IsA(q, FuncExpr) && ((FuncExpr *) q)->funcid == cat->bind_func)
	{
		Node	   *idx = lsecond(((FuncExpr *) q)->args);

		if (IsA(idx, Const) && !((Const *) idx)->constisnull)
			return DatumGetObjectId(((Const *) idx)->constvalue);
	}
	return InvalidOid;
}

/* Whether expr, stripped, is bm25_score(doc, q) with exactly these args. */
static bool
is_matching_score(const Bm25Catalog *cat, Node *expr, Node *doc, Node *q)
{
	FuncExpr   *f;

	expr = strip_relabel(expr);
	if (!IsA(expr, FuncExpr))
		return false;
	f = (FuncExpr *) expr;
	return f->funcid == cat->score_bound_func && list_length(f->args) == 2 &&
		equal(strip_relabel(linitial(f->args)), strip_relabel(doc)) &&
		equal(lsecond(f->args), q);
}

/* Whether the relation's output needs something the scan cannot produce. */
static bool
reltarget_is_simple(RelOptInfo *rel)
{
	ListCell   *lc;

	foreach(lc, rel->reltarget->exprs)
	{
		if (!IsA(lfirst(lc), Var))
			return false;
	}
	return true;
}

/*
 * set_rel_pathlist hook: adds the top-k path when the query's first sort
 * key is bm25_score(col, q) DESC and a WHERE clause col @@@ q binds the
 * same query to a bm25 index of this relation.
 */
static void
bm25_set_rel_pathlist(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte)
{
	const Bm25Catalog *cat;
	PathKey    *pk;
	ListCell   *lc;

	if (prev_set_rel_pathlist)
		prev_set_rel_pathlist(root, rel, rti, rte);

	if (rte->rtekind != RTE_RELATION || rel->reloptkind != RELOPT_BASEREL ||
		root->query_pathkeys == NIL || rte->inh)
		return;
	cat = bm25_catalog();
	if (cat == NULL)
		return;
	pk = (PathKey *) linitial(root->query_pathkeys);
	if (pk->pk_strategy != BTGreaterStrategyNumber || pk->pk_eclass->ec_has_volatile)
		return;
	if (!reltarget_is_simple(rel))
		return;

	foreach(lc, rel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst(lc);
		OpExpr	   *op = (OpExpr *) ri->clause;
		Node	   *doc;
		Node	   *q;
		Oid			indexoid;
		ListCell   *lc2;
		Expr	   *score = NULL;
		bool		index_of_rel = false;

		if (!IsA(op, OpExpr) || op->opno != cat->match_bound_op)
			continue;
		doc = linitial(op->args);
		q = lsecond(op->args);
		if (contain_var_clause(q) || contain_volatile_functions(q) ||
			contain_volatile_functions(doc))
			continue;
		indexoid = bound_query_index(cat, q);
		if (!OidIsValid(indexoid))
			continue;
		foreach(lc2, rel->indexlist)
		{
			if (((IndexOptInfo *) lfirst(lc2))->indexoid == indexoid)
				index_of_rel = true;
		}
		if (!index_of_rel)
			continue;

		foreach(lc2, pk->pk_eclass->ec_members)
		{
			EquivalenceMember *em = lfirst(lc2);

			if (bms_equal(em->em_relids, rel->relids) &&
				is_matching_score(cat, (Node *) em->em_expr, doc, q))
			{
				score = em->em_expr;
				break;
			}
		}
		if (score == NULL)
			continue;

		{
			CustomPath *cp = makeNode(CustomPath);
			double		k = root->limit_tuples > 0 ? root->limit_tuples : bm25_topk_initial_batch;
			double		rows = Max(rel->rows, 1.0);
			double		matches = Max(clamp_row_est(ri->norm_selec * rel->tuples), 1.0);

			cp->path.pathtype = T_CustomScan;
			cp->path.parent = rel;
			cp->path.pathtarget = rel->reltarget;
			cp->path.param_info = NULL;
			cp->path.parallel_aware = false;
			cp->path.parallel_safe = false;
			cp->path.parallel_workers = 0;
			cp->path.rows = rows;
			cp->path.pathkeys = list_make1(pk);
			/*
			 * Ranking reads the postings of the matches once per batch; each
			 * candidate then costs one heap visit, usually to a cached page.
			 */
			cp->path.startup_cost = 1.0 + matches * cpu_operator_cost * 0.5;
			cp->path.total_cost = cp->path.startup_cost +
				matches * (seq_page_cost + cpu_tuple_cost);
			/* projecting in the scan is what lets setrefs reuse the score */
			cp->flags = CUSTOMPATH_SUPPORT_PROJECTION;
			cp->custom_paths = NIL;
			cp->custom_private = list_make4(ri, score, q,
											makeConst(INT8OID, -1, InvalidOid, 8,
													  Int64GetDatum((int64) Min(k, (double) PG_INT64_MAX / 2)),
													  false, FLOAT8PASSBYVAL));
			cp->custom_private = lappend(cp->custom_private,
										 makeConst(OIDOID, -1, InvalidOid, sizeof(Oid),
												   ObjectIdGetDatum(indexoid), false, true));
			cp->methods = &bm25_topk_path_methods;
			add_path(rel, &cp->path);
		}
	}
}

/* Adds a Var to the scan tlist unless an equal one is already there. */
static List *
add_var_entry(List *cst, Var *v)
{
	ListCell   *lc;

	foreach(lc, cst)
	{
		if (equal(((TargetEntry *) lfirst(lc))->expr, v))
			return cst;
	}
	return lappend(cst, makeTargetEntry((Expr *) copyObject(v), list_length(cst) + 1,
										NULL, false));
}

/*
 * Builds the CustomScan.  Its scan tuple (custom_scan_tlist) holds the
 * heap columns the query needs plus the score, so setrefs turns every
 * bm25_score(col, q) above the scan into a reference to the score the
 * ranking already computed: rows are never re-analyzed to be scored.
 */
static Plan *
bm25_topk_plan(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
			   List *tlist, List *clauses, List *custom_plans)
{
	CustomScan *cs = makeNode(CustomScan);
	RestrictInfo *match = linitial(best_path->custom_private);
	Expr	   *score = lsecond(best_path->custom_private);
	Node	   *q = lthird(best_path->custom_private);
	Const	   *k = lfourth(best_path->custom_private);
	Const	   *indexoid = list_nth(best_path->custom_private, 4);
	List	   *quals = NIL;
	List	   *vars;
	List	   *cst = NIL;
	ListCell   *lc;

	foreach(lc, clauses)
	{
		RestrictInfo *ri = lfirst(lc);

		if (ri == match || equal(ri->clause, match->clause))
			continue;
		quals = lappend(quals, ri);
	}
	quals = extract_actual_clauses(quals, false);

	vars = pull_var_clause((Node *) list_make3(rel->reltarget->exprs, tlist, quals),
						   PVC_RECURSE_PLACEHOLDERS);
	foreach(lc, vars)
		cst = add_var_entry(cst, (Var *) lfirst(lc));
	cst = lappend(cst, makeTargetEntry((Expr *) copyObject(score), list_length(cst) + 1,
									   pstrdup("bm25_score"), false));

	cs->scan.plan.targetlist = tlist;
	cs->scan.plan.qual = quals;
	cs->scan.scanrelid = rel->relid;
	cs->flags = best_path->flags;
	cs->custom_scan_tlist = cst;
	cs->custom_exprs = list_make1(copyObject(q));
	cs->custom_private = list_make3(copyObject(indexoid), copyObject(k),
									makeConst(INT4OID, -1, InvalidOid, 4,
											  Int32GetDatum(list_length(cst)), false, true));
	cs->methods = &bm25_topk_scan_methods;
	return &cs->scan.plan;
}

/* Installs the planner hook. */
void
bm25_planner_init(void)
{
	prev_set_rel_pathlist = set_rel_pathlist_hook;
	set_rel_pathlist_hook = bm25_set_rel_pathlist;
}
