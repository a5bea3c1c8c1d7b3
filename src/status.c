/*-------------------------------------------------------------------------
 *
 * status.c
 *		How the workers are doing: agentphone_worker_status() for the
 *		current database's worker, agentphone_workers() for the launcher
 *		and every database's worker (superusers only).  Both read the slots
 *		in shared memory (shared.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "access.h"
#include "calls.h"
#include "grants.h"
#include "health.h"
#include "shared.h"

PG_FUNCTION_INFO_V1(agentphone_worker_status);
PG_FUNCTION_INFO_V1(agentphone_workers);

/*
 * require_preloaded refuses to report on workers that cannot exist.
 */
static void
require_preloaded(void)
{
	if (!shared_available())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("agentphone is not loaded through shared_preload_libraries"),
				 errdetail("No background worker is running: queued calls are not placed."),
				 errhint("Add agentphone to shared_preload_libraries and restart the server.")));
}

/*
 * queue_depth counts the calls waiting to be placed in this database,
 * every role's (as the tables' owner: a member of pg_monitor reads no
 * call, only this number).
 */
static int64
queue_depth(void)
{
	bool		isnull;
	int64		n;
	AgentphoneUser caller;

	SPI_connect();
	agentphone_become_owner(&caller);
	if (SPI_execute(SQL_QUEUE_DEPTH, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not count the queued calls");
	n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	agentphone_restore_user(&caller);
	SPI_finish();
	return n;
}

/*
 * unserved_reason says why this database has no slot.
 */
static const char *
unserved_reason(void)
{
	if (RecoveryInProgress())
		return "this server is a standby: no worker runs here; calls are queued and placed on the primary";
	if (shared_database_unserved(MyDatabaseId))
		return psprintf("%s; raise it and restart the server", shared_unserved_text());
	return "no worker serves this database yet: the launcher starts one when CREATE EXTENSION agentphone or a queued call commits";
}

/*
 * worker_state names what a slot's worker is doing, for agentphone_workers().
 */
static const char *
worker_state(const WorkerHealth *h, TimestampTz now)
{
	if (h->db_state == DB_GOING)
		return "leaving: a command needs the database";
	if (h->worker_pid != 0)
		return "running";
	if (h->starting)
		return "starting";
	if (h->retry_at > now)
		return "failing: starting again later";
	return "stopped";
}

/*
 * agentphone_worker_status reports the health of this database's worker:
 * whether it runs, its pid, when it started and last looped, the queue
 * depth, requests in flight, its counters since its slot was taken, and
 * its last failure.
 */
Datum
agentphone_worker_status(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		v[13];
	bool		n[13] = {0};
	WorkerHealth snap;

	/* pg_monitor's members read it too: it holds no number, name or key */
	if (!has_privs_of_role(GetUserId(), ROLE_PG_MONITOR))
		agentphone_require_grant(true);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	require_preloaded();
	if (!shared_database_health(MyDatabaseId, &snap))
	{
		strlcpy(snap.last_error, unserved_reason(), sizeof(snap.last_error));
		strlcpy(snap.last_error_public, snap.last_error, sizeof(snap.last_error_public));
	}

	v[0] = BoolGetDatum(snap.worker_pid != 0);
	v[1] = Int32GetDatum(snap.worker_pid);
	n[1] = (snap.worker_pid == 0);
	v[2] = TimestampTzGetDatum(snap.started_at);
	n[2] = (snap.started_at == 0);
	v[3] = TimestampTzGetDatum(snap.last_loop);
	n[3] = (snap.last_loop == 0);
	v[4] = Int64GetDatum(queue_depth());
	v[5] = Int32GetDatum(snap.worker_pid ? snap.in_flight : 0);
	for (int i = 0; i < NUM_COUNTERS; i++)
		v[6 + i] = Int64GetDatum((int64) snap.counters[i]);
	/* the key file's path and the like, to superusers only */
	if (!superuser())
		memcpy(snap.last_error, snap.last_error_public, sizeof(snap.last_error));
	v[10] = CStringGetTextDatum(snap.last_error);
	n[10] = (snap.last_error[0] == '\0');
	/* since 1.8: when, and whether it is over */
	v[11] = TimestampTzGetDatum(snap.last_error_at);
	n[11] = (snap.last_error_at == 0 || n[10]);
	v[12] = BoolGetDatum(snap.last_error_over);
	n[12] = n[11];
	/* (a 1.7 schema has 11 columns: heap_form_tuple takes the first 11) */
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, v, n)));
}

