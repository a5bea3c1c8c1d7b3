/*-------------------------------------------------------------------------
 *
 * shared.c
 *		The structs backends, the launcher and the workers share in shared
 *		memory, and the only code that touches them: every field is read and
 *		written here, under a lock, through the functions of shared.h.
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
 * The per-key pacing windows are another object, in pacing.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "guc.h"
#include "secret.h"
#include "shared.h"

/* Requests for a worker that fit before the launcher rescans everything. */
#define REQUEST_RING 32

typedef struct DatabaseSlot
{
	Latch	   *worker_latch;	/* the running worker's latch, or NULL */
	WorkerHealth h;				/* what the status functions show */
} DatabaseSlot;

typedef struct WorkerRequest
{
	Oid			db;
	bool		reset_backoff;	/* CREATE EXTENSION: start at once */
} WorkerRequest;

typedef struct AgentphoneShared
{
	slock_t		mutex;			/* everything */
	Latch	   *launcher_latch;
	LauncherHealth launcher;
	bool		rescan;			/* the launcher must look at every database */
	int			nrequests;
	WorkerRequest requests[REQUEST_RING];
	int			nslots;
	DatabaseSlot slots[FLEXIBLE_ARRAY_MEMBER];
} AgentphoneShared;

static AgentphoneShared *agentphone_shared = NULL;
static int	my_slot = -1;		/* the worker's slot */

static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif

#define SLOT(i) (&agentphone_shared->slots[(i)])

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
 * slot_of returns the slot serving database db, or -1; caller holds the
 * mutex.
 */
static int
slot_of(Oid db)
{
	for (int i = 0; i < agentphone_shared->nslots; i++)
		if (SLOT(i)->h.dboid == db)
			return i;
	return -1;
}

/*
 * shared_request_worker asks the launcher for a worker in database db
 * (reset_backoff: CREATE EXTENSION, start it at once).
 */
void
shared_request_worker(Oid db, bool reset_backoff)
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
 * shared_wake_worker sets the latch of database db's worker; when it has
 * none, it asks the launcher for one.
 */
void
shared_wake_worker(Oid db)
{
	Latch	   *latch = NULL;
	int			i;

	SpinLockAcquire(&agentphone_shared->mutex);
	i = slot_of(db);
	if (i >= 0)
		latch = SLOT(i)->worker_latch;
	SpinLockRelease(&agentphone_shared->mutex);
	if (latch)
		SetLatch(latch);
	else
		shared_request_worker(db, false);
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
	i = slot_of(db);
	if (i >= 0)
		*health = SLOT(i)->h;
	SpinLockRelease(&agentphone_shared->mutex);
	return i >= 0;
}

/*
 * shared_database_unserved tells whether database db has no slot while
 * every slot serves another database.
 */
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

