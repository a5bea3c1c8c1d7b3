/*-------------------------------------------------------------------------
 *
 * enqueue.c
 *		Queueing a call: agentphone_call(), and enqueue_call(),
 *		which the dialing trigger (trigger.c) shares.
 *
 * agentphone_call() never touches the network: it validates its arguments,
 * checks the dialing rules (dialrules.c), inserts a "queued" row in the
 * caller's transaction and asks for the worker to be woken when that
 * transaction commits.  A rolled-back transaction therefore leaves nothing
 * behind and dials nobody.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "storage/proc.h"
#include "utils/builtins.h"

#include "access.h"
#include "agents.h"
#include "callee.h"
#include "dialrules.h"
#include "enqueue.h"
#include "grants.h"
#include "guc.h"
#include "schema.h"
#include "shared.h"
#include "validate.h"
#include "window.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(agentphone_call);

const Oid	enqueue_call_argtypes[NUM_CALL_ARGS] = {TEXTOID, TEXTOID, JSONBOID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, TEXTOID, TIMESTAMPTZOID};

/* The parameters of the INSERT, in its order (see insert_call()). */
typedef enum InsertParam
{
	P_AGENT_ID,
	P_TO_NUMBER,
	P_VARIABLES,
	P_FROM_NUMBER_ID,
	P_INITIAL_GREETING,
	P_VOICE,
	P_SYSTEM_PROMPT,
	P_OPTIONS,
	P_TIMEZONE,
	P_NOT_BEFORE,
	P_CREATED_BY,
	P_NEXT_ATTEMPT_AT,
	P_HELD_BY_WINDOW,
	P_LAST_ERROR,
	NUM_INSERT_PARAMS
} InsertParam;

/* One row to insert: the INSERT's parameters. */
typedef struct InsertRow
{
	Oid			types[NUM_INSERT_PARAMS];
	Datum		values[NUM_INSERT_PARAMS];
	char		nulls[NUM_INSERT_PARAMS];
} InsertRow;

/*
 * enqueue_check_database refuses to queue calls in a database where no worker
 * will ever look for them: with the deprecated agentphone.database_name
 * set, every other database.
 */
void
enqueue_check_database(void)
{
	char	   *db;

	if (agentphone_database_name[0] == '\0')
		return;
	db = get_database_name(MyDatabaseId);
	if (db != NULL && strcmp(db, agentphone_database_name) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("agentphone places calls only from database \"%s\"",
						agentphone_database_name),
				 errdetail("This is database \"%s\"; a call queued here would never be placed.", db),
				 errhint("Queue calls in database \"%s\", or leave agentphone.database_name empty (every database is then served) and restart the server.",
						 agentphone_database_name)));
}

/*
 * with_default_sub_account adds agentphone.sub_account_id (the session's,
 * usually attached to the database with ALTER DATABASE ... SET) to options
 * unless they name a subAccountId themselves (null: none).
 */
static Jsonb *
with_default_sub_account(Jsonb *options)
{
	const char *dflt = agentphone_sub_account_id;
	Jsonb	   *add;

	if (dflt == NULL || dflt[0] == '\0')
		return options;
	if (options != NULL)
	{
		JsonbValue	key = {.type = jbvString};

		key.val.string.val = "subAccountId";
		key.val.string.len = strlen("subAccountId");
		if (findJsonbValueFromContainer(&options->root, JB_FOBJECT, &key) != NULL)
			return options;
	}
	/* the check hook allowed only characters that need no JSON escape */
	add = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
											 CStringGetDatum(psprintf("{\"subAccountId\": \"%s\"}", dflt))));
	if (options == NULL)
		return add;
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(options),
											  JsonbPGetDatum(add)));
}

/*
 * enqueue_announce_hold tells the caller that call id waits for the calling
 * window, once per transaction: a statement queueing a thousand calls
 * outside the window gets one notice, not a thousand.
 */
void
enqueue_announce_hold(int64 id, const char *waiting)
{
	static LocalTransactionId announced_in = InvalidLocalTransactionId;

	if (announced_in == MyProc->lxid)
		return;
	announced_in = MyProc->lxid;
	ereport(NOTICE,
			(errmsg("call %lld is %s", (long long) id, waiting),
			 errdetail("agentphone.call_window is \"%s\" and agentphone.call_days \"%s\", in the callee's time zone; other calls of this transaction that wait likewise say so in last_error.",
					   agentphone_call_window, agentphone_call_days),
			 errhint("The call follows the window in force: when these settings change, it is due by the new ones.")));
}

