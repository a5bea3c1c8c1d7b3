/*-------------------------------------------------------------------------
 *
 * donotcall.c
 *		The do-not-call list: numbers never dialed, whoever queues them.
 *
 * Any caller may add a number (that only ever prevents calls):
 * agentphone_do_not_call() stores its E.164 form, the reason, and the role
 * that acts (current_user, by OID) as added_by; only that role (and
 * agentphone_admin) reads the reason, in the table (row-level security)
 * and in a refusal.  It is written in C, as the tables' owner, so that it
 * knows who called it: a SECURITY DEFINER function would see its owner.
 * The list is checked when a call is queued (functions.c) and again at
 * the claim (agentphone.do_not_call_refusal()).  Until ALTER EXTENSION
 * UPDATE reaches 1.7, added_by is a role's name (schema.h: SCHEMA_1_7).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "access.h"
#include "donotcall.h"
#include "grants.h"
#include "numbers.h"
#include "schema.h"
#include "validate.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(agentphone_do_not_call);
PG_FUNCTION_INFO_V1(agentphone_do_not_call_refusal);
PG_FUNCTION_INFO_V1(agentphone_allow_calls);

/* The longest reason the list keeps (its table's CHECK, since 1.1). */
#define MAX_REASON_LEN 500

/*
 * agentphone_do_not_call_problem says why number may not be called by
 * role because it is on the do-not-call list, or returns NULL.  The reason
 * is given only to the role that listed it.  Runs inside an SPI
 * connection, as the tables' owner.
 */
char *
agentphone_do_not_call_problem(const char *number, Oid role)
{
	static SPIPlanPtr plan = NULL;
	static SPIPlanPtr plan_by_name = NULL;	/* added_by before 1.7 */
	bool		by_oid = agentphone_schema_has(SCHEMA_1_7);
	char	   *name = by_oid ? NULL : GetUserNameFromId(role, true);
	Oid			types[2] = {TEXTOID, by_oid ? OIDOID : NAMEOID};
	Datum		v[2] = {CStringGetTextDatum(number),
	by_oid ? ObjectIdGetDatum(role) : CStringGetDatum(name ? name : "")};
	char	   *reason;
	bool		isnull;

	agentphone_saved_plan(by_oid ? &plan : &plan_by_name,
						  "SELECT reason, added_by = $2 FROM agentphone.do_not_call WHERE number = $1",
						  2, types);
	if (SPI_execute_plan(by_oid ? plan : plan_by_name, v, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the do-not-call list");
	if (SPI_processed == 0)
		return NULL;
	reason = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (reason == NULL ||
		!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
		return psprintf("%s is on the do-not-call list", number);
	return psprintf("%s is on the do-not-call list: %s", number, reason);
}

/*
 * agentphone.do_not_call_refusal(number text, role regrole) is the claim's
 * face of agentphone_do_not_call_problem(): NULL, or why not.  Before 1.7
 * the claim passes the role's name.
 */
Datum
agentphone_do_not_call_refusal(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	char	   *problem;
	Oid			role;

	if (get_fn_expr_argtype(fcinfo->flinfo, 1) == NAMEOID)
		role = get_role_oid(NameStr(*PG_GETARG_NAME(1)), true);
	else
		role = PG_GETARG_OID(1);
	SPI_connect();
	problem = agentphone_do_not_call_problem(text_to_cstring(PG_GETARG_TEXT_PP(0)), role);
	if (problem != NULL)
		problem = MemoryContextStrdup(caller, problem);	/* outlives SPI */
	SPI_finish();
	if (problem == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(problem));
}

/* check_listing refuses a number not in E.164 form or a reason too long. */
static void
check_listing(const char *number, const char *reason)
{
	if (number == NULL || !agentphone_number_is_e164(number))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number must be in E.164 form, not \"%s\"", number ? number : "<NULL>"),
				 errhint("Use the form +14155550123.")));
	if (reason != NULL && pg_mbstrlen(reason) > MAX_REASON_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("reason is too long"),
				 errdetail("It has %d characters; at most %d are accepted.",
						   pg_mbstrlen(reason), MAX_REASON_LEN),
				 errhint("Shorten the reason.")));
}

/*
 * agentphone_do_not_call(number, reason) puts number (in its E.164 form)
 * on the list for the role that acts; false if it was listed already.
 */
Datum
agentphone_do_not_call(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	char	   *number = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *reason = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	Oid			types[3] = {TEXTOID, TEXTOID, OIDOID};
	Datum		v[3];
	char		nulls[3] = {' ', reason ? ' ' : 'n', ' '};
	AgentphoneUser caller;
	bool		added;

	agentphone_require_grant(false);
	PreventCommandIfReadOnly("agentphone_do_not_call()");
	check_listing(number, reason);
	v[0] = CStringGetTextDatum(agentphone_normalized_number(number));
	v[1] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	v[2] = ObjectIdGetDatum(GetUserId());
	SPI_connect();
	agentphone_become_owner(&caller);
	agentphone_saved_plan(&plan,
						  "INSERT INTO agentphone.do_not_call (number, reason, added_by) VALUES ($1, $2, $3)"
						  " ON CONFLICT ON CONSTRAINT do_not_call_pkey DO NOTHING",
						  3, types);
	if (SPI_execute_plan(plan, v, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not add %s to the do-not-call list", number);
	added = (SPI_processed == 1);
	agentphone_restore_user(&caller);
	SPI_finish();
	PG_RETURN_BOOL(added);
}

/*
 * agentphone_allow_calls(number) takes number (as agentphone_do_not_call()
 * stores it) off the list; false if it was not on it.  Admins only (by
 * grant).  In C, as the tables' owner, like every write of agentphone's:
 * only while the table runs superusers' code alone (tables.c).
 */
Datum
agentphone_allow_calls(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	char	   *number = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			types[1] = {TEXTOID};
	Datum		v[1];
	AgentphoneUser caller;
	bool		removed;

	agentphone_require_grant(true);
	PreventCommandIfReadOnly("agentphone_allow_calls()");
	v[0] = CStringGetTextDatum(agentphone_normalized_number(number));
	SPI_connect();
	agentphone_become_owner(&caller);
	agentphone_saved_plan(&plan, "DELETE FROM agentphone.do_not_call WHERE number = $1", 1, types);
	if (SPI_execute_plan(plan, v, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not take %s off the do-not-call list", number);
	removed = (SPI_processed > 0);
	agentphone_restore_user(&caller);
	SPI_finish();
	PG_RETURN_BOOL(removed);
}