bool
shared_database_unserved(Oid db)
{
	bool		full;

	if (agentphone_shared == NULL)
		return false;
	SpinLockAcquire(&agentphone_shared->mutex);
	full = slot_of(db) < 0 && slot_of(InvalidOid) < 0;
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

/* ---- the worker of one database ---- */

/*
 * shared_attach_slot makes slot the worker's own and returns its
 * database's OID and name; false when the slot no longer holds one.
 */
bool
shared_attach_slot(int slot, Oid *db, char *dbname)
{
	if (agentphone_shared == NULL || slot < 0 || slot >= agentphone_shared->nslots)
		return false;
	SpinLockAcquire(&agentphone_shared->mutex);
	*db = SLOT(slot)->h.dboid;
	strlcpy(dbname, SLOT(slot)->h.dbname, NAMEDATALEN);
	SpinLockRelease(&agentphone_shared->mutex);
	my_slot = slot;
	return OidIsValid(*db);
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
	SLOT(my_slot)->h.worker_pid = 0;
	SLOT(my_slot)->worker_latch = NULL;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * agentphone_publish_worker records the worker's latch and pid in its
 * slot.
 */
void
agentphone_publish_worker(Latch *latch)
{
	Assert(my_slot >= 0);
	SpinLockAcquire(&agentphone_shared->mutex);
	SLOT(my_slot)->h.worker_pid = MyProcPid;
	SLOT(my_slot)->worker_latch = latch;
	SLOT(my_slot)->h.started_at = GetCurrentTimestamp();
	SpinLockRelease(&agentphone_shared->mutex);
	before_shmem_exit(unpublish_worker, (Datum) 0);
}

/*
 * shared_worker_exit tells the launcher why the worker is about to exit.
 */
void
shared_worker_exit(WorkerExit why)
{
	SpinLockAcquire(&agentphone_shared->mutex);
	SLOT(my_slot)->h.last_exit = why;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * agentphone_count adds n to a worker counter.
 */
void
agentphone_count(AgentphoneCounter c, int n)
{
	if (agentphone_shared == NULL || my_slot < 0)
		return;
	SpinLockAcquire(&agentphone_shared->mutex);
	SLOT(my_slot)->h.counters[c] += n;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * copy_message copies message into buf of size len, cut to fit on a
 * character boundary.
 */
static void
copy_message(char *buf, size_t size, const char *message)
{
	int			len = pg_mbcliplen(message, strlen(message), size - 1);

	memcpy(buf, message, len);
	buf[len] = '\0';
}

/*
 * number_end returns where the phone number at p ends, or NULL if none
 * starts there: a + and 7 or more digits (with the spaces, dashes, dots
 * and parentheses that write them), or 10 or more digits in a row.
 */
static const char *
number_end(const char *p)
{
	const char *q = p + (*p == '+');
	const char *last = NULL;
	int			digits = 0;

	if (*p == '+')
	{
		for (; *q && strchr("0123456789 -.()", *q); q++)
			if (isdigit((unsigned char) *q))
				digits++, last = q;
		return digits >= 7 ? last + 1 : NULL;
	}
	for (; isdigit((unsigned char) *q); q++)
		digits++;
	return digits >= 10 ? q : NULL;
}

/*
 * mask_numbers replaces every phone number in buf (number_end) with
 * "<number>", for the text that pg_monitor reads: an API error may quote
 * the callee's.
 */
static void
mask_numbers(char *buf, size_t size)
{
	StringInfoData out;
	const char *p = buf;

	initStringInfo(&out);
	while (*p)
	{
		const char *end = (p == buf || !isdigit((unsigned char) p[-1])) ? number_end(p) : NULL;

		if (end != NULL)
		{
			appendStringInfoString(&out, "<number>");
			p = end;
		}
		else
			appendStringInfoChar(&out, *p++);
	}
	copy_message(buf, size, out.data);
	pfree(out.data);
}

/*
 * agentphone_note_error remembers the worker's last failure, as superusers
 * may read it (message) and as others may (for_callers, NULL: the same,
 * without phone numbers), both redacted of every key.
 */
void
agentphone_note_error(const char *message, const char *for_callers)
{
	char		buf[sizeof(((WorkerHealth *) NULL)->last_error)];
	char		pub[sizeof(((WorkerHealth *) NULL)->last_error_public)];
	TimestampTz now = GetCurrentTimestamp();

	if (agentphone_shared == NULL || my_slot < 0)
		return;
	copy_message(buf, sizeof(buf), agentphone_redact_keys(message));
	copy_message(pub, sizeof(pub), agentphone_redact_keys(for_callers ? for_callers : message));
	mask_numbers(pub, sizeof(pub));
	SpinLockAcquire(&agentphone_shared->mutex);
	memcpy(SLOT(my_slot)->h.last_error, buf, sizeof(buf));
	memcpy(SLOT(my_slot)->h.last_error_public, pub, sizeof(pub));
	SLOT(my_slot)->h.last_error_at = now;
	SLOT(my_slot)->h.last_error_over = false;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * agentphone_note_error_over records that the worker's last failure is
 * over (the API answers again, the key or URL works again): it is still
 * shown, with its time, as over.
 */
void
agentphone_note_error_over(void)
{
	if (agentphone_shared == NULL || my_slot < 0)
		return;
	SpinLockAcquire(&agentphone_shared->mutex);
	if (SLOT(my_slot)->h.last_error_at != 0)
		SLOT(my_slot)->h.last_error_over = true;
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
	SLOT(my_slot)->h.last_loop = now;
	SLOT(my_slot)->h.in_flight = in_flight;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * agentphone_note_queue_depth records how many calls the worker's database
 * has queued, and whether they are all held copies with nothing else to
 * do (the launcher gives such a database's slot to one that waits).
 */
void
agentphone_note_queue_depth(int64 depth, bool held_only)
{
	SpinLockAcquire(&agentphone_shared->mutex);
	SLOT(my_slot)->h.queue_depth = depth;
	SLOT(my_slot)->h.held_only = held_only;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * shared_my_db_state returns what is becoming of the worker's database,
 * and since when in *since.
 */
AgentphoneDbState
shared_my_db_state(TimestampTz *since)
{
	AgentphoneDbState state;

	SpinLockAcquire(&agentphone_shared->mutex);
	state = SLOT(my_slot)->h.db_state;
	*since = SLOT(my_slot)->h.db_state_since;
	SpinLockRelease(&agentphone_shared->mutex);
	return state;
}

/* ---- dbguard.c ---- */

/*
 * shared_set_db_state publishes what is becoming of database db and wakes
 * its worker, so it acts on it, and the launcher.  Nothing happens for a
 * database agentphone does not serve.
 */
void
shared_set_db_state(Oid db, AgentphoneDbState state)
{
	Latch	   *latch = NULL;
	int			i;

	SpinLockAcquire(&agentphone_shared->mutex);
	i = slot_of(db);
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
		shared_wake_launcher(false);
}

/*
 * shared_wake_launcher sets the launcher's latch; with rescan, it looks at
 * every database again (one was created, renamed or dropped).
 */
void
shared_wake_launcher(bool rescan)
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
 * shared_publish_launcher records the launcher's latch and pid.
 */
void
shared_publish_launcher(Latch *latch)
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
 * shared_take_requests returns whether the launcher must look at every
 * database, and hands over the requests for single databases: each one
 * that has a slot is marked wanted there (CREATE EXTENSION also clears
 * its backoff), and the others are appended to *unslotted, for the
 * launcher to claim slots for.
 */
bool
shared_take_requests(List **unslotted)
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
		int			i = slot_of(taken[r].db);

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
 * shared_claim_slot returns the slot of database db, claiming a free one
 * for it (wanted: a worker should start), or -1 when none is free.
 */
int
shared_claim_slot(Oid db, const char *dbname)
{
	int			i;

	SpinLockAcquire(&agentphone_shared->mutex);
	i = slot_of(db);
	if (i < 0 && (i = slot_of(InvalidOid)) >= 0)
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
 * shared_slot_started notes that a worker was started for slot.
 */
void
shared_slot_started(int slot, TimestampTz now)
{
	SpinLockAcquire(&agentphone_shared->mutex);
	SLOT(slot)->h.starting = true;
	SLOT(slot)->h.wanted = false;
	SLOT(slot)->h.last_exit = EXIT_NONE;
	SLOT(slot)->h.started_at = now;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * shared_slot_stopped notes that slot's worker has exited: *why is what it
 * said, and *failures how many runs in a row ended without a word (a
 * crash, a FATAL error, a refused connection).
 */
void
shared_slot_stopped(int slot, WorkerExit *why, int *failures)
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

void
shared_slot_backoff(int slot, TimestampTz retry_at)
{
	SpinLockAcquire(&agentphone_shared->mutex);
	SLOT(slot)->h.retry_at = retry_at;
	SLOT(slot)->h.wanted = true;
	SpinLockRelease(&agentphone_shared->mutex);
}

void
shared_slot_rename(int slot, const char *dbname)
{
	SpinLockAcquire(&agentphone_shared->mutex);
	strlcpy(SLOT(slot)->h.dbname, dbname, NAMEDATALEN);
	SpinLockRelease(&agentphone_shared->mutex);
}

void
shared_free_slot(int slot)
{
	SpinLockAcquire(&agentphone_shared->mutex);
	memset(SLOT(slot), 0, sizeof(DatabaseSlot));
	SpinLockRelease(&agentphone_shared->mutex);
}

void
shared_note_unserved(int n)
{
	SpinLockAcquire(&agentphone_shared->mutex);
	agentphone_shared->launcher.unserved = n;
	SpinLockRelease(&agentphone_shared->mutex);
}
