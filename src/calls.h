/*-------------------------------------------------------------------------
 *
 * calls.h
 *		The states of a call: the only words agentphone.calls.status holds
 *		(its CHECK constraint calls_status_check lists the same, since 1.9),
 *		and how the API's statuses map onto them (callstatus.c).
 *
 * The API's own word for a call is kept as it came in calls.api_status; a
 * word of the API never drives agentphone's state machine by itself.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_CALLS_H
#define AGENTPHONE_CALLS_H

/* Before the API took the call: agentphone's own. */
#define CALL_QUEUED			"queued"
#define CALL_DISPATCHING	"dispatching"
#define CALL_RECONCILING	"reconciling"
#define CALL_CANCELED		"canceled"
#define CALL_BLOCKED		"blocked"
#define CALL_ERROR			"error"
#define CALL_UNKNOWN		"unknown"

/* Placed: the API's statuses that agentphone knows. */
#define CALL_IN_PROGRESS	"in-progress"
#define CALL_ENDING			"ending"
#define CALL_COMPLETED		"completed"
#define CALL_FAILED			"failed"
#define CALL_BUSY			"busy"
#define CALL_NO_ANSWER		"no-answer"

/* A status as an SQL literal: SQL_STATUS(CALL_QUEUED) is 'queued'. */
#define SQL_STATUS(s)		"'" s "'"

/* How many calls wait to be placed (through calls_due_idx). */
#define SQL_QUEUE_DEPTH \
	"SELECT count(*) FROM agentphone.calls WHERE status = " SQL_STATUS(CALL_QUEUED)

/* Where a state stands in the call's life. */
typedef enum CallPhase
{
	PHASE_UNPLACED,				/* queued, dispatching, reconciling: the
								 * worker's, not yet known to be placed */
	PHASE_LIVE,					/* in-progress, ending */
	PHASE_ENDED,				/* completed, failed, busy, no-answer */
	PHASE_OVER,					/* canceled, blocked, error, unknown: over,
								 * without an end from the API */
	PHASE_NONE					/* not a state */
} CallPhase;

extern CallPhase callstatus_phase(const char *status);
extern const char *callstatus_from_api(const char *api_status, bool ended);

#endif							/* AGENTPHONE_CALLS_H */
