/*-------------------------------------------------------------------------
 *
 * shared.h
 *		What backends, the launcher and the workers share (shared.c): one
 *		slot per served database (its worker's latch, pid, health and
 *		counters, what is becoming of the database, the launcher's view of
 *		it) and the launcher's latch.  The structs themselves are private
 *		to shared.c (the per-key pacing windows: pacing.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_SHARED_H
#define AGENTPHONE_SHARED_H

#include "nodes/pg_list.h"
#include "storage/latch.h"
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

extern void shared_install(void);
extern bool shared_available(void);
extern int	shared_slot_count(void);
extern void shared_request_worker(Oid db, bool reset_backoff);
extern void shared_wake_worker(Oid db);

/* Backends (the commit-time wake: wake.c) */
extern void agentphone_wake_at_commit(void);
extern void agentphone_request_worker_at_commit(void);
extern bool shared_database_health(Oid db, WorkerHealth *health);
extern bool shared_slot_health(int slot, WorkerHealth *health);
extern bool shared_launcher_health(LauncherHealth *health);
extern bool shared_database_unserved(Oid db);
extern char *shared_unserved_text(void);

/* The worker of one database */
extern bool shared_attach_slot(int slot, Oid *db, char *dbname);
extern void agentphone_publish_worker(Latch *latch);
extern void shared_worker_exit(WorkerExit why);
extern void agentphone_count(AgentphoneCounter c, int n);
extern void agentphone_note_error(const char *message, const char *for_callers);
extern void agentphone_note_error_over(void);
extern void agentphone_note_loop(int in_flight);
extern void agentphone_note_queue_depth(int64 depth, bool held_only);
extern AgentphoneDbState shared_my_db_state(TimestampTz *since);

/* dbguard.c, for the database a command names */
extern void shared_set_db_state(Oid db, AgentphoneDbState state);
extern void shared_wake_launcher(bool rescan);

/* The launcher */
extern void shared_publish_launcher(Latch *latch);
extern bool shared_take_requests(List **unslotted);
extern int	shared_claim_slot(Oid db, const char *dbname);
extern void shared_slot_started(int slot, TimestampTz now);
extern void shared_slot_stopped(int slot, WorkerExit *why, int *failures);
extern void shared_slot_backoff(int slot, TimestampTz retry_at);
extern void shared_slot_rename(int slot, const char *dbname);
extern void shared_free_slot(int slot);
extern void shared_note_unserved(int n);

#endif							/* AGENTPHONE_SHARED_H */
