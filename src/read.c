/*-------------------------------------------------------------------------
 *
 * read.c
 *		Read and control functions that ask the API directly, from the
 *		calling backend: agentphone_get_call(), agentphone_list_calls(),
 *		agentphone_list_calls_for_number(), agentphone_call_transcript(),
 *		agentphone_call_recording(), agentphone_web_call() and
 *		agentphone_end_call().
 *
 * Unlike agentphone_call(), these are synchronous: the backend waits for
 * the answer on its latch, so statement_timeout and pg_cancel_backend()
 * interrupt the wait (the request is then dropped).  Answers are capped in
 * size and every unsuccessful one becomes an SQL error saying what the API
 * said.  No transaction work depends on them, so no call is placed here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "access.h"
#include "agents.h"
#include "api.h"
#include "calls.h"
#include "grants.h"
#include "guc.h"
#include "http.h"
#include "request.h"
#include "secret.h"
#include "tables.h"
#include "validate.h"
#include "xact.h"


PG_FUNCTION_INFO_V1(agentphone_get_call);
PG_FUNCTION_INFO_V1(agentphone_list_calls);
PG_FUNCTION_INFO_V1(agentphone_list_calls_for_number);
PG_FUNCTION_INFO_V1(agentphone_call_transcript);
PG_FUNCTION_INFO_V1(agentphone_call_recording);
PG_FUNCTION_INFO_V1(agentphone_web_call);
PG_FUNCTION_INFO_V1(agentphone_end_call);
PG_FUNCTION_INFO_V1(agentphone_stream_transcript);
PG_FUNCTION_INFO_V1(agentphone_refresh_agents);

#define MAX_LIST_ROWS 100000
#define MAX_RECORDING_BYTES (64 * 1024 * 1024)
#define MAX_JSON_BYTES (8 * 1024 * 1024)

/*
 * require_key raises an error when no API key is configured or the API
 * URL may not be used.
 */
static void
require_key(void)
{
	const char *problem = agentphone_url_problem();

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s", problem),
				 errhint("Ask a superuser to correct the setting and reload the configuration.")));
	if (agentphone_api_key_value() == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no AgentPhone API key: %s", agentphone_key_problem()),
				 errhint("%s", agentphone_key_hint())));
}

/*
 * backend_http_begin readies this session's requests: a key and URL that
 * may be used, and libcurl.
 */
static void
backend_http_begin(void)
{
	require_key();
	http_init();
}

/*
 * check_id raises an error unless s can name an API object in a URL path.
 */
static char *
check_id(const char *argname, text *t)
{
	char	   *s = text_to_cstring(t);

	if (!api_id_is_safe(s))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s \"%s\"", argname, s),
				 errdetail("AgentPhone ids have 1 to 128 letters, digits, \"_\", \"-\" or \".\"."),
				 errhint("Use the id as the API returned it, e.g. 'call_123abc'.")));
	return s;
}

/*
 * reachable_call_id checks an API call id argument and that the current
 * role may reach that call (access.c).
 */
static char *
reachable_call_id(text *t)
{
	char	   *id = check_id("call_id", t);

	SPI_connect();
	agentphone_require_api_call(id);
	SPI_finish();
	return id;
}

/*
 * wait_for performs req, waiting on the latch so that interrupts are
 * served; a cancel or timeout drops the request and raises the error.
 */
