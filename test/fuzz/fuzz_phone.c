/*-------------------------------------------------------------------------
 *
 * fuzz_phone.c
 *		libFuzzer target "phone" for src/phone.cpp, agentphone's C interface
 *		to libphonenumber, which classifies the numbers users dial.
 *
 * The input is a number as text: at most MAX_NUMBER bytes without a NUL
 * (agentphone hands over C strings; longer input is skipped, as is input
 * with a NUL in it).  It is classified as it is and, when it does not
 * start with '+', with a '+' before it too, so that the fuzzer reaches
 * the parser's international paths from any input.  Besides memory
 * errors, leaks, undefined behaviour and C++ exceptions escaping into C,
 * it checks what phone.h promises and its callers (numbers.c, window.c)
 * rely on: the verdict is a PhoneVerdict; on PHONE_OK the type is in
 * [0, NUM_PHONE_TYPES), e164 is '+' and 2 to 15 ASCII digits, the first
 * not 0, and region is "", two uppercase ASCII letters or "001", all
 * NUL-terminated within their arrays; classifying that e164 again gives
 * PHONE_OK and the same e164, type and region (the stored form must
 * classify as the dialled one did); phone_type_setting_name and
 * phone_type_words give a non-empty string for every type and for any
 * other int (see LLVMFuzzerInitialize).  A broken promise aborts, so
 * libFuzzer keeps the
 * input (AGENTPHONE_FUZZ_LENIENT=1 only prints the first few; with
 * AGENTPHONE_FUZZ_VERBOSE=1 a replay says what each call returned).
 * libphonenumber itself is not instrumented; what it concludes is fed back
 * to libFuzzer as coverage (see note_outcome).
 *
 * It needs neither PostgreSQL nor the stand-ins of stubs.c: phone.cpp
 * knows nothing of PostgreSQL.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phone.h"

/* Longer than libphonenumber reads (250 bytes), to reach its limit. */
#define MAX_NUMBER 256

static bool verbose = false;	/* $AGENTPHONE_FUZZ_VERBOSE */
static bool lenient = false;	/* $AGENTPHONE_FUZZ_LENIENT */
static int	unexpected_count = 0;
static int	failed_count = 0;

static const char *const verdict_names[] = {
	[PHONE_OK] = "PHONE_OK",
	[PHONE_UNPARSABLE] = "PHONE_UNPARSABLE",
	[PHONE_INVALID] = "PHONE_INVALID",
	[PHONE_FAILED] = "PHONE_FAILED",
};

#define NUM_VERDICTS ((int) (sizeof(verdict_names) / sizeof(verdict_names[0])))

/*
 * libphonenumber is the system's, built without coverage instrumentation,
 * so libFuzzer sees little more than phone.cpp's few branches.  What the
 * library concluded is fed back instead, through libFuzzer's extra
 * counters (the section it reads as coverage, cleared before each input):
 * a new verdict, the first three digits of a valid number with its type
 * (which tells the country calling codes and their ranges apart), a new
 * region and a new length count as new coverage, and keep the input.
 */
#define OUTCOME_VERDICTS 0		/* [2][NUM_VERDICTS]: as it is, with "+" */
#define OUTCOME_PREFIX_TYPE (OUTCOME_VERDICTS + 2 * NUM_VERDICTS)	/* [1000][types] */
#define OUTCOME_REGION (OUTCOME_PREFIX_TYPE + 1000 * NUM_PHONE_TYPES)	/* [27 * 27] */
#define OUTCOME_LENGTH (OUTCOME_REGION + 27 * 27)	/* [PHONE_E164_SIZE] */
#define NUM_OUTCOMES (OUTCOME_LENGTH + PHONE_E164_SIZE)

__attribute__((section("__libfuzzer_extra_counters"), used))
static uint8_t outcomes[NUM_OUTCOMES];

static void
note_outcome(int i)
{
	if (i >= 0 && i < NUM_OUTCOMES && outcomes[i] < 255)
		outcomes[i]++;
}

