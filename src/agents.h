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

struct Cycle;

extern struct Cycle agents_cycle;

extern void agents_store(List *agents);
extern void agents_check(const char *agent_id, const char *number_id);
extern char *agents_url(int offset);

extern void agents_start(Oid extension_oid);
extern bool agents_pending_write(void);
extern void agents_record(void);
extern void agents_reset(void);

#endif							/* AGENTPHONE_AGENTS_H */
