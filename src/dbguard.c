/*-------------------------------------------------------------------------
 *
 * dbguard.c
 *		Keeping the worker out of the way of DROP DATABASE and the other
 *		commands that need its database to themselves.
 *
 * The worker stays connected to agentphone.database_name.  DROP DATABASE,
 * ALTER DATABASE ... RENAME, ALTER DATABASE ... SET TABLESPACE and CREATE
 * DATABASE ... TEMPLATE refuse to run while any session is connected to
 * that database, and before PostgreSQL 18 they do not ask background
 * workers to leave.  So a utility hook, run in the backend that issues such
 * a command, marks the database "going" in shared memory and wakes the
 * worker, which drops its requests and exits; the command then finds the
 * database free (it waits up to 5 seconds for other sessions to leave).
 *
 * When the command commits, the state says what became of the database:
 * still there (the command failed, or it only moved or copied it), or gone
 * (dropped or renamed away) until a CREATE DATABASE or a rename gives the
 * name back.  The restarted worker waits, unconnected and quiet, while the
 * database is going or gone.
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
#include "guc.h"
#include "shared.h"

/* A "going" mark older than this is stale (its backend died mid-way). */
#define GOING_STALE_MS 60000
/* How often the waiting worker looks again without being woken. */
#define WAIT_RECHECK_MS 1000

static ProcessUtility_hook_type prev_process_utility = NULL;

/*
 * The state to publish when this backend's transaction commits: a worker
 * woken before then would not yet see a created or renamed database.
 */
static bool state_at_commit_pending = false;
static AgentphoneDbState state_at_commit;
static bool needed_it_at_commit;

/*
 * has_option tells whether a CREATE/ALTER DATABASE option list holds
 * option "name"; with "value" given, whether it holds it with that value.
 */
static bool
has_option(List *options, const char *name, const char *value)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, name) != 0 || def->arg == NULL)
			continue;
		if (value == NULL || strcmp(defGetString(def), value) == 0)
			return true;
	}
	return false;
}

/*
 * statement_effect tells how a utility statement touches the worker's
 * database: *needs_it is true when it needs the database to itself, and
 * *after is the database's state once it has succeeded.  Returns false
 * when it does not touch the database at all.
 */
static bool
statement_effect(Node *stmt, bool *needs_it, AgentphoneDbState *after)
{
	const char *ours = agentphone_database_name;

	*needs_it = true;
	*after = DB_PRESENT;
	switch (nodeTag(stmt))
	{
		case T_DropdbStmt:
			*after = DB_GONE;
			return strcmp(((DropdbStmt *) stmt)->dbname, ours) == 0;
		case T_AlterDatabaseStmt:
			return strcmp(((AlterDatabaseStmt *) stmt)->dbname, ours) == 0 &&
				has_option(((AlterDatabaseStmt *) stmt)->options, "tablespace", NULL);
		case T_CreatedbStmt:
			{
				CreatedbStmt *c = (CreatedbStmt *) stmt;

				if (strcmp(c->dbname, ours) == 0)
				{
					/* our name comes (back) into existence */
					*needs_it = false;
					return true;
				}
				return has_option(c->options, "template", ours);
			}
		case T_RenameStmt:
			{
				RenameStmt *r = (RenameStmt *) stmt;

				if (r->renameType != OBJECT_DATABASE)
					return false;
				if (strcmp(r->newname, ours) == 0)
				{
					*needs_it = false;
					return true;
				}
				*after = DB_GONE;
				return strcmp(r->subname, ours) == 0;
			}
		default:
			return false;
	}
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
 * PostgreSQL checks before it runs a statement that needs the worker's
 * database to itself (statement_effect() said it does).
 */
static bool
could_succeed(Node *stmt)
{
	Oid			db = get_database_oid(agentphone_database_name, true);

	if (!OidIsValid(db) || db == MyDatabaseId)
		return false;			/* nothing to free, or bound to fail */
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
 * run_utility runs the statement as PostgreSQL would; when it needed the
 * worker's database and fails, the database is still there and the worker
 * may come back.
 */
static void
run_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			ProcessUtilityContext context, ParamListInfo params,
			QueryEnvironment *queryEnv, DestReceiver *dest,
			QueryCompletion *qc, bool needed_it)
{
	PG_TRY();
	{
		if (prev_process_utility)
			prev_process_utility(pstmt, queryString, readOnlyTree, context,
								 params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
	}
	PG_CATCH();
	{
		if (needed_it)
			shared_set_db_state(DB_PRESENT);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * agentphone_process_utility runs a utility statement, clearing the worker
 * out of the way first when the statement needs its database to itself.
 */
static void
agentphone_process_utility(PlannedStmt *pstmt, const char *queryString,
						   bool readOnlyTree, ProcessUtilityContext context,
						   ParamListInfo params, QueryEnvironment *queryEnv,
						   DestReceiver *dest, QueryCompletion *qc)
{
	bool		needs_it = false;
	AgentphoneDbState after;
	bool		touches = shared_available() &&
		statement_effect(pstmt->utilityStmt, &needs_it, &after);

	if (touches && needs_it && !could_succeed(pstmt->utilityStmt))
		touches = needs_it = false;	/* PostgreSQL will refuse it */
	if (touches && needs_it)
		shared_set_db_state(DB_GOING);
	run_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv,
				dest, qc, touches && needs_it);
	if (touches)
	{
		state_at_commit_pending = true;
		state_at_commit = after;
		needed_it_at_commit = needs_it;
	}
}

/*
 * dbguard_xact_callback publishes the database's new state at COMMIT; at
 * ABORT a database the command needed is still there.
 */
static void
dbguard_xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	if (!state_at_commit_pending)
		return;
	if (event == XACT_EVENT_COMMIT)
		shared_set_db_state(state_at_commit);
	else if (event == XACT_EVENT_ABORT && needed_it_at_commit)
		shared_set_db_state(DB_PRESENT);
	else
		return;
	state_at_commit_pending = false;
}

/*
 * db_state_blocks tells whether the worker must stay away from its
 * database now.
 */
static bool
db_state_blocks(void)
{
	TimestampTz since;
	AgentphoneDbState state = shared_db_state(&since);
	if (state == DB_GOING)
		return !TimestampDifferenceExceeds(since, GetCurrentTimestamp(),
										   GOING_STALE_MS);
	return state == DB_GONE;
}

/*
 * agentphone_leave_if_database_needed is called at the top of the worker's
 * loop: when a command needs the database, the worker drops its requests
 * and exits (proc_exit); the postmaster restarts it, and it waits in
 * agentphone_wait_for_database.
 */
void
agentphone_leave_if_database_needed(void)
{
	if (!db_state_blocks())
		return;
	ereport(LOG,
			(errmsg("agentphone worker is leaving database \"%s\" for a command that needs it to itself",
					agentphone_database_name),
			 errdetail("Calls whose requests were in flight will be reconciled with the API if the database remains.")));
	proc_exit(1);
}

/*
 * agentphone_wait_for_database keeps the starting worker unconnected while
 * its database is being dropped, renamed or copied, or is gone.
 */
void
agentphone_wait_for_database(void)
{
	bool		said = false;

	while (db_state_blocks())
	{
		if (!said)
		{
			ereport(LOG,
					(errmsg("agentphone worker waits for database \"%s\"",
							agentphone_database_name),
					 errdetail("The database is being dropped, renamed or copied, or was dropped or renamed."),
					 errhint("It connects again once a database of that name exists (CREATE DATABASE or ALTER DATABASE ... RENAME).")));
			agentphone_note_error("waiting for its database to exist again");
			said = true;
		}
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 WAIT_RECHECK_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
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
