/*-------------------------------------------------------------------------
 *
 * reconcile.c
 *		Finding out whether a call of unknown outcome was placed, instead of
 *		blindly sending it again.
 *
 * The API has no idempotency key, so a call whose POST may have reached
 * the API without its answer reaching us ("reconciling": the worker died
 * after the claim, the connection failed after sending, or a 2xx answer
 * was unreadable) is never simply resent.  Once agentphone.reconcile_delay
 * has passed since its claim (time for a slow API to finish creating it),
 * the worker asks List Calls for calls to the same number
 * (GET /calls?search=<number>) and looks for one of the same agent, to the
 * same number, started no earlier than a minute before the claim, that no
 * other row holds yet:
 *	 - found: the call is adopted (its API id and status stored) and
 *	   followed like any placed call;
 *	 - not found: agentphone.on_unknown decides: "fail" (the default) makes
 *	   it "unknown" with the reason, "redial" queues it again.
 * A failed search is tried again at the next cycle.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "api.h"
#include "calls.h"
#include "cycle.h"
#include "guc.h"
#include "health.h"
#include "http.h"
#include "poll.h"
#include "reconcile.h"
#include "request.h"
#include "schema.h"
#include "secret.h"
#include "task.h"
#include "workerslot.h"
#include "xact.h"

/* How far before the claim a matching call may have started (clock skew). */
#define START_SLACK_US (60 * USECS_PER_SEC)
#define MAX_PER_CYCLE 100

/* A call to reconcile, as loaded. */
typedef struct ReconcilingCall
{
	int64		id;
	char	   *agent_id;
	char	   *to_number;
	TimestampTz claimed_at;
	char	   *why;			/* last_error when it became unsure */
	char	   *sub_account;	/* options.subAccountId: searched there */
} ReconcilingCall;

static List *unsure = NIL;		/* ReconcilingCall, of the current cycle */
static Cycle reconcile_cycle = CYCLE_INIT("agentphone reconcile");	/* wanted: false once none is left */

static SPIPlanPtr load_plan = NULL;
static SPIPlanPtr resolve_plan = NULL;

static void record_search(HttpRequest *req, RecordResult *result);

/* A search's answer is recorded in the worker's record transaction. */
static const RequestHandler search_handler = {NULL, record_search, NULL};

/*
 * reconcile_note says that a call may need reconciling.
 */
void
reconcile_note(void)
{
	reconcile_cycle.wanted = true;
}

/*
 * reconcile_reset forgets the current cycle (the extension was dropped or
 * created again; answers in flight for it are discarded by the worker).
 */
static void
reconcile_reset(void)
{
	cycle_forget(&reconcile_cycle);
	unsure = NIL;
}

/*
 * reconcile_interval_ms is how often a cycle runs while calls wait to be
 * reconciled.
 */
static int
reconcile_interval_ms(void)
{
	return Min(agentphone_poll_interval_ms, agentphone_reconcile_delay_ms);
}

/*
 * reconcile_load reads the calls whose reconcile_delay has passed; it
 * sets the next cycle for the earliest one still waiting.  Runs inside a
 * transaction.
 */
