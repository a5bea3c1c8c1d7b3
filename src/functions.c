/*-------------------------------------------------------------------------
 *
 * functions.c
 *		The SQL-callable functions that work on the queue: agentphone_call(),
 *		agentphone_cancel(), agentphone_wait() and agentphone_worker_status().
 *
 * agentphone_call() never touches the network: it validates its arguments,
 * inserts a "queued" row in the caller's transaction and asks for the
 * worker to be woken when that transaction commits.  A rolled-back
 * transaction therefore leaves nothing behind and dials nobody.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/snapmgr.h"

#include "access.h"
#include "agents.h"
#include "calls.h"
#include "donotcall.h"
#include "functions.h"
#include "grants.h"
#include "guc.h"
#include "numbers.h"
#include "quota.h"
#include "shared.h"
#include "validate.h"
#include "window.h"
#include "xact.h"


PG_FUNCTION_INFO_V1(agentphone_call);
PG_FUNCTION_INFO_V1(agentphone_wake_worker);
PG_FUNCTION_INFO_V1(agentphone_cancel);
PG_FUNCTION_INFO_V1(agentphone_retry);
PG_FUNCTION_INFO_V1(agentphone_wait);

/* How often agentphone_wait() looks at the call again. */
#define WAIT_POLL_MS 20

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
 * check_database refuses to queue calls in a database where no worker
 * will ever look for them: with the deprecated agentphone.database_name
 * set, every other database.
 */
static void
check_database(void)
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

/* Kinds of counting lock (sub-ids of an object lock of class pg_extension). */
#define LOCK_NUMBER		1			/* the calls to one number */
#define LOCK_ROLE		2			/* the calls queued by one role */
#define LOCK_NUMBERS	3			/* the calls to every number of the database */

/*
 * Numbers a transaction locks one by one in the lock table before it
 * locks them all (before 1.7): a statement queueing 100,000 calls would
 * otherwise hold 100,000 locks and exhaust the lock table
 * (max_locks_per_transaction).
 */
#define MAX_NUMBER_LOCKS 64

/*
 * counting_lock takes, until the end of the transaction, a lock that
 * serialises the counting of calls (kind, key): an object lock of a class
 * no object has, so that users, who can take advisory locks at will,
 * cannot take this one.
 */
static void
counting_lock(uint16 kind, uint32 key, LOCKMODE mode)
{
	LOCKTAG		tag;

	SET_LOCKTAG_OBJECT(tag, MyDatabaseId, ExtensionRelationId, key, kind);
	(void) LockAcquire(&tag, mode, false, false);
}

/*
 * lock_number_in_table lets this transaction count the calls to number
 * (1.7 and later): it locks the number's row of agentphone.number_locks,
 * made first if need be, until the transaction ends.  A transaction that
 * made the row, or holds it, makes the others wait for it; no other
 * number is held up.  Under REPEATABLE READ, a row another transaction
 * made after this one's snapshot fails with a serialization error, as any
 * concurrent write does.
 */
