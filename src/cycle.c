/*-------------------------------------------------------------------------
 *
 * cycle.c
 *		The bookkeeping every periodic piece of the worker's work shares
 *		(poll.c, reconcile.c, agents.c): when the next cycle is due, how
 *		many of its requests are in flight, and its memory, reset when a
 *		cycle begins or is forgotten.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "cycle.h"

/*
 * cycle_due says whether a new cycle should start now.
 */
bool
cycle_due(const Cycle *c, TimestampTz now)
{
	return !c->active && c->wanted && now >= c->next_at;
}

/*
 * cycle_wait_ms returns how long until a new cycle is due, or -1 when none
 * is to come.
 */
long
cycle_wait_ms(const Cycle *c, TimestampTz now)
{
	if (c->active || !c->wanted)
		return -1;
	return TimestampDifferenceMilliseconds(now, c->next_at);
}

/*
 * cycle_interval_reloaded brings the next cycle forward to interval_ms
 * from now when its interval was shortened: a reload takes effect at
 * once, not after the old interval.
 */
void
cycle_interval_reloaded(Cycle *c, int interval_ms)
{
	TimestampTz soonest = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), interval_ms);

	if (!c->active && c->next_at > soonest)
		c->next_at = soonest;
}

/*
 * cycle_postpone makes the next cycle due delay_ms from now.
 */
void
cycle_postpone(Cycle *c, int delay_ms)
{
	c->next_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), delay_ms);
}

/*
 * cycle_memory returns the memory of the current cycle, creating it.
 */
MemoryContext
cycle_memory(Cycle *c)
{
	if (c->cxt == NULL)
	{
		c->cxt = AllocSetContextCreate(TopMemoryContext, "agentphone cycle",
									   ALLOCSET_DEFAULT_SIZES);
		MemoryContextSetIdentifier(c->cxt, c->name);
	}
	return c->cxt;
}

/*
 * cycle_fresh_memory empties the cycle's memory for a new cycle and
 * returns it.
 */
MemoryContext
cycle_fresh_memory(Cycle *c)
{
	MemoryContextReset(cycle_memory(c));
	return c->cxt;
}

/*
 * cycle_forget drops the current cycle (the extension was dropped or
 * created again): its memory is emptied, its requests in flight are no
 * longer counted, and a new cycle is due at once.
 */
void
cycle_forget(Cycle *c)
{
	if (c->cxt)
		MemoryContextReset(c->cxt);
	c->outstanding = 0;
	c->active = false;
	c->wanted = true;
	c->next_at = 0;
}

/*
 * cycle_request_started counts a request of the cycle going out.
 */
void
cycle_request_started(Cycle *c)
{
	c->outstanding++;
}

/*
 * cycle_request_finished counts a request of the cycle done and says
 * whether it was the last one in flight.
 */
bool
cycle_request_finished(Cycle *c)
{
	if (c->outstanding > 0)
		c->outstanding--;
	return c->outstanding == 0;
}
