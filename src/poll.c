/*-------------------------------------------------------------------------
 *
 * poll.c
 *		Following placed calls until they end, and storing their
 *		transcripts.
 *
 * A poll cycle runs every agentphone.poll_interval while calls are live
 * (placed, not yet ended with a stored transcript).  It is frugal with
 * the API:
 *
 *	1. poll_load() reads the live calls in a short transaction;
 *	2. poll_start() asks List Calls for the in-progress calls, 100 a page
 *	   (GET /calls?status=in-progress&limit=100&offset=N), following
 *	   hasMore;
 *	3. on_list() compares: a live call the list still shows
 *	   in-progress has not changed and costs nothing (its transcript
 *	   snippet is updated only if it changed); a call missing from the list
 *	   has changed and is looked up alone (GET /calls/{id}); so is a call
 *	   in progress for longer than agentphone.max_call_duration, with a
 *	   per-call backoff, and it is flagged in last_error;
 *	4. record_lookup() stores each lookup in the worker's record
 *	   transaction, through callstore.c (no UPDATE when nothing changed);
 *	   once a call has ended, its transcript is fetched
 *	   (GET /calls/{id}/transcript, any documented
 *	   shape, falling back to the "transcripts" of Get Call) and stored in
 *	   one subtransaction with the call's end and the mark
 *	   transcript_complete, which one UPDATE sets, so a crash mid-way
 *	   leaves nothing half written and the retry stores it once.  When
 *	   neither endpoint gives the transcript, the end is stored alone.
 *
 * With 300 live calls a quiet cycle costs 3 requests.  When no call is
 * live the worker stops polling, and starts again when it places one.
 * HTTP answers are handled outside transactions, except for the writes of
 * step 4, which happen in the worker's record transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "calls.h"
#include "callstore.h"
#include "guc.h"
#include "poll.h"
#include "request.h"
#include "secret.h"
#include "task.h"
#include "xact.h"

#define MAX_API_PAGE_LIMITS 100		/* 10,000 live calls per cycle */
#define MAX_LOOKUP_BACKOFF_MS (3600 * 1000)

/* What a poll request asks. */
typedef enum PollAsk
{
	POLL_LIST_ACTIVE,			/* GET /calls?status=in-progress, a page */
	POLL_GET_CALL,				/* GET /calls/{id} of a call that changed */
	POLL_GET_TRANSCRIPT,		/* GET /calls/{id}/transcript */
	POLL_GET_CALL_TRANSCRIPT	/* GET /calls/{id}, for the transcript in it */
} PollAsk;

/* A poll request: the owner record's header, then what it asks. */
typedef struct PollRequest
{
	ApiRequest	hdr;
	PollAsk		ask;
	int			offset;			/* a list's page: its offset */
	char		api_id[129];	/* a lookup's call, by the API's id */
	ApiCall    *ended;			/* a transcript's ended call, stored with its
								 * transcript (one chunk), or NULL */
} PollRequest;

/* A call being followed, as of poll_load(). */
typedef struct LiveCall
{
	int64		id;
	char	   *api_id;
	char	   *status;
	char	   *snippet;
	bool		ended;			/* ended; only its transcript is missing */
	bool		due;			/* no backoff pending */
	bool		overdue;		/* in progress past max_call_duration */
} LiveCall;

static List *live = NIL;		/* LiveCall */
static List *listed = NIL;		/* char *: API ids listed in progress */
static List *snippets = NIL;	/* SnippetUpdate */
static List *followups = NIL;	/* PollRequest, to start when slots free */
static Cycle poll_cycle = CYCLE_INIT("agentphone poll cycle");	/* wanted: false once none is live */
static Oid	cycle_extension = InvalidOid;

static SPIPlanPtr load_plan = NULL;

/*
 * poll_note_placed tells the poller that a call was placed, so there is
 * something to follow.
 */
void
poll_note_placed(void)
{
	poll_cycle.wanted = true;
}

/*
 * poll_reset forgets the current cycle, after the extension was dropped or
 * created again.  Answers still in flight for it are discarded by the
 * worker, since they belong to another incarnation of the extension.
 */
