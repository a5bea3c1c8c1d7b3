/*-------------------------------------------------------------------------
 *
 * shared.c
 *		The structs backends, the launcher and the workers share in shared
 *		memory: asking for them, creating them, and the copies of a slot or
 *		of the launcher's health that backends read.
 *
 * There is one slot per served database, agentphone.max_databases in all,
 * so one database can never take another's: the launcher (launcher.c)
 * claims a slot for each database it starts a worker in and frees it when
 * the database turns out not to have the extension, or is dropped.  A
 * worker is woken through the latch it publishes in its slot (at the
 * COMMIT of a transaction that queued calls: wake.c).  When its database
 * has no worker yet (CREATE EXTENSION just committed, or the worker
 * stopped), the launcher is asked for one instead, through a short ring of
 * requests beside the launcher's latch.
 *
 * Every field is read and written under the struct's lock, in this file,
 * slots.c (the launcher's slots and its request ring) and workerslot.c (a
 * worker's own slot): the layout is shared_internal.h's, for those three
 * alone.
 *
 * The per-key pacing windows are another object, in pacing.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "guc.h"
#include "shared.h"
#include "shared_internal.h"

AgentphoneShared *agentphone_shared = NULL;

static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif

static Size
shared_size(void)
{
	return MAXALIGN(add_size(offsetof(AgentphoneShared, slots),
							 mul_size(agentphone_max_databases, sizeof(DatabaseSlot))));
}

/*
 * agentphone_shmem_request asks the postmaster for our structs.
 */
static void
agentphone_shmem_request(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(shared_size());
}

/*
 * agentphone_shmem_startup creates or attaches to the shared structs.
 */
static void
agentphone_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	agentphone_shared = ShmemInitStruct("agentphone", shared_size(), &found);
	if (!found)
	{
		memset(agentphone_shared, 0, shared_size());
		SpinLockInit(&agentphone_shared->mutex);
		agentphone_shared->nslots = agentphone_max_databases;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * shared_install asks for the structs, from _PG_init while the library is
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
 * shared_available says whether the structs exist: false in a session
 * whose server did not preload the library.
 */
bool
shared_available(void)
{
	return agentphone_shared != NULL;
}

int
shared_slot_count(void)
{
	return agentphone_shared ? agentphone_shared->nslots : 0;
}

/*
 * shared_slot_health copies slot i; false when it is free.
 */
bool
shared_slot_health(int slot, WorkerHealth *health)
{
	SpinLockAcquire(&agentphone_shared->mutex);
	*health = SLOT(slot)->h;
	SpinLockRelease(&agentphone_shared->mutex);
	return OidIsValid(health->dboid);
}

/*
 * shared_database_health copies the slot of database db; false (and an
 * empty copy) when no slot serves it.
 */
bool
shared_database_health(Oid db, WorkerHealth *health)
{
	int			i;

	memset(health, 0, sizeof(*health));
	SpinLockAcquire(&agentphone_shared->mutex);
	i = shared_slot_of(db);
	if (i >= 0)
		*health = SLOT(i)->h;
	SpinLockRelease(&agentphone_shared->mutex);
	return i >= 0;
}

/*
 * shared_unserved_text says what shared_database_unserved() means, for a
 * message or a call's last_error.
 */
char *
shared_unserved_text(void)
{
	return psprintf("no agentphone worker serves this database: all %d slots of agentphone.max_databases serve other databases",
					shared_slot_count());
}

/*
 * shared_database_unserved tells whether database db has no slot while
 * every slot serves another database.
 */
bool
shared_database_unserved(Oid db)
{
	bool		full;

	if (agentphone_shared == NULL)
		return false;
	SpinLockAcquire(&agentphone_shared->mutex);
	full = shared_slot_of(db) < 0 && shared_slot_of(InvalidOid) < 0;
	SpinLockRelease(&agentphone_shared->mutex);
	return full;
}

bool
shared_launcher_health(LauncherHealth *health)
{
	if (agentphone_shared == NULL)
		return false;
	SpinLockAcquire(&agentphone_shared->mutex);
	*health = agentphone_shared->launcher;
	SpinLockRelease(&agentphone_shared->mutex);
	return true;
}
