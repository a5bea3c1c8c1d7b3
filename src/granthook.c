/*-------------------------------------------------------------------------
 *
 * granthook.c
 *		The utility hook that records in agentphone.grants what a statement
 *		did to the members of agentphone's group roles in this database
 *		(the check that reads the record: grants.c).
 *
 * It records GRANT and REVOKE of the group roles, CREATE ROLE ... IN ROLE,
 * ALTER GROUP ... ADD/DROP USER and DROP ROLE run in a database where
 * agentphone 1.8 or later is installed, in the statement's own
 * transaction, as the tables' owner.  A role that is neither a superuser
 * nor a CREATEROLE role, but holds a group's admin option, may change its
 * members only in the databases where it was granted WITH ADMIN OPTION;
 * its REVOKE takes the membership away in this database only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "access.h"
#include "granthook.h"
#include "grants.h"
#include "utility.h"

static ProcessUtility_hook_type prev_process_utility = NULL;

/*
 * may_grant_here says whether the role that acts may grant or revoke the
 * group here: as PostgreSQL decides, a superuser or a CREATEROLE role; a
 * role with the admin option only through a grant WITH ADMIN OPTION
 * recorded in this database.
 */
static bool
may_grant_here(Oid relid, bool admin)
{
	Oid			role = GetUserId();
	Oid			group = grants_group_oid(admin);
	ListCell   *lc;

	if (superuser() || has_createrole_privilege(role))
		return true;
	foreach(lc, grants_read(relid))
	{
		GrantRow   *g = lfirst(lc);

		if (g->admin == admin && g->admin_option &&
			is_member_of_role(role, g->role) && is_admin_of_role(g->role, group))
			return true;
	}
	return false;
}

/* require_may_grant_here raises an error unless may_grant_here. */
static void
require_may_grant_here(Oid relid, bool admin)
{
	const char *group = grants_group_name(admin);
	const char *db;

	if (may_grant_here(relid, admin))
		return;
	db = get_database_name(MyDatabaseId);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to grant or revoke %s in database \"%s\"", group, db),
			 errdetail("Role \"%s\" holds the admin option of %s, but not through a grant WITH ADMIN OPTION made in this database: membership in agentphone's group roles counts per database.",
					   GetUserNameFromId(GetUserId(), false), group),
			 errhint("Ask a superuser to run, connected to database \"%s\": GRANT %s TO %s WITH ADMIN OPTION;",
					 db, group, quote_identifier(GetUserNameFromId(GetUserId(), false)))));
}

/* What a statement does to a role's record. */
typedef enum GrantChange
{
	CHANGE_GRANT,				/* granted (admin_option: with admin option) */
	CHANGE_REVOKE,				/* membership revoked */
	CHANGE_REVOKE_OPTION,		/* admin option revoked */
	CHANGE_DROP					/* role dropped: both records go */
} GrantChange;

/* write_change applies one change to agentphone.grants, as its owner. */
static void
write_change(GrantChange change, Oid role, bool admin, bool admin_option)
{
	static const char *const queries[] = {
		[CHANGE_GRANT] = "INSERT INTO agentphone.grants AS g (role, admin, admin_option)"
		" VALUES ($1, $2, $3) ON CONFLICT (role, admin)"
		" DO UPDATE SET admin_option = g.admin_option OR excluded.admin_option",
		[CHANGE_REVOKE] = "DELETE FROM agentphone.grants"
		" WHERE role::pg_catalog.oid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
		" AND admin OPERATOR(pg_catalog.=) $2",
		[CHANGE_REVOKE_OPTION] = "UPDATE agentphone.grants SET admin_option = false"
		" WHERE role::pg_catalog.oid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
		" AND admin OPERATOR(pg_catalog.=) $2",
		[CHANGE_DROP] = "DELETE FROM agentphone.grants"
		" WHERE role::pg_catalog.oid OPERATOR(pg_catalog.=) $1::pg_catalog.oid",
	};
	Oid			types[3] = {REGROLEOID, BOOLOID, BOOLOID};
	Datum		values[3] = {ObjectIdGetDatum(role), BoolGetDatum(admin), BoolGetDatum(admin_option)};
	AgentphoneUser caller;

	agentphone_become_owner(&caller);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(queries[change], 3, types, values, NULL, false, 0) < 0)
		elog(ERROR, "could not record a grant in agentphone.grants");
	SPI_finish();
	agentphone_restore_user(&caller);
	grants_changed();
}

