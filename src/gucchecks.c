/*-------------------------------------------------------------------------
 *
 * gucchecks.c
 *		Which values the agentphone.* settings accept: their check hooks,
 *		which read a value and refuse a bad one with a detail saying what
 *		is expected.  They set no variable: what is derived from a value
 *		once it is set is guc.c's (a mask parsed here is handed to its
 *		assign hook as the GUC extra, a malloc'd int).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pgtime.h"
#include "utils/guc.h"

#include "gucchecks.h"
#include "phone.h"
#include "validate.h"
#include "windowspec.h"

/*
 * gucchecks_api_url accepts only an absolute http(s) URL.  Plain http is
 * meant for the local simulator.
 */
bool
gucchecks_api_url(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;

	(void) extra;
	(void) source;

	if (v == NULL || (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0))
	{
		GUC_check_errdetail("The API URL must start with https:// (or http:// for a local simulator).");
		return false;
	}
	if (strpbrk(v, " \t\r\n?#") != NULL)
	{
		GUC_check_errdetail("The API URL must not contain spaces, a query or a fragment.");
		return false;
	}
	return true;
}

/*
 * gucchecks_sub_account_id accepts "" (none) or a sub-account id.
 */
bool
gucchecks_sub_account_id(char **newval, void **extra, GucSource source)
{
	(void) extra;
	(void) source;
	if (*newval == NULL || (*newval)[0] == '\0' || agentphone_sub_account_ok(*newval))
		return true;
	GUC_check_errdetail("A sub-account id is 1 to %d letters, digits, \"_\", \"-\", \".\" or \":\".", MAX_ID_LEN);
	return false;
}

/*
 * gucchecks_prefixes accepts a comma-separated list of number prefixes,
 * each "+" and 1 to 15 digits.
 */
bool
gucchecks_prefixes(char **newval, void **extra, GucSource source)
{
	char	   *copy = pstrdup(*newval ? *newval : "");
	char	   *save = NULL;

	(void) extra;
	(void) source;
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save))
	{
		size_t		digits;

		while (*item == ' ')
			item++;
		digits = strspn(item + 1, "0123456789");
		if (item[0] != '+' || digits < 1 || digits > 15 ||
			item[1 + digits + strspn(item + 1 + digits, " ")] != '\0')
		{
			GUC_check_errdetail("\"%s\" is not a number prefix such as +1 or +4420.", item);
			return false;
		}
	}
	return true;
}

/*
 * gucchecks_call_window accepts "" or "HH:MM[:SS]-HH:MM[:SS]", the first
 * time before the second.
 */
bool
gucchecks_call_window(char **newval, void **extra, GucSource source)
{
	const char *s = *newval;
	int			opens,
				closes,
				n1,
				n2;

	(void) extra;
	(void) source;
	if (s == NULL || s[0] == '\0')
		return true;
	n1 = windowspec_time_of_day(s, &opens);
	n2 = (n1 > 0 && s[n1] == '-') ? windowspec_time_of_day(s + n1 + 1, &closes) : 0;
	if (n2 == 0 || s[n1 + 1 + n2] != '\0' || opens >= closes)
	{
		GUC_check_errdetail("The window is two times of day, the first before the second, as in '08:00-21:00'.");
		return false;
	}
	return true;
}

/*
 * keep_mask hands a check hook's parsed mask to its assign hook (GUC
 * extra, malloc'd); a negative mask is a value refused.
 */
static bool
keep_mask(int mask, void **extra)
{
	int		   *p;

	if (mask < 0 || (p = malloc(sizeof(int))) == NULL)
		return false;
	*p = mask;
	*extra = p;
	return true;
}

/*
 * gucchecks_call_days accepts "" (every day) or days of the week and their
 * ranges (windowspec.c).
 */
bool
gucchecks_call_days(char **newval, void **extra, GucSource source)
{
	int			mask = windowspec_days(*newval ? *newval : "");

	(void) source;
	if (mask < 0)
		GUC_check_errdetail("The days are three-letter names or ranges, comma-separated, as in 'Mon-Fri' or 'Mon-Fri,Sat'.");
	return keep_mask(mask, extra);
}

/*
 * parse_number_types reads a comma-separated list of libphonenumber types
 * (phone.h's setting names) into a mask, or returns -1 naming the bad item.
 */
static int
parse_number_types(const char *s)
{
	char	   *copy = pstrdup(s);
	char	   *save = NULL;
	int			mask = 0;

	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save))
	{
		int			t;

		item += strspn(item, " ");
		item[strcspn(item, " ")] = '\0';
		if (item[0] == '\0')
			continue;
		for (t = 0; t < NUM_PHONE_TYPES; t++)
			if (pg_strcasecmp(item, phone_type_setting_name(t)) == 0)
				break;
		if (t == NUM_PHONE_TYPES)
		{
			GUC_check_errdetail("\"%s\" is not a number type; the types are fixed_line, mobile, fixed_line_or_mobile, toll_free, premium_rate, shared_cost, voip, personal_number, pager, uan, voicemail and unknown.", item);
			return -1;
		}
		mask |= 1 << t;
	}
	return mask;
}

/*
 * gucchecks_number_types accepts a list of libphonenumber's types.
 */
bool
gucchecks_number_types(char **newval, void **extra, GucSource source)
{
	(void) source;
	return keep_mask(parse_number_types(*newval ? *newval : ""), extra);
}

/*
 * gucchecks_timezone_name accepts "" or a time zone PostgreSQL knows.
 */
bool
gucchecks_timezone_name(char **newval, void **extra, GucSource source)
{
	(void) extra;
	(void) source;
	if (*newval == NULL || (*newval)[0] == '\0' || pg_tzset(*newval) != NULL)
		return true;
	GUC_check_errdetail("Time zone \"%s\" is not recognized.", *newval);
	return false;
}
