/*-------------------------------------------------------------------------
 *
 * window.c
 *		When a callee may be rung: the time zones of the number's country
 *		and agentphone.call_window / agentphone.call_days in each of them.
 *
 * The zones of a country come from tzdata's tables (zone.tab and
 * zone1970.tab under AGENTPHONE_TZDIR, read once per process): the region
 * is libphonenumber's (phone.cpp).  A time zone given to agentphone_call()
 * must be one of them, so a far-away zone cannot open the window at will;
 * with none given the window must be open in every zone of the country at
 * once (a call to a +1 number waits until it is between 08:00 and 21:00
 * from New York to Honolulu).  Numbers of no country (+800, say) use
 * agentphone.default_timezone.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "pgtime.h"
#include "storage/fd.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/memutils.h"

#include "callee.h"
#include "guc.h"
#include "phone.h"
#include "window.h"


PG_FUNCTION_INFO_V1(agentphone_window_opens);
PG_FUNCTION_INFO_V1(agentphone_window_wait_text);

#ifndef AGENTPHONE_TZDIR
#define AGENTPHONE_TZDIR "/usr/share/zoneinfo"
#endif

/* How far ahead the window is looked for before it is said never to open. */
#define WINDOW_HORIZON_DAYS 8
/* Rounds of "open in every zone?" before giving up (each moves forward). */
#define WINDOW_MAX_ROUNDS 64

typedef struct RegionZone
{
	char		region[PHONE_REGION_SIZE];
	char	   *zone;
} RegionZone;

static RegionZone *zones = NULL;
static int	nzones = 0;

/*
 * add_zone adds (region, zone) to the table unless it is there already.
 */
static void
add_zone(const char *region, const char *zone, int *allocated)
{
	for (int i = 0; i < nzones; i++)
		if (strcmp(zones[i].region, region) == 0 && strcmp(zones[i].zone, zone) == 0)
			return;
	if (nzones == *allocated)
	{
		*allocated = *allocated ? *allocated * 2 : 512;
		zones = zones ? repalloc(zones, *allocated * sizeof(RegionZone))
			: MemoryContextAlloc(TopMemoryContext, *allocated * sizeof(RegionZone));
	}
	strlcpy(zones[nzones].region, region, PHONE_REGION_SIZE);
	zones[nzones].zone = MemoryContextStrdup(TopMemoryContext, zone);
	nzones++;
}

/*
 * read_zone_table adds the lines of one tzdata table: "CC[,CC...] coords
 * zone ...", comments and blank lines skipped.
 */
static void
read_zone_table(const char *name, int *allocated)
{
	char		path[MAXPGPATH];
	char		line[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", AGENTPHONE_TZDIR, name);
	if ((f = AllocateFile(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
	{
		char	   *save = NULL;
		char	   *codes = strtok_r(line, "\t\n", &save);
		char	   *zone;

		if (codes == NULL || codes[0] == '#' || strtok_r(NULL, "\t\n", &save) == NULL ||
			(zone = strtok_r(NULL, "\t\n", &save)) == NULL)
			continue;
		for (char *s2 = NULL, *cc = strtok_r(codes, ",", &s2); cc; cc = strtok_r(NULL, ",", &s2))
			add_zone(cc, zone, allocated);
	}
	FreeFile(f);
}

/*
 * load_zones reads the tables on first use.
 */
static void
load_zones(void)
{
	int			allocated = 0;

	if (zones != NULL)
		return;
	read_zone_table("zone.tab", &allocated);
	read_zone_table("zone1970.tab", &allocated);
	if (nzones == 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("agentphone found no time zone table in \"%s\"", AGENTPHONE_TZDIR),
				 errhint("Install the tzdata package.")));
}

/*
 * region_zones returns the zone names of a region, as a List of strings.
 */
static List *
region_zones(const char *region)
{
	List	   *list = NIL;

	load_zones();
	for (int i = 0; i < nzones; i++)
		if (strcmp(zones[i].region, region) == 0)
			list = lappend(list, zones[i].zone);
	return list;
}

/*
 * join_zones returns the zones as "A, B, C".
 */
static char *
join_zones(List *list)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, list)
		appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", (char *) lfirst(lc));
	return buf.data;
}

/*
 * agentphone_region_zones returns the zones of a region as a text[]
 * Datum, or 0 when it has none.
 */
Datum
agentphone_region_zones(const char *region)
{
	List	   *list = region_zones(region);
	Datum	   *elems;
	int			n = 0;
	ListCell   *lc;

	if (list == NIL)
		return (Datum) 0;
	elems = palloc(list_length(list) * sizeof(Datum));
	foreach(lc, list)
		elems[n++] = CStringGetTextDatum(lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * callee_zones returns the zones in which the window must be open for
 * callee, worked out at the first need: the zone the caller gave, else
 * every zone of the number's country, else agentphone.default_timezone
 * (UTC when set empty).
 */
static List *
callee_zones(Callee *callee)
{
	if (callee->zones != NIL)
		return callee->zones;
	if (callee->timezone != NULL)
		callee->zones = list_make1(pstrdup(callee->timezone));
	else if (callee->phone.region[0] != '\0')
		callee->zones = region_zones(callee->phone.region);
	if (callee->zones == NIL)
		callee->zones = list_make1(agentphone_default_timezone[0] ? agentphone_default_timezone : "UTC");
	return callee->zones;
}

/*
 * callee_set_timezone sets the time zone the caller gave for callee (NULL:
 * none), and raises 22023 unless it is a zone PostgreSQL knows and one of
 * the zones of the number's country (any, for a number of no country).
 */
void
callee_set_timezone(Callee *callee, const char *tz)
{
	const char *region = callee->phone.region;
	List	   *list;
	ListCell   *lc;

	callee->timezone = tz;
	callee->zones = NIL;
	if (tz == NULL)
		return;
	if (pg_tzset(tz) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timezone \"%s\" is not recognized", tz),
				 errhint("Use a name from pg_timezone_names, such as America/New_York.")));
	if (region[0] == '\0' || (list = region_zones(region)) == NIL)
		return;
	foreach(lc, list)
		if (pg_strcasecmp(lfirst(lc), tz) == 0)
			return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("timezone \"%s\" is not a time zone of %s, the country of %s", tz,
					region, callee->phone.e164),
			 errdetail("The time zones of %s are: %s.", region, join_zones(list)),
			 errhint("Pass the callee's own time zone from that list, or none: the calling window then holds in all of them.")));
}

