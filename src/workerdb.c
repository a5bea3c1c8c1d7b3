/*-------------------------------------------------------------------------
 *
 * workerdb.c
 *		The worker's database: its name, and whether agentphone is installed
 *		there, as of the check each of the worker's transactions starts
 *		with.
 *
 * When the worker finds no extension in its database (it never was
 * installed there, or DROP EXTENSION ran) it tells the launcher and exits;
 * CREATE EXTENSION asks the launcher for a worker again.  It holds no lock
 * between transactions, so it never blocks DROP EXTENSION.  An extension
 * dropped and created again is another incarnation, with another OID: the
 * periodic tasks forget their cycles, and answers that arrive for the
 * calls of the old one are discarded (workerrecord.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"

#include "callanswer.h"
#include "health.h"
#include "schema.h"
#include "secret.h"
#include "tables.h"
#include "task.h"
#include "workerdb.h"
#include "workerslot.h"
#include "xact.h"

static Oid	extension_oid = InvalidOid;	/* as of the last check */
static bool extension_checked = false;	/* checked at least once */
static bool orphans_recovered = false;
static bool schema_1_3 = false; /* the tables are 1.3's: window holds */
static char database_name[NAMEDATALEN];	/* the worker's database */

/*
 * workerdb_attach makes slot the worker's own, and returns the OID of the
 * database it serves; false when the launcher freed the slot meanwhile.
 */
bool
workerdb_attach(int slot, Oid *db)
{
	return workerslot_attach(slot, db, database_name);
}

/*
 * workerdb_name is the name of the worker's database.
 */
const char *
workerdb_name(void)
{
	return database_name;
}

/*
 * check_extension_at_start notes whether the extension exists in this
 * database, logging each change once.  On first sight it recovers
 * orphaned calls.  Where it exists, it refuses (an error: the transaction
 * does nothing) to go on while agentphone may not write its tables
 * (agentphone_require_safe_tables); the worker's first transaction
 * (starting), which must commit for the worker to start, leaves the
 * orphans for later instead.
 */
static void
check_extension_at_start(bool starting)
{
	Oid			oid = get_extension_oid("agentphone", true);
	bool		ready;

	/*
	 * Hold DROP EXTENSION off until this short transaction ends, then look
	 * again: the extension may have been dropped while we waited for the
	 * lock, and the tables with it.
	 */
	if (OidIsValid(oid))
	{
		LockDatabaseObject(ExtensionRelationId, oid, 0, AccessShareLock);
		if (get_extension_oid("agentphone", true) != oid)
			oid = InvalidOid;
	}
	ready = OidIsValid(oid);

	if (ready && !extension_checked)
		ereport(LOG,
				(errmsg("agentphone: extension found in database \"%s\", placing calls",
						database_name)));
	/* a cycle of a dropped extension would never end */
	if (oid != extension_oid)
		task_reset_all();
	extension_oid = oid;
	extension_checked = true;
	if (ready && !starting)
		agentphone_require_safe_tables();
	schema_1_3 = ready && agentphone_schema_has(SCHEMA_1_3);
	if (ready && !orphans_recovered && agentphone_tables_are_safe())
	{
		callanswer_recover_orphans();
		orphans_recovered = true;
	}
}

/*
 * workerdb_check is check_extension_at_start for every later transaction:
 * each of the worker's transactions starts with it.
 */
void
workerdb_check(void)
{
	check_extension_at_start(false);
}

/*
 * check_step is the body of the worker's first transaction.
 */
static void
check_step(void *arg)
{
	(void) arg;
	check_extension_at_start(true);
	strlcpy(database_name, get_database_name(MyDatabaseId), NAMEDATALEN);
	secret_use_database(database_name);
}

/*
 * workerdb_look_for_extension runs the worker's first transaction, which
 * looks for the extension and reads the database's name; false when it
 * failed.
 */
bool
workerdb_look_for_extension(void)
{
	return run_in_transaction("agentphone: looking for the extension", check_step, NULL);
}

/*
 * workerdb_leave_if_no_extension exits when the extension is not installed
 * in the worker's database, so that the launcher frees its slot.
 */
void
workerdb_leave_if_no_extension(void)
{
	if (!extension_checked || workerdb_ready())
		return;
	ereport(LOG,
			(errmsg("agentphone: extension not installed in database \"%s\", its worker stops",
					database_name),
			 errdetail("CREATE EXTENSION agentphone starts one again.")));
	workerslot_exit(EXIT_NO_EXTENSION);
	proc_exit(0);
}

/*
 * workerdb_ready says whether the extension exists in the worker's
 * database, as of the last check.
 */
bool
workerdb_ready(void)
{
	return OidIsValid(extension_oid);
}

/*
 * workerdb_extension_oid is the OID of the extension as of the last check
 * (InvalidOid: none): requests carry it, so that the answers for the calls
 * of an extension since dropped are known.
 */
Oid
workerdb_extension_oid(void)
{
	return extension_oid;
}

/*
 * workerdb_schema_1_3 says whether the tables have 1.3's calling-window
 * holds, as of the last check.
 */
bool
workerdb_schema_1_3(void)
{
	return schema_1_3;
}
