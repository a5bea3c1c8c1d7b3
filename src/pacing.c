/*-------------------------------------------------------------------------
 *
 * pacing.c
 *		The per-key pacing windows in shared memory: databases that send
 *		with one API key share one agentphone.max_calls_per_minute.
 *
 * Each window counts one key's sends (by the key's hash, never the key)
 * in per-second buckets over the last PACING_SECONDS; a worker reserves
 * its sends before it claims calls (dispatch.c) and gives back what it
 * did not claim.  There are 2 * agentphone.max_databases + 1 windows, so
 * every database can have a key of its own; a window is taken over once
 * its key has sent nothing for a minute.  This file owns the windows'
 * shared memory, its request and startup, and its lock.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "pacing.h"

/* A send counts against its key's budget for this many whole seconds. */
#define PACING_SECONDS 61

typedef struct PacingWindow
{
	uint64		key_hash;		/* 0: unused */
	int64		second[PACING_SECONDS]; /* the second each bucket counts */
	int32		sent[PACING_SECONDS];
} PacingWindow;

typedef struct Pacing
{
	LWLock	   *lock;
	int			nwindows;
	PacingWindow windows[FLEXIBLE_ARRAY_MEMBER];
} Pacing;

static Pacing *pacing = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static int
window_count(void)
{
	return 2 * agentphone_max_databases + 1;
}

static Size
pacing_size(void)
{
	return add_size(offsetof(Pacing, windows), mul_size(window_count(), sizeof(PacingWindow)));
}

/*
 * pacing_shmem_request asks the postmaster for the windows and their lock.
 */
static void
pacing_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(pacing_size());
	RequestNamedLWLockTranche("agentphone pacing", 1);
}

/*
 * pacing_shmem_startup creates or attaches to the windows.
 */
static void
pacing_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pacing = ShmemInitStruct("agentphone pacing", pacing_size(), &found);
	if (!found)
	{
		memset(pacing, 0, pacing_size());
		pacing->nwindows = window_count();
		pacing->lock = &(GetNamedLWLockTranche("agentphone pacing"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * pacing_install asks for the windows, from _PG_init while the library is
 * being preloaded.
 */
void
pacing_install(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pacing_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pacing_shmem_startup;
}

/*
 * window_of returns key_hash's window, taking an idle one for it; NULL
 * when every window is busy with other keys.  Caller holds pacing->lock.
 */
static PacingWindow *
window_of(uint64 key_hash, int64 now_s)
{
	PacingWindow *idle = NULL;

	for (int i = 0; i < pacing->nwindows; i++)
	{
		PacingWindow *w = &pacing->windows[i];
		bool		busy = false;

		if (w->key_hash == key_hash)
			return w;
		for (int b = 0; b < PACING_SECONDS && !busy; b++)
			busy = w->sent[b] > 0 && now_s - w->second[b] < PACING_SECONDS;
		if (!busy && idle == NULL)
			idle = w;
	}
	if (idle)
	{
		memset(idle, 0, sizeof(*idle));
		idle->key_hash = key_hash;
	}
	return idle;
}

/*
 * pacing_reserve reserves up to want sends now for the key of
 * key_hash, so that no more than limit are made with it in any 60
 * seconds by all the databases that use it, and returns how many it
 * reserved.  When none, *free_at is when one may be.
 */
int
pacing_reserve(uint64 key_hash, int want, int limit,
					  TimestampTz now, TimestampTz *free_at)
{
	int64		now_s = now / USECS_PER_SEC;
	int			bucket = (int) (now_s % PACING_SECONDS);
	int			used = 0;
	int64		oldest = now_s;
	int			granted;
	PacingWindow *w;

	LWLockAcquire(pacing->lock, LW_EXCLUSIVE);
	w = window_of(key_hash, now_s);
	if (w == NULL)
	{
		LWLockRelease(pacing->lock);
		*free_at = TimestampTzPlusMilliseconds(now, 1000);
		return 0;
	}
	if (w->second[bucket] != now_s)
	{
		w->second[bucket] = now_s;
		w->sent[bucket] = 0;
	}
	for (int b = 0; b < PACING_SECONDS; b++)
		if (w->sent[b] > 0 && now_s - w->second[b] < PACING_SECONDS)
		{
			used += w->sent[b];
			oldest = Min(oldest, w->second[b]);
		}
	granted = Max(0, Min(want, limit - used));
	w->sent[bucket] += granted;
	LWLockRelease(pacing->lock);
	/*
	 * Look again within a second at most: what another database holds
	 * now may be a reservation its claim gives back at once.
	 */
	if (granted == 0)
		*free_at = Min((oldest + PACING_SECONDS) * USECS_PER_SEC,
					   TimestampTzPlusMilliseconds(now, 1000));
	return granted;
}

/*
 * pacing_return gives back n sends reserved at reserved_at and not
 * made.
 */
void
pacing_return(uint64 key_hash, int n, TimestampTz reserved_at)
{
	int64		s = reserved_at / USECS_PER_SEC;
	int			bucket = (int) (s % PACING_SECONDS);

	if (n <= 0)
		return;
	LWLockAcquire(pacing->lock, LW_EXCLUSIVE);
	for (int i = 0; i < pacing->nwindows; i++)
	{
		PacingWindow *w = &pacing->windows[i];

		if (w->key_hash == key_hash && w->second[bucket] == s)
			w->sent[bucket] = Max(0, w->sent[bucket] - n);
	}
	LWLockRelease(pacing->lock);
}
