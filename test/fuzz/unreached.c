/*
 * unreached.c
 *		Link-time stand-ins for backend functions that the PostgreSQL
 *		sources linked into the fuzz_validate binary (jsonb.c,
 *		jsonb_util.c, numeric.c, mbutils.c) refer to, but only on paths
 *		the fuzz targets never take: output, send/receive, aggregates,
 *		casts, encoding conversion, sorting.  Each one aborts with its
 *		name, so reaching one shows up as a crash that names it.
 *
 * This file includes no PostgreSQL header on purpose: the stand-ins do
 * not match the real prototypes, and never run.
 */
#include <stdio.h>
#include <stdlib.h>

static void
unreached(const char *name)
{
	fprintf(stderr, "fuzz: %s was called, but no fuzz target should reach it\n", name);
	abort();
}

#define UNREACHED(name) \
	void name(void); \
	void name(void) { unreached(#name); }

/* fmgr, types, catalogs and tuples */
UNREACHED(AggCheckCallContext)
UNREACHED(ArrayGetIntegerTypmods)
UNREACHED(ArrayGetNItems)
UNREACHED(DatumGetHeapTupleHeader)
UNREACHED(DecrTupleDescRefCount)
UNREACHED(FunctionCall6Coll)
UNREACHED(OidFunctionCall1Coll)
UNREACHED(OidFunctionCall6Coll)
UNREACHED(OidOutputFunctionCall)
UNREACHED(deconstruct_array)
UNREACHED(end_MultiFuncCall)
UNREACHED(exprTypmod)
UNREACHED(extract_variadic_args)
UNREACHED(find_coercion_pathway)
UNREACHED(fmgr_info_cxt)
UNREACHED(getBaseType)
UNREACHED(getTypeOutputInfo)
UNREACHED(get_element_type)
UNREACHED(get_fn_expr_argtype)
UNREACHED(get_typlenbyvalalign)
UNREACHED(getmissingattr)
UNREACHED(heap_datum_check)
UNREACHED(init_MultiFuncCall)
UNREACHED(lookup_rowtype_tupdesc)
UNREACHED(nocachegetattr)
UNREACHED(per_MultiFuncCall)
UNREACHED(pg_detoast_datum_copy)
UNREACHED(relabel_to_typmod)
UNREACHED(type_is_rowtype)

/* other data types: text, json output, floats, names, hashing, sorting */
UNREACHED(JsonEncodeDateTime)
UNREACHED(cstring_to_text)
UNREACHED(escape_json)
UNREACHED(float4in)
UNREACHED(float8in)
UNREACHED(hashcharextended)
UNREACHED(makeJsonLexContext)
UNREACHED(namein)
UNREACHED(text_to_cstring)
UNREACHED(varstr_cmp)
UNREACHED(addHyperLogLog)
UNREACHED(estimateHyperLogLog)
UNREACHED(initHyperLogLog)

/* binary send and receive */
UNREACHED(pq_begintypsend)
UNREACHED(pq_endtypsend)
UNREACHED(pq_getmsgend)
UNREACHED(pq_getmsgint)
UNREACHED(pq_getmsgint64)
UNREACHED(pq_getmsgtext)
UNREACHED(pq_sendtext)

/* encoding conversion, lists, transactions, interrupts, logging */
UNREACHED(FindDefaultConversionProc)
UNREACHED(IsTransactionState)
UNREACHED(ProcessInterrupts)
UNREACHED(lcons)
UNREACHED(list_delete_cell)
UNREACHED(pg_wchar_strlen)
UNREACHED(write_stderr)