static void
poll_reset(void)
{
	ListCell   *lc;

	foreach(lc, followups)
		request_free(&((PollRequest *) lfirst(lc))->hdr);
	cycle_forget(&poll_cycle);
	live = listed = snippets = followups = NIL;
}

/*
 * poll_postpone puts the next cycle off by one poll interval (after a
 * cycle could not even start).
 */
static void
poll_postpone(void)
{
	cycle_postpone(&poll_cycle, agentphone_poll_interval_ms);
}

/*
 * poll_load reads the calls to follow.  Runs inside a transaction.
 */
static bool
poll_load(void)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(agentphone_max_call_duration_s)};
	MemoryContext old;

	cycle_fresh_memory(&poll_cycle);
	live = listed = snippets = followups = NIL;
	agentphone_saved_plan(&load_plan,
						  "SELECT id, api_call_id, status, last_transcript_snippet,"
						  " ended_at IS NOT NULL,"
						  " coalesce(next_poll_at <= now(), true),"
						  " started_at < now() - $1 * interval '1 second'"
						  " FROM agentphone.calls"
						  " WHERE api_call_id IS NOT NULL AND NOT transcript_complete"
						  " AND status NOT IN (" SQL_STATUS(CALL_QUEUED) ", " SQL_STATUS(CALL_DISPATCHING) ", " SQL_STATUS(CALL_ERROR) ", " SQL_STATUS(CALL_UNKNOWN) ")"
						  " AND status <> " SQL_STATUS(CALL_RECONCILING)	/* the reconciler's */
						  " ORDER BY id",
						  1, argtypes);
	if (SPI_execute_plan(load_plan, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the live calls");

	old = MemoryContextSwitchTo(cycle_memory(&poll_cycle));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	row = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		LiveCall   *c = palloc0(sizeof(LiveCall));
		bool		isnull;

		c->id = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
		c->api_id = SPI_getvalue(row, desc, 2);
		c->status = SPI_getvalue(row, desc, 3);
		c->snippet = SPI_getvalue(row, desc, 4);
		c->ended = DatumGetBool(SPI_getbinval(row, desc, 5, &isnull)) ||
			callstatus_phase(c->status) == PHASE_ENDED;
		c->due = DatumGetBool(SPI_getbinval(row, desc, 6, &isnull));
		c->overdue = DatumGetBool(SPI_getbinval(row, desc, 7, &isnull)) && !isnull;
		live = lappend(live, c);
	}
	MemoryContextSwitchTo(old);
	return true;				/* poll_start() ends a cycle with none */
}

/*
 * keep_ended copies what the store of an ended call uses into one chunk
 * of TopMemoryContext, to be stored with the call's transcript.
 */
static ApiCall *
keep_ended(const ApiCall *a)
{
	const char *const from[4] = {a->status, a->ended_at, a->recording_url, a->snippet};
	size_t		size = sizeof(ApiCall);
	ApiCall    *c;
	char	   *next;
	char	  **to[4];

	for (int i = 0; i < 4; i++)
		size += from[i] ? strlen(from[i]) + 1 : 0;
	c = MemoryContextAllocZero(TopMemoryContext, size);
	c->duration_seconds = a->duration_seconds;
	c->recording_available = a->recording_available;
	to[0] = &c->status, to[1] = &c->ended_at, to[2] = &c->recording_url, to[3] = &c->snippet;
	next = (char *) (c + 1);
	for (int i = 0; i < 4; i++)
		if (from[i])
		{
			*to[i] = strcpy(next, from[i]);
			next += strlen(from[i]) + 1;
		}
	return c;
}

static void on_list(HttpRequest *req);
static void record_lookup(HttpRequest *req, RecordResult *result);
static void release_request(ApiRequest *r);

/* A List Calls page is handled in memory; a lookup is recorded. */
static const RequestHandler list_handler = {on_list, NULL, NULL};
static const RequestHandler lookup_handler = {NULL, record_lookup, release_request};

/*
 * new_request makes the owner record of a poll request that asks ask.
 */
