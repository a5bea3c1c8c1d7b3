/*-------------------------------------------------------------------------
 *
 * grants.c
 *		Membership in agentphone's group roles counts per database.
 *
 * agentphone_caller and agentphone_admin are cluster roles, and every
 * database lets PUBLIC connect by default: a grant made for one database
 * would work in all of them.  So each database records, in its own table
 * agentphone.grants, the roles that were granted a group role there, and
 * agentphone asks for that record besides PostgreSQL's membership:
 *   - a utility hook records GRANT and REVOKE of the group roles, CREATE
 *     ROLE ... IN ROLE, ALTER GROUP ... ADD/DROP USER and DROP ROLE run in
 *     a database where agentphone is installed, in the statement's own
 *     transaction: "GRANT agentphone_caller TO app", run in the database,
 *     is all it takes;
 *   - a role that holds a group's admin option may grant or revoke it only
 *     in the databases where it was granted WITH ADMIN OPTION (superusers
 *     and CREATEROLE roles anywhere, as PostgreSQL lets them);
 *   - every function granted to the group roles starts with
 *     agentphone_require_grant(), the tables' policies ask
 *     agentphone.granted_here(), and the claim cancels a call whose role
 *     no longer holds agentphone_caller here.
 * A role holds a group here when it is a superuser, or has the privileges
 * of a recorded role that still has the group's privileges: a grant to a
 * team role counts for its members, and agentphone_admin includes
 * agentphone_caller.  REVOKE removes PostgreSQL's membership, which every
 * database's record needs.
 *
 * Before the 1.8 script has run (no agentphone.grants), membership counts
 * everywhere, as it did.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "access.h"
#include "grants.h"
#include "utility.h"

PG_FUNCTION_INFO_V1(agentphone_granted_here);
PG_FUNCTION_INFO_V1(agentphone_role_granted_here);
PG_FUNCTION_INFO_V1(agentphone_created_in_this_transaction);

static ProcessUtility_hook_type prev_process_utility = NULL;
static bool recording = false;	/* the hook is installed: GRANTs are recorded */

/* A row of agentphone.grants. */
typedef struct Grant
{
	Oid			role;
	bool		admin;			/* agentphone_admin, else agentphone_caller */
	bool		admin_option;
} Grant;

/*
 * The last answer of agentphone_role_holds for each group, good for one
 * transaction and until a role or a membership changes (changes counts
 * those, and this backend's own writes of agentphone.grants).
 */
typedef struct Answer
{
	LocalTransactionId lxid;
	uint64		changes;
	Oid			role;
	bool		holds;
} Answer;

static Answer answers[2];
static uint64 changes = 1;

/* forget_answers: a role or a membership changed; ask again. */
static void
forget_answers(Datum arg pg_attribute_unused(), int cacheid pg_attribute_unused(),
			   uint32 hashvalue pg_attribute_unused())
{
	changes++;
}

/* group_name names the group role: agentphone_admin or agentphone_caller. */
static const char *
group_name(bool admin)
{
	return admin ? "agentphone_admin" : "agentphone_caller";
}

/* group_oid: the group role's OID, or InvalidOid if it was dropped. */
static Oid
group_oid(bool admin)
{
	return get_role_oid(group_name(admin), true);
}

/*
 * grants_table returns agentphone.grants when agentphone is installed here
 * at 1.8 or later, else InvalidOid.
 */
static Oid
grants_table(void)
{
	Oid			nsp;

	if (!OidIsValid(get_extension_oid("agentphone", true)))
		return InvalidOid;
	nsp = get_namespace_oid("agentphone", true);
	return OidIsValid(nsp) ? get_relname_relid("grants", nsp) : InvalidOid;
}

/* column returns the number of the column named name in desc. */
static AttrNumber
column(TupleDesc desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped &&
			strcmp(NameStr(TupleDescAttr(desc, i)->attname), name) == 0)
			return i + 1;
	elog(ERROR, "agentphone.grants has no column %s", name);
	return InvalidAttrNumber;	/* keep the compiler quiet */
}

/* read_grants returns every row of agentphone.grants (relid) as a Grant. */
static List *
read_grants(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	AttrNumber	role_att = column(desc, "role"),
				admin_att = column(desc, "admin"),
				option_att = column(desc, "admin_option");
	SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tup;
	List	   *grants = NIL;
	bool		isnull;

	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Grant	   *g = palloc(sizeof(Grant));

		g->role = DatumGetObjectId(heap_getattr(tup, role_att, desc, &isnull));
		g->admin = DatumGetBool(heap_getattr(tup, admin_att, desc, &isnull));
		g->admin_option = DatumGetBool(heap_getattr(tup, option_att, desc, &isnull));
		grants = lappend(grants, g);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return grants;
}

/*
 * holds_through says whether role has group's privileges through one of
 * grants: a recorded role whose privileges it has, and which still has
 * the privileges of the group it was granted.
 */
static bool
holds_through(List *grants, Oid role, Oid group)
{
	ListCell   *lc;

	foreach(lc, grants)
	{
		Grant	   *g = lfirst(lc);
		Oid			via = group_oid(g->admin);

		if (OidIsValid(via) && has_privs_of_role(role, g->role) &&
			has_privs_of_role(g->role, via) && has_privs_of_role(via, group))
			return true;
	}
	return false;
}

