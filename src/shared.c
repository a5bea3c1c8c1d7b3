/*-------------------------------------------------------------------------
 *
 * shared.c
 *		The small struct backends and the worker share in shared memory, and
 *		the only code that touches it: every field is read and written here,
 *		under its spinlock, through the functions of shared.h.
 *
 * The worker is woken through its latch, published here.  A backend that
 * queues calls asks to wake it; the wake happens in a transaction callback
 * at COMMIT (never at ROLLBACK), once per transaction however many calls
 * it queued.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "shared.h"

typedef struct AgentphoneShared
{
	slock_t		mutex;
	Latch	   *worker_latch;	/* the running worker's latch, or NULL */
	WorkerHealth health;		/* what agentphone_worker_status() shows */
	AgentphoneDbState db_state;	/* what is becoming of its database */
	TimestampTz db_state_since;	/* since when */
} AgentphoneShared;

static AgentphoneShared *agentphone_shared = NULL;

static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif

/* Set when this transaction queued a call; consumed at COMMIT/ABORT. */
static bool wake_at_commit = false;

/*
 * agentphone_shmem_request asks the postmaster for our small struct.
 */
static void
agentphone_shmem_request(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(MAXALIGN(sizeof(AgentphoneShared)));
}

/*
 * agentphone_shmem_startup creates or attaches to the shared struct.
 */
static void
agentphone_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	agentphone_shared = ShmemInitStruct("agentphone",
										sizeof(AgentphoneShared), &found);
	if (!found)
	{
		memset(agentphone_shared, 0, sizeof(AgentphoneShared));
		SpinLockInit(&agentphone_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * agentphone_wake_worker sets the running worker's latch, if there is one.
 */
void
agentphone_wake_worker(void)
{
	Latch	   *latch;

	if (agentphone_shared == NULL)
		return;
	SpinLockAcquire(&agentphone_shared->mutex);
	latch = agentphone_shared->worker_latch;
	SpinLockRelease(&agentphone_shared->mutex);
	if (latch)
		SetLatch(latch);
}

/*
 * unpublish_worker clears the worker's entry when it exits, so nobody sets
 * a latch that belongs to a dead process.
 */
static void
unpublish_worker(int code, Datum arg)
{
	(void) code;
	(void) arg;
	SpinLockAcquire(&agentphone_shared->mutex);
	agentphone_shared->health.worker_pid = 0;
	agentphone_shared->worker_latch = NULL;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * agentphone_publish_worker records the worker's latch and pid.
 */
void
agentphone_publish_worker(Latch *latch)
{
	if (agentphone_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("agentphone shared memory is not initialized"),
				 errhint("Add agentphone to shared_preload_libraries.")));
	SpinLockAcquire(&agentphone_shared->mutex);
	agentphone_shared->health.worker_pid = MyProcPid;
	agentphone_shared->worker_latch = latch;
	agentphone_shared->health.started_at = GetCurrentTimestamp();
	SpinLockRelease(&agentphone_shared->mutex);
	before_shmem_exit(unpublish_worker, (Datum) 0);
}

/*
 * agentphone_count adds n to a worker counter.
 */
void
agentphone_count(AgentphoneCounter c, int n)
{
	if (agentphone_shared == NULL)
		return;
	SpinLockAcquire(&agentphone_shared->mutex);
	agentphone_shared->health.counters[c] += n;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * agentphone_note_error remembers the worker's last failure, cut to fit on
 * a character boundary.
 */
void
agentphone_note_error(const char *message)
{
	int			len;

	if (agentphone_shared == NULL)
		return;
	len = pg_mbcliplen(message, strlen(message), sizeof(agentphone_shared->health.last_error) - 1);
	SpinLockAcquire(&agentphone_shared->mutex);
	memcpy(agentphone_shared->health.last_error, message, len);
	agentphone_shared->health.last_error[len] = '\0';
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * agentphone_note_loop records that the worker's loop ran.
 */
void
agentphone_note_loop(int in_flight)
{
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&agentphone_shared->mutex);
	agentphone_shared->health.last_loop = now;
	agentphone_shared->health.in_flight = in_flight;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * agentphone_xact_callback wakes the worker when a transaction that queued
 * calls commits.  An abort or PREPARE TRANSACTION forgets the request; a
 * prepared transaction's calls are found by the worker's periodic sweep.
 */
static void
agentphone_xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_at_commit)
				agentphone_wake_worker();
			wake_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			wake_at_commit = false;
			break;
		default:
			break;
	}
}

/*
 * agentphone_wake_at_commit arranges for the worker to be woken when the
 * current transaction commits.  It warns once per session when no worker
 * can ever be woken because the library was not preloaded.
 */
void
agentphone_wake_at_commit(void)
{
	static bool callback_registered = false;
	static bool warned = false;

	if (!callback_registered)
	{
		RegisterXactCallback(agentphone_xact_callback, NULL);
		callback_registered = true;
	}
	wake_at_commit = true;

	if (agentphone_shared == NULL && !warned)
	{
		ereport(WARNING,
				(errmsg("agentphone is not loaded through shared_preload_libraries"),
				 errdetail("The call is queued, but no background worker is running to place it."),
				 errhint("Add agentphone to shared_preload_libraries and restart the server.")));
		warned = true;
	}
}

/*
 * shared_install asks for the struct, from _PG_init while the library is
 * being preloaded.
 */
void
shared_install(void)
{
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = agentphone_shmem_request;
#else
	agentphone_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = agentphone_shmem_startup;
}

/*
 * shared_available says whether the struct exists: false in a session
 * whose server did not preload the library.
 */
bool
shared_available(void)
{
	return agentphone_shared != NULL;
}

/*
 * shared_worker_health copies the worker's health; false when the library
 * was not preloaded.
 */
bool
shared_worker_health(WorkerHealth *health)
{
	if (agentphone_shared == NULL)
		return false;
	SpinLockAcquire(&agentphone_shared->mutex);
	*health = agentphone_shared->health;
	SpinLockRelease(&agentphone_shared->mutex);
	return true;
}

/*
 * shared_set_db_state publishes what is becoming of the worker's database
 * and wakes the worker so it acts on it.
 */
void
shared_set_db_state(AgentphoneDbState state)
{
	SpinLockAcquire(&agentphone_shared->mutex);
	agentphone_shared->db_state = state;
	agentphone_shared->db_state_since = GetCurrentTimestamp();
	SpinLockRelease(&agentphone_shared->mutex);
	agentphone_wake_worker();
}

/*
 * shared_db_state returns what is becoming of the worker's database, and
 * since when in *since.
 */
AgentphoneDbState
shared_db_state(TimestampTz *since)
{
	AgentphoneDbState state;

	SpinLockAcquire(&agentphone_shared->mutex);
	state = agentphone_shared->db_state;
	*since = agentphone_shared->db_state_since;
	SpinLockRelease(&agentphone_shared->mutex);
	return state;
}
