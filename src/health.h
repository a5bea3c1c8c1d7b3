/*-------------------------------------------------------------------------
 *
 * health.h
 *		What a slot in shared memory holds of its database's worker and of
 *		the launcher's view of it, and what the launcher publishes of
 *		itself: the copies agentphone_worker_status(), agentphone_workers()
 *		and the launcher read (shared.h), and what the worker and the
 *		launcher write there (workerslot.h, slots.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_HEALTH_H
#define AGENTPHONE_HEALTH_H

#include "utils/timestamp.h"

/* Counters the worker keeps for agentphone_worker_status(). */
typedef enum AgentphoneCounter
{
	COUNT_DISPATCHED,			/* POSTs sent */
	COUNT_RETRIED,				/* attempts that will be retried */
	COUNT_FAILED,				/* calls ended in "error" */
	COUNT_RECONCILED,			/* calls of unknown outcome resolved */
	NUM_COUNTERS
} AgentphoneCounter;

/* What is becoming of a served database (dbguard.c sets it). */
typedef enum AgentphoneDbState
{
	DB_PRESENT = 0,				/* it exists; the worker may connect */
	DB_GOING,					/* a command needs it to itself */
	DB_GONE						/* dropped */
} AgentphoneDbState;

/* A "going" mark older than this is stale (its backend died mid-way). */
#define DB_GOING_STALE_MS 60000

/* Why a database's last worker stopped, as it told the launcher. */
typedef enum WorkerExit
{
	EXIT_NONE = 0,				/* still running, or died without a word */
	EXIT_NO_EXTENSION,			/* agentphone is not installed there */
	EXIT_LEFT,					/* a command needed the database */
	EXIT_NOT_SERVED				/* agentphone.database_name names another */
} WorkerExit;

/* A consistent copy of one database's worker and slot. */
typedef struct WorkerHealth
{
	Oid			dboid;			/* InvalidOid: the slot is free */
	char		dbname[NAMEDATALEN];
	pid_t		worker_pid;		/* 0 when no worker is running */
	TimestampTz started_at;		/* when the worker started */
	TimestampTz last_loop;		/* when its loop last ran */
	int			in_flight;		/* requests in flight then */
	int64		queue_depth;	/* queued calls at its last sweep, -1: unknown */
	bool		held_only;		/* then: every call it has to do is a held
								 * copy (home.c), so it needs no slot */
	uint64		counters[NUM_COUNTERS];
	char		last_error[256];	/* the last failure, "" if none */
	char		last_error_public[256]; /* the same without what only
										 * superusers may read */
	TimestampTz last_error_at;	/* when it happened, 0 if never */
	bool		last_error_over;	/* it is over: requests go through again */
	/* the launcher's view */
	bool		wanted;			/* a worker should run */
	bool		starting;		/* one was started and has not yet exited */
	WorkerExit	last_exit;
	int			failures;		/* consecutive failed runs */
	TimestampTz retry_at;		/* no new start before this */
	AgentphoneDbState db_state;
	TimestampTz db_state_since;
} WorkerHealth;

/* The launcher, for the cluster view. */
typedef struct LauncherHealth
{
	pid_t		pid;			/* 0 when it is not running */
	TimestampTz started_at;
	int			slots;			/* agentphone.max_databases */
	int			unserved;		/* databases refused a slot at last look */
} LauncherHealth;

#endif							/* AGENTPHONE_HEALTH_H */
