/*-------------------------------------------------------------------------
 *
 * dbguard.c
 *		Keeping the worker out of the way of DROP DATABASE and the other
 *		commands that need its database to themselves.
 *
 * Each served database has a worker connected to it.  DROP DATABASE,
 * ALTER DATABASE ... RENAME, ALTER DATABASE ... SET TABLESPACE and CREATE
 * DATABASE ... TEMPLATE refuse to run while any session is connected to
 * the database they name, and before PostgreSQL 18 they do not ask
 * background workers to leave.  So a utility hook, run in the backend that
 * issues such a command, marks that database "going" in its slot in shared
 * memory and wakes its worker, which drops its requests and exits; the
 * command then finds the database free (it waits up to 5 seconds for other
 * sessions to leave).  The launcher starts no worker there meanwhile.
 *
 * When the command commits, the state says what became of the database:
 * still there (the command failed, or it only renamed, moved or copied
 * it: a worker starts there again, by OID, so a renamed database is
 * served under its new name) or dropped (its slot is freed).  The hook
 * also tells the launcher, at COMMIT, of CREATE EXTENSION agentphone (start
 * a worker there now) and of databases created, renamed or altered (look
 * at pg_database again), and wakes the worker at DROP EXTENSION agentphone
 * so it stops.
 *
 * Only a command that could succeed marks the database: its role must
 * hold the privileges PostgreSQL will check (owning the database, and
 * CREATEDB or CREATE on the tablespace where the command needs them).  A
 * command that is bound to fail never disturbs the worker, so nobody can
 * keep dispatch down by issuing DROP DATABASE over and over.
 *
 * Requests the worker dropped leave their calls "dispatching"; if the
 * database lives on, those calls are reconciled with the API like any
 * interrupted dispatch (reconcile.c), never blindly resent.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/tablespace.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/syscache.h"
#include "utils/wait_event.h"

#include "dbguard.h"
#include "health.h"
#include "shared.h"
#include "slots.h"
#include "utility.h"
#include "workerslot.h"


static ProcessUtility_hook_type prev_process_utility = NULL;

/*
 * What to publish when this backend's transaction commits: a worker or
 * launcher woken before then would not yet see a created or renamed
 * database, or a created extension.
 */
typedef struct Effect
{
	Oid			needed_db;		/* the database a command needs to itself */
	AgentphoneDbState after;	/* its state once the command succeeded */
	bool		rescan;			/* databases were created, renamed, altered */
	bool		extension_created;	/* CREATE EXTENSION agentphone */
	bool		extension_dropped;	/* DROP EXTENSION agentphone */
} Effect;

static Effect at_commit;
static bool at_commit_pending = false;

/*
 * has_option tells whether a CREATE/ALTER DATABASE option list holds
 * option "name"; with "value" given, the value it holds (else NULL).
 */
static const char *
option_value(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, name) == 0 && def->arg != NULL)
			return defGetString(def);
	}
	return NULL;
}

/*
 * names_agentphone tells whether a DROP EXTENSION names agentphone.
 */
static bool
names_agentphone(DropStmt *d)
{
	ListCell   *lc;

	if (d->removeType != OBJECT_EXTENSION)
		return false;
	foreach(lc, d->objects)
		if (strcmp(strVal(lfirst(lc)), "agentphone") == 0)
			return true;
	return false;
}

/*
 * database_named returns the OID of database name, or InvalidOid.
 */
static Oid
database_named(const char *name)
{
	return name ? get_database_oid(name, true) : InvalidOid;
}

/*
 * statement_effect tells how a utility statement touches agentphone:
 * which database, if any, it needs to itself (e->needed_db) and that
 * database's state once it has succeeded, whether the launcher must look
 * at the databases again, and whether it creates or drops the extension.
 * Returns false when it touches nothing.
 */