static HttpRequest *
wait_for(HttpRequest *req)
{
	PG_TRY();
	{
		while (http_take_done(req) == NULL)
		{
			http_wait(1000);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_CATCH();
	{
		http_abort(req);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return req;
}

/*
 * fail raises the SQL error for an unsuccessful request; what names the
 * object asked for, for the 404 message.
 */
static void
fail(HttpRequest *req, const char *what)
{
	char	   *text;
	long		st = req->status;
	bool		too_large = req->too_large;

	if (too_large || st == 0)
	{
		text = pstrdup(http_failure_text(req));
		http_free(req);
		ereport(ERROR,
				(errcode(too_large ? ERRCODE_PROGRAM_LIMIT_EXCEEDED : ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not get an answer from the AgentPhone API: %s", text),
				 errhint("Try again; if it keeps failing, ask a superuser to check agentphone.api_url, agentphone.http_proxy and agentphone.request_timeout.")));
	}
	text = api_said(req);
	http_free(req);
	if (st == 404)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("AgentPhone has no %s", what),
				 errdetail("%s", text),
				 errhint("Pass an id the API returned: the api_call_id column of agentphone.calls, like 'call_123abc'.")));
	if (st == 409)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s is no longer live", what),
				 errdetail("%s", text),
				 errhint("It has ended: read it with agentphone_get_call() or from agentphone.calls.")));
	ereport(ERROR,
			(errcode(st == 401 || st == 403 ? ERRCODE_INSUFFICIENT_PRIVILEGE :
					 st == 422 || st == 400 ? ERRCODE_INVALID_PARAMETER_VALUE :
					 st == 429 ? ERRCODE_CONFIGURATION_LIMIT_EXCEEDED :
					 ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
			 errmsg("%s", text),
			 st == 401 ? errhint("Ask a superuser to check the key in %s.", agentphone_key_source()) : 0));
}

/*
 * request performs one request and returns it when the API answered 2xx
 * (the caller frees it); otherwise it raises the matching error.
 */
static HttpRequest *
request(const char *url, const char *json, bool auth, size_t max_bytes, const char *what)
{
	HttpOptions opt;
	HttpRequest *req;

	backend_http_begin();
	opt = request_options(auth ? agentphone_api_key_value() : NULL, NULL);
	req = http_start(url, json, &opt, NULL);
	req->max_bytes = max_bytes;
	req = wait_for(req);
	if (req->result != CURLE_OK || req->status < 200 || req->status >= 300)
		fail(req, what);
	return req;
}

/*
 * body_jsonb returns an answer's body as jsonb.
 */
static Datum
body_jsonb(HttpRequest *req)
{
	Datum		d = DirectFunctionCall1(jsonb_in, CStringGetDatum(req->body ? req->body : "null"));

	http_free(req);
	return d;
}

/*
 * agentphone_get_call returns the API's call object, transcripts included.
 */
Datum
agentphone_get_call(PG_FUNCTION_ARGS)
{
	char	   *id;

	agentphone_require_grant(false);
	id = reachable_call_id(PG_GETARG_TEXT_PP(0));
	PG_RETURN_DATUM(body_jsonb(request(api_url("/calls/%s", id), NULL, true, MAX_JSON_BYTES,
									   psprintf("call \"%s\"", id))));
}

/*
 * time_datum turns an ISO-8601 string (already checked) into timestamptz.
 */
static Datum
time_datum(const char *s, bool *isnull)
{
	*isnull = (s == NULL);
	return s ? DirectFunctionCall3(timestamptz_in, CStringGetDatum(s),
								   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)) : (Datum) 0;
}

/*
 * put_call adds one call summary as a row of the list functions.
 */
static void
put_call(ReturnSetInfo *rsinfo, ApiCall *c)
{
	Datum		v[12];
	bool		n[12];
	const char *texts[6] = {c->id, c->agent_id, c->direction, c->status, c->from_number, c->to_number};

	for (int i = 0; i < 6; i++)
	{
		n[i] = (texts[i] == NULL);
		v[i] = texts[i] ? CStringGetTextDatum(texts[i]) : (Datum) 0;
	}
	v[6] = time_datum(c->started_at, &n[6]);
	v[7] = time_datum(c->ended_at, &n[7]);
	n[8] = c->duration_seconds < 0;
	v[8] = Int32GetDatum(c->duration_seconds);
	n[9] = (c->snippet == NULL);
	v[9] = c->snippet ? CStringGetTextDatum(c->snippet) : (Datum) 0;
	n[10] = c->recording_available < 0;
	v[10] = BoolGetDatum(c->recording_available == 1);
	n[11] = (c->recording_url == NULL);
	v[11] = c->recording_url ? CStringGetTextDatum(c->recording_url) : (Datum) 0;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
}

