/*-------------------------------------------------------------------------
 *
 * stubs_validate.c
 *		Stand-ins for the backend symbols that the PostgreSQL sources
 *		linked into the fuzz_validate binary (jsonb.c for jsonb_in,
 *		jsonb_util.c, numeric.c, mbutils.c, jsonapi.c) use on the paths
 *		the targets take.  Those that are never reached are in unreached.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/jsonfuncs.h"

/* No interrupt is ever pending, and sorts are never traced. */
volatile sig_atomic_t InterruptPending = false;
bool		trace_sort = false;

/*
 * pg_parse_json_or_ereport parses, raising an ERROR on bad input, as
 * jsonfuncs.c's does (without its CONTEXT line).
 */
void
pg_parse_json_or_ereport(JsonLexContext *lex, JsonSemAction *sem)
{
	JsonParseErrorType result = pg_parse_json(lex, sem);

	if (result == JSON_SUCCESS)
		return;
	if (result == JSON_UNICODE_HIGH_ESCAPE || result == JSON_UNICODE_CODE_POINT_ZERO)
		ereport(ERROR,
				(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
				 errmsg("unsupported Unicode escape sequence"),
				 errdetail_internal("%s", json_errdetail(result, lex))));
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s", "json"),
				 errdetail_internal("%s", json_errdetail(result, lex))));
}
