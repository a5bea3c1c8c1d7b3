/*-------------------------------------------------------------------------
 *
 * api.c
 *		JSON encoding and decoding for the AgentPhone calls API.
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
 *	   (the user's words), response (the agent's reply)};
 *	 - error bodies are FastAPI's {"detail": "..."} or {"detail": [{"loc",
 *	   "msg"}]}, the envelope {"error": {"message", "code"}}, or a bare
 *	   {"message"}.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cjson/cJSON.h>
#include <limits.h>

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"

#include "api.h"

/* Longest id or status we accept from the API. */
#define MAX_API_TOKEN 128
/* Longest error message we keep from the API. */
#define MAX_API_MESSAGE 500
/* Longest URL and transcript turn we keep. */
#define MAX_API_URL 2048
#define MAX_TURN_CONTENT 100000

/*
 * add_string adds "name": value to obj unless value is NULL.
 */
static void
add_string(cJSON *obj, const char *name, const char *value)
{
	if (value != NULL)
		cJSON_AddStringToObject(obj, name, value);
}

/*
 * add_object_fields copies every non-null field of the JSON object text
 * into obj (for the stored "options"), or adds it whole under name (for
 * "variables") when name is not NULL.
 */
static void
add_json(cJSON *obj, const char *name, const char *json)
{
	cJSON	   *parsed;
	cJSON	   *item;

	if (json == NULL || (parsed = cJSON_Parse(json)) == NULL)
		return;
	if (name != NULL)
	{
		cJSON_AddItemToObject(obj, name, parsed);
		return;
	}
	while ((item = parsed->child) != NULL)
	{
		cJSON_DetachItemViaPointer(parsed, item);
		if (cJSON_IsNull(item) || item->string == NULL)
			cJSON_Delete(item);
		else
		{
			char	   *key = item->string;

			item->string = NULL;
			cJSON_AddItemToObject(obj, key, item);
			cJSON_free(key);
		}
	}
	cJSON_Delete(parsed);
}

/*
 * api_encode_create_call returns the JSON body of POST /calls for req,
 * with the API's camelCase names and NULL fields left out.
 */
