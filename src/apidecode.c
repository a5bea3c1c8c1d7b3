/*-------------------------------------------------------------------------
 *
 * apidecode.c
 *		Decoding the answers of the AgentPhone calls API: a call, a page of
 *		calls or agents, a transcript, a turn of the event stream.
 *
 * Answers come from the network and are never trusted: every decoder
 * checks types, caps lengths and returns a description of what was wrong
 * instead of failing.  cJSON allocates with malloc; every tree is freed
 * before returning, and results are copied into palloc'd memory, so the
 * caller's memory context owns everything that survives.
 *
 * Sources disagree on some shapes (see the API reference); the decoders
 * accept each documented variant:
 *	 - a created call's id is "id" (documented) or "callId" (seen in clients);
 *	 - a transcript is {transcript: [{role, content}]}, {data: [pairs]},
 *	   {transcripts: [pairs]} or a bare array, where a pair is {transcript
 *	   (the user's words), response (the agent's reply)}.
 * An unsuccessful answer's body is described by api_error_text (api.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cjson/cJSON.h>
#include <limits.h>

#include "lib/stringinfo.h"

#include "api.h"

/* Longest id or status we accept from the API. */
#define MAX_API_TOKEN 128
/* Longest URL and transcript turn we keep. */
#define MAX_API_URL 2048
#define MAX_TURN_CONTENT 100000

/*
 * get_token returns a palloc'd copy of obj[name] when it is a non-empty
 * string of printable ASCII no longer than maxlen, else NULL.
 */
static char *
get_token(const cJSON *obj, const char *name, size_t maxlen)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
	const char *s;

	if (!cJSON_IsString(item) || (s = item->valuestring) == NULL)
		return NULL;
	if (s[0] == '\0' || strlen(s) > maxlen)
		return NULL;
	for (const char *p = s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return NULL;
	return pstrdup(s);
}

/*
 * digits reads n digits at s as a number, or returns -1.
 */
static int
digits(const char *s, int n)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (!isdigit((unsigned char) s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * looks_like_iso8601 accepts "YYYY-MM-DDTHH:MM:SS" followed by optional
 * fractional seconds (up to 9 digits) and a zone (Z or +HH:MM), nothing
 * else, and only a date and time that exist (no February 30, no hour 25):
 * what it accepts, timestamptz_in accepts too.
 */
static bool
looks_like_iso8601(const char *s)
{
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *shape = "dddd-dd-ddTdd:dd:dd";
	int			year,
				month,
				day;
	bool		leap;

	for (int i = 0; shape[i]; i++)
	{
		if (shape[i] == 'd' ? !isdigit((unsigned char) s[i]) : s[i] != shape[i])
			return false;		/* also stops at the end of a short s */
	}
	year = digits(s, 4);
	month = digits(s + 5, 2);
	day = digits(s + 8, 2);
	leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	if (year < 1 || month < 1 || month > 12 || day < 1 || day > mdays[month - 1] ||
		(month == 2 && day == 29 && !leap) ||
		digits(s + 11, 2) > 23 || digits(s + 14, 2) > 59 || digits(s + 17, 2) > 59)
		return false;
	s += 19;
	if (*s == '.')
	{
		const char *frac = ++s;

		while (isdigit((unsigned char) *s))
			s++;
		if (s - frac > 9)
			return false;		/* beyond nanoseconds: not a timestamp */
	}
	if (*s == 'Z')
		return s[1] == '\0';
	if (*s == '+' || *s == '-')
		return digits(s + 1, 2) >= 0 && digits(s + 1, 2) <= 15 && s[3] == ':' &&
			digits(s + 4, 2) >= 0 && digits(s + 4, 2) <= 59 && s[6] == '\0';
	return *s == '\0';
}

/*
 * utf8_copy returns a palloc'd copy of s, at most maxlen bytes, as valid
 * UTF-8 (see api_clean_utf8).
 */
static char *
utf8_copy(const char *s, int maxlen)
{
	StringInfoData buf;

	initStringInfo(&buf);
	api_clean_utf8(&buf, s, maxlen, false);
	return buf.data;
}

/*
 * get_text returns a palloc'd copy of obj[name] when it is a string (any
 * content, at most maxlen bytes kept), else NULL.
 */
static char *
get_text(const cJSON *obj, const char *name, size_t maxlen)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!cJSON_IsString(item) || item->valuestring == NULL)
		return NULL;
	return utf8_copy(item->valuestring, maxlen);
}

/*
 * get_time returns obj[name] when it is an ISO-8601 timestamp, else NULL.
 */
static char *
get_time(const cJSON *obj, const char *name)
{
	char	   *s = get_token(obj, name, MAX_API_TOKEN);

	return (s && looks_like_iso8601(s)) ? s : NULL;
}

/*
 * add_turn appends a turn to *turns unless content is missing or blank.
 */
