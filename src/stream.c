/*-------------------------------------------------------------------------
 *
 * stream.c
 *		agentphone_stream_transcript(): a live call's turns as they are
 *		spoken, one row each, read from the API's event stream (SSE) by the
 *		calling backend (client.c).  A stream is closed when its
 *		(sub)transaction ends, however it ends.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "api.h"
#include "client.h"
#include "grants.h"
#include "request.h"
#include "secret.h"
#include "validate.h"

PG_FUNCTION_INFO_V1(agentphone_stream_transcript);

/* Where agentphone_stream_transcript() is in its stream. */
typedef struct TranscriptStream
{
	HttpRequest *req;			/* NULL once dropped */
	size_t		pos;			/* of the next event in req->body */
	int			seq;			/* of the last turn returned */
	TimestampTz deadline;
	bool		over;			/* the closing row was returned */
	ExprContext *econtext;		/* where end_stream() is registered */
} TranscriptStream;

/*
 * The streams open in this session, each with the subtransaction that
 * opened it (in TopMemoryContext): a query that stops between two rows
 * and then fails runs no cleanup of its own, so the end of a
 * (sub)transaction drops what it left open.
 */
typedef struct OpenStream
{
	HttpRequest *req;
	SubTransactionId subid;
} OpenStream;

static List *open_streams = NIL;

/*
 * forget_stream takes req off the open streams; drop_stream also aborts it.
 */
static void
forget_stream(HttpRequest *req)
{
	ListCell   *lc;

	foreach(lc, open_streams)
	{
		OpenStream *o = lfirst(lc);

		if (o->req == req)
		{
			open_streams = foreach_delete_current(open_streams, lc);
			pfree(o);
			break;
		}
	}
}

static void
drop_stream(HttpRequest *req)
{
	forget_stream(req);
	http_abort(req);
}

/*
 * drop_streams_of aborts the streams opened in subtransaction subid (any,
 * for InvalidSubTransactionId).
 */
static void
drop_streams_of(SubTransactionId subid)
{
	ListCell   *lc;

	foreach(lc, open_streams)
	{
		OpenStream *o = lfirst(lc);

		if (subid == InvalidSubTransactionId || o->subid == subid)
		{
			http_abort(o->req);
			open_streams = foreach_delete_current(open_streams, lc);
			pfree(o);
		}
	}
}

static void
streams_xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		drop_streams_of(InvalidSubTransactionId);
}

static void
streams_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	(void) parentSubid;
	(void) arg;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		drop_streams_of(mySubid);
}

/*
 * remember_stream notes req as an open stream of the current
 * subtransaction.
 */
static void
remember_stream(HttpRequest *req)
{
	static bool registered = false;
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	OpenStream *o = palloc(sizeof(OpenStream));

	if (!registered)
	{
		RegisterXactCallback(streams_xact_callback, NULL);
		RegisterSubXactCallback(streams_subxact_callback, NULL);
		registered = true;
	}
	o->req = req;
	o->subid = GetCurrentSubTransactionId();
	open_streams = lappend(open_streams, o);
	MemoryContextSwitchTo(old);
}

/*
 * stream_row forms one row: a turn (event "turn"), or, with t NULL, the
 * closing row that says why the stream stopped.
 */
static Datum
stream_row(FuncCallContext *funcctx, int seq, ApiTurn *t, const char *event)
{
	Datum		v[5];
	bool		n[5] = {t == NULL, t == NULL, t == NULL, true, false};

	if (t != NULL)
	{
		v[0] = Int32GetDatum(seq);
		v[1] = CStringGetTextDatum(t->role);
		v[2] = CStringGetTextDatum(t->content);
		v[3] = client_time_datum(t->created_at, &n[3]);
	}
	v[4] = CStringGetTextDatum(event);
	return HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc, v, n));
}

/*
 * next_stream_event waits for the next turn of the stream, returned in
 * *turn, or for its end: the call ended ("ended"), the server closed the
 * stream ("closed") or the deadline passed ("timeout"), returned.  A
 * transfer that failed (reset, too large) is an error.
 */
