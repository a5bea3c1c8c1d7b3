/*-------------------------------------------------------------------------
 *
 * backoff.h
 *		The doubling backoff shared by the retries of a call (outcome.c)
 *		and the restarts of a failing worker (tending.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_BACKOFF_H
#define AGENTPHONE_BACKOFF_H

/*
 * doubled_ms is first_ms doubled for each failure after the first of n,
 * at most max_ms.
 */
static inline int64
doubled_ms(int64 first_ms, int n, int64 max_ms)
{
	int64		ms = first_ms;

	for (int i = 1; i < n && ms < max_ms; i++)
		ms *= 2;
	return Min(ms, max_ms);
}

#endif							/* AGENTPHONE_BACKOFF_H */
