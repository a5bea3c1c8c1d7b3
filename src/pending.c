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
#include "agentphone.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "api.h"
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
 * api_id_is_safe says whether an API id (a call or number id) can be put
 * in a URL path as it is: 1 to 128 letters, digits, "_", "-" or ".", and
 * not "." or ".." alone.
 */
bool
api_id_is_safe(const char *id)
{
	size_t		len = strlen(id);

	return len > 0 && len <= 128 && strcmp(id, ".") != 0 && strcmp(id, "..") != 0 &&
		strspn(id, "abcdefghijklmnopqrstuvwxyz"
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == len;
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
 * run_in_subtransaction runs fn(arg) in a subtransaction of the current
 * transaction.  It returns NULL on success; on error the subtransaction is
 * rolled back, the error swallowed and its message returned, so one call's
 * bad data cannot undo the work done for the others.
 */
char *
run_in_subtransaction(void (*fn) (void *), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	char	   *volatile failure = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		failure = edata->message;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return failure;
}

/*
 * list_text_array returns one char * field (at offset in each element) of
 * every element of items, in order, as a text[] (NULL elements where the
 * field is NULL): a column for an INSERT ... SELECT FROM unnest().
 */
Datum
list_text_array(List *items, size_t offset)
{
	int			n = list_length(items);
	Datum	   *elems = palloc0(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc0(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	ListCell   *lc;

	foreach(lc, items)
	{
		char	   *field = *(char **) ((char *) lfirst(lc) + offset);
		int			i = foreach_current_index(lc);

		nulls[i] = field == NULL;
		elems[i] = field ? CStringGetTextDatum(field) : (Datum) 0;
	}
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs,
											  TEXTOID, -1, false, TYPALIGN_INT));
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
