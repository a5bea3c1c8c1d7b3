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

#include "utils/jsonb.h"
#include "utils/timestamp.h"

/*
 * A call to queue: the arguments of agentphone_call() by name (NULL for an
 * argument not given), or what the dialing trigger read from its row.
 */
typedef struct CallRequest
{
	char	   *agent_id;
	char	   *to_number;
	Jsonb	   *variables;
	char	   *from_number_id;
	char	   *initial_greeting;
	char	   *voice;
	char	   *system_prompt;
	Jsonb	   *options;
	char	   *timezone;
	bool		has_not_before;
	TimestampTz not_before;
} CallRequest;

/* agentphone_call()'s arguments, in order: its signature, for lookups */
#define NUM_CALL_ARGS 10
extern const Oid enqueue_call_argtypes[NUM_CALL_ARGS];

extern int64 enqueue_call(CallRequest *req);
extern void enqueue_check_database(void);
extern void enqueue_announce_hold(int64 id, const char *waiting);

#endif							/* AGENTPHONE_ENQUEUE_H */
