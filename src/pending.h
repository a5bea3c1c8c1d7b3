/*-------------------------------------------------------------------------
 *
 * pending.h
 *		What each API request in flight is for, and helpers shared by the
 *		worker's dispatch and poll steps (pending.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_PENDING_H
#define AGENTPHONE_PENDING_H

#include "utils/timestamp.h"

typedef enum RequestKind
{
	REQ_CREATE,					/* POST /calls for a claimed call */
	REQ_LIST,					/* GET /calls?status=in-progress page */
	REQ_GET,					/* GET /calls/{id} of a call that changed */
	REQ_TRANSCRIPT,				/* GET /calls/{id}/transcript */
	REQ_GET_TRANSCRIPT,			/* GET /calls/{id}, for its transcripts */
	REQ_RECONCILE,				/* GET /calls?search=<number> */
	REQ_AGENTS					/* GET /agents page */
} RequestKind;

struct ApiCall;

/* The owner of one request in flight (lives in TopMemoryContext). */
typedef struct Pending
{
	RequestKind kind;
	Oid			extension_oid;	/* the agentphone.calls it belongs to */
	int64		id;				/* agentphone.calls.id, 0 for REQ_LIST */
	int			attempt;		/* REQ_CREATE: 1 for the first try */
	uint32		key_hash;		/* REQ_CREATE: of the key it was sent with */
	int			offset;			/* REQ_LIST, REQ_AGENTS: offset of the page */
	char		api_id[129];	/* REQ_GET, REQ_*TRANSCRIPT: the API's id */
	struct ApiCall *ended;		/* REQ_*TRANSCRIPT: the ended call, stored
								 * with its transcript (one chunk), or NULL */
} Pending;

/* When a periodic piece of work (a poll or reconcile cycle) runs next. */
typedef struct Cycle
{
	bool		active;			/* a cycle is in progress */
	bool		wanted;			/* there may be work for one */
	TimestampTz next_at;		/* not before this */
} Cycle;

extern bool cycle_due(const Cycle *c, TimestampTz now);
extern long cycle_wait_ms(const Cycle *c, TimestampTz now);
extern void cycle_interval_reloaded(Cycle *c, int interval_ms);
extern Pending *pending_new(RequestKind kind, Oid extension_oid, int64 id,
							const char *api_id);
extern void pending_free(Pending *p);
extern char *api_url(const char *fmt,...) pg_attribute_printf(1, 2);
struct HttpRequest;
extern const char *answer_problem(struct HttpRequest *req);

#endif							/* AGENTPHONE_PENDING_H */