static PollRequest *
new_request(PollAsk ask, Oid extension_oid, int64 id, const char *api_id)
{
	PollRequest *p = (PollRequest *)
		request_new(sizeof(PollRequest),
					ask == POLL_LIST_ACTIVE ? &list_handler : &lookup_handler,
					extension_oid, id);

	p->ask = ask;
	if (api_id)
		strlcpy(p->api_id, api_id, sizeof(p->api_id));
	return p;
}

/*
 * release_request frees the ended call a lookup carries.
 */
static void
release_request(ApiRequest *r)
{
	PollRequest *p = (PollRequest *) r;

	if (p->ended)
		pfree(p->ended);
}

/*
 * queue_followup queues a request about one call, carrying a copy of
 * ended (or NULL) to store with its transcript; it starts when a slot is
 * free (start_followups).  False when the call's API id cannot be used.
 */
static bool
queue_followup(PollAsk ask, int64 id, const char *api_id, const ApiCall *ended)
{
	MemoryContext old;
	PollRequest *p;

	if (!api_id_is_safe(api_id))
		return false;
	old = MemoryContextSwitchTo(cycle_memory(&poll_cycle));
	p = new_request(ask, cycle_extension, id, api_id);
	p->ended = ended ? keep_ended(ended) : NULL;
	followups = lappend(followups, p);
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * start_request starts the GET that p stands for.
 */
static void
start_request(PollRequest *p)
{
	char	   *url;

	switch (p->ask)
	{
		case POLL_LIST_ACTIVE:
			url = api_url("/calls?status=in-progress&limit=%d&offset=%d", API_PAGE_LIMIT, p->offset);
			break;
		case POLL_GET_TRANSCRIPT:
			url = api_url("/calls/%s/transcript", p->api_id);
			break;
		default:
			url = api_url("/calls/%s", p->api_id);
			break;
	}
	request_start(&p->hdr, url, agentphone_api_key_value(), NULL);
	cycle_request_started(&poll_cycle);
	pfree(url);
}

/*
 * start_followups starts queued requests while in-flight slots are free.
 */
static void
start_followups(void)
{
	while (followups != NIL && http_in_flight() < agentphone_max_in_flight)
	{
		start_request(linitial(followups));
		followups = list_delete_first(followups);
	}
}

/*
 * end_cycle_if_done closes the cycle once nothing of it is left.
 */
static void
end_cycle_if_done(void)
{
	if (!poll_cycle.active || poll_cycle.outstanding > 0 || followups != NIL || snippets != NIL)
		return;
	poll_cycle.active = false;
	poll_postpone();
}

/*
 * poll_start begins a cycle over the calls poll_load() found: one List
 * Calls page for the calls in progress, a transcript fetch for each ended
 * call still missing one.  No live call: polling stops until a call is
 * placed.  Runs outside any transaction.
 */
static void
poll_start(Oid extension_oid)
{
	ListCell   *lc;
	bool		need_list = false;

	cycle_extension = extension_oid;
	if (live == NIL)
	{
		poll_cycle.wanted = false;
		return;
	}
	poll_cycle.active = true;
	foreach(lc, live)
	{
		LiveCall   *c = lfirst(lc);

		if (!c->ended)
			need_list = true;
		else if (c->due)
			queue_followup(POLL_GET_TRANSCRIPT, c->id, c->api_id, NULL);
	}
	if (need_list)
		start_request(new_request(POLL_LIST_ACTIVE, extension_oid, 0, NULL));
	start_followups();
	end_cycle_if_done();
}

/*
 * listed_cmp orders listed calls by API id.
 */
static int
listed_cmp(const void *a, const void *b)
{
	return strcmp((*(ApiCall *const *) a)->id, (*(ApiCall *const *) b)->id);
}

/*
 * listed_key_cmp compares an API id (the key) with a listed call.
 */
static int
listed_key_cmp(const void *key, const void *elem)
{
	return strcmp((const char *) key, (*(ApiCall *const *) elem)->id);
}

/*
 * note_snippet queues the store of a changed transcript snippet.
 */
static void
note_snippet(LiveCall *c, const char *snippet)
{
	SnippetUpdate *u;

	if (snippet == NULL || (c->snippet != NULL && strcmp(c->snippet, snippet) == 0))
		return;
	u = palloc(sizeof(SnippetUpdate));
	u->id = c->id;
	u->snippet = pstrdup(snippet);
	snippets = lappend(snippets, u);
}

/*
 * compare_with_list decides, once every page is in, which live calls need
 * a lookup: those the list no longer shows in progress, and those overdue
 * whose backoff has passed.  A listed call whose snippet changed gets it
 * stored; an unchanged one costs nothing.
 */
static void
compare_with_list(void)
{
	int			n = list_length(listed);
	ApiCall   **sorted = palloc(sizeof(ApiCall *) * Max(n, 1));
	ListCell   *lc;
	int			i = 0;

	foreach(lc, listed)
		sorted[i++] = lfirst(lc);
	qsort(sorted, n, sizeof(ApiCall *), listed_cmp);

	foreach(lc, live)
	{
		LiveCall   *c = lfirst(lc);
		ApiCall   **hit;

		if (c->ended)
			continue;
		hit = bsearch(c->api_id, sorted, n, sizeof(ApiCall *), listed_key_cmp);
		if (hit == NULL || strcmp(c->status, CALL_IN_PROGRESS) != 0 || (c->overdue && c->due))
			queue_followup(POLL_GET_CALL, c->id, c->api_id, NULL);
		else
			note_snippet(c, (*hit)->snippet);
	}
	pfree(sorted);
}

/*
 * on_list handles one List Calls page: the next page is requested
 * while hasMore says so; after the last, the calls are compared.  A failed
 * page ends the listing: the cycle goes on with what it has and the next
 * cycle tries again.  Runs outside any transaction.
 */
static void
on_list(HttpRequest *req)
{
	PollRequest *p = (PollRequest *) req->owner;
	MemoryContext old = MemoryContextSwitchTo(cycle_memory(&poll_cycle));
	List	   *page = NIL;
	bool		has_more = false;
	const char *problem = NULL;

	cycle_request_finished(&poll_cycle);
	if ((problem = answer_problem(req)) == NULL)
		problem = api_decode_list(req->body, &page, &has_more);

	if (problem != NULL)
		ereport(LOG,
				(errmsg("agentphone: could not list the calls in progress: %s", problem),
				 errdetail("Their status will be checked again in the next poll cycle.")));
	else
	{
		listed = list_concat(listed, page);
		if (has_more && p->offset / API_PAGE_LIMIT + 1 < MAX_API_PAGE_LIMITS)
		{
			PollRequest *next = new_request(POLL_LIST_ACTIVE, p->hdr.extension_oid, 0, NULL);

			next->offset = p->offset + API_PAGE_LIMIT;
			start_request(next);
		}
		else
			compare_with_list();
	}
	MemoryContextSwitchTo(old);
	start_followups();
	end_cycle_if_done();
}

/*
 * is_ended says whether an API call is over: it has an end time, or a
 * status that only ended calls have.
 */
static bool
is_ended(const ApiCall *a)
{
	return a->ended_at != NULL || api_status_is_final(a->status);
}

/*
 * on_call handles Get Call: store what changed; an ended call gets its
 * transcript fetched, and its end is stored with it (one UPDATE, not two);
 * a call still in progress past max_call_duration is flagged and looked up
 * again later with a growing backoff.
 */
static void
on_call(HttpRequest *req, PollRequest *p)
{
	ApiCall		a;
	const char *problem = answer_problem(req);
	CallUpdate	u = {p->hdr.id, &a, NULL, NULL, -1, false};

	if (problem == NULL)
		problem = api_decode_call(req->body, &a);
	if (problem != NULL && req->status == 404)
	{
		/* the API does not know the call (any more): stop following it */
		memset(&a, 0, sizeof(a));
		a.duration_seconds = a.recording_available = -1;
		u.status = CALL_UNKNOWN;
		u.flag = psprintf("the API no longer knows this call (%s); it is not followed any more", problem);
		callstore_run(callstore_update, &u, p->hdr.id);
		return;
	}
	if (problem != NULL)
	{
		Backoff		b = {p->hdr.id, psprintf("could not look up the call: %s", problem)};

		callstore_run(callstore_backoff, &b, p->hdr.id);
		return;
	}
	if (is_ended(&a))
	{
		if (queue_followup(POLL_GET_TRANSCRIPT, p->hdr.id, p->api_id, &a))
			return;
	}
	else if (a.started_at != NULL)
	{
		/* still live: flag it when it is overdue */
		Datum		started = DirectFunctionCall3(timestamptz_in, CStringGetDatum(a.started_at),
												  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));

		if (TimestampDifferenceExceeds(DatumGetTimestampTz(started), GetCurrentTimestamp(),
									   agentphone_max_call_duration_s * 1000))
		{
			u.flag = psprintf("still %s after more than %d seconds; looked up on its own",
							  a.status ? a.status : "live", agentphone_max_call_duration_s);
			u.backoff_ms = Min(MAX_LOOKUP_BACKOFF_MS, 2 * agentphone_poll_interval_ms);
		}
	}
	callstore_run(callstore_update, &u, p->hdr.id);
}