/* note_valid: the features of a valid number (its fields checked) */
static void
note_valid(const PhoneInfo *info)
{
	const char *d = info->e164 + 1;
	size_t		len = strlen(d);
	int			prefix = 0;

	for (int i = 0; i < 3; i++)
		prefix = prefix * 10 + (i < (int) len ? d[i] - '0' : 0);
	note_outcome(OUTCOME_PREFIX_TYPE + prefix * NUM_PHONE_TYPES + (int) info->type);
	if (info->region[0] == '\0')
		note_outcome(OUTCOME_REGION);
	else if (strcmp(info->region, "001") == 0)
		note_outcome(OUTCOME_REGION + 1);
	else
		note_outcome(OUTCOME_REGION + (info->region[0] - 'A' + 1) * 27 + (info->region[1] - 'A' + 1));
	note_outcome(OUTCOME_LENGTH + (int) len);
}

/*
 * expectation_failed reports a broken promise of phone.cpp and aborts, so
 * libFuzzer keeps the input; when lenient, it only prints the first few.
 */
static void
expectation_failed(const char *fmt,...)
__attribute__((format(printf, 1, 2)));

static void
expectation_failed(const char *fmt,...)
{
	va_list		args;

	if (lenient && ++unexpected_count > 5)
		return;
	fflush(stdout);
	fprintf(stderr, "\nfuzz: expectation failed: ");
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fprintf(stderr, "\n");
	if (!lenient)
		abort();
	if (unexpected_count == 5)
		fprintf(stderr, "fuzz: (lenient: further broken expectations are not shown)\n");
}

#define EXPECT(cond, ...) \
	do { \
		if (!(cond)) \
			expectation_failed(__VA_ARGS__); \
	} while (0)

/* Is the array field s[0 .. size) NUL-terminated? */
static bool
terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

/* "+", then 2 to 15 ASCII digits, the first not 0 */
static bool
is_e164(const char *s)
{
	size_t		n = 0;

	if (s[0] != '+' || s[1] < '1' || s[1] > '9')
		return false;
	for (const char *p = s + 1; *p; p++, n++)
		if (*p < '0' || *p > '9')
			return false;
	return n >= 2 && n <= 15;
}

/* "", two uppercase ASCII letters, or "001" */
static bool
is_region(const char *s)
{
	if (s[0] == '\0' || strcmp(s, "001") == 0)
		return true;
	return s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] == '\0';
}

/*
 * check_type_names checks the names of a type, or of any int: a non-NULL,
 * non-empty string, NUL-terminated within a sane length.
 */
static void
check_type_names(int type)
{
	const char *name = phone_type_setting_name(type);
	const char *words = phone_type_words(type);

	EXPECT(name != NULL && name[0] != '\0' && strnlen(name, 1000) < 1000,
		   "phone_type_setting_name(%d) gave %s", type, name == NULL ? "NULL" : "an empty or endless string");
	EXPECT(words != NULL && words[0] != '\0' && strnlen(words, 1000) < 1000,
		   "phone_type_words(%d) gave %s", type, words == NULL ? "NULL" : "an empty or endless string");
}

/*
 * classify runs phone_classify on number and checks what it promises;
 * returns the verdict, with *info filled when PHONE_OK.
 */
