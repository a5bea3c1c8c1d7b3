/*-------------------------------------------------------------------------
 *
 * outcome.h
 *		What the answer to a call's POST means for the call (outcome.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_OUTCOME_H
#define AGENTPHONE_OUTCOME_H

#include "api.h"
#include "http.h"

typedef enum OutcomeKind
{
	OUTCOME_PLACED,
	OUTCOME_RETRY,
	OUTCOME_ERROR,
	OUTCOME_UNKNOWN,
	OUTCOME_KEY_REFUSED,
	OUTCOME_UNAVAILABLE			/* the API could not take it: not an attempt */
} OutcomeKind;

typedef struct Outcome
{
	int64		id;				/* agentphone.calls.id of the call */
	OutcomeKind kind;
	ApiCall		call;			/* OUTCOME_PLACED */
	char	   *message;		/* last_error for the other kinds */
	int			delay_ms;		/* OUTCOME_RETRY, OUTCOME_UNAVAILABLE */
} Outcome;

extern Outcome outcome_of_answer(HttpRequest *req, int64 id, int attempt);
extern bool outcome_takes_no_call(long http_status);

#endif							/* AGENTPHONE_OUTCOME_H */
