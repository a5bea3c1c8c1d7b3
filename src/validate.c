/*-------------------------------------------------------------------------
 *
 * validate.c
 *		Checks applied to every argument of agentphone_call() before a call
 *		is queued.
 *
 * Each failed check raises an ERROR with errcode 22023
 * (invalid_parameter_value), a detail saying what was wrong and a hint
 * showing what is expected, so a bad row never reaches the queue.  The
 * limits are documented in the README.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "validate.h"

#define E164_HINT "Write the number in E.164 form: a plus sign, the country code and the number, digits only, e.g. +14155550100."
#define SHORT_NUMBER_HINT "A short number cannot be queued: for an emergency, use a phone; for a subscriber, give the full number in E.164 form, e.g. +14155550100."

/*
 * agentphone_check_text checks a text argument's presence and length in
 * characters.  NULL is refused only when the argument is required; an
 * empty string is refused unless empty_ok (an empty initial greeting means
 * "wait silently" to the API).
 */
void
agentphone_check_text(const char *argname, const char *value, int maxlen,
					  bool required, bool empty_ok)
{
	int			len;

	if (value == NULL && required)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be null", argname),
				 errhint("Pass the AgentPhone %s, for example 'agt_1'.", argname)));
	if (value == NULL)
		return;
	if (value[0] == '\0' && !empty_ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", argname),
				 required ? errhint("Pass the AgentPhone %s, for example 'agt_1'.", argname)
				 : errhint("Pass NULL to leave %s out.", argname)));
	len = pg_mbstrlen(value);
	if (len > maxlen)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is too long", argname),
				 errdetail("It has %d characters; at most %d are accepted.", len, maxlen),
				 errhint("Shorten %s.", argname)));
}

/*
 * agentphone_is_short_number says whether number (digits after an optional
 * "+") has fewer than MIN_NUMBER_DIGITS digits: a short service or
 * emergency number, which agentphone never dials.
 */
bool
agentphone_is_short_number(const char *number)
{
	const char *digits = number[0] == '+' ? number + 1 : number;
	size_t		n = strlen(digits);

	return n > 0 && n < MIN_NUMBER_DIGITS && strspn(digits, "0123456789") == n;
}

/*
 * e164_problem returns why number is not in E.164 form, or NULL when it is:
 * a "+", a digit 1-9, then 1 to 14 more digits.  *hint is set to the fix.
 */
static const char *
e164_problem(const char *number, char *buf, size_t buflen, const char **hint)
{
	const char *p;
	int			ndigits;

	*hint = E164_HINT;
	if (number[0] != '+' && agentphone_is_short_number(number))
	{
		*hint = SHORT_NUMBER_HINT;
		return "It is a short service or emergency number, which agentphone never dials.";
	}
	if (number[0] != '+')
		return "It does not start with a plus sign.";
	if (number[1] == '0')
		return "The country code must not start with 0.";
	for (p = number + 1, ndigits = 0; *p; p++, ndigits++)
	{
		if (*p < '0' || *p > '9')
		{
			snprintf(buf, buflen,
					 "Only digits may follow the plus sign, but character %d is \"%.*s\".",
					 (int) (p - number) + 1, pg_mblen(p), p);
			return buf;
		}
	}
	if (ndigits < 2)
		return "It has fewer than 2 digits.";
	if (ndigits > 15)
	{
		snprintf(buf, buflen, "It has %d digits; E.164 numbers have at most 15.", ndigits);
		return buf;
	}
	return NULL;
}

/*
 * agentphone_number_is_e164 says whether number is in E.164 form: the one
 * definition of the rule, which SQL applies through agentphone.is_e164()
 * (numbers.c).
 */
bool
agentphone_number_is_e164(const char *number)
{
	char		buf[128];
	const char *hint;

	return e164_problem(number, buf, sizeof(buf), &hint) == NULL;
}

/*
 * agentphone_check_e164 raises an error unless number is an E.164 phone
 * number.
 */
void
agentphone_check_e164(const char *argname, const char *number)
{
	char		buf[128];
	const char *problem;
	const char *hint;

	if (number == NULL || number[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be %s", argname, number == NULL ? "null" : "empty"),
				 errhint(E164_HINT)));
	problem = e164_problem(number, buf, sizeof(buf), &hint);
	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid phone number \"%s\" for %s", number, argname),
				 errdetail("%s", problem),
				 errhint("%s", hint)));
}