static void
lock_number_in_table(const char *number)
{
	static SPIPlanPtr make_plan = NULL;
	static SPIPlanPtr lock_plan = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		v[1] = {CStringGetTextDatum(number)};

	agentphone_saved_plan(&make_plan,
						  "INSERT INTO agentphone.number_locks (number) VALUES ($1)"
						  " ON CONFLICT (number) DO NOTHING",
						  1, types);
	agentphone_saved_plan(&lock_plan,
						  "SELECT FROM agentphone.number_locks WHERE number = $1 FOR UPDATE",
						  1, types);
	/* (a row the worker deleted as old between the two is made again) */
	for (int tries = 0; tries < 3; tries++)
	{
		if (SPI_execute_plan(make_plan, v, NULL, false, 0) != SPI_OK_INSERT ||
			SPI_execute_plan(lock_plan, v, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not lock the number %s", number);
		if (SPI_processed == 1)
			return;
	}
	elog(ERROR, "could not lock the number %s", number);
}

/*
 * lock_number lets this transaction count the calls to number.  Before
 * 1.7 (no agentphone.number_locks) it locks the number in the lock table,
 * holding the lock on all numbers in a mode that lets other transactions
 * lock theirs; past MAX_NUMBER_LOCKS numbers it takes the lock on all
 * numbers exclusively instead (waiting for the transactions that hold
 * numbers to end) and locks no more numbers one by one.  A
 * subtransaction's abort may release locks counted here: the transaction
 * then only escalates sooner.
 */
static void
lock_number(const char *number)
{
	static LocalTransactionId counted_in = InvalidLocalTransactionId;
	static int	locked = 0;
	uint32		key = hash_bytes((const unsigned char *) number, strlen(number));
	LOCKTAG		all;
	LOCKTAG		one;

	if (agentphone_has_relation("number_locks"))
	{
		lock_number_in_table(number);
		return;
	}
	SET_LOCKTAG_OBJECT(all, MyDatabaseId, ExtensionRelationId, 0, LOCK_NUMBERS);
	SET_LOCKTAG_OBJECT(one, MyDatabaseId, ExtensionRelationId, key, LOCK_NUMBER);
	if (LockHeldByMe(&all, ExclusiveLock) || LockHeldByMe(&one, ExclusiveLock))
		return;
	if (counted_in != MyProc->lxid)
	{
		counted_in = MyProc->lxid;
		locked = 0;
	}
	if (++locked > MAX_NUMBER_LOCKS)
	{
		counting_lock(LOCK_NUMBERS, 0, ExclusiveLock);
		return;
	}
	counting_lock(LOCK_NUMBERS, 0, RowExclusiveLock);
	counting_lock(LOCK_NUMBER, key, ExclusiveLock);
}

/*
 * refuse raises the error of a call the dialing rules refuse: a limit
 * (54000) or a destination (22023), with detail saying which and why.
 */
static void
refuse(bool limit, const char *number, const char *why)
{
	ereport(ERROR,
			(errcode(limit ? ERRCODE_PROGRAM_LIMIT_EXCEEDED : ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("agentphone will not call %s", number),
			 errdetail("%s.", why),
			 errhint(limit
					 ? "The limits are settings a superuser can change (see README \"Responsible dialing\")."
					 : "A member of agentphone_admin takes a number off the do-not-call list with agentphone_allow_calls().")));
}

/*
 * count_calls counts the calls a saved query finds, up to limit (which
 * is all a refusal needs to know), on a snapshot taken now, after the
 * counting locks: it sees the calls queued earlier by this transaction's
 * statements and those of transactions that committed while this one
 * waited, whatever the isolation level.
 */
static int
count_calls(SPIPlanPtr plan, Datum *values, int limit)
{
	if (SPI_execute_snapshot(plan, values, NULL, GetLatestSnapshot(), InvalidSnapshot,
							 true, false, limit) != SPI_OK_SELECT)
		elog(ERROR, "could not count calls");
	return (int) SPI_processed;
}

/*
 * check_role_quota refuses the call when role (roleid) has queued quota
 * calls in the last period (hour or day); quota 0 is no limit.
 */
static void
check_role_quota(const char *number, Oid roleid, const char *role, int quota,
				 const char *period, int seconds)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_by_name = NULL;	/* created_by before 1.7 */
	bool		by_oid = agentphone_roles_by_oid();
	Oid			types[2] = {by_oid ? OIDOID : NAMEOID, INT4OID};
	Datum		v[2] = {by_oid ? ObjectIdGetDatum(roleid) : CStringGetDatum(role),
	Int32GetDatum(seconds)};

	if (quota == 0)
		return;
	agentphone_saved_plan(by_oid ? &plan : &plan_by_name,
						  "SELECT FROM agentphone.calls c WHERE c.created_by = $1"
						  " AND c.created_at > now() - $2 * interval '1 second'"
						  " AND c.status NOT IN (" SQL_STATUS(CALL_CANCELED) ", " SQL_STATUS(CALL_BLOCKED) ")",
						  2, types);
	if (count_calls(by_oid ? plan : plan_by_name, v, quota) >= quota)
		refuse(true, number, psprintf("role %s has queued %d or more calls in the last %s (agentphone.role_calls_per_%s = %d)",
									  role, quota, period, period, quota));
}

/*
 * check_dial_rules raises an error when the do-not-call list, the
 * per-number limit or the role's quotas refuse the call (the destination
 * rules were checked already).  The quotas are the acting role's
 * (quota.c).  The limits are counted holding the number's and the role's
 * locks, each taken only while its limit is set: without quotas, a
 * role's sessions never wait for one another.  Runs inside an SPI
 * connection, as the tables' owner.
 */
static void
check_dial_rules(const char *number, Oid roleid, const char *role)
{
	static SPIPlanPtr number_plan = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		v[1] = {CStringGetTextDatum(number)};
	int			cap = agentphone_max_calls_per_number_per_day;
	int			per_hour;
	int			per_day;
	char	   *problem;

	if ((problem = agentphone_do_not_call_problem(number, roleid)) != NULL)
		refuse(false, number, problem);
	agentphone_role_quotas(roleid, &per_hour, &per_day);
	if (cap > 0)
		lock_number(number);
	if (per_hour > 0 || per_day > 0)
		counting_lock(LOCK_ROLE, roleid, ExclusiveLock);
	CommandCounterIncrement();
	agentphone_saved_plan(&number_plan,
						  "SELECT FROM agentphone.calls c WHERE c.to_number = $1"
						  " AND c.created_at > now() - interval '1 day'"
						  " AND c.status NOT IN (" SQL_STATUS(CALL_CANCELED) ", " SQL_STATUS(CALL_BLOCKED) ", " SQL_STATUS(CALL_ERROR) ")",
						  1, types);
	if (cap > 0 && count_calls(number_plan, v, cap) >= cap)
		refuse(true, number, psprintf("%s already has %d or more calls in the last 24 hours (agentphone.max_calls_per_number_per_day = %d)",
									  number, cap, cap));
	check_role_quota(number, roleid, role, per_hour, "hour", 3600);
	check_role_quota(number, roleid, role, per_day, "day", 24 * 3600);
}

/*
 * first_due returns when a call queued now may first be dialed: not
 * before *not_before (if given), and when the calling window opens in the callee's
 * zones.  A window that never opens in all of them is an error.  *held is
 * set when the window puts the call off.
 */
static TimestampTz
first_due(const char *number, const char *tz, const TimestampTz *not_before, bool *held)
{
	TimestampTz at = GetCurrentTransactionStartTimestamp();
	TimestampTz opens;

	if (not_before != NULL && *not_before > at)
		at = *not_before;
	if (!agentphone_next_window(at, number, tz, &opens))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("agentphone will not call %s", number),
				 errdetail("The calling window (agentphone.call_window, agentphone.call_days) is never open in all time zones of the number's country at once."),
				 errhint("Pass the callee's time zone (timezone => ...): see agentphone_check_number(%s).",
						 quote_literal_cstr(number))));
	*held = opens > at;
	return opens;
}

