/*-------------------------------------------------------------------------
 *
 * fairshare.c
 *		Which databases the launcher's slots serve: the databases of
 *		pg_database it may serve, a slot for each of them not known to lack
 *		the extension, and the slots shared fairly when databases wait for
 *		one.
 *
 * A database that accepts connections and is not a template is servable;
 * with the deprecated agentphone.database_name set, only the database of
 * that name is.  A database whose worker found no extension there is
 * remembered as without it, and gets no slot until it asks for a worker
 * (CREATE EXTENSION) or the next full rescan forgets what it knew.
 *
 * Slots are shared fairly when databases wait for one.  A database that
 * asked for a worker (CREATE EXTENSION, or a call queued there, committed)
 * and got no slot waits, and takes the next slot freed before any other.
 * For it the launcher stops one worker whose slot is used unfairly: first
 * that of a database with nothing to do but calls copied from another
 * (held, home.c), else the newest database of an owner whose databases
 * hold at least two slots more than the waiting one's owner's.  So a role
 * with CREATEDB cannot take every slot with copies of its database, and a
 * new tenant's database is served.  The stopped database waits in turn;
 * its calls in flight are reconciled when it is served again.  When every
 * slot is taken (agentphone.max_databases), the launcher says so once in
 * the log.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "fairshare.h"
#include "guc.h"
#include "health.h"
#include "shared.h"
#include "slots.h"
#include "tending.h"

typedef struct ServableDb
{
	Oid			oid;
	Oid			owner;			/* datdba */
	char		name[NAMEDATALEN];
} ServableDb;

static List *without_extension = NIL;	/* database OIDs, as of their probe;
										 * in TopMemoryContext */
static List *waiting = NIL;		/* database OIDs that asked for a worker and
								 * have no slot, first asked first; in
								 * TopMemoryContext */
static bool slots_exhausted_said = false;

/*
 * servable tells whether the launcher serves a database of pg_database.
 */
static bool
servable(Form_pg_database d)
{
	if (!d->datallowconn || d->datistemplate)
		return false;
	if (agentphone_database_name[0] != '\0')
		return strcmp(NameStr(d->datname), agentphone_database_name) == 0;
	return true;
}

/*
 * servable_databases reads pg_database and returns a list of ServableDb.
 */
static List *
servable_databases(MemoryContext cxt)
{
	List	   *result = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	MemoryContext caller = CurrentMemoryContext;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database d = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;
		ServableDb *s;

		if (!servable(d))
			continue;
		old = MemoryContextSwitchTo(cxt);
		s = palloc(sizeof(ServableDb));
		s->oid = d->oid;
		s->owner = d->datdba;
		strlcpy(s->name, NameStr(d->datname), NAMEDATALEN);
		result = lappend(result, s);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	MemoryContextSwitchTo(caller);	/* the commit left TopMemoryContext */
	return result;
}

static ServableDb *
find_servable(List *dbs, Oid oid)
{
	ListCell   *lc;

	foreach(lc, dbs)
		if (((ServableDb *) lfirst(lc))->oid == oid)
			return lfirst(lc);
	return NULL;
}

/*
 * note_unserved logs, once until it changes, that n databases got no slot.
 */
static void
note_unserved(int n, const char *example)
{
	slots_note_unserved(n);
	if (n == 0)
		slots_exhausted_said = false;
	else if (!slots_exhausted_said)
	{
		ereport(LOG,
				(errmsg("agentphone: %d database(s) not served: all %d slots of agentphone.max_databases are taken",
						n, shared_slot_count()),
				 errdetail("Database \"%s\" is one of them; calls queued there stay queued.", example),
				 errhint("Raise agentphone.max_databases (and max_worker_processes with it, one worker per database) and restart the server.")));
		slots_exhausted_said = true;
	}
}

/*
 * note_waiting adds the databases of requested (asked for a worker, no
 * slot) to the waiting list, and drops from it those no longer servable.
 */
static void
note_waiting(List *requested, List *dbs)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	List	   *still = NIL;
	ListCell   *lc;

	waiting = list_concat_unique_oid(waiting, requested);
	foreach(lc, waiting)
		if (find_servable(dbs, lfirst_oid(lc)) != NULL)
			still = lappend_oid(still, lfirst_oid(lc));
	list_free(waiting);
	waiting = still;
	MemoryContextSwitchTo(old);
}

/*
 * claim_slots gives a slot to each database of dbs that has none, of the
 * waiting ones (waiting_ones) or of the others; it counts those left
 * without one in *unserved (one of their names in *example).
 */
static void
claim_slots(List *dbs, bool waiting_ones, int *unserved, const char **example)
{
	ListCell   *lc;

	foreach(lc, dbs)
	{
		ServableDb *s = lfirst(lc);

		if (list_member_oid(waiting, s->oid) != waiting_ones ||
			list_member_oid(without_extension, s->oid))
			continue;
		if (slots_claim(s->oid, s->name) >= 0)
			waiting = list_delete_oid(waiting, s->oid);
		else
		{
			(*unserved)++;
			*example = s->name;
		}
	}
}

