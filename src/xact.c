/*-------------------------------------------------------------------------
 *
 * xact.c
 *		How the extension runs SQL: the worker's short transactions, one
 *		call's update in a subtransaction of its own, saved plans, a probe
 *		for the installed schema's objects, and a text[] parameter built
 *		from a list.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

#include "workerslot.h"
#include "xact.h"

/*
 * run_in_transaction runs step inside a short transaction with an SPI
 * connection and a snapshot, the way every database touch of the worker
 * is bracketed.  An error is logged, the transaction rolled back and false
 * returned: one failure never ends the worker.
 */
bool
run_in_transaction(const char *activity, TxnStep step, void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, activity);
		step(arg);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		HOLD_INTERRUPTS();
		edata = CopyErrorData();
		workerslot_note_error(edata->message, NULL);
		EmitErrorReport();
		AbortCurrentTransaction();
		FlushErrorState();
		RESUME_INTERRUPTS();
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	pgstat_report_stat(false);
	return ok;
}

/*
 * run_in_subtransaction runs fn(arg) in a subtransaction of the current
 * transaction.  It returns NULL on success; on error the subtransaction is
 * rolled back, the error swallowed and its message returned, so one call's
 * bad data cannot undo the work done for the others.
 */
char *
run_in_subtransaction(void (*fn) (void *), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	char	   *volatile failure = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		failure = edata->message;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return failure;
}

/*
 * agentphone_saved_plan returns the saved plan in *plan, preparing and
 * keeping query on first use.  Every query of the extension goes through
 * it; the plan cache re-plans after DDL, even after the extension is
 * dropped and created again.
 */
static SPIPlanPtr
saved_plan(SPIPlanPtr *plan, const char *query, int nargs, Oid *argtypes, int options)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare_cursor(query, nargs, argtypes, options);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*plan = p;
	}
	return *plan;
}

SPIPlanPtr
agentphone_saved_plan(SPIPlanPtr *plan, const char *query, int nargs, Oid *argtypes)
{
	return saved_plan(plan, query, nargs, argtypes, 0);
}

/*
 * agentphone_saved_generic_plan is agentphone_saved_plan for a query that
 * runs once per queued call and whose plan does not depend on its
 * parameters' values: planned once, never again for each call (the plan
 * cache would otherwise keep choosing a custom plan whenever one that
 * folds a parameter looks cheaper, and plan the query at every call).
 */
SPIPlanPtr
agentphone_saved_generic_plan(SPIPlanPtr *plan, const char *query, int nargs, Oid *argtypes)
{
	return saved_plan(plan, query, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);
}

/*
 * list_text_array returns one char * field (at offset in each element) of
 * every element of items, in order, as a text[] (NULL elements where the
 * field is NULL): a column for an INSERT ... SELECT FROM unnest().
 */
Datum
list_text_array(List *items, size_t offset)
{
	int			n = list_length(items);
	Datum	   *elems = palloc0(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc0(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	ListCell   *lc;

	foreach(lc, items)
	{
		char	   *field = *(char **) ((char *) lfirst(lc) + offset);
		int			i = foreach_current_index(lc);

		nulls[i] = field == NULL;
		elems[i] = field ? CStringGetTextDatum(field) : (Datum) 0;
	}
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs,
											  TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * list_text_arrays fills values[0..n-1] with list_text_array() of items
 * for each of the n field offsets.
 */
void
list_text_arrays(List *items, const size_t *offsets, int n, Datum *values)
{
	for (int i = 0; i < n; i++)
		values[i] = list_text_array(items, offsets[i]);
}
