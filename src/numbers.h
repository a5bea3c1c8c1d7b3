/*-------------------------------------------------------------------------
 *
 * numbers.h
 *		Which numbers are dialed (numbers.c): the number rules (the callee
 *		is classified through callee.h), the form numbers are stored in.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_NUMBERS_H
#define AGENTPHONE_NUMBERS_H

extern char *agentphone_normalized_number(const char *number);

#endif							/* AGENTPHONE_NUMBERS_H */
