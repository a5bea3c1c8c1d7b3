/*-------------------------------------------------------------------------
 *
 * wake.c
 *		Waking a database's worker when a transaction that queued calls
 *		commits (never at ROLLBACK), once per transaction however many
 *		calls it queued; asking the launcher for a worker when CREATE
 *		EXTENSION commits.  The latch and the launcher's ring are in
 *		shared memory (slots.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"

#include "shared.h"
#include "slots.h"

/* Set when this transaction queued a call; consumed at COMMIT/ABORT. */
static bool wake_at_commit = false;
static bool worker_wanted_at_commit = false;

/*
 * wake_xact_callback wakes the worker when a transaction that queued
 * calls commits, and asks for one when CREATE EXTENSION commits.  An abort
 * or PREPARE TRANSACTION forgets the request; a prepared transaction's
 * calls are found by the worker's periodic sweep.
 */
static void
wake_xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (worker_wanted_at_commit && shared_available())
				slots_request_worker(MyDatabaseId, true);
			else if (wake_at_commit && shared_available())
				slots_wake_worker(MyDatabaseId);
			wake_at_commit = worker_wanted_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			wake_at_commit = worker_wanted_at_commit = false;
			break;
		default:
			break;
	}
}

static void
register_xact_callback(void)
{
	static bool callback_registered = false;

	if (!callback_registered)
	{
		RegisterXactCallback(wake_xact_callback, NULL);
		callback_registered = true;
	}
}

/*
 * agentphone_wake_at_commit arranges for the database's worker to be woken
 * when the current transaction commits.  It warns, once per transaction,
 * when every slot serves another database, and once per session when no
 * worker can ever be woken because the library was not preloaded.
 */
void
agentphone_wake_at_commit(void)
{
	static bool warned = false;

	register_xact_callback();
	if (!wake_at_commit && shared_database_unserved(MyDatabaseId))
		ereport(WARNING,
				(errmsg("%s", shared_unserved_text()),
				 errdetail("The call is queued, and stays queued until a slot is free."),
				 errhint("Raise agentphone.max_databases (and max_worker_processes) and restart the server.")));
	wake_at_commit = true;

	if (!shared_available() && !warned)
	{
		ereport(WARNING,
				(errmsg("agentphone is not loaded through shared_preload_libraries"),
				 errdetail("The call is queued, but no background worker is running to place it."),
				 errhint("Add agentphone to shared_preload_libraries and restart the server.")));
		warned = true;
	}
}

/*
 * agentphone_request_worker_at_commit asks the launcher, when the current
 * transaction commits, to start a worker in this database at once (CREATE
 * EXTENSION agentphone ran in it).
 */
void
agentphone_request_worker_at_commit(void)
{
	register_xact_callback();
	worker_wanted_at_commit = true;
}
