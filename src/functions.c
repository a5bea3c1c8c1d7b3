/*-------------------------------------------------------------------------
 *
 * functions.c
 *		The SQL-callable functions that act on queued calls:
 *		agentphone_cancel(), agentphone_retry(), agentphone_wait(), and the
 *		statement trigger agentphone.wake_worker() (queueing itself is in
 *		enqueue.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"

#include "access.h"
#include "callee.h"
#include "calls.h"
#include "dialrules.h"
#include "enqueue.h"
#include "grants.h"
#include "shared.h"
#include "validate.h"
#include "window.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(agentphone_wake_worker);
PG_FUNCTION_INFO_V1(agentphone_cancel);
PG_FUNCTION_INFO_V1(agentphone_retry);
PG_FUNCTION_INFO_V1(agentphone_wait);

/* How often agentphone_wait() looks at the call again. */
#define WAIT_POLL_MS 20

/*
 * agentphone.wake_worker(), a statement trigger AFTER INSERT on
 * agentphone.calls: rows written other than by agentphone_call() (a
 * superuser's INSERT, COPY, a logical replication apply) wake the worker
 * at COMMIT, like a queued call, rather than wait for the sweep.
 */
Datum
agentphone_wake_worker(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("agentphone.wake_worker() may only be called as a trigger")));
	agentphone_wake_at_commit();
	return PointerGetDatum(NULL);
}

/*
 * call_must_exist raises an error when there is no call with this id.
 * It runs inside an SPI connection.
 */
static void
call_must_exist(int64 id)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(id)};

	agentphone_saved_plan(&plan, "SELECT 1 FROM agentphone.calls WHERE id = $1", 1, argtypes);
	/* not read-only: see a call queued earlier in the same statement */
	if (SPI_execute_plan(plan, values, NULL, false, 1) != SPI_OK_SELECT || SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("call %lld does not exist", (long long) id),
				 errdetail("A role sees only the calls it queued, unless it is a member of agentphone_admin."),
				 errhint("Pass the id that agentphone_call() returned.")));
}

/*
 * agentphone_cancel cancels a call that is still queued.  It returns false
 * when the worker has already taken the call; a call being dispatched
 * cannot be taken back.  The row lock makes this race-free: a cancel that
 * meets a claim in progress waits for it and then sees "dispatching".
 */
/*
 * say_why_not_canceled tells, in a NOTICE, why call id (the caller's) was
 * not canceled: it is no longer queued; a live one is ended with
 * agentphone_end_call().  Runs inside an SPI connection.
 */
static void
say_why_not_canceled(int64 id)
{
	Oid			types[1] = {INT8OID};
	Datum		v[1] = {Int64GetDatum(id)};
	char	   *status;

	if (SPI_execute_with_args("SELECT status, api_call_id IS NOT NULL AND ended_at IS NULL"
							  " AND status NOT IN ('completed', 'failed', 'canceled', 'error', 'blocked', 'unknown')"
							  " FROM agentphone.calls WHERE id = $1",
							  1, types, v, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		return;					/* (not read-only: a snapshot taken now) */
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2), "t") == 0)
		ereport(NOTICE,
				(errmsg("call %lld was not canceled: it is %s, already placed", (long long) id, status),
				 errhint("agentphone_end_call(%lld) hangs up a live call.", (long long) id)));
	else
		ereport(NOTICE,
				(errmsg("call %lld was not canceled: it is %s, no longer queued", (long long) id, status)));
}

Datum
agentphone_cancel(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		values[2] = {PG_GETARG_DATUM(0),
		CStringGetTextDatum(GetUserNameFromId(GetUserId(), false))};
	bool		canceled;
	AgentphoneUser caller;

	agentphone_require_grant(false);
	SPI_connect();
	call_must_exist(PG_GETARG_INT64(0));	/* as the caller: its own calls */
	agentphone_become_owner(&caller);
	agentphone_saved_plan(&plan,
				  "UPDATE agentphone.calls SET status = " SQL_STATUS(CALL_CANCELED) ","
				  " last_error = 'canceled by ' || $2,"
				  " next_attempt_at = NULL, updated_at = now()"
				  " WHERE id = $1 AND status IS NOT DISTINCT FROM " SQL_STATUS(CALL_QUEUED),
				  2, argtypes);
	if (SPI_execute_plan(plan, values, NULL, false, 1) != SPI_OK_UPDATE)
		elog(ERROR, "could not cancel the call");
	canceled = (SPI_processed == 1);
	agentphone_restore_user(&caller);
	if (!canceled)
		say_why_not_canceled(PG_GETARG_INT64(0));
	SPI_finish();
	PG_RETURN_BOOL(canceled);
}

/*
 * retryable_call locks call id (which the caller can see) and reads what a
 * retry needs; it refuses a call that did not end in "error" or "unknown".
 * Runs as the tables' owner, inside an SPI connection.
 */