/*
 * announce_hold tells the caller that call id waits for the calling
 * window, once per transaction: a statement queueing a thousand calls
 * outside the window gets one notice, not a thousand.
 */
static void
announce_hold(int64 id, const char *waiting)
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
 * schema_is_1_3 says whether the installed tables are those of 1.3 or
 * later (agents, held_by_window), looked up once per transaction: the
 * library may be newer than the scripts ALTER EXTENSION last ran.
 */
static bool
schema_is_1_3(void)
{
	static LocalTransactionId looked_in = InvalidLocalTransactionId;
	static bool is_1_3;

	if (looked_in != MyProc->lxid)
	{
		is_1_3 = agentphone_has_relation("agent_sync");
		looked_in = MyProc->lxid;
	}
	return is_1_3;
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
	check_database();
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
	if (agentphone_roles_by_oid())
	{
		argtypes[NUM_CALL_ARGS] = OIDOID;
		values[NUM_CALL_ARGS] = ObjectIdGetDatum(roleid);
	}
	if (!isnull[9])
		not_before = DatumGetTimestampTz(args[9]);
	due = first_due(to_number, tz, isnull[9] ? NULL : &not_before, &held);
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
	if (schema_is_1_3())
		agents_check(agent_id, text_arg(args, isnull, 3));
	check_dial_rules(to_number, roleid, role);
	if (schema_is_1_3())
		insert = agentphone_saved_plan(agentphone_roles_by_oid() ? &plan : &plan_by_name,
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
		announce_hold(id, waiting);
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

/*
 * agentphone.wake_worker(), a statement trigger AFTER INSERT on
 * agentphone.calls: rows written other than by agentphone_call() (a
 * superuser's INSERT, COPY, a logical replication apply) wake the worker
 * at COMMIT, like a queued call, rather than wait for the sweep.
 */
Datum
agentphone_wake_worker(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("agentphone.wake_worker() may only be called as a trigger")));
	agentphone_wake_at_commit();
	return PointerGetDatum(NULL);
}

