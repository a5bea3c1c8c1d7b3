/*-------------------------------------------------------------------------
 *
 * numbers.h
 *		Which numbers are dialed (numbers.c): the number rules, the do-not-call
 *		list, the time zones of a region.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_NUMBERS_H
#define AGENTPHONE_NUMBERS_H

extern char *agentphone_dialable_number(const char *number);
extern char *agentphone_do_not_call_problem(const char *number, const char *role);
extern Datum agentphone_region_zones(const char *region);
extern void agentphone_check_callee_zone(const char *number, const char *tz);

#endif							/* AGENTPHONE_NUMBERS_H */
