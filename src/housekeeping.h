/*-------------------------------------------------------------------------
 *
 * housekeeping.h
 *		The worker's small periodic jobs in its claim transaction
 *		(housekeeping.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_HOUSEKEEPING_H
#define AGENTPHONE_HOUSEKEEPING_H

extern void housekeeping_run(void);
extern void housekeeping_settings_reloaded(void);

#endif							/* AGENTPHONE_HOUSEKEEPING_H */