/*
 * check_max_rows checks the max_rows argument.
 */
static int
check_max_rows(int max_rows)
{
	if (max_rows < 0 || max_rows > MAX_LIST_ROWS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_rows must be between 0 and %d", MAX_LIST_ROWS),
				 errhint("Read more in pages: pass the cursor the last page ended with.")));
	return max_rows;
}

/*
 * list_pages reads pages of base_url (which has a "?") until max_rows
 * calls or the last page, and returns them as rows.
 */
static void
list_pages(FunctionCallInfo fcinfo, const char *base_url, int max_rows, const char *what)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			rows = 0;
	bool		has_more = true;

	InitMaterializedSRF(fcinfo, 0);
	for (int offset = 0; has_more && rows < max_rows; offset += API_PAGE_LIMIT)
	{
		HttpRequest *req = request(psprintf("%slimit=%d&offset=%d", base_url,
											Min(API_PAGE_LIMIT, max_rows - rows), offset),
								   NULL, true, MAX_JSON_BYTES, what);
		List	   *page;
		ListCell   *lc;
		const char *problem = api_decode_list(req->body, &page, &has_more);

		http_free(req);
		if (problem)
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("could not read the AgentPhone API's list of calls: %s", problem),
					 errhint("Try again; agentphone.calls holds every call agentphone placed.")));
		foreach(lc, page)
		{
			if (rows++ < max_rows)
				put_call(rsinfo, lfirst(lc));
		}
		if (list_length(page) == 0)
			break;
	}
}

/*
 * add_param appends "name=value&" to buf, URL-escaped, when value is set.
 */
static void
add_param(StringInfo buf, const char *name, FunctionCallInfo fcinfo, int argno)
{
	char	   *value;
	char	   *escaped;

	if (PG_ARGISNULL(argno))
		return;
	value = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	escaped = http_escape(value);
	appendStringInfo(buf, "%s=%s&", name, escaped);
	pfree(escaped);
}

/*
 * agentphone_list_calls lists the account's calls, newest first, following
 * the API's pagination up to max_rows.
 */
Datum
agentphone_list_calls(PG_FUNCTION_ARGS)
{
	StringInfoData url;
	int			max_rows;

	agentphone_require_grant(true);
	max_rows = check_max_rows(PG_ARGISNULL(3) ? 100 : PG_GETARG_INT32(3));
	initStringInfo(&url);
	appendStringInfoString(&url, api_url("/calls?"));
	add_param(&url, "status", fcinfo, 0);
	add_param(&url, "direction", fcinfo, 1);
	add_param(&url, "search", fcinfo, 2);
	list_pages(fcinfo, url.data, max_rows, "list of calls");
	return (Datum) 0;
}

/*
 * agentphone_list_calls_for_number lists the calls of one AgentPhone
 * number.
 */
Datum
agentphone_list_calls_for_number(PG_FUNCTION_ARGS)
{
	char	   *id;
	int			max_rows;

	agentphone_require_grant(true);
	id = check_id("number_id", PG_GETARG_TEXT_PP(0));
	max_rows = check_max_rows(PG_ARGISNULL(1) ? 100 : PG_GETARG_INT32(1));
	list_pages(fcinfo, api_url("/numbers/%s/calls?", id), max_rows,
			   psprintf("number \"%s\"", id));
	return (Datum) 0;
}

/*
 * agentphone_call_transcript returns a call's transcript, turn by turn.
 */
