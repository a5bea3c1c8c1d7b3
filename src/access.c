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
 * Before such a write, agentphone_require_safe_tables (tables.c) makes
 * sure that it runs no other role's code.
 *
 * PostgreSQL refuses a role without the grant before any of our code runs,
 * with a bare "permission denied"; agentphone_privilege_hint, called from
 * the log hook, adds which group role to grant.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "access.h"
#include "grants.h"
#include "tables.h"

PG_FUNCTION_INFO_V1(agentphone_acting_role);

/*
 * agentphone.acting_role() returns the role that acts, current_user, as a
 * regrole: whom agentphone.calls.created_by and do_not_call.added_by name,
 * and whom the tables' policies compare them with.  Not the session's
 * login role: behind a pooler that switches with SET ROLE, the tenant.
 */
Datum
agentphone_acting_role(PG_FUNCTION_ARGS)
{
	PG_RETURN_OID(GetUserId());
}

/*
 * agentphone_become_owner switches to the superuser that owns the
 * extension's tables, saving the caller's identity in *save; it first
 * makes sure that writing as that superuser runs nobody else's code
 * (agentphone_require_safe_tables).
 */
void
agentphone_become_owner(AgentphoneUser *save)
{
	agentphone_require_safe_tables();
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
 * agentphone_is_admin says whether the current role may act on every
 * role's calls: a superuser, or a member of agentphone_admin in this
 * database (grants.c).
 */
bool
agentphone_is_admin(void)
{
	return agentphone_role_holds(GetUserId(), true);
}

/*
 * refuse_row_id explains that digits (a row id of agentphone.calls, which
 * agentphone_call() returns) were passed where the API's call id belongs,
 * naming that id when the role's call has one.  Runs inside an SPI
 * connection.
 */
static void
refuse_row_id(const char *digits)
{
	Oid			types[1] = {TEXTOID};
	Datum		v[1] = {CStringGetTextDatum(digits)};
	bool		isnull = true;
	char	   *api_id = NULL;

	if (strlen(digits) <= 18 &&
		SPI_execute_with_args("SELECT api_call_id, status FROM agentphone.calls WHERE id = $1::bigint",
							  1, types, v, NULL, true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		api_id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s is the id of your call in agentphone.calls, not an API call id", digits),
					 errdetail("Call %s is %s and has no API call id yet.", digits,
							   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2)),
					 errhint("Wait until it is placed (agentphone_wait(%s)), then pass its api_call_id.", digits)));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is the id of your call in agentphone.calls, not an API call id", digits),
				 errdetail("The API knows call %s as \"%s\".", digits, api_id),
				 errhint("Pass its api_call_id: %s.", quote_literal_cstr(api_id))));
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("\"%s\" is not an API call id", digits),
			 errdetail("API call ids look like 'call_123abc'; a number is an id of agentphone.calls, and none of your calls has id %s.", digits),
			 errhint("Pass the api_call_id column of one of your calls in agentphone.calls.")));
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

	if (agentphone_is_admin())
		return;
	if (SPI_execute_with_args("SELECT 1 FROM agentphone.calls WHERE api_call_id = $1",
							  1, types, v, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up API call %s", api_id);
	if (SPI_processed > 0)
		return;
	if (strspn(api_id, "0123456789") == strlen(api_id))
		refuse_row_id(api_id);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for API call %s", api_id),
			 errdetail("A role reaches only the calls it queued with agentphone_call()."),
			 errhint("Pass the api_call_id of one of your calls in agentphone.calls; members of agentphone_admin reach every call.")));
}

/* The functions granted to agentphone_admin only; the others are callers'. */
/* (test/t/020_first_hour.pl compares it with the GRANTs) */
static const char *const admin_functions[] = {
	"agentphone_adopt_calls", "agentphone_allow_calls",
	"agentphone_cancel_copied_calls", "agentphone_list_calls",
	"agentphone_list_calls_for_number", "agentphone_refresh_agents",
	"agentphone_worker_status"
};

/*
 * denied_object returns the name in edata's "permission denied for <kind>
 * %s" error when it is name_prefix followed by identifier characters (the
 * whole name), else NULL.  It compares the untranslated message format and
 * the message as formatted in the server's language, so it holds under
 * any lc_messages.
 */
static char *
denied_object(const ErrorData *edata, const char *format, const char *name_prefix)
{
	const char *start;
	size_t		len;
	char	   *name;

	if (edata->message_id == NULL || strcmp(edata->message_id, format) != 0 ||
		(start = strstr(edata->message, name_prefix)) == NULL)
		return NULL;
	len = strspn(start, "abcdefghijklmnopqrstuvwxyz0123456789_");
	name = pnstrdup(start, len);
	if (strcmp(edata->message, psprintf(_(format), name)) != 0)
		return NULL;
	return name;
}

/*
 * granting_role names the group role whose grant lifts edata's "permission
 * denied" error, or returns NULL when it is not about agentphone.
 */
static const char *
granting_role(const ErrorData *edata)
{
	char	   *function;
	char	   *schema = denied_object(edata, "permission denied for schema %s", "agentphone");

	if (schema != NULL && strcmp(schema, "agentphone") == 0)
		return "agentphone_caller";
	if ((function = denied_object(edata, "permission denied for function %s", "agentphone_")) == NULL)
		return NULL;
	for (size_t i = 0; i < lengthof(admin_functions); i++)
		if (strcmp(function, admin_functions[i]) == 0)
			return "agentphone_admin";
	return "agentphone_caller";
}

/*
 * agentphone_privilege_hint gives a bare "permission denied" for one of
 * agentphone's functions, or for its schema, a hint naming the grant that
 * lifts it.  It reads nothing but the error (it runs inside the log hook).
 */
void
agentphone_privilege_hint(ErrorData *edata)
{
	const char *role;

	if (edata->elevel < ERROR || edata->sqlerrcode != ERRCODE_INSUFFICIENT_PRIVILEGE ||
		edata->hint != NULL || edata->message == NULL)
		return;
	if ((role = granting_role(edata)) == NULL)
		return;
	edata->hint = psprintf("Ask an administrator to GRANT %s TO your role, connected to this database (README \"Privileges\").%s",
						   role, strcmp(role, "agentphone_admin") == 0 ?
						   " It is for administrators: its members see and act on every role's calls." : "");
}
