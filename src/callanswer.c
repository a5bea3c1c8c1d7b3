/*-------------------------------------------------------------------------
 *
 * callanswer.c
 *		Recording the answer to a call's POST /calls, and handing to
 *		reconciliation the calls whose answer was never recorded.
 *
 * record_create(), the POSTs' handler (request.h), runs in the worker's
 * short record transaction once answers are in, one subtransaction per
 * call so that one unrecordable answer cannot undo the others.  How an
 * answer is classified: outcome.c.
 *
 * A call found "dispatching" when the worker starts was claimed by a worker
 * that died before recording the answer: it may or may not have been
 * dialed, so it is never simply sent again; it becomes "reconciling" and
 * reconcile.c asks the API what happened (see README "Guarantees").  So
 * does a call whose answer came but could not be recorded (the record
 * transaction failed): the worker remembers it and hands it over in its
 * next transaction that commits, before it claims again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "callanswer.h"
#include "calls.h"
#include "health.h"
#include "outage.h"
#include "outcome.h"
#include "poll.h"
#include "reconcile.h"
#include "schema.h"
#include "secret.h"
#include "workerslot.h"
#include "xact.h"

static SPIPlanPtr state_plan = NULL;

/*
 * The UPDATE that hands "dispatching" calls to reconciliation, saying why
 * (a quoted SQL literal); a WHERE condition may follow.
 */
#define SQL_TO_RECONCILIATION(why) \
	"UPDATE agentphone.calls SET status = " SQL_STATUS(CALL_RECONCILING) "," \
	" last_error = " why "," \
	" next_attempt_at = NULL, updated_at = now()" \
	" WHERE status = " SQL_STATUS(CALL_DISPATCHING)

/*
 * Calls whose POST's answer could not be recorded (int64 *), and the
 * extension they are of.
 */
static List *unrecorded = NIL;
static Oid	unrecorded_extension = InvalidOid;

/*
 * callanswer_recover_orphans hands calls left "dispatching" by a previous
 * worker to reconciliation.  Only one worker exists, so at its start every
 * such call is an orphan.
 */
void
callanswer_recover_orphans(void)
{
	int			ret = SPI_execute(SQL_TO_RECONCILIATION("'the worker stopped while placing this call;"
														" asking the API whether it was placed'"),
								  false, 0);

	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "could not recover interrupted calls");
	if (SPI_processed > 0)
		ereport(LOG,
				(errmsg_plural("agentphone: %llu interrupted call to be reconciled with the API",
							   "agentphone: %llu interrupted calls to be reconciled with the API",
							   SPI_processed, (unsigned long long) SPI_processed),
				 errdetail("The worker stopped after claiming them and before recording the API's answer.")));
}

/*
 * callanswer_forget_unrecorded forgets the calls of callanswer_note_unrecorded
 * (once handed over, or when their extension is gone).
 */
void
callanswer_forget_unrecorded(void)
{
	list_free_deep(unrecorded);
	unrecorded = NIL;
}

/*
 * note_unrecorded remembers the call of POST r, whose answer could not be
 * stored.
 */
static void
note_unrecorded(const ApiRequest *r)
{
	MemoryContext old;
	int64	   *id;

	if (r->extension_oid != unrecorded_extension)
		callanswer_forget_unrecorded();	/* those of a dropped extension */
	old = MemoryContextSwitchTo(TopMemoryContext);
	id = palloc(sizeof(int64));
	*id = r->id;
	unrecorded = lappend(unrecorded, id);
	MemoryContextSwitchTo(old);
	unrecorded_extension = r->extension_oid;
}

/*
 * callanswer_note_unrecorded remembers the calls whose POST is among the
 * answers done (HttpRequest) of extension_oid that a record transaction
 * failed to store: they are left "dispatching", and no other answer will
 * come for them.
 */
void
callanswer_note_unrecorded(List *done, Oid extension_oid)
{
	ListCell   *lc;

	foreach(lc, done)
	{
		ApiRequest *r = (ApiRequest *) ((HttpRequest *) lfirst(lc))->owner;

		if (r->handler == &callanswer_handler && r->extension_oid == extension_oid)
			note_unrecorded(r);
	}
}

/*
 * callanswer_has_unrecorded says whether there are such calls.
 */
bool
callanswer_has_unrecorded(void)
{
	return unrecorded != NIL;
}

/*
 * callanswer_reconcile_unrecorded hands them to reconciliation, as a
 * restart would (the API may have placed them), unless the extension
 * they were of (extension_oid now) is gone.
 */
