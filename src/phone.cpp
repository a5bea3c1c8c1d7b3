/*-------------------------------------------------------------------------
 *
 * phone.cpp
 *		The only C++ of agentphone: phone numbers classified by
 *		libphonenumber, behind the C interface of phone.h.
 *
 * libphonenumber may throw (std::bad_alloc, a regex engine's error); no
 * exception may cross into PostgreSQL's C, whose error handling longjmps,
 * so every entry point catches everything and reports PHONE_FAILED.  The
 * library's own logging is muted: a backend's stdout is nobody's.
 *
 * A classification depends on the number and the library's metadata
 * only, and costs tens of microseconds of regular expressions, so the
 * last ones are remembered: agentphone_call() asks about its number three
 * times (destination, zones, window), and the same numbers come back.
 *
 *-------------------------------------------------------------------------
 */
#include "phone.h"

#include <cstring>
#include <string>

#include <phonenumbers/logger.h>
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

using i18n::phonenumbers::NullLogger;
using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

static const char *const setting_names[NUM_PHONE_TYPES] = {
	"fixed_line", "mobile", "fixed_line_or_mobile", "toll_free",
	"premium_rate", "shared_cost", "voip", "personal_number", "pager",
	"uan", "voicemail", "unknown"
};

static const char *const words[NUM_PHONE_TYPES] = {
	"a fixed-line number", "a mobile number", "a fixed-line or mobile number",
	"a toll-free number", "a premium-rate number", "a shared-cost number",
	"a VoIP number", "a personal number", "a pager number",
	"a universal access number (UAN)", "a voicemail-access number",
	"a number of unknown type"
};

/*
 * util returns libphonenumber's singleton, muted on first use.
 */
static PhoneNumberUtil *
util()
{
	static PhoneNumberUtil *u = NULL;

	if (u == NULL)
	{
		u = PhoneNumberUtil::GetInstance();
		u->SetLogger(new NullLogger());
	}
	return u;
}

/*
 * parse_e164 parses number ("ZZ": no default region, so only the
 * international form parses) into *n and its E.164 form into *e164.
 */
static bool
parse_e164(PhoneNumberUtil *u, const std::string &number, PhoneNumber *n, std::string *e164)
{
	if (u->Parse(number, "ZZ", n) != PhoneNumberUtil::NO_PARSING_ERROR)
		return false;
	e164->clear();
	u->Format(*n, PhoneNumberUtil::E164, e164);
	return true;
}

/*
 * classify reads number and describes the number its E.164 form stands
 * for.  A form that differs from the input is parsed again until it no
 * longer changes: for a few ranges the library strips a national prefix
 * only once (Mexico's "+52 01 1 ..." reads as +52 1 ..., which reads as
 * +52 ...), and a stored number must classify as itself.  One that does
 * not settle is refused.  Valid means of a known type: IsValidNumber()
 * would look the region and the type up once more.
 */
static PhoneVerdict
classify(const char *number, PhoneInfo *info)
{
	PhoneNumberUtil *u = util();
	PhoneNumber n;
	std::string e164;
	std::string again;
	std::string region;
	PhoneNumberUtil::PhoneNumberType type;

	if (!parse_e164(u, number, &n, &e164))
		return PHONE_UNPARSABLE;
	for (int rounds = 0; e164 != number; rounds++)
	{
		if (rounds == 3 || !parse_e164(u, e164, &n, &again))
			return PHONE_INVALID;
		if (again == e164)
			break;
		e164 = again;
	}
	type = u->GetNumberType(n);
	if (type == PhoneNumberUtil::UNKNOWN)
		return PHONE_INVALID;
	u->GetRegionCodeForNumber(n, &region);
	if (e164.size() >= PHONE_E164_SIZE || region.size() >= PHONE_REGION_SIZE)
		return PHONE_INVALID;
	info->type = static_cast<PhoneType>(type);
	if (info->type < PHONE_FIXED_LINE || info->type >= NUM_PHONE_TYPES)
		info->type = PHONE_UNKNOWN;
	std::strcpy(info->e164, e164.c_str());
	std::strcpy(info->region, region == "ZZ" ? "" : region.c_str());
	return PHONE_OK;
}

/* Remembered classifications: a direct-mapped table of short numbers. */
#define CACHE_SIZE 1024
#define CACHE_KEY_SIZE 24

typedef struct CacheEntry
{
	char		number[CACHE_KEY_SIZE];	/* "" when the slot is empty */
	PhoneVerdict verdict;
	PhoneInfo	info;
} CacheEntry;

static CacheEntry cache[CACHE_SIZE];

/*
 * cache_slot returns the slot of number, or NULL for a number too long to
 * be remembered (nothing that long is a phone number).
 */
static CacheEntry *
cache_slot(const char *number)
{
	size_t		len = std::strlen(number);
	unsigned int h = 2166136261u;

	if (len == 0 || len >= CACHE_KEY_SIZE)
		return NULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ static_cast<unsigned char>(number[i])) * 16777619u;
	return &cache[h % CACHE_SIZE];
}

extern "C" PhoneVerdict
phone_classify(const char *number, PhoneInfo *info)
{
	CacheEntry *slot = cache_slot(number);
	PhoneVerdict verdict;

	if (slot != NULL && std::strcmp(slot->number, number) == 0)
	{
		*info = slot->info;
		return slot->verdict;
	}
	try
	{
		verdict = classify(number, info);
	}
	catch (...)
	{
		return PHONE_FAILED;
	}
	if (slot != NULL)
	{
		std::strcpy(slot->number, number);
		slot->verdict = verdict;
		slot->info = verdict == PHONE_OK ? *info : PhoneInfo();
	}
	return verdict;
}

extern "C" const char *
phone_type_setting_name(int type)
{
	return (type >= 0 && type < NUM_PHONE_TYPES) ? setting_names[type] : "unknown";
}

extern "C" const char *
phone_type_words(int type)
{
	return (type >= 0 && type < NUM_PHONE_TYPES) ? words[type] : words[PHONE_UNKNOWN];
}