/*
 * agentphone_role_holds says whether role holds agentphone_admin (admin)
 * or agentphone_caller in this database.  It needs a transaction.
 */
bool
agentphone_role_holds(Oid role, bool admin)
{
	Oid			group = group_oid(admin);
	Answer	   *a = &answers[admin ? 1 : 0];
	Oid			relid;
	static bool watching = false;

	if (superuser_arg(role))
		return true;
	if (!OidIsValid(group) || !has_privs_of_role(role, group))
		return false;
	if (!watching)
	{
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, forget_answers, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, forget_answers, (Datum) 0);
		watching = true;
	}
	if (a->lxid == MyProc->lxid && a->changes == changes && a->role == role)
		return a->holds;
	relid = grants_table();
	a->holds = !OidIsValid(relid) || holds_through(read_grants(relid), role, group);
	a->lxid = MyProc->lxid;
	a->changes = changes;
	a->role = role;
	return a->holds;
}

/*
 * agentphone_require_grant raises an error unless the role that acts holds
 * agentphone_admin (admin) or agentphone_caller in this database: the
 * first step of every function granted to those roles.
 */
void
agentphone_require_grant(bool admin)
{
	Oid			role = GetUserId();
	const char *group = group_name(admin);
	const char *name;
	const char *db;

	if (agentphone_role_holds(role, admin))
		return;
	name = GetUserNameFromId(role, false);
	db = get_database_name(MyDatabaseId);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("role \"%s\" does not hold %s in database \"%s\"", name, group, db),
			 has_privs_of_role(role, group_oid(admin)) ?
			 errdetail("Membership in %s counts only in the databases where it was granted, and it was not granted in this one (or was granted before agentphone was installed here).", group) :
			 errdetail("It is not a member of %s.", group),
			 recording ?
			 errhint("Connected to database \"%s\", run: GRANT %s TO %s; (README \"Privileges\").",
					 db, group, quote_identifier(name)) :
			 errhint("agentphone is not in shared_preload_libraries, so no GRANT is recorded: add it, restart the server, then run GRANT %s TO %s; connected to database \"%s\".",
					 group, quote_identifier(name), db)));
}

/* is_group says whether a role's name is one of the group roles. */
static bool
is_group(const char *name, bool *admin)
{
	*admin = strcmp(name, group_name(true)) == 0;
	return *admin || strcmp(name, group_name(false)) == 0;
}

/* group_argument reads a group role's name given to a SQL function. */
static bool
group_argument(Name group)
{
	bool		admin;

	if (is_group(NameStr(*group), &admin))
		return admin;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("\"%s\" is not one of agentphone's group roles", NameStr(*group)),
			 errhint("Pass 'agentphone_caller' or 'agentphone_admin'.")));
	return false;				/* keep the compiler quiet */
}

/* agentphone.granted_here(group_role): for the role that acts. */
Datum
agentphone_granted_here(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(agentphone_role_holds(GetUserId(), group_argument(PG_GETARG_NAME(0))));
}

/* agentphone.role_granted_here(role, group_role): for the claim. */
Datum
agentphone_role_granted_here(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(agentphone_role_holds(PG_GETARG_OID(0), group_argument(PG_GETARG_NAME(1))));
}

/*
 * agentphone.created_in_this_transaction(rel): the 1.8 script records the
 * group roles' members in a database that updates, not in a new install.
 */
Datum
agentphone_created_in_this_transaction(PG_FUNCTION_ARGS)
{
	Relation	rel = relation_open(PG_GETARG_OID(0), AccessShareLock);
	bool		created = rel->rd_createSubid != InvalidSubTransactionId;

	relation_close(rel, AccessShareLock);
	PG_RETURN_BOOL(created);
}

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
	Oid			group = group_oid(admin);
	ListCell   *lc;

	if (superuser() || has_createrole_privilege(role))
		return true;
	foreach(lc, read_grants(relid))
	{
		Grant	   *g = lfirst(lc);

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
	const char *group = group_name(admin);
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
	changes++;
}


/*
 * member_change records one role's change of membership in one group,
 * after checking that the role that acts may make it in this database.
 */
static void
member_change(Oid relid, GrantChange change, RoleSpec *member, bool admin, bool admin_option)
{
	Oid			role = get_rolespec_oid(member, false);

	if (role == group_oid(true) || role == group_oid(false))
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

			if (priv->priv_name != NULL && is_group(priv->priv_name, &admin))
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

			if (group->roletype == ROLESPEC_CSTRING && is_group(group->rolename, &admin))
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

		if (alter->role->roletype == ROLESPEC_CSTRING && is_group(alter->role->rolename, &admin))
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
	List	   *grants = dropped ? read_grants(relid) : NIL;

	foreach(lc, dropped)
		foreach(g, grants)
			if (((Grant *) lfirst(g))->role == lfirst_oid(lc))
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
 * grants_process_utility runs a utility statement, then records what it
 * did to the group roles' members in this database.
 */
static void
grants_process_utility(PlannedStmt *pstmt, const char *queryString,
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
 * agentphone_install_grants installs the utility hook (from _PG_init, in
 * every backend of a server that preloads agentphone).
 */
void
agentphone_install_grants(void)
{
	recording = true;
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = grants_process_utility;
}
