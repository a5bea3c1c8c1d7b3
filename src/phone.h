/*-------------------------------------------------------------------------
 *
 * phone.h
 *		A plain C interface to libphonenumber (phone.cpp): what a phone
 *		number is, per Google's metadata.
 *
 * It knows nothing of PostgreSQL: no palloc, no ereport; it never throws.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_PHONE_H
#define AGENTPHONE_PHONE_H

#ifdef __cplusplus
extern "C"
{
#endif

/* libphonenumber's PhoneNumberType, in its order. */
typedef enum PhoneType
{
	PHONE_FIXED_LINE,
	PHONE_MOBILE,
	PHONE_FIXED_LINE_OR_MOBILE,
	PHONE_TOLL_FREE,
	PHONE_PREMIUM_RATE,
	PHONE_SHARED_COST,
	PHONE_VOIP,
	PHONE_PERSONAL_NUMBER,
	PHONE_PAGER,
	PHONE_UAN,
	PHONE_VOICEMAIL,
	PHONE_UNKNOWN,
	NUM_PHONE_TYPES
} PhoneType;

typedef enum PhoneVerdict
{
	PHONE_OK,					/* parsed and valid: the fields are set */
	PHONE_UNPARSABLE,			/* not a number libphonenumber can read */
	PHONE_INVALID,				/* parsed, but no valid number of any region */
	PHONE_FAILED				/* the library failed (an exception) */
} PhoneVerdict;

/* E.164: "+" and at most 15 digits */
#define PHONE_E164_SIZE 17
/* ISO 3166 code, "001" for non-geographic entities */
#define PHONE_REGION_SIZE 4

typedef struct PhoneInfo
{
	PhoneType	type;
	char		e164[PHONE_E164_SIZE];	/* the number in E.164 form */
	char		region[PHONE_REGION_SIZE];	/* "" when none */
} PhoneInfo;

/* Classify number (international form, "+..."); fills *info on PHONE_OK. */
extern PhoneVerdict phone_classify(const char *number, PhoneInfo *info);

/* The setting's name of a type ("premium_rate"), and the words for it. */
extern const char *phone_type_setting_name(int type);
extern const char *phone_type_words(int type);

#ifdef __cplusplus
}
#endif

#endif							/* AGENTPHONE_PHONE_H */