static PhoneVerdict
classify(const char *number, PhoneInfo *info)
{
	PhoneVerdict v;
	int			type;

	/* not zeros: a field left unset shows as unterminated or as garbage */
	memset(info, 0xa5, sizeof(*info));
	v = phone_classify(number, info);
	EXPECT((int) v >= 0 && (int) v < NUM_VERDICTS,
		   "phone_classify(\"%.80s\") gave %d, not a PhoneVerdict", number, (int) v);
	if ((int) v < 0 || (int) v >= NUM_VERDICTS)
		return PHONE_FAILED;
	if (v == PHONE_FAILED && ++failed_count <= 3)
		fprintf(stderr, "fuzz: note: phone_classify(\"%.80s\") gave PHONE_FAILED (libphonenumber threw)\n",
				number);
	if (v != PHONE_OK)
	{
		if (verbose)
			fprintf(stderr, "phone_classify(\"%.80s\") = %s\n", number, verdict_names[v]);
		return v;
	}

	type = (int) info->type;
	EXPECT(type >= 0 && type < NUM_PHONE_TYPES,
		   "phone_classify(\"%.80s\") gave PHONE_OK with type %d", number, type);
	EXPECT(terminated(info->e164, sizeof(info->e164)),
		   "phone_classify(\"%.80s\") gave PHONE_OK with an unterminated e164", number);
	EXPECT(terminated(info->region, sizeof(info->region)),
		   "phone_classify(\"%.80s\") gave PHONE_OK with an unterminated region", number);
	if (!terminated(info->e164, sizeof(info->e164)) ||
		!terminated(info->region, sizeof(info->region)))
		return PHONE_FAILED;	/* (lenient) nothing more to look at */
	EXPECT(is_e164(info->e164),
		   "phone_classify(\"%.80s\") gave PHONE_OK with e164 \"%s\"", number, info->e164);
	EXPECT(is_region(info->region),
		   "phone_classify(\"%.80s\") gave PHONE_OK with region \"%s\"", number, info->region);
	check_type_names(type);
	if (is_e164(info->e164) && is_region(info->region) && type >= 0 && type < NUM_PHONE_TYPES)
		note_valid(info);
	if (verbose)
		fprintf(stderr, "phone_classify(\"%.80s\") = PHONE_OK: %s, %s, region \"%s\"\n",
				number, info->e164, phone_type_setting_name(info->type), info->region);
	return v;
}

/*
 * fuzz_number classifies number (the input as it is when variant is 0,
 * with "+" before it when 1) and, when it is valid, its E.164 form again:
 * the same number, type and region.
 */
static void
fuzz_number(const char *number, int variant)
{
	PhoneInfo	info;
	PhoneInfo	again;
	PhoneVerdict v;

	v = classify(number, &info);
	note_outcome(OUTCOME_VERDICTS + variant * NUM_VERDICTS + (int) v);
	if (v != PHONE_OK)
		return;
	v = classify(info.e164, &again);
	EXPECT(v == PHONE_OK,
		   "\"%.80s\" is %s, but its E.164 form \"%s\" is %s",
		   number, phone_type_setting_name(info.type), info.e164,
		   (int) v >= 0 && (int) v < NUM_VERDICTS ? verdict_names[v] : "not a verdict");
	if (v != PHONE_OK)
		return;
	EXPECT(strcmp(again.e164, info.e164) == 0,
		   "\"%.80s\" is %s, but that classifies as %s", number, info.e164, again.e164);
	EXPECT(again.type == info.type,
		   "\"%.80s\" (%s) is %s, but %s is %s", number, info.e164,
		   phone_type_setting_name(info.type), again.e164, phone_type_setting_name(again.type));
	EXPECT(strcmp(again.region, info.region) == 0,
		   "\"%.80s\" (%s) is of region \"%s\", but %s of region \"%s\"", number, info.e164,
		   info.region, again.e164, again.region);
}

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	verbose = getenv("AGENTPHONE_FUZZ_VERBOSE") != NULL;
	lenient = getenv("AGENTPHONE_FUZZ_LENIENT") != NULL;

	/* the names of every type, and of ints that are none */
	for (int t = -1000; t < 1000; t++)
		check_type_names(t);
	check_type_names(INT32_MIN);
	check_type_names(INT32_MAX);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		number[MAX_NUMBER + 2];

	if (size > MAX_NUMBER || memchr(data, '\0', size) != NULL)
		return 0;
	/* "+" before it, unless it has one: the number proper at number + 1 */
	number[0] = '+';
	if (size > 0)
		memcpy(number + 1, data, size);
	number[size + 1] = '\0';

	fuzz_number(number + 1, 0);
	if (size == 0 || data[0] != '+')
		fuzz_number(number, 1);

	return 0;
}