/*
 * on_transcript handles Get Transcript (and, as a fallback, the
 * transcripts of Get Call).
 */
static void
on_transcript(HttpRequest *req, PollRequest *p)
{
	TranscriptWrite w = {p->hdr.id, NIL, p->ended};
	const char *problem = answer_problem(req);
	ApiCall		a;

	if (problem == NULL)
	{
		if (p->ask == POLL_GET_TRANSCRIPT)
			problem = api_decode_transcript(req->body, &w.turns);
		else if ((problem = api_decode_call(req->body, &a)) == NULL)
		{
			w.turns = a.turns;
			w.call = &a;
		}
	}
	if (problem == NULL)
		callstore_run(callstore_transcript, &w, p->hdr.id);
	else if (p->ask != POLL_GET_TRANSCRIPT ||
			 !queue_followup(POLL_GET_CALL_TRANSCRIPT, p->hdr.id, p->api_id, p->ended))
	{
		Backoff		b = {p->hdr.id, psprintf("could not fetch the transcript: %s", problem)};

		if (p->ended)
		{
			CallUpdate	u = {p->hdr.id, p->ended, NULL, NULL, -1, false};

			callstore_run(callstore_update, &u, p->hdr.id);
		}
		callstore_run(callstore_backoff, &b, p->hdr.id);
	}
}

