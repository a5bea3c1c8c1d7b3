/*-------------------------------------------------------------------------
 *
 * task.h
 *		A periodic task of the worker: following live calls (poll.c),
 *		reconciling calls of unknown outcome (reconcile.c), refreshing the
 *		account's agents (agents.c).
 *
 * The worker runs every task through the same table and names none: when
 * its cycle is due, load() reads its work in a short transaction, then
 * start() sends its requests outside any transaction; answers come back to
 * the handlers its requests name (request.h); what it has left to write
 * goes in the worker's record transaction (pending(), record()), after
 * which after_record() may start more requests.  A load that fails waits
 * one interval, as does a task that had nothing to start.  A new task is a
 * new WorkerTask in its own file and one line in task.c's list.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_TASK_H
#define AGENTPHONE_TASK_H

#include "utils/timestamp.h"

#include "cycle.h"

typedef struct WorkerTask
{
	const char *activity;		/* its load transaction, for the log */
	Cycle	   *cycle;			/* when it runs next, its requests, its memory */
	int			(*interval_ms) (void);	/* its period, as the settings say now */
	bool		(*load) (void);	/* in a transaction: read the work; false:
								 * none to start */
	void		(*start) (Oid extension_oid);	/* send its requests */
	bool		(*pending) (void);	/* writes wait for the record transaction
									 * (NULL: never) */
	void		(*record) (void);	/* write them, in that transaction */
	void		(*after_record) (void);	/* after it (NULL: nothing) */
	void		(*reset) (void);	/* the extension was dropped or created
									 * again: forget everything */
} WorkerTask;

extern const WorkerTask agentphone_poll_task;
extern const WorkerTask agentphone_reconcile_task;
extern const WorkerTask agentphone_agents_task;

/* The worker's list of them (task.c) */
extern int	task_count(void);
extern const WorkerTask *task_get(int i);
extern void task_reset_all(void);
extern void task_reload_intervals(void);
extern bool task_any_pending(void);
extern void task_record_all(void);
extern void task_after_record_all(void);
extern long task_wait_ms(TimestampTz now, long wait);

#endif							/* AGENTPHONE_TASK_H */
