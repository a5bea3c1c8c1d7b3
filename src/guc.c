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
#include "postgres.h"

#include <limits.h>

#include "miscadmin.h"
#include "utils/guc.h"

#include "guc.h"
#include "phone.h"
#include "quota.h"
#include "validate.h"


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
 * check_sub_account_id accepts "" (none) or a sub-account id.
 */
static bool
check_sub_account_id(char **newval, void **extra, GucSource source)
{
	(void) extra;
	(void) source;
	if (*newval == NULL || (*newval)[0] == '\0' || agentphone_sub_account_ok(*newval))
		return true;
	GUC_check_errdetail("A sub-account id is 1 to %d letters, digits, \"_\", \"-\", \".\" or \":\".", MAX_ID_LEN);
	return false;
}

/*
 * check_prefixes accepts a comma-separated list of number prefixes, each
 * "+" and 1 to 15 digits.
 */
static bool
check_prefixes(char **newval, void **extra, GucSource source)
{
	char	   *copy = pstrdup(*newval ? *newval : "");
	char	   *save = NULL;

	(void) extra;
	(void) source;
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save))
	{
		size_t		digits;

		while (*item == ' ')
			item++;
		digits = strspn(item + 1, "0123456789");
		if (item[0] != '+' || digits < 1 || digits > 15 ||
			item[1 + digits + strspn(item + 1 + digits, " ")] != '\0')
		{
			GUC_check_errdetail("\"%s\" is not a number prefix such as +1 or +4420.", item);
			return false;
		}
	}
	return true;
}

/*
 * parse_time_of_day reads "HH:MM" or "HH:MM:SS" (24:00 allowed) at s into
 * seconds since midnight; returns the characters read, or 0.
 */
static int
parse_time_of_day(const char *s, int *seconds)
{
	int			h,
				m,
				sec = 0,
				n = 0;

	if (sscanf(s, "%2d:%2d%n", &h, &m, &n) != 2)
		return 0;
	if (s[n] == ':')
	{
		int			n2 = 0;

		if (sscanf(s + n, ":%2d%n", &sec, &n2) != 1)
			return 0;
		n += n2;
	}
	if (h < 0 || h > 24 || m < 0 || m > 59 || sec < 0 || sec > 59 ||
		(h == 24 && (m != 0 || sec != 0)))
		return 0;
	*seconds = h * 3600 + m * 60 + sec;
	return n;
}

/*
 * check_call_window accepts "" or "HH:MM[:SS]-HH:MM[:SS]", the first time
 * before the second.
 */
static bool
check_call_window(char **newval, void **extra, GucSource source)
{
	const char *s = *newval;
	int			opens,
				closes,
				n1,
				n2;

	(void) extra;
	(void) source;
	if (s == NULL || s[0] == '\0')
		return true;
	n1 = parse_time_of_day(s, &opens);
	n2 = (n1 > 0 && s[n1] == '-') ? parse_time_of_day(s + n1 + 1, &closes) : 0;
	if (n2 == 0 || s[n1 + 1 + n2] != '\0' || opens >= closes)
	{
		GUC_check_errdetail("The window is two times of day, the first before the second, as in '08:00-21:00'.");
		return false;
	}
	return true;
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
	if (newval != NULL && (n = parse_time_of_day(newval, &agentphone_window_open_s)) > 0)
		(void) parse_time_of_day(newval + n + 1, &agentphone_window_close_s);
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
 * keep_mask hands a check hook's parsed mask to its assign hook (GUC
 * extra, malloc'd); a negative mask is a value refused.
 */
static bool
keep_mask(int mask, void **extra)
{
	int		   *p;

	if (mask < 0 || (p = malloc(sizeof(int))) == NULL)
		return false;
	*p = mask;
	*extra = p;
	return true;
}

static const char *const day_names[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/*
 * day_number returns 0 (Sunday) to 6 for a three-letter day name, or -1.
 */
static int
day_number(const char *s, size_t len)
{
	for (int d = 0; d < 7; d++)
		if (len == 3 && pg_strncasecmp(s, day_names[d], 3) == 0)
			return d;
	return -1;
}

/*
 * parse_call_days reads "" (every day) or a comma-separated list of days
 * and ranges ("Mon-Fri", "Mon-Fri,Sun"), into a mask of bit 0 = Sunday;
 * returns -1 if it is not one.
 */
static int
parse_call_days(const char *s)
{
	char	   *copy = pstrdup(s);
	char	   *save = NULL;
	int			mask = 0;

	if (s[strspn(s, " ")] == '\0')
		return 0x7f;
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save))
	{
		int			from,
					to;
		char	   *dash;

		item += strspn(item, " ");
		item[strcspn(item, " ")] = '\0';
		dash = strchr(item, '-');
		from = day_number(item, dash ? (size_t) (dash - item) : strlen(item));
		to = dash ? day_number(dash + 1, strlen(dash + 1)) : from;
		if (from < 0 || to < 0)
			return -1;
		for (int d = from;; d = (d + 1) % 7)
		{
			mask |= 1 << d;
			if (d == to)
				break;
		}
	}
	return mask;
}

