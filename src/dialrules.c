/*-------------------------------------------------------------------------
 *
 * dialrules.c
 *		The rules a call must pass when it is queued, by agentphone_call(),
 *		the dialing trigger or agentphone_retry(): the do-not-call list, the
 *		per-number limit and the role's quotas (counted under locks that
 *		hold within one statement and across sessions), and when the
 *		calling window first lets it be dialed.
 *
 * The worker checks the do-not-call list and the per-number limit again
 * when the call comes due (claim_calls).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_extension.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

#include "callee.h"
#include "calls.h"
#include "dialrules.h"
#include "donotcall.h"
#include "guc.h"
#include "quota.h"
#include "schema.h"
#include "window.h"
#include "xact.h"

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

	if (agentphone_schema_has(SCHEMA_1_7))
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
	bool		by_oid = agentphone_schema_has(SCHEMA_1_7);
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
 * dialrules_check raises an error when the do-not-call list, the
 * per-number limit or the role's quotas refuse the call (the destination
 * rules were checked already).  The quotas are the acting role's
 * (quota.c).  The limits are counted holding the number's and the role's
 * locks, each taken only while its limit is set: without quotas, a
 * role's sessions never wait for one another.  Runs inside an SPI
 * connection, as the tables' owner.
 */
void
dialrules_check(const Callee *callee, Oid roleid, const char *role)
{
	const char *number = callee->phone.e164;
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
 * dialrules_first_due returns when a call queued now may first be dialed: not
 * before *not_before (if given), and when the calling window opens in the callee's
 * zones.  A window that never opens in all of them is an error.  *held is
 * set when the window puts the call off.
 */
TimestampTz
dialrules_first_due(Callee *callee, const TimestampTz *not_before, bool *held)
{
	const char *number = callee->phone.e164;
	TimestampTz at = GetCurrentTransactionStartTimestamp();
	TimestampTz opens;

	if (not_before != NULL && *not_before > at)
		at = *not_before;
	if (!agentphone_next_window(at, callee, &opens))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("agentphone will not call %s", number),
				 errdetail("The calling window (agentphone.call_window, agentphone.call_days) is never open in all time zones of the number's country at once."),
				 errhint("Pass the callee's time zone (timezone => ...): see agentphone_check_number(%s).",
						 quote_literal_cstr(number))));
	*held = opens > at;
	return opens;
}

