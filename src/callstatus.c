/*-------------------------------------------------------------------------
 *
 * callstatus.c
 *		The states of a call (calls.h names them): where each stands in the
 *		call's life, and which one a call gets for the status the API
 *		reports.
 *
 * agentphone.calls.status drives the state machine: the claim takes
 * "queued" calls, reconciliation "reconciling" ones, the poller the placed
 * ones.  Until 1.9 the API's word was stored there as it came, so an API
 * status equal to one of agentphone's own ("reconciling", "queued") sent a
 * placed call back through reconciliation, and with agentphone.on_unknown
 * = redial, to a second POST.  Now the API's word goes to
 * calls.api_status, and calls.status gets one of agentphone's states:
 *
 *	 in-progress, in_progress, ringing		in-progress
 *	 ending									ending
 *	 completed, failed, busy, no-answer		the same
 *	 anything else (unknown, or one of agentphone's own words):
 *		 with an end time, or canceled		failed
 *		 without								in-progress, followed until it ends
 *
 * The "anything else" of each word is logged once per worker as a WARNING.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "calls.h"

/*
 * How many distinct unmapped words one worker reports, at most, and how
 * much of each it remembers (apidecode.c keeps at most 128 bytes of a status).
 */
#define MAX_WORDS_REPORTED 64
#define MAX_WORD 128

typedef struct StatusMap
{
	const char *api;
	const char *ours;
} StatusMap;

static const StatusMap known[] = {
	{"in-progress", CALL_IN_PROGRESS},
	{"in_progress", CALL_IN_PROGRESS},	/* the REST prose's spelling */
	{"ringing", CALL_IN_PROGRESS},
	{"ending", CALL_ENDING},
	{"completed", CALL_COMPLETED},
	{"failed", CALL_FAILED},
	{"busy", CALL_BUSY},
	{"no-answer", CALL_NO_ANSWER},
};

typedef struct StatePhase
{
	const char *state;
	CallPhase	phase;
} StatePhase;

/* Every state, and its phase (the same words as calls_status_check). */
static const StatePhase states[] = {
	{CALL_QUEUED, PHASE_UNPLACED},
	{CALL_DISPATCHING, PHASE_UNPLACED},
	{CALL_RECONCILING, PHASE_UNPLACED},
	{CALL_IN_PROGRESS, PHASE_LIVE},
	{CALL_ENDING, PHASE_LIVE},
	{CALL_COMPLETED, PHASE_ENDED},
	{CALL_FAILED, PHASE_ENDED},
	{CALL_BUSY, PHASE_ENDED},
	{CALL_NO_ANSWER, PHASE_ENDED},
	{CALL_CANCELED, PHASE_OVER},
	{CALL_BLOCKED, PHASE_OVER},
	{CALL_ERROR, PHASE_OVER},
	{CALL_UNKNOWN, PHASE_OVER},
};

/*
 * callstatus_phase returns where state stands in the call's life.
 */
CallPhase
callstatus_phase(const char *state)
{
	for (size_t i = 0; state != NULL && i < lengthof(states); i++)
		if (strcmp(state, states[i].state) == 0)
			return states[i].phase;
	return PHASE_NONE;
}

/* the unmapped words logged so far (no palloc: they outlive any context) */
static char reported[MAX_WORDS_REPORTED][MAX_WORD + 1];
static int	n_reported = 0;

/*
 * report_unmapped logs, once per worker for each word, an API status that
 * maps to no state of the same name.
 */
static void
report_unmapped(const char *api_status, const char *ours)
{
	for (int i = 0; i < n_reported; i++)
		if (strncmp(reported[i], api_status, MAX_WORD) == 0)
			return;
	if (n_reported >= MAX_WORDS_REPORTED)
		return;
	strlcpy(reported[n_reported++], api_status, MAX_WORD + 1);
	ereport(WARNING,
			(errmsg("agentphone: the API reported call status \"%s\", which %s; stored as \"%s\"",
					api_status,
					callstatus_phase(api_status) != PHASE_NONE ?
					"is one of agentphone's own states" : "agentphone does not know",
					ours),
			 errdetail("A call with a status agentphone does not know is \"%s\" while the API gives it no end time, and \"%s\" once it does; the API's word is kept in agentphone.calls.api_status.",
					   CALL_IN_PROGRESS, CALL_FAILED),
			 errhint("If the API has a new status, tell agentphone's maintainers, with its meaning.")));
}

/*
 * callstatus_from_api returns the state a call gets for api_status, the
 * API's word (NULL: none, then NULL); ended says whether the API gave the
 * call an end time.
 */
const char *
callstatus_from_api(const char *api_status, bool ended)
{
	const char *ours;

	if (api_status == NULL)
		return NULL;
	for (size_t i = 0; i < lengthof(known); i++)
		if (strcmp(api_status, known[i].api) == 0)
			return known[i].ours;
	ours = ended || strcmp(api_status, "canceled") == 0 || strcmp(api_status, "cancelled") == 0 ?
		CALL_FAILED : CALL_IN_PROGRESS;
	report_unmapped(api_status, ours);
	return ours;
}
