/*-------------------------------------------------------------------------
 *
 * read.c
 *		The functions that read from the API directly, from the calling
 *		backend (client.c): agentphone_get_call(), agentphone_list_calls(),
 *		agentphone_list_calls_for_number(), agentphone_call_transcript(),
 *		agentphone_call_recording(), and agentphone_refresh_agents(), which
 *		stores what it read.  No call is placed here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "access.h"
#include "agents.h"
#include "api.h"
#include "client.h"
#include "grants.h"
#include "request.h"

PG_FUNCTION_INFO_V1(agentphone_get_call);
PG_FUNCTION_INFO_V1(agentphone_list_calls);
PG_FUNCTION_INFO_V1(agentphone_list_calls_for_number);
PG_FUNCTION_INFO_V1(agentphone_call_transcript);
PG_FUNCTION_INFO_V1(agentphone_call_recording);
PG_FUNCTION_INFO_V1(agentphone_refresh_agents);

#define MAX_LIST_ROWS 100000
#define MAX_RECORDING_BYTES (64 * 1024 * 1024)

/*
 * agentphone_get_call returns the API's call object, transcripts included.
 */
Datum
agentphone_get_call(PG_FUNCTION_ARGS)
{
	char	   *id;

	agentphone_require_grant(false);
	id = client_reachable_call_id(PG_GETARG_TEXT_PP(0));
	PG_RETURN_DATUM(client_body_jsonb(client_request(api_url("/calls/%s", id), NULL, true, MAX_JSON_BYTES,
									   psprintf("call \"%s\"", id))));
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
	v[6] = client_time_datum(c->started_at, &n[6]);
	v[7] = client_time_datum(c->ended_at, &n[7]);
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
		HttpRequest *req = client_request(psprintf("%slimit=%d&offset=%d", base_url,
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
	id = client_check_id("number_id", PG_GETARG_TEXT_PP(0));
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
	id = client_reachable_call_id(PG_GETARG_TEXT_PP(0));
	InitMaterializedSRF(fcinfo, 0);
	req = client_request(api_url("/calls/%s/transcript", id), NULL, true, MAX_JSON_BYTES,
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
		v[3] = client_time_datum(t->created_at, &n[3]);
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
	id = client_reachable_call_id(PG_GETARG_TEXT_PP(0));
	req = client_request(api_url("/calls/%s/recording", id), NULL, false,
				  MAX_RECORDING_BYTES, psprintf("recording of call \"%s\"", id));
	result = (bytea *) palloc(VARHDRSZ + req->body_len);
	SET_VARSIZE(result, VARHDRSZ + req->body_len);
	if (req->body_len > 0)
		memcpy(VARDATA(result), req->body, req->body_len);
	http_free(req);
	PG_RETURN_BYTEA_P(result);
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
		HttpRequest *req = client_request(agents_url(offset), NULL, true, MAX_JSON_BYTES, "list of agents");
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