static bool
statement_effect(Node *stmt, Effect *e)
{
	memset(e, 0, sizeof(*e));
	e->after = DB_PRESENT;
	switch (nodeTag(stmt))
	{
		case T_DropdbStmt:
			e->needed_db = database_named(((DropdbStmt *) stmt)->dbname);
			e->after = DB_GONE;
			e->rescan = true;
			break;
		case T_AlterDatabaseStmt:
			{
				AlterDatabaseStmt *a = (AlterDatabaseStmt *) stmt;

				if (option_value(a->options, "tablespace") != NULL)
					e->needed_db = database_named(a->dbname);
				e->rescan = true;	/* allow_connections, is_template */
				break;
			}
		case T_CreatedbStmt:
			e->needed_db = database_named(option_value(((CreatedbStmt *) stmt)->options, "template"));
			e->rescan = true;	/* a copy of a database with agentphone has it */
			break;
		case T_RenameStmt:
			if (((RenameStmt *) stmt)->renameType != OBJECT_DATABASE)
				return false;
			e->needed_db = database_named(((RenameStmt *) stmt)->subname);
			e->rescan = true;
			break;
		case T_CreateExtensionStmt:
			e->extension_created =
				strcmp(((CreateExtensionStmt *) stmt)->extname, "agentphone") == 0;
			return e->extension_created;
		case T_DropStmt:
			e->extension_dropped = names_agentphone((DropStmt *) stmt);
			return e->extension_dropped;
		default:
			return false;
	}
	return true;
}

/*
 * catalog_flag returns boolean column attnum of the row of syscache cacheid
 * keyed by oid, or false when there is no such row.
 */
static bool
catalog_flag(int cacheid, Oid oid, AttrNumber attnum)
{
	HeapTuple	tup = SearchSysCache1(cacheid, ObjectIdGetDatum(oid));
	bool		isnull;
	bool		result = false;

	if (HeapTupleIsValid(tup))
	{
		result = DatumGetBool(SysCacheGetAttr(cacheid, tup, attnum, &isnull)) && !isnull;
		ReleaseSysCache(tup);
	}
	return result;
}

/*
 * may_create_databases tells whether the current role has CREATEDB.
 */
static bool
may_create_databases(void)
{
	return superuser() ||
		catalog_flag(AUTHOID, GetUserId(), Anum_pg_authid_rolcreatedb);
}

/*
 * owns_database tells whether the current role owns database db.
 */
static bool
owns_database(Oid db)
{
#if PG_VERSION_NUM >= 160000
	return object_ownercheck(DatabaseRelationId, db, GetUserId());
#else
	return pg_database_ownercheck(db, GetUserId());
#endif
}

/*
 * is_template tells whether database db may be copied by anyone with
 * CREATEDB.
 */
static bool
is_template(Oid db)
{
	return catalog_flag(DATABASEOID, db, Anum_pg_database_datistemplate);
}

/*
 * may_create_in_tablespace tells whether the current role may put a
 * database in the tablespace named by a SET TABLESPACE option list.
 */
static bool
may_create_in_tablespace(List *options)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);
		Oid			spc;

		if (strcmp(def->defname, "tablespace") != 0 || def->arg == NULL)
			continue;
		spc = get_tablespace_oid(defGetString(def), true);
#if PG_VERSION_NUM >= 160000
		return OidIsValid(spc) &&
			object_aclcheck(TableSpaceRelationId, spc, GetUserId(), ACL_CREATE) == ACLCHECK_OK;
#else
		return OidIsValid(spc) &&
			pg_tablespace_aclcheck(spc, GetUserId(), ACL_CREATE) == ACLCHECK_OK;
#endif
	}
	return false;
}

/*
 * could_succeed tells whether the current role holds the privileges
 * PostgreSQL checks before it runs a statement that needs database db to
 * itself.
 */
static bool
could_succeed(Node *stmt, Oid db)
{
	if (db == MyDatabaseId)
		return false;			/* bound to fail */
	switch (nodeTag(stmt))
	{
		case T_DropdbStmt:
			return owns_database(db);
		case T_RenameStmt:
			return owns_database(db) && may_create_databases();
		case T_AlterDatabaseStmt:
			return owns_database(db) &&
				may_create_in_tablespace(((AlterDatabaseStmt *) stmt)->options);
		case T_CreatedbStmt:
			return may_create_databases() && (owns_database(db) || is_template(db));
		default:
			return false;
	}
}

/*
 * run_utility runs the statement as PostgreSQL would; when it needed a
 * served database and fails, the database is still there and its worker
 * may come back.
 */
