/*-------------------------------------------------------------------------
 *
 * windowspec.h
 *		Reading the values of the calling window's settings (windowspec.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_WINDOWSPEC_H
#define AGENTPHONE_WINDOWSPEC_H

extern int	windowspec_time_of_day(const char *s, int *seconds);
extern int	windowspec_days(const char *s);

#endif							/* AGENTPHONE_WINDOWSPEC_H */
