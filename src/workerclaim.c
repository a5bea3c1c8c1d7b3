/*-------------------------------------------------------------------------
 *
 * workerclaim.c
 *		The worker's claim: when it is due, how many calls it may take, the
 *		short transaction that claims them, and their sends after it has
 *		committed (dispatch.c).
 *
 * A claim is due when the worker is woken (a COMMIT that queued calls sets
 * its latch), when a retry falls due, when a request finishes after a full
 * claim, or when the safety sweep comes round (agentphone.sweep_interval).
 * Before it claims, the calls whose answer could not be recorded are
 * handed to reconciliation.  No call is claimed while the worker is
 * paused (agentphone.enabled), while the API's URL or key allows no
 * request, while every request is in flight, during an outage (outage.c)
 * but for its probe, or beyond the key's budget for the minute; the calls
 * left waiting then say why in their last_error, once a sweep.  When the
 * calling window's settings change, the next claim first releases the
 * calls held for their window.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "callanswer.h"
#include "dispatch.h"
#include "guc.h"
#include "housekeeping.h"
#include "http.h"
#include "outage.h"
#include "secret.h"
#include "workerclaim.h"
#include "workerdb.h"
#include "workerslot.h"
#include "xact.h"

/* Pause after a failed transaction, so an error cannot become a busy loop. */
#define ERROR_PAUSE_MS 1000

static TimestampTz next_claim_at = 0;	/* claim no later than this */
static bool more_due = false;	/* the last claim may have left due calls */
static bool api_unusable = false;	/* the URL or key allows no request (warned) */
static char *window_rules = NULL;	/* the calling window's settings, as of
									 * the last release */
static bool window_release_due = false;	/* they changed since */

/* when a paused worker next writes why into the due calls' last_error */
static TimestampTz paused_note_due = 0;

typedef struct ClaimArgs
{
	int			max;
	MemoryContext cxt;
	List	   *claimed;
	long		next_due_ms;
} ClaimArgs;

/*
 * claim_step is the claim transaction's body.
 */
static void
claim_step(void *arg)
{
	ClaimArgs  *a = (ClaimArgs *) arg;

	workerdb_check();
	if (!workerdb_ready())
		return;
	if (window_release_due && workerdb_schema_1_3())
		dispatch_release_window_holds();
	a->claimed = dispatch_claim(a->max, a->cxt, &a->next_due_ms);
	housekeeping_run();
}

/*
 * workerclaim_note_window_rules notes whether the calling window's
 * settings differ from those of the last release (at start, they do): the
 * next claim then releases the calls held for their window first.
 */
void
workerclaim_note_window_rules(void)
{
	char	   *rules = psprintf("%s|%s|%s", agentphone_call_window,
								 agentphone_call_days, agentphone_default_timezone);

	if (window_rules == NULL || strcmp(rules, window_rules) != 0)
	{
		if (window_rules != NULL)
			pfree(window_rules);
		window_rules = MemoryContextStrdup(TopMemoryContext, rules);
		window_release_due = true;
		next_claim_at = 0;
	}
	pfree(rules);
}

/*
 * note_waiting_step is the body of the transaction that says in their
 * last_error why due calls are not placed (arg, the whole text).
 */
static void
note_waiting_step(void *arg)
{
	workerdb_check();
	if (workerdb_ready())
		dispatch_note_waiting((const char *) arg);
}

/*
 * note_calls_wait writes why into the last_error of the due calls left
 * waiting, in a transaction of its own.
 */
static void
note_calls_wait(const char *why)
{
	run_in_transaction("agentphone: noting why calls wait", note_waiting_step, (void *) why);
}

/*
 * claim_due_at lowers next_claim_at to now + ms.
 */
static void
claim_due_at(TimestampTz now, long ms)
{
	TimestampTz t = TimestampTzPlusMilliseconds(now, ms);

	if (t < next_claim_at)
		next_claim_at = t;
}

/*
 * reconcile_unrecorded_step is the body of the transaction that hands the
 * calls whose answer was not recorded to reconciliation.
 */
static void
reconcile_unrecorded_step(void *arg)
{
	(void) arg;
	workerdb_check();
	callanswer_reconcile_unrecorded(workerdb_extension_oid());
}

/*
 * reconcile_unrecorded runs that transaction when there are such calls,
 * and forgets them once it committed; it returns whether none is left.
 */
static bool
reconcile_unrecorded(void)
{
	if (!callanswer_has_unrecorded())
		return true;
	if (!run_in_transaction("agentphone: reconciling calls whose answer was not recorded",
							reconcile_unrecorded_step, NULL))
		return false;
	callanswer_forget_unrecorded();
	return true;
}

/*
 * api_problem says why no request may be sent now (the URL, the key, or
 * the key the API refused), or NULL; *hint is set to what fixes it, and
 * *for_callers to the reason as callers may read it (no key file path).
 */
static const char *
api_problem(const char **hint, const char **for_callers)
{
	const char *problem = agentphone_url_problem();

	*hint = "Correct the setting and reload the configuration.";
	*for_callers = problem;
	if (problem != NULL)
		return problem;
	if (agentphone_api_key_value() == NULL)
	{
		*hint = agentphone_key_hint();
		*for_callers = psprintf("no API key: %s", agentphone_key_problem_shown(false));
		return psprintf("no API key: %s", agentphone_key_problem_shown(true));
	}
	*hint = psprintf("Put the account's key in %s: the worker tries it as soon as it changes, or after a reload.",
					 agentphone_key_source());
	*for_callers = agentphone_key_refused_problem();
	return *for_callers;
}