/*
 * check_request validates a call request, in the order of agentphone_call()'s
 * arguments, and classifies its callee; it raises the first error found.
 * The variables are normalized and the session's sub-account added to the
 * options in *req.
 */
static void
check_request(CallRequest *req, Callee *callee)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot queue a call on a standby server"),
				 errdetail("This server is a standby: calls are queued, and placed, on the primary."),
				 errhint("Connect to the primary to run agentphone_call().")));
	PreventCommandIfReadOnly("agentphone_call()");
	enqueue_check_database();
	agentphone_check_text("agent_id", req->agent_id, MAX_ID_LEN, true, false);
	agentphone_check_e164("to_number", req->to_number);
	callee_classify(req->to_number, callee);
	req->variables = agentphone_normalize_variables(req->variables);
	agentphone_check_text("from_number_id", req->from_number_id, MAX_ID_LEN, false, false);
	agentphone_check_text("initial_greeting", req->initial_greeting, MAX_GREETING_LEN, false, true);
	agentphone_check_text("voice", req->voice, MAX_ID_LEN, false, false);
	agentphone_check_text("system_prompt", req->system_prompt, MAX_PROMPT_LEN, false, false);
	agentphone_check_options(req->options);
	callee_set_timezone(callee, req->timezone);
	req->options = with_default_sub_account(req->options);
}

/*
 * set_param sets parameter i of row, of type type, to value (NULL when
 * isnull).
 */
static void
set_param(InsertRow *row, InsertParam i, Oid type, Datum value, bool isnull)
{
	row->types[i] = type;
	row->values[i] = isnull ? (Datum) 0 : value;
	row->nulls[i] = isnull ? 'n' : ' ';
}

/*
 * set_text sets text parameter i of row to s (NULL: SQL NULL).
 */
static void
set_text(InsertRow *row, InsertParam i, const char *s)
{
	set_param(row, i, TEXTOID, s ? CStringGetTextDatum(s) : (Datum) 0, s == NULL);
}

/*
 * request_row fills *row with the columns of a call: the request's, the
 * callee's number as dialed, who queued it (roleid, by name before 1.7)
 * and when it is due.
 */
static void
request_row(InsertRow *row, const CallRequest *req, const Callee *callee,
			TimestampTz due, bool held, const char *waiting)
{
	Oid			roleid = GetUserId();

	set_text(row, P_AGENT_ID, req->agent_id);
	set_text(row, P_TO_NUMBER, callee->phone.e164);
	set_param(row, P_VARIABLES, JSONBOID, JsonbPGetDatum(req->variables), req->variables == NULL);
	set_text(row, P_FROM_NUMBER_ID, req->from_number_id);
	set_text(row, P_INITIAL_GREETING, req->initial_greeting);
	set_text(row, P_VOICE, req->voice);
	set_text(row, P_SYSTEM_PROMPT, req->system_prompt);
	set_param(row, P_OPTIONS, JSONBOID, JsonbPGetDatum(req->options), req->options == NULL);
	set_text(row, P_TIMEZONE, req->timezone);
	set_param(row, P_NOT_BEFORE, TIMESTAMPTZOID, TimestampTzGetDatum(req->not_before),
			  !req->has_not_before);
	if (agentphone_schema_has(SCHEMA_1_7))
		set_param(row, P_CREATED_BY, OIDOID, ObjectIdGetDatum(roleid), false);
	else
		set_param(row, P_CREATED_BY, NAMEOID,
				  CStringGetDatum(GetUserNameFromId(roleid, false)), false);
	set_param(row, P_NEXT_ATTEMPT_AT, TIMESTAMPTZOID, TimestampTzGetDatum(due), false);
	set_param(row, P_HELD_BY_WINDOW, BOOLOID, BoolGetDatum(held), false);
	set_text(row, P_LAST_ERROR, waiting);
}

/*
 * insert_call inserts row into agentphone.calls and returns its id; it runs
 * inside an SPI connection, as the tables' owner.  A table not yet updated
 * to 1.3 has no held_by_window.
 */
