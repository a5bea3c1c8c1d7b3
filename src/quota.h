/*-------------------------------------------------------------------------
 *
 * quota.h
 *		The quotas of the role that acts (quota.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_QUOTA_H
#define AGENTPHONE_QUOTA_H

#include "utils/guc.h"

extern bool agentphone_check_role_calls_per_hour(int *newval, void **extra, GucSource source);
extern bool agentphone_check_role_calls_per_day(int *newval, void **extra, GucSource source);
extern void agentphone_role_quotas(Oid role, int *per_hour, int *per_day);

#endif							/* AGENTPHONE_QUOTA_H */