Datum
agentphone_call_transcript(PG_FUNCTION_ARGS)
{
	char	   *id;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HttpRequest *req;
	List	   *turns;
	ListCell   *lc;
	const char *problem;

	agentphone_require_grant(false);
	id = reachable_call_id(PG_GETARG_TEXT_PP(0));
	InitMaterializedSRF(fcinfo, 0);
	req = request(api_url("/calls/%s/transcript", id), NULL, true, MAX_JSON_BYTES,
				  psprintf("call \"%s\"", id));
	problem = api_decode_transcript(req->body, &turns);
	http_free(req);
	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("could not read the transcript of call \"%s\": %s", id, problem),
				 errhint("Try again; the worker stores every ended call's transcript in agentphone.transcripts.")));
	foreach(lc, turns)
	{
		ApiTurn    *t = lfirst(lc);
		Datum		v[4];
		bool		n[4] = {false, false, false, false};

		v[0] = Int32GetDatum(foreach_current_index(lc) + 1);
		v[1] = CStringGetTextDatum(t->role);
		v[2] = CStringGetTextDatum(t->content);
		v[3] = time_datum(t->created_at, &n[3]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	}
	return (Datum) 0;
}

/*
 * agentphone_call_recording returns a call's recording (audio/wav).  The
 * API serves it without authentication; no key is sent.
 */
Datum
agentphone_call_recording(PG_FUNCTION_ARGS)
{
	char	   *id;
	HttpRequest *req;
	bytea	   *result;

	agentphone_require_grant(false);
	id = reachable_call_id(PG_GETARG_TEXT_PP(0));
	req = request(api_url("/calls/%s/recording", id), NULL, false,
				  MAX_RECORDING_BYTES, psprintf("recording of call \"%s\"", id));
	result = (bytea *) palloc(VARHDRSZ + req->body_len);
	SET_VARSIZE(result, VARHDRSZ + req->body_len);
	if (req->body_len > 0)
		memcpy(VARDATA(result), req->body, req->body_len);
	http_free(req);
	PG_RETURN_BYTEA_P(result);
}

/*
 * agentphone_web_call creates a browser call for an agent and returns the
 * API's answer ({accessToken, callId}).
 */
Datum
agentphone_web_call(PG_FUNCTION_ARGS)
{
	char	   *agent = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	Jsonb	   *metadata = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	Jsonb	   *variables = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	StringInfoData body;
	HttpRequest *req;

	agentphone_require_grant(false);
	agentphone_check_text("agent_id", agent, MAX_ID_LEN, true, false);
	if (metadata && !JB_ROOT_IS_OBJECT(metadata))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("metadata must be a JSON object"),
				 errhint("Pass an object, as in jsonb_build_object('campaign', 'spring').")));
	variables = agentphone_normalize_variables(variables);

	initStringInfo(&body);
	appendStringInfoString(&body, "{\"agentId\": ");
	escape_json(&body, agent);
	if (metadata)
		appendStringInfo(&body, ", \"metadata\": %s",
						 JsonbToCString(NULL, &metadata->root, VARSIZE(metadata)));
	if (variables)
		appendStringInfo(&body, ", \"variables\": %s",
						 JsonbToCString(NULL, &variables->root, VARSIZE(variables)));
	appendStringInfoChar(&body, '}');

	req = request(api_url("/calls/web"), body.data, true, MAX_JSON_BYTES,
				  psprintf("agent \"%s\"", agent));
	PG_RETURN_DATUM(body_jsonb(req));
}

/*
 * note_ending stores "ending" in call id's row when the API's answer to End
 * Call says so and the row still says the call is live: the caller sees
 * the hang-up at once, and the worker follows the call to its end.
 */
