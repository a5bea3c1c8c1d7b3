/*-------------------------------------------------------------------------
 *
 * dbguard.h
 *		The worker and the commands that need its database to itself
 *		(dbguard.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_DBGUARD_H
#define AGENTPHONE_DBGUARD_H

extern void agentphone_install_dbguard(void);
extern void agentphone_wait_for_database(void);
extern void agentphone_leave_if_database_needed(void);


#endif							/* AGENTPHONE_DBGUARD_H */
