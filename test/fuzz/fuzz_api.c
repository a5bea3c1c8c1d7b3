/*-------------------------------------------------------------------------
 *
 * fuzz_api.c
 *		libFuzzer targets for the decoders of AgentPhone API answers in
 *		src/api.c, src/apidecode.c and src/apisse.c, which read bodies that
 *		come from the network.
 *
 * One binary, several targets; the target is the name the binary is run
 * under (run.sh makes one link per target) or $FUZZ_TARGET:
 *
 *	 api_call		api_decode_call(body), then callstatus_from_api() of its
 *					status (src/callstatus.c)
 *	 api_list		api_decode_list(body)
 *	 api_transcript	api_decode_transcript(body), every shape
 *	 api_error		api_error_text(status, body), every error shape
 *	 api_sse		api_sse_next over a stream that arrives in three parts,
 *					and api_decode_turn on the data of every event
 *
 * The input is the whole response body, handed over as httpreq.c does: a
 * malloc'd copy with a NUL after it (so it may hold NUL bytes itself).
 * Besides memory errors, leaks and undefined behaviour, each target
 * checks what the codec promises of its results and what its callers rely on
 * (see check_call and the targets): ids and statuses are short printable
 * ASCII; times are timestamps that PostgreSQL's timestamptz input accepts
 * (callanswer.c, poll.c, reconcile.c and read.c convert them without a
 * safety net); turns are not blank; error texts are capped at about 500
 * bytes and free of control characters; text decoded from a valid UTF-8
 * body is valid UTF-8 (it is stored in text columns).  A broken promise
 * aborts, so libFuzzer keeps the input (see FUZZ_EXPECT in fuzz.h for
 * AGENTPHONE_FUZZ_LENIENT).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>

#include "api.h"
#include "calls.h"
#include "fuzz.h"

/* The limits apidecode.c documents (and defines privately). */
#define MAX_API_TOKEN 128
#define MAX_API_URL 2048
#define MAX_TURN_CONTENT 100000
/* api_error_text caps the message at 500 bytes; allow the fixed words. */
#define MAX_ERROR_TEXT 600

typedef enum ApiTarget
{
	API_CALL,
	API_LIST,
	API_TRANSCRIPT,
	API_ERROR,
	API_SSE
} ApiTarget;

static const char *const target_names[] = {
	[API_CALL] = "api_call",
	[API_LIST] = "api_list",
	[API_TRANSCRIPT] = "api_transcript",
	[API_ERROR] = "api_error",
	[API_SSE] = "api_sse",
};

static ApiTarget target;

/* Whether the body (up to its first NUL) is valid UTF-8. */
static bool body_is_utf8;

/*
 * check_text checks a decoded string: at most maxlen bytes, and valid
 * UTF-8 when the body was.
 */
static void
check_text(const char *what, const char *s, size_t maxlen)
{
	size_t		len = strlen(s);

	FUZZ_EXPECT(len <= maxlen, "%s has %zu bytes, more than %zu", what, len, maxlen);
	FUZZ_EXPECT(!body_is_utf8 || fuzz_valid_utf8(s, len),
				"%s is not valid UTF-8 although the body was: %zu bytes ending in \"%s\"",
				what, len, s + (len > 40 ? len - 40 : 0));
}

/* check_token: NULL, or 1 to maxlen bytes of printable ASCII. */
static void
check_token(const char *what, const char *s, size_t maxlen)
{
	if (s == NULL)
		return;
	FUZZ_EXPECT(s[0] != '\0', "%s is empty", what);
	check_text(what, s, maxlen);
	for (const char *p = s; *p; p++)
		FUZZ_EXPECT(*p >= 0x20 && *p <= 0x7e,
					"%s has the byte 0x%02x", what, (unsigned char) *p);
}

/*
 * is_timestamp: "YYYY-MM-DDTHH:MM:SS", optional fraction, then nothing,
 * Z or +HH:MM/-HH:MM: the shape apidecode.c documents for the times it keeps
 * (the README: started_at is "kept only if it is an ISO-8601 timestamp").
 */