/*
 * api_usable says whether requests may be sent; the first time they may
 * not, it says why in a warning (once, until they may again), and at each
 * sweep it writes why into the last_error of the calls left waiting.
 */
static bool
api_usable(void)
{
	const char *hint;
	const char *for_callers;
	const char *problem = api_problem(&hint, &for_callers);

	if (problem == NULL)
	{
		if (api_unusable)
			workerslot_note_error_over();
		api_unusable = false;
		return true;
	}
	if (!api_unusable)
		ereport(WARNING,
				(errmsg("agentphone: queued calls are not placed: %s", problem),
				 errhint("%s", hint)));
	api_unusable = true;
	workerslot_note_error(problem, for_callers);
	note_calls_wait(psprintf("waiting: the worker cannot place calls: %s", for_callers));
	return false;
}

/*
 * may_claim says whether calls may be claimed now: not while the worker is
 * paused, has no request free, or the API has an outage; *slots, the
 * requests free, is lowered to what the outage allows.  When none may be,
 * the calls left waiting say why.
 */
static bool
may_claim(TimestampTz now, int *slots)
{
	TimestampTz probe_at = 0;

	if (!agentphone_enabled)
	{
		/* paused: calls stay queued, saying so (once a sweep) */
		if (now >= paused_note_due)
		{
			note_calls_wait("paused: agentphone.enabled is off; the call is placed when it is turned on again");
			paused_note_due = TimestampTzPlusMilliseconds(now, agentphone_sweep_interval_ms);
		}
		return false;
	}
	paused_note_due = 0;
	if (*slots <= 0)
	{
		more_due = true;		/* claim again when a request finishes */
		return false;
	}
	if ((*slots = outage_claim_limit(*slots, now, &probe_at)) == 0)
	{
		next_claim_at = probe_at;	/* the next probe, or its answer */
		note_calls_wait(psprintf("waiting for the AgentPhone API, which cannot take calls now: %s",
								 outage_reason()));
		return false;
	}
	return true;
}

/*
 * reserve_sends reserves up to slots sends with key from the key's window
 * and returns how many; when none, the claim waits until one is free, and
 * the calls left waiting say why.
 */
static int
reserve_sends(const char *key, int slots, TimestampTz now)
{
	TimestampTz free_at = 0;
	int			max = dispatch_reserve(key, slots, now, &free_at);

	if (max <= 0)
	{
		next_claim_at = free_at;
		/* (one text for as long as it lasts: each call is written once) */
		note_calls_wait(psprintf("waiting for agentphone.max_calls_per_minute (%d): the key's budget for this minute is spent",
								 agentphone_max_calls_per_minute));
	}
	return max;
}

/*
 * claim_then_send claims up to max due calls in a short transaction, gives
 * back the sends it did not use, then sends the calls with key.
 */
static void
claim_then_send(TimestampTz now, const char *key, int max)
{
	/* next_due_ms: none unless a claim ran */
	ClaimArgs	a = {max, CurrentMemoryContext, NIL, -1};

	if (!run_in_transaction("agentphone: claiming due calls", claim_step, &a))
	{
		dispatch_unreserve(a.max);
		next_claim_at = TimestampTzPlusMilliseconds(now, ERROR_PAUSE_MS);
		return;
	}
	dispatch_unreserve(a.max - list_length(a.claimed));
	if (a.claimed == NIL)
		outage_probe_unused();
	window_release_due = false;
	dispatch_send(a.claimed, workerdb_extension_oid(), key);
	if (list_length(a.claimed) == a.max)
		more_due = true;
	if (a.next_due_ms >= 0)
		claim_due_at(now, a.next_due_ms);
}

/*
 * workerclaim_run claims as many due calls as the in-flight limit and the
 * per-minute window allow, commits, then sends them.
 */
void
workerclaim_run(TimestampTz now)
{
	int			slots = agentphone_max_in_flight - http_in_flight();
	const char *key;
	int			max;

	next_claim_at = TimestampTzPlusMilliseconds(now, agentphone_sweep_interval_ms);
	more_due = false;
	if (!reconcile_unrecorded())
	{
		next_claim_at = TimestampTzPlusMilliseconds(now, ERROR_PAUSE_MS);
		return;					/* nothing is claimed before they are */
	}
	if (!api_usable() || !may_claim(now, &slots))
		return;
	key = agentphone_api_key_value();	/* once for the reservation and the sends */
	max = reserve_sends(key, slots, now);
	if (max > 0)
		claim_then_send(now, key, max);
}

/*
 * workerclaim_due says whether a claim is due at now (besides a wake).
 */
bool
workerclaim_due(TimestampTz now)
{
	return now >= next_claim_at;
}

/*
 * workerclaim_wait_ms is the time until the next claim is due (negative:
 * overdue).
 */
long
workerclaim_wait_ms(TimestampTz now)
{
	return TimestampDifferenceMilliseconds(now, next_claim_at);
}

/*
 * workerclaim_api_unusable says whether the API's URL or key allows no
 * request now, as of the last claim.
 */
bool
workerclaim_api_unusable(void)
{
	return api_unusable;
}

/*
 * workerclaim_after_record brings the next claim forward, from now, for
 * what the record transaction found (result): a retry due, a call queued
 * again; or, when answers came (answered) after a full claim, to now.
 */
void
workerclaim_after_record(TimestampTz now, const RecordResult *result,
						 bool answered)
{
	if (result->soonest_retry_ms >= 0)
		claim_due_at(now, result->soonest_retry_ms);
	if ((more_due && answered) || result->requeued)
		next_claim_at = now;
}
