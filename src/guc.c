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
 * Here are the settings' variables, their definitions, and what is derived
 * from a value when it is set (the assign hooks); which values they accept
 * is gucchecks.c's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "miscadmin.h"
#include "utils/guc.h"

#include "guc.h"
#include "gucchecks.h"
#include "quota.h"
#include "windowspec.h"

char	   *agentphone_api_url = NULL;
char	   *agentphone_api_key = NULL;
char	   *agentphone_api_key_file = NULL;
bool		agentphone_allow_insecure_http = false;
char	   *agentphone_http_proxy = NULL;
char	   *agentphone_database_name = NULL;
char	   *agentphone_api_key_directory = NULL;
int			agentphone_max_databases = 8;
char	   *agentphone_sub_account_id = NULL;
int			agentphone_max_in_flight = 16;
int			agentphone_request_timeout_ms = 10000;
int			agentphone_max_calls_per_minute = 120;
int			agentphone_max_attempts = 5;
int			agentphone_sweep_interval_ms = 10000;
int			agentphone_retry_delay_ms = 1000;
int			agentphone_retry_horizon_s = 3600;
int			agentphone_poll_interval_ms = 5000;
int			agentphone_agent_refresh_interval_ms = 5 * 60 * 1000;
int			agentphone_max_call_duration_s = 3600;
int			agentphone_event_retention_s = 30 * 24 * 3600;
int			agentphone_reconcile_delay_ms = 30000;
int			agentphone_on_unknown = ON_UNKNOWN_FAIL;
bool		agentphone_enabled = true;
char	   *agentphone_blocked_prefixes = NULL;
char	   *agentphone_allowed_prefixes = NULL;
int			agentphone_max_calls_per_number_per_day = 3;
char	   *agentphone_call_window = NULL;
int			agentphone_window_open_s = 0;
int			agentphone_window_close_s = 0;
char	   *agentphone_call_days = NULL;
int			agentphone_call_day_mask = 0x7f;
char	   *agentphone_allowed_number_types = NULL;
int			agentphone_allowed_type_mask = 0;
bool		agentphone_api_key_malformed = false;
char	   *agentphone_default_timezone = NULL;
int			agentphone_role_calls_per_hour = 0;
int			agentphone_role_calls_per_day = 0;

static const struct config_enum_entry on_unknown_options[] = {
	{"fail", ON_UNKNOWN_FAIL, false},
	{"redial", ON_UNKNOWN_REDIAL, false},
	{NULL, 0, false}
};

/*
 * assign_api_key notes a key that would break the Authorization header.
 * It is not refused by a check hook: PostgreSQL's "invalid value for
 * parameter" message would repeat the key.  Such a key is never sent;
 * secret.c says why without quoting it.
 */
static void
assign_api_key(const char *newval, void *extra)
{
	(void) extra;
	agentphone_api_key_malformed = (newval != NULL && strpbrk(newval, "\r\n") != NULL);
}

/*
 * show_secret shows a secret setting to superusers only: GUC_SUPERUSER_ONLY
 * also lets members of pg_read_all_settings read it.
 */
static const char *
show_secret(const char *value)
{
	if (superuser())
		return value ? value : "";
	return (value && value[0]) ? "********" : "";
}

static const char *
show_api_key(void)
{
	return show_secret(agentphone_api_key);
}

static const char *
show_api_key_file(void)
{
	return show_secret(agentphone_api_key_file);
}

/*
 * assign_call_window keeps the window's bounds in seconds since midnight.
 */
static void
assign_call_window(const char *newval, void *extra)
{
	int			n;

	(void) extra;
	agentphone_window_open_s = agentphone_window_close_s = 0;
	if (newval != NULL && (n = windowspec_time_of_day(newval, &agentphone_window_open_s)) > 0)
		(void) windowspec_time_of_day(newval + n + 1, &agentphone_window_close_s);
}

/*
 * agentphone_window_set says whether calls are limited to a calling
 * window (a time of day, or some days of the week).
 */
bool
agentphone_window_set(void)
{
	return agentphone_window_close_s > 0 || agentphone_call_day_mask != 0x7f;
}

