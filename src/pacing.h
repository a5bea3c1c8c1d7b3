/*-------------------------------------------------------------------------
 *
 * pacing.h
 *		The per-key pacing windows that the databases using one API key
 *		share (pacing.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_PACING_H
#define AGENTPHONE_PACING_H

#include "utils/timestamp.h"

extern void pacing_install(void);
extern int	pacing_reserve(uint64 key_hash, int want, int limit,
						   TimestampTz now, TimestampTz *free_at);
extern void pacing_return(uint64 key_hash, int n, TimestampTz reserved_at);

#endif							/* AGENTPHONE_PACING_H */
