/*-------------------------------------------------------------------------
 *
 * tables.c
 *		Whether the tables agentphone writes as a superuser run only
 *		superusers' code.
 *
 * The functions and the worker write agentphone.calls, the history tables
 * (agentphone.transcripts and agentphone.call_events, with every partition
 * a superuser attached under them: docs/recipes.md), the do-not-call list,
 * the agents' tables and agentphone.grants as a superuser.  Whatever code
 * such a write runs runs with a superuser's rights: the triggers of a
 * table's owner, and
 * every function or operator that an index, a constraint, a default, a
 * generated column, a trigger or a policy of the table calls.  So before
 * it writes, agentphone checks that each of those tables
 *   - is owned by a superuser, and grants TRIGGER to no other role, and
 *   - calls, in everything stored on it, only functions and operators
 *	   (and the functions behind the operators) that superusers own.
 * A function that a database owner planted in public before CREATE
 * EXTENSION, and that an unqualified name in an index bound to (the
 * CVE-2023-39417 class), fails the second test: while any table fails,
 * agentphone writes nothing there and says which object to fix.
 *
 * The answer "safe" is kept until the catalogs change: any relation's
 * cache invalidation (an index, a constraint, a trigger, a partition, an
 * owner or a grant changed), or a function's, an operator's or a role's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_attrdef.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_policy.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_rewrite.h"
#include "catalog/pg_trigger.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "tables.h"

/* The tables agentphone writes as a superuser, each with those under it. */
static const char *const written_tables[] = {
	"calls", "transcripts", "call_events", "do_not_call",
	"agents", "agent_numbers", "agent_sync", "number_locks", "grants"
};

/* What makes a table unsafe to write as a superuser. */
typedef enum ProblemKind
{
	PROBLEM_OWNER,				/* owned by a role that is not a superuser */
	PROBLEM_TRIGGER_GRANT,		/* grants TRIGGER to such a role */
	PROBLEM_CODE				/* stores a call of such a role's code */
} ProblemKind;

typedef struct TableProblem
{
	ProblemKind kind;
	char	   *table;			/* qualified name */
	Oid			role;			/* the owner, the grantee, the code's owner */
	char	   *object;			/* PROBLEM_CODE: e.g. "index x on table y" */
	char	   *code;			/* PROBLEM_CODE: e.g. "function f(text)" */
} TableProblem;

/*
 * true while the last check found every table safe and nothing changed;
 * catalog_changes counts the invalidations, so that one processed during
 * a check (its scans take locks, which read pending invalidations) makes
 * that check's "safe" count for nothing.
 */
static bool known_safe = false;
static uint64 catalog_changes = 0;

/* forget_safe: an invalidation callback; the next write checks again. */
static void
forget_safe(Datum arg pg_attribute_unused(), Oid relid pg_attribute_unused())
{
	known_safe = false;
	catalog_changes++;
}

static void
forget_safe_syscache(Datum arg pg_attribute_unused(), int cacheid pg_attribute_unused(),
					 uint32 hashvalue pg_attribute_unused())
{
	known_safe = false;
	catalog_changes++;
}

/* watch_catalogs registers forget_safe, once per process. */
static void
watch_catalogs(void)
{
	static bool registered = false;

	if (registered)
		return;
	CacheRegisterRelcacheCallback(forget_safe, (Datum) 0);
	CacheRegisterSyscacheCallback(PROCOID, forget_safe_syscache, (Datum) 0);
	CacheRegisterSyscacheCallback(OPEROID, forget_safe_syscache, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, forget_safe_syscache, (Datum) 0);
	registered = true;
}

/* role_is_superuser: PUBLIC is not one. */
static bool
role_is_superuser(Oid role)
{
	return role != ACL_ID_PUBLIC && superuser_arg(role);
}

/*
 * owner_and_grants_safe says whether relation relid (if it still exists)
 * is owned by a superuser and grants TRIGGER to nobody else; if not, it
 * fills p->kind and p->role.
 */
