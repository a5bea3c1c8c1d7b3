/*-------------------------------------------------------------------------
 *
 * agentphone.h
 *		Declarations shared by the files of the agentphone extension.
 *
 * Terms used throughout:
 *	 call		a row of agentphone.calls: one phone call a user asked for.
 *	 API call	AgentPhone's own object for a placed call (its id is "call_...").
 *	 claim		moving due calls from "queued" to "dispatching" in a short,
 *				committed transaction, before any network I/O.
 *	 dispatch	sending the claimed call to the API (POST /calls).
 *	 record		writing the API's answer back to the call in a new short
 *				transaction.
 *
 * Layering: the SQL-callable functions and the worker use the tables; the
 * worker drives dispatch, which uses http.c (libcurl, knows no tables) and
 * api.c (cJSON, knows no SPI).  Settings and validation are leaves.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_H
#define AGENTPHONE_H

#include "postgres.h"

#include "storage/latch.h"
#include "storage/spin.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

/* Statuses of a call that the extension itself sets. */
#define CALL_QUEUED			"queued"
#define CALL_DISPATCHING	"dispatching"
#define CALL_CANCELED		"canceled"
#define CALL_ERROR			"error"
#define CALL_UNKNOWN		"unknown"
#define CALL_RECONCILING	"reconciling"
#define CALL_IN_PROGRESS	"in-progress"

/* Documented input limits (characters); see README "Input limits". */
#define MAX_ID_LEN			128		/* agent_id, from_number_id, voice */
#define MAX_GREETING_LEN	2000
#define MAX_PROMPT_LEN		50000
#define MAX_VARIABLES		100
#define MAX_VAR_NAME_LEN	100
#define MAX_VAR_VALUE_LEN	5000
#define MAX_SCREEN_ID_LEN	100		/* options.callScreeningIdentity */
#define MAX_SCREEN_PURPOSE_LEN 300	/* options.callScreeningPurpose */

/* ----- settings (guc.c) ----- */
extern char *agentphone_api_url;
extern char *agentphone_api_key;
extern char *agentphone_api_key_file;
extern bool agentphone_allow_insecure_http;
extern char *agentphone_http_proxy;
extern char *agentphone_database_name;
extern int	agentphone_max_in_flight;
extern int	agentphone_request_timeout_ms;
extern int	agentphone_max_calls_per_minute;
extern int	agentphone_max_attempts;
extern int	agentphone_sweep_interval_ms;
extern int	agentphone_retry_base_ms;
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

/* ----- shared state and wake-up (agentphone.c) ----- */
/* Counters the worker keeps for agentphone_worker_status(). */
typedef enum AgentphoneCounter
{
	COUNT_DISPATCHED,			/* POSTs sent */
	COUNT_RETRIED,				/* attempts that will be retried */
	COUNT_FAILED,				/* calls ended in "error" */
	COUNT_RECONCILED,			/* calls of unknown outcome resolved */
	NUM_COUNTERS
} AgentphoneCounter;

/* What is becoming of the worker's database (dbguard.c). */
typedef enum AgentphoneDbState
{
	DB_PRESENT = 0,				/* it exists; the worker may connect */
	DB_GOING,					/* a command needs it to itself */
	DB_GONE						/* dropped or renamed away */
} AgentphoneDbState;

typedef struct AgentphoneShared
{
	slock_t		mutex;
	pid_t		worker_pid;		/* 0 when no worker is running */
	Latch	   *worker_latch;	/* the running worker's latch, or NULL */
	TimestampTz started_at;		/* when the worker started */
	TimestampTz last_loop;		/* when its loop last ran */
	int			in_flight;		/* requests in flight then */
	uint64		counters[NUM_COUNTERS];
	char		last_error[256];	/* the last failure, "" if none */
	AgentphoneDbState db_state;	/* what is becoming of its database */
	TimestampTz db_state_since;	/* since when */
} AgentphoneShared;