/*
 * call_must_exist raises an error when there is no call with this id.
 * It runs inside an SPI connection.
 */
static void
call_must_exist(int64 id)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(id)};

	agentphone_saved_plan(&plan, "SELECT 1 FROM agentphone.calls WHERE id = $1", 1, argtypes);
	/* not read-only: see a call queued earlier in the same statement */
	if (SPI_execute_plan(plan, values, NULL, false, 1) != SPI_OK_SELECT || SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("call %lld does not exist", (long long) id),
				 errdetail("A role sees only the calls it queued, unless it is a member of agentphone_admin."),
				 errhint("Pass the id that agentphone_call() returned.")));
}

/*
 * agentphone_cancel cancels a call that is still queued.  It returns false
 * when the worker has already taken the call; a call being dispatched
 * cannot be taken back.  The row lock makes this race-free: a cancel that
 * meets a claim in progress waits for it and then sees "dispatching".
 */
/*
 * say_why_not_canceled tells, in a NOTICE, why call id (the caller's) was
 * not canceled: it is no longer queued; a live one is ended with
 * agentphone_end_call().  Runs inside an SPI connection.
 */
static void
say_why_not_canceled(int64 id)
{
	Oid			types[1] = {INT8OID};
	Datum		v[1] = {Int64GetDatum(id)};
	char	   *status;

	if (SPI_execute_with_args("SELECT status, api_call_id IS NOT NULL AND ended_at IS NULL"
							  " AND status NOT IN ('completed', 'failed', 'canceled', 'error', 'blocked', 'unknown')"
							  " FROM agentphone.calls WHERE id = $1",
							  1, types, v, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		return;					/* (not read-only: a snapshot taken now) */
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2), "t") == 0)
		ereport(NOTICE,
				(errmsg("call %lld was not canceled: it is %s, already placed", (long long) id, status),
				 errhint("agentphone_end_call(%lld) hangs up a live call.", (long long) id)));
	else
		ereport(NOTICE,
				(errmsg("call %lld was not canceled: it is %s, no longer queued", (long long) id, status)));
}

Datum
agentphone_cancel(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		values[2] = {PG_GETARG_DATUM(0),
		CStringGetTextDatum(GetUserNameFromId(GetUserId(), false))};
	bool		canceled;
	AgentphoneUser caller;

	agentphone_require_grant(false);
	SPI_connect();
	call_must_exist(PG_GETARG_INT64(0));	/* as the caller: its own calls */
	agentphone_become_owner(&caller);
	agentphone_saved_plan(&plan,
				  "UPDATE agentphone.calls SET status = " SQL_STATUS(CALL_CANCELED) ","
				  " last_error = 'canceled by ' || $2,"
				  " next_attempt_at = NULL, updated_at = now()"
				  " WHERE id = $1 AND status IS NOT DISTINCT FROM " SQL_STATUS(CALL_QUEUED),
				  2, argtypes);
	if (SPI_execute_plan(plan, values, NULL, false, 1) != SPI_OK_UPDATE)
		elog(ERROR, "could not cancel the call");
	canceled = (SPI_processed == 1);
	agentphone_restore_user(&caller);
	if (!canceled)
		say_why_not_canceled(PG_GETARG_INT64(0));
	SPI_finish();
	PG_RETURN_BOOL(canceled);
}

/*
 * retryable_call locks call id (which the caller can see) and reads what a
 * retry needs; it refuses a call that did not end in "error" or "unknown".
 * Runs as the tables' owner, inside an SPI connection.
 */