static bool
reconcile_load(void)
{
	Oid			types[1] = {INT4OID};
	Datum		v[1] = {Int32GetDatum(agentphone_reconcile_delay_ms)};
	MemoryContext old;

	/* set first, so that a failing transaction cannot loop */
	cycle_postpone(&reconcile_cycle, reconcile_interval_ms());
	cycle_fresh_memory(&reconcile_cycle);
	unsure = NIL;
	agentphone_saved_plan(&load_plan,
						  "SELECT id, agent_id, to_number, dispatched_at, last_error,"
						  " dispatched_at > now() - $1 * interval '1 millisecond',"
						  " options ->> 'subAccountId'"
						  " FROM agentphone.calls WHERE status = " SQL_STATUS(CALL_RECONCILING)
						  " ORDER BY dispatched_at, id",
						  1, types);
	if (SPI_execute_plan(load_plan, v, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the calls to reconcile");

	old = MemoryContextSwitchTo(cycle_memory(&reconcile_cycle));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		ReconcilingCall	   *u;

		if (DatumGetBool(SPI_getbinval(row, desc, 6, &isnull)))
			continue;			/* its reconcile_delay has not passed */
		if (list_length(unsure) >= MAX_PER_CYCLE)
			break;
		u = palloc0(sizeof(ReconcilingCall));
		u->id = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
		u->agent_id = SPI_getvalue(row, desc, 2);
		u->to_number = SPI_getvalue(row, desc, 3);
		u->claimed_at = DatumGetTimestampTz(SPI_getbinval(row, desc, 4, &isnull));
		u->why = SPI_getvalue(row, desc, 5);
		u->sub_account = SPI_getvalue(row, desc, 7);
		unsure = lappend(unsure, u);
	}
	MemoryContextSwitchTo(old);
	reconcile_cycle.wanted = (SPI_processed > 0);
	return true;
}

/*
 * reconcile_start sends one search per loaded call.  Runs outside any
 * transaction.
 */
static void
reconcile_start(Oid extension_oid)
{
	ListCell   *lc;
	const char *key = agentphone_api_key_value();	/* once for the cycle */

	foreach(lc, unsure)
	{
		ReconcilingCall	   *u = lfirst(lc);
		char	   *url = api_url("/calls?search=%s&limit=100", http_escape(u->to_number));
		ApiRequest *r = request_new(sizeof(ApiRequest), &search_handler,
									extension_oid, u->id);

		/* a sub-account's call is listed under its sub-account */
		request_set_sub_account(r, u->sub_account);
		request_start(r, url, key, NULL);
		cycle_request_started(&reconcile_cycle);
		pfree(url);
	}
	reconcile_cycle.active = (reconcile_cycle.outstanding > 0);
}

/*
 * matches says whether a listed call can be the one u's POST created.
 */
static bool
matches(const ReconcilingCall *u, const ApiCall *c)
{
	TimestampTz started;

	if (c->to_number == NULL || strcmp(c->to_number, u->to_number) != 0)
		return false;
	if (c->agent_id != NULL && strcmp(c->agent_id, u->agent_id) != 0)
		return false;
	if (c->direction != NULL && strcmp(c->direction, "outbound") != 0)
		return false;
	if (c->started_at == NULL)
		return false;
	started = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
													  CStringGetDatum(c->started_at),
													  ObjectIdGetDatum(InvalidOid),
													  Int32GetDatum(-1)));
	return started >= u->claimed_at - START_SLACK_US;
}

/* The UPDATE of an adopted call, $6 the API's status (since 1.9: API_STATUS_SET). */
#define ADOPT_SQL(API_STATUS_SET) \
	"UPDATE agentphone.calls SET api_call_id = $2, status = $3," \
	" from_number = $4, started_at = $5::timestamptz," \
	" last_error = NULL, next_attempt_at = NULL, updated_at = now()" API_STATUS_SET \
	" WHERE id = $1 AND status IS NOT DISTINCT FROM " SQL_STATUS(CALL_RECONCILING) \
	" AND NOT EXISTS (SELECT 1 FROM agentphone.calls o WHERE o.api_call_id = $2)"

/*
 * adopt stores c as u's call unless another row holds it already; it
 * returns whether it did.
 */
