/*-------------------------------------------------------------------------
 *
 * gucchecks.h
 *		The check hooks of the agentphone.* settings (gucchecks.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_GUCCHECKS_H
#define AGENTPHONE_GUCCHECKS_H

#include "utils/guc.h"

extern bool gucchecks_api_url(char **newval, void **extra, GucSource source);
extern bool gucchecks_sub_account_id(char **newval, void **extra, GucSource source);
extern bool gucchecks_prefixes(char **newval, void **extra, GucSource source);
extern bool gucchecks_call_window(char **newval, void **extra, GucSource source);
extern bool gucchecks_call_days(char **newval, void **extra, GucSource source);
extern bool gucchecks_number_types(char **newval, void **extra, GucSource source);
extern bool gucchecks_timezone_name(char **newval, void **extra, GucSource source);

#endif							/* AGENTPHONE_GUCCHECKS_H */
