/*-------------------------------------------------------------------------
 *
 * home.c
 *		Where a call was queued: a copy or a restore of a database does
 *		not dial its calls again.
 *
 * CREATE DATABASE ... TEMPLATE, pg_dump and pg_restore into another
 * database, or a base backup started as a second cluster copy the queued
 * calls with everything else; the copy's worker would dial each of them a
 * second time.  So each call records its home, the cluster's system
 * identifier and the database's OID where it was queued
 * (agentphone.home(), the default of agentphone.calls.home), and the
 * claim dials only calls whose home is this database: the others stay
 * queued, held (next_attempt_at = infinity), saying where they come from,
 * until an admin of this database places them here
 * (agentphone_adopt_calls()) or cancels them
 * (agentphone_cancel_copied_calls()).  A promoted standby and a server
 * recovered from a crash keep both identifiers, so their calls go on; so
 * does a base backup started as a second cluster, which this cannot tell
 * from the original (README "Backups" says to start it paused).  A call
 * without a home (finished before 1.8, then retried) is this database's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/builtins.h"

#include "access.h"
#include "calls.h"
#include "grants.h"
#include "shared.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(agentphone_home);
PG_FUNCTION_INFO_V1(agentphone_adopt_calls);
PG_FUNCTION_INFO_V1(agentphone_cancel_copied_calls);

/*
 * agentphone.home() is this database's identity: "<system identifier>:
 * <database OID>", as agentphone.calls.home records it.
 */
Datum
agentphone_home(PG_FUNCTION_ARGS)
{
	(void) fcinfo;
	PG_RETURN_TEXT_P(cstring_to_text(psprintf(UINT64_FORMAT ":%u",
											  GetSystemIdentifier(), MyDatabaseId)));
}

/*
 * update_copied runs query, an UPDATE of the held calls of another home,
 * as the tables' owner, for an admin of this database; returns how many
 * calls it changed.
 */
static int64
update_copied(SPIPlanPtr *plan, const char *query, const char *what)
{
	Oid			types[1] = {TEXTOID};
	Datum		v[1] = {CStringGetTextDatum(GetUserNameFromId(GetUserId(), false))};
	AgentphoneUser caller;
	int64		n;

	agentphone_require_grant(true);
	PreventCommandIfReadOnly(what);
	SPI_connect();
	agentphone_become_owner(&caller);
	agentphone_saved_plan(plan, query, 1, types);
	if (SPI_execute_plan(*plan, v, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "%s failed", what);
	n = (int64) SPI_processed;
	agentphone_restore_user(&caller);
	SPI_finish();
	return n;
}

/*
 * agentphone_adopt_calls() makes this database the home of the queued
 * calls that were queued elsewhere, and has them placed now: the admin
 * says the original will not place them.
 */
Datum
agentphone_adopt_calls(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	int64		n;

	(void) fcinfo;
	n = update_copied(&plan,
					  "UPDATE agentphone.calls SET home = agentphone.home(),"
					  " next_attempt_at = greatest(not_before, now()),"
					  " last_error = 'adopted by ' || $1 || ' from ' || home, updated_at = now()"
					  " WHERE status = " SQL_STATUS(CALL_QUEUED)
					  " AND home OPERATOR(pg_catalog.<>) agentphone.home()",
					  "agentphone_adopt_calls()");
	agentphone_wake_at_commit();	/* they are due now */
	PG_RETURN_INT64(n);
}

/*
 * agentphone_cancel_copied_calls() cancels the queued calls that were
 * queued elsewhere.
 */
Datum
agentphone_cancel_copied_calls(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;

	(void) fcinfo;
	PG_RETURN_INT64(update_copied(&plan,
								  "UPDATE agentphone.calls SET status = " SQL_STATUS(CALL_CANCELED) ", next_attempt_at = NULL,"
								  " last_error = 'canceled by ' || $1 || ': queued in ' || home"
								  " || ', not here', updated_at = now()"
								  " WHERE status = " SQL_STATUS(CALL_QUEUED)
								  " AND home OPERATOR(pg_catalog.<>) agentphone.home()",
								  "agentphone_cancel_copied_calls()"));
}
