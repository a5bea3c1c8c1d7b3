/*-------------------------------------------------------------------------
 *
 * grants.h
 *		Membership in agentphone's group roles counts per database
 *		(grants.c): the check every granted function, policy and the claim
 *		make, and what the utility hook that records the grants
 *		(granthook.c) reads of them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_GRANTS_H
#define AGENTPHONE_GRANTS_H

#include "nodes/pg_list.h"

/* A row of agentphone.grants. */
typedef struct GrantRow
{
	Oid			role;
	bool		admin;			/* agentphone_admin, else agentphone_caller */
	bool		admin_option;
} GrantRow;

extern bool agentphone_role_holds(Oid role, bool admin);
extern void agentphone_require_grant(bool admin);

/* For granthook.c */
extern const char *grants_group_name(bool admin);
extern Oid	grants_group_oid(bool admin);
extern bool grants_is_group(const char *name, bool *admin);
extern Oid	grants_table(void);
extern List *grants_read(Oid relid);
extern void grants_changed(void);
extern void grants_note_recording(void);

#endif							/* AGENTPHONE_GRANTS_H */