static void
note_ending(int64 id, const char *body)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT8OID};
	Datum		v[1] = {Int64GetDatum(id)};
	ApiCall		answer;
	AgentphoneUser caller;

	if (body == NULL || api_decode_call(body, &answer) != NULL ||
		answer.status == NULL || strcmp(answer.status, CALL_ENDING) != 0)
		return;
	SPI_connect();
	agentphone_become_owner(&caller);
	agentphone_saved_plan(&plan,
				  "UPDATE agentphone.calls SET status = " SQL_STATUS(CALL_ENDING) ", updated_at = now()"
				  " WHERE id = $1 AND status IS NOT DISTINCT FROM " SQL_STATUS(CALL_IN_PROGRESS),
				  1, types);
	if (SPI_execute_plan(plan, v, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not store that call %lld is ending", (long long) id);
	agentphone_restore_user(&caller);
	SPI_finish();
}

/*
 * agentphone_end_call ends a live call placed through agentphone (by our
 * id) and returns the API's answer.  The worker follows the call to its
 * end as usual.
 */
Datum
agentphone_end_call(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	Oid			types[1] = {INT8OID};
	Datum		v[1] = {Int64GetDatum(id)};
	char	   *api_id = NULL;
	HttpRequest *req;

	agentphone_require_grant(false);
	SPI_connect();
	if (SPI_execute_with_args("SELECT api_call_id FROM agentphone.calls WHERE id = $1",
							  1, types, v, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read call %lld", (long long) id);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("call %lld does not exist", (long long) id),
				 errhint("Pass the id that agentphone_call() returned.")));
	api_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (api_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("call %lld has not been placed", (long long) id),
				 errhint("A queued call can be canceled with agentphone_cancel().")));
	api_id = MemoryContextStrdup(TopTransactionContext, api_id);
	SPI_finish();
	if (!api_id_is_safe(api_id))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("call %lld has an API id that cannot be used in a URL", (long long) id),
				 errhint("End it from the AgentPhone dashboard; its api_call_id was not written by agentphone.")));
	/* refused before the hang-up, not after it, if "ending" cannot be stored */
	agentphone_require_safe_tables();

	req = request(api_url("/calls/%s/end", api_id), "", true, MAX_JSON_BYTES,
				  psprintf("call %lld (\"%s\")", (long long) id, api_id));
	{
		char	   *body = req->body ? pstrdup(req->body) : NULL;
		Datum		answer = body_jsonb(req);

		note_ending(id, body);
		PG_RETURN_DATUM(answer);
	}
}

/* Where agentphone_stream_transcript() is in its stream. */
typedef struct TranscriptStream
{
	HttpRequest *req;			/* NULL once dropped */
	size_t		pos;			/* of the next event in req->body */
	int			seq;			/* of the last turn returned */
	TimestampTz deadline;
	bool		over;			/* the closing row was returned */
	ExprContext *econtext;		/* where end_stream() is registered */
} TranscriptStream;

/*
 * The streams open in this session, each with the subtransaction that
 * opened it (in TopMemoryContext): a query that stops between two rows
 * and then fails runs no cleanup of its own, so the end of a
 * (sub)transaction drops what it left open.
 */
typedef struct OpenStream
{
	HttpRequest *req;
	SubTransactionId subid;
} OpenStream;

static List *open_streams = NIL;

/*
 * forget_stream takes req off the open streams; drop_stream also aborts it.
 */
static void
forget_stream(HttpRequest *req)
{
	ListCell   *lc;

	foreach(lc, open_streams)
	{
		OpenStream *o = lfirst(lc);

		if (o->req == req)
		{
			open_streams = foreach_delete_current(open_streams, lc);
			pfree(o);
			break;
		}
	}
}

static void
drop_stream(HttpRequest *req)
{
	forget_stream(req);
	http_abort(req);
}

/*
 * drop_streams_of aborts the streams opened in subtransaction subid (any,
 * for InvalidSubTransactionId).
 */
static void
drop_streams_of(SubTransactionId subid)
{
	ListCell   *lc;

	foreach(lc, open_streams)
	{
		OpenStream *o = lfirst(lc);

		if (subid == InvalidSubTransactionId || o->subid == subid)
		{
			http_abort(o->req);
			open_streams = foreach_delete_current(open_streams, lc);
			pfree(o);
		}
	}
}