/*
 * slots_of_owner counts the slots (not being freed) whose database belongs
 * to owner; *newest is set to the one of the highest database OID.
 */
static int
slots_of_owner(List *dbs, Oid owner, int *newest)
{
	int			n = 0;
	Oid			newest_db = InvalidOid;

	for (int i = 0; i < shared_slot_count(); i++)
	{
		WorkerHealth h;
		ServableDb *s;

		if (tending_retiring(i) || !shared_slot_health(i, &h) ||
			(s = find_servable(dbs, h.dboid)) == NULL || s->owner != owner)
			continue;
		n++;
		if (h.dboid > newest_db)
			newest_db = h.dboid, *newest = i;
	}
	return n;
}

/*
 * unfair_slot returns a slot that database w, which waits, may take, or
 * -1: first one whose database has nothing to do but held copies
 * (home.c), then the newest of an owner whose databases hold at least two
 * slots more than w's owner's (so no owner's databases keep every slot);
 * *why says which.
 */
static int
unfair_slot(List *dbs, const ServableDb *w, char **why)
{
	int			most = 0;
	int			victim = -1;
	int			ignored;

	for (int i = 0; i < shared_slot_count(); i++)
	{
		WorkerHealth h;
		ServableDb *s;
		int			newest = -1;
		int			n;

		if (tending_retiring(i) || !shared_slot_health(i, &h))
			continue;
		if (h.held_only && h.worker_pid != 0)
		{
			*why = pstrdup("its calls are all held copies of another database's (agentphone_adopt_calls() there asks for a worker again)");
			return i;
		}
		if ((s = find_servable(dbs, h.dboid)) == NULL)
			continue;
		n = slots_of_owner(dbs, s->owner, &newest);
		if (n > most)
			most = n, victim = newest;
	}
	if (victim < 0 || most <= slots_of_owner(dbs, w->owner, &ignored) + 1)
		return -1;
	*why = psprintf("the databases of its owner hold %d of the %d slots of agentphone.max_databases",
					most, shared_slot_count());
	return victim;
}

/*
 * make_room frees, for the first database that waits, a slot used
 * unfairly (unfair_slot), unless one is being freed already: its worker
 * stops, and the slot goes to the waiting database once it has.
 */
static void
make_room(List *dbs)
{
	ServableDb *w;
	WorkerHealth h;
	char	   *why = NULL;
	int			victim;

	for (int i = 0; i < shared_slot_count(); i++)
		if (tending_retiring(i))
			return;
	if (waiting == NIL || (w = find_servable(dbs, linitial_oid(waiting))) == NULL ||
		(victim = unfair_slot(dbs, w, &why)) < 0 || !shared_slot_health(victim, &h))
		return;
	ereport(LOG,
			(errmsg("agentphone: the worker of database \"%s\" stops to give its slot to database \"%s\", which waits",
					h.dbname, w->name),
			 errdetail("Database \"%s\" gives its slot up because %s.", h.dbname, why)));
	tending_let_go(victim);
}

/*
 * fairshare_rescan matches the slots to pg_database: slots of databases no
 * longer served are emptied, renamed ones follow their new name, and every
 * servable database not known to lack the extension (or asked for, in
 * requested) gets a slot, those that asked for a worker first.  When a
 * database that asked waits, a slot used unfairly is freed for it
 * (make_room).
 */
void
fairshare_rescan(List *requested, bool forget_absent, MemoryContext cxt)
{
	List	   *dbs = servable_databases(cxt);
	ListCell   *lc;
	int			unserved = 0;
	const char *example = NULL;

	if (forget_absent)
	{
		list_free(without_extension);
		without_extension = NIL;
	}
	foreach(lc, requested)
		without_extension = list_delete_oid(without_extension, lfirst_oid(lc));
	note_waiting(requested, dbs);

	for (int i = 0; i < shared_slot_count(); i++)
	{
		WorkerHealth h;
		ServableDb *s;

		if (!shared_slot_health(i, &h))
			continue;
		s = find_servable(dbs, h.dboid);
		if (s == NULL)
			tending_let_go(i);
		else if (strcmp(s->name, h.dbname) != 0)
			slots_rename(i, s->name);
	}
	claim_slots(dbs, true, &unserved, &example);
	claim_slots(dbs, false, &unserved, &example);
	make_room(dbs);
	note_unserved(unserved, example);
	list_free_deep(dbs);
}

/*
 * fairshare_no_extension remembers the databases of dbs as without the
 * extension (their workers found none): they wait for no slot.
 */
void
fairshare_no_extension(List *dbs)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	ListCell   *lc;

	foreach(lc, dbs)
	{
		without_extension = lappend_oid(without_extension, lfirst_oid(lc));
		waiting = list_delete_oid(waiting, lfirst_oid(lc));
	}
	MemoryContextSwitchTo(old);
}

/*
 * fairshare_unserved_said says whether databases are left without a slot
 * (and the log said so).
 */
bool
fairshare_unserved_said(void)
{
	return slots_exhausted_said;
}