static HeapTuple
retryable_call(int64 id, TupleDesc *desc)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(id)};
	char	   *status;

	agentphone_saved_plan(&plan,
				  "SELECT status, to_number, timezone, not_before,"
				  " ended_at IS NOT NULL OR transcript_complete FROM agentphone.calls"
				  " WHERE id = $1 FOR UPDATE",
				  1, argtypes);
	if (SPI_execute_plan(plan, values, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not lock call %lld", (long long) id);
	*desc = SPI_tuptable->tupdesc;
	status = SPI_getvalue(SPI_tuptable->vals[0], *desc, 1);
	if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], *desc, 5), "t") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("call %lld was placed and has ended: it cannot be retried", (long long) id),
				 errdetail("The API gave it an end time, so it reached the callee's line; a retry would call again."),
				 errhint("Place a new call with agentphone_call() if the callee should be called again.")));
	if (strcmp(status, CALL_ERROR) != 0 && strcmp(status, CALL_UNKNOWN) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("call %lld is %s: only a call in error or unknown can be retried",
						(long long) id, status),
				 strcmp(status, CALL_QUEUED) == 0 ?
				 errhint("It is already waiting to be placed; agentphone_wait(%lld) waits for it.", (long long) id) :
				 errhint("Place a new call with agentphone_call().")));
	return SPI_tuptable->vals[0];
}

/*
 * agentphone_retry puts a call that ended in "error" or "unknown" back in
 * the queue, for the role that queued it (or an admin): every dialing
 * rule is checked again as for a new call, the calling window applies,
 * and the attempts so far still count.  It returns when the call is due.
 * An "unknown" call may have rung the callee already: the caller is told
 * so.
 */
Datum
agentphone_retry(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		id = PG_GETARG_INT64(0);
	Oid			roleid = GetUserId();
	char	   *role = GetUserNameFromId(roleid, false);
	Oid			argtypes[5] = {INT8OID, TIMESTAMPTZOID, BOOLOID, TEXTOID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	AgentphoneUser caller;
	TupleDesc	desc;
	HeapTuple	row;
	bool		isnull;
	bool		held;
	bool		was_unknown;
	char	   *number;
	char	   *tz;
	TimestampTz not_before;
	TimestampTz due;
	char	   *waiting = NULL;
	MemoryContext callcxt = CurrentMemoryContext;

	agentphone_require_grant(false);
	PreventCommandIfReadOnly("agentphone_retry()");
	check_database();
	SPI_connect();
	call_must_exist(id);		/* as the caller: its own calls */
	agentphone_become_owner(&caller);
	row = retryable_call(id, &desc);
	was_unknown = strcmp(SPI_getvalue(row, desc, 1), CALL_UNKNOWN) == 0;
	number = agentphone_dialable_number(SPI_getvalue(row, desc, 2));
	tz = SPI_getvalue(row, desc, 3);
	not_before = DatumGetTimestampTz(SPI_getbinval(row, desc, 4, &isnull));
	due = first_due(number, tz, isnull ? NULL : &not_before, &held);
	check_dial_rules(number, roleid, role);
	if (held)
		waiting = agentphone_window_wait_text(due);

	values[0] = Int64GetDatum(id);
	values[1] = TimestampTzGetDatum(due);
	values[2] = BoolGetDatum(held);
	values[3] = waiting ? CStringGetTextDatum(waiting) : (Datum) 0;
	nulls[3] = waiting ? ' ' : 'n';
	values[4] = CStringGetTextDatum(role);
	agentphone_saved_plan(&plan,
				  "UPDATE agentphone.calls SET status = " SQL_STATUS(CALL_QUEUED) ", next_attempt_at = $2,"
				  " held_by_window = $3, last_error = coalesce($4, 'retried by ' || $5),"
				  " updated_at = now()"
				  " WHERE id = $1",
				  5, argtypes);
	if (SPI_execute_plan(plan, values, nulls, false, 1) != SPI_OK_UPDATE || SPI_processed != 1)
		elog(ERROR, "could not queue call %lld again", (long long) id);
	number = MemoryContextStrdup(callcxt, number);
	if (waiting)
		waiting = MemoryContextStrdup(callcxt, waiting);
	agentphone_restore_user(&caller);
	SPI_finish();

	if (was_unknown)
		ereport(NOTICE,
				(errmsg("call %lld may already have rung %s", (long long) id, number),
				 errdetail("Its first attempt's outcome is unknown: the API may have placed it.")));
	if (held)
		announce_hold(id, waiting);
	agentphone_wake_at_commit();
	PG_RETURN_TIMESTAMPTZ(due);
}

/* What agentphone_wait() reads of a call. */
typedef struct WaitedCall
{
	char	   *status;
	bool		transcript_complete;
	bool		has_end;		/* ended_at is set */
	bool		placed;			/* api_call_id is set */
} WaitedCall;

/*
 * fetch_status reads what agentphone_wait() needs of the call; it raises
 * an error when the call does not exist or was queued by the current,
 * uncommitted transaction (the worker cannot see it, so waiting would
 * always time out).
 */
static void
fetch_status(int64 id, WaitedCall *w)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(id)};
	bool		isnull;
	TransactionId xmin;
	char	   *status;

	agentphone_saved_plan(&plan, "SELECT status, xmin, transcript_complete, ended_at IS NOT NULL,"
				  " api_call_id IS NOT NULL FROM agentphone.calls WHERE id = $1",
				  1, argtypes);
	if (SPI_execute_plan(plan, values, NULL, false, 1) != SPI_OK_SELECT || SPI_processed == 0)
		call_must_exist(id);
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	xmin = DatumGetTransactionId(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 2, &isnull));
	w->status = status;
	w->transcript_complete = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
														SPI_tuptable->tupdesc, 3, &isnull));
	w->has_end = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull));
	w->placed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull));
	SPI_freetuptable(SPI_tuptable);
	if (strcmp(status, CALL_QUEUED) == 0 && TransactionIdIsCurrentTransactionId(xmin))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("call %lld was queued by the current transaction", (long long) id),
				 errdetail("Calls are placed only after the transaction that queued them commits."),
				 errhint("COMMIT first, then call agentphone_wait().")));
}

