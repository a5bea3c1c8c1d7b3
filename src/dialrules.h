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

#include "callee.h"

extern void dialrules_check(const Callee *callee, Oid roleid, const char *role);
extern TimestampTz dialrules_first_due(Callee *callee, const TimestampTz *not_before,
									   bool *held);

#endif							/* AGENTPHONE_DIALRULES_H */
