/*-------------------------------------------------------------------------
 *
 * validate.h
 *		Checking what callers pass (validate.c), against the documented input
 *		limits.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_VALIDATE_H
#define AGENTPHONE_VALIDATE_H

#include "utils/jsonb.h"
#include "utils/timestamp.h"

/* Documented input limits (characters); see README "Input limits". */
#define MAX_ID_LEN			128		/* agent_id, from_number_id, voice */
#define MAX_GREETING_LEN	2000
#define MAX_PROMPT_LEN		50000
#define MAX_VARIABLES		100
#define MAX_VAR_NAME_LEN	100
#define MAX_VAR_VALUE_LEN	5000
#define MAX_SCREEN_ID_LEN	100		/* options.callScreeningIdentity */
#define MAX_SCREEN_PURPOSE_LEN 300	/* options.callScreeningPurpose */

/* Numbers of fewer digits are short service or emergency codes. */
#define MIN_NUMBER_DIGITS	7

extern void agentphone_check_text(const char *argname, const char *value,
								  int maxlen, bool required, bool empty_ok);
extern bool agentphone_is_short_number(const char *number);
extern bool agentphone_number_is_e164(const char *number);
extern void agentphone_check_e164(const char *argname, const char *number);
extern Jsonb *agentphone_normalize_variables(Jsonb *variables);
extern void agentphone_check_options(Jsonb *options);
extern bool agentphone_sub_account_ok(const char *id);

extern int64 agentphone_interval_ms(Interval *iv);

#endif							/* AGENTPHONE_VALIDATE_H */
