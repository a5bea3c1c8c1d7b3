/*-------------------------------------------------------------------------
 *
 * launcher.c
 *		The launcher: one static background worker, connected to no
 *		database, that starts one agentphone worker in each database where
 *		the extension is installed.
 *
 * It starts once recovery has finished, so a standby runs no worker and
 * dials nothing; after promotion it starts and serves every database.  It
 * reads pg_database (a shared catalog) and gives each database that
 * accepts connections and is not a template a slot in shared memory
 * (slots.c) and a dynamic worker (worker.c).  A worker that finds no
 * extension in its database says so and exits; the launcher remembers the
 * database as without the extension and frees the slot.  It learns of a
 * new installation from the COMMIT of CREATE EXTENSION agentphone (the
 * database guard asks for a worker there, dbguard.c), and of created,
 * renamed and dropped databases from their commands; a rescan every
 * RESCAN_MS is the safety net for what no hook saw (an extension created
 * while the library was not loaded).
 *
 * Slots are shared fairly when databases wait for one.  A database that
 * asked for a worker (CREATE EXTENSION, or a call queued there, committed)
 * and got no slot waits, and takes the next slot freed before any other.
 * For it the launcher stops one worker whose slot is used unfairly: first
 * that of a database with nothing to do but calls copied from another
 * (held, home.c), else the newest database of an owner whose databases
 * hold at least two slots more than the waiting one's owner's.  So a role
 * with CREATEDB cannot take every slot with copies of its database, and a
 * new tenant's database is served.  The stopped database waits in turn;
 * its calls in flight are reconciled when it is served again.
 *
 * A worker that stops without saying why (an error, a crash, a refused
 * connection) is started again after a backoff that doubles up to
 * MAX_BACKOFF_MS, in its database only.  When every slot is taken
 * (agentphone.max_databases), or PostgreSQL has no background worker slot
 * left (max_worker_processes), the launcher says so once in the log.
 *
 * With the deprecated agentphone.database_name set, only the database of
 * that name is served.
 *
 * The handles of the workers it started live in its own memory.  A
 * launcher started again after a failure of its own finds their slots
 * busy (a pid published) and starts nothing there until they exit,
 * looking again every ORPHAN_RECHECK_MS.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"

#include "backoff.h"
#include "guc.h"
#include "health.h"
#include "launcher.h"
#include "shared.h"
#include "slots.h"

/* How often every database is looked at again without being asked. */
#define RESCAN_MS (5 * 60 * 1000)
/* Backoff of a database whose worker keeps failing. */
#define MIN_BACKOFF_MS 1000
#define MAX_BACKOFF_MS (5 * 60 * 1000)
/* How often to look at a worker a previous launcher started. */
#define ORPHAN_RECHECK_MS 1000
/* Wait before trying again when PostgreSQL had no worker slot. */
#define NO_BGWORKER_RETRY_MS 5000

typedef struct ServableDb
{
	Oid			oid;
	Oid			owner;			/* datdba */
	char		name[NAMEDATALEN];
} ServableDb;

static BackgroundWorkerHandle **handles = NULL;	/* per slot */
static bool *retiring = NULL;	/* per slot: free it when its worker exits */
static List *without_extension = NIL;	/* database OIDs, as of their probe;
										 * in TopMemoryContext */
static List *waiting = NIL;		/* database OIDs that asked for a worker and
								 * have no slot, first asked first; in
								 * TopMemoryContext */
static bool slots_exhausted_said = false;
static bool slot_freed = false;	/* since the last turn of the loop */
static bool bgworkers_exhausted_said = false;

/*
 * servable tells whether the launcher serves a database of pg_database.
 */
static bool
servable(Form_pg_database d)
{
	if (!d->datallowconn || d->datistemplate)
		return false;
	if (agentphone_database_name[0] != '\0')
		return strcmp(NameStr(d->datname), agentphone_database_name) == 0;
	return true;
}

/*
 * servable_databases reads pg_database and returns a list of ServableDb.
 */
static List *
servable_databases(MemoryContext cxt)
{
	List	   *result = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	MemoryContext caller = CurrentMemoryContext;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database d = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;
		ServableDb *s;

		if (!servable(d))
			continue;
		old = MemoryContextSwitchTo(cxt);
		s = palloc(sizeof(ServableDb));
		s->oid = d->oid;
		s->owner = d->datdba;
		strlcpy(s->name, NameStr(d->datname), NAMEDATALEN);
		result = lappend(result, s);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	MemoryContextSwitchTo(caller);	/* the commit left TopMemoryContext */
	return result;
}

