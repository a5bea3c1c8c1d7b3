/*-------------------------------------------------------------------------
 *
 * pending.c
 *		Helpers shared by the worker's dispatch (dispatch.c) and poll
 *		(poll.c, reconcile.c) steps: the owner record of a request in
 *		flight, the timing of periodic cycles, API URLs, and running one
 *		call's update in its own subtransaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "api.h"
#include "guc.h"
#include "http.h"
#include "pending.h"

/*
 * pending_new allocates the owner record of a request.  It lives until the
 * request's answer has been handled (http_free() does not free it).
 */
Pending *
pending_new(RequestKind kind, Oid extension_oid, int64 id, const char *api_id)
{
	Pending    *p = MemoryContextAllocZero(TopMemoryContext, sizeof(Pending));

	p->kind = kind;
	p->extension_oid = extension_oid;
	p->id = id;
	if (api_id)
		strlcpy(p->api_id, api_id, sizeof(p->api_id));
	return p;
}

/*
 * pending_free frees the owner record of a handled request.
 */
void
pending_free(Pending *p)
{
	if (p->ended)
		pfree(p->ended);
	pfree(p);
}

/*
 * cycle_due says whether a new cycle should start now.
 */
bool
cycle_due(const Cycle *c, TimestampTz now)
{
	return !c->active && c->wanted && now >= c->next_at;
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
 * api_url returns agentphone.api_url (without trailing slashes) followed
 * by the formatted path.
 */
char *
api_url(const char *fmt,...)
{
	StringInfoData buf;
	const char *base = agentphone_api_url;
	int			len = strlen(base);
	va_list		args;
	int			needed;

	while (len > 0 && base[len - 1] == '/')
		len--;
	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, base, len);
	for (;;)
	{
		va_start(args, fmt);
		needed = appendStringInfoVA(&buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	return buf.data;
}

/*
 * answer_problem returns why a request got no usable 200 answer (the API's
 * words, or the transfer's failure), or NULL for a 200.
 */
const char *
answer_problem(HttpRequest *req)
{
	if (req->result == CURLE_OK && req->status == 200)
		return NULL;
	return req->status ? api_error_text(req->status, req->body) : http_failure_text(req);
}