static void
streams_xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		drop_streams_of(InvalidSubTransactionId);
}

static void
streams_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	(void) parentSubid;
	(void) arg;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		drop_streams_of(mySubid);
}

/*
 * remember_stream notes req as an open stream of the current
 * subtransaction.
 */
static void
remember_stream(HttpRequest *req)
{
	static bool registered = false;
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	OpenStream *o = palloc(sizeof(OpenStream));

	if (!registered)
	{
		RegisterXactCallback(streams_xact_callback, NULL);
		RegisterSubXactCallback(streams_subxact_callback, NULL);
		registered = true;
	}
	o->req = req;
	o->subid = GetCurrentSubTransactionId();
	open_streams = lappend(open_streams, o);
	MemoryContextSwitchTo(old);
}

/*
 * stream_row forms one row: a turn (event "turn"), or, with t NULL, the
 * closing row that says why the stream stopped.
 */
static Datum
stream_row(FuncCallContext *funcctx, int seq, ApiTurn *t, const char *event)
{
	Datum		v[5];
	bool		n[5] = {t == NULL, t == NULL, t == NULL, true, false};

	if (t != NULL)
	{
		v[0] = Int32GetDatum(seq);
		v[1] = CStringGetTextDatum(t->role);
		v[2] = CStringGetTextDatum(t->content);
		v[3] = time_datum(t->created_at, &n[3]);
	}
	v[4] = CStringGetTextDatum(event);
	return HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc, v, n));
}

/*
 * next_stream_event waits for the next turn of the stream, returned in
 * *turn, or for its end: the call ended ("ended"), the server closed the
 * stream ("closed") or the deadline passed ("timeout"), returned.  A
 * transfer that failed (reset, too large) is an error.
 */
static const char *
next_stream_event(TranscriptStream *st, ApiTurn **turn)
{
	HttpRequest *req = st->req;

	*turn = NULL;
	for (;;)
	{
		char	   *event;
		char	   *data;
		long		left;

		while (req->body && api_sse_next(req->body, req->body_len, &st->pos, &event, &data))
		{
			if (strcmp(event, "ended") == 0)
				return "ended";
			if (strcmp(event, "turn") == 0 && (*turn = api_decode_turn(data)) != NULL)
				return NULL;
		}
		if (http_is_done(req) && (req->result != CURLE_OK || req->too_large))
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("the transcript stream broke off: %s", http_failure_text(req)),
					 errhint("Call agentphone_stream_transcript() again: a stream replays the turns so far.")));
		if (http_is_done(req))
			return "closed";	/* the server closed the stream */
		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), st->deadline);
		if (left <= 0)
			return "timeout";
		http_wait(Min(left, 1000));
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * open_stream starts the transcript stream of call id and waits for its
 * status line, so that a 404 is an error before any row.
 */
static HttpRequest *
open_stream(const char *id, int64 timeout_ms)
{
	HttpOptions opt;
	HttpRequest *req;

	backend_http_begin();
	opt = request_options(agentphone_api_key_value(), NULL);
	opt.timeout_ms = timeout_ms + 5000;
	opt.accept = "text/event-stream";
	req = http_start(api_url("/calls/%s/transcript/stream", id), NULL, &opt, NULL);
	req->max_bytes = MAX_JSON_BYTES;
	remember_stream(req);
	while (!http_is_done(req) && http_status_so_far(req) == 0)
	{
		http_wait(100);
		CHECK_FOR_INTERRUPTS();
	}
	if (req->status != 200)
	{
		while (!http_is_done(req))	/* the whole error body */
		{
			http_wait(1000);
			CHECK_FOR_INTERRUPTS();
		}
		forget_stream(req);
		fail(http_take_done(req), psprintf("call \"%s\"", id));
	}
	return req;
}

