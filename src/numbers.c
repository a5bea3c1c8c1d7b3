/*-------------------------------------------------------------------------
 *
 * numbers.c
 *		Which numbers agentphone dials: the destination rules, in one place.
 *
 * A number is dialed only when libphonenumber (phone.cpp) reads it as a
 * valid number of some country and its type is one of
 * agentphone.allowed_number_types (by default fixed-line, mobile, both,
 * toll-free and VoIP: never premium-rate, shared-cost, personal, UAN,
 * voicemail-access, pager or unknown numbers), it is not a short service
 * or emergency number, and agentphone.blocked_prefixes and
 * agentphone.allowed_prefixes let it through.  The rules are checked when
 * a call is queued (agentphone_call() stores libphonenumber's E.164 form)
 * and again when it is claimed for dialing, through
 * agentphone.destination_refusal(), so a setting narrowed meanwhile still
 * holds.  The do-not-call list is checked at both times too
 * (donotcall.c); the limits, which count calls, in functions.c and in
 * agentphone.claim_calls().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "callee.h"
#include "grants.h"
#include "guc.h"
#include "numbers.h"
#include "phone.h"
#include "validate.h"
#include "window.h"
#include "xact.h"


PG_FUNCTION_INFO_V1(agentphone_destination_refusal);
PG_FUNCTION_INFO_V1(agentphone_normalize_number);
PG_FUNCTION_INFO_V1(agentphone_is_e164);
PG_FUNCTION_INFO_V1(agentphone_check_number);
PG_FUNCTION_INFO_V1(agentphone_libphonenumber_version);

/*
 * prefix_in_list returns the item of the comma-separated prefix list that
 * number starts with (palloc'd), or NULL.  The list was checked by the
 * setting's check hook: "+" and digits, blanks around.
 */
static char *
prefix_in_list(const char *list, const char *number)
{
	char	   *copy = pstrdup(list ? list : "");
	char	   *save = NULL;

	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save))
	{
		size_t		len;

		while (*item == ' ')
			item++;
		len = strcspn(item, " ");
		if (len > 0 && strncmp(number, item, len) == 0)
			return pnstrdup(item, len);
	}
	return NULL;
}

/*
 * classify_number runs libphonenumber on number; it returns why the
 * number is not a valid one, or NULL with *info filled.
 */
static char *
classify_number(const char *number, PhoneInfo *info)
{
	switch (phone_classify(number, info))
	{
		case PHONE_OK:
			return NULL;
		case PHONE_UNPARSABLE:
			return psprintf("%s is not a phone number libphonenumber can read", number);
		case PHONE_INVALID:
			return psprintf("%s is not a valid number in any country (libphonenumber %s)",
							number, AGENTPHONE_PHONENUMBER_VERSION);
		case PHONE_FAILED:
			break;
	}
	return psprintf("libphonenumber failed to classify %s", number);
}

/*
 * destination_problem says why number (E.164 syntax, checked by the
 * caller) may not be dialed, with *hint the way out, or returns NULL and
 * fills *info (whose e164 is set whenever the number could be classified).
 */
static char *
destination_problem(const char *number, PhoneInfo *info, const char **hint)
{
	char	   *problem;
	char	   *prefix;

	info->e164[0] = '\0';		/* set once the number is classified */
	*hint = "Check the number with agentphone_check_number(): agentphone dials only numbers libphonenumber knows as valid.";
	if (agentphone_is_short_number(number))
	{
		*hint = "agentphone never dials short service or emergency numbers.";
		return psprintf("%s is a short service or emergency number", number);
	}
	if ((problem = classify_number(number, info)) != NULL)
		return problem;
	*hint = "A superuser decides which kinds of number are dialed with agentphone.allowed_number_types and which ranges with agentphone.blocked_prefixes and agentphone.allowed_prefixes (see README \"Responsible dialing\").";
	if ((agentphone_allowed_type_mask & (1 << info->type)) == 0)
		return psprintf("%s is %s, which agentphone.allowed_number_types (%s) leaves out",
						info->e164, phone_type_words(info->type),
						agentphone_allowed_number_types);
	if ((prefix = prefix_in_list(agentphone_blocked_prefixes, info->e164)) != NULL)
		return psprintf("%s is in a blocked range (prefix %s of agentphone.blocked_prefixes)",
						info->e164, prefix);
	if (agentphone_allowed_prefixes[0] != '\0' &&
		prefix_in_list(agentphone_allowed_prefixes, info->e164) == NULL)
		return psprintf("%s is not in agentphone.allowed_prefixes (%s)",
						info->e164, agentphone_allowed_prefixes);
	return NULL;
}