static bool
check_call_days(char **newval, void **extra, GucSource source)
{
	int			mask = parse_call_days(*newval ? *newval : "");

	(void) source;
	if (mask < 0)
		GUC_check_errdetail("The days are three-letter names or ranges, comma-separated, as in 'Mon-Fri' or 'Mon-Fri,Sat'.");
	return keep_mask(mask, extra);
}

static void
assign_call_days(const char *newval, void *extra)
{
	(void) newval;
	agentphone_call_day_mask = *(int *) extra;
}

/*
 * parse_number_types reads a comma-separated list of libphonenumber types
 * (phone.h's setting names) into a mask, or returns -1 naming the bad item.
 */
static int
parse_number_types(const char *s)
{
	char	   *copy = pstrdup(s);
	char	   *save = NULL;
	int			mask = 0;

	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save))
	{
		int			t;

		item += strspn(item, " ");
		item[strcspn(item, " ")] = '\0';
		if (item[0] == '\0')
			continue;
		for (t = 0; t < NUM_PHONE_TYPES; t++)
			if (pg_strcasecmp(item, phone_type_setting_name(t)) == 0)
				break;
		if (t == NUM_PHONE_TYPES)
		{
			GUC_check_errdetail("\"%s\" is not a number type; the types are fixed_line, mobile, fixed_line_or_mobile, toll_free, premium_rate, shared_cost, voip, personal_number, pager, uan, voicemail and unknown.", item);
			return -1;
		}
		mask |= 1 << t;
	}
	return mask;
}

static bool
check_number_types(char **newval, void **extra, GucSource source)
{
	(void) source;
	return keep_mask(parse_number_types(*newval ? *newval : ""), extra);
}

static void
assign_number_types(const char *newval, void *extra)
{
	(void) newval;
	agentphone_allowed_type_mask = *(int *) extra;
}

/*
 * check_timezone_name accepts "" or a time zone PostgreSQL knows.
 */
static bool
check_timezone_name(char **newval, void **extra, GucSource source)
{
	(void) extra;
	(void) source;
	if (*newval == NULL || (*newval)[0] == '\0' || pg_tzset(*newval) != NULL)
		return true;
	GUC_check_errdetail("Time zone \"%s\" is not recognized.", *newval);
	return false;
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
	{"agentphone.allowed_number_types", "The kinds of number that are dialed, as libphonenumber classifies them.", "A comma-separated list of fixed_line, mobile, fixed_line_or_mobile, toll_free, premium_rate, shared_cost, voip, personal_number, pager, uan, voicemail, unknown.", &agentphone_allowed_number_types, "fixed_line, mobile, fixed_line_or_mobile, toll_free, voip", check_number_types, assign_number_types},
	{"agentphone.blocked_prefixes", "Number prefixes never dialed, besides the numbers agentphone.allowed_number_types leaves out.", "A comma-separated list such as '+1900,+4487'.", &agentphone_blocked_prefixes, "", check_prefixes, NULL},
	{"agentphone.allowed_prefixes", "When set, only numbers with one of these prefixes are dialed.", "A comma-separated list such as '+1,+44'. Empty: every destination not blocked.", &agentphone_allowed_prefixes, "", check_prefixes, NULL},
	{"agentphone.call_window", "Time of day when calls may be dialed, in the callee's time zone (empty: any time).", "As in '08:00-21:00'; a call due outside it waits, queued, until it opens.", &agentphone_call_window, "", check_call_window, assign_call_window},
	{"agentphone.call_days", "Days of the week when calls may be dialed, in the callee's time zone (empty: every day).", "As in 'Mon-Fri' or 'Mon-Fri,Sat'.", &agentphone_call_days, "", check_call_days, assign_call_days},
	{"agentphone.default_timezone", "The callee's time zone for a number of no country (+800, say) when agentphone_call() is given none.", NULL, &agentphone_default_timezone, "UTC", check_timezone_name, NULL},
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
							   check_api_url, NULL, NULL);
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
							   check_sub_account_id, NULL, NULL);
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
