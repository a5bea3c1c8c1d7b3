/*-------------------------------------------------------------------------
 *
 * trigger.c
 *		agentphone_dial_trigger(agent_id, number_column [, variables
 *		[, id_column]]): one call queued per inserted row, and per updated
 *		row whose number changed.
 *
 * The row is read the way to_jsonb(NEW) shows it, so a column of any type
 * gives the number or a variable as PL/pgSQL's "NEW ->> column" would.
 * variables names a jsonb column holding an object, or lists columns
 * ('name,appointment_time') whose values become variables.  In a BEFORE
 * trigger, id_column receives the queued call's id.  The call is queued
 * by enqueue_call(), exactly as agentphone_call() would queue it
 * for the role that fired the trigger, who needs EXECUTE on
 * agentphone_call() for that.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "enqueue.h"
#include "grants.h"

PG_FUNCTION_INFO_V1(agentphone_dial_trigger);

/* What one statement's firings share (in fn_extra). */
typedef struct TriggerCache
{
	Oid			relid;			/* the table the row types are of */
	FmgrInfo	to_jsonb;		/* to_jsonb() of that table's rows */
	Oid			call_fn;		/* agentphone_call() */
	List	   *cols;			/* the columns the variables argument lists */
	AttrNumber	id_attnum;		/* the id column, 0 if none */
	Oid			id_input;		/* its type's input function */
	Oid			id_ioparam;
} TriggerCache;

/*
 * row_as_jsonb returns to_jsonb() of the row.
 */
static Jsonb *
row_as_jsonb(TriggerCache *cache, HeapTuple tuple, TupleDesc desc)
{
	return DatumGetJsonbP(FunctionCall1(&cache->to_jsonb,
										heap_copy_tuple_as_datum(tuple, desc)));
}

/*
 * jsonb_field returns rec -> key (as_text false) or rec ->> key (as_text
 * true), NULL for SQL NULL: the jsonb operators themselves, called here.
 */
static Datum
jsonb_field(Jsonb *rec, const char *key, bool as_text, bool *isnull)
{
	LOCAL_FCINFO(fc, 2);
	Datum		result;

	InitFunctionCallInfoData(*fc, NULL, 2, InvalidOid, NULL, NULL);
	fc->args[0].value = JsonbPGetDatum(rec);
	fc->args[0].isnull = false;
	fc->args[1].value = CStringGetTextDatum(key);
	fc->args[1].isnull = false;
	result = as_text ? jsonb_object_field_text(fc) : jsonb_object_field(fc);
	*isnull = fc->isnull;
	return result;
}

/*
 * column_must_exist raises 42703 unless the table has a column named col.
 */
static AttrNumber
column_must_exist(TriggerData *td, const char *col)
{
	Relation	rel = td->tg_relation;
	int			attnum = SPI_fnumber(RelationGetDescr(rel), col);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of agentphone_dial_trigger() does not exist in table %s.%s",
						col, get_namespace_name(RelationGetNamespace(rel)),
						RelationGetRelationName(rel)),
				 errhint("Check the arguments of trigger %s.", td->tg_trigger->tgname)));
	return (AttrNumber) attnum;
}

/*
 * variable_columns returns the columns a variables argument lists: its
 * text without spaces, split at every comma ('' lists none).
 */
static List *
variable_columns(const char *spec)
{
	StringInfoData clean;
	List	   *cols = NIL;
	char	   *start;
	char	   *comma;

	initStringInfo(&clean);
	for (const char *c = spec; *c; c++)
		if (*c != ' ')
			appendStringInfoChar(&clean, *c);
	if (clean.len == 0)
		return NIL;
	for (start = clean.data; (comma = strchr(start, ',')) != NULL; start = comma + 1)
	{
		*comma = '\0';
		cols = lappend(cols, start);
	}
	return lappend(cols, start);
}

