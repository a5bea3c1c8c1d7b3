/*-------------------------------------------------------------------------
 *
 * tending.c
 *		The workers the launcher starts, one per slot: starting the worker
 *		a slot wants, reaping it when it exits, stopping one whose slot is
 *		given up, and freeing slots.
 *
 * A worker that stops without saying why (an error, a crash, a refused
 * connection) is started again after a backoff that doubles up to
 * MAX_BACKOFF_MS, in its database only.  When PostgreSQL has no background
 * worker slot left (max_worker_processes), the launcher says so once in
 * the log and tries again after NO_BGWORKER_RETRY_MS.
 *
 * The handles of the workers it started live in the launcher's own
 * memory.  A launcher started again after a failure of its own finds their
 * slots busy (a pid published) and starts nothing there until they exit,
 * looking again every ORPHAN_RECHECK_MS.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "backoff.h"
#include "health.h"
#include "shared.h"
#include "slots.h"
#include "tending.h"

/* Backoff of a database whose worker keeps failing. */
#define MIN_BACKOFF_MS 1000
#define MAX_BACKOFF_MS (5 * 60 * 1000)
/* How often to look at a worker a previous launcher started. */
#define ORPHAN_RECHECK_MS 1000
/* Wait before trying again when PostgreSQL had no worker slot. */
#define NO_BGWORKER_RETRY_MS 5000

static BackgroundWorkerHandle **handles = NULL;	/* per slot */
static bool *retiring = NULL;	/* per slot: free it when its worker exits */
static bool slot_freed = false;	/* since the last turn of the loop */
static bool bgworkers_exhausted_said = false;

/*
 * tending_init makes room for the handles of the workers, one per slot.
 */
void
tending_init(void)
{
	handles = MemoryContextAllocZero(TopMemoryContext,
									 shared_slot_count() * sizeof(BackgroundWorkerHandle *));
	retiring = MemoryContextAllocZero(TopMemoryContext, shared_slot_count() * sizeof(bool));
}

/*
 * tending_retiring says whether slot's worker was asked to exit so that
 * the slot is freed.
 */
bool
tending_retiring(int slot)
{
	return retiring[slot];
}

/*
 * stop_worker asks slot's worker to exit (its database is no longer
 * served); the slot is freed once it has.
 */
static void
stop_worker(int slot)
{
	retiring[slot] = true;
	TerminateBackgroundWorker(handles[slot]);
}

/*
 * free_slot frees a slot; a database left without one may take it.
 */
static void
free_slot(int slot)
{
	slots_free(slot);
	slot_freed = true;
}

/*
 * tending_let_go gives slot up: its worker, if it runs, is asked to exit,
 * and the slot is freed once it has; a slot without one is freed now.
 */
void
tending_let_go(int slot)
{
	if (handles[slot] != NULL)
		stop_worker(slot);
	else
		free_slot(slot);
}

/*
 * tending_take_slot_freed says whether a slot was freed since it was last
 * asked.
 */
bool
tending_take_slot_freed(void)
{
	bool		freed = slot_freed;

	slot_freed = false;
	return freed;
}

/*
 * backoff_ms is the wait before the next start after n failures in a row.
 */
static long
backoff_ms(int failures)
{
	return (long) doubled_ms(MIN_BACKOFF_MS, failures, MAX_BACKOFF_MS);
}

/*
 * start_worker starts the worker of slot; false when PostgreSQL has no
 * background worker slot for it.
 */