extern AgentphoneShared *agentphone_shared;
extern void agentphone_wake_worker(void);
extern void agentphone_wake_at_commit(void);
extern void agentphone_publish_worker(Latch *latch);
extern void agentphone_count(AgentphoneCounter c, int n);
extern void agentphone_note_error(const char *message);
extern void agentphone_note_loop(int in_flight);

/*
 * A statement that finds one call by id and checks its status writes
 * "status IS NOT DISTINCT FROM 'queued'", not "status = 'queued'": with
 * "=", the planner prefers the small partial index of that status
 * (calls_due_idx, calls_unsettled_idx), scanned whole for the id, over
 * calls_pkey, so each such statement read every queued or dispatching
 * call (test/t/019_plans.pl fails on that plan).
 */
struct _SPI_plan;
extern struct _SPI_plan *agentphone_saved_plan(struct _SPI_plan **plan,
											   const char *query,
											   int nargs, Oid *argtypes);
extern struct _SPI_plan *agentphone_saved_generic_plan(struct _SPI_plan **plan,
													   const char *query, int nargs,
													   Oid *argtypes);
extern bool agentphone_has_relation(const char *relname);

/* ----- the worker and database-level commands (dbguard.c) ----- */
extern void agentphone_install_dbguard(void);
extern void agentphone_wait_for_database(void);
extern void agentphone_database_released(void);

/* ----- the API key and URL policy (secret.c) ----- */
extern const char *agentphone_api_key_value(void);
extern const char *agentphone_key_problem(void);
extern const char *agentphone_key_problem_shown(bool to_superuser);
extern const char *agentphone_key_source(void);
extern const char *agentphone_key_hint(void);
extern uint32 agentphone_key_hash(const char *key);
extern void agentphone_note_key_refused(long status, uint32 key_hash);
extern void agentphone_forget_key_refusal(void);
extern const char *agentphone_key_refused_problem(void);
extern int	agentphone_known_keys(const char *keys[2]);
extern const char *agentphone_url_problem(void);

/* ----- who may do what (access.c) ----- */
typedef struct AgentphoneUser
{
	Oid			userid;
	int			sec_context;
} AgentphoneUser;
extern void agentphone_privilege_hint(ErrorData *edata);
extern void agentphone_become_owner(AgentphoneUser *save);
extern void agentphone_restore_user(const AgentphoneUser *save);
extern void agentphone_require_api_call(const char *api_id);

/* ----- validation (validate.c) ----- */
extern void agentphone_check_text(const char *argname, const char *value,
								  int maxlen, bool required, bool empty_ok);
extern void agentphone_check_e164(const char *argname, const char *number);
extern Jsonb *agentphone_normalize_variables(Jsonb *variables);
extern void agentphone_check_options(Jsonb *options);

/* ----- which numbers are dialed (numbers.c), and when (window.c) ----- */
extern char *agentphone_dialable_number(const char *number);
extern char *agentphone_do_not_call_problem(const char *number, const char *role);
extern Datum agentphone_region_zones(const char *region);
extern void agentphone_check_callee_zone(const char *number, const char *tz);
extern bool agentphone_next_window(TimestampTz at, const char *number,
								   const char *tz, TimestampTz *opens);
extern char *agentphone_window_wait_text(TimestampTz opens);

/* ----- SQL-callable functions (functions.c) ----- */
/* Arguments of agentphone_call(), which agentphone_queue_call() takes. */
#define NUM_CALL_ARGS 10
extern int64 agentphone_queue_call(const Datum *args, const bool *isnull);
extern int64 agentphone_interval_ms(Interval *iv);

/* ----- the worker's session settings (session.c) ----- */
extern void agentphone_note_server_settings(void);
extern void agentphone_pin_session_settings(void);

/* ----- background worker (worker.c) ----- */
extern PGDLLEXPORT void agentphone_worker_main(Datum main_arg);

#endif							/* AGENTPHONE_H */