/*
 * variables_of returns the call's variables: the object in column spec
 * (spaces around it aside) when spec names one jsonb column holding an
 * object, else an object of the listed columns' values; NULL when spec
 * is NULL or lists nothing.
 */
static Jsonb *
variables_of(Jsonb *rec, const char *spec, List *cols)
{
	JsonbParseState *state = NULL;
	JsonbValue *object;
	ListCell   *lc;
	bool		isnull;
	Datum		one;

	if (spec == NULL || cols == NIL)
		return NULL;
	if (strchr(spec, ',') == NULL)
	{
		char	   *name = pstrdup(spec);
		char	   *end = name + strlen(name);

		while (*name == ' ')
			name++;
		while (end > name && end[-1] == ' ')
			*--end = '\0';
		one = jsonb_field(rec, name, false, &isnull);
		if (!isnull && JB_ROOT_IS_OBJECT(DatumGetJsonbP(one)))
			return DatumGetJsonbP(one);
	}
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	foreach(lc, cols)
	{
		char	   *col = lfirst(lc);
		JsonbValue	key;

		key.type = jbvString;
		key.val.string.val = col;
		key.val.string.len = strlen(col);
		pushJsonbValue(&state, WJB_KEY, &key);
		pushJsonbValue(&state, WJB_VALUE,
					   getKeyJsonValueFromContainer(&rec->root, col, strlen(col), NULL));
	}
	object = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(object);
}

/*
 * check_trigger_use raises 22023 unless the trigger has 2 to 4 arguments
 * and fires for each row on INSERT or UPDATE.
 */
static void
check_trigger_use(TriggerData *td)
{
	if (td->tg_trigger->tgnargs < 2 || td->tg_trigger->tgnargs > 4)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("agentphone_dial_trigger() takes 2 to 4 arguments, not %d",
						td->tg_trigger->tgnargs),
				 errhint("EXECUTE FUNCTION agentphone_dial_trigger('agt_1', 'phone' [, 'vars' [, 'call_id']])")));
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!(TRIGGER_FIRED_BY_INSERT(td->tg_event) || TRIGGER_FIRED_BY_UPDATE(td->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("agentphone_dial_trigger() must be a FOR EACH ROW trigger on INSERT or UPDATE"),
				 errhint("CREATE TRIGGER ... AFTER INSERT ON the_table FOR EACH ROW EXECUTE FUNCTION agentphone_dial_trigger('agt_1', 'phone').")));
}

/*
 * read_arguments checks the trigger's arguments against its table and
 * notes what every row needs of them.
 */
static void
read_arguments(TriggerCache *cache, TriggerData *td)
{
	char	  **argv = td->tg_trigger->tgargs;
	char	   *id_col = td->tg_trigger->tgnargs > 3 ? argv[3] : NULL;
	ListCell   *lc;

	check_trigger_use(td);
	cache->cols = td->tg_trigger->tgnargs > 2 ? variable_columns(argv[2]) : NIL;
	column_must_exist(td, argv[1]);
	foreach(lc, cache->cols)
		column_must_exist(td, lfirst(lc));
	cache->id_attnum = 0;
	if (id_col == NULL)
		return;
	cache->id_attnum = column_must_exist(td, id_col);
	if (!TRIGGER_FIRED_BEFORE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("agentphone_dial_trigger() can store the call id in column \"%s\" only in a BEFORE trigger", id_col),
				 errhint("Create the trigger BEFORE INSERT, or leave out its fourth argument.")));
	getTypeInputInfo(TupleDescAttr(RelationGetDescr(td->tg_relation), cache->id_attnum - 1)->atttypid,
					 &cache->id_input, &cache->id_ioparam);
}

/*
 * trigger_cache returns the statement's cache for the trigger's table,
 * set up at the first row: its arguments checked and read, to_jsonb() of
 * the table's row type, and agentphone_call(), found in the extension's
 * schema (this function's own).
 */
