/*-------------------------------------------------------------------------
 *
 * tables.h
 *		Whether the tables agentphone writes as a superuser run only
 *		superusers' code (tables.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_TABLES_H
#define AGENTPHONE_TABLES_H

extern bool agentphone_tables_are_safe(void);
extern void agentphone_require_safe_tables(void);

#endif							/* AGENTPHONE_TABLES_H */
