/*-------------------------------------------------------------------------
 *
 * calls.h
 *		The statuses of a call that the extension itself sets (the API sets
 *		the others: see api_status_is_final() in api.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_CALLS_H
#define AGENTPHONE_CALLS_H

/* Statuses of a call that the extension itself sets. */
#define CALL_QUEUED			"queued"
#define CALL_DISPATCHING	"dispatching"
#define CALL_CANCELED		"canceled"
#define CALL_ERROR			"error"
#define CALL_UNKNOWN		"unknown"
#define CALL_RECONCILING	"reconciling"
#define CALL_IN_PROGRESS	"in-progress"
#define CALL_BLOCKED		"blocked"
#define CALL_ENDING			"ending"

/* A status as an SQL literal: SQL_STATUS(CALL_QUEUED) is 'queued'. */
#define SQL_STATUS(s)		"'" s "'"

/* How many calls wait to be placed (through calls_status_idx). */
#define SQL_QUEUE_DEPTH \
	"SELECT count(*) FROM agentphone.calls WHERE status = " SQL_STATUS(CALL_QUEUED)

#endif							/* AGENTPHONE_CALLS_H */
