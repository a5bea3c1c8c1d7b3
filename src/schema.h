/*-------------------------------------------------------------------------
 *
 * schema.h
 *		Which release's schema this database has (schema.c): the one place
 *		where a library newer than the installed scripts (ALTER EXTENSION
 *		agentphone UPDATE not yet run) learns what the tables hold.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_SCHEMA_H
#define AGENTPHONE_SCHEMA_H

/* The releases whose schema changed something the C code uses. */
#define SCHEMA_1_3	103			/* the agents' tables, calls held by the window */
#define SCHEMA_1_7	107			/* roles by OID, number_locks, notify_secret */
#define SCHEMA_1_8	108			/* agentphone.grants, calls.home */
#define SCHEMA_1_9	109			/* calls.api_status */

extern int	agentphone_schema(void);
extern bool agentphone_schema_has(int release);

#endif							/* AGENTPHONE_SCHEMA_H */
