/*-------------------------------------------------------------------------
 *
 * task.c
 *		The worker's list of its periodic tasks (task.h), each defined in
 *		its own file, and what the worker does to all of them at once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "cycle.h"
#include "task.h"

/* The worker's periodic tasks, each in its own file. */
static const WorkerTask *const tasks[] = {
	&agentphone_poll_task, &agentphone_reconcile_task, &agentphone_agents_task,
};

int
task_count(void)
{
	return (int) lengthof(tasks);
}

const WorkerTask *
task_get(int i)
{
	return tasks[i];
}

/*
 * task_reset_all makes every task forget its cycle: the extension was
 * dropped or created again, and a cycle of a dropped extension would never
 * end.
 */
void
task_reset_all(void)
{
	for (size_t i = 0; i < lengthof(tasks); i++)
		tasks[i]->reset();
}

/*
 * task_reload_intervals gives every task's cycle its period as the
 * settings say after a reload.
 */
void
task_reload_intervals(void)
{
	for (size_t i = 0; i < lengthof(tasks); i++)
		cycle_interval_reloaded(tasks[i]->cycle, tasks[i]->interval_ms());
}

/*
 * task_any_pending says whether a task has writes for the record
 * transaction.
 */
bool
task_any_pending(void)
{
	for (size_t i = 0; i < lengthof(tasks); i++)
		if (tasks[i]->pending != NULL && tasks[i]->pending())
			return true;
	return false;
}

/*
 * task_record_all writes what every task has left to write, in the record
 * transaction.
 */
void
task_record_all(void)
{
	for (size_t i = 0; i < lengthof(tasks); i++)
		if (tasks[i]->record != NULL)
			tasks[i]->record();
}

/*
 * task_after_record_all lets every task act once the record transaction
 * is over (start more requests).
 */
void
task_after_record_all(void)
{
	for (size_t i = 0; i < lengthof(tasks); i++)
		if (tasks[i]->after_record != NULL)
			tasks[i]->after_record();
}

/*
 * task_wait_ms lowers wait to the time until the next cycle of a task is
 * due, and returns it.
 */
long
task_wait_ms(TimestampTz now, long wait)
{
	for (size_t i = 0; i < lengthof(tasks); i++)
	{
		long		task_wait = cycle_wait_ms(tasks[i]->cycle, now);

		if (task_wait >= 0 && task_wait < wait)
			wait = task_wait;
	}
	return wait;
}
