/*-------------------------------------------------------------------------
 *
 * workerclaim.h
 *		The worker's claim of due calls and their sends (workerclaim.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_WORKERCLAIM_H
#define AGENTPHONE_WORKERCLAIM_H

#include "utils/timestamp.h"

#include "request.h"

extern void workerclaim_note_window_rules(void);
extern void workerclaim_run(TimestampTz now);
extern bool workerclaim_due(TimestampTz now);
extern long workerclaim_wait_ms(TimestampTz now);
extern bool workerclaim_api_unusable(void);
extern void workerclaim_after_record(TimestampTz now, const RecordResult *result,
									 bool answered);

#endif							/* AGENTPHONE_WORKERCLAIM_H */