static void
run_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			ProcessUtilityContext context, ParamListInfo params,
			QueryEnvironment *queryEnv, DestReceiver *dest,
			QueryCompletion *qc, Oid needed_db)
{
	PG_TRY();
	{
		agentphone_next_utility(prev_process_utility, pstmt, queryString, readOnlyTree,
								context, params, queryEnv, dest, qc);
	}
	PG_CATCH();
	{
		if (OidIsValid(needed_db))
			slots_set_db_state(needed_db, DB_PRESENT);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * warn_if_unserved warns, at CREATE EXTENSION, when this database will
 * get no worker because every slot serves another.
 */
static void
warn_if_unserved(void)
{
	if (shared_database_unserved(MyDatabaseId))
		ereport(WARNING,
				(errmsg("agentphone will not place calls in this database yet: all %d slots of agentphone.max_databases serve other databases",
						shared_slot_count()),
				 errdetail("Calls queued here stay queued until a slot is free."),
				 errhint("Raise agentphone.max_databases (and max_worker_processes) and restart the server.")));
}

/*
 * agentphone_process_utility runs a utility statement, clearing a
 * database's worker out of the way first when the statement needs that
 * database to itself, and notes what to tell the launcher at COMMIT.
 */
static void
agentphone_process_utility(PlannedStmt *pstmt, const char *queryString,
						   bool readOnlyTree, ProcessUtilityContext context,
						   ParamListInfo params, QueryEnvironment *queryEnv,
						   DestReceiver *dest, QueryCompletion *qc)
{
	Effect		e;
	bool		touches = shared_available() &&
		statement_effect(pstmt->utilityStmt, &e);

	if (touches && OidIsValid(e.needed_db) &&
		!could_succeed(pstmt->utilityStmt, e.needed_db))
		touches = false;		/* PostgreSQL will refuse it */
	if (!touches)
		e.needed_db = InvalidOid;
	if (OidIsValid(e.needed_db))
		slots_set_db_state(e.needed_db, DB_GOING);
	run_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv,
				dest, qc, e.needed_db);
	if (!touches)
		return;
	if (e.extension_created)
	{
		agentphone_request_worker_at_commit();
		warn_if_unserved();
	}
	if (e.extension_dropped)
		agentphone_wake_at_commit();
	if (e.rescan || OidIsValid(e.needed_db))
	{
		at_commit = e;
		at_commit_pending = true;
	}
}

/*
 * dbguard_xact_callback publishes the database's new state at COMMIT and
 * wakes the launcher; at ABORT a database the command needed is still
 * there.
 */
static void
dbguard_xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	if (!at_commit_pending)
		return;
	if (event == XACT_EVENT_COMMIT)
	{
		/*
		 * The rescan first: a launcher woken by the new state must already
		 * know to read pg_database, or it would start a worker in a
		 * database renamed away from agentphone.database_name.
		 */
		slots_wake_launcher(at_commit.rescan);
		if (OidIsValid(at_commit.needed_db))
			slots_set_db_state(at_commit.needed_db, at_commit.after);
	}
	else if (event == XACT_EVENT_ABORT && OidIsValid(at_commit.needed_db))
		slots_set_db_state(at_commit.needed_db, DB_PRESENT);
	else if (event != XACT_EVENT_ABORT)
		return;
	at_commit_pending = false;
}

/*
 * agentphone_leave_if_database_needed is called at the top of the worker's
 * loop: when a command needs the database, the worker drops its requests
 * and exits; the launcher starts it again once the command is over and
 * the database still exists (under its new name, after a rename).
 */
void
agentphone_leave_if_database_needed(const char *dbname)
{
	TimestampTz since;

	if (workerslot_db_state(&since) != DB_GOING ||
		TimestampDifferenceExceeds(since, GetCurrentTimestamp(), DB_GOING_STALE_MS))
		return;
	ereport(LOG,
			(errmsg("agentphone worker is leaving database \"%s\" for a command that needs it to itself",
					dbname),
			 errdetail("Calls whose requests were in flight will be reconciled with the API if the database remains.")));
	workerslot_exit(EXIT_LEFT);
	proc_exit(0);
}

/*
 * agentphone_install_dbguard installs the utility hook (from _PG_init, in
 * every backend of a server that preloads agentphone).
 */
void
agentphone_install_dbguard(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = agentphone_process_utility;
	RegisterXactCallback(dbguard_xact_callback, NULL);
}