static bool
is_timestamp(const char *s)
{
	const char *shape = "dddd-dd-ddTdd:dd:dd";
	size_t		i;

	for (i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return false;
	s += i;
	if (*s == '.')
	{
		s++;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (strcmp(s, "Z") == 0 || *s == '\0')
		return true;
	return (s[0] == '+' || s[0] == '-') && strlen(s) == 6 &&
		s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' && s[3] == ':' &&
		s[4] >= '0' && s[4] <= '9' && s[5] >= '0' && s[5] <= '9';
}

/*
 * timestamptz_refusal says why PostgreSQL's timestamptz input function
 * (timestamp.c, datetime.c) would refuse s, a string is_timestamp accepts,
 * or returns NULL.  It is conservative: it names only what certainly
 * fails there (longer than its 153-byte work buffer, year 0, a month, day,
 * hour, minute, second or zone offset out of range).
 */
static const char *
timestamptz_refusal(const char *s)
{
	static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
#define NUM2(p) (((p)[0] - '0') * 10 + ((p)[1] - '0'))
	int			year = NUM2(s) * 100 + NUM2(s + 2);
	int			month = NUM2(s + 5);
	int			day = NUM2(s + 8);
	int			hour = NUM2(s + 11);
	int			minute = NUM2(s + 14);
	int			second = NUM2(s + 17);
	bool		leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	const char *zone = s + 19;

	if (strlen(s) >= 153)
		return "too long for datetime.c";
	if (year == 0)
		return "year 0";
	if (month < 1 || month > 12)
		return "month out of range";
	if (day < 1 || day > days[month - 1] || (month == 2 && day == 29 && !leap))
		return "day out of range";
	if (hour > 24 || minute > 59 || second > 60 ||
		(hour == 24 && (minute > 0 || second > 0)))
		return "time out of range";
	if (*zone == '.')
		for (zone++; *zone >= '0' && *zone <= '9'; zone++);
	if ((*zone == '+' || *zone == '-') && (NUM2(zone + 1) > 15 || NUM2(zone + 4) > 59))
		return "zone offset out of range";
	return NULL;
#undef NUM2
}

/*
 * check_time checks a decoded time: NULL, or a timestamp (at most maxlen
 * bytes) that PostgreSQL can store, as the callers of apidecode.c assume.
 */
static void
check_time(const char *what, const char *s, size_t maxlen)
{
	const char *refusal;

	check_token(what, s, maxlen);
	if (s == NULL)
		return;
	if (!is_timestamp(s))
	{
		FUZZ_EXPECT(false, "%s is no timestamp: \"%.80s\"", what, s);
		return;
	}
	refusal = timestamptz_refusal(s);
	FUZZ_EXPECT(refusal == NULL, "%s \"%.60s\" passed as a timestamp, but timestamptz_in "
				"would raise an ERROR for it (%s)", what, s, refusal);
}

static void
check_turn(const ApiTurn *t)
{
	const char *p;

	FUZZ_CHECK(t != NULL, "a NULL turn");
	FUZZ_CHECK(t->role != NULL &&
			   (strcmp(t->role, "user") == 0 || strcmp(t->role, "agent") == 0),
			   "a turn with role \"%s\"", t->role ? t->role : "(null)");
	FUZZ_CHECK(t->content != NULL, "a turn without content");
	for (p = t->content; *p == ' ' || *p == '\t' || *p == '\n'; p++);
	FUZZ_EXPECT(*p != '\0', "a blank turn");
	check_text("turn content", t->content, MAX_TURN_CONTENT);
	/* apidecode.c does not cap the length of a turn's time */
	check_time("turn createdAt", t->created_at, SIZE_MAX);
}

static void
check_turns(const List *turns)
{
	ListCell   *lc;

	foreach(lc, turns)
		check_turn(lfirst(lc));
}

static void
check_call(const ApiCall *c)
{
	check_token("id", c->id, MAX_API_TOKEN);
	check_token("status", c->status, MAX_API_TOKEN);
	check_token("agentId", c->agent_id, MAX_API_TOKEN);
	check_token("direction", c->direction, MAX_API_TOKEN);
	check_token("toNumber", c->to_number, MAX_API_TOKEN);
	check_token("fromNumber", c->from_number, MAX_API_TOKEN);
	check_time("startedAt", c->started_at, MAX_API_TOKEN);
	check_time("endedAt", c->ended_at, MAX_API_TOKEN);
	FUZZ_EXPECT(c->duration_seconds >= -1, "durationSeconds %d", c->duration_seconds);
	FUZZ_EXPECT(c->recording_available >= -1 && c->recording_available <= 1,
				"recordingAvailable %d", c->recording_available);
	check_token("recordingUrl", c->recording_url, MAX_API_URL);
	if (c->snippet)
		check_text("lastTranscriptSnippet", c->snippet, MAX_TURN_CONTENT);
	check_turns(c->turns);
}

/*
 * check_state: the state a placed call gets for the API's word is one of
 * the placed states, never one of agentphone's own before the API took
 * the call (queued, dispatching, reconciling...), whatever the word.
 */
static void
check_state(const ApiCall *c)
{
	static const char *const placed[] = {CALL_IN_PROGRESS, CALL_ENDING, CALL_COMPLETED,
	CALL_FAILED, CALL_BUSY, CALL_NO_ANSWER};
	const char *ours = callstatus_from_api(c->status, c->ended_at != NULL);
	bool		found = false;

	FUZZ_EXPECT((ours == NULL) == (c->status == NULL), "callstatus_from_api(%s) returned %s",
				c->status ? c->status : "NULL", ours ? ours : "NULL");
	for (size_t i = 0; ours != NULL && i < lengthof(placed); i++)
		found |= strcmp(ours, placed[i]) == 0;
	FUZZ_EXPECT(ours == NULL || found, "API status %s became %s", c->status, ours);
}

static void
fuzz_call_decoder(const char *body)
{
	ApiCall		call;
	const char *problem = api_decode_call(body, &call);

	if (fuzz_verbose)
		fprintf(stderr, "api_decode_call: %s\n", problem ? problem : "ok");
	FUZZ_EXPECT((problem == NULL) == (call.id != NULL),
				"api_decode_call returned %s with id %s",
				problem ? problem : "success", call.id ? call.id : "NULL");
	check_call(&call);
	if (problem == NULL)
		check_state(&call);
}

static void
fuzz_list_decoder(const char *body)
{
	List	   *calls = (List *) 0x1;
	bool		has_more = true;
	const char *problem = api_decode_list(body, &calls, &has_more);
	ListCell   *lc;

	if (fuzz_verbose)
		fprintf(stderr, "api_decode_list: %s, %d calls, hasMore %d\n",
				problem ? problem : "ok", list_length(calls), has_more);
	FUZZ_EXPECT(problem == NULL || (calls == NIL && !has_more),
				"api_decode_list failed but returned calls");
	foreach(lc, calls)
	{
		ApiCall    *c = lfirst(lc);

		FUZZ_EXPECT(c->id != NULL, "a listed call without id");
		check_call(c);
	}
}

static void
fuzz_transcript_decoder(const char *body)
{
	List	   *turns = (List *) 0x1;
	const char *problem = api_decode_transcript(body, &turns);

	if (fuzz_verbose)
		fprintf(stderr, "api_decode_transcript: %s, %d turns\n",
				problem ? problem : "ok", list_length(turns));
	FUZZ_EXPECT(problem == NULL || turns == NIL,
				"api_decode_transcript failed but returned turns");
	check_turns(turns);
}

static void
fuzz_error_text(const char *body, size_t size)
{
	static const long statuses[] = {400, 401, 403, 404, 409, 422, 429, 500, 502, 503};
	long		status = statuses[size % lengthof(statuses)];
	char		prefix[64];
	char	   *text = api_error_text(status, body);
	size_t		len;

	if (fuzz_verbose)
		fprintf(stderr, "api_error_text: %s\n", text);
	FUZZ_CHECK(text != NULL, "api_error_text returned NULL");
	snprintf(prefix, sizeof(prefix), "AgentPhone API answered HTTP %ld", status);
	FUZZ_EXPECT(strncmp(text, prefix, strlen(prefix)) == 0,
				"api_error_text does not start with \"%s\": \"%.80s\"", prefix, text);
	len = strlen(text);
	FUZZ_EXPECT(len <= MAX_ERROR_TEXT,
				"api_error_text returned %zu bytes (cap is %d): \"%.80s...\"",
				len, MAX_ERROR_TEXT, text);
	for (const char *p = text; *p; p++)
		FUZZ_EXPECT((unsigned char) *p >= 0x20,
					"api_error_text kept the control character 0x%02x", (unsigned char) *p);
	FUZZ_EXPECT(!body_is_utf8 || fuzz_valid_utf8(text, len),
				"api_error_text of a valid UTF-8 body is not valid UTF-8: %zu bytes ending in \"%s\"",
				len, text + (len > 40 ? len - 40 : 0));
}

/* One event read from a stream. */
typedef struct SseEvent
{
	char	   *event;
	char	   *data;
} SseEvent;

/*
 * read_events reads every complete event of buf[0 .. len) from *pos on,
 * as read.c's stream_turns does, appending them to *events.
 */
static void
read_events(const char *buf, size_t len, size_t *pos, List **events)
{
	char	   *event = NULL;
	char	   *data = NULL;
	size_t		before = *pos;

	while (api_sse_next(buf, len, pos, &event, &data))
	{
		SseEvent   *e = palloc(sizeof(SseEvent));
		ApiTurn    *t;

		FUZZ_CHECK(*pos > before && *pos <= len,
				   "api_sse_next moved from %zu to %zu in %zu bytes", before, *pos, len);
		before = *pos;
		FUZZ_CHECK(event != NULL && data != NULL, "an event without name or data");
		FUZZ_EXPECT(strchr(event, '\n') == NULL, "an event name with a newline");
		check_text("event name", event, len);
		check_text("event data", data, len);
		if (fuzz_verbose)
			fprintf(stderr, "event \"%s\": %s\n", event, data);
		/* read.c decodes "turn" events only; any data must be safe */
		t = api_decode_turn(data);
		if (t)
			check_turn(t);
		e->event = event;
		e->data = data;
		*events = lappend(*events, e);
	}
	FUZZ_CHECK(*pos >= before && *pos <= len,
			   "api_sse_next moved from %zu to %zu in %zu bytes", before, *pos, len);
}

static void
fuzz_sse(const uint8_t *input, size_t size)
{
	size_t		cuts[3] = {size / 3, 2 * size / 3, size};
	char	   *buf = NULL;
	size_t		pos = 0;
	List	   *parts = NIL;
	List	   *whole = NIL;

	/* the body arrives in three parts, each time realloc'd and terminated */
	for (int i = 0; i < 3; i++)
	{
		buf = realloc(buf, cuts[i] + 1);
		memcpy(buf, input, cuts[i]);
		buf[cuts[i]] = '\0';
		read_events(buf, cuts[i], &pos, &parts);
	}
	/* the same body at once gives the same events */
	pos = 0;
	read_events(buf, size, &pos, &whole);
	free(buf);
	FUZZ_EXPECT(list_length(parts) == list_length(whole),
				"%d events when the stream came in parts, %d when it came at once",
				list_length(parts), list_length(whole));
	for (int i = 0; i < list_length(whole) && i < list_length(parts); i++)
	{
		SseEvent   *a = list_nth(parts, i);
		SseEvent   *b = list_nth(whole, i);

		FUZZ_EXPECT(strcmp(a->event, b->event) == 0 && strcmp(a->data, b->data) == 0,
					"event %d differs when the stream came in parts", i);
	}
}

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	target = (ApiTarget) fuzz_choose_target("fuzz_api", argc, argv,
											target_names, lengthof(target_names));
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		stack_base;
	char	   *body;

	fuzz_begin_input(&stack_base);
	/* httpreq.c's body: a malloc'd copy with a NUL after it */
	body = malloc(size + 1);
	memcpy(body, data, size);
	body[size] = '\0';
	body_is_utf8 = fuzz_valid_utf8(body, strlen(body));

	switch (target)
	{
		case API_CALL:
			fuzz_call_decoder(body);
			if (size == 0)
				fuzz_call_decoder(NULL);
			break;
		case API_LIST:
			fuzz_list_decoder(body);
			if (size == 0)
				fuzz_list_decoder(NULL);
			break;
		case API_TRANSCRIPT:
			fuzz_transcript_decoder(body);
			if (size == 0)
				fuzz_transcript_decoder(NULL);
			break;
		case API_ERROR:
			fuzz_error_text(body, size);
			if (size == 0)
				fuzz_error_text(NULL, size);
			break;
		case API_SSE:
			body_is_utf8 = fuzz_valid_utf8(body, size);
			fuzz_sse(data, size);
			break;
	}
	if (fuzz_verbose)
		fprintf(stderr, "palloc'd %zu bytes for a %zu-byte body\n",
				fuzz_allocated_bytes(), size);
	free(body);
	fuzz_reset();
	return 0;
}
