/*-------------------------------------------------------------------------
 *
 * guc.h
 *		The extension's settings (guc.c): their variables, and what guc.c
 *		derives from them when they are set.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_GUC_H
#define AGENTPHONE_GUC_H

extern char *agentphone_api_url;
extern char *agentphone_api_key;
extern char *agentphone_api_key_file;
extern bool agentphone_allow_insecure_http;
extern char *agentphone_http_proxy;
extern char *agentphone_database_name;
extern char *agentphone_api_key_directory;
extern int	agentphone_max_databases;
extern char *agentphone_sub_account_id;
extern int	agentphone_max_in_flight;
extern int	agentphone_request_timeout_ms;
extern int	agentphone_max_calls_per_minute;
extern int	agentphone_max_attempts;
extern int	agentphone_sweep_interval_ms;
extern int	agentphone_retry_delay_ms;
extern int	agentphone_retry_horizon_s;
extern int	agentphone_poll_interval_ms;
extern int	agentphone_agent_refresh_interval_ms;
extern int	agentphone_max_call_duration_s;
extern int	agentphone_event_retention_s;
extern int	agentphone_reconcile_delay_ms;

typedef enum OnUnknown
{
	ON_UNKNOWN_FAIL,
	ON_UNKNOWN_REDIAL
} OnUnknown;
extern int	agentphone_on_unknown;
extern bool agentphone_enabled;
extern char *agentphone_blocked_prefixes;
extern char *agentphone_allowed_prefixes;
extern int	agentphone_max_calls_per_number_per_day;
extern char *agentphone_call_window;
extern int	agentphone_window_open_s;	/* seconds since midnight */
extern int	agentphone_window_close_s;	/* 0: no window */
extern char *agentphone_call_days;
extern int	agentphone_call_day_mask;	/* bit 0 = Sunday */
extern char *agentphone_allowed_number_types;
extern int	agentphone_allowed_type_mask;	/* bit n = PhoneType n */
extern bool agentphone_api_key_malformed;
extern char *agentphone_default_timezone;
extern int	agentphone_role_calls_per_hour;
extern int	agentphone_role_calls_per_day;

extern void agentphone_define_settings(void);
extern bool agentphone_window_set(void);


#endif							/* AGENTPHONE_GUC_H */
