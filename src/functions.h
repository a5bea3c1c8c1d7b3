/*-------------------------------------------------------------------------
 *
 * functions.h
 *		Queueing a call (functions.c), shared by agentphone_call() and the
 *		trigger (trigger.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_FUNCTIONS_H
#define AGENTPHONE_FUNCTIONS_H

/* Arguments of agentphone_call(), which agentphone_queue_call() takes. */
#define NUM_CALL_ARGS 10
extern int64 agentphone_queue_call(const Datum *args, const bool *isnull);

#endif							/* AGENTPHONE_FUNCTIONS_H */
