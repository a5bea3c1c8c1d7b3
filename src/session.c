/*-------------------------------------------------------------------------
 *
 * session.c
 *		The worker's session settings, out of every user's reach.
 *
 * The worker runs as the bootstrap superuser.  When it connects,
 * PostgreSQL applies the settings attached to its database and role
 * (ALTER DATABASE ... SET, ALTER ROLE ... SET), and the owner of a
 * database, who need not be a superuser, can attach search_path,
 * default_transaction_read_only, statement_timeout, synchronous_commit and
 * many more.  Through search_path alone such an owner could make the
 * worker resolve an operator or function of theirs and run it as
 * superuser.  So the worker:
 *
 *	 1. notes every user-settable setting before it connects (the values of
 *		postgresql.conf, ALTER SYSTEM and the defaults);
 *	 2. after connecting, puts back each one that a database or role
 *		setting changed, but for the settings a superuser may give a
 *		database of their own (kept_per_database: agentphone.api_url,
 *		which only a superuser, or a role a superuser granted SET on it,
 *		can attach with ALTER DATABASE ... SET);
 *	 3. pins what its own statements rely on: search_path = pg_catalog,
 *		pg_temp; read-write READ COMMITTED transactions; triggers firing
 *		(session_replication_role = origin); commits that are durable
 *		before it dials (synchronous_commit never off); and a bound on
 *		every lock wait (lock_timeout = WORKER_LOCK_TIMEOUT): a lock that a
 *		user's open transaction holds (a row agentphone_end_call() wrote,
 *		a table agentphone_refresh_agents() locked, a partition in a
 *		recipe's DDL) costs the worker that step, postponed and logged,
 *		never its loop.
 *
 * Every one is set at PGC_S_OVERRIDE, which no later setting can outrank.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/memutils.h"

#include "session.h"

/*
 * The longest the worker waits for a lock: long enough for the locks its
 * own functions take for a moment, short enough that a locked row delays
 * the others' calls by no more than that per step.
 */
#define WORKER_LOCK_TIMEOUT "200ms"

typedef struct SavedSetting
{
	char	   *name;
	char	   *value;
} SavedSetting;

static SavedSetting *saved = NULL;
static int	nsaved = 0;

/* Settings a database's own value of is honoured (they are PGC_SUSET). */
static const char *const kept_per_database[] = {
	"agentphone.api_url",
};

/* What the worker's own statements rely on. */
static const char *const pinned[][2] = {
	{"search_path", "pg_catalog, pg_temp"},
	{"default_transaction_read_only", "off"},
	{"default_transaction_isolation", "read committed"},
	{"default_transaction_deferrable", "off"},
	{"session_replication_role", "origin"},
	{"lock_timeout", WORKER_LOCK_TIMEOUT},
};

/*
 * set_override sets a setting for the rest of the session.
 */
static void
set_override(const char *name, const char *value)
{
	(void) set_config_option(name, value, PGC_SUSET, PGC_S_OVERRIDE,
							 GUC_ACTION_SET, true, 0, false);
}

/*
 * attached_by_database_or_role tells whether a setting's value came from
 * ALTER DATABASE/ROLE ... SET.
 */
static bool
attached_by_database_or_role(GucSource source)
{
	return source == PGC_S_GLOBAL || source == PGC_S_DATABASE ||
		source == PGC_S_USER || source == PGC_S_DATABASE_USER;
}

/*
 * kept_for_database tells whether a setting's database value stands.
 */
static bool
kept_for_database(const struct config_generic *g)
{
	if (g->source != PGC_S_DATABASE)
		return false;
	for (int i = 0; i < (int) lengthof(kept_per_database); i++)
		if (strcmp(g->name, kept_per_database[i]) == 0)
			return true;
	return false;
}

/*
 * agentphone_note_server_settings notes the value of every setting a
 * database or role could change: call it before connecting.
 */
void
agentphone_note_server_settings(void)
{
	struct config_generic **vars = get_guc_variables();
	int			n = GetNumConfigOptions();
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	saved = palloc(n * sizeof(SavedSetting));
	for (int i = 0; i < n; i++)
	{
		struct config_generic *g = vars[i];
		const char *v;

		if ((g->context != PGC_USERSET && g->context != PGC_SUSET) ||
			(g->flags & GUC_CUSTOM_PLACEHOLDER) != 0)
			continue;
		v = GetConfigOption(g->name, false, false);
		saved[nsaved].name = pstrdup(g->name);
		saved[nsaved].value = v ? pstrdup(v) : NULL;
		nsaved++;
	}
	MemoryContextSwitchTo(old);
}

/*
 * agentphone_pin_session_settings undoes what the database's and role's
 * settings changed and pins the settings the worker relies on: call it
 * right after connecting, before any statement runs.
 */
void
agentphone_pin_session_settings(void)
{
	struct config_generic **vars = get_guc_variables();
	int			n = GetNumConfigOptions();
	const char *sync;

	for (int i = 0; i < n; i++)
	{
		struct config_generic *g = vars[i];

		if (!attached_by_database_or_role(g->source) || kept_for_database(g))
			continue;
		for (int j = 0; j < nsaved; j++)
			if (strcmp(saved[j].name, g->name) == 0)
			{
				set_override(g->name, saved[j].value);
				break;
			}
	}
	for (int i = 0; i < (int) lengthof(pinned); i++)
		set_override(pinned[i][0], pinned[i][1]);
	sync = GetConfigOption("synchronous_commit", false, false);
	if (strcmp(sync, "off") == 0)
		set_override("synchronous_commit", "local");
}
