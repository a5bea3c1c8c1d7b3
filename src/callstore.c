/*-------------------------------------------------------------------------
 *
 * callstore.c
 *		Storing what the API says of a placed call (poll.c asks, this
 *		writes): its state and the API's status, its end, duration and
 *		recording in one UPDATE that changes nothing when nothing changed;
 *		its transcript with its end and the mark transcript_complete in one
 *		subtransaction; a lookup's backoff; a changed snippet.  Each step
 *		runs in a subtransaction of the worker's record transaction, so one
 *		call that cannot be stored holds back no other.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/builtins.h"

#include "calls.h"
#include "callstore.h"
#include "guc.h"
#include "schema.h"
#include "xact.h"

static SPIPlanPtr snippet_plan = NULL;
static SPIPlanPtr turn_plan = NULL;
static SPIPlanPtr backoff_plan = NULL;

/*
 * The UPDATE of a looked-up call: $2 the state, $11 the API's status
 * (since 1.9: the API_* pieces).  A call that is again the dispatcher's or
 * the reconciler's (queued, dispatching, reconciling) is not touched.
 */
#define UPDATE_SQL(API_NEW, API_SET, API_OLD, API_CMP) \
	"WITH new AS (SELECT coalesce($2, c.status) AS status," \
	"   coalesce($3::timestamptz, c.ended_at) AS ended_at," \
	"   coalesce($4, c.duration_seconds) AS duration_seconds," \
	"   coalesce($5, c.recording_available) AS recording_available," \
	"   coalesce($6, c.recording_url) AS recording_url," \
	"   coalesce($7, c.last_transcript_snippet) AS snippet," \
	"   coalesce($8, c.last_error) AS last_error," \
	"   c.transcript_complete OR $10 AS transcript_complete," \
	"   CASE WHEN NOT $10 THEN now() + $9 * interval '1 millisecond' END AS next_poll_at" \
	API_NEW \
	"   FROM agentphone.calls c WHERE c.id = $1)" \
	" UPDATE agentphone.calls c SET status = new.status, ended_at = new.ended_at," \
	" duration_seconds = new.duration_seconds," \
	" recording_available = new.recording_available," \
	" recording_url = new.recording_url, last_transcript_snippet = new.snippet," \
	" last_error = new.last_error, next_poll_at = new.next_poll_at," \
	" transcript_complete = new.transcript_complete, updated_at = now()" API_SET \
	" FROM new WHERE c.id = $1" \
	" AND c.status NOT IN (" SQL_STATUS(CALL_QUEUED) ", " SQL_STATUS(CALL_DISPATCHING) ", " SQL_STATUS(CALL_RECONCILING) ")" \
	" AND (c.status, c.ended_at, c.duration_seconds," \
	" c.recording_available, c.recording_url, c.last_transcript_snippet," \
	" c.last_error, c.next_poll_at IS NULL, c.transcript_complete" API_OLD ")" \
	" IS DISTINCT FROM (new.status, new.ended_at, new.duration_seconds," \
	" new.recording_available, new.recording_url, new.snippet," \
	" new.last_error, new.next_poll_at IS NULL, new.transcript_complete" API_CMP ")"

/*
 * callstore_update stores a looked-up call (fields the API left out keep their
 * value); the WHERE clause skips the UPDATE when nothing changed.
 */
