/*-------------------------------------------------------------------------
 *
 * fuzz_validate.c
 *		libFuzzer targets for the argument checks of src/validate.c, which
 *		see whatever a user passes to agentphone_call().
 *
 * One binary, several targets; the target is the name the binary is run
 * under (run.sh makes one link per target) or $FUZZ_TARGET:
 *
 *	 e164		agentphone_check_e164 and agentphone_check_text on the input
 *				as a text value
 *	 variables	agentphone_normalize_variables on the input as a jsonb value
 *	 options	agentphone_check_options on the input as a jsonb value
 *
 * Inputs reach the checks as they would in a UTF-8 database: text stops
 * at the first NUL byte and must be valid UTF-8 (the server refuses other
 * text before any function sees it), and jsonb comes from PostgreSQL's own
 * jsonb_in; input it rejects is skipped.  Each check must either return or
 * raise an ERROR with SQLSTATE 22023 and a hint, and the outcome must match
 * the rules the README documents, worked out independently here (is_e164,
 * the loops over the jsonb, and the variables' text from the input's JSON
 * text rather than from the jsonb value).  An ERROR is an expected outcome; a crash, a
 * wrong outcome or another SQLSTATE aborts, so libFuzzer keeps the input.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/jsonapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/fmgrprotos.h"
#include "validate.h"

#include "fuzz.h"

typedef enum ValidateTarget
{
	V_E164,
	V_VARIABLES,
	V_OPTIONS
} ValidateTarget;

static const char *const target_names[] = {
	[V_E164] = "e164",
	[V_VARIABLES] = "variables",
	[V_OPTIONS] = "options",
};

static ValidateTarget target;

/* number of characters of a valid UTF-8 string */
static int
utf8_chars(const char *s, int len)
{
	int			n = 0;

	for (int i = 0; i < len; i++)
		if (((unsigned char) s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/* The check raised an ERROR: it must be 22023 with a message and a hint. */
static void
check_refusal(const char *what)
{
	FUZZ_EXPECT(fuzz_error.sqlerrcode == ERRCODE_INVALID_PARAMETER_VALUE,
				"%s raised an ERROR with SQLSTATE other than 22023", what);
	FUZZ_EXPECT(fuzz_error.message != NULL && fuzz_error.hint != NULL,
				"%s raised an ERROR without message or hint", what);
}

/* ----- e164 ----- */

/* E.164 as the README states it: "+", a digit 1-9, 1 to 14 more digits. */
static bool
is_e164(const char *s)
{
	size_t		n = strlen(s);

	if (n < 3 || n > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return false;
	for (size_t i = 2; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

typedef struct TextArgs
{
	const char *argname;
	const char *value;
	int			maxlen;
	bool		required;
	bool		empty_ok;
} TextArgs;

static void
call_check_e164(void *arg)
{
	TextArgs   *a = arg;

	agentphone_check_e164(a->argname, a->value);
}

static void
call_check_text(void *arg)
{
	TextArgs   *a = arg;

	agentphone_check_text(a->argname, a->value, a->maxlen, a->required, a->empty_ok);
}

static void
fuzz_e164(const char *value)
{
	TextArgs	a = {"to_number", value, 0, false, false};
	bool		ok = fuzz_call(call_check_e164, &a);
	bool		want = value != NULL && is_e164(value);

	FUZZ_EXPECT(ok == want, "agentphone_check_e164 %s \"%.80s\"",
				ok ? "accepted" : "refused", value ? value : "(null)");
	if (!ok)
		check_refusal("agentphone_check_e164");
}

static void
fuzz_text(const char *value, int maxlen, bool required, bool empty_ok)
{
	TextArgs	a = {"agent_id", value, maxlen, required, empty_ok};
	bool		ok = fuzz_call(call_check_text, &a);
	bool		want;

	if (value == NULL)
		want = !required;
	else
		want = (value[0] != '\0' || empty_ok) &&
			utf8_chars(value, strlen(value)) <= maxlen;
	FUZZ_EXPECT(ok == want, "agentphone_check_text(maxlen %d, required %d, empty_ok %d) %s \"%.80s\"",
				maxlen, required, empty_ok, ok ? "accepted" : "refused",
				value ? value : "(null)");
	if (!ok)
		check_refusal("agentphone_check_text");
}

/* ----- variables and options ----- */

typedef struct JsonbArgs
{
	const char *text;
	Jsonb	   *in;
	Jsonb	   *out;
} JsonbArgs;

static void
call_jsonb_in(void *arg)
{
	JsonbArgs  *a = arg;

	a->in = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(a->text)));
}

static void
call_normalize(void *arg)
{
	JsonbArgs  *a = arg;

	a->out = agentphone_normalize_variables(a->in);
}

static void
call_check_options(void *arg)
{
	JsonbArgs  *a = arg;

	agentphone_check_options(a->in);
}

/*
 * The text each variable must become is worked out from the input's JSON
 * text, not from the jsonb value the function is given: a pass of the
 * JSON parser (common/jsonapi.c) over the text collects the top-level
 * members as written, the last of a repeated name winning (as in jsonb),
 * and each value's text follows from how it is written: a string is its
 * characters, true and false those words, a number the decimal that
 * number_text derives from the literal, null none.  So the harness does
 * not compute the text the way validate.c does (jsonb's value, numbers
 * through numeric_out).
 */
typedef struct Member
{
	char	   *name;
	char	   *text;			/* its value's text; NULL for null */
	bool		nested;			/* its value is an object or array */
} Member;

typedef struct Members
{
	Member	   *m;
	int			n;
	int			size;
	int			depth;			/* nesting at this point of the parse */
	Member	   *value_of;		/* the member whose value comes next */
} Members;

/*
 * number_text: the text PostgreSQL gives the JSON number literal lit, as
 * the README has it ("numbers become their text"): plain decimal, with no
 * exponent and no leading zeros, "-" only before a value that is not
 * zero, and as many decimals as the literal has after its point less its
 * exponent (1.50 is "1.50", 1e2 "100", 1.5e-3 "0.0015").
 */
static char *
number_text(const char *lit)
{
	const char *p = lit;
	bool		negative = false;
	char	   *digits = palloc(strlen(lit) + 1);
	int			ndigits = 0;
	int			intdigits = 0;
	int			fracdigits = 0;
	int			first;
	long		exponent = 0;
	long		point;			/* digits before the decimal point */
	long		scale;			/* digits after it */
	StringInfoData out;

	if (*p == '-')
	{
		negative = true;
		p++;
	}
	for (; *p >= '0' && *p <= '9'; p++, intdigits++)
		digits[ndigits++] = *p;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, fracdigits++)
			digits[ndigits++] = *p;
	if (*p == 'e' || *p == 'E')
		exponent = strtol(p + 1, NULL, 10);
	scale = Max(0, fracdigits - exponent);
	for (first = 0; first < ndigits && digits[first] == '0'; first++)
		;
	initStringInfo(&out);
	if (first == ndigits)
	{
		/* zero: no sign, and the exponent moves no digit into view */
		appendStringInfoChar(&out, '0');
		point = 0;
	}
	else
	{
		point = intdigits + exponent;
		FUZZ_CHECK(point - first < 1000000 && scale < 1000000,
				   "jsonb took the number %.80s, which has more digits than it can hold", lit);
		if (negative)
			appendStringInfoChar(&out, '-');
		if (point <= first)
			appendStringInfoChar(&out, '0');
		for (long i = first; i < point; i++)
			appendStringInfoChar(&out, i < ndigits ? digits[i] : '0');
	}
	if (scale > 0)
	{
		appendStringInfoChar(&out, '.');
		for (long i = point; i < point + scale; i++)
			appendStringInfoChar(&out, i >= 0 && i < ndigits ? digits[i] : '0');
	}
	return out.data;
}

static void
members_struct_start(void *state)
{
	Members    *ms = state;

	if (ms->depth == 1 && ms->value_of)
		ms->value_of->nested = true;
	ms->depth++;
}

static void
members_struct_end(void *state)
{
	((Members *) state)->depth--;
}

static void
members_field_start(void *state, char *fname, bool isnull)
{
	Members    *ms = state;
	Member	   *m = NULL;

	if (ms->depth != 1)
		return;
	for (int i = 0; i < ms->n && m == NULL; i++)
		if (strcmp(ms->m[i].name, fname) == 0)
			m = &ms->m[i];
	if (m == NULL)
	{
		if (ms->n == ms->size)
		{
			ms->size = ms->size ? 2 * ms->size : 16;
			ms->m = ms->m ? repalloc(ms->m, ms->size * sizeof(Member)) :
				palloc(ms->size * sizeof(Member));
		}
		m = &ms->m[ms->n++];
		m->name = fname;
	}
	m->text = NULL;
	m->nested = false;
	ms->value_of = m;
}

static void
members_scalar(void *state, char *token, JsonTokenType type)
{
	Members    *ms = state;

	if (ms->depth != 1 || ms->value_of == NULL)
		return;
	switch (type)
	{
		case JSON_TOKEN_STRING:
			ms->value_of->text = token;
			break;
		case JSON_TOKEN_NUMBER:
			ms->value_of->text = number_text(token);
			break;
		case JSON_TOKEN_TRUE:
			ms->value_of->text = "true";
			break;
		case JSON_TOKEN_FALSE:
			ms->value_of->text = "false";
			break;
		default:
			ms->value_of->text = NULL;	/* null */
			break;
	}
	ms->value_of = NULL;
}

/* The top-level members of the object written in json (jsonb_in took it). */
static Members *
members_of(const char *json)
{
	Members    *ms = palloc0(sizeof(Members));
	JsonSemAction sem = {0};
	JsonLexContext *lex;

	sem.semstate = ms;
	sem.object_start = members_struct_start;
	sem.object_end = members_struct_end;
	sem.array_start = members_struct_start;
	sem.array_end = members_struct_end;
	sem.object_field_start = members_field_start;
	sem.scalar = members_scalar;
	lex = makeJsonLexContextCstringLen(pstrdup(json), strlen(json), PG_UTF8, true);
	FUZZ_CHECK(pg_parse_json(lex, &sem) == JSON_SUCCESS,
			   "the JSON parser refused what jsonb_in took");
	return ms;
}

/* The member of ms named by the jsonb string key. */
static Member *
member_named(Members *ms, JsonbValue *key)
{
	for (int i = 0; i < ms->n; i++)
		if ((int) strlen(ms->m[i].name) == key->val.string.len &&
			memcmp(ms->m[i].name, key->val.string.val, key->val.string.len) == 0)
			return &ms->m[i];
	FUZZ_CHECK(false, "jsonb has a member \"%.*s\" the JSON text does not",
			   Min(key->val.string.len, 80), key->val.string.val);
	return NULL;
}

/*
 * Does the variables object in (written as ms) follow the README's rules?
 * At most MAX_VARIABLES names of 1 to MAX_VAR_NAME_LEN characters, each
 * value a scalar whose text has at most MAX_VAR_VALUE_LEN characters.
 */
static bool
variables_allowed(Jsonb *in, Members *ms)
{
	if (!JB_ROOT_IS_OBJECT(in) || JB_ROOT_COUNT(in) > MAX_VARIABLES)
		return false;
	FUZZ_EXPECT(ms->n == (int) JB_ROOT_COUNT(in),
				"the JSON text has %d members, jsonb %u", ms->n, JB_ROOT_COUNT(in));
	for (int i = 0; i < ms->n; i++)
	{
		Member	   *m = &ms->m[i];
		int			n = utf8_chars(m->name, strlen(m->name));

		if (n < 1 || n > MAX_VAR_NAME_LEN || m->nested)
			return false;
		if (m->text && utf8_chars(m->text, strlen(m->text)) > MAX_VAR_VALUE_LEN)
			return false;
	}
	return true;
}

/*
 * check_normalized compares the normalized object with the input: the same
 * keys in the same order, each value the text the JSON text gives it (ms;
 * null stays null).
 */
static void
check_normalized(Jsonb *in, Members *ms, Jsonb *out)
{
	JsonbIterator *iin;
	JsonbIterator *iout;
	JsonbValue	vin;
	JsonbValue	vout;
	JsonbIteratorToken tin;
	JsonbIteratorToken tout;
	Member	   *member = NULL;

	FUZZ_CHECK(out != NULL, "agentphone_normalize_variables returned NULL");
	FUZZ_EXPECT(JB_ROOT_IS_OBJECT(out) && JB_ROOT_COUNT(out) == JB_ROOT_COUNT(in),
				"normalized variables are not an object of %u keys", JB_ROOT_COUNT(in));
	iin = JsonbIteratorInit(&in->root);
	iout = JsonbIteratorInit(&out->root);
	do
	{
		tin = JsonbIteratorNext(&iin, &vin, true);
		tout = JsonbIteratorNext(&iout, &vout, true);
		FUZZ_CHECK(tin == tout, "normalized variables have another structure");
		if (tin == WJB_KEY)
		{
			FUZZ_EXPECT(vin.val.string.len == vout.val.string.len &&
						memcmp(vin.val.string.val, vout.val.string.val, vin.val.string.len) == 0,
						"a variable was renamed");
			member = member_named(ms, &vin);
		}
		else if (tin == WJB_VALUE)
		{
			char	   *want = member->text;

			if (want == NULL)
				FUZZ_EXPECT(vout.type == jbvNull, "a null variable is not null");
			else
				FUZZ_EXPECT(vout.type == jbvString &&
							vout.val.string.len == (int) strlen(want) &&
							memcmp(vout.val.string.val, want, strlen(want)) == 0,
							"variable value \"%.80s\" was not kept as text", want);
		}
	} while (tin != WJB_DONE);
}

static void
fuzz_variables(const char *json, Jsonb *in)
{
	JsonbArgs	a = {NULL, in, NULL};
	bool		ok = fuzz_call(call_normalize, &a);
	Members    *ms = in && JB_ROOT_IS_OBJECT(in) && JB_ROOT_COUNT(in) <= MAX_VARIABLES ?
		members_of(json) : NULL;
	bool		want = in == NULL || (ms && variables_allowed(in, ms));

	FUZZ_EXPECT(ok == want, "agentphone_normalize_variables %s the input",
				ok ? "accepted" : "refused");
	if (!ok)
		check_refusal("agentphone_normalize_variables");
	else if (in == NULL)
		FUZZ_EXPECT(a.out == NULL, "NULL variables did not stay NULL");
	else
		check_normalized(in, ms, a.out);
}

/* Does the options object in follow the README's rules? */
static bool
options_allowed(Jsonb *in)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (!JB_ROOT_IS_OBJECT(in))
		return false;
	it = JsonbIteratorInit(&in->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			key = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE)
		{
			char	   *s = v.type == jbvString ?
				pnstrdup(v.val.string.val, v.val.string.len) : NULL;

			if (strcmp(key, "modelTier") == 0)
			{
				if (v.type != jbvNull &&
					!(s && (strcmp(s, "turbo") == 0 || strcmp(s, "balanced") == 0 ||
							strcmp(s, "max") == 0)))
					return false;
			}
			else if (strcmp(key, "callScreeningIdentity") == 0 ||
					 strcmp(key, "callScreeningPurpose") == 0)
			{
				int			max = key[13] == 'I' ? MAX_SCREEN_ID_LEN : MAX_SCREEN_PURPOSE_LEN;

				if (v.type != jbvNull && !(s && utf8_chars(s, strlen(s)) <= max))
					return false;
			}
			else if (strcmp(key, "disableRecording") == 0)
			{
				if (v.type != jbvNull && v.type != jbvBool)
					return false;
			}
			else
				return false;
		}
	}
	return true;
}

static void
fuzz_options(Jsonb *in)
{
	JsonbArgs	a = {NULL, in, NULL};
	bool		ok = fuzz_call(call_check_options, &a);
	bool		want = in == NULL || options_allowed(in);

	FUZZ_EXPECT(ok == want, "agentphone_check_options %s the input",
				ok ? "accepted" : "refused");
	if (!ok)
		check_refusal("agentphone_check_options");
}

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* a UTF-8 database */
	SetDatabaseEncoding(PG_UTF8);
	target = (ValidateTarget) fuzz_choose_target("fuzz_validate", argc, argv,
												 target_names, lengthof(target_names));
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		stack_base;
	char	   *text;

	fuzz_begin_input(&stack_base);
	/* a text value: up to the first NUL, valid UTF-8 */
	text = fuzz_cstring(data, size);
	if (!fuzz_valid_utf8(text, strlen(text)))
	{
		fuzz_reset();
		return -1;				/* not a value the server would pass */
	}

	if (target == V_E164)
	{
		fuzz_e164(text);
		fuzz_text(text, MAX_ID_LEN, true, false);
		fuzz_text(text, MAX_GREETING_LEN, false, true);
		if (size == 0)
		{
			fuzz_e164(NULL);
			fuzz_text(NULL, MAX_ID_LEN, true, false);
			fuzz_text(NULL, MAX_ID_LEN, false, false);
		}
	}
	else
	{
		JsonbArgs	a = {text, NULL, NULL};

		if (size == 0)
		{
			/* SQL NULL */
			if (target == V_VARIABLES)
				fuzz_variables(NULL, NULL);
			else
				fuzz_options(NULL);
		}
		else if (fuzz_call(call_jsonb_in, &a))
		{
			if (target == V_VARIABLES)
				fuzz_variables(text, a.in);
			else
				fuzz_options(a.in);
		}
		else if (fuzz_verbose)
			fprintf(stderr, "jsonb_in refused the input\n");
	}
	fuzz_reset();
	return 0;
}