#define WORKERS_COLS 11

/*
 * launcher_row is the launcher's row of agentphone_workers().
 */
static void
launcher_row(Tuplestorestate *store, TupleDesc desc)
{
	LauncherHealth l;
	Datum		v[WORKERS_COLS] = {0};
	bool		n[WORKERS_COLS];

	(void) shared_launcher_health(&l);
	memset(n, true, sizeof(n));
	v[0] = CStringGetTextDatum("launcher");
	n[0] = false;
	v[3] = Int32GetDatum(l.pid);
	n[3] = (l.pid == 0);
	v[4] = CStringGetTextDatum(l.pid ? "running" : "stopped");
	n[4] = false;
	v[5] = TimestampTzGetDatum(l.started_at);
	n[5] = (l.started_at == 0);
	if (l.unserved > 0)
	{
		v[10] = CStringGetTextDatum(psprintf("%d database(s) not served: all %d slots of agentphone.max_databases are taken",
											 l.unserved, l.slots));
		n[10] = false;
	}
	tuplestore_putvalues(store, desc, v, n);
}

/*
 * worker_row is one database's row of agentphone_workers().
 */
static void
worker_row(Tuplestorestate *store, TupleDesc desc, const WorkerHealth *h,
		   TimestampTz now)
{
	Datum		v[WORKERS_COLS];
	bool		n[WORKERS_COLS] = {0};
	NameData	dbname;

	namestrcpy(&dbname, h->dbname);
	v[0] = CStringGetTextDatum("worker");
	v[1] = NameGetDatum(&dbname);
	v[2] = ObjectIdGetDatum(h->dboid);
	v[3] = Int32GetDatum(h->worker_pid);
	n[3] = (h->worker_pid == 0);
	v[4] = CStringGetTextDatum(worker_state(h, now));
	v[5] = TimestampTzGetDatum(h->started_at);
	n[5] = (h->started_at == 0);
	v[6] = TimestampTzGetDatum(h->last_loop);
	n[6] = (h->last_loop == 0);
	v[7] = Int64GetDatum(h->queue_depth);
	n[7] = (h->queue_depth < 0);
	v[8] = Int32GetDatum(h->worker_pid ? h->in_flight : 0);
	v[9] = Int64GetDatum((int64) h->counters[COUNT_DISPATCHED]);
	v[10] = CStringGetTextDatum(h->last_error);
	n[10] = (h->last_error[0] == '\0');
	tuplestore_putvalues(store, desc, v, n);
}

/*
 * agentphone_workers lists the launcher and every database's worker:
 * their pid, state, queue depth (as of the worker's last sweep), requests
 * in flight, calls dispatched and last error.  Superusers only: it names
 * every database of the cluster.
 */
Datum
agentphone_workers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz now = GetCurrentTimestamp();

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superusers may list the workers of every database"),
				 errdetail("agentphone_workers() names every database of the cluster."),
				 errhint("Use agentphone_worker_status() for the worker of the current database.")));
	require_preloaded();
	InitMaterializedSRF(fcinfo, 0);
	launcher_row(rsinfo->setResult, rsinfo->setDesc);
	for (int i = 0; i < shared_slot_count(); i++)
	{
		WorkerHealth h;

		if (shared_slot_health(i, &h))
			worker_row(rsinfo->setResult, rsinfo->setDesc, &h, now);
	}
	return (Datum) 0;
}