static ServableDb *
find_servable(List *dbs, Oid oid)
{
	ListCell   *lc;

	foreach(lc, dbs)
		if (((ServableDb *) lfirst(lc))->oid == oid)
			return lfirst(lc);
	return NULL;
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
 * note_unserved logs, once until it changes, that n databases got no slot.
 */
static void
note_unserved(int n, const char *example)
{
	slots_note_unserved(n);
	if (n == 0)
		slots_exhausted_said = false;
	else if (!slots_exhausted_said)
	{
		ereport(LOG,
				(errmsg("agentphone: %d database(s) not served: all %d slots of agentphone.max_databases are taken",
						n, shared_slot_count()),
				 errdetail("Database \"%s\" is one of them; calls queued there stay queued.", example),
				 errhint("Raise agentphone.max_databases (and max_worker_processes with it, one worker per database) and restart the server.")));
		slots_exhausted_said = true;
	}
}

/*
 * note_waiting adds the databases of requested (asked for a worker, no
 * slot) to the waiting list, and drops from it those no longer servable.
 */
static void
note_waiting(List *requested, List *dbs)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	List	   *still = NIL;
	ListCell   *lc;

	waiting = list_concat_unique_oid(waiting, requested);
	foreach(lc, waiting)
		if (find_servable(dbs, lfirst_oid(lc)) != NULL)
			still = lappend_oid(still, lfirst_oid(lc));
	list_free(waiting);
	waiting = still;
	MemoryContextSwitchTo(old);
}

/*
 * claim_slots gives a slot to each database of dbs that has none, of the
 * waiting ones (waiting_ones) or of the others; it counts those left
 * without one in *unserved (one of their names in *example).
 */
static void
claim_slots(List *dbs, bool waiting_ones, int *unserved, const char **example)
{
	ListCell   *lc;

	foreach(lc, dbs)
	{
		ServableDb *s = lfirst(lc);

		if (list_member_oid(waiting, s->oid) != waiting_ones ||
			list_member_oid(without_extension, s->oid))
			continue;
		if (slots_claim(s->oid, s->name) >= 0)
			waiting = list_delete_oid(waiting, s->oid);
		else
		{
			(*unserved)++;
			*example = s->name;
		}
	}
}

/*
 * slots_of_owner counts the slots (not being freed) whose database belongs
 * to owner; *newest is set to the one of the highest database OID.
 */
static int
slots_of_owner(List *dbs, Oid owner, int *newest)
{
	int			n = 0;
	Oid			newest_db = InvalidOid;

	for (int i = 0; i < shared_slot_count(); i++)
	{
		WorkerHealth h;
		ServableDb *s;

		if (retiring[i] || !shared_slot_health(i, &h) ||
			(s = find_servable(dbs, h.dboid)) == NULL || s->owner != owner)
			continue;
		n++;
		if (h.dboid > newest_db)
			newest_db = h.dboid, *newest = i;
	}
	return n;
}

/*
 * unfair_slot returns a slot that database w, which waits, may take, or
 * -1: first one whose database has nothing to do but held copies
 * (home.c), then the newest of an owner whose databases hold at least two
 * slots more than w's owner's (so no owner's databases keep every slot);
 * *why says which.
 */
static int
unfair_slot(List *dbs, const ServableDb *w, char **why)
{
	int			most = 0;
	int			victim = -1;
	int			ignored;

	for (int i = 0; i < shared_slot_count(); i++)
	{
		WorkerHealth h;
		ServableDb *s;
		int			newest = -1;
		int			n;

		if (retiring[i] || !shared_slot_health(i, &h))
			continue;
		if (h.held_only && h.worker_pid != 0)
		{
			*why = pstrdup("its calls are all held copies of another database's (agentphone_adopt_calls() there asks for a worker again)");
			return i;
		}
		if ((s = find_servable(dbs, h.dboid)) == NULL)
			continue;
		n = slots_of_owner(dbs, s->owner, &newest);
		if (n > most)
			most = n, victim = newest;
	}
	if (victim < 0 || most <= slots_of_owner(dbs, w->owner, &ignored) + 1)
		return -1;
	*why = psprintf("the databases of its owner hold %d of the %d slots of agentphone.max_databases",
					most, shared_slot_count());
	return victim;
}

/*
 * make_room frees, for the first database that waits, a slot used
 * unfairly (unfair_slot), unless one is being freed already: its worker
 * stops, and the slot goes to the waiting database once it has.
 */
static void
make_room(List *dbs)
{
	ServableDb *w;
	WorkerHealth h;
	char	   *why = NULL;
	int			victim;

	for (int i = 0; i < shared_slot_count(); i++)
		if (retiring[i])
			return;
	if (waiting == NIL || (w = find_servable(dbs, linitial_oid(waiting))) == NULL ||
		(victim = unfair_slot(dbs, w, &why)) < 0 || !shared_slot_health(victim, &h))
		return;
	ereport(LOG,
			(errmsg("agentphone: the worker of database \"%s\" stops to give its slot to database \"%s\", which waits",
					h.dbname, w->name),
			 errdetail("Database \"%s\" gives its slot up because %s.", h.dbname, why)));
	if (handles[victim] != NULL)
		stop_worker(victim);
	else
		free_slot(victim);
}

