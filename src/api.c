/*-------------------------------------------------------------------------
 *
 * api.c
 *		JSON encoding of requests to the AgentPhone calls API, and the text
 *		that describes an unsuccessful answer.
 *
 * cJSON allocates with malloc; every tree is freed before returning, and
 * results are copied into palloc'd memory, so the caller's memory context
 * owns everything that survives.  An error body comes from the network
 * and is never trusted: its text is kept as valid UTF-8 without control
 * characters, capped at API_MAX_MESSAGE bytes.  Error bodies are
 * FastAPI's {"detail": "..."} or {"detail": [{"loc", "msg"}]}, the
 * envelope {"error": {"message", "code"}}, or a bare {"message"} (see the
 * API reference).
 *
 * The answers of a successful request are read by apidecode.c, the event
 * stream of a live call is cut into events by apisse.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cjson/cJSON.h>

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"

#include "api.h"

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
 * api_clean_utf8 appends to buf at most room bytes of s as valid UTF-8: a
 * byte that does not start a well-formed character becomes "?", a
 * character is never cut in two, and control characters become spaces
 * when asked.  The API speaks JSON, hence UTF-8.
 */
void
api_clean_utf8(StringInfo buf, const char *s, int room, bool controls)
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
 * append_clean appends s to buf as valid UTF-8, turning control characters
 * into spaces; the whole text stops at API_MAX_MESSAGE bytes.
 */
static void
append_clean(StringInfo buf, const char *s)
{
	api_clean_utf8(buf, s, API_MAX_MESSAGE - buf->len, true);
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