void
callstore_update(void *arg)
{
	static SPIPlanPtr update_plans[2];	/* without, with api_status */
	CallUpdate *u = (CallUpdate *) arg;
	ApiCall    *a = u->call;
	bool		raw = agentphone_schema_has(SCHEMA_1_9);
	const char *ours = u->status ? u->status : callstatus_from_api(a->status, a->ended_at != NULL);
	Oid			types[11] = {INT8OID, TEXTOID, TEXTOID, INT4OID, BOOLOID, TEXTOID, TEXTOID, TEXTOID,
	INT4OID, BOOLOID, TEXTOID};
	Datum		v[11];
	char		n[11];
	const char *texts[11] = {NULL, ours, a->ended_at, NULL, NULL, a->recording_url,
	a->snippet, u->flag, NULL, NULL, a->status};
	SPIPlanPtr	plan;

	for (int i = 0; i < 11; i++)
	{
		n[i] = texts[i] ? ' ' : 'n';
		v[i] = texts[i] ? CStringGetTextDatum(texts[i]) : (Datum) 0;
	}
	v[0] = Int64GetDatum(u->id), n[0] = ' ';
	v[3] = Int32GetDatum(a->duration_seconds), n[3] = a->duration_seconds >= 0 ? ' ' : 'n';
	v[4] = BoolGetDatum(a->recording_available == 1), n[4] = a->recording_available >= 0 ? ' ' : 'n';
	v[8] = Int32GetDatum(u->backoff_ms), n[8] = u->backoff_ms >= 0 ? ' ' : 'n';
	v[9] = BoolGetDatum(u->transcript_complete), n[9] = ' ';

	plan = agentphone_saved_plan(&update_plans[raw], raw ?
								 UPDATE_SQL(", coalesce($11, c.api_status) AS api_status",
											", api_status = new.api_status",
											", c.api_status", ", new.api_status") :
								 UPDATE_SQL("", "", "", ""),
								 11, types);
	if (SPI_execute_plan(plan, v, n, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update a polled call");
}

static const size_t turn_columns[] = {
	offsetof(ApiTurn, role), offsetof(ApiTurn, content),
	offsetof(ApiTurn, created_at)
};

/*
 * callstore_transcript stores all turns of a call in one statement, then the
 * call's end and the mark transcript_complete in one UPDATE; a replay
 * stores nothing twice.
 */
void
callstore_transcript(void *arg)
{
	TranscriptWrite *w = (TranscriptWrite *) arg;
	Oid			types[4] = {INT8OID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		v[4] = {Int64GetDatum(w->id)};
	ApiCall		unchanged = {.duration_seconds = -1,.recording_available = -1};
	CallUpdate	u = {w->id, w->call ? w->call : &unchanged, NULL, NULL, -1, true};

	list_text_arrays(w->turns, turn_columns, lengthof(turn_columns), v + 1);

	agentphone_saved_plan(&turn_plan,
						  "INSERT INTO agentphone.transcripts (call_id, seq, role, content, created_at)"
						  " SELECT $1, t.seq, t.role, t.content, t.created_at::timestamptz"
						  " FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.text[]),"
						  "   pg_catalog.unnest($3::pg_catalog.text[]), pg_catalog.unnest($4::pg_catalog.text[]))"
						  "   WITH ORDINALITY AS t(role, content, created_at, seq)"
						  " WHERE NOT EXISTS (SELECT FROM agentphone.transcripts o"
						  "   WHERE o.call_id = $1 AND o.seq = t.seq)",
						  4, types);
	if (SPI_execute_plan(turn_plan, v, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not store a transcript");
	callstore_update(&u);
}

/*
 * callstore_backoff postpones the next lookup of a call after a failed one,
 * doubling the delay up to an hour, and says why in last_error.
 */
void
callstore_backoff(void *arg)
{
	Backoff    *b = (Backoff *) arg;
	Oid			types[3] = {INT8OID, TEXTOID, INT4OID};
	Datum		v[3] = {Int64GetDatum(b->id), CStringGetTextDatum(b->why),
	Int32GetDatum(agentphone_poll_interval_ms)};

	agentphone_saved_plan(&backoff_plan,
						  "UPDATE agentphone.calls SET last_error = $2, updated_at = now(),"
						  " next_poll_at = now() + least(interval '1 hour', greatest($3 * interval '2 millisecond',"
						  "   2 * (now() - coalesce(next_poll_at, now()))))"
						  " WHERE id = $1",
						  3, types);
	if (SPI_execute_plan(backoff_plan, v, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not postpone a lookup");
}

/*
 * callstore_run runs step in a subtransaction and logs its failure of a step for one call; the call is looked at
 * again in a later cycle.
 */
void
callstore_run(void (*step) (void *), void *arg, int64 id)
{
	char	   *failure = run_in_subtransaction(step, arg);

	if (failure != NULL)
		ereport(WARNING,
				(errmsg("agentphone: could not store what the API said about call %lld",
						(long long) id),
				 errdetail("%s", failure)));
}

/*
 * callstore_snippet stores one changed transcript snippet.
 */
void
callstore_snippet(void *arg)
{
	SnippetUpdate *u = (SnippetUpdate *) arg;
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		v[2] = {Int64GetDatum(u->id), CStringGetTextDatum(u->snippet)};

	agentphone_saved_plan(&snippet_plan,
						  "UPDATE agentphone.calls SET last_transcript_snippet = $2, updated_at = now()"
						  " WHERE id = $1 AND last_transcript_snippet IS DISTINCT FROM $2",
						  2, types);
	if (SPI_execute_plan(snippet_plan, v, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not store a transcript snippet");
}
