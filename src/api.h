/*-------------------------------------------------------------------------
 *
 * api.h
 *		Encoding requests for, and decoding answers from, the AgentPhone
 *		calls API (cJSON).  Knows nothing of tables or SPI.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_API_H
#define AGENTPHONE_API_H

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

/* What we keep of a Call object; absent or unusable fields are NULL. */
typedef struct ApiCall
{
	char	   *id;
	char	   *status;
	char	   *from_number;
	char	   *started_at;		/* ISO-8601, checked for shape */
} ApiCall;

extern char *api_encode_create_call(const ApiCallRequest *req);
extern const char *api_decode_call(const char *body, ApiCall *call);
extern char *api_error_text(long http_status, const char *body);

#endif							/* AGENTPHONE_API_H */
