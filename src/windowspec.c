/*-------------------------------------------------------------------------
 *
 * windowspec.c
 *		Reading the values of the calling window's settings: the times of
 *		day of agentphone.call_window ("HH:MM[:SS]-HH:MM[:SS]"), and the
 *		days of the week of agentphone.call_days ("Mon-Fri,Sun").
 *
 * The settings' hooks (gucchecks.c, guc.c) read them here; when a callee
 * may be rung in them is window.c's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "windowspec.h"

/*
 * windowspec_time_of_day reads "HH:MM" or "HH:MM:SS" (24:00 allowed) at s
 * into seconds since midnight; returns the characters read, or 0.
 */
int
windowspec_time_of_day(const char *s, int *seconds)
{
	int			h,
				m,
				sec = 0,
				n = 0;

	if (sscanf(s, "%2d:%2d%n", &h, &m, &n) != 2)
		return 0;
	if (s[n] == ':')
	{
		int			n2 = 0;

		if (sscanf(s + n, ":%2d%n", &sec, &n2) != 1)
			return 0;
		n += n2;
	}
	if (h < 0 || h > 24 || m < 0 || m > 59 || sec < 0 || sec > 59 ||
		(h == 24 && (m != 0 || sec != 0)))
		return 0;
	*seconds = h * 3600 + m * 60 + sec;
	return n;
}

static const char *const day_names[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/*
 * day_number returns 0 (Sunday) to 6 for a three-letter day name, or -1.
 */
static int
day_number(const char *s, size_t len)
{
	for (int d = 0; d < 7; d++)
		if (len == 3 && pg_strncasecmp(s, day_names[d], 3) == 0)
			return d;
	return -1;
}

/*
 * windowspec_days reads "" (every day) or a comma-separated list of days
 * and ranges ("Mon-Fri", "Mon-Fri,Sun"), into a mask of bit 0 = Sunday;
 * returns -1 if it is not one.
 */
int
windowspec_days(const char *s)
{
	char	   *copy = pstrdup(s);
	char	   *save = NULL;
	int			mask = 0;

	if (s[strspn(s, " ")] == '\0')
		return 0x7f;
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save))
	{
		int			from,
					to;
		char	   *dash;

		item += strspn(item, " ");
		item[strcspn(item, " ")] = '\0';
		dash = strchr(item, '-');
		from = day_number(item, dash ? (size_t) (dash - item) : strlen(item));
		to = dash ? day_number(dash + 1, strlen(dash + 1)) : from;
		if (from < 0 || to < 0)
			return -1;
		for (int d = from;; d = (d + 1) % 7)
		{
			mask |= 1 << d;
			if (d == to)
				break;
		}
	}
	return mask;
}
