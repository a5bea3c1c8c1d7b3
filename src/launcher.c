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
 * Each turn of its loop matches the slots to the databases when asked or
 * due, sharing them fairly when databases wait for one (fairshare.c), then
 * tends the slots' workers: starts those due, reaps those that exited and
 * backs off, per database, one that keeps failing (tending.c).
 *
 * With the deprecated agentphone.database_name set, only the database of
 * that name is served.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "fairshare.h"
#include "guc.h"
#include "launcher.h"
#include "shared.h"
#include "slots.h"
#include "tending.h"

/* How often every database is looked at again without being asked. */
#define RESCAN_MS (5 * 60 * 1000)

/* State of the loop. */
static TimestampTz next_full_scan = 0;
static bool retry_unserved = false; /* a slot was freed for one that waits */

/*
 * launcher_start sets the launcher up: signals, its workers' handles, its
 * latch published, and a word in the log of what it serves.
 */
static void
launcher_start(void)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("agentphone launcher");

	tending_init();
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
}

/*
 * launcher_turn matches the slots to the databases when asked or due,
 * tends the slots' workers, and returns how long the launcher may sleep.
 */
static long
launcher_turn(MemoryContext loopcxt)
{
	TimestampTz now = GetCurrentTimestamp();
	bool		everything = now >= next_full_scan;
	List	   *requested = NIL;
	List	   *no_extension = NIL;
	bool		freed;
	long		wait_ms;

	if (slots_take_requests(&requested) || requested != NIL ||
		everything || retry_unserved)
		fairshare_rescan(requested, everything, loopcxt);
	if (everything)
		next_full_scan = TimestampTzPlusMilliseconds(now, RESCAN_MS);
	wait_ms = TimestampDifferenceMilliseconds(now, next_full_scan);
	tending_tend(now, &wait_ms, &no_extension);
	fairshare_no_extension(no_extension);
	/* a database waiting for a slot takes the one just freed */
	freed = tending_take_slot_freed();
	retry_unserved = freed && fairshare_unserved_said();
	if (retry_unserved)
		wait_ms = 0;
	return wait_ms;
}

/*
 * agentphone_launcher_main is the launcher's entry point.
 */
void
agentphone_launcher_main(Datum main_arg)
{
	MemoryContext loopcxt;

	(void) main_arg;
	launcher_start();
	loopcxt = AllocSetContextCreate(TopMemoryContext, "agentphone launcher loop",
									ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		long		wait_ms;

		MemoryContextReset(loopcxt);
		MemoryContextSwitchTo(loopcxt);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		wait_ms = launcher_turn(loopcxt);
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
