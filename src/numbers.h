/*-------------------------------------------------------------------------
 *
 * numbers.h
 *		Which numbers are dialed (numbers.c): the number rules, the time
 *		zones of a region.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_NUMBERS_H
#define AGENTPHONE_NUMBERS_H

extern char *agentphone_dialable_number(const char *number);
extern char *agentphone_normalized_number(const char *number);
extern Datum agentphone_region_zones(const char *region);
extern void agentphone_check_callee_zone(const char *number, const char *tz);

#endif							/* AGENTPHONE_NUMBERS_H */
