/*-------------------------------------------------------------------------
 *
 * schema.c
 *		Which release's schema this database has: the installed version of
 *		the extension, read from pg_extension once per transaction.
 *
 * The library may be newer than the scripts ALTER EXTENSION last ran (it
 * is installed, the server restarted, and the UPDATE not yet run in every
 * database): it then keeps placing calls with the older schema's rules,
 * and asks here, by release (schema.h), whether the tables have what a
 * newer release added.  Nothing else looks for tables or columns to guess.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "schema.h"

/*
 * release_of turns an extversion ("1.9", "1.10") into 100 * major + minor;
 * 0 for one it cannot read.
 */
static int
release_of(const char *version)
{
	int			major;
	int			minor;

	if (sscanf(version, "%d.%d", &major, &minor) != 2 || major < 0 || minor < 0 || minor > 99)
		return 0;
	return major * 100 + minor;
}

/*
 * read_release reads the installed version of agentphone (0: none).
 */
static int
read_release(void)
{
	Relation	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	int			release = 0;

	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("agentphone"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		v = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			release = release_of(TextDatumGetCString(v));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return release;
}

/*
 * agentphone_schema returns the installed release as 100 * major + minor
 * (1.9: 109), 0 when agentphone is not installed here, looked up once per
 * transaction.  It needs a transaction.
 */
int
agentphone_schema(void)
{
	static LocalTransactionId read_in = InvalidLocalTransactionId;
	static int	release = 0;

	if (read_in != MyProc->lxid)
	{
		release = read_release();
		read_in = MyProc->lxid;
	}
	return release;
}

/*
 * agentphone_schema_has says whether the installed schema is that of
 * release (SCHEMA_1_8...) or a later one.
 */
bool
agentphone_schema_has(int release)
{
	return agentphone_schema() >= release;
}
