/*-------------------------------------------------------------------------
 *
 * dispatch.h
 *		Claiming and sending calls (dispatch.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_DISPATCH_H
#define AGENTPHONE_DISPATCH_H

#include "nodes/pg_list.h"
#include "utils/timestamp.h"

#include "api.h"

/* A call claimed for sending. */
typedef struct ClaimedCall
{
	int64		id;
	int			attempt;		/* 1 for the first try */
	const char *sub_account;	/* options.subAccountId, or NULL */
	ApiCallRequest req;
} ClaimedCall;

extern int	dispatch_reserve(const char *key, int want, TimestampTz now,
							 TimestampTz *free_at);
extern void dispatch_unreserve(int n);
extern void dispatch_release_window_holds(void);
extern void dispatch_note_waiting(const char *why);
extern List *dispatch_claim(int max, MemoryContext cxt, long *next_due_ms);
extern void dispatch_send(List *claimed, Oid extension_oid, const char *key);

#endif							/* AGENTPHONE_DISPATCH_H */
