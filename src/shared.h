/*-------------------------------------------------------------------------
 *
 * shared.h
 *		What backends and the worker share (shared.c): the worker's latch,
 *		pid and health, its counters, what is becoming of its database, and
 *		waking it at COMMIT.  The struct itself is private to shared.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_SHARED_H
#define AGENTPHONE_SHARED_H

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

/* What is becoming of the worker's database (dbguard.c sets it). */
typedef enum AgentphoneDbState
{
	DB_PRESENT = 0,				/* it exists; the worker may connect */
	DB_GOING,					/* a command needs it to itself */
	DB_GONE						/* dropped or renamed away */
} AgentphoneDbState;

/* A consistent copy of the worker's health, for agentphone_worker_status(). */
typedef struct WorkerHealth
{
	pid_t		worker_pid;		/* 0 when no worker is running */
	TimestampTz started_at;		/* when the worker started */
	TimestampTz last_loop;		/* when its loop last ran */
	int			in_flight;		/* requests in flight then */
	uint64		counters[NUM_COUNTERS];
	char		last_error[256];	/* the last failure, "" if none */
} WorkerHealth;

extern void shared_install(void);
extern bool shared_available(void);
extern bool shared_worker_health(WorkerHealth *health);

extern void agentphone_wake_worker(void);
extern void agentphone_wake_at_commit(void);
extern void agentphone_publish_worker(Latch *latch);
extern void agentphone_count(AgentphoneCounter c, int n);
extern void agentphone_note_error(const char *message);
extern void agentphone_note_loop(int in_flight);

extern void shared_set_db_state(AgentphoneDbState state);
extern AgentphoneDbState shared_db_state(TimestampTz *since);

#endif							/* AGENTPHONE_SHARED_H */