static HeapTuple
retryable_call(int64 id, TupleDesc *desc)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(id)};
	char	   *status;

	agentphone_saved_plan(&plan,
				  "SELECT status, to_number, timezone, not_before,"
				  " ended_at IS NOT NULL OR transcript_complete FROM agentphone.calls"
				  " WHERE id = $1 FOR UPDATE",
				  1, argtypes);
	if (SPI_execute_plan(plan, values, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not lock call %lld", (long long) id);
	*desc = SPI_tuptable->tupdesc;
	status = SPI_getvalue(SPI_tuptable->vals[0], *desc, 1);
	if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], *desc, 5), "t") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("call %lld was placed and has ended: it cannot be retried", (long long) id),
				 errdetail("The API gave it an end time, so it reached the callee's line; a retry would call again."),
				 errhint("Place a new call with agentphone_call() if the callee should be called again.")));
	if (strcmp(status, CALL_ERROR) != 0 && strcmp(status, CALL_UNKNOWN) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("call %lld is %s: only a call in error or unknown can be retried",
						(long long) id, status),
				 strcmp(status, CALL_QUEUED) == 0 ?
				 errhint("It is already waiting to be placed; agentphone_wait(%lld) waits for it.", (long long) id) :
				 errhint("Place a new call with agentphone_call().")));
	return SPI_tuptable->vals[0];
}

/* What agentphone_retry() makes of the call it queues again. */
typedef struct Retry
{
	bool		was_unknown;	/* it ended "unknown": it may have rung */
	char	   *number;			/* its number, as dialed */
	TimestampTz due;			/* when it is due again */
	bool		held;			/* the calling window holds it until then */
	char	   *waiting;		/* why it waits (its last_error), or NULL */
} Retry;

/*
 * plan_retry locks call id and works out its retry for the role that acts
 * (roleid, role): every dialing rule is checked again as for a new call,
 * and the calling window applies.  Runs as the tables' owner, inside an
 * SPI connection.
 */
static void
plan_retry(int64 id, Oid roleid, const char *role, Retry *r)
{
	TupleDesc	desc;
	HeapTuple	row = retryable_call(id, &desc);
	bool		isnull;
	Callee		callee;
	TimestampTz not_before;

	r->was_unknown = strcmp(SPI_getvalue(row, desc, 1), CALL_UNKNOWN) == 0;
	callee_classify(SPI_getvalue(row, desc, 2), &callee);
	callee_set_timezone(&callee, SPI_getvalue(row, desc, 3));
	r->number = pstrdup(callee.phone.e164);
	not_before = DatumGetTimestampTz(SPI_getbinval(row, desc, 4, &isnull));
	r->due = dialrules_first_due(&callee, isnull ? NULL : &not_before, &r->held);
	dialrules_check(&callee, roleid, role);
	r->waiting = r->held ? window_wait_text(r->due) : NULL;
}

/*
 * queue_again puts call id back in the queue as r says, retried by role.
 * Runs as the tables' owner, inside an SPI connection.
 */
static void
queue_again(int64 id, const Retry *r, const char *role)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[5] = {INT8OID, TIMESTAMPTZOID, BOOLOID, TEXTOID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(id);
	values[1] = TimestampTzGetDatum(r->due);
	values[2] = BoolGetDatum(r->held);
	values[3] = r->waiting ? CStringGetTextDatum(r->waiting) : (Datum) 0;
	nulls[3] = r->waiting ? ' ' : 'n';
	values[4] = CStringGetTextDatum(role);
	agentphone_saved_plan(&plan,
				  "UPDATE agentphone.calls SET status = " SQL_STATUS(CALL_QUEUED) ", next_attempt_at = $2,"
				  " held_by_window = $3, last_error = coalesce($4, 'retried by ' || $5),"
				  " updated_at = now()"
				  " WHERE id = $1",
				  5, argtypes);
	if (SPI_execute_plan(plan, values, nulls, false, 1) != SPI_OK_UPDATE || SPI_processed != 1)
		elog(ERROR, "could not queue call %lld again", (long long) id);
}

/*
 * agentphone_retry puts a call that ended in "error" or "unknown" back in
 * the queue, for the role that queued it (or an admin): every dialing
 * rule is checked again as for a new call, the calling window applies,
 * and the attempts so far still count.  It returns when the call is due.
 * An "unknown" call may have rung the callee already: the caller is told
 * so.
 */
Datum
agentphone_retry(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	Oid			roleid = GetUserId();
	char	   *role = GetUserNameFromId(roleid, false);
	AgentphoneUser caller;
	Retry		r;
	MemoryContext callcxt = CurrentMemoryContext;

	agentphone_require_grant(false);
	PreventCommandIfReadOnly("agentphone_retry()");
	enqueue_check_database();
	SPI_connect();
	call_must_exist(id);		/* as the caller: its own calls */
	agentphone_become_owner(&caller);
	plan_retry(id, roleid, role, &r);
	queue_again(id, &r, role);
	r.number = MemoryContextStrdup(callcxt, r.number);
	if (r.waiting)
		r.waiting = MemoryContextStrdup(callcxt, r.waiting);
	agentphone_restore_user(&caller);
	SPI_finish();

	if (r.was_unknown)
		ereport(NOTICE,
				(errmsg("call %lld may already have rung %s", (long long) id, r.number),
				 errdetail("Its first attempt's outcome is unknown: the API may have placed it.")));
	if (r.held)
		enqueue_announce_hold(id, r.waiting);
	agentphone_wake_at_commit();
	PG_RETURN_TIMESTAMPTZ(r.due);
}