static void
add_turn(List **turns, const char *role, const cJSON *content, const cJSON *at)
{
	ApiTurn    *t;
	const char *p;

	if (!cJSON_IsString(content) || content->valuestring == NULL)
		return;
	for (p = content->valuestring; *p == ' ' || *p == '\t' || *p == '\n'; p++);
	if (*p == '\0')
		return;
	t = palloc0(sizeof(ApiTurn));
	t->role = pstrdup(role);
	t->content = utf8_copy(content->valuestring, MAX_TURN_CONTENT);
	if (cJSON_IsString(at) && at->valuestring && looks_like_iso8601(at->valuestring))
		t->created_at = pstrdup(at->valuestring);
	*turns = lappend(*turns, t);
}

/*
 * append_turns reads an array of turns in either documented form into
 * *turns: {role, content, createdAt}, or the pair {transcript (the
 * user's words), response (the agent's reply), createdAt}.  Entries that
 * fit neither are skipped.
 */
static void
append_turns(List **turns, const cJSON *array)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, array)
	{
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(e, "role");
		const cJSON *at = cJSON_GetObjectItemCaseSensitive(e, "createdAt");

		if (cJSON_IsString(role) &&
			(strcmp(role->valuestring, "user") == 0 || strcmp(role->valuestring, "agent") == 0))
			add_turn(turns, role->valuestring,
					 cJSON_GetObjectItemCaseSensitive(e, "content"), at);
		else
		{
			add_turn(turns, "user", cJSON_GetObjectItemCaseSensitive(e, "transcript"), at);
			add_turn(turns, "agent", cJSON_GetObjectItemCaseSensitive(e, "response"), at);
		}
	}
}

/*
 * read_call fills call from a Call object (or a CallSummary).
 */
static void
read_call(const cJSON *obj, ApiCall *call)
{
	const cJSON *dur = cJSON_GetObjectItemCaseSensitive(obj, "durationSeconds");
	const cJSON *rec = cJSON_GetObjectItemCaseSensitive(obj, "recordingAvailable");

	memset(call, 0, sizeof(*call));
	call->id = get_token(obj, "id", MAX_API_TOKEN);
	if (call->id == NULL)
		call->id = get_token(obj, "callId", MAX_API_TOKEN);
	call->status = get_token(obj, "status", MAX_API_TOKEN);
	call->agent_id = get_token(obj, "agentId", MAX_API_TOKEN);
	call->direction = get_token(obj, "direction", MAX_API_TOKEN);
	call->to_number = get_token(obj, "toNumber", MAX_API_TOKEN);
	call->from_number = get_token(obj, "fromNumber", MAX_API_TOKEN);
	call->started_at = get_time(obj, "startedAt");
	call->ended_at = get_time(obj, "endedAt");
	call->duration_seconds = (cJSON_IsNumber(dur) && dur->valuedouble >= 0 &&
							  dur->valuedouble < INT_MAX) ? (int) dur->valuedouble : -1;
	call->recording_available = cJSON_IsBool(rec) ? cJSON_IsTrue(rec) : -1;
	call->recording_url = get_token(obj, "recordingUrl", MAX_API_URL);
	call->snippet = get_text(obj, "lastTranscriptSnippet", MAX_TURN_CONTENT);
	append_turns(&call->turns, cJSON_GetObjectItemCaseSensitive(obj, "transcripts"));
}

/*
 * parse_object parses body and returns its root when it is a JSON object;
 * otherwise *problem says why and NULL is returned.
 */
static cJSON *
parse_object(const char *body, const char **problem)
{
	cJSON	   *root;

	if (body == NULL || body[0] == '\0')
	{
		*problem = "the answer was empty";
		return NULL;
	}
	root = cJSON_Parse(body);
	if (root == NULL)
		*problem = "the answer was not valid JSON";
	else if (!cJSON_IsObject(root))
	{
		*problem = "the answer was not a JSON object";
		cJSON_Delete(root);
		root = NULL;
	}
	return root;
}

/*
 * api_status_is_final says whether status, a word of the API, is one that
 * only an ended call has (poll.c fetches the transcript then; calls.h has
 * agentphone's own states and their phases).
 */
bool
api_status_is_final(const char *status)
{
	static const char *const final[] = {"completed", "failed", "busy", "no-answer", "canceled"};

	for (size_t i = 0; status != NULL && i < lengthof(final); i++)
		if (strcmp(status, final[i]) == 0)
			return true;
	return false;
}

/*
 * api_decode_call reads a Call object.  It returns NULL on success, or a
 * description of why the body is unusable (no JSON object, no call id).
 * Fields that are missing or of the wrong type are left NULL (or -1).
 */
const char *
api_decode_call(const char *body, ApiCall *call)
{
	const char *problem = NULL;
	cJSON	   *root = parse_object(body, &problem);

	memset(call, 0, sizeof(*call));
	if (root == NULL)
		return problem;
	read_call(root, call);
	cJSON_Delete(root);
	return call->id ? NULL : "the answer had no call id";
}

/* Reads one entry of a list page into a palloc'd struct; NULL skips it. */
typedef void *(*PageEntryReader) (const cJSON *entry);

/*
 * decode_page reads a page of a list endpoint, {data, hasMore, total},
 * appending each entry read_entry returns to *entries and setting
 * *has_more; it returns why the body is no such page, or NULL.
 */
