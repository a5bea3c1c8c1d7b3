/*-------------------------------------------------------------------------
 *
 * access.c
 *		Who may do what with which call.
 *
 * Roles reach agentphone through two group roles the install script
 * creates: agentphone_caller (queue calls; see, wait for, cancel and end
 * one's own) and agentphone_admin (every role's calls, the API's whole
 * call list).  Reading is left to the tables' row-level security: the
 * functions read agentphone.calls as the calling role, so a call of
 * another role is simply not there.  Nobody is granted INSERT, UPDATE or
 * DELETE on the tables; the functions write them as the bootstrap
 * superuser for the duration of one fixed, fully qualified statement, with
 * search_path pinned by the functions' SET clause.
 *
 *-------------------------------------------------------------------------
 */
#include "agentphone.h"

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

/*
 * agentphone_become_owner switches to the superuser that owns the
 * extension's tables, saving the caller's identity in *save.
 */
void
agentphone_become_owner(AgentphoneUser *save)
{
	GetUserIdAndSecContext(&save->userid, &save->sec_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   save->sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

/*
 * agentphone_restore_user switches back to the caller.  (An error in
 * between needs no such call: aborting the (sub)transaction restores it.)
 */
void
agentphone_restore_user(const AgentphoneUser *save)
{
	SetUserIdAndSecContext(save->userid, save->sec_context);
}

/*
 * is_admin says whether the current role may act on every role's calls: a
 * superuser or a member of agentphone_admin.
 */
static bool
is_admin(void)
{
	Oid			admin = get_role_oid("agentphone_admin", true);

	return superuser() || (OidIsValid(admin) && has_privs_of_role(GetUserId(), admin));
}

/*
 * agentphone_require_api_call raises an error unless the current role may
 * read or act on the API call api_id: an admin may reach any; another role
 * only a call it queued (visible to it in agentphone.calls).  Runs inside
 * an SPI connection.
 */
void
agentphone_require_api_call(const char *api_id)
{
	Oid			types[1] = {TEXTOID};
	Datum		v[1] = {CStringGetTextDatum(api_id)};

	if (is_admin())
		return;
	if (SPI_execute_with_args("SELECT 1 FROM agentphone.calls WHERE api_call_id = $1",
							  1, types, v, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up API call %s", api_id);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for API call %s", api_id),
				 errdetail("A role reaches only the calls it queued with agentphone_call()."),
				 errhint("Members of agentphone_admin reach every call.")));
}
