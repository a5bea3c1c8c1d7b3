/*-------------------------------------------------------------------------
 *
 * workerdb.h
 *		The worker's database, and whether agentphone is installed there
 *		(workerdb.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_WORKERDB_H
#define AGENTPHONE_WORKERDB_H

extern bool workerdb_attach(int slot, Oid *db);
extern const char *workerdb_name(void);
extern bool workerdb_look_for_extension(void);
extern void workerdb_check(void);
extern void workerdb_leave_if_no_extension(void);
extern bool workerdb_ready(void);
extern Oid	workerdb_extension_oid(void);
extern bool workerdb_schema_1_3(void);

#endif							/* AGENTPHONE_WORKERDB_H */
