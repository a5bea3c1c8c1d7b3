/*-------------------------------------------------------------------------
 *
 * cycle.h
 *		A periodic piece of the worker's work (a poll, reconcile or agents
 *		cycle): when it runs next, its requests in flight and the memory
 *		that lives as long as one cycle (cycle.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_CYCLE_H
#define AGENTPHONE_CYCLE_H

#include "utils/palloc.h"
#include "utils/timestamp.h"

typedef struct Cycle
{
	const char *name;			/* its memory context's identifier */
	bool		active;			/* a cycle is in progress */
	bool		wanted;			/* there may be work for one */
	TimestampTz next_at;		/* not before this */
	int			outstanding;	/* requests of this cycle in flight */
	MemoryContext cxt;			/* everything of one cycle */
} Cycle;

/* A cycle that is wanted at once. */
#define CYCLE_INIT(name) {(name), false, true, 0, 0, NULL}

extern bool cycle_due(const Cycle *c, TimestampTz now);
extern long cycle_wait_ms(const Cycle *c, TimestampTz now);
extern void cycle_interval_reloaded(Cycle *c, int interval_ms);
extern void cycle_postpone(Cycle *c, int delay_ms);
extern MemoryContext cycle_memory(Cycle *c);
extern MemoryContext cycle_fresh_memory(Cycle *c);
extern void cycle_forget(Cycle *c);
extern void cycle_request_started(Cycle *c);
extern bool cycle_request_finished(Cycle *c);

#endif							/* AGENTPHONE_CYCLE_H */