/* What agentphone_wait() waits for. */
typedef enum WaitUntil
{
	UNTIL_PLACED,				/* the call has left the queue */
	UNTIL_ENDED,				/* it is over, or will never be placed */
	UNTIL_TRANSCRIPT			/* its transcript is stored, or it has none */
} WaitUntil;

/*
 * wait_until_arg reads agentphone_wait()'s until argument.
 */
static WaitUntil
wait_until_arg(const char *until)
{
	if (strcmp(until, "placed") == 0)
		return UNTIL_PLACED;
	if (strcmp(until, "ended") == 0)
		return UNTIL_ENDED;
	if (strcmp(until, "transcript") == 0)
		return UNTIL_TRANSCRIPT;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid until \"%s\" for agentphone_wait()", until),
			 errdetail("It waits until the call is placed, has ended, or has its transcript stored."),
			 errhint("Pass until => 'placed', 'ended' or 'transcript'.")));
	return UNTIL_PLACED;		/* keep the compiler quiet */
}

/*
 * wait_over says whether call w is where agentphone_wait() was asked to
 * wait for.  A call has ended as the worker sees it (poll.c): it has an
 * end time or a state of the ended or over phase (calls.h); one never
 * placed will have no transcript.
 */
static bool
wait_over(const WaitedCall *w, WaitUntil until)
{
	CallPhase	phase = callstatus_phase(w->status);
	bool		is_ended = w->has_end || phase == PHASE_ENDED || phase == PHASE_OVER;

	if (phase == PHASE_UNPLACED)
		return false;
	if (until == UNTIL_PLACED)
		return true;
	if (until == UNTIL_ENDED)
		return is_ended;
	return w->transcript_complete || (is_ended && !w->placed);	/* none to come */
}

/*
 * agentphone_wait(id, timeout [, until]) waits until call id is placed
 * (or will never be), has ended, or has its transcript stored, or until
 * the timeout; it returns the call's status then.
 */
Datum
agentphone_wait(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	int64		timeout_ms = agentphone_interval_ms(PG_GETARG_INTERVAL_P(1));
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	WaitUntil	until;
	MemoryContext callcxt = CurrentMemoryContext;
	WaitedCall	w;

	agentphone_require_grant(false);
	until = PG_NARGS() > 2 ? wait_until_arg(text_to_cstring(PG_GETARG_TEXT_PP(2))) : UNTIL_PLACED;
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("agentphone_wait() cannot be used in a REPEATABLE READ or SERIALIZABLE transaction"),
				 errdetail("Its snapshot would never show the worker's progress."),
				 errhint("Call it in a READ COMMITTED transaction.")));

	SPI_connect();
	for (;;)
	{
		long		left;

		fetch_status(id, &w);
		if (wait_over(&w, until))
			break;
		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (left <= 0)
			break;
		pfree(w.status);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(left, WAIT_POLL_MS), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	w.status = MemoryContextStrdup(callcxt, w.status);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(w.status));
}
