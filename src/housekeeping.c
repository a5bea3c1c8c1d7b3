/*-------------------------------------------------------------------------
 *
 * housekeeping.c
 *		What the worker does in its claim transaction besides claiming, each
 *		at its own pace: trimming old events and per-number lock rows,
 *		forgetting the grants of dropped or revoked roles, and publishing
 *		the queue's depth (and whether it holds only copies' calls) for
 *		agentphone_workers() and the launcher.
 *
 * Each job is one statement through an index, cheap whatever the history
 * holds (test/t/019_plans.pl).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"

#include "calls.h"
#include "guc.h"
#include "housekeeping.h"
#include "schema.h"
#include "workerslot.h"
#include "xact.h"

/* Rows one trim deletes at most. */
#define TRIM_BATCH 1000

static TimestampTz next_trim_at = 0;	/* reset when settings are reloaded */

/*
 * trim_events deletes events older than agentphone.event_retention, a
 * small batch at a time, the oldest first, found and deleted through
 * their indexes (= ANY of an array, not a join a planner might hash over
 * the whole table); while there is nothing left to trim, it looks
 * again after a minute (or after the retention, if shorter).
 */
static void
trim_events(void)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[1] = {INT4OID};
	Datum		v[1] = {Int32GetDatum(agentphone_event_retention_s)};
	TimestampTz now = GetCurrentTimestamp();

	if (agentphone_event_retention_s == 0 || now < next_trim_at)
		return;
	agentphone_saved_plan(&plan,
						  "DELETE FROM agentphone.call_events WHERE id = ANY (ARRAY("
						  " SELECT id FROM agentphone.call_events"
						  " WHERE at < now() - $1 * interval '1 second' ORDER BY at LIMIT "
						  CppAsString2(TRIM_BATCH) "))",
						  1, types);
	if (SPI_execute_plan(plan, v, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not trim agentphone.call_events");
	next_trim_at = (SPI_processed == TRIM_BATCH) ? now :
		TimestampTzPlusMilliseconds(now, Min(60 * 1000, (int64) agentphone_event_retention_s * 1000));
}

/*
 * A job that deletes once a minute, or again at once while it finds a
 * backlog (a full batch): its DELETE, the release of the schema it needs,
 * what it does (for an error), and when it runs next.
 */
typedef struct MinuteJob
{
	const char *query;
	int			release;
	const char *what;
	bool		batched;		/* a full batch leaves a backlog */
	SPIPlanPtr	plan;
	TimestampTz next_at;
} MinuteJob;

/*
 * run_minute_job runs job when it is due and the schema has its table.
 */
static void
run_minute_job(MinuteJob *job)
{
	TimestampTz now = GetCurrentTimestamp();

	if (now < job->next_at || !agentphone_schema_has(job->release))
		return;
	agentphone_saved_plan(&job->plan, job->query, 0, NULL);
	if (SPI_execute_plan(job->plan, NULL, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not %s", job->what);
	job->next_at = (job->batched && SPI_processed == TRIM_BATCH) ? now :
		TimestampTzPlusMilliseconds(now, 60 * 1000);
}

/*
 * trim_number_locks deletes, once a minute, a batch of the rows of
 * agentphone.number_locks made more than a day ago (the per-number limit
 * counts a day), skipping those a transaction holds.
 */
static void
trim_number_locks(void)
{
	static MinuteJob job = {
		"DELETE FROM agentphone.number_locks WHERE number = ANY (ARRAY("
		" SELECT number FROM agentphone.number_locks"
		" WHERE created_at < now() - interval '1 day' ORDER BY created_at LIMIT "
		CppAsString2(TRIM_BATCH) " FOR UPDATE SKIP LOCKED))",
		SCHEMA_1_7, "trim agentphone.number_locks", true, NULL, 0
	};

	run_minute_job(&job);
}

/*
 * forget_revoked_grants deletes, once a minute, the grants recorded in
 * agentphone.grants for roles that no longer exist (DROP ROLE run in
 * another database), so that no later role given the same OID inherits
 * them, and for roles no longer members of the group (a superuser's
 * REVOKE, in any database, takes it away everywhere), so that a grant
 * made later in another database does not bring them back.
 */
static void
forget_revoked_grants(void)
{
	static MinuteJob job = {
		"DELETE FROM agentphone.grants g WHERE CASE"
		" WHEN NOT EXISTS (SELECT FROM pg_catalog.pg_authid a"
		"  WHERE a.oid OPERATOR(pg_catalog.=) g.role::pg_catalog.oid) THEN true"
		" ELSE NOT pg_catalog.pg_has_role(g.role::pg_catalog.oid,"
		"  CASE WHEN g.admin THEN 'agentphone_admin' ELSE 'agentphone_caller' END, 'MEMBER') END",
		SCHEMA_1_8, "forget the revoked grants", false, NULL, 0
	};

	run_minute_job(&job);
}

/*
 * The queue's depth, and whether every queued call is a held copy, queued
 * in another database (home.c, since 1.8: HELD_ONLY), with nothing else to
 * do.  The queue is read once, through calls_due_idx, and the rest through
 * the partial indexes of the unsettled and followed calls: its cost is
 * that of the live work, not of the history.
 */
#define QUEUE_SQL(HELD_ONLY) \
	"SELECT count(*), " HELD_ONLY " FROM agentphone.calls WHERE status = " SQL_STATUS(CALL_QUEUED)
#define HELD_ONLY_SQL \
	"count(*) > 0" \
	" AND count(*) FILTER (WHERE home IS NULL OR home = (SELECT agentphone.home())) = 0" \
	" AND NOT EXISTS (SELECT FROM agentphone.calls" \
	"   WHERE status IN (" SQL_STATUS(CALL_DISPATCHING) ", " SQL_STATUS(CALL_RECONCILING) "))" \
	" AND NOT EXISTS (SELECT FROM agentphone.calls" \
	"   WHERE api_call_id IS NOT NULL AND NOT transcript_complete" \
	"   AND status NOT IN (" SQL_STATUS(CALL_QUEUED) ", " SQL_STATUS(CALL_DISPATCHING) ", " \
	SQL_STATUS(CALL_ERROR) ", " SQL_STATUS(CALL_UNKNOWN) "))"

/*
 * note_queue_depth publishes how many calls are queued, for
 * agentphone_workers(), and whether they are all held copies with nothing
 * else to do (the launcher then gives the slot to a database that waits),
 * at most once per sweep interval.
 */
static void
note_queue_depth(void)
{
	static SPIPlanPtr plans[2];	/* without, with calls.home */
	static TimestampTz next_at = 0;
	TimestampTz now = GetCurrentTimestamp();
	bool		homes = agentphone_schema_has(SCHEMA_1_8);
	SPIPlanPtr	plan;
	HeapTuple	row;
	bool		isnull;

	if (now < next_at)
		return;
	plan = agentphone_saved_plan(&plans[homes], homes ? QUEUE_SQL(HELD_ONLY_SQL) : QUEUE_SQL("false"),
								 0, NULL);
	if (SPI_execute_plan(plan, NULL, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not count the queued calls");
	row = SPI_tuptable->vals[0];
	workerslot_note_queue_depth(DatumGetInt64(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull)),
								DatumGetBool(SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull)));
	next_at = TimestampTzPlusMilliseconds(now, agentphone_sweep_interval_ms);
}

/*
 * housekeeping_run does what is due of the jobs above.  Runs inside the
 * claim transaction.
 */
void
housekeeping_run(void)
{
	trim_events();
	trim_number_locks();
	forget_revoked_grants();
	note_queue_depth();
}

/*
 * housekeeping_settings_reloaded makes the event trim look again at once
 * (agentphone.event_retention may have changed).
 */
void
housekeeping_settings_reloaded(void)
{
	next_trim_at = 0;
}
