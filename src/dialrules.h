/*-------------------------------------------------------------------------
 *
 * dialrules.h
 *		The rules a call must pass when it is queued (dialrules.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_DIALRULES_H
#define AGENTPHONE_DIALRULES_H

#include "utils/timestamp.h"

extern void dialrules_check(const char *number, Oid roleid, const char *role);
extern TimestampTz dialrules_first_due(const char *number, const char *tz,
									   const TimestampTz *not_before, bool *held);

#endif							/* AGENTPHONE_DIALRULES_H */
