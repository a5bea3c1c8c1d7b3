/*-------------------------------------------------------------------------
 *
 * window.h
 *		When a number may be dialed (window.c): the next opening of the calling
 *		window in the callee's time zone.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_WINDOW_H
#define AGENTPHONE_WINDOW_H

#include "utils/timestamp.h"

extern bool agentphone_next_window(TimestampTz at, const char *number,
								   const char *tz, TimestampTz *opens);
extern char *agentphone_window_wait_text(TimestampTz opens);


#endif							/* AGENTPHONE_WINDOW_H */