/*
 * member_change records one role's change of membership in one group,
 * after checking that the role that acts may make it in this database.
 */
static void
member_change(Oid relid, GrantChange change, RoleSpec *member, bool admin, bool admin_option)
{
	Oid			role = get_rolespec_oid(member, false);

	if (role == grants_group_oid(true) || role == grants_group_oid(false))
		return;					/* agentphone_admin's own membership */
	require_may_grant_here(relid, admin);
	write_change(change, role, admin, admin_option);
}

/* One member's change of membership in one group, as a statement asks. */
typedef struct MemberChange
{
	RoleSpec   *member;
	bool		admin;			/* agentphone_admin, else agentphone_caller */
	GrantChange change;			/* CHANGE_GRANT, _REVOKE or _REVOKE_OPTION */
	bool		admin_option;	/* CHANGE_GRANT: WITH ADMIN OPTION */
} MemberChange;

/* add_change appends one MemberChange to changes. */
static List *
add_change(List *changes, RoleSpec *member, bool admin, GrantChange change, bool admin_option)
{
	MemberChange *c = palloc(sizeof(MemberChange));

	c->member = member;
	c->admin = admin;
	c->change = change;
	c->admin_option = admin_option;
	return lappend(changes, c);
}

/* option_list returns the list of the option named name, or NIL. */
static List *
option_list(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *d = lfirst(lc);

		if (strcmp(d->defname, name) == 0)
			return (List *) d->arg;
	}
	return NIL;
}

/*
 * group_changes lists what a statement does to the group roles' members:
 * GRANT or REVOKE of a group role (its admin option included), CREATE
 * ROLE ... IN ROLE one, ALTER GROUP one ADD or DROP USER; NIL for any
 * other statement.
 */
static List *
group_changes(Node *stmt)
{
	List	   *changes = NIL;
	ListCell   *g,
			   *m;
	bool		admin;

	if (IsA(stmt, GrantRoleStmt))
	{
		GrantRoleStmt *grant = (GrantRoleStmt *) stmt;
		GrantChange change = grant->is_grant ? CHANGE_GRANT :
		grant->admin_opt ? CHANGE_REVOKE_OPTION : CHANGE_REVOKE;

		foreach(g, grant->granted_roles)
		{
			AccessPriv *priv = lfirst(g);

			if (priv->priv_name != NULL && grants_is_group(priv->priv_name, &admin))
				foreach(m, grant->grantee_roles)
					changes = add_change(changes, lfirst(m), admin, change,
										 grant->is_grant && grant->admin_opt);
		}
	}
	else if (IsA(stmt, CreateRoleStmt))
	{
		CreateRoleStmt *create = (CreateRoleStmt *) stmt;

		foreach(g, option_list(create->options, "addroleto"))
		{
			RoleSpec   *group = lfirst(g);

			if (group->roletype == ROLESPEC_CSTRING && grants_is_group(group->rolename, &admin))
			{
				RoleSpec   *member = makeNode(RoleSpec);

				member->roletype = ROLESPEC_CSTRING;
				member->rolename = create->role;
				member->location = -1;
				changes = add_change(changes, member, admin, CHANGE_GRANT, false);
			}
		}
	}
	else if (IsA(stmt, AlterRoleStmt))
	{
		AlterRoleStmt *alter = (AlterRoleStmt *) stmt;

		if (alter->role->roletype == ROLESPEC_CSTRING && grants_is_group(alter->role->rolename, &admin))
			foreach(m, option_list(alter->options, "rolemembers"))
				changes = add_change(changes, lfirst(m), admin,
									 alter->action > 0 ? CHANGE_GRANT : CHANGE_REVOKE, false);
	}
	return changes;
}

/* takes_away says whether any of changes takes a membership or an option away. */
static bool
takes_away(List *changes)
{
	ListCell   *lc;

	foreach(lc, changes)
		if (((MemberChange *) lfirst(lc))->change != CHANGE_GRANT)
			return true;
	return false;
}

