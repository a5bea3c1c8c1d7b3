/*-------------------------------------------------------------------------
 *
 * enqueue.h
 *		Queueing a call (enqueue.c), shared by agentphone_call(), the
 *		trigger (trigger.c) and agentphone_retry() (functions.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_ENQUEUE_H
#define AGENTPHONE_ENQUEUE_H

/* Arguments of agentphone_call(), which agentphone_queue_call() takes. */
#define NUM_CALL_ARGS 10
extern int64 agentphone_queue_call(const Datum *args, const bool *isnull);
extern void enqueue_check_database(void);
extern void enqueue_announce_hold(int64 id, const char *waiting);

#endif							/* AGENTPHONE_ENQUEUE_H */
