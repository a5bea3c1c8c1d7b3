/*-------------------------------------------------------------------------
 *
 * outage.c
 *		Whether the AgentPhone API can take calls now, as the worker sees
 *		its answers to POST /calls.
 *
 * A request that failed before it was sent (DNS, a refused connection,
 * TLS, a proxy), or that the API answered 429, 502, 503 or 504, placed no
 * call: it says nothing about the call, only that the API cannot take one
 * now.  Such a failure is no attempt of the call's (callanswer.c requeues
 * it, uncounted).  Three of them in a row, with no other answer in
 * between, put the worker into an outage (one 503 among good answers does
 * not):
 *   - one WARNING when it starts, with the reason, and one LOG when the
 *     API answers again, not a line per request;
 *   - while it lasts the worker claims nothing but, once the backoff has
 *     passed, one call: the probe.  The backoff doubles from
 *     agentphone.retry_delay to about a minute (or is the API's
 *     Retry-After), so an outage of hours costs one request a minute and
 *     the calls go out within a minute of its end;
 *   - the due calls say why they wait in last_error.
 * Any other answer ends it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/pg_prng.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "backoff.h"
#include "guc.h"
#include "outage.h"
#include "workerslot.h"

/* Longest wait between two probes. */
#define MAX_PROBE_GAP_MS (60 * 1000)

/* Failures in a row that make an outage. */
#define OUTAGE_AFTER 3

static int	failures = 0;		/* in a row, since the last other answer */
static int	level = 0;			/* backoff steps: probes failed, not requests */
static TimestampTz since = 0;	/* when the outage began */
static TimestampTz probe_at = 0;	/* when the next probe may go */
static char reason[512];		/* the last failure, for last_error */
static TimestampTz probing_since = 0;	/* a probe is in flight, 0: none */

/*
 * outage_note_failure records a request that placed no call because the
 * API could not take it (why), retry_after_ms from the API or -1; it
 * returns the delay before that call's next try.
 */
int
outage_note_failure(const char *why, int retry_after_ms)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		gap;

	/*
	 * Requests that fail together (all those in flight when the network
	 * went) are one step of the backoff, not one each: a step is taken by
	 * a failure after the last probe's time.
	 */
	if (probing_since != 0 || failures == 0 || now >= probe_at)
		level++;
	probing_since = 0;
	gap = doubled_ms(agentphone_retry_delay_ms, level, MAX_PROBE_GAP_MS);
	/* jittered in its upper half, so that the workers of many databases spread */
	gap = gap / 2 + (int64) (pg_prng_double(&pg_global_prng_state) * (gap / 2));
	if (retry_after_ms >= 0)
		gap = retry_after_ms;
	if (failures == 0)
		since = now;
	if (++failures == OUTAGE_AFTER)
	{
		workerslot_note_error(psprintf("the AgentPhone API cannot take calls: %s", why), NULL);
		ereport(WARNING,
				(errmsg("agentphone: the AgentPhone API cannot take calls: %s", why),
				 errdetail("No call was placed by the failed request; due calls stay queued, their attempts not counted, and are placed once the API answers again (one request at a time is tried meanwhile, at most a minute apart)."),
				 errhint("Check the server's network, DNS and proxy (agentphone.http_proxy), and the API's status page; nothing needs to be done about the calls.")));
	}
	strlcpy(reason, why, sizeof(reason));
	/* the call waits as long as it is told; the next probe a minute at most */
	probe_at = TimestampTzPlusMilliseconds(now, Min(gap, MAX_PROBE_GAP_MS));
	return (int) gap;
}

/*
 * outage_note_answer records an answer that ends the outage, if any, and
 * says whether there was one.
 */
bool
outage_note_answer(void)
{
	bool		was_outage = failures >= OUTAGE_AFTER;

	failures = 0;
	level = 0;
	probing_since = 0;
	if (!was_outage)
		return false;
	workerslot_note_error_over();
	ereport(LOG,
			(errmsg("agentphone: the AgentPhone API answers again, after %ld s; placing the calls that waited",
					(long) ((GetCurrentTimestamp() - since) / USECS_PER_SEC))));
	return true;
}

/*
 * outage_claim_limit caps the calls the worker may claim now, want: all of
 * them outside an outage; during one, none before the probe is due (its
 * time in *probe_time) and one after.
 */
int
outage_claim_limit(int want, TimestampTz now, TimestampTz *probe_time)
{
	if (failures < OUTAGE_AFTER)
		return want;
	/* one probe at a time: the next waits for its answer (at most a minute) */
	if (probing_since != 0 &&
		now < TimestampTzPlusMilliseconds(probing_since, MAX_PROBE_GAP_MS))
	{
		*probe_time = TimestampTzPlusMilliseconds(probing_since, MAX_PROBE_GAP_MS);
		return 0;
	}
	if (now < probe_at)
	{
		*probe_time = probe_at;
		return 0;
	}
	probing_since = now;
	*probe_time = TimestampTzPlusMilliseconds(now, MAX_PROBE_GAP_MS);
	return Min(want, 1);
}

/*
 * outage_probe_unused: the probe's claim found no due call; the next claim
 * may probe again.
 */
void
outage_probe_unused(void)
{
	probing_since = 0;
}

/*
 * outage_note_other records a request that neither failed before the API
 * took it nor got an answer that ends an outage (it was sent and no
 * answer came, or its call gave up at the horizon): a probe's turn is
 * over, and the next comes after the backoff.
 */
void
outage_note_other(void)
{
	if (probing_since == 0)
		return;
	probing_since = 0;
	probe_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   doubled_ms(agentphone_retry_delay_ms, level, MAX_PROBE_GAP_MS));
}

/*
 * outage_lasted_ms is how long the API has failed to take calls, with no
 * other answer in between (0: it has not).
 */
int64
outage_lasted_ms(void)
{
	if (failures == 0)
		return 0;
	return (GetCurrentTimestamp() - since) / 1000;
}

/*
 * outage_reason says why calls wait during an outage, or NULL outside one.
 */
const char *
outage_reason(void)
{
	return failures < OUTAGE_AFTER ? NULL : reason;
}