/*
 * assign_call_days keeps the days' mask, parsed by the check hook.
 */
static void
assign_call_days(const char *newval, void *extra)
{
	(void) newval;
	agentphone_call_day_mask = *(int *) extra;
}

/*
 * assign_number_types keeps the number types' mask, parsed by the check
 * hook.
 */
static void
assign_number_types(const char *newval, void *extra)
{
	(void) newval;
	agentphone_allowed_type_mask = *(int *) extra;
}

/*
 * The responsible-dialing rules that are strings, server-wide (reload):
 * name, short and long description, variable, default, check and assign.
 */
static const struct
{
	const char *name;
	const char *short_desc;
	const char *long_desc;
	char	  **variable;
	const char *boot_value;
	GucStringCheckHook check;
	GucStringAssignHook assign;
}			dialing_strings[] =
{
	{"agentphone.allowed_number_types", "The kinds of number that are dialed, as libphonenumber classifies them.", "A comma-separated list of fixed_line, mobile, fixed_line_or_mobile, toll_free, premium_rate, shared_cost, voip, personal_number, pager, uan, voicemail, unknown.", &agentphone_allowed_number_types, "fixed_line, mobile, fixed_line_or_mobile, toll_free, voip", gucchecks_number_types, assign_number_types},
	{"agentphone.blocked_prefixes", "Number prefixes never dialed, besides the numbers agentphone.allowed_number_types leaves out.", "A comma-separated list such as '+1900,+4487'.", &agentphone_blocked_prefixes, "", gucchecks_prefixes, NULL},
	{"agentphone.allowed_prefixes", "When set, only numbers with one of these prefixes are dialed.", "A comma-separated list such as '+1,+44'. Empty: every destination not blocked.", &agentphone_allowed_prefixes, "", gucchecks_prefixes, NULL},
	{"agentphone.call_window", "Time of day when calls may be dialed, in the callee's time zone (empty: any time).", "As in '08:00-21:00'; a call due outside it waits, queued, until it opens.", &agentphone_call_window, "", gucchecks_call_window, assign_call_window},
	{"agentphone.call_days", "Days of the week when calls may be dialed, in the callee's time zone (empty: every day).", "As in 'Mon-Fri' or 'Mon-Fri,Sat'.", &agentphone_call_days, "", gucchecks_call_days, assign_call_days},
	{"agentphone.default_timezone", "The callee's time zone for a number of no country (+800, say) when agentphone_call() is given none.", NULL, &agentphone_default_timezone, "UTC", gucchecks_timezone_name, NULL},
};

/*
 * define_dialing_rules defines the responsible-dialing settings: server-
 * wide (reload) except the per-role quotas, which a superuser sets with
 * ALTER ROLE ... SET.
 */
