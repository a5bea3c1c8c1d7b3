/*-------------------------------------------------------------------------
 *
 * agents.h
 *		The account's agents (agents.c): stored, checked at queue time, and
 *		refreshed by the worker.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_AGENTS_H
#define AGENTPHONE_AGENTS_H

#include "nodes/pg_list.h"

extern void agents_store(List *agents);
extern void agents_check(const char *agent_id, const char *number_id);
extern char *agents_url(int offset);

/* the refresh is the worker's task agentphone_agents_task (task.h) */

#endif							/* AGENTPHONE_AGENTS_H */