static TriggerCache *
trigger_cache(FunctionCallInfo fcinfo, TriggerData *td)
{
	TriggerCache *cache = fcinfo->flinfo->fn_extra;
	Relation	rel = td->tg_relation;
	MemoryContext old;
	char	   *schema;

	if (cache != NULL && cache->relid == RelationGetRelid(rel))
		return cache;
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	if (cache == NULL)
		cache = palloc0(sizeof(TriggerCache));
	read_arguments(cache, td);
	cache->relid = RelationGetRelid(rel);
	fmgr_info_cxt(F_TO_JSONB, &cache->to_jsonb, fcinfo->flinfo->fn_mcxt);
	cache->to_jsonb.fn_expr = (Node *)
		makeFuncExpr(F_TO_JSONB, JSONBOID,
					 list_make1(makeNullConst(RelationGetDescr(rel)->tdtypeid, -1, InvalidOid)),
					 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	schema = get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid));
	cache->call_fn = LookupFuncName(list_make2(makeString(schema), makeString("agentphone_call")),
									NUM_CALL_ARGS, enqueue_call_argtypes, false);
	MemoryContextSwitchTo(old);
	fcinfo->flinfo->fn_extra = cache;
	return cache;
}

/*
 * number_unchanged says whether an UPDATE left the number column, column,
 * as it was (both NULL, or the same bytes).  A column it cannot find is
 * left to row_as_jsonb's error.
 */
static bool
number_unchanged(TriggerData *td, TupleDesc desc, const char *column)
{
	int			attnum = SPI_fnumber(desc, column);
	bool		old_null,
				new_null;
	Datum		old_value,
				new_value;
	Form_pg_attribute att;

	if (attnum <= 0)
		return false;
	att = TupleDescAttr(desc, attnum - 1);
	old_value = heap_getattr(td->tg_trigtuple, attnum, desc, &old_null);
	new_value = heap_getattr(td->tg_newtuple, attnum, desc, &new_null);
	if (old_null || new_null)
		return old_null && new_null;
	return datumIsEqual(old_value, new_value, att->attbyval, att->attlen);
}

Datum
agentphone_dial_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	char	  **argv;
	char	   *vars_spec;
	HeapTuple	tuple;
	TupleDesc	desc;
	TriggerCache *cache;
	Jsonb	   *rec;
	CallRequest req = {0};
	Datum		number;
	bool		isnull;
	int64		id;

	agentphone_require_grant(false);
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("agentphone_dial_trigger() may only be called as a trigger"),
				 errhint("CREATE TRIGGER ... FOR EACH ROW EXECUTE FUNCTION agentphone_dial_trigger('agt_1', 'phone').")));
	cache = trigger_cache(fcinfo, td);
	argv = td->tg_trigger->tgargs;
	vars_spec = td->tg_trigger->tgnargs > 2 ? argv[2] : NULL;
	tuple = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	desc = RelationGetDescr(td->tg_relation);
	if (pg_proc_aclcheck(cache->call_fn, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_FUNCTION, "agentphone_call");
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event) && number_unchanged(td, desc, argv[1]))
		return PointerGetDatum(tuple);	/* an edit of another column calls nobody */
	rec = row_as_jsonb(cache, tuple, desc);

	req.agent_id = argv[0];
	number = jsonb_field(rec, argv[1], true, &isnull);
	req.to_number = isnull ? NULL : TextDatumGetCString(number);
	req.variables = variables_of(rec, vars_spec, cache->cols);
	id = enqueue_call(&req);

	if (cache->id_attnum != 0)
	{
		int			attnum = cache->id_attnum;
		Datum		value = OidInputFunctionCall(cache->id_input, psprintf(INT64_FORMAT, id),
												 cache->id_ioparam,
												 TupleDescAttr(desc, attnum - 1)->atttypmod);
		bool		null = false;

		tuple = heap_modify_tuple_by_cols(tuple, desc, 1, &attnum, &value, &null);
	}
	return PointerGetDatum(tuple);
}
