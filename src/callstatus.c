/*-------------------------------------------------------------------------
 *
 * callstatus.c
 *		Which of agentphone's states a call gets for the status the API
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

/* How many distinct unmapped words one worker reports, at most, and how
 * much of each it remembers (api.c keeps at most 128 bytes of a status). */
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

/* agentphone's own words, which mean something else in calls.status */
static const char *const own[] = {
	CALL_QUEUED, CALL_DISPATCHING, CALL_RECONCILING, CALL_CANCELED,
	CALL_BLOCKED, CALL_ERROR, CALL_UNKNOWN,
};

/* the unmapped words logged so far (no palloc: they outlive any context) */
static char reported[MAX_WORDS_REPORTED][MAX_WORD + 1];
static int	n_reported = 0;

static bool
in_list(const char *word, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(word, words[i]) == 0)
			return true;
	return false;
}

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
					in_list(api_status, own, lengthof(own)) ?
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