static const char *
next_stream_event(TranscriptStream *st, ApiTurn **turn)
{
	HttpRequest *req = st->req;

	*turn = NULL;
	for (;;)
	{
		char	   *event;
		char	   *data;
		long		left;

		while (req->body && api_sse_next(req->body, req->body_len, &st->pos, &event, &data))
		{
			if (strcmp(event, "ended") == 0)
				return "ended";
			if (strcmp(event, "turn") == 0 && (*turn = api_decode_turn(data)) != NULL)
				return NULL;
		}
		if (http_is_done(req) && (req->result != CURLE_OK || req->too_large))
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("the transcript stream broke off: %s", http_failure_text(req)),
					 errhint("Call agentphone_stream_transcript() again: a stream replays the turns so far.")));
		if (http_is_done(req))
			return "closed";	/* the server closed the stream */
		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), st->deadline);
		if (left <= 0)
			return "timeout";
		http_wait(Min(left, 1000));
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * open_stream starts the transcript stream of call id and waits for its
 * status line, so that a 404 is an error before any row.
 */
static HttpRequest *
open_stream(const char *id, int64 timeout_ms)
{
	HttpOptions opt;
	HttpRequest *req;

	client_begin();
	opt = request_options(agentphone_api_key_value(), NULL);
	opt.timeout_ms = timeout_ms + 5000;
	opt.accept = "text/event-stream";
	req = http_start(api_url("/calls/%s/transcript/stream", id), NULL, &opt, NULL);
	req->max_bytes = MAX_JSON_BYTES;
	remember_stream(req);
	while (!http_is_done(req) && http_status_so_far(req) == 0)
	{
		http_wait(100);
		CHECK_FOR_INTERRUPTS();
	}
	if (req->status != 200)
	{
		while (!http_is_done(req))	/* the whole error body */
		{
			http_wait(1000);
			CHECK_FOR_INTERRUPTS();
		}
		forget_stream(req);
		client_fail(http_take_done(req), psprintf("call \"%s\"", id));
	}
	return req;
}

/*
 * end_stream drops the stream when the query stops reading rows early.
 */
static void
end_stream(Datum arg)
{
	TranscriptStream *st = (TranscriptStream *) DatumGetPointer(arg);

	if (st->req != NULL)
		drop_stream(st->req);
	st->req = NULL;
}

/*
 * agentphone_stream_transcript follows a call's live transcript stream
 * (server-sent events) and returns each turn as a row as it arrives
 * (event "turn"), then one closing row whose event says why the stream
 * stopped: "ended" (the call ended), "timeout", or "closed" (the server
 * closed the stream without saying the call ended).  A finished call's
 * stream replays its turns and ends at once.  (With the 4 columns of 1.2,
 * not yet updated, there is no closing row.)
 */
Datum
agentphone_stream_transcript(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	TranscriptStream *st;
	ApiTurn    *turn;
	const char *end;

	agentphone_require_grant(false);
	if (SRF_IS_FIRSTCALL())
	{
		char	   *id = client_reachable_call_id(PG_GETARG_TEXT_PP(0));
		int64		timeout_ms = agentphone_interval_ms(PG_GETARG_INTERVAL_P(1));
		MemoryContext old;
		TupleDesc	desc;

		if (timeout_ms > 24 * 3600 * 1000)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("timeout must not exceed 24 hours"),
					 errhint("Pass a shorter interval, such as '10 minutes', and call it again if needed.")));
		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		funcctx->tuple_desc = BlessTupleDesc(desc);
		st = palloc0(sizeof(TranscriptStream));
		st->req = open_stream(id, timeout_ms);
		st->deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
		funcctx->user_fctx = st;
		st->econtext = ((ReturnSetInfo *) fcinfo->resultinfo)->econtext;
		RegisterExprContextCallback(st->econtext, end_stream, PointerGetDatum(st));
		MemoryContextSwitchTo(old);
	}
	funcctx = SRF_PERCALL_SETUP();
	st = (TranscriptStream *) funcctx->user_fctx;
	if (!st->over && st->req != NULL)
	{
		end = next_stream_event(st, &turn);
		if (end == NULL)
			SRF_RETURN_NEXT(funcctx, stream_row(funcctx, ++st->seq, turn, "turn"));
		st->over = true;
		drop_stream(st->req);
		st->req = NULL;
		if (funcctx->tuple_desc->natts >= 5)
			SRF_RETURN_NEXT(funcctx, stream_row(funcctx, 0, NULL, end));
	}
	/* st goes with the function's memory: end_stream() must not see it */
	UnregisterExprContextCallback(st->econtext, end_stream, PointerGetDatum(st));
	SRF_RETURN_DONE(funcctx);
}