/*
 * scalar_text renders a scalar variable value as the API's string, or NULL
 * for JSON null.  Nested objects and arrays are refused.
 */
static char *
scalar_text(const char *name, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return NULL;
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out,
													   NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("variable \"%s\" must be a string, number, boolean or null", name),
					 errdetail("Nested objects and arrays cannot be passed to the agent."),
					 errhint("Flatten the value, e.g. jsonb_build_object('name', name, 'city', address->>'city').")));
	}
	return NULL;				/* keep compiler quiet */
}

/*
 * push_variable appends one normalized name/value pair to the object being
 * built, after checking the documented limits.
 */
static void
push_variable(JsonbParseState **state, JsonbValue *key, JsonbValue *val)
{
	char	   *name = pnstrdup(key->val.string.val, key->val.string.len);
	char	   *text = scalar_text(name, val);
	JsonbValue	out;

	if (name[0] == '\0' || pg_mbstrlen(name) > MAX_VAR_NAME_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid variable name \"%s\"", name),
				 errdetail("Variable names must have 1 to %d characters.", MAX_VAR_NAME_LEN),
				 errhint("Use short names such as \"name\" or \"appointment_time\".")));
	if (text != NULL && pg_mbstrlen(text) > MAX_VAR_VALUE_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("variable \"%s\" is too long", name),
				 errdetail("Its value has %d characters; at most %d are accepted.",
						   pg_mbstrlen(text), MAX_VAR_VALUE_LEN),
				 errhint("Shorten the value.")));

	pushJsonbValue(state, WJB_KEY, key);
	if (text == NULL)
		out.type = jbvNull;
	else
	{
		out.type = jbvString;
		out.val.string.val = text;
		out.val.string.len = strlen(text);
	}
	pushJsonbValue(state, WJB_VALUE, &out);
}

/*
 * agentphone_normalize_variables checks the variables argument and returns
 * it as the API wants it: an object whose values are strings or null.
 * Numbers and booleans become their text.  NULL stays NULL.
 */
Jsonb *
agentphone_normalize_variables(Jsonb *variables)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbValue	key;
	JsonbValue *res = NULL;
	JsonbParseState *state = NULL;
	JsonbIteratorToken tok;
	int			count = 0;

	if (variables == NULL)
		return NULL;
	if (!JB_ROOT_IS_OBJECT(variables))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("variables must be a JSON object"),
				 errdetail("The value given is a JSON %s.",
						   JB_ROOT_IS_SCALAR(variables) ? "scalar" : "array"),
				 errhint("Pass an object of names and values, e.g. jsonb_build_object('name', 'Ada').")));
	if (JB_ROOT_COUNT(variables) > MAX_VARIABLES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("too many variables"),
				 errdetail("%d variables were given; at most %d are accepted.",
						   (int) JB_ROOT_COUNT(variables), MAX_VARIABLES),
				 errhint("Pass only the variables the agent's prompt uses.")));

	it = JsonbIteratorInit(&variables->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_OBJECT || tok == WJB_END_OBJECT)
			res = pushJsonbValue(&state, tok, NULL);
		else if (tok == WJB_KEY)
			key = v;
		else if (tok == WJB_VALUE)
		{
			push_variable(&state, &key, &v);
			count++;
		}
	}
	Assert(count <= MAX_VARIABLES);
	return JsonbValueToJsonb(res);
}

/*
 * agentphone_sub_account_ok tells whether id may be sent as a sub-account
 * (the X-Sub-Account-Id header): 1 to MAX_ID_LEN letters, digits and
 * "_", "-", ".", ":", which no header can be smuggled through.
 */
bool
agentphone_sub_account_ok(const char *id)
{
	size_t		n = strlen(id);

	if (n == 0 || n > MAX_ID_LEN)
		return false;
	return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.:") == n;
}

PG_FUNCTION_INFO_V1(agentphone_is_sub_account_id);

/*
 * agentphone_is_sub_account_id(id text) is agentphone_sub_account_ok() for
 * SQL: the calls table's constraint on options.subAccountId (since 1.5).
 */
