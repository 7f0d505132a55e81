/*-------------------------------------------------------------------------
 * handler.c
 *	  The bm25 index access method handler, operator class validation and
 *	  cost estimation.
 *-------------------------------------------------------------------------
 */
#include "bm25.h"

#include "access/htup_details.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "commands/vacuum.h"
#include "fmgr.h"
#include "optimizer/optimizer.h"
#include "utils/catcache.h"
#include "utils/lsyscache.h"
#include "utils/selfuncs.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(bm25_handler);

/* Fills the IndexAmRoutine describing what a bm25 index can do. */
Datum
bm25_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *am = makeNode(IndexAmRoutine);

	am->amstrategies = BM25_NSTRATEGIES;
	am->amsupport = 0;
	am->amoptsprocnum = 0;
	am->amcanorder = false;
	am->amcanorderbyop = false;
	am->amcanbackward = false;
	am->amcanunique = false;
	am->amcanmulticol = false;
	am->amoptionalkey = false;
	am->amsearcharray = false;
	am->amsearchnulls = false;
	am->amstorage = false;
	am->amclusterable = false;
	am->ampredlocks = false;
	am->amcanparallel = false;
	am->amcaninclude = false;
	am->amusemaintenanceworkmem = true;
	am->amparallelvacuumoptions = VACUUM_OPTION_NO_PARALLEL;
	am->amkeytype = InvalidOid;
#if PG_VERSION_NUM >= 160000
	am->amsummarizing = false;
#endif
#if PG_VERSION_NUM >= 170000
	am->amcanbuildparallel = false;
	am->aminsertcleanup = NULL;
#endif

	am->ambuild = bm25_ambuild;
	am->ambuildempty = bm25_ambuildempty;
	am->aminsert = bm25_aminsert;
	am->ambulkdelete = bm25_ambulkdelete;
	am->amvacuumcleanup = bm25_amvacuumcleanup;
	am->amcanreturn = NULL;
	am->amcostestimate = bm25_amcostestimate;
	am->amoptions = bm25_amoptions;
	am->amproperty = NULL;
	am->ambuildphasename = NULL;
	am->amvalidate = bm25_amvalidate;
	am->amadjustmembers = NULL;
	am->ambeginscan = bm25_ambeginscan;
	am->amrescan = bm25_amrescan;
	am->amgettuple = bm25_amgettuple;
	am->amgetbitmap = bm25_amgetbitmap;
	am->amendscan = bm25_amendscan;
	am->ammarkpos = NULL;
	am->amrestrpos = NULL;
	am->amestimateparallelscan = NULL;
	am->aminitparallelscan = NULL;
	am->amparallelrescan = NULL;

	PG_RETURN_POINTER(am);
}

/*
 * Checks an operator class: every operator must be a boolean @@@ with a
 * text left argument under strategy 1 or 2, and there are no support
 * procedures.
 */
bool
bm25_amvalidate(Oid opclassoid)
{
	HeapTuple	tup;
	Form_pg_opclass opc;
	CatCList   *ops;
	bool		ok = true;

	tup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	opc = (Form_pg_opclass) GETSTRUCT(tup);
	ops = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(opc->opcfamily));
	for (int i = 0; i < ops->n_members; i++)
	{
		Form_pg_amop op = (Form_pg_amop) GETSTRUCT(&ops->members[i]->tuple);

		if (op->amopstrategy < 1 || op->amopstrategy > BM25_NSTRATEGIES ||
			op->amoplefttype != TEXTOID || op->amoppurpose != AMOP_SEARCH ||
			get_op_rettype(op->amopopr) != BOOLOID)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("bm25 operator family contains invalid operator %u with strategy %d",
							op->amopopr, op->amopstrategy)));
			ok = false;
		}
	}
	ReleaseCatCacheList(ops);
	ReleaseSysCache(tup);
	return ok;
}

/*
 * Cost of a plain or bitmap index scan: reading posting lists is cheap
 * compared with visiting the heap, so the cost is dominated by the number
 * of matching rows.  A clause bound to a different bm25 index is priced
 * out so that the planner uses the index whose semantics it names.
 */
void
bm25_amcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
					Cost *indexStartupCost, Cost *indexTotalCost,
					Selectivity *indexSelectivity, double *indexCorrelation,
					double *indexPages)
{
	GenericCosts costs;
	ListCell   *lc;
	const Bm25Catalog *cat = bm25_catalog();

	MemSet(&costs, 0, sizeof(costs));
	genericcostestimate(root, path, loop_count, &costs);

	*indexStartupCost = costs.indexStartupCost + costs.numIndexTuples * cpu_operator_cost;
	*indexTotalCost = costs.indexTotalCost;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;

	foreach(lc, path->indexclauses)
	{
		IndexClause *ic = lfirst(lc);
		RestrictInfo *ri = ic->rinfo;
		OpExpr	   *op = (OpExpr *) ri->clause;
		Node	   *arg;

		if (cat == NULL || !IsA(op, OpExpr) || op->opno != cat->match_bound_op)
			continue;
		arg = lsecond(op->args);
		if (IsA(arg, Const) && !((Const *) arg)->constisnull)
		{
			Bm25Query  *q = DatumGetBm25QueryP(((Const *) arg)->constvalue);

			if (OidIsValid(q->indexoid) && q->indexoid != path->indexinfo->indexoid)
			{
				*indexStartupCost = 1.0e10;
				*indexTotalCost = 1.0e10;
			}
		}
	}
}
