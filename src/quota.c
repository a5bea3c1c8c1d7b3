/*-------------------------------------------------------------------------
 *
 * quota.c
 *		The quotas of the role that acts.
 *
 * agentphone.role_calls_per_hour and agentphone.role_calls_per_day are set
 * per role by a superuser (ALTER ROLE app SET ...).  PostgreSQL applies a
 * role's settings at login only, so behind a pooler that logs in as one
 * role and switches tenants with SET ROLE the session's value is the
 * login role's.  A quota is the acting role's (current_user, however it
 * became the current role), read as that role's login would have set it:
 *   ALTER ROLE role IN DATABASE db SET, then ALTER ROLE role SET, then
 *   ALTER DATABASE db SET, then ALTER ROLE ALL SET, then the server's
 *   value (postgresql.conf, ALTER SYSTEM, the command line).
 * The server's value is noted by the settings' check hooks, which see
 * each value's source.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_db_role_setting.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/rel.h"

#include "quota.h"

/* the server's values, as the check hooks last saw them */
static int	server_per_hour = 0;
static int	server_per_day = 0;

/*
 * note_server_value keeps newval as the server's value when it comes from
 * the configuration file, ALTER SYSTEM, the command line or the default.
 */
static bool
note_server_value(int newval, GucSource source, int *server)
{
	if (source <= PGC_S_ARGV)
		*server = newval;
	return true;
}

bool
agentphone_check_role_calls_per_hour(int *newval, void **extra pg_attribute_unused(),
									 GucSource source)
{
	return note_server_value(*newval, source, &server_per_hour);
}

bool
agentphone_check_role_calls_per_day(int *newval, void **extra pg_attribute_unused(),
									GucSource source)
{
	return note_server_value(*newval, source, &server_per_day);
}

/*
 * setting_in sets *value from the "name=value" entries of a
 * pg_db_role_setting row's setconfig, returning whether name is there.
 */
static bool
setting_in(Datum setconfig, const char *name, int *value)
{
	ArrayType  *array = DatumGetArrayTypeP(setconfig);
	Datum	   *items;
	bool	   *nulls;
	int			n;
	size_t		len = strlen(name);
	bool		found = false;

	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &items, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		char	   *item;

		if (nulls[i])
			continue;
		item = TextDatumGetCString(items[i]);
		if (pg_strncasecmp(item, name, len) == 0 && item[len] == '=')
			found = parse_int(item + len + 1, value, 0, NULL) || found;
	}
	return found;
}

/*
 * role_setting sets *value to setting name of (database, role) in
 * pg_db_role_setting (0 for either: every database, every role),
 * returning whether it is set there.
 */
static bool
role_setting(Relation rel, Oid database, Oid role, const char *name, int *value)
{
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		found = false;

	ScanKeyInit(&key[0], Anum_pg_db_role_setting_setdatabase, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(database));
	ScanKeyInit(&key[1], Anum_pg_db_role_setting_setrole, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(role));
	scan = systable_beginscan(rel, DbRoleSettingDatidRolidIndexId, true, NULL, 2, key);
	if (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		setconfig = heap_getattr(tuple, Anum_pg_db_role_setting_setconfig,
											 RelationGetDescr(rel), &isnull);

		found = !isnull && setting_in(setconfig, name, value);
	}
	systable_endscan(scan);
	return found;
}

/* quota_of: setting name for role, by the precedence of a login. */
static int
quota_of(Relation rel, Oid role, const char *name, int server_value)
{
	const Oid	where[4][2] = {
		{MyDatabaseId, role}, {InvalidOid, role}, {MyDatabaseId, InvalidOid}, {InvalidOid, InvalidOid}
	};
	int			value;

	for (int i = 0; i < 4; i++)
		if (role_setting(rel, where[i][0], where[i][1], name, &value))
			return value;
	return server_value;
}

/*
 * agentphone_role_quotas sets the quotas of role (0: no limit), as if it
 * had logged in to this database.  Needs a transaction.
 */
void
agentphone_role_quotas(Oid role, int *per_hour, int *per_day)
{
	Relation	rel = table_open(DbRoleSettingRelationId, AccessShareLock);

	*per_hour = quota_of(rel, role, "agentphone.role_calls_per_hour", server_per_hour);
	*per_day = quota_of(rel, role, "agentphone.role_calls_per_day", server_per_day);
	table_close(rel, AccessShareLock);
}