/*
 * record_changes records changes in agentphone.grants (relid), each after
 * checking that the role that acts may make it in this database.
 */
static void
record_changes(Oid relid, List *changes)
{
	ListCell   *lc;

	foreach(lc, changes)
	{
		MemberChange *c = lfirst(lc);

		member_change(relid, c->change, c->member, c->admin, c->admin_option);
	}
}

/* dropped_roles returns the OIDs of the roles DROP ROLE names that exist. */
static List *
dropped_roles(DropRoleStmt *stmt)
{
	ListCell   *lc;
	List	   *oids = NIL;

	foreach(lc, stmt->roles)
	{
		RoleSpec   *spec = lfirst(lc);
		Oid			role = spec->roletype == ROLESPEC_CSTRING ?
			get_role_oid(spec->rolename, true) : InvalidOid;

		if (OidIsValid(role))
			oids = lappend_oid(oids, role);
	}
	return oids;
}

/*
 * forget_dropped deletes the records of the dropped roles that have any
 * (so that DROP ROLE of another role never depends on agentphone's
 * tables).
 */
static void
forget_dropped(Oid relid, List *dropped)
{
	ListCell   *lc,
			   *g;
	List	   *grants = dropped ? grants_read(relid) : NIL;

	foreach(lc, dropped)
		foreach(g, grants)
			if (((GrantRow *) lfirst(g))->role == lfirst_oid(lc))
			{
				write_change(CHANGE_DROP, lfirst_oid(lc), false, false);
				break;
			}
}

/*
 * delegated_change handles a change of a group's members by a role that is
 * neither a superuser nor a CREATEROLE role, but holds the group's admin
 * option: PostgreSQL would apply it to every database, where its grant
 * counts in one.  Outside a database of agentphone 1.8 it is refused; a
 * REVOKE takes the membership away in this database only (the cluster's
 * membership is left to the databases where it was granted) and returns
 * true: the statement is done.  A GRANT goes on.
 */
static bool
delegated_change(List *changes)
{
	Oid			relid = grants_table();

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to grant or revoke agentphone's group roles in database \"%s\"",
						get_database_name(MyDatabaseId)),
				 errdetail("Membership in agentphone_caller and agentphone_admin counts per database, and agentphone 1.8 or later is not installed in this one; a role that is not a superuser grants and revokes them only where it does."),
				 errhint("Connect to the database the grant is for, and run the statement there.")));
	if (!takes_away(changes))
		return false;
	record_changes(relid, changes);
	ereport(NOTICE,
			(errmsg("agentphone: revoked in database \"%s\" only", get_database_name(MyDatabaseId)),
			 errdetail("The roles stay members of the group in the cluster, for the other databases where they were granted it; a superuser's REVOKE takes it away everywhere.")));
	return true;
}

/*
 * granthook_process_utility runs a utility statement, then records what it
 * did to the group roles' members in this database.
 */
static void
granthook_process_utility(PlannedStmt *pstmt, const char *queryString,
					   bool readOnlyTree, ProcessUtilityContext context,
					   ParamListInfo params, QueryEnvironment *queryEnv,
					   DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	List	   *dropped = IsA(stmt, DropRoleStmt) ? dropped_roles((DropRoleStmt *) stmt) : NIL;
	List	   *changes = group_changes(stmt);
	Oid			relid;

	if (!creating_extension && IsTransactionState() && changes != NIL &&
		!superuser() && !has_createrole_privilege(GetUserId()) &&
		delegated_change(changes))
		return;
	agentphone_next_utility(prev_process_utility, pstmt, queryString, readOnlyTree,
							context, params, queryEnv, dest, qc);
	if (creating_extension || (changes == NIL && dropped == NIL) ||
		!IsTransactionState() || !OidIsValid(relid = grants_table()))
		return;
	CommandCounterIncrement();	/* see the role the statement made */
	record_changes(relid, changes);
	forget_dropped(relid, dropped);
}

/*
 * granthook_install installs the utility hook (from _PG_init, in every
 * backend of a server that preloads agentphone).
 */
void
granthook_install(void)
{
	grants_note_recording();
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = granthook_process_utility;
}
