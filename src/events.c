/*-------------------------------------------------------------------------
 *
 * events.c
 *		The triggers on agentphone.calls that record and announce a call's
 *		life: agentphone.record_transition() and
 *		agentphone.announce_transcript().
 *
 * record_transition writes one agentphone.call_events row per status
 * change and announces '{"id" : ..., "status" : ...}'; announce_transcript
 * announces '{"id" : ..., "transcript" : "stored"}' once a call's
 * transcript is complete, each to those who may read the call
 * (channel.c).  The payloads are json_build_object()'s,
 * byte for byte, as when these were PL/pgSQL.  They run for every
 * transition the worker stores, so they are C: no PL/pgSQL interpreter,
 * one saved plan, and the notification queued directly.  The INSERT names
 * everything qualified and resolves no operator or function, and is not
 * made while a table under agentphone.call_events would run code of a
 * role that is not a superuser (agentphone_require_safe_tables).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/rel.h"

#include "access.h"
#include "channel.h"
#include "tables.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(agentphone_record_transition);
PG_FUNCTION_INFO_V1(agentphone_announce_transcript);

/* The columns the triggers read, found once per statement (fn_extra). */
typedef struct CallColumns
{
	Oid			relid;
	int			id;
	int			status;
	int			last_error;
	int			created_by;
	Oid			created_by_type;	/* regrole, or name before 1.7 */
} CallColumns;

static SPIPlanPtr event_plan = NULL;

/* One firing: the rows and where the columns are. */
typedef struct Firing
{
	Relation	rel;
	HeapTuple	new;
	HeapTuple	old;			/* NULL for an INSERT */
	CallColumns *cols;
} Firing;

/*
 * call_columns returns the attribute numbers of id, status and last_error
 * in the trigger's table.
 */
static CallColumns *
call_columns(FunctionCallInfo fcinfo, Relation rel)
{
	CallColumns *c = fcinfo->flinfo->fn_extra;
	TupleDesc	desc = RelationGetDescr(rel);

	if (c != NULL && c->relid == RelationGetRelid(rel))
		return c;
	if (c == NULL)
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(CallColumns));
	c->relid = RelationGetRelid(rel);
	c->id = SPI_fnumber(desc, "id");
	c->status = SPI_fnumber(desc, "status");
	c->last_error = SPI_fnumber(desc, "last_error");
	c->created_by = SPI_fnumber(desc, "created_by");
	if (c->id <= 0 || c->status <= 0 || c->last_error <= 0 || c->created_by <= 0)
		elog(ERROR, "agentphone's triggers need agentphone.calls' id, status, last_error and created_by");
	c->created_by_type = SPI_gettypeid(desc, c->created_by);
	fcinfo->flinfo->fn_extra = c;
	return c;
}

/*
 * firing checks that the function runs as an AFTER ROW trigger of INSERT
 * or UPDATE and returns its rows.
 */
static Firing
firing(FunctionCallInfo fcinfo, const char *name)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Firing		f;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || TRIGGER_FIRED_BY_DELETE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s() must be fired AFTER INSERT OR UPDATE FOR EACH ROW", name),
				 errdetail("It records and announces the transitions of agentphone.calls."),
				 errhint("Leave it to the triggers agentphone creates on agentphone.calls.")));
	f.rel = td->tg_relation;
	f.new = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	f.old = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_trigtuple : NULL;
	f.cols = call_columns(fcinfo, f.rel);
	return f;
}

/*
 * column returns attribute attnum of tuple (NULL: 0 and *isnull).
 */
static Datum
column(HeapTuple tuple, Relation rel, int attnum, bool *isnull)
{
	if (tuple == NULL)
	{
		*isnull = true;
		return (Datum) 0;
	}
	return heap_getattr(tuple, attnum, RelationGetDescr(rel), isnull);
}

/*
 * queued_by returns the role that queued the call of f's new row
 * (InvalidOid if it no longer exists).
 */
static Oid
queued_by(const Firing *f)
{
	bool		isnull;
	Datum		role = column(f->new, f->rel, f->cols->created_by, &isnull);

	if (isnull)
		return InvalidOid;
	if (f->cols->created_by_type == NAMEOID)
		return get_role_oid(NameStr(*DatumGetName(role)), true);
	return DatumGetObjectId(role);
}

/*
 * notify_call announces {"id" : id, "key" : value}, value a JSON string or
 * null, to those who may read the call (channel.c).
 */
static void
notify_call(const Firing *f, int64 id, const char *key, const char *value)
{
	StringInfoData payload;

	initStringInfo(&payload);
	appendStringInfo(&payload, "{\"id\" : " INT64_FORMAT ", ", id);
	escape_json(&payload, key);
	appendStringInfoString(&payload, " : ");
	if (value)
		escape_json(&payload, value);
	else
		appendStringInfoString(&payload, "null");
	appendStringInfoChar(&payload, '}');
	agentphone_announce(queued_by(f), payload.data);
	pfree(payload.data);
}

/*
 * agentphone_record_transition: AFTER UPDATE OF status (or INSERT) FOR
 * EACH ROW: record the transition and announce it.
 */
Datum
agentphone_record_transition(PG_FUNCTION_ARGS)
{
	Firing		f = firing(fcinfo, "agentphone.record_transition");
	Oid			types[4] = {INT8OID, TEXTOID, TEXTOID, TEXTOID};
	Datum		v[4];
	bool		isnull[4];
	char		nulls[4];

	v[0] = column(f.new, f.rel, f.cols->id, &isnull[0]);
	v[1] = column(f.old, f.rel, f.cols->status, &isnull[1]);
	v[2] = column(f.new, f.rel, f.cols->status, &isnull[2]);
	v[3] = column(f.new, f.rel, f.cols->last_error, &isnull[3]);
	for (int i = 0; i < 4; i++)
		nulls[i] = isnull[i] ? 'n' : ' ';

	agentphone_require_safe_tables();
	SPI_connect();
	agentphone_saved_plan(&event_plan,
						  "INSERT INTO agentphone.call_events (call_id, from_status, to_status, detail)"
						  " VALUES ($1, $2, $3, $4)",
						  4, types);
	if (SPI_execute_plan(event_plan, v, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record a call's transition");
	SPI_finish();

	notify_call(&f, DatumGetInt64(v[0]), "status",
				isnull[2] ? NULL : TextDatumGetCString(v[2]));
	return PointerGetDatum(NULL);
}

/*
 * agentphone_announce_transcript: AFTER UPDATE FOR EACH ROW when a
 * transcript became complete: announce it.
 */
Datum
agentphone_announce_transcript(PG_FUNCTION_ARGS)
{
	Firing		f = firing(fcinfo, "agentphone.announce_transcript");
	bool		isnull;
	Datum		id = column(f.new, f.rel, f.cols->id, &isnull);

	notify_call(&f, DatumGetInt64(id), "transcript", "stored");
	return PointerGetDatum(NULL);
}