/*
 * record_lookup stores the answer to one lookup (which neither retries
 * nor requeues a call).  Runs inside the worker's record transaction.
 */
static void
record_lookup(HttpRequest *req, RecordResult *result pg_attribute_unused())
{
	PollRequest *p = (PollRequest *) req->owner;

	cycle_request_finished(&poll_cycle);
	if (p->ask == POLL_GET_CALL)
		on_call(req, p);
	else
		on_transcript(req, p);
}

/*
 * poll_record_snippets stores the snippets that changed.  Runs inside the
 * worker's record transaction.
 */
static void
poll_record_snippets(void)
{
	ListCell   *lc;

	foreach(lc, snippets)
	{
		SnippetUpdate *u = lfirst(lc);

		callstore_run(callstore_snippet, u, u->id);
	}
	snippets = NIL;
}

/*
 * poll_pending_writes says whether poll_record_snippets has work.
 */
static bool
poll_pending_writes(void)
{
	return snippets != NIL;
}

/*
 * poll_after_record starts the requests the recorded answers called for,
 * and ends the cycle when nothing is left.  Runs outside any transaction.
 */
static void
poll_after_record(void)
{
	start_followups();
	end_cycle_if_done();
}

static int
poll_interval_ms(void)
{
	return agentphone_poll_interval_ms;
}

/* Following the live calls, as a task of the worker (task.h). */
const WorkerTask agentphone_poll_task = {
	.activity = "agentphone: reading live calls",
	.cycle = &poll_cycle,
	.interval_ms = poll_interval_ms,
	.load = poll_load,
	.start = poll_start,
	.pending = poll_pending_writes,
	.record = poll_record_snippets,
	.after_record = poll_after_record,
	.reset = poll_reset,
};
