/*-------------------------------------------------------------------------
 *
 * guc.c
 *		The agentphone.* settings.
 *
 * The API's address and key are superuser-only: users never pass URLs or
 * keys, they only queue calls.  The key is also hidden from SHOW ALL and
 * pg_settings for everybody but superusers, and redacted from the log by
 * agentphone.c.  Everything the worker reads is reloadable with SIGHUP,
 * except the database it connects to.
 *
 *-------------------------------------------------------------------------
 */
#include "agentphone.h"

#include <limits.h>

#include "utils/guc.h"

char	   *agentphone_api_url = NULL;
char	   *agentphone_api_key = NULL;
char	   *agentphone_api_key_file = NULL;
bool		agentphone_allow_insecure_http = false;
char	   *agentphone_http_proxy = NULL;
char	   *agentphone_database_name = NULL;
int			agentphone_max_in_flight = 16;
int			agentphone_request_timeout_ms = 10000;
int			agentphone_max_calls_per_minute = 120;
int			agentphone_max_attempts = 5;
int			agentphone_sweep_interval_ms = 10000;
int			agentphone_retry_base_ms = 1000;
int			agentphone_poll_interval_ms = 5000;
int			agentphone_max_call_duration_s = 3600;
int			agentphone_event_retention_s = 30 * 24 * 3600;
int			agentphone_reconcile_delay_ms = 30000;
int			agentphone_on_unknown = ON_UNKNOWN_FAIL;
bool		agentphone_enabled = true;

static const struct config_enum_entry on_unknown_options[] = {
	{"fail", ON_UNKNOWN_FAIL, false},
	{"redial", ON_UNKNOWN_REDIAL, false},
	{NULL, 0, false}
};

/*
 * check_api_url accepts only an absolute http(s) URL.  Plain http is meant
 * for the local simulator.
 */
static bool
check_api_url(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;

	(void) extra;
	(void) source;

	if (v == NULL || (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0))
	{
		GUC_check_errdetail("The API URL must start with https:// (or http:// for a local simulator).");
		return false;
	}
	if (strpbrk(v, " \t\r\n?#") != NULL)
	{
		GUC_check_errdetail("The API URL must not contain spaces, a query or a fragment.");
		return false;
	}
	return true;
}

/*
 * check_api_key refuses characters that would break the Authorization
 * header.  The message never repeats the value.
 */
static bool
check_api_key(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;

	(void) extra;
	(void) source;

	if (v != NULL && strpbrk(v, "\r\n") != NULL)
	{
		GUC_check_errdetail("The API key must not contain line breaks.");
		return false;
	}
	return true;
}

/*
 * agentphone_define_settings defines every agentphone.* setting.
 */
void
agentphone_define_settings(void)
{
	DefineCustomStringVariable("agentphone.api_url",
							   "Base URL of the AgentPhone API.",
							   "Requests go to this URL followed by /calls.",
							   &agentphone_api_url,
							   "https://api.agentphone.ai/v1",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   check_api_url, NULL, NULL);
	DefineCustomStringVariable("agentphone.api_key",
							   "AgentPhone API key (sent as a Bearer token).",
							   "Visible to superusers only and never written to the log.",
							   &agentphone_api_key,
							   "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   check_api_key, NULL, NULL);
	DefineCustomStringVariable("agentphone.api_key_file",
							   "File holding the AgentPhone API key; preferred to agentphone.api_key, and used instead of it when set.",
							   "The file must be readable by the server's OS user only (chmod 600). It is read again when it changes.",
							   &agentphone_api_key_file,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomBoolVariable("agentphone.allow_insecure_http",
							 "Allows an http:// API URL (for a local test API only).",
							 "Off: requests go over https only, with TLS verification.",
							 &agentphone_allow_insecure_http,
							 false,
							 PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							 NULL, NULL, NULL);
	DefineCustomStringVariable("agentphone.http_proxy",
							   "Proxy for API requests (empty: none; proxy environment variables are ignored).",
							   NULL,
							   &agentphone_http_proxy,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("agentphone.database_name",
							   "Database in which the agentphone worker places calls.",
							   NULL,
							   &agentphone_database_name,
							   "postgres",
							   PGC_POSTMASTER, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("agentphone.max_in_flight",
							"Maximum number of API requests the worker has in flight at once.",
							NULL,
							&agentphone_max_in_flight,
							16, 1, 256,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("agentphone.request_timeout",
							"Time limit for one API request, counted from when it is sent.",
							NULL,
							&agentphone_request_timeout_ms,
							10000, 100, 600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("agentphone.max_calls_per_minute",
							"Maximum number of calls the worker sends to the API in any 60 seconds.",
							"The API documents a limit of 120 call creations per minute.",
							&agentphone_max_calls_per_minute,
							120, 1, 100000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("agentphone.max_attempts",
							"Maximum number of times the worker tries to place one call.",
							"Only failures that are safe to retry (429, 5xx, no connection) are retried.",
							&agentphone_max_attempts,
							5, 1, 100,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("agentphone.sweep_interval",
							"How often an idle worker looks for calls it was not woken for.",
							"Committed calls wake the worker at once; the sweep finds calls committed by PREPARE TRANSACTION or written while the worker was down.",
							&agentphone_sweep_interval_ms,
							10000, 100, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("agentphone.retry_delay",
							"Delay before the first retry of a call; each further retry doubles it.",
							"When the API sends a Retry-After header, that delay is used instead.",
							&agentphone_retry_base_ms,
							1000, 10, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("agentphone.poll_interval",
							"How often the worker checks on calls in progress.",
							"One cycle lists the calls in progress, 100 a page, and looks up only those that changed.",
							&agentphone_poll_interval_ms,
							5000, 100, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("agentphone.max_call_duration",
							"How long a call may stay in progress before it is looked up on its own and flagged.",
							NULL,
							&agentphone_max_call_duration_s,
							3600, 1, INT_MAX / 1000,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("agentphone.event_retention",
							"How long agentphone.call_events keeps a transition; 0 keeps them forever.",
							"The worker deletes older events in small batches. Calls and transcripts are never deleted.",
							&agentphone_event_retention_s,
							30 * 24 * 3600, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("agentphone.reconcile_delay",
							"How long after its claim a call of unknown outcome is looked for at the API.",
							"Time for a slow API to finish creating a call whose answer was lost.",
							&agentphone_reconcile_delay_ms,
							30000, 0, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomEnumVariable("agentphone.on_unknown",
							 "What to do with a call of unknown outcome that the API does not show.",
							 "fail: status unknown, never sent again; redial: queue it again (a person may be called twice).",
							 &agentphone_on_unknown,
							 ON_UNKNOWN_FAIL, on_unknown_options,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("agentphone.enabled",
							 "Whether the worker places calls.",
							 "Off pauses dispatch: calls stay queued, nothing is lost or failed; calls already placed are still followed.",
							 &agentphone_enabled,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	MarkGUCPrefixReserved("agentphone");
}