Datum
agentphone_is_sub_account_id(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(agentphone_sub_account_ok(text_to_cstring(PG_GETARG_TEXT_PP(0))));
}

/*
 * check_option checks one key of the options argument.  The keys are the
 * API's own body fields that agentphone_call() has no argument for, and
 * subAccountId, sent as the X-Sub-Account-Id header.
 */
static void
check_option(const char *name, JsonbValue *v)
{
	char	   *s = NULL;
	bool		known = strcmp(name, "modelTier") == 0 ||
		strcmp(name, "callScreeningIdentity") == 0 ||
		strcmp(name, "callScreeningPurpose") == 0 ||
		strcmp(name, "disableRecording") == 0 ||
		strcmp(name, "subAccountId") == 0;

	if (known && v->type == jbvNull)
		return;					/* null means "leave it out" */
	if (v->type == jbvString)
		s = pnstrdup(v->val.string.val, v->val.string.len);

	if (strcmp(name, "modelTier") == 0)
	{
		if (s == NULL ||
			(strcmp(s, "turbo") != 0 && strcmp(s, "balanced") != 0 && strcmp(s, "max") != 0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid option modelTier"),
					 errdetail("modelTier must be one of the strings \"turbo\", \"balanced\" or \"max\"."),
					 errhint("For example: jsonb_build_object('modelTier', 'balanced').")));
	}
	else if (strcmp(name, "callScreeningIdentity") == 0 ||
			 strcmp(name, "callScreeningPurpose") == 0)
	{
		bool		identity = strcmp(name, "callScreeningIdentity") == 0;
		int			max = identity ? MAX_SCREEN_ID_LEN : MAX_SCREEN_PURPOSE_LEN;

		if (s == NULL || pg_mbstrlen(s) > max)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid option %s", name),
					 errdetail("%s must be a string of at most %d characters.", name, max),
					 errhint("For example: jsonb_build_object('%s', '%s').", name,
							 identity ? "Acme Dental" : "to confirm your appointment")));
	}
	else if (strcmp(name, "subAccountId") == 0)
	{
		if (s == NULL || !agentphone_sub_account_ok(s))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid option subAccountId"),
					 errdetail("subAccountId must be a string of 1 to %d letters, digits, \"_\", \"-\", \".\" or \":\".", MAX_ID_LEN),
					 errhint("Use the sub-account's id as the AgentPhone API gives it, for example jsonb_build_object('subAccountId', 'sub_123').")));
	}
	else if (strcmp(name, "disableRecording") == 0)
	{
		if (v->type != jbvBool)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid option disableRecording"),
					 errdetail("disableRecording must be a JSON boolean."),
					 errhint("For example: jsonb_build_object('disableRecording', true).")));
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown option \"%s\"", name),
				 errdetail("options may hold only modelTier, callScreeningIdentity, callScreeningPurpose, disableRecording and subAccountId."),
				 errhint("Pass the other call fields as arguments of agentphone_call().")));
}

/*
 * agentphone_check_options checks the options argument: an object whose
 * keys are among the API's documented extra body fields, each with the
 * documented type.  A JSON null value means "leave it out".
 */
void
agentphone_check_options(Jsonb *options)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *name = NULL;

	if (options == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a JSON object"),
				 errhint("For example: jsonb_build_object('modelTier', 'turbo').")));

	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			name = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE)
			check_option(name, &v);
	}
}

/* Longest timeout honoured: a longer one waits this long (100 years). */
#define MAX_TIMEOUT_MS ((int64) 100 * 365 * 24 * 3600 * 1000)

/*
 * agentphone_interval_ms converts a timeout to milliseconds, refusing
 * negative ones and capping huge ones (no overflow, whatever the interval).
 */
int64
agentphone_interval_ms(Interval *iv)
{
	double		us = (double) iv->time + (double) iv->day * USECS_PER_DAY +
		(double) iv->month * DAYS_PER_MONTH * USECS_PER_DAY;

	if (us > (double) MAX_TIMEOUT_MS * 1000)
		return MAX_TIMEOUT_MS;
	if (us < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout must not be negative"),
				 errhint("Pass an interval such as '30 seconds'.")));
	return (int64) (us / 1000);
}