/*
 * rescan matches the slots to pg_database: slots of databases no longer
 * served are emptied, renamed ones follow their new name, and every
 * servable database not known to lack the extension (or asked for, in
 * requested) gets a slot, those that asked for a worker first.  When a
 * database that asked waits, a slot used unfairly is freed for it
 * (make_room).
 */
static void
rescan(List *requested, bool forget_absent, MemoryContext cxt)
{
	List	   *dbs = servable_databases(cxt);
	ListCell   *lc;
	int			unserved = 0;
	const char *example = NULL;

	if (forget_absent)
	{
		list_free(without_extension);
		without_extension = NIL;
	}
	foreach(lc, requested)
		without_extension = list_delete_oid(without_extension, lfirst_oid(lc));
	note_waiting(requested, dbs);

	for (int i = 0; i < shared_slot_count(); i++)
	{
		WorkerHealth h;
		ServableDb *s;

		if (!shared_slot_health(i, &h))
			continue;
		s = find_servable(dbs, h.dboid);
		if (s == NULL)
		{
			if (handles[i] != NULL)
				stop_worker(i);
			else
				free_slot(i);
		}
		else if (strcmp(s->name, h.dbname) != 0)
			slots_rename(i, s->name);
	}
	claim_slots(dbs, true, &unserved, &example);
	claim_slots(dbs, false, &unserved, &example);
	make_room(dbs);
	note_unserved(unserved, example);
	list_free_deep(dbs);
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
 * worker_stopped acts on the exit of slot's worker.
 */
static void
worker_stopped(int slot, TimestampTz now)
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
			{
				MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

				without_extension = lappend_oid(without_extension, h.dboid);
				waiting = list_delete_oid(waiting, h.dboid);
				MemoryContextSwitchTo(old);
			}
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
 * tend_slots reaps stopped workers and starts the workers due.
 */
static void
tend_slots(TimestampTz now, long *wait_ms)
{
	for (int i = 0; i < shared_slot_count(); i++)
	{
		WorkerHealth h;
		pid_t		pid;

		if (handles[i] != NULL &&
			GetBackgroundWorkerPid(handles[i], &pid) == BGWH_STOPPED)
			worker_stopped(i, now);
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

/*
 * agentphone_launcher_main is the launcher's entry point.
 */
void
agentphone_launcher_main(Datum main_arg)
{
	MemoryContext loopcxt;
	TimestampTz next_full_scan = 0;
	bool		retry_unserved = false;

	(void) main_arg;
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("agentphone launcher");

	handles = MemoryContextAllocZero(TopMemoryContext,
									 shared_slot_count() * sizeof(BackgroundWorkerHandle *));
	retiring = MemoryContextAllocZero(TopMemoryContext, shared_slot_count() * sizeof(bool));
	slots_publish_launcher(MyLatch);
	if (agentphone_database_name[0] != '\0')
		ereport(LOG,
				(errmsg("agentphone launcher started: serving only database \"%s\" (agentphone.database_name, deprecated)",
						agentphone_database_name),
				 errhint("Leave agentphone.database_name empty to serve every database where agentphone is installed.")));
	else
		ereport(LOG,
				(errmsg("agentphone launcher started: serving every database where agentphone is installed, up to %d (agentphone.max_databases)",
						shared_slot_count())));

	loopcxt = AllocSetContextCreate(TopMemoryContext, "agentphone launcher loop",
									ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		TimestampTz now;
		List	   *requested = NIL;
		bool		everything;
		long		wait_ms;

		MemoryContextReset(loopcxt);
		MemoryContextSwitchTo(loopcxt);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		now = GetCurrentTimestamp();
		everything = now >= next_full_scan;
		if (slots_take_requests(&requested) || requested != NIL ||
			everything || retry_unserved)
			rescan(requested, everything, loopcxt);
		if (everything)
			next_full_scan = TimestampTzPlusMilliseconds(now, RESCAN_MS);
		wait_ms = TimestampDifferenceMilliseconds(now, next_full_scan);
		tend_slots(now, &wait_ms);
		/* a database waiting for a slot takes the one just freed */
		retry_unserved = slot_freed && slots_exhausted_said;
		slot_freed = false;
		if (retry_unserved)
			wait_ms = 0;

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(wait_ms, 10), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * agentphone_register_launcher registers the launcher, from _PG_init while
 * the library is being preloaded.  The postmaster restarts it 5 seconds
 * after it fails.
 */
void
agentphone_register_launcher(void)
{
	BackgroundWorker worker = {
		.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION,
		.bgw_start_time = BgWorkerStart_RecoveryFinished,
		.bgw_restart_time = 5,
		.bgw_notify_pid = 0,
	};

	strlcpy(worker.bgw_library_name, "agentphone", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "agentphone_launcher_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "agentphone launcher", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "agentphone launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}
