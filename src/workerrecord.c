/*-------------------------------------------------------------------------
 *
 * workerrecord.c
 *		Handing every finished request of the worker to the handler its
 *		owner record names (request.h): pages of a list in memory at once,
 *		every other answer, and what the periodic tasks have left to write,
 *		in one short record transaction.
 *
 * Answers for calls of another incarnation of the extension (dropped,
 * perhaps created again, while they were in flight) are discarded.  When
 * the record transaction fails, the calls whose POST it did not record are
 * handed to reconciliation in the worker's next transaction
 * (callanswer.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "callanswer.h"
#include "http.h"
#include "request.h"
#include "task.h"
#include "workerdb.h"
#include "workerrecord.h"
#include "xact.h"

typedef struct RecordArgs
{
	List	   *done;			/* HttpRequest, answers to record */
	RecordResult result;
} RecordArgs;

/*
 * record_answers hands each answer of a's list to its handler, to be
 * stored.  Answers for calls of another incarnation of the extension
 * (dropped, perhaps created again, while they were in flight) are
 * discarded: their ids name other calls, or none.
 */
static void
record_answers(RecordArgs *a)
{
	ListCell   *lc;
	int			stale = 0;

	foreach(lc, a->done)
	{
		HttpRequest *req = lfirst(lc);
		ApiRequest *r = (ApiRequest *) req->owner;

		if (!workerdb_ready() || r->extension_oid != workerdb_extension_oid())
			stale++;
		else
			r->handler->record(req, &a->result);
	}
	if (stale > 0)
		ereport(LOG,
				(errmsg_plural("agentphone: %d API answer arrived after DROP EXTENSION agentphone and was discarded",
							   "agentphone: %d API answers arrived after DROP EXTENSION agentphone and were discarded",
							   stale, stale)));
}

/*
 * record_step is the record transaction's body.
 */
static void
record_step(void *arg)
{
	workerdb_check();
	record_answers((RecordArgs *) arg);
	if (workerdb_ready())
		task_record_all();
}

/*
 * answers_to_record takes every finished request: those handled in memory
 * are handled at once, and the others returned, to be recorded.
 */
static List *
answers_to_record(void)
{
	List	   *done = NIL;
	HttpRequest *req;

	while ((req = http_next_done()) != NULL)
	{
		ApiRequest *r = (ApiRequest *) req->owner;

		if (r->handler->record != NULL)
			done = lappend(done, req);
		else
		{
			/* those of a dropped extension are dropped */
			if (r->extension_oid == workerdb_extension_oid())
				r->handler->on_answer(req);
			request_finish(req);
		}
	}
	return done;
}

/*
 * workerrecord_finished hands every finished request to its handler: those
 * handled in memory at once, the others in one record transaction.  It
 * returns whether there were such answers, and in *result what recording
 * them found.
 */
bool
workerrecord_finished(RecordResult *result)
{
	RecordArgs	a = {answers_to_record(), {-1, false}};
	ListCell   *lc;

	if (a.done != NIL || task_any_pending())
	{
		if (!run_in_transaction("agentphone: recording API answers", record_step, &a))
		{
			ereport(WARNING,
					(errmsg_plural("agentphone: %d API answer could not be recorded",
								   "agentphone: %d API answers could not be recorded",
								   list_length(a.done), list_length(a.done)),
					 errdetail("The calls they placed are reconciled with the API once the worker can write again; polled calls are looked at again.")));
			callanswer_note_unrecorded(a.done, workerdb_extension_oid());
		}
	}
	foreach(lc, a.done)
		request_finish(lfirst(lc));
	task_after_record_all();
	*result = a.result;
	return a.done != NIL;
}
