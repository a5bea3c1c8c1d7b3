/*-------------------------------------------------------------------------
 *
 * outage.h
 *		Whether the AgentPhone API can take calls now (outage.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_OUTAGE_H
#define AGENTPHONE_OUTAGE_H

#include "utils/timestamp.h"

extern int	outage_note_failure(const char *why, int retry_after_ms);
extern bool outage_note_answer(void);
extern void outage_note_other(void);
extern void outage_probe_unused(void);
extern int	outage_claim_limit(int want, TimestampTz now, TimestampTz *probe_time);
extern const char *outage_reason(void);
extern int64 outage_lasted_ms(void);

#endif							/* AGENTPHONE_OUTAGE_H */
