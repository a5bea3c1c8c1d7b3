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
#include "lib/stringinfo.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

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
