/*-------------------------------------------------------------------------
 *
 * dispatch.c
 *		Claim due calls and send them to the API.
 *
 * The steps never overlap a transaction with network I/O:
 *
 *	1. dispatch_claim() runs inside the worker's short claim transaction:
 *	   due "queued" rows are locked with FOR UPDATE SKIP LOCKED, marked
 *	   "dispatching" (attempts + 1) and returned.  The worker commits.
 *	2. dispatch_send() starts one POST /calls per claimed call, after the
 *	   commit, outside any transaction.
 *	3. Their answers are recorded in the worker's new short transaction
 *	   (callanswer.c).
 *
 * Before a claim, dispatch_reserve() takes the sends it may make from the
 * key's window, which every database that uses the key shares (pacing.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "callanswer.h"
#include "calls.h"
#include "dispatch.h"
#include "guc.h"
#include "health.h"
#include "pacing.h"
#include "request.h"
#include "secret.h"
#include "workerslot.h"
#include "xact.h"

/* How soon to look again at due calls that another transaction locks. */
#define LOCKED_RETRY_MS 200

static SPIPlanPtr claim_plan = NULL;
static SPIPlanPtr next_due_plan = NULL;

/*
 * dispatch_reserve reserves up to want sends with key, this database's, so
 * that all the databases that use the key make no more than
 * max_calls_per_minute of them in any 60 seconds, and returns how many it
 * reserved; when none, *free_at is when one may be.  What a claim does not
 * use goes back through dispatch_unreserve.
 */
static uint64 reserved_key_hash;
static TimestampTz reserved_at;

int
dispatch_reserve(const char *key, int want, TimestampTz now, TimestampTz *free_at)
{
	if (key == NULL)
		return 0;
	reserved_key_hash = agentphone_key_hash(key);
	reserved_at = now;
	return pacing_reserve(reserved_key_hash, want,
								 agentphone_max_calls_per_minute, now, free_at);
}

/*
 * dispatch_unreserve gives back n sends of the last reservation.
 */
void
dispatch_unreserve(int n)
{
	pacing_return(reserved_key_hash, n, reserved_at);
}

/*
 * column_text returns column col of row as a C string in cxt, or NULL.
 */
static const char *
column_text(HeapTuple row, int col, MemoryContext cxt)
{
	char	   *v = SPI_getvalue(row, SPI_tuptable->tupdesc, col);

	return v ? MemoryContextStrdup(cxt, v) : NULL;
}

/*
 * claimed_from_row copies one claimed row into a ClaimedCall in cxt.
 */
static ClaimedCall *
claimed_from_row(HeapTuple row, MemoryContext cxt)
{
	ClaimedCall *c = MemoryContextAllocZero(cxt, sizeof(ClaimedCall));
	bool		isnull;

	c->id = DatumGetInt64(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull));
	c->attempt = DatumGetInt32(SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull));
	c->req.agent_id = column_text(row, 3, cxt);
	c->req.to_number = column_text(row, 4, cxt);
	c->req.variables_json = column_text(row, 5, cxt);
	c->req.from_number_id = column_text(row, 6, cxt);
	c->req.initial_greeting = column_text(row, 7, cxt);
	c->req.voice = column_text(row, 8, cxt);
	c->req.system_prompt = column_text(row, 9, cxt);
	c->req.options_json = column_text(row, 10, cxt);
	c->sub_account = column_text(row, 14, cxt);
	return c;
}

/*
 * report_not_dialed logs a claimed call that the last checks kept from
 * being dialed ("canceled", "blocked"), or that waits for its calling
 * window ("queued").
 */
static void
report_not_dialed(HeapTuple row)
{
	TupleDesc	desc = SPI_tuptable->tupdesc;
	char	   *status = SPI_getvalue(row, desc, 12);

	ereport(strcmp(status, CALL_QUEUED) == 0 ? DEBUG1 : LOG,
			(errmsg("agentphone: call %s is %s: %s", SPI_getvalue(row, desc, 1),
					status, SPI_getvalue(row, desc, 13))));
}

/*
 * dispatch_claim claims up to max due calls and returns them as a List of
 * ClaimedCall allocated in cxt.  *next_due_ms is set to the time until the
 * earliest call still queued is due (0 if one is due now, -1 if none).
 * Runs inside the caller's transaction, which must commit before
 * dispatch_send().
 */