/*
 * end_stream drops the stream when the query stops reading rows early.
 */
static void
end_stream(Datum arg)
{
	TranscriptStream *st = (TranscriptStream *) DatumGetPointer(arg);

	if (st->req != NULL)
		drop_stream(st->req);
	st->req = NULL;
}

/*
 * agentphone_stream_transcript follows a call's live transcript stream
 * (server-sent events) and returns each turn as a row as it arrives
 * (event "turn"), then one closing row whose event says why the stream
 * stopped: "ended" (the call ended), "timeout", or "closed" (the server
 * closed the stream without saying the call ended).  A finished call's
 * stream replays its turns and ends at once.  (With the 4 columns of 1.2,
 * not yet updated, there is no closing row.)
 */
Datum
agentphone_stream_transcript(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	TranscriptStream *st;
	ApiTurn    *turn;
	const char *end;

	agentphone_require_grant(false);
	if (SRF_IS_FIRSTCALL())
	{
		char	   *id = reachable_call_id(PG_GETARG_TEXT_PP(0));
		int64		timeout_ms = agentphone_interval_ms(PG_GETARG_INTERVAL_P(1));
		MemoryContext old;
		TupleDesc	desc;

		if (timeout_ms > 24 * 3600 * 1000)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("timeout must not exceed 24 hours"),
					 errhint("Pass a shorter interval, such as '10 minutes', and call it again if needed.")));
		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		funcctx->tuple_desc = BlessTupleDesc(desc);
		st = palloc0(sizeof(TranscriptStream));
		st->req = open_stream(id, timeout_ms);
		st->deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
		funcctx->user_fctx = st;
		st->econtext = ((ReturnSetInfo *) fcinfo->resultinfo)->econtext;
		RegisterExprContextCallback(st->econtext, end_stream, PointerGetDatum(st));
		MemoryContextSwitchTo(old);
	}
	funcctx = SRF_PERCALL_SETUP();
	st = (TranscriptStream *) funcctx->user_fctx;
	if (!st->over && st->req != NULL)
	{
		end = next_stream_event(st, &turn);
		if (end == NULL)
			SRF_RETURN_NEXT(funcctx, stream_row(funcctx, ++st->seq, turn, "turn"));
		st->over = true;
		drop_stream(st->req);
		st->req = NULL;
		if (funcctx->tuple_desc->natts >= 5)
			SRF_RETURN_NEXT(funcctx, stream_row(funcctx, 0, NULL, end));
	}
	/* st goes with the function's memory: end_stream() must not see it */
	UnregisterExprContextCallback(st->econtext, end_stream, PointerGetDatum(st));
	SRF_RETURN_DONE(funcctx);
}

/*
 * agentphone_refresh_agents fetches the account's agents and their
 * numbers now, every page, and replaces the stored list (agents.c); it
 * returns how many agents there are.  A failed page changes nothing.
 */
Datum
agentphone_refresh_agents(PG_FUNCTION_ARGS)
{
	List	   *agents = NIL;
	bool		more = true;
	AgentphoneUser caller;

	agentphone_require_grant(true);
	(void) fcinfo;				/* it takes no argument */
	PreventCommandIfReadOnly("agentphone_refresh_agents()");
	for (int offset = 0; more; offset = list_length(agents))
	{
		HttpRequest *req = request(agents_url(offset), NULL, true, MAX_JSON_BYTES, "list of agents");
		List	   *page;
		const char *problem = api_decode_agents(req->body, &page, &more);

		http_free(req);
		if (problem != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("could not read the AgentPhone API's list of agents: %s", problem),
					 errhint("Try again; the stored list is unchanged.")));
		agents = list_concat(agents, page);
		if (page == NIL)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	SPI_connect();
	agentphone_become_owner(&caller);
	agents_store(agents);
	agentphone_restore_user(&caller);
	SPI_finish();
	PG_RETURN_INT32(list_length(agents));
}
