/*-------------------------------------------------------------------------
 *
 * donotcall.h
 *		The do-not-call list (donotcall.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_DONOTCALL_H
#define AGENTPHONE_DONOTCALL_H

extern char *agentphone_do_not_call_problem(const char *number, Oid role);

#endif							/* AGENTPHONE_DONOTCALL_H */
