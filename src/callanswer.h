/*-------------------------------------------------------------------------
 *
 * callanswer.h
 *		Recording the answers to the calls' POSTs, and handing the calls
 *		whose answer was never recorded to reconciliation (callanswer.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_CALLANSWER_H
#define AGENTPHONE_CALLANSWER_H

#include "nodes/pg_list.h"

#include "request.h"

/* A call's POST /calls (dispatch_send()), whose answer callanswer.c records. */
typedef struct CreateRequest
{
	ApiRequest	hdr;
	int			attempt;		/* 1 for the first try */
	uint64		key_hash;		/* of the key sent */
} CreateRequest;

/* the handler of a POST /calls answer, for dispatch_send() */
extern const RequestHandler callanswer_handler;

extern void callanswer_recover_orphans(void);
extern void callanswer_note_unrecorded(List *done, Oid extension_oid);
extern bool callanswer_has_unrecorded(void);
extern void callanswer_reconcile_unrecorded(Oid extension_oid);
extern void callanswer_forget_unrecorded(void);

#endif							/* AGENTPHONE_CALLANSWER_H */
