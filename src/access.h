/*-------------------------------------------------------------------------
 *
 * access.h
 *		Who may do what (access.c): acting as the extension's owner, the
 *		grant named in a refusal, whose call an API id is.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_ACCESS_H
#define AGENTPHONE_ACCESS_H

typedef struct AgentphoneUser
{
	Oid			userid;
	int			sec_context;
} AgentphoneUser;
extern void agentphone_privilege_hint(ErrorData *edata);
extern void agentphone_become_owner(AgentphoneUser *save);
extern void agentphone_restore_user(const AgentphoneUser *save);
extern void agentphone_require_api_call(const char *api_id);
extern bool agentphone_is_admin(void);


#endif							/* AGENTPHONE_ACCESS_H */