char *
api_encode_create_call(const ApiCallRequest *req)
{
	cJSON	   *obj = cJSON_CreateObject();
	char	   *printed;
	char	   *result;

	add_string(obj, "agentId", req->agent_id);
	add_string(obj, "toNumber", req->to_number);
	add_string(obj, "fromNumberId", req->from_number_id);
	add_string(obj, "initialGreeting", req->initial_greeting);
	add_string(obj, "voice", req->voice);
	add_string(obj, "systemPrompt", req->system_prompt);
	add_json(obj, "variables", req->variables_json);
	add_json(obj, NULL, req->options_json);

	printed = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (printed == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while encoding a call request")));
	result = pstrdup(printed);
	cJSON_free(printed);
	return result;
}

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
 * clean_utf8 appends to buf at most room bytes of s as valid UTF-8: a
 * byte that does not start a well-formed character becomes "?", a
 * character is never cut in two, and control characters become spaces
 * when asked.  The API speaks JSON, hence UTF-8.
 */
static void
clean_utf8(StringInfo buf, const char *s, int room, bool controls)
{
	int			used = 0;

	while (*s)
	{
		int			len = pg_utf_mblen((const unsigned char *) s);
		bool		ok = (int) strnlen(s, len) == len &&
			pg_utf8_islegal((const unsigned char *) s, len);

		if (!ok)
			len = 1;
		if (used + len > room)
			break;
		if (!ok)
			appendStringInfoChar(buf, '?');
		else if (controls && (unsigned char) *s < 0x20)
			appendStringInfoChar(buf, ' ');
		else
			appendBinaryStringInfo(buf, s, len);
		used += len;
		s += len;
	}
}

/*
 * utf8_copy returns a palloc'd copy of s, at most maxlen bytes, as valid
 * UTF-8 (see clean_utf8).
 */
static char *
utf8_copy(const char *s, int maxlen)
{
	StringInfoData buf;

	initStringInfo(&buf);
	clean_utf8(&buf, s, maxlen, false);
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
	a->name = get_text(entry, "name", MAX_API_MESSAGE);
	a->description = get_text(entry, "description", MAX_API_MESSAGE);
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
 * api_sse_next consumes the next complete server-sent event of buf[*pos ..
 * len), if there is one: *event gets its name ("message" if none) and
 * *data its data lines joined by newlines.  Comments (": heartbeat") are
 * skipped.  Returns false when no complete event is buffered yet.
 */
bool
api_sse_next(const char *buf, size_t len, size_t *pos, char **event, char **data)
{
	for (;;)
	{
		const char *start = buf + *pos;
		const char *end = NULL;
		size_t		sep = 0;
		StringInfoData d;
		const char *line;

		for (const char *p = start; p < buf + len && end == NULL; p++)
		{
			if (p + 1 < buf + len && p[0] == '\n' && p[1] == '\n')
				end = p, sep = 2;
			else if (p + 3 < buf + len && strncmp(p, "\r\n\r\n", 4) == 0)
				end = p, sep = 4;
		}
		if (end == NULL)
			return false;
		*pos = (end - buf) + sep;
		*event = NULL;
		initStringInfo(&d);
		for (line = start; line < end;)
		{
			const char *eol = memchr(line, '\n', end - line);
			int			n = (eol ? eol : end) - line;

			if (n > 0 && line[n - 1] == '\r')
				n--;
			if (n >= 6 && strncmp(line, "event:", 6) == 0)
				*event = pnstrdup(line + 6 + (n > 6 && line[6] == ' '), n - 6 - (n > 6 && line[6] == ' '));
			else if (n >= 5 && strncmp(line, "data:", 5) == 0)
			{
				if (d.len > 0)
					appendStringInfoChar(&d, '\n');
				appendBinaryStringInfo(&d, line + 5 + (n > 5 && line[5] == ' '),
									   n - 5 - (n > 5 && line[5] == ' '));
			}
			line = eol ? eol + 1 : end;
		}
		if (*event == NULL && d.len == 0)
		{
			pfree(d.data);
			continue;			/* a comment or an empty event */
		}
		if (*event == NULL)
			*event = pstrdup("message");
		*data = d.data;
		return true;
	}
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

/*
 * append_clean appends s to buf as valid UTF-8, turning control characters
 * into spaces; the whole text stops at MAX_API_MESSAGE bytes.
 */
static void
append_clean(StringInfo buf, const char *s)
{
	clean_utf8(buf, s, MAX_API_MESSAGE - buf->len, true);
}

/*
 * append_detail_list renders FastAPI's [{"loc": [...], "msg": "..."}] as
 * "toNumber: Field required; agentId: ...".
 */
static void
append_detail_list(StringInfo buf, const cJSON *list)
{
	const cJSON *entry;
	bool		first = true;

	cJSON_ArrayForEach(entry, list)
	{
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(entry, "msg");
		const cJSON *loc = cJSON_GetObjectItemCaseSensitive(entry, "loc");
		const cJSON *part;
		const char *last = NULL;

		if (!cJSON_IsString(msg))
			continue;
		cJSON_ArrayForEach(part, loc)
			if (cJSON_IsString(part))
			last = part->valuestring;
		if (!first)
			append_clean(buf, "; ");
		if (last && strcmp(last, "body") != 0)
		{
			append_clean(buf, last);
			append_clean(buf, ": ");
		}
		append_clean(buf, msg->valuestring);
		first = false;
	}
}

/*
 * append_api_message appends the message of an error body in any of the
 * documented shapes; it returns false when none matched.
 */
static bool
append_api_message(StringInfo buf, const cJSON *root)
{
	const cJSON *detail = cJSON_GetObjectItemCaseSensitive(root, "detail");
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
	const cJSON *message = cJSON_GetObjectItemCaseSensitive(root, "message");
	int			start = buf->len;

	if (cJSON_IsString(detail))
		append_clean(buf, detail->valuestring);
	else if (cJSON_IsArray(detail))
		append_detail_list(buf, detail);
	else if (cJSON_IsObject(error))
	{
		const cJSON *emsg = cJSON_GetObjectItemCaseSensitive(error, "message");
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");

		if (cJSON_IsString(emsg))
			append_clean(buf, emsg->valuestring);
		if (cJSON_IsString(code))
		{
			append_clean(buf, " (");
			append_clean(buf, code->valuestring);
			append_clean(buf, ")");
		}
	}
	else if (cJSON_IsString(error))
		append_clean(buf, error->valuestring);
	else if (cJSON_IsString(message))
		append_clean(buf, message->valuestring);
	return buf->len > start;
}

/*
 * api_error_text describes an unsuccessful answer for last_error:
 * "AgentPhone API answered HTTP 422: toNumber: Field required".
 */
char *
api_error_text(long http_status, const char *body)
{
	StringInfoData buf;
	cJSON	   *root = (body && body[0]) ? cJSON_Parse(body) : NULL;
	bool		is_json = (root != NULL);
	bool		found;

	initStringInfo(&buf);
	appendStringInfo(&buf, "AgentPhone API answered HTTP %ld", http_status);
	appendStringInfoString(&buf, ": ");
	found = cJSON_IsObject(root) && append_api_message(&buf, root);
	cJSON_Delete(root);
	if (!found)
	{
		buf.len -= 2;
		buf.data[buf.len] = '\0';
		if (body && body[0] && !is_json)
		{
			append_clean(&buf, " with a body that is not JSON: ");
			append_clean(&buf, body);
		}
	}
	return buf.data;
}

/*
 * api_id_is_safe says whether an API id (a call or number id) can be put
 * in a URL path as it is: 1 to 128 letters, digits, "_", "-" or ".", and
 * not "." or ".." alone.
 */
bool
api_id_is_safe(const char *id)
{
	size_t		len = strlen(id);

	return len > 0 && len <= 128 && strcmp(id, ".") != 0 && strcmp(id, "..") != 0 &&
		strspn(id, "abcdefghijklmnopqrstuvwxyz"
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == len;
}