/* What agentphone_wait() reads of a call. */
typedef struct WaitedCall
{
	char	   *status;
	bool		transcript_complete;
	bool		has_end;		/* ended_at is set */
	bool		placed;			/* api_call_id is set */
} WaitedCall;

/*
 * fetch_status reads what agentphone_wait() needs of the call; it raises
 * an error when the call does not exist or was queued by the current,
 * uncommitted transaction (the worker cannot see it, so waiting would
 * always time out).
 */
static void
fetch_status(int64 id, WaitedCall *w)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(id)};
	bool		isnull;
	TransactionId xmin;
	char	   *status;

	agentphone_saved_plan(&plan, "SELECT status, xmin, transcript_complete, ended_at IS NOT NULL,"
				  " api_call_id IS NOT NULL FROM agentphone.calls WHERE id = $1",
				  1, argtypes);
	if (SPI_execute_plan(plan, values, NULL, false, 1) != SPI_OK_SELECT || SPI_processed == 0)
		call_must_exist(id);
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	xmin = DatumGetTransactionId(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 2, &isnull));
	w->status = status;
	w->transcript_complete = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
														SPI_tuptable->tupdesc, 3, &isnull));
	w->has_end = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
	w->placed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull));
	SPI_freetuptable(SPI_tuptable);
	if (strcmp(status, CALL_QUEUED) == 0 && TransactionIdIsCurrentTransactionId(xmin))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("call %lld was queued by the current transaction", (long long) id),
				 errdetail("Calls are placed only after the transaction that queued them commits."),
				 errhint("COMMIT first, then call agentphone_wait().")));
}

/* What agentphone_wait() waits for. */
typedef enum WaitUntil
{
	UNTIL_PLACED,				/* the call has left the queue */
	UNTIL_ENDED,				/* it is over, or will never be placed */
	UNTIL_TRANSCRIPT			/* its transcript is stored, or it has none */
} WaitUntil;

/*
 * wait_until_arg reads agentphone_wait()'s until argument.
 */
static WaitUntil
wait_until_arg(const char *until)
{
	if (strcmp(until, "placed") == 0)
		return UNTIL_PLACED;
	if (strcmp(until, "ended") == 0)
		return UNTIL_ENDED;
	if (strcmp(until, "transcript") == 0)
		return UNTIL_TRANSCRIPT;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid until \"%s\" for agentphone_wait()", until),
			 errdetail("It waits until the call is placed, has ended, or has its transcript stored."),
			 errhint("Pass until => 'placed', 'ended' or 'transcript'.")));
	return UNTIL_PLACED;		/* keep the compiler quiet */
}

/*
 * wait_over says whether call w is where agentphone_wait() was asked to
 * wait for.  A call has ended as the worker sees it (poll.c): it has an
 * end time or a state of the ended or over phase (calls.h); one never
 * placed will have no transcript.
 */
static bool
wait_over(const WaitedCall *w, WaitUntil until)
{
	CallPhase	phase = callstatus_phase(w->status);
	bool		is_ended = w->has_end || phase == PHASE_ENDED || phase == PHASE_OVER;

	if (phase == PHASE_UNPLACED)
		return false;
	if (until == UNTIL_PLACED)
		return true;
	if (until == UNTIL_ENDED)
		return is_ended;
	return w->transcript_complete || (is_ended && !w->placed);	/* none to come */
}

/*
 * agentphone_wait(id, timeout [, until]) waits until call id is placed
 * (or will never be), has ended, or has its transcript stored, or until
 * the timeout; it returns the call's status then.
 */
Datum
agentphone_wait(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	int64		timeout_ms = agentphone_interval_ms(PG_GETARG_INTERVAL_P(1));
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	WaitUntil	until;
	MemoryContext callcxt = CurrentMemoryContext;
	WaitedCall	w;

	agentphone_require_grant(false);
	until = PG_NARGS() > 2 ? wait_until_arg(text_to_cstring(PG_GETARG_TEXT_PP(2))) : UNTIL_PLACED;
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("agentphone_wait() cannot be used in a REPEATABLE READ or SERIALIZABLE transaction"),
				 errdetail("Its snapshot would never show the worker's progress."),
				 errhint("Call it in a READ COMMITTED transaction.")));

	SPI_connect();
	for (;;)
	{
		long		left;

		fetch_status(id, &w);
		if (wait_over(&w, until))
			break;
		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (left <= 0)
			break;
		pfree(w.status);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(left, WAIT_POLL_MS), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	w.status = MemoryContextStrdup(callcxt, w.status);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(w.status));
}

