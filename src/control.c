/*-------------------------------------------------------------------------
 *
 * control.c
 *		The functions that act on the API directly, from the calling
 *		backend (client.c): agentphone_web_call() creates a browser call,
 *		agentphone_end_call() hangs up a live one.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "access.h"
#include "api.h"
#include "calls.h"
#include "client.h"
#include "grants.h"
#include "request.h"
#include "tables.h"
#include "validate.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(agentphone_web_call);
PG_FUNCTION_INFO_V1(agentphone_end_call);

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

	req = client_request(api_url("/calls/web"), body.data, true, MAX_JSON_BYTES,
				  psprintf("agent \"%s\"", agent));
	PG_RETURN_DATUM(client_body_jsonb(req));
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

	req = client_request(api_url("/calls/%s/end", api_id), "", true, MAX_JSON_BYTES,
				  psprintf("call %lld (\"%s\")", (long long) id, api_id));
	{
		char	   *body = req->body ? pstrdup(req->body) : NULL;
		Datum		answer = client_body_jsonb(req);

		note_ending(id, body);
		PG_RETURN_DATUM(answer);
	}
}

