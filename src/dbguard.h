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
extern void agentphone_leave_if_database_needed(const char *dbname);


#endif							/* AGENTPHONE_DBGUARD_H */
