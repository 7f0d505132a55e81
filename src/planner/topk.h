/*-------------------------------------------------------------------------
 * topk.h
 *	  Private interface between the top-k path builder and its executor.
 *-------------------------------------------------------------------------
 */
#ifndef BM25_PLANNER_TOPK_H
#define BM25_PLANNER_TOPK_H

#include "bm25.h"
#include "nodes/extensible.h"

#define BM25_TOPK_NAME	"BM25 Top-K"

/*
 * custom_private of the plan: list of Consts (index OID, first batch size,
 * score column index in custom_scan_tlist (1-based)).
 */
#define BM25_TOPK_PRIV_INDEX	0
#define BM25_TOPK_PRIV_K		1
#define BM25_TOPK_PRIV_SCORECOL 2

extern CustomScanMethods bm25_topk_scan_methods;

#endif