static int64
insert_call(InsertRow *row)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_by_name = NULL;	/* for tables of 1.3 to 1.6 */
	static SPIPlanPtr plan_1_2 = NULL;	/* for a table not yet updated to 1.3 */
	SPIPlanPtr	insert;
	bool		null;

	if (agentphone_schema_has(SCHEMA_1_3))
		insert = agentphone_saved_plan(agentphone_schema_has(SCHEMA_1_7) ? &plan : &plan_by_name,
									   "INSERT INTO agentphone.calls (agent_id, to_number, variables,"
									   " from_number_id, initial_greeting, voice, system_prompt, options,"
									   " timezone, not_before, created_by, next_attempt_at, held_by_window, last_error)"
									   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
									   NUM_INSERT_PARAMS, row->types);
	else
		insert = agentphone_saved_plan(&plan_1_2,
									   "INSERT INTO agentphone.calls (agent_id, to_number, variables,"
									   " from_number_id, initial_greeting, voice, system_prompt, options,"
									   " timezone, not_before, created_by, next_attempt_at, last_error)"
									   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $14) RETURNING id",
									   NUM_INSERT_PARAMS, row->types);
	if (SPI_execute_plan(insert, row->values, row->nulls, false, 1) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not queue the call");
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &null));
}

/*
 * enqueue_call validates a call request and queues it for the current
 * user.  It returns the new row's id; the call is placed by the worker
 * after COMMIT, not before not_before, and only while
 * agentphone.call_window is open in the callee's time zone.
 */
int64
enqueue_call(CallRequest *req)
{
	Oid			roleid = GetUserId();
	AgentphoneUser caller;
	Callee		callee;
	InsertRow	row;
	bool		held;
	TimestampTz due;
	char	   *waiting = NULL;
	int64		id;

	check_request(req, &callee);
	due = dialrules_first_due(&callee, req->has_not_before ? &req->not_before : NULL, &held);
	if (held)
		waiting = window_wait_text(due);
	else if (shared_database_unserved(MyDatabaseId))
		waiting = shared_unserved_text();
	request_row(&row, req, &callee, due, held, waiting);

	SPI_connect();
	agentphone_become_owner(&caller);
	if (agentphone_schema_has(SCHEMA_1_3))
		agents_check(req->agent_id, req->from_number_id);
	dialrules_check(&callee, roleid, GetUserNameFromId(roleid, false));
	id = insert_call(&row);
	agentphone_restore_user(&caller);
	SPI_finish();

	if (held)
		enqueue_announce_hold(id, waiting);
	agentphone_wake_at_commit();
	return id;
}

/*
 * text_arg returns argument n of agentphone_call() as a C string, or NULL.
 */
static char *
text_arg(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(n));
}

/*
 * jsonb_arg returns argument n of agentphone_call() as a Jsonb, or NULL.
 */
static Jsonb *
jsonb_arg(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : PG_GETARG_JSONB_P(n);
}

/*
 * request_of_args reads agentphone_call()'s arguments into a CallRequest.
 */
static CallRequest
request_of_args(FunctionCallInfo fcinfo)
{
	CallRequest req = {
		.agent_id = text_arg(fcinfo, 0),
		.to_number = text_arg(fcinfo, 1),
		.variables = jsonb_arg(fcinfo, 2),
		.from_number_id = text_arg(fcinfo, 3),
		.initial_greeting = text_arg(fcinfo, 4),
		.voice = text_arg(fcinfo, 5),
		.system_prompt = text_arg(fcinfo, 6),
		.options = jsonb_arg(fcinfo, 7),
		.timezone = text_arg(fcinfo, 8),
		.has_not_before = !PG_ARGISNULL(9),
		.not_before = PG_ARGISNULL(9) ? 0 : PG_GETARG_TIMESTAMPTZ(9),
	};

	return req;
}

/*
 * agentphone_call(agent_id, to_number, variables, ...) is SQL's face of
 * enqueue_call(); its arguments are read once the grant is known.
 */
Datum
agentphone_call(PG_FUNCTION_ARGS)
{
	CallRequest req;

	agentphone_require_grant(false);
	req = request_of_args(fcinfo);
	PG_RETURN_INT64(enqueue_call(&req));
}