static void
define_dialing_rules(void)
{
	for (int i = 0; i < (int) lengthof(dialing_strings); i++)
		DefineCustomStringVariable(dialing_strings[i].name,
								   dialing_strings[i].short_desc,
								   dialing_strings[i].long_desc,
								   dialing_strings[i].variable,
								   dialing_strings[i].boot_value,
								   PGC_SIGHUP, 0, dialing_strings[i].check,
								   dialing_strings[i].assign, NULL);
	DefineCustomIntVariable("agentphone.max_calls_per_number_per_day",
							"Most calls to one number in any 24 hours (0: no limit).",
							"Canceled, blocked and refused calls do not count.",
							&agentphone_max_calls_per_number_per_day, 3, 0, 1000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("agentphone.role_calls_per_hour",
							"Most calls one role may queue in any hour (0: no limit); set per role with ALTER ROLE.",
							NULL,
							&agentphone_role_calls_per_hour, 0, 0, 1000000,
							PGC_SUSET, 0, agentphone_check_role_calls_per_hour, NULL, NULL);
	DefineCustomIntVariable("agentphone.role_calls_per_day",
							"Most calls one role may queue in any 24 hours (0: no limit); set per role with ALTER ROLE.",
							NULL,
							&agentphone_role_calls_per_day, 0, 0, 1000000,
							PGC_SUSET, 0, agentphone_check_role_calls_per_day, NULL, NULL);
}

/*
 * agentphone_define_settings defines every agentphone.* setting.
 */
void
agentphone_define_settings(void)
{
	DefineCustomStringVariable("agentphone.api_url",
							   "Base URL of the AgentPhone API.",
							   "Requests go to this URL followed by /calls. A superuser may set it per database with ALTER DATABASE ... SET.",
							   &agentphone_api_url,
							   "https://api.agentphone.ai/v1",
							   PGC_SUSET, GUC_SUPERUSER_ONLY,
							   gucchecks_api_url, NULL, NULL);
	DefineCustomStringVariable("agentphone.api_key",
							   "AgentPhone API key (sent as a Bearer token).",
							   "Visible to superusers only and never written to the log.",
							   &agentphone_api_key,
							   "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   NULL, assign_api_key, show_api_key);
	DefineCustomStringVariable("agentphone.api_key_file",
							   "File holding the AgentPhone API key; preferred to agentphone.api_key, and used instead of it when set.",
							   "The file must be readable by the server's OS user only (chmod 600). It is read again when it changes.",
							   &agentphone_api_key_file,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, show_api_key_file);
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
	/*
	 * Restart-only, but PostgreSQL allows such a setting only while the
	 * library is preloaded; a backend that loads it later (the library
	 * missing from shared_preload_libraries) has no worker to configure and
	 * must not die defining it.
	 */
	DefineCustomStringVariable("agentphone.database_name",
							   "Deprecated: the only database agentphone serves (empty: every database where it is installed).",
							   "Kept for one release; leave it empty and agentphone serves each database where CREATE EXTENSION agentphone has run.",
							   &agentphone_database_name,
							   "",
							   process_shared_preload_libraries_in_progress ? PGC_POSTMASTER : PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("agentphone.max_databases",
							"Maximum number of databases agentphone serves at once (one worker each).",
							"Each worker also takes one of max_worker_processes.",
							&agentphone_max_databases,
							8, 1, 1024,
							process_shared_preload_libraries_in_progress ? PGC_POSTMASTER : PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomStringVariable("agentphone.api_key_directory",
							   "Directory holding one API key file per database, named after the database; when set, it is the only source of keys.",
							   "Each file must be readable by the server's OS user only (chmod 600). A database without a file has no key.",
							   &agentphone_api_key_directory,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("agentphone.sub_account_id",
							   "Sub-account that calls queued in this session are placed under (sent as X-Sub-Account-Id; empty: none).",
							   "Set it per database with ALTER DATABASE ... SET; agentphone_call()'s sub_account_id argument overrides it.",
							   &agentphone_sub_account_id,
							   "",
							   PGC_USERSET, 0,
							   gucchecks_sub_account_id, NULL, NULL);
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
							"Counts the answers 408, 409 and 500 (safe to retry); a request not sent, or answered 429, 502, 503 or 504, is no attempt (see agentphone.retry_horizon).",
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
							&agentphone_retry_delay_ms,
							1000, 10, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("agentphone.retry_horizon",
							"How long a due call is tried while the API answers 429, 502, 503 or 504.",
							"Such answers place no call and count no attempt; once they have come, with no other answer in between, for longer than this, the next one makes its call an error. A request that could not be sent never ends a call.",
							&agentphone_retry_horizon_s,
							3600, 1, 7 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("agentphone.poll_interval",
							"How often the worker checks on calls in progress.",
							"One cycle lists the calls in progress, 100 a page, and looks up only those that changed.",
							&agentphone_poll_interval_ms,
							5000, 100, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("agentphone.agent_refresh_interval",
							"How often the worker fetches the account's agents and their numbers (agentphone.agents).",
							"agentphone_call() refuses an agent, or a from_number_id, that the fetched list lacks.",
							&agentphone_agent_refresh_interval_ms,
							5 * 60 * 1000, 1000, 24 * 3600 * 1000,
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

	define_dialing_rules();
	MarkGUCPrefixReserved("agentphone");
}
