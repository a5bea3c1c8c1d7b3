/*-------------------------------------------------------------------------
 *
 * xact.h
 *		How the extension runs SQL (xact.c): transactions, subtransactions,
 *		saved plans.
 *
 * A statement that finds one call by id and checks its status writes
 * "status IS NOT DISTINCT FROM 'queued'", not "status = 'queued'": with
 * "=", the planner prefers the small partial index of that status
 * (calls_due_idx, calls_unsettled_idx), scanned whole for the id, over
 * calls_pkey, so each such statement read every queued or dispatching
 * call (test/t/019_plans.pl fails on that plan).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_XACT_H
#define AGENTPHONE_XACT_H

#include "nodes/pg_list.h"

typedef void (*TxnStep) (void *arg);

extern bool run_in_transaction(const char *activity, TxnStep step, void *arg);
extern char *run_in_subtransaction(void (*fn) (void *), void *arg);

struct _SPI_plan;
extern struct _SPI_plan *agentphone_saved_plan(struct _SPI_plan **plan,
											   const char *query,
											   int nargs, Oid *argtypes);
extern struct _SPI_plan *agentphone_saved_generic_plan(struct _SPI_plan **plan,
													   const char *query, int nargs,
													   Oid *argtypes);
extern Datum list_text_array(List *items, size_t offset);
extern void list_text_arrays(List *items, const size_t *offsets, int n,
							 Datum *values);

#endif							/* AGENTPHONE_XACT_H */