List *
dispatch_claim(int max, MemoryContext cxt, long *next_due_ms)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(max)};
	List	   *claimed = NIL;
	uint64		taken;
	MemoryContext old;
	bool		isnull;
	Datum		d;

	agentphone_saved_plan(&claim_plan,
			   "SELECT id, attempts, agent_id, to_number, variables, from_number_id,"
			   " initial_greeting, voice, system_prompt, options - 'subAccountId',"
			   " status = " SQL_STATUS(CALL_DISPATCHING) ", status, last_error,"
			   " options ->> 'subAccountId'"
			   " FROM agentphone.claim_calls($1)",
			   1, argtypes);
	if (SPI_execute_plan(claim_plan, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not claim calls");
	taken = SPI_processed;

	old = MemoryContextSwitchTo(cxt);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];

		if (DatumGetBool(SPI_getbinval(row, SPI_tuptable->tupdesc, 11, &isnull)))
			claimed = lappend(claimed, claimed_from_row(row, cxt));
		else
			report_not_dialed(row);
	}
	MemoryContextSwitchTo(old);

	agentphone_saved_plan(&next_due_plan,
			   "SELECT ceil(extract(epoch FROM min(next_attempt_at) - clock_timestamp()) * 1000)::bigint"
			   " FROM agentphone.calls WHERE status = " SQL_STATUS(CALL_QUEUED)
			   " AND next_attempt_at < 'infinity'",	/* not the held copies */
			   0, NULL);
	if (SPI_execute_plan(next_due_plan, NULL, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not find the next due call");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	*next_due_ms = isnull ? -1 : (long) Max(DatumGetInt64(d), 0);

	/*
	 * Due calls left behind by a claim that was not full are locked by
	 * another transaction (SKIP LOCKED): look again shortly, not at once,
	 * or the worker would spin for as long as the lock is held.
	 */
	if (*next_due_ms == 0 && taken < (uint64) max)
		*next_due_ms = LOCKED_RETRY_MS;
	return claimed;
}

/*
 * dispatch_release_window_holds makes every call the calling window holds
 * due again, at its not_before if that is later: the next claim holds it
 * again by the window in force.  The worker runs it when it starts and
 * when agentphone.call_window, call_days or default_timezone change.  A
 * call a user's transaction holds locked (its cancel, not yet committed)
 * is left as it is: it is due when its old window opens, and the claim
 * holds it by the rules in force then.
 */
void
dispatch_release_window_holds(void)
{
	static SPIPlanPtr release_plan = NULL;

	agentphone_saved_plan(&release_plan,
			   "UPDATE agentphone.calls SET next_attempt_at = greatest(not_before, now()),"
			   " held_by_window = false, updated_at = now()"
			   " WHERE id IN (SELECT h.id FROM agentphone.calls h"
			   "  WHERE h.status = " SQL_STATUS(CALL_QUEUED) " AND h.held_by_window"
			   "  FOR UPDATE SKIP LOCKED)",
			   0, NULL);
	if (SPI_execute_plan(release_plan, NULL, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not release the calls held for their window");
	if (SPI_processed > 0)
		ereport(LOG,
				(errmsg_plural("agentphone: %llu call waiting for its calling window is due again by the window in force",
							   "agentphone: %llu calls waiting for their calling window are due again by the window in force",
							   SPI_processed, (unsigned long long) SPI_processed)));
}

/*
 * dispatch_note_waiting writes why into the last_error of every due
 * queued call that does not say it yet: the calls wait, and their owners
 * can see why.  The claim clears it when the call is placed.  A call a
 * user's transaction holds locked is skipped, noted at a later sweep.
 */
void
dispatch_note_waiting(const char *why)
{
	static SPIPlanPtr note_plan = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		v[1] = {CStringGetTextDatum(why)};

	agentphone_saved_plan(&note_plan,
			   "UPDATE agentphone.calls SET last_error = $1, updated_at = now()"
			   " WHERE id IN (SELECT w.id FROM agentphone.calls w"
			   "  WHERE w.status = " SQL_STATUS(CALL_QUEUED) " AND w.next_attempt_at <= now()"
			   "  AND w.last_error IS DISTINCT FROM $1 FOR UPDATE SKIP LOCKED)",
			   1, types);
	if (SPI_execute_plan(note_plan, v, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not note why calls wait");
}

/*
 * dispatch_send starts the POST of every claimed call (dispatch_reserve
 * counted them against the key's window), with key, the one it reserved
 * with.  extension_oid identifies the incarnation of the extension the
 * calls belong to.
 */
void
dispatch_send(List *claimed, Oid extension_oid, const char *key)
{
	ListCell   *lc;
	char	   *url = api_url("/calls");

	foreach(lc, claimed)
	{
		ClaimedCall *c = lfirst(lc);
		CreateRequest *r = (CreateRequest *) request_new(sizeof(CreateRequest),
														 &callanswer_handler,
														 extension_oid, c->id);
		char	   *body = api_encode_create_call(&c->req);

		r->attempt = c->attempt;
		r->key_hash = key ? agentphone_key_hash(key) : 0;
		request_set_sub_account(&r->hdr, c->sub_account);
		request_start(&r->hdr, url, key, body);
		pfree(body);
	}
	workerslot_count(COUNT_DISPATCHED, list_length(claimed));
	pfree(url);
}
