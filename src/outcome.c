/*-------------------------------------------------------------------------
 *
 * outcome.c
 *		What the answer to a call's POST means for the call: placed, retried,
 *		queued again without counting an attempt, an error, or unknown
 *		(then reconciled).  It decides; callanswer.c stores.
 *
 * How an answer is classified:
 *	 2xx with a call id				placed: its id, its state for the API's status
 *	 2xx without a readable id		reconciling (the call may exist)
 *	 429, 502, 503, 504				queued again, the attempt not counted: the
 *									API could not take the call (outage.c);
 *									past agentphone.retry_horizon since the
 *									call was due, error
 *	 408, 409, other 5xx			retry after Retry-After or backoff
 *	 401							queued again, the attempt not counted: the
 *									account's key is refused, and the worker
 *									places nothing until the key changes
 *									(403 is a refused destination: an error)
 *	 other statuses					error, with the API's message
 *	 no connection, nothing sent	queued again, the attempt not counted, never
 *									an error (outage.c)
 *	 failure after sending			reconciling (a retry could dial twice)
 * Counted retries stop after agentphone.max_attempts: the call becomes
 * "error".
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/pg_prng.h"

#include "backoff.h"
#include "guc.h"
#include "outage.h"
#include "outcome.h"
#include "request.h"
#include "secret.h"

/* Longest backoff between two attempts. */
#define MAX_BACKOFF_MS (5 * 60 * 1000)

/*
 * backoff_ms returns the delay before attempt n+1 after n failed ones:
 * retry_delay doubled per attempt, capped, with the upper half jittered so
 * that many calls failing together do not retry together.
 */
static int
backoff_ms(int attempt)
{
	int64		d = doubled_ms(agentphone_retry_delay_ms, attempt, MAX_BACKOFF_MS);

	return (int) (d / 2 + (int64) (pg_prng_double(&pg_global_prng_state) * (d / 2)));
}

/*
 * retry_or_give_up turns a retryable failure into a retry, or into an error
 * once max_attempts is reached.
 */
static void
retry_or_give_up(Outcome *o, int attempt, const char *why, int retry_after_ms)
{
	if (attempt >= agentphone_max_attempts)
	{
		o->kind = OUTCOME_ERROR;
		o->message = psprintf("gave up after %d attempts; last failure: %s", attempt, why);
		return;
	}
	o->kind = OUTCOME_RETRY;
	o->delay_ms = retry_after_ms >= 0 ? retry_after_ms : backoff_ms(attempt);
	o->message = psprintf("attempt %d of %d failed (%s); retrying", attempt,
						  agentphone_max_attempts, why);
}

/*
 * unavailable is a request that placed no call because the API could not
 * take it (why): the call is queued again, the attempt not counted, and
 * the worker goes into (or stays in) an outage (outage.c).
 */
static void
unavailable(Outcome *o, const char *why, int retry_after_ms)
{
	o->kind = OUTCOME_UNAVAILABLE;
	o->delay_ms = outage_note_failure(why, retry_after_ms);
	o->message = psprintf("waiting for the AgentPhone API: %s; no call was placed and no attempt counted, tried again in %d s",
						  why, (o->delay_ms + 999) / 1000);
}

/*
 * unavailable_or_give_up is unavailable() for an answer of the API's
 * (429, 502, 503, 504), until the API has answered so, with no other
 * answer in between, for longer than agentphone.retry_horizon: then the
 * call is an error.
 */
static void
unavailable_or_give_up(Outcome *o, const char *why, int retry_after_ms)
{
	int64		lasted_ms = outage_lasted_ms();

	if (lasted_ms >= (int64) agentphone_retry_horizon_s * 1000)
	{
		o->kind = OUTCOME_ERROR;
		o->message = psprintf("gave up: the API could not take calls for %lld s (agentphone.retry_horizon); last answer: %s",
							  (long long) (lasted_ms / 1000), why);
		return;
	}
	unavailable(o, why, retry_after_ms);
}

/*
 * outcome_takes_no_call says whether an HTTP status says that the API
 * could not take a call now, and placed none: 429, 502, 503, 504.
 */
bool
outcome_takes_no_call(long st)
{
	return st == 429 || st == 502 || st == 503 || st == 504;
}

/*
 * classify_answer classifies a request that got an HTTP answer.
 */
static void
classify_answer(Outcome *o, HttpRequest *req, int attempt)
{
	long		st = req->status;

	if (st >= 200 && st < 300)
	{
		const char *problem = req->too_large ? "the answer was too large"
			: api_decode_call(req->body, &o->call);

		o->kind = problem ? OUTCOME_UNKNOWN : OUTCOME_PLACED;
		if (problem)
			o->message = psprintf("the API accepted the request (HTTP %ld) but %s;"
								  " asking the API whether it was placed",
								  st, problem);
	}
	else if (outcome_takes_no_call(st))
		unavailable_or_give_up(o, api_said(req), req->retry_after_ms);
	else if (st == 408 || st == 409 || (st >= 500 && st < 600))
		retry_or_give_up(o, attempt, api_said(req), req->retry_after_ms);
	else if (st == 401)
	{
		o->kind = OUTCOME_KEY_REFUSED;
		o->message = psprintf("not placed: %s; the call stays queued until the key in %s changes",
							  api_said(req), agentphone_key_source());
	}
	else
	{
		o->kind = OUTCOME_ERROR;
		o->message = api_said(req);
	}
}

/*
 * outcome_of_answer decides what a finished request means for its call, id.
 */
Outcome
outcome_of_answer(HttpRequest *req, int64 id, int attempt)
{
	Outcome		o;

	memset(&o, 0, sizeof(o));
	o.id = id;
	if (req->status > 0 && (req->result == CURLE_OK || req->too_large))
		classify_answer(&o, req, attempt);
	else if (!req->sent)
		unavailable(&o, psprintf("could not reach the AgentPhone API: %s",
								 http_failure_text(req)), -1);
	else
	{
		o.kind = OUTCOME_UNKNOWN;
		o.message = psprintf("the request was sent but no answer arrived (%s);"
							 " asking the API whether it was placed",
							 http_failure_text(req));
	}
	return o;
}
