/*-------------------------------------------------------------------------
 *
 * callee.h
 *		Who a call rings: its number as libphonenumber classifies it, once
 *		per call (numbers.c), and the time zones in which the calling window
 *		must be open for it (window.c).
 *
 * The queueing path (enqueue.c), agentphone_retry() and the dialing rules
 * (dialrules.c) all work on one Callee, so a number is read by
 * libphonenumber and its country's zones are looked up once per call.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_CALLEE_H
#define AGENTPHONE_CALLEE_H

#include "nodes/pg_list.h"

#include "phone.h"

typedef struct Callee
{
	PhoneInfo	phone;			/* E.164 form (the number dialed), type,
								 * region */
	const char *timezone;		/* the zone the caller gave, or NULL */
	List	   *zones;			/* where the calling window must be open
								 * (window.c), NIL until first needed */
} Callee;

/* numbers.c: classify a number agentphone may dial, or raise 22023 */
extern void callee_classify(const char *number, Callee *callee);

/* window.c: check the caller's time zone (NULL: none) and set the zones */
extern void callee_set_timezone(Callee *callee, const char *tz);

#endif							/* AGENTPHONE_CALLEE_H */
