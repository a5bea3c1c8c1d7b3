/*-------------------------------------------------------------------------
 *
 * granthook.h
 *		The utility hook that records the grants of agentphone's group
 *		roles in each database (granthook.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_GRANTHOOK_H
#define AGENTPHONE_GRANTHOOK_H

extern void granthook_install(void);

#endif							/* AGENTPHONE_GRANTHOOK_H */
