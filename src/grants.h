/*-------------------------------------------------------------------------
 *
 * grants.h
 *		Membership in agentphone's group roles counts per database
 *		(grants.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_GRANTS_H
#define AGENTPHONE_GRANTS_H

extern bool agentphone_role_holds(Oid role, bool admin);
extern void agentphone_require_grant(bool admin);
extern void agentphone_install_grants(void);

#endif							/* AGENTPHONE_GRANTS_H */
