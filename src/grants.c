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
 *   - a utility hook (granthook.c) records GRANT and REVOKE of the group
 *     roles, CREATE ROLE ... IN ROLE, ALTER GROUP ... ADD/DROP USER and
 *     DROP ROLE run in a database where agentphone is installed, in the
 *     statement's own transaction: "GRANT agentphone_caller TO app", run
 *     in the database, is all it takes;
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
#include "catalog/namespace.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "grants.h"

PG_FUNCTION_INFO_V1(agentphone_granted_here);
PG_FUNCTION_INFO_V1(agentphone_role_granted_here);
PG_FUNCTION_INFO_V1(agentphone_created_in_this_transaction);

static bool recording = false;	/* the hook is installed: GRANTs are recorded */

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

/*
 * grants_changed: this backend wrote agentphone.grants; the answers kept
 * no longer hold.
 */
void
grants_changed(void)
{
	changes++;
}

/*
 * grants_note_recording notes that the utility hook records the grants
 * (granthook.c): a refusal then says which GRANT to run.
 */
void
grants_note_recording(void)
{
	recording = true;
}

/*
 * grants_group_name names the group role: agentphone_admin or
 * agentphone_caller.
 */
const char *
grants_group_name(bool admin)
{
	return admin ? "agentphone_admin" : "agentphone_caller";
}

/* grants_group_oid: the group role's OID, or InvalidOid if it was dropped. */
Oid
grants_group_oid(bool admin)
{
	return get_role_oid(grants_group_name(admin), true);
}

/*
 * grants_table returns agentphone.grants when agentphone is installed here
 * at 1.8 or later, else InvalidOid.
 */
Oid
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

/*
 * grants_read returns every row of agentphone.grants (relid) as a
 * GrantRow.
 */
List *
grants_read(Oid relid)
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
		GrantRow   *g = palloc(sizeof(GrantRow));

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
		GrantRow   *g = lfirst(lc);
		Oid			via = grants_group_oid(g->admin);

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
	Oid			group = grants_group_oid(admin);
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
	a->holds = !OidIsValid(relid) || holds_through(grants_read(relid), role, group);
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
	const char *group = grants_group_name(admin);
	const char *name;
	const char *db;

	if (agentphone_role_holds(role, admin))
		return;
	name = GetUserNameFromId(role, false);
	db = get_database_name(MyDatabaseId);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("role \"%s\" does not hold %s in database \"%s\"", name, group, db),
			 has_privs_of_role(role, grants_group_oid(admin)) ?
			 errdetail("Membership in %s counts only in the databases where it was granted, and it was not granted in this one (or was granted before agentphone was installed here).", group) :
			 errdetail("It is not a member of %s.", group),
			 recording ?
			 errhint("Connected to database \"%s\", run: GRANT %s TO %s; (README \"Privileges\").",
					 db, group, quote_identifier(name)) :
			 errhint("agentphone is not in shared_preload_libraries, so no GRANT is recorded: add it, restart the server, then run GRANT %s TO %s; connected to database \"%s\".",
					 group, quote_identifier(name), db)));
}

/* grants_is_group says whether a role's name is one of the group roles. */
bool
grants_is_group(const char *name, bool *admin)
{
	*admin = strcmp(name, grants_group_name(true)) == 0;
	return *admin || strcmp(name, grants_group_name(false)) == 0;
}

/* group_argument reads a group role's name given to a SQL function. */
static bool
group_argument(Name group)
{
	bool		admin;

	if (grants_is_group(NameStr(*group), &admin))
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
