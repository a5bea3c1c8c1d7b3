/*-------------------------------------------------------------------------
 *
 * client.c
 *		The calling backend's synchronous client of the API: the SQL
 *		functions that ask the API directly (read.c, control.c, stream.c)
 *		send through it.
 *
 * Unlike agentphone_call(), these requests are synchronous: the backend
 * waits for the answer on its latch, so statement_timeout and
 * pg_cancel_backend() interrupt the wait (the request is then dropped).
 * Answers are capped in size, and every unsuccessful one becomes an SQL
 * error, with the SQLSTATE its HTTP status maps to, saying what the API
 * said.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "access.h"
#include "api.h"
#include "client.h"
#include "request.h"
#include "secret.h"

/*
 * client_require_key raises an error when no API key is configured or the API
 * URL may not be used.
 */
void
client_require_key(void)
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
 * client_begin readies this session's requests: a key and URL that
 * may be used, and libcurl.
 */
void
client_begin(void)
{
	client_require_key();
	http_init();
}

/*
 * client_check_id raises an error unless s can name an API object in a URL path.
 */
char *
client_check_id(const char *argname, text *t)
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
 * client_reachable_call_id checks an API call id argument and that the current
 * role may reach that call (access.c).
 */
char *
client_reachable_call_id(text *t)
{
	char	   *id = client_check_id("call_id", t);

	SPI_connect();
	agentphone_require_api_call(id);
	SPI_finish();
	return id;
}

/*
 * client_wait_for performs req, waiting on the latch so that interrupts are
 * served; a cancel or timeout drops the request and raises the error.
 */
HttpRequest *
client_wait_for(HttpRequest *req)
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
 * client_fail raises the SQL error for an unsuccessful request; what names the
 * object asked for, for the 404 message.
 */
void
client_fail(HttpRequest *req, const char *what)
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
 * client_request performs one request and returns it when the API answered 2xx
 * (the caller frees it); otherwise it raises the matching error.
 */
HttpRequest *
client_request(const char *url, const char *json, bool auth, size_t max_bytes, const char *what)
{
	HttpOptions opt;
	HttpRequest *req;

	client_begin();
	opt = request_options(auth ? agentphone_api_key_value() : NULL, NULL);
	req = http_start(url, json, &opt, NULL);
	req->max_bytes = max_bytes;
	req = client_wait_for(req);
	if (req->result != CURLE_OK || req->status < 200 || req->status >= 300)
		client_fail(req, what);
	return req;
}

/*
 * client_body_jsonb returns an answer's body as jsonb.
 */
Datum
client_body_jsonb(HttpRequest *req)
{
	Datum		d = DirectFunctionCall1(jsonb_in, CStringGetDatum(req->body ? req->body : "null"));

	http_free(req);
	return d;
}

/*
 * client_time_datum turns an ISO-8601 string (already checked) into timestamptz.
 */
Datum
client_time_datum(const char *s, bool *isnull)
{
	*isnull = (s == NULL);
	return s ? DirectFunctionCall3(timestamptz_in, CStringGetDatum(s),
								   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)) : (Datum) 0;
}
