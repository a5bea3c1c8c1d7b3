/*-------------------------------------------------------------------------
 *
 * enqueue.c
 *		Queueing a call: agentphone_call(), and agentphone_queue_call(),
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
#include "dialrules.h"
#include "enqueue.h"
#include "grants.h"
#include "guc.h"
#include "numbers.h"
#include "schema.h"
#include "shared.h"
#include "validate.h"
#include "window.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(agentphone_call);

/*
 * text_arg returns argument n of a call request as a C string, or NULL
 * when it is NULL.
 */
static char *
text_arg(const Datum *args, const bool *isnull, int n)
{
	return isnull[n] ? NULL : TextDatumGetCString(args[n]);
}

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
 * agentphone_queue_call validates a call request (the arguments of
 * agentphone_call(), in their order) and queues it for the current user.
 * It returns the new row's id; the call is placed by the worker after
 * COMMIT, not before not_before, and only while agentphone.call_window is
 * open in the callee's time zone.
 */
int64
agentphone_queue_call(const Datum *args, const bool *isnull)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_by_name = NULL;	/* for tables of 1.3 to 1.6 */
	static SPIPlanPtr plan_1_2 = NULL;	/* for a table not yet updated to 1.3 */
	SPIPlanPtr	insert;
	Oid			argtypes[NUM_CALL_ARGS + 4] = {TEXTOID, TEXTOID, JSONBOID, TEXTOID,
		TEXTOID, TEXTOID, TEXTOID, JSONBOID, TEXTOID, TIMESTAMPTZOID, NAMEOID,
	TIMESTAMPTZOID, BOOLOID, TEXTOID};
	Datum		values[NUM_CALL_ARGS + 4];
	char		nulls[NUM_CALL_ARGS + 4];
	Oid			roleid = GetUserId();
	char	   *role = GetUserNameFromId(roleid, false);
	AgentphoneUser caller;
	char	   *agent_id = text_arg(args, isnull, 0);
	char	   *to_number = text_arg(args, isnull, 1);
	char	   *tz = text_arg(args, isnull, 8);
	Jsonb	   *variables = isnull[2] ? NULL : DatumGetJsonbP(args[2]);
	Jsonb	   *options = isnull[7] ? NULL : DatumGetJsonbP(args[7]);
	bool		null;
	bool		held;
	TimestampTz not_before = 0;
	TimestampTz due;
	char	   *waiting = NULL;
	int64		id;

	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot queue a call on a standby server"),
				 errdetail("This server is a standby: calls are queued, and placed, on the primary."),
				 errhint("Connect to the primary to run agentphone_call().")));
	PreventCommandIfReadOnly("agentphone_call()");
	enqueue_check_database();
	agentphone_check_text("agent_id", agent_id, MAX_ID_LEN, true, false);
	agentphone_check_e164("to_number", to_number);
	to_number = agentphone_dialable_number(to_number);
	variables = agentphone_normalize_variables(variables);
	agentphone_check_text("from_number_id", text_arg(args, isnull, 3), MAX_ID_LEN, false, false);
	agentphone_check_text("initial_greeting", text_arg(args, isnull, 4), MAX_GREETING_LEN, false, true);
	agentphone_check_text("voice", text_arg(args, isnull, 5), MAX_ID_LEN, false, false);
	agentphone_check_text("system_prompt", text_arg(args, isnull, 6), MAX_PROMPT_LEN, false, false);
	agentphone_check_options(options);
	agentphone_check_callee_zone(to_number, tz);
	options = with_default_sub_account(options);

	for (int i = 0; i < NUM_CALL_ARGS; i++)
	{
		nulls[i] = isnull[i] ? 'n' : ' ';
		values[i] = isnull[i] ? (Datum) 0 : args[i];
	}
	values[1] = CStringGetTextDatum(to_number);
	if (variables != NULL)
		values[2] = JsonbPGetDatum(variables);
	if (options != NULL)
	{
		values[7] = JsonbPGetDatum(options);
		nulls[7] = ' ';
	}
	values[NUM_CALL_ARGS] = CStringGetDatum(role);
	nulls[NUM_CALL_ARGS] = ' ';
	if (agentphone_schema_has(SCHEMA_1_7))
	{
		argtypes[NUM_CALL_ARGS] = OIDOID;
		values[NUM_CALL_ARGS] = ObjectIdGetDatum(roleid);
	}
	if (!isnull[9])
		not_before = DatumGetTimestampTz(args[9]);
	due = dialrules_first_due(to_number, tz, isnull[9] ? NULL : &not_before, &held);
	values[NUM_CALL_ARGS + 1] = TimestampTzGetDatum(due);
	nulls[NUM_CALL_ARGS + 1] = ' ';
	values[NUM_CALL_ARGS + 2] = BoolGetDatum(held);
	nulls[NUM_CALL_ARGS + 2] = ' ';
	if (held)
		waiting = agentphone_window_wait_text(due);
	else if (shared_database_unserved(MyDatabaseId))
		waiting = shared_unserved_text();
	values[NUM_CALL_ARGS + 3] = waiting ? CStringGetTextDatum(waiting) : (Datum) 0;
	nulls[NUM_CALL_ARGS + 3] = waiting ? ' ' : 'n';

	SPI_connect();
	agentphone_become_owner(&caller);
	if (agentphone_schema_has(SCHEMA_1_3))
		agents_check(agent_id, text_arg(args, isnull, 3));
	dialrules_check(to_number, roleid, role);
	if (agentphone_schema_has(SCHEMA_1_3))
		insert = agentphone_saved_plan(agentphone_schema_has(SCHEMA_1_7) ? &plan : &plan_by_name,
					  "INSERT INTO agentphone.calls (agent_id, to_number, variables,"
					  " from_number_id, initial_greeting, voice, system_prompt, options,"
					  " timezone, not_before, created_by, next_attempt_at, held_by_window, last_error)"
					  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
					  NUM_CALL_ARGS + 4, argtypes);
	else
		insert = agentphone_saved_plan(&plan_1_2,
					  "INSERT INTO agentphone.calls (agent_id, to_number, variables,"
					  " from_number_id, initial_greeting, voice, system_prompt, options,"
					  " timezone, not_before, created_by, next_attempt_at, last_error)"
					  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $14) RETURNING id",
					  NUM_CALL_ARGS + 4, argtypes);
	if (SPI_execute_plan(insert, values, nulls, false, 1) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not queue the call");
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									 SPI_tuptable->tupdesc, 1, &null));
	agentphone_restore_user(&caller);
	SPI_finish();

	if (held)
		enqueue_announce_hold(id, waiting);
	agentphone_wake_at_commit();
	return id;
}

/*
 * agentphone_call(agent_id, to_number, variables, ...) is SQL's face of
 * agentphone_queue_call().
 */
Datum
agentphone_call(PG_FUNCTION_ARGS)
{
	Datum		args[NUM_CALL_ARGS];
	bool		isnull[NUM_CALL_ARGS];

	agentphone_require_grant(false);
	for (int i = 0; i < NUM_CALL_ARGS; i++)
	{
		isnull[i] = PG_ARGISNULL(i);
		args[i] = isnull[i] ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	PG_RETURN_INT64(agentphone_queue_call(args, isnull));
}

