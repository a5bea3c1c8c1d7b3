/*-------------------------------------------------------------------------
 *
 * slots.c
 *		The launcher's side of the slots in shared memory: the ring of
 *		requests for a worker beside its latch, waking a database's worker
 *		(or asking for one), what is becoming of a database, and the
 *		launcher's bookkeeping of each slot (claimed, started, stopped,
 *		backed off, renamed, freed).
 *
 * A backend asks for a worker through the ring (wake.c, at COMMIT): each
 * request names a database; when the ring is full, the launcher looks at
 * every database instead.  The launcher takes the requests, claims slots
 * and records what becomes of their workers here; the worker keeps its
 * own slot's health (workerslot.c).  The layout is shared_internal.h's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "shared_internal.h"
#include "slots.h"

/*
 * slots_request_worker asks the launcher for a worker in database db
 * (reset_backoff: CREATE EXTENSION, start it at once).
 */
void
slots_request_worker(Oid db, bool reset_backoff)
{
	Latch	   *latch;

	SpinLockAcquire(&agentphone_shared->mutex);
	if (agentphone_shared->nrequests < REQUEST_RING)
	{
		WorkerRequest *r = &agentphone_shared->requests[agentphone_shared->nrequests++];

		r->db = db;
		r->reset_backoff = reset_backoff;
	}
	else
		agentphone_shared->rescan = true;
	latch = agentphone_shared->launcher_latch;
	SpinLockRelease(&agentphone_shared->mutex);
	if (latch)
		SetLatch(latch);
}

/*
 * slots_wake_worker sets the latch of database db's worker; when it has
 * none, it asks the launcher for one.
 */
void
slots_wake_worker(Oid db)
{
	Latch	   *latch = NULL;
	int			i;

	SpinLockAcquire(&agentphone_shared->mutex);
	i = shared_slot_of(db);
	if (i >= 0)
		latch = SLOT(i)->worker_latch;
	SpinLockRelease(&agentphone_shared->mutex);
	if (latch)
		SetLatch(latch);
	else
		slots_request_worker(db, false);
}

/* ---- dbguard.c ---- */

/*
 * slots_set_db_state publishes what is becoming of database db and wakes
 * its worker, so it acts on it, and the launcher.  Nothing happens for a
 * database agentphone does not serve.
 */
void
slots_set_db_state(Oid db, AgentphoneDbState state)
{
	Latch	   *latch = NULL;
	int			i;

	SpinLockAcquire(&agentphone_shared->mutex);
	i = shared_slot_of(db);
	if (i >= 0)
	{
		SLOT(i)->h.db_state = state;
		SLOT(i)->h.db_state_since = GetCurrentTimestamp();
		latch = SLOT(i)->worker_latch;
	}
	SpinLockRelease(&agentphone_shared->mutex);
	if (latch)
		SetLatch(latch);
	if (i >= 0)
		slots_wake_launcher(false);
}

/*
 * slots_wake_launcher sets the launcher's latch; with rescan, it looks at
 * every database again (one was created, renamed or dropped).
 */
void
slots_wake_launcher(bool rescan)
{
	Latch	   *latch;

	SpinLockAcquire(&agentphone_shared->mutex);
	if (rescan)
		agentphone_shared->rescan = true;
	latch = agentphone_shared->launcher_latch;
	SpinLockRelease(&agentphone_shared->mutex);
	if (latch)
		SetLatch(latch);
}

/* ---- the launcher ---- */