void
callanswer_reconcile_unrecorded(Oid extension_oid)
{
	Oid			types[1] = {INT8ARRAYOID};
	Datum		v[1];
	Datum	   *ids;
	int			n = 0;
	ListCell   *lc;

	if (extension_oid != unrecorded_extension)
		return;
	ids = palloc(sizeof(Datum) * list_length(unrecorded));
	foreach(lc, unrecorded)
		ids[n++] = Int64GetDatum(*(int64 *) lfirst(lc));
	v[0] = PointerGetDatum(construct_array(ids, n, INT8OID, sizeof(int64),
										   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	if (SPI_execute_with_args(SQL_TO_RECONCILIATION("'the API''s answer could not be recorded;"
													" asking the API whether it was placed'")
							  " AND id = ANY ($1)",
							  1, types, v, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not hand unrecorded calls to reconciliation");
	reconcile_note();
}

/* The UPDATE of a placed call, $6 the API's status (since 1.9: API_STATUS_SET). */
#define PLACED_SQL(API_STATUS_SET) \
	"UPDATE agentphone.calls SET status = $2, api_call_id = $3," \
	" from_number = $4, started_at = $5::timestamptz, last_error = NULL," \
	" next_attempt_at = NULL, updated_at = now()" API_STATUS_SET \
	" WHERE id = $1 AND status IS NOT DISTINCT FROM " SQL_STATUS(CALL_DISPATCHING)

/*
 * store_outcome writes one outcome to its call, if the call is still
 * "dispatching" (nobody else may change it meanwhile, but be safe).
 */
static void
store_outcome(const Outcome *o)
{
	int64		id = o->id;

	if (o->kind == OUTCOME_PLACED)
	{
		static SPIPlanPtr placed_plans[2];	/* without, with api_status */
		bool		raw = agentphone_schema_has(SCHEMA_1_9);
		const char *ours = callstatus_from_api(o->call.status, o->call.ended_at != NULL);
		Oid			types[6] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
		Datum		v[6];
		char		n[6];
		const char *s[5] = {ours ? ours : CALL_IN_PROGRESS,
			o->call.id, o->call.from_number, o->call.started_at, o->call.status};
		SPIPlanPtr	placed_plan;

		v[0] = Int64GetDatum(id), n[0] = ' ';
		for (int i = 0; i < 5; i++)
		{
			n[i + 1] = s[i] ? ' ' : 'n';
			v[i + 1] = s[i] ? CStringGetTextDatum(s[i]) : (Datum) 0;
		}
		placed_plan = agentphone_saved_plan(&placed_plans[raw], raw ?
											PLACED_SQL(", api_status = $6") : PLACED_SQL(""),
											6, types);
		if (SPI_execute_plan(placed_plan, v, n, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not record placed call");
	}
	else
	{
		static const char *const kinds[] = {NULL, CALL_QUEUED, CALL_ERROR, CALL_RECONCILING,
		CALL_QUEUED, CALL_QUEUED};
		bool		uncounted = o->kind == OUTCOME_KEY_REFUSED || o->kind == OUTCOME_UNAVAILABLE;
		bool		requeue = o->kind == OUTCOME_RETRY || uncounted;
		Oid			types[5] = {INT8OID, TEXTOID, INT4OID, TEXTOID, BOOLOID};
		Datum		v[5] = {Int64GetDatum(id), CStringGetTextDatum(kinds[o->kind]),
			Int32GetDatum(o->delay_ms), CStringGetTextDatum(o->message),
		BoolGetDatum(uncounted)};
		char		n[5] = {' ', ' ', requeue ? ' ' : 'n', ' ', ' '};

		/* $5: an attempt the key refused, or the API could not take, is not counted */
		agentphone_saved_plan(&state_plan,
				   "UPDATE agentphone.calls SET status = $2,"
				   " next_attempt_at = now() + $3 * interval '1 millisecond',"
				   " attempts = attempts - $5::integer,"
				   " last_error = $4, updated_at = now()"
				   " WHERE id = $1 AND status IS NOT DISTINCT FROM " SQL_STATUS(CALL_DISPATCHING),
				   5, types);
		if (SPI_execute_plan(state_plan, v, n, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not record call outcome");
	}
}

/*
 * store_step is store_outcome() as a subtransaction's body.
 */
static void
store_step(void *arg)
{
	store_outcome((const Outcome *) arg);
}

/*
 * try_store stores an outcome in a subtransaction; it returns NULL or the
 * error that prevented it.
 */
static char *
try_store(const Outcome *o)
{
	return run_in_subtransaction(store_step, (void *) o);
}

/*
 * record_one stores the outcome of one finished POST /calls.  An
 * outcome that cannot be stored (say, a malformed start time, or a call id the table
 * already holds) still ends the call, as "reconciling" if the API may have
 * placed it and "error" otherwise, so that no call stays "dispatching".
 * Returns the retry delay, or -1.
 */
static int
record_one(HttpRequest *req, bool *outage_over)
{
	CreateRequest *r = (CreateRequest *) req->owner;
	Outcome		o = outcome_of_answer(req, r->hdr.id, r->attempt);
	char	   *failure;

	if (req->status > 0 && !outcome_takes_no_call(req->status))
		*outage_over = outage_note_answer();
	else if (o.kind != OUTCOME_UNAVAILABLE)
		outage_note_other();
	failure = try_store(&o);

	if (failure != NULL)
	{
		Outcome		fallback;

		memset(&fallback, 0, sizeof(fallback));
		fallback.id = r->hdr.id;
		fallback.kind = (o.kind == OUTCOME_PLACED) ? OUTCOME_UNKNOWN : OUTCOME_ERROR;
		fallback.message = psprintf("the API's answer could not be stored: %s", failure);
		ereport(WARNING,
				(errmsg("agentphone: could not record the answer for call %lld",
						(long long) r->hdr.id),
				 errdetail("%s", failure)));
		if ((failure = try_store(&fallback)) != NULL)
		{
			ereport(WARNING,
					(errmsg("agentphone: call %lld could not be updated: %s",
							(long long) r->hdr.id, failure)));
			/* not left "dispatching": reconciled in the next transaction */
			note_unrecorded(&r->hdr);
		}
		else if (fallback.kind == OUTCOME_UNKNOWN)
			reconcile_note();
		return -1;
	}
	if (o.kind == OUTCOME_PLACED)
		poll_note_placed();
	if (o.kind == OUTCOME_UNKNOWN)
		reconcile_note();
	if (o.kind == OUTCOME_RETRY || o.kind == OUTCOME_UNAVAILABLE)
		workerslot_count(COUNT_RETRIED, 1);
	if (o.kind == OUTCOME_KEY_REFUSED)
		agentphone_note_key_refused(req->status, r->key_hash);
	if (o.kind == OUTCOME_ERROR)
	{
		workerslot_count(COUNT_FAILED, 1);
		workerslot_note_error(psprintf("call %lld: %s", (long long) r->hdr.id, o.message), NULL);
	}
	return (o.kind == OUTCOME_RETRY || o.kind == OUTCOME_UNAVAILABLE) ? o.delay_ms : -1;
}

/*
 * release_outage_holds makes due now the queued calls that an outage put
 * off (their last_error says they wait for the API): once the API answers
 * they go out at once, not at the end of their own backoff.  A call a
 * user's transaction holds locked is skipped: it is due by then anyway.
 */
static void
release_outage_holds(void *arg pg_attribute_unused())
{
	static SPIPlanPtr plan = NULL;

	agentphone_saved_plan(&plan,
			   "UPDATE agentphone.calls SET next_attempt_at = now(), updated_at = now()"
			   " WHERE id IN (SELECT w.id FROM agentphone.calls w"
			   "  WHERE w.status = " SQL_STATUS(CALL_QUEUED) " AND w.next_attempt_at > now()"
			   "  AND w.next_attempt_at < 'infinity'"
			   "  AND w.last_error LIKE 'waiting for the AgentPhone API%' FOR UPDATE SKIP LOCKED)",
			   0, NULL);
	if (SPI_execute_plan(plan, NULL, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not release the calls the outage put off");
}

/*
 * record_create is the handler of a POST /calls answer: it stores the
 * outcome and keeps the soonest retry in result.
 */
static void
record_create(HttpRequest *req, RecordResult *result)
{
	bool		outage_over = false;
	int			delay = record_one(req, &outage_over);

	if (outage_over)
	{
		/* in a subtransaction: a failure leaves the calls to their backoff */
		char	   *failure = run_in_subtransaction(release_outage_holds, NULL);

		if (failure != NULL)
			ereport(WARNING,
					(errmsg("agentphone: the calls an outage put off wait for their own backoff"),
					 errdetail("%s", failure)));
		result->requeued = true;	/* claim again at once */
	}

	if (delay >= 0 && (result->soonest_retry_ms < 0 || delay < result->soonest_retry_ms))
		result->soonest_retry_ms = delay;
}

/* A POST /calls answer is recorded in the worker's record transaction. */
const RequestHandler callanswer_handler = {NULL, record_create, NULL};