/*
 * callee_classify fills *callee with number's classification (its E.164
 * form is the number agentphone dials), or raises 22023 saying why the
 * number may not be dialed.  Its zones are left for callee_set_timezone().
 */
void
callee_classify(const char *number, Callee *callee)
{
	const char *hint;
	char	   *problem = destination_problem(number, &callee->phone, &hint);

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("agentphone will not call %s", number),
				 errdetail("%s.", problem),
				 errhint("%s", hint)));
	callee->zones = NIL;
}

/*
 * agentphone.destination_refusal(number text) returns why number may not
 * be dialed now, or NULL: the check the claim repeats before dialing.
 */
Datum
agentphone_destination_refusal(PG_FUNCTION_ARGS)
{
	char	   *number = text_to_cstring(PG_GETARG_TEXT_PP(0));
	PhoneInfo	info;
	const char *hint;
	char	   *problem = destination_problem(number, &info, &hint);

	if (problem == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(problem));
}

/*
 * agentphone_normalized_number returns a valid number in its E.164 form
 * (a trunk zero dropped, say), anything else unchanged: the do-not-call
 * list matches numbers as agentphone_call() stores them.
 */
char *
agentphone_normalized_number(const char *number)
{
	PhoneInfo	info;

	if (phone_classify(number, &info) != PHONE_OK)
		return pstrdup(number);
	return pstrdup(info.e164);
}

/*
 * agentphone.normalize_number(number text) is SQL's face of
 * agentphone_normalized_number().
 */
Datum
agentphone_normalize_number(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(agentphone_normalized_number(text_to_cstring(PG_GETARG_TEXT_PP(0)))));
}

/*
 * agentphone.is_e164(number text) says whether number is in E.164 form,
 * by agentphone_call()'s rule: the do-not-call list's check and its
 * table's constraint (since 1.4).
 */
Datum
agentphone_is_e164(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(agentphone_number_is_e164(text_to_cstring(PG_GETARG_TEXT_PP(0))));
}

/*
 * agentphone_check_number(number text) tells what agentphone makes of a
 * number: its E.164 form, type, region and time zones, and why it would
 * be refused (NULL: it would be dialed, the do-not-call list and the
 * limits aside).
 */
Datum
agentphone_check_number(PG_FUNCTION_ARGS)
{
	char	   *number = text_to_cstring(PG_GETARG_TEXT_PP(0));
	TupleDesc	desc;
	Datum		v[5];
	bool		n[5] = {true, true, true, true, false};
	PhoneInfo	info;
	const char *hint;
	char	   *problem;

	agentphone_require_grant(false);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	agentphone_check_e164("number", number);
	problem = destination_problem(number, &info, &hint);
	if (info.e164[0] != '\0')
	{
		v[0] = CStringGetTextDatum(info.e164);
		v[1] = CStringGetTextDatum(phone_type_setting_name(info.type));
		v[2] = CStringGetTextDatum(info.region);
		v[3] = agentphone_region_zones(info.region);
		n[0] = n[1] = false;
		n[2] = (info.region[0] == '\0');
		n[3] = (v[3] == (Datum) 0);
	}
	v[4] = problem ? CStringGetTextDatum(problem) : (Datum) 0;
	n[4] = (problem == NULL);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, v, n)));
}

/*
 * agentphone_libphonenumber_version() returns the version of
 * libphonenumber, and so of its numbering metadata, agentphone was built
 * with.
 */
Datum
agentphone_libphonenumber_version(PG_FUNCTION_ARGS)
{
	(void) fcinfo;
	agentphone_require_grant(false);
	PG_RETURN_TEXT_P(cstring_to_text(AGENTPHONE_PHONENUMBER_VERSION));
}