/*
 * local_time splits t into the local date (Julian day), seconds since
 * midnight and day of the week (0 = Sunday) in zone.
 */
static void
local_time(TimestampTz t, pg_tz *zone, int *jd, int *secs, int *dow)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			offset;

	if (timestamp2tm(t, &offset, &tm, &fsec, NULL, zone) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range"),
				 errhint("Pass a not_before between now and a few years ahead.")));
	*jd = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday);
	*secs = tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
	*dow = j2day(*jd);
}

/*
 * local_to_timestamp is the moment of local date jd at secs in zone
 * (a time skipped by a DST change is read as after the change).
 */
static TimestampTz
local_to_timestamp(int jd, int secs, pg_tz *zone)
{
	struct pg_tm tm;
	TimestampTz t;
	int			offset;

	memset(&tm, 0, sizeof(tm));
	j2date(jd, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	tm.tm_hour = secs / 3600;
	tm.tm_min = (secs / 60) % 60;
	tm.tm_sec = secs % 60;
	offset = DetermineTimeZoneOffset(&tm, zone);
	if (tm2timestamp(&tm, 0, &offset, &t) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range"),
				 errhint("Pass a not_before between now and a few years ahead.")));
	return t;
}

/*
 * opens_in_zone returns the first moment at or after t when the window
 * is open in zone (all day on the days allowed, when no time is set).
 */
static TimestampTz
opens_in_zone(TimestampTz t, pg_tz *zone)
{
	int			jd,
				secs,
				dow;
	int			closes = agentphone_window_close_s > 0 ? agentphone_window_close_s : SECS_PER_DAY;

	local_time(t, zone, &jd, &secs, &dow);
	if ((agentphone_call_day_mask & (1 << dow)) != 0)
	{
		if (secs >= agentphone_window_open_s && secs < closes)
			return t;
		if (secs < agentphone_window_open_s)
			return local_to_timestamp(jd, agentphone_window_open_s, zone);
	}
	for (int d = 1; d <= 7; d++)
		if ((agentphone_call_day_mask & (1 << ((dow + d) % 7))) != 0)
			return local_to_timestamp(jd + d, agentphone_window_open_s, zone);
	return t;					/* no day allowed: refused by the setting's check */
}

/*
 * agentphone_next_window sets *opens to the first moment at or after "at"
 * when the window is open in every zone of the callee ("at" itself when no
 * window is set); it returns false when the window never opens in all of
 * them at once.
 */
bool
agentphone_next_window(TimestampTz at, Callee *callee, TimestampTz *opens)
{
	List	   *list;
	TimestampTz t = at;

	*opens = at;
	if (!agentphone_window_set())
		return true;
	list = callee_zones(callee);
	for (int round = 0; round < WINDOW_MAX_ROUNDS; round++)
	{
		TimestampTz latest = t;
		ListCell   *lc;

		foreach(lc, list)
		{
			pg_tz	   *zone = pg_tzset(lfirst(lc));
			TimestampTz o;

			if (zone == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("time zone \"%s\" is not recognized", (char *) lfirst(lc)),
						 errhint("Use a name from pg_timezone_names, such as 'America/New_York'.")));
			o = opens_in_zone(t, zone);
			if (o > latest)
				latest = o;
		}
		if (latest == t)
		{
			*opens = t;
			return true;
		}
		if (latest - at > WINDOW_HORIZON_DAYS * USECS_PER_DAY)
			break;
		t = latest;
	}
	return false;
}

/*
 * window_wait_text is what last_error says of a call the calling window
 * holds until opens: written by the queueing path and, through
 * agentphone.window_wait_text(), by the claim (since 1.10).
 */
char *
window_wait_text(TimestampTz opens)
{
	return psprintf("waiting for the calling window to open at %s",
					DatumGetCString(DirectFunctionCall1(timestamptz_out,
														TimestampTzGetDatum(opens))));
}

/*
 * agentphone.window_wait_text(opens timestamptz): the SQL face of
 * window_wait_text().
 */
Datum
agentphone_window_wait_text(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(window_wait_text(PG_GETARG_TIMESTAMPTZ(0))));
}

/*
 * agentphone.window_opens(at timestamptz, tz text, number text): the SQL
 * face of agentphone_next_window(), NULL for "never".
 */
Datum
agentphone_window_opens(PG_FUNCTION_ARGS)
{
	Callee		callee = {0};
	TimestampTz opens;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	if (phone_classify(text_to_cstring(PG_GETARG_TEXT_PP(2)), &callee.phone) != PHONE_OK)
		callee.phone.region[0] = '\0';
	callee.timezone = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!agentphone_next_window(PG_GETARG_TIMESTAMPTZ(0), &callee, &opens))
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(opens);
}
