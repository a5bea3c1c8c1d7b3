/*-------------------------------------------------------------------------
 *
 * api.h
 *		Encoding requests for, and decoding answers from, the AgentPhone
 *		calls API (cJSON).  Knows nothing of tables or SPI.
 *
 * api.c encodes the requests and describes unsuccessful answers,
 * apidecode.c decodes the answers and apisse.c cuts the event stream into
 * events.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_API_H
#define AGENTPHONE_API_H

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

/* One call to create, as stored in agentphone.calls (NULL = omit). */
typedef struct ApiCallRequest
{
	const char *agent_id;
	const char *to_number;
	const char *from_number_id;
	const char *initial_greeting;
	const char *voice;
	const char *system_prompt;
	const char *variables_json; /* a JSON object of strings/nulls */
	const char *options_json;	/* a JSON object of extra body fields */
} ApiCallRequest;

/* The most rows a page of any list endpoint holds (limit, default 20). */
#define API_PAGE_LIMIT 100

/* Longest error message, agent name or description we keep from the API. */
#define API_MAX_MESSAGE 500

/* One turn of a transcript. */
typedef struct ApiTurn
{
	char	   *role;			/* "user" or "agent" */
	char	   *content;
	char	   *created_at;		/* ISO-8601 or NULL */
} ApiTurn;

/* What we keep of a Call object; absent or unusable fields are NULL/-1. */
typedef struct ApiCall
{
	char	   *id;
	char	   *status;
	char	   *agent_id;
	char	   *direction;
	char	   *to_number;
	char	   *from_number;
	char	   *started_at;		/* ISO-8601, checked for shape */
	char	   *ended_at;
	int			duration_seconds;	/* -1 when absent */
	int			recording_available;	/* -1 absent, 0 false, 1 true */
	char	   *recording_url;
	char	   *snippet;		/* lastTranscriptSnippet */
	List	   *turns;			/* of ApiTurn, from "transcripts" pairs */
} ApiCall;

/* One agent of the account, with its numbers (List Agents). */
typedef struct ApiAgent
{
	char	   *id;
	char	   *name;
	char	   *description;
	char	   *voice_mode;
	char	   *created_at;		/* ISO-8601 or NULL */
	List	   *numbers;		/* of ApiAgentNumber */
} ApiAgent;

typedef struct ApiAgentNumber
{
	char	   *id;
	char	   *phone_number;
	char	   *status;
} ApiAgentNumber;

/* api.c: requests and the text of errors */
extern char *api_encode_create_call(const ApiCallRequest *req);
extern char *api_error_text(long http_status, const char *body);
extern bool api_id_is_safe(const char *id);
extern void api_clean_utf8(StringInfo buf, const char *s, int room,
						   bool controls);

/* apidecode.c: answers */
extern bool api_status_is_final(const char *status);
extern const char *api_decode_call(const char *body, ApiCall *call);
extern const char *api_decode_list(const char *body, List **calls, bool *has_more);
extern const char *api_decode_transcript(const char *body, List **turns);
extern const char *api_decode_agents(const char *body, List **agents, bool *has_more);
extern ApiTurn *api_decode_turn(const char *data);

/* apisse.c: the event stream */
extern bool api_sse_next(const char *buf, size_t len, size_t *pos,
						 char **event, char **data);

#endif							/* AGENTPHONE_API_H */