static const char *
decode_page(const char *body, PageEntryReader read_entry, List **entries,
			bool *has_more)
{
	const char *problem = NULL;
	cJSON	   *root;
	const cJSON *data;
	const cJSON *e;

	*entries = NIL;
	*has_more = false;
	root = parse_object(body, &problem);
	if (root == NULL)
		return problem;
	data = cJSON_GetObjectItemCaseSensitive(root, "data");
	if (!cJSON_IsArray(data))
	{
		cJSON_Delete(root);
		return "the answer had no \"data\" array";
	}
	*has_more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "hasMore"));
	cJSON_ArrayForEach(e, data)
	{
		void	   *entry = read_entry(e);

		if (entry)
			*entries = lappend(*entries, entry);
	}
	cJSON_Delete(root);
	return NULL;
}

/*
 * read_listed_call reads one entry of List Calls, or NULL if it has no id.
 */
static void *
read_listed_call(const cJSON *entry)
{
	ApiCall    *c = palloc(sizeof(ApiCall));

	read_call(entry, c);
	return c->id ? c : NULL;
}

/*
 * api_decode_list reads a page of List Calls into a List of ApiCall
 * (entries without an id are skipped).
 */
const char *
api_decode_list(const char *body, List **calls, bool *has_more)
{
	return decode_page(body, read_listed_call, calls, has_more);
}

/*
 * read_agent_numbers appends an agent's numbers, from "numbers" or from
 * the older "phoneNumbers", each {id, phoneNumber, status}.
 */
static List *
read_agent_numbers(const cJSON *agent)
{
	const cJSON *array = cJSON_GetObjectItemCaseSensitive(agent, "numbers");
	const cJSON *e;
	List	   *numbers = NIL;

	if (!cJSON_IsArray(array))
		array = cJSON_GetObjectItemCaseSensitive(agent, "phoneNumbers");
	cJSON_ArrayForEach(e, array)
	{
		ApiAgentNumber *n = palloc0(sizeof(ApiAgentNumber));

		n->id = get_token(e, "id", MAX_API_TOKEN);
		n->phone_number = get_token(e, "phoneNumber", MAX_API_TOKEN);
		n->status = get_token(e, "status", MAX_API_TOKEN);
		if (n->id)
			numbers = lappend(numbers, n);
	}
	return numbers;
}

/*
 * read_listed_agent reads one entry of List Agents, or NULL if it has no id.
 */
static void *
read_listed_agent(const cJSON *entry)
{
	ApiAgent   *a = palloc0(sizeof(ApiAgent));

	a->id = get_token(entry, "id", MAX_API_TOKEN);
	a->name = get_text(entry, "name", API_MAX_MESSAGE);
	a->description = get_text(entry, "description", API_MAX_MESSAGE);
	a->voice_mode = get_token(entry, "voiceMode", MAX_API_TOKEN);
	a->created_at = get_time(entry, "createdAt");
	a->numbers = read_agent_numbers(entry);
	return a->id ? a : NULL;
}

/*
 * api_decode_agents reads a page of List Agents into a List of ApiAgent
 * (entries without an id are skipped).
 */
const char *
api_decode_agents(const char *body, List **agents, bool *has_more)
{
	return decode_page(body, read_listed_agent, agents, has_more);
}

/*
 * api_decode_transcript reads Get Transcript in any documented shape:
 * {callId, status, transcript: [{role, content, createdAt}]},
 * {data: [pairs]}, {transcripts: [pairs]}, or a bare array of turns.
 */
const char *
api_decode_transcript(const char *body, List **turns)
{
	cJSON	   *root = (body && body[0]) ? cJSON_Parse(body) : NULL;
	const cJSON *array = NULL;

	*turns = NIL;
	if (root == NULL)
		return "the answer was not valid JSON";
	if (cJSON_IsArray(root))
		array = root;
	else if (cJSON_IsObject(root))
	{
		static const char *const keys[] = {"transcript", "data", "transcripts"};

		for (size_t i = 0; i < lengthof(keys) && !cJSON_IsArray(array); i++)
			array = cJSON_GetObjectItemCaseSensitive(root, keys[i]);
	}
	if (!cJSON_IsArray(array))
	{
		cJSON_Delete(root);
		return "the answer held no transcript array";
	}
	append_turns(turns, array);
	cJSON_Delete(root);
	return NULL;
}

/*
 * api_decode_turn reads one SSE "turn" event's data, {role, content,
 * createdAt}; it returns NULL when it is not a usable turn.
 */
ApiTurn *
api_decode_turn(const char *data)
{
	cJSON	   *root = cJSON_Parse(data);
	cJSON	   *array;
	List	   *turns = NIL;

	if (!cJSON_IsObject(root))
	{
		cJSON_Delete(root);
		return NULL;
	}
	/* reuse the array reader on a one-element array */
	array = cJSON_CreateArray();
	cJSON_AddItemReferenceToArray(array, root);
	append_turns(&turns, array);
	cJSON_Delete(array);
	cJSON_Delete(root);
	return turns ? linitial(turns) : NULL;
}