static bool
owner_and_grants_safe(Oid relid, TableProblem *p)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Datum		acl_datum;
	bool		isnull;
	bool		ok = true;

	if (!HeapTupleIsValid(tuple))
		return true;			/* dropped meanwhile */
	p->kind = PROBLEM_OWNER;
	p->role = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ok = role_is_superuser(p->role);
	acl_datum = SysCacheGetAttr(RELOID, tuple, Anum_pg_class_relacl, &isnull);
	if (ok && !isnull)
	{
		Acl		   *acl = DatumGetAclP(acl_datum);
		AclItem    *items = ACL_DAT(acl);

		for (int i = 0; ok && i < ACL_NUM(acl); i++)
			if ((ACLITEM_GET_PRIVS(items[i]) & ACL_TRIGGER) &&
				!role_is_superuser(items[i].ai_grantee))
			{
				p->kind = PROBLEM_TRIGGER_GRANT;
				p->role = items[i].ai_grantee;
				ok = false;
			}
	}
	ReleaseSysCache(tuple);
	return ok;
}

/* proc_owner: the owner of function proc, InvalidOid if it is gone. */
static Oid
proc_owner(Oid proc)
{
	HeapTuple	tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(proc));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		return InvalidOid;
	owner = ((Form_pg_proc) GETSTRUCT(tuple))->proowner;
	ReleaseSysCache(tuple);
	return owner;
}

/*
 * code_owner_safe says whether the function or operator (classid, objid)
 * that a stored expression calls is a superuser's, the function behind an
 * operator too; if not, it fills p->code and p->role.
 */
static bool
code_owner_safe(Oid classid, Oid objid, TableProblem *p)
{
	Oid			owner = InvalidOid;
	Oid			code = InvalidOid;

	if (classid == OperatorRelationId)
	{
		HeapTuple	tuple = SearchSysCache1(OPEROID, ObjectIdGetDatum(objid));

		if (!HeapTupleIsValid(tuple))
			return true;
		owner = ((Form_pg_operator) GETSTRUCT(tuple))->oprowner;
		code = ((Form_pg_operator) GETSTRUCT(tuple))->oprcode;
		ReleaseSysCache(tuple);
	}
	else if (classid == ProcedureRelationId)
		owner = proc_owner(objid);
	if (!OidIsValid(owner) || role_is_superuser(owner))
		return !OidIsValid(code) || code_owner_safe(ProcedureRelationId, code, p);
	p->code = classid == OperatorRelationId ?
		psprintf("operator %s", format_operator(objid)) :
		psprintf("function %s", format_procedure(objid));
	p->role = owner;
	return false;
}

/*
 * depend_scan starts a scan of pg_depend by the depender (objid of
 * classid) when by_referenced is false, or by the referenced object.
 */
static SysScanDesc
depend_scan(Relation depend, Oid classid, Oid objid, bool by_referenced)
{
	ScanKeyData key[2];

	ScanKeyInit(&key[0], by_referenced ? Anum_pg_depend_refclassid : Anum_pg_depend_classid,
				BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(classid));
	ScanKeyInit(&key[1], by_referenced ? Anum_pg_depend_refobjid : Anum_pg_depend_objid,
				BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(objid));
	return systable_beginscan(depend,
							  by_referenced ? DependReferenceIndexId : DependDependerIndexId,
							  true, NULL, 2, key);
}

/*
 * object_code_safe says whether every function and operator the stored
 * object (classid, objid) depends on is a superuser's; if not, it fills
 * p->object besides what code_owner_safe fills.
 */
static bool
object_code_safe(Relation depend, Oid classid, Oid objid, TableProblem *p)
{
	SysScanDesc scan = depend_scan(depend, classid, objid, false);
	HeapTuple	tuple;
	bool		ok = true;

	while (ok && HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tuple);

		ok = code_owner_safe(dep->refclassid, dep->refobjid, p);
	}
	systable_endscan(scan);
	if (!ok)
	{
		ObjectAddress address = {classid, objid, 0};

		p->kind = PROBLEM_CODE;
		p->object = getObjectDescription(&address, false);
	}
	return ok;
}

/* stores_expressions: the catalogs whose objects on a table hold code. */
static bool
stores_expressions(Oid classid)
{
	return classid == RelationRelationId || classid == ConstraintRelationId ||
		classid == AttrDefaultRelationId || classid == TriggerRelationId ||
		classid == PolicyRelationId || classid == RewriteRelationId;
}

/*
 * stored_code_safe says whether everything stored on relation relid (its
 * indexes, constraints, defaults and generated columns, triggers,
 * policies, rules: the objects that depend on it automatically) calls
 * only superusers' functions and operators; if not, it fills *p.
 */
