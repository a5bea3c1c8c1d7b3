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

#include "callee.h"

extern bool agentphone_next_window(TimestampTz at, Callee *callee,
								   TimestampTz *opens);
extern char *window_wait_text(TimestampTz opens);
extern Datum agentphone_region_zones(const char *region);


#endif							/* AGENTPHONE_WINDOW_H */