static bool
start_worker(int slot, const char *dbname)
{
	BackgroundWorker worker = {
		.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION,
		.bgw_start_time = BgWorkerStart_RecoveryFinished,
		.bgw_restart_time = BGW_NEVER_RESTART,
		.bgw_main_arg = Int32GetDatum(slot),
		.bgw_notify_pid = MyProcPid,
	};

	MemoryContext old;
	bool		registered;

	strlcpy(worker.bgw_library_name, "agentphone", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "agentphone_worker_main", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "agentphone worker for database %s", dbname);
	strlcpy(worker.bgw_type, "agentphone worker", BGW_MAXLEN);
	old = MemoryContextSwitchTo(TopMemoryContext);	/* the handle outlives the turn */
	registered = RegisterDynamicBackgroundWorker(&worker, &handles[slot]);
	MemoryContextSwitchTo(old);
	if (!registered)
	{
		handles[slot] = NULL;
		if (!bgworkers_exhausted_said)
			ereport(LOG,
					(errmsg("agentphone: could not start the worker of database \"%s\": no background worker slot is free",
							dbname),
					 errhint("Raise max_worker_processes (agentphone needs one per database it serves, plus its launcher) and restart the server.")));
		bgworkers_exhausted_said = true;
		return false;
	}
	bgworkers_exhausted_said = false;
	return true;
}

/*
 * worker_stopped acts on the exit of slot's worker; a database found
 * without the extension is appended to *no_extension.
 */
static void
worker_stopped(int slot, TimestampTz now, List **no_extension)
{
	WorkerExit why;
	int			failures;
	WorkerHealth h;

	pfree(handles[slot]);
	handles[slot] = NULL;
	slots_stopped(slot, &why, &failures);
	(void) shared_slot_health(slot, &h);
	if (retiring[slot])
	{
		retiring[slot] = false;
		free_slot(slot);
		return;
	}
	switch (why)
	{
		case EXIT_NO_EXTENSION:
			if (h.wanted)
				break;			/* CREATE EXTENSION committed meanwhile */
			*no_extension = lappend_oid(*no_extension, h.dboid);
			free_slot(slot);
			break;
		case EXIT_NOT_SERVED:
			free_slot(slot);
			break;
		case EXIT_LEFT:
			break;				/* started again once the database is back */
		case EXIT_NONE:
			if (h.db_state == DB_GONE)
				break;
			ereport(LOG,
					(errmsg("agentphone: the worker of database \"%s\" stopped unexpectedly (%d time(s) in a row); starting it again in %ld ms",
							h.dbname, failures, backoff_ms(failures))));
			slots_backoff(slot, TimestampTzPlusMilliseconds(now, backoff_ms(failures)));
			break;
	}
}

/*
 * may_start tells whether slot's database may get a worker now; when it
 * may later, *wait_ms is lowered to when.
 */
static bool
may_start(const WorkerHealth *h, TimestampTz now, long *wait_ms)
{
	if (h->db_state == DB_GOING &&
		!TimestampDifferenceExceeds(h->db_state_since, now, DB_GOING_STALE_MS))
		return false;			/* its command wakes the launcher */
	if (h->retry_at > now)
	{
		*wait_ms = Min(*wait_ms, TimestampDifferenceMilliseconds(now, h->retry_at));
		return false;
	}
	return true;
}

/*
 * tending_tend reaps stopped workers and starts the workers due; when one
 * may start later, *wait_ms is lowered to when.  The databases whose
 * worker found no extension are appended to *no_extension.
 */
void
tending_tend(TimestampTz now, long *wait_ms, List **no_extension)
{
	for (int i = 0; i < shared_slot_count(); i++)
	{
		WorkerHealth h;
		pid_t		pid;

		if (handles[i] != NULL &&
			GetBackgroundWorkerPid(handles[i], &pid) == BGWH_STOPPED)
			worker_stopped(i, now, no_extension);
		if (handles[i] != NULL || !shared_slot_health(i, &h))
			continue;
		if (h.worker_pid != 0)
		{
			/* started by a launcher that died: look again soon */
			*wait_ms = Min(*wait_ms, ORPHAN_RECHECK_MS);
			continue;
		}
		if (h.db_state == DB_GONE)
		{
			free_slot(i);
			continue;
		}
		if (!may_start(&h, now, wait_ms))
			continue;
		slots_started(i, now);
		if (!start_worker(i, h.dbname))
		{
			slots_backoff(i, TimestampTzPlusMilliseconds(now, NO_BGWORKER_RETRY_MS));
			*wait_ms = Min(*wait_ms, NO_BGWORKER_RETRY_MS);
		}
	}
}