static void
unpublish_launcher(int code, Datum arg)
{
	(void) code;
	(void) arg;
	SpinLockAcquire(&agentphone_shared->mutex);
	agentphone_shared->launcher_latch = NULL;
	agentphone_shared->launcher.pid = 0;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * slots_publish_launcher records the launcher's latch and pid.
 */
void
slots_publish_launcher(Latch *latch)
{
	SpinLockAcquire(&agentphone_shared->mutex);
	agentphone_shared->launcher_latch = latch;
	agentphone_shared->launcher.pid = MyProcPid;
	agentphone_shared->launcher.started_at = GetCurrentTimestamp();
	agentphone_shared->launcher.slots = agentphone_shared->nslots;
	agentphone_shared->rescan = true;
	SpinLockRelease(&agentphone_shared->mutex);
	before_shmem_exit(unpublish_launcher, (Datum) 0);
}

/*
 * slots_take_requests returns whether the launcher must look at every
 * database, and hands over the requests for single databases: each one
 * that has a slot is marked wanted there (CREATE EXTENSION also clears
 * its backoff), and the others are appended to *unslotted, for the
 * launcher to claim slots for.
 */
bool
slots_take_requests(List **unslotted)
{
	WorkerRequest taken[REQUEST_RING];
	int			n;
	bool		rescan;

	SpinLockAcquire(&agentphone_shared->mutex);
	rescan = agentphone_shared->rescan;
	n = agentphone_shared->nrequests;
	memcpy(taken, agentphone_shared->requests, n * sizeof(WorkerRequest));
	for (int r = 0; r < n; r++)
	{
		int			i = shared_slot_of(taken[r].db);

		if (i < 0)
			continue;			/* left in taken[] for *unslotted */
		taken[r].db = InvalidOid;
		SLOT(i)->h.wanted = true;
		if (taken[r].reset_backoff)
		{
			SLOT(i)->h.failures = 0;
			SLOT(i)->h.retry_at = 0;
		}
	}
	agentphone_shared->nrequests = 0;
	agentphone_shared->rescan = false;
	SpinLockRelease(&agentphone_shared->mutex);
	for (int r = 0; r < n; r++)
		if (OidIsValid(taken[r].db))
			*unslotted = lappend_oid(*unslotted, taken[r].db);
	return rescan;
}

/*
 * slots_claim returns the slot of database db, claiming a free one
 * for it (wanted: a worker should start), or -1 when none is free.
 */
int
slots_claim(Oid db, const char *dbname)
{
	int			i;

	SpinLockAcquire(&agentphone_shared->mutex);
	i = shared_slot_of(db);
	if (i < 0 && (i = shared_slot_of(InvalidOid)) >= 0)
	{
		memset(SLOT(i), 0, sizeof(DatabaseSlot));
		SLOT(i)->h.dboid = db;
		SLOT(i)->h.queue_depth = -1;
		strlcpy(SLOT(i)->h.dbname, dbname, NAMEDATALEN);
		SLOT(i)->h.wanted = true;
	}
	SpinLockRelease(&agentphone_shared->mutex);
	return i;
}

/*
 * slots_started notes that a worker was started for slot.
 */
void
slots_started(int slot, TimestampTz now)
{
	SpinLockAcquire(&agentphone_shared->mutex);
	SLOT(slot)->h.starting = true;
	SLOT(slot)->h.wanted = false;
	SLOT(slot)->h.last_exit = EXIT_NONE;
	SLOT(slot)->h.started_at = now;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * slots_stopped notes that slot's worker has exited: *why is what it
 * said, and *failures how many runs in a row ended without a word (a
 * crash, a FATAL error, a refused connection).
 */
void
slots_stopped(int slot, WorkerExit *why, int *failures)
{
	SpinLockAcquire(&agentphone_shared->mutex);
	SLOT(slot)->h.starting = false;
	*why = SLOT(slot)->h.last_exit;
	if (*why == EXIT_NONE)
		SLOT(slot)->h.failures++;
	else
		SLOT(slot)->h.failures = 0;
	*failures = SLOT(slot)->h.failures;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * slots_backoff puts the next start of slot's worker off until retry_at;
 * one is still wanted.
 */
void
slots_backoff(int slot, TimestampTz retry_at)
{
	SpinLockAcquire(&agentphone_shared->mutex);
	SLOT(slot)->h.retry_at = retry_at;
	SLOT(slot)->h.wanted = true;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * slots_rename gives slot its database's new name.
 */
void
slots_rename(int slot, const char *dbname)
{
	SpinLockAcquire(&agentphone_shared->mutex);
	strlcpy(SLOT(slot)->h.dbname, dbname, NAMEDATALEN);
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * slots_free empties slot, for another database.
 */
void
slots_free(int slot)
{
	SpinLockAcquire(&agentphone_shared->mutex);
	memset(SLOT(slot), 0, sizeof(DatabaseSlot));
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * slots_note_unserved publishes how many databases got no slot at the
 * launcher's last look.
 */
void
slots_note_unserved(int n)
{
	SpinLockAcquire(&agentphone_shared->mutex);
	agentphone_shared->launcher.unserved = n;
	SpinLockRelease(&agentphone_shared->mutex);
}