static bool
adopt(const ReconcilingCall *u, const ApiCall *c)
{
	static SPIPlanPtr adopt_plans[2];	/* without, with api_status */
	bool		raw = agentphone_schema_has(SCHEMA_1_9);
	const char *ours = callstatus_from_api(c->status, c->ended_at != NULL);
	Oid			types[6] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		v[6] = {Int64GetDatum(u->id), CStringGetTextDatum(c->id),
		CStringGetTextDatum(ours ? ours : CALL_IN_PROGRESS),
		c->from_number ? CStringGetTextDatum(c->from_number) : (Datum) 0,
		CStringGetTextDatum(c->started_at),
	c->status ? CStringGetTextDatum(c->status) : (Datum) 0};
	char		n[6] = {' ', ' ', ' ', c->from_number ? ' ' : 'n', ' ', c->status ? ' ' : 'n'};
	SPIPlanPtr	adopt_plan;

	adopt_plan = agentphone_saved_plan(&adopt_plans[raw], raw ?
									   ADOPT_SQL(", api_status = $6") : ADOPT_SQL(""),
									   6, types);
	if (SPI_execute_plan(adopt_plan, v, n, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not adopt a reconciled call");
	return SPI_processed == 1;
}

/*
 * resolve ends reconciliation without a match, as agentphone.on_unknown
 * says: "unknown", or queued again.  A call that has ended is never
 * queued again, whatever its status says (its CHECK keeps it from being
 * "reconciling" since 1.9; this is the same rule for an older schema).
 */
static void
resolve(const ReconcilingCall *u)
{
	bool		redial = (agentphone_on_unknown == ON_UNKNOWN_REDIAL);
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		v[3] = {Int64GetDatum(u->id),
		CStringGetTextDatum(redial ? CALL_QUEUED : CALL_UNKNOWN),
		CStringGetTextDatum(psprintf("%s; the API shows no call to %s by %s since then, so %s",
									 u->why ? u->why : "outcome unknown",
									 u->to_number, u->agent_id,
									 redial ? "it was queued again (agentphone.on_unknown = redial)"
									 : "it was not sent again (agentphone.on_unknown = fail)"))};

	agentphone_saved_plan(&resolve_plan,
						  "UPDATE agentphone.calls SET status = $2, last_error = $3,"
						  " next_attempt_at = CASE WHEN $2 = " SQL_STATUS(CALL_QUEUED) " THEN now() END,"
						  " updated_at = now()"
						  " WHERE id = $1 AND status IS NOT DISTINCT FROM " SQL_STATUS(CALL_RECONCILING)
						  " AND ended_at IS NULL AND NOT transcript_complete",
						  3, types);
	if (SPI_execute_plan(resolve_plan, v, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not resolve a reconciled call");
}

typedef struct ReconcileArgs
{
	const ReconcilingCall *u;
	List	   *listed;
	bool		requeued;
} ReconcileArgs;

/*
 * reconcile_step adopts the first matching call, or resolves u.
 */
static void
reconcile_step(void *arg)
{
	ReconcileArgs *a = (ReconcileArgs *) arg;
	ListCell   *lc;

	foreach(lc, a->listed)
	{
		ApiCall    *c = lfirst(lc);

		if (matches(a->u, c) && adopt(a->u, c))
		{
			ereport(LOG,
					(errmsg("agentphone: call %lld was placed after all; adopted API call %s",
							(long long) a->u->id, c->id)));
			poll_note_placed();
			return;
		}
	}
	resolve(a->u);
	a->requeued = (agentphone_on_unknown == ON_UNKNOWN_REDIAL);
}

/*
 * record_search is the handler of the search for one call.  Runs inside
 * the worker's record transaction; notes in result when the call was
 * queued again.
 */
static void
record_search(HttpRequest *req, RecordResult *result)
{
	ApiRequest *p = (ApiRequest *) req->owner;
	ReconcileArgs a = {NULL, NIL, false};
	ListCell   *lc;
	bool		has_more;
	const char *problem = NULL;
	char	   *failure;

	if (cycle_request_finished(&reconcile_cycle))
		reconcile_cycle.active = false;
	foreach(lc, unsure)
		if (((ReconcilingCall *) lfirst(lc))->id == p->id)
		a.u = lfirst(lc);
	if (a.u == NULL)
		return;
	if ((problem = answer_problem(req)) == NULL)
		problem = api_decode_list(req->body, &a.listed, &has_more);
	if (problem != NULL)
	{
		ereport(LOG,
				(errmsg("agentphone: could not ask the API about call %lld: %s",
						(long long) p->id, problem),
				 errdetail("It stays \"reconciling\" and is asked about again.")));
		reconcile_cycle.wanted = true;
		return;
	}
	failure = run_in_subtransaction(reconcile_step, &a);
	if (failure == NULL)
		workerslot_count(COUNT_RECONCILED, 1);
	else
		ereport(WARNING,
				(errmsg("agentphone: could not reconcile call %lld", (long long) p->id),
				 errdetail("%s", failure)));
	result->requeued |= a.requeued;
}

/* Reconciling the calls of unknown outcome, as a task of the worker (task.h). */
const WorkerTask agentphone_reconcile_task = {
	.activity = "agentphone: reading calls to reconcile",
	.cycle = &reconcile_cycle,
	.interval_ms = reconcile_interval_ms,
	.load = reconcile_load,
	.start = reconcile_start,
	.reset = reconcile_reset,
};