static bool
stored_code_safe(Relation depend, Oid relid, TableProblem *p)
{
	SysScanDesc scan = depend_scan(depend, RelationRelationId, relid, true);
	HeapTuple	tuple;
	bool		ok = true;

	while (ok && HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tuple);

		/*
		 * the table's own objects (a generated column's default depends on
		 * its column internally); not those of others that refer to it
		 */
		if ((dep->deptype == DEPENDENCY_AUTO || dep->deptype == DEPENDENCY_INTERNAL) &&
			stores_expressions(dep->classid) && dep->objid != relid)
			ok = object_code_safe(depend, dep->classid, dep->objid, p);
	}
	systable_endscan(scan);
	return ok;
}

/*
 * table_safe says whether relation relid may be written as a superuser;
 * if not, it fills *p, with the table's name.
 */
static bool
table_safe(Relation depend, Oid relid, TableProblem *p)
{
	char	   *name;
	char	   *nsp;

	if (owner_and_grants_safe(relid, p) && stored_code_safe(depend, relid, p))
		return true;
	name = get_rel_name(relid);
	nsp = name ? get_namespace_name(get_rel_namespace(relid)) : NULL;
	p->table = nsp ? quote_qualified_identifier(nsp, name) : psprintf("%u", relid);
	return false;
}

/*
 * find_problem says whether every table agentphone writes (and each one
 * under it) is safe to write as a superuser; if not, it fills *p.
 */
static bool
find_problem(TableProblem *p)
{
	Oid			nsp;
	Relation	depend;
	bool		ok = true;

	uint64		changes_before;

	Assert(IsTransactionState());
	watch_catalogs();
	AcceptInvalidationMessages();
	if (known_safe)
		return true;
	changes_before = catalog_changes;
	nsp = get_namespace_oid("agentphone", true);
	if (!OidIsValid(nsp))
		return true;
	depend = table_open(DependRelationId, AccessShareLock);
	for (size_t i = 0; ok && i < lengthof(written_tables); i++)
	{
		Oid			relid = get_relname_relid(written_tables[i], nsp);
		ListCell   *lc;

		if (!OidIsValid(relid))
			continue;
		foreach(lc, find_all_inheritors(relid, NoLock, NULL))
			if (!(ok = table_safe(depend, lfirst_oid(lc), p)))
				break;
	}
	table_close(depend, AccessShareLock);
	known_safe = ok && catalog_changes == changes_before;
	return ok;
}

/*
 * agentphone_tables_are_safe says whether agentphone may write its tables
 * as a superuser: no role but superusers could have put code on them.  It
 * must be called inside a transaction.
 */
bool
agentphone_tables_are_safe(void)
{
	TableProblem p;

	return find_problem(&p);
}

/*
 * agentphone_require_safe_tables raises an error unless
 * agentphone_tables_are_safe().
 */
void
agentphone_require_safe_tables(void)
{
	TableProblem p;
	const char *role;
	static const char detail[] =
		"agentphone writes its tables, and every table under agentphone.transcripts and agentphone.call_events, as a superuser, which would run %s with a superuser's rights.";

	if (find_problem(&p))
		return;
	role = p.role == ACL_ID_PUBLIC ? "PUBLIC" : GetUserNameFromId(p.role, false);
	if (p.kind == PROBLEM_TRIGGER_GRANT)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("agentphone will not write into %s: it grants TRIGGER to %s%s%s, not a superuser",
						p.table, p.role == ACL_ID_PUBLIC ? "" : "role \"", role,
						p.role == ACL_ID_PUBLIC ? "" : "\""),
				 errdetail(detail, "that role's triggers"),
				 errhint("Check its triggers, then REVOKE TRIGGER ON %s FROM %s.", p.table,
						 p.role == ACL_ID_PUBLIC ? "PUBLIC" : quote_identifier(role))));
	if (p.kind == PROBLEM_CODE)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("agentphone will not write into %s: %s calls %s, owned by role \"%s\", not a superuser",
						p.table, p.object, p.code, role),
				 errdetail(detail, "that role's code"),
				 errhint("Drop the %s and create it again with every name schema-qualified (pg_catalog.), or give %s to a superuser once you have read it.",
						 p.object, p.code)));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("agentphone will not write into %s: its owner \"%s\" is not a superuser",
					p.table, role),
			 errdetail(detail, "its owner's triggers and constraints"),
			 errhint("Check its triggers and constraints, then ALTER TABLE %s OWNER TO a superuser; or detach it.",
					 p.table)));
}
