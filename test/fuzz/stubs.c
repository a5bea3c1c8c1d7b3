/*-------------------------------------------------------------------------
 *
 * stubs.c
 *		Stand-ins for the few PostgreSQL backend facilities that src/api*.c,
 *		src/validate.c and the PostgreSQL sources linked into the fuzz
 *		binaries need when they run outside a server, plus the helpers of
 *		fuzz.h.  None of this is agentphone code: the files under test are
 *		compiled unchanged from src/.
 *
 *	 - Memory: palloc and friends malloc each chunk at its exact size (so
 *	   AddressSanitizer sees any overrun) and keep it on a list;
 *	   fuzz_reset() frees them all after each input, as the end of a
 *	   memory context would.  What our code mallocs itself (cJSON trees)
 *	   is not on that list, so a tree it forgets to cJSON_Delete is a leak
 *	   that LeakSanitizer reports.
 *	 - Errors: errstart/errfinish and the errmsg family record what an
 *	   ereport says in fuzz_error.  ERROR siglongjmps to the fuzz_call()
 *	   that is active; an ERROR outside fuzz_call(), FATAL or PANIC aborts.
 *	 - lappend, for PostgreSQL 15's array-based List.
 *	 - fmgr: DirectFunctionCall1-3Coll and detoasting of in-memory values.
 *	 - check_stack_depth, as the server's with max_stack_depth = 2MB.
 *
 * StringInfo, psprintf, the encoding tables, hash_bytes and the printf
 * family are not stubbed: they come from libpgcommon.a and libpgport.a
 * (postgresql-server-dev-15), the real PostgreSQL code built for clients.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/memutils.h"

#include "fuzz.h"

/* The server's default max_stack_depth. */
#define FUZZ_MAX_STACK_DEPTH (2048 * 1024L)

/* ----- memory ----- */

/*
 * Every palloc'd chunk has this header; 32 bytes keep the caller's pointer
 * MAXALIGNed.
 */
typedef struct FuzzChunk
{
	struct FuzzChunk *prev;
	struct FuzzChunk *next;
	Size		size;
	Size		magic;
} FuzzChunk;

#define FUZZ_CHUNK_MAGIC ((Size) 0x70616c6c6f63ULL)

StaticAssertDecl(sizeof(FuzzChunk) % MAXIMUM_ALIGNOF == 0,
				 "palloc chunk header breaks alignment");

static FuzzChunk chunks = {&chunks, &chunks, 0, 0};
static size_t allocated_bytes;

/* The backend's memory context globals, for code that mentions them. */
MemoryContext CurrentMemoryContext = NULL;
MemoryContext TopMemoryContext = NULL;

static FuzzChunk *
chunk_of(void *pointer)
{
	FuzzChunk  *c;

	if (pointer == NULL)
		fuzz_fail("pfree or repalloc of a NULL pointer");
	c = (FuzzChunk *) pointer - 1;
	if (c->magic != FUZZ_CHUNK_MAGIC)
		fuzz_fail("pfree or repalloc of a pointer palloc did not return");
	return c;
}

static void *
chunk_alloc(Size size, bool zero)
{
	FuzzChunk  *c;

	if (!AllocSizeIsValid(size))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	c = malloc(sizeof(FuzzChunk) + size);
	if (c == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed on request of size %zu.", size)));
	if (zero)
		memset(c + 1, 0, size);
	c->size = size;
	c->magic = FUZZ_CHUNK_MAGIC;
	c->next = chunks.next;
	c->prev = &chunks;
	chunks.next->prev = c;
	chunks.next = c;
	allocated_bytes += size;
	return c + 1;
}

void *
palloc(Size size)
{
	return chunk_alloc(size, false);
}

void *
palloc0(Size size)
{
	return chunk_alloc(size, true);
}

void *
palloc_extended(Size size, int flags)
{
	return chunk_alloc(size, (flags & MCXT_ALLOC_ZERO) != 0);
}

void *
MemoryContextAlloc(MemoryContext context, Size size)
{
	return chunk_alloc(size, false);
}

void *
MemoryContextAllocZero(MemoryContext context, Size size)
{
	return chunk_alloc(size, true);
}

void *
MemoryContextAllocHuge(MemoryContext context, Size size)
{
	return chunk_alloc(size, false);
}

void
pfree(void *pointer)
{
	FuzzChunk  *c = chunk_of(pointer);

	c->prev->next = c->next;
	c->next->prev = c->prev;
	c->magic = 0;
	free(c);
}

void *
repalloc(void *pointer, Size size)
{
	FuzzChunk  *c = chunk_of(pointer);
	FuzzChunk  *n;

	if (!AllocSizeIsValid(size))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	/* unlink first: realloc may move the chunk */
	c->prev->next = c->next;
	c->next->prev = c->prev;
	n = realloc(c, sizeof(FuzzChunk) + size);
	if (n == NULL)
		fuzz_fail("out of memory in repalloc(%zu)", size);
	n->size = size;
	n->next = chunks.next;
	n->prev = &chunks;
	chunks.next->prev = n;
	chunks.next = n;
	allocated_bytes += size;
	return n + 1;
}

char *
MemoryContextStrdup(MemoryContext context, const char *string)
{
	return pstrdup(string);
}

char *
pstrdup(const char *in)
{
	size_t		len = strlen(in) + 1;
	char	   *out = palloc(len);

	memcpy(out, in, len);
	return out;
}

char *
pnstrdup(const char *in, Size len)
{
	char	   *out;

	len = strnlen(in, len);
	out = palloc(len + 1);
	memcpy(out, in, len);
	out[len] = '\0';
	return out;
}

void
fuzz_reset(void)
{
	while (chunks.next != &chunks)
	{
		FuzzChunk  *c = chunks.next;

		chunks.next = c->next;
		c->magic = 0;
		free(c);
	}
	chunks.prev = &chunks;
	allocated_bytes = 0;
	memset(&fuzz_error, 0, sizeof(fuzz_error));
}

size_t
fuzz_allocated_bytes(void)
{
	return allocated_bytes;
}

/* ----- errors ----- */

FuzzError	fuzz_error;
bool		fuzz_verbose = false;
bool		fuzz_lenient = false;
static int	unexpected_count = 0;
static sigjmp_buf *fuzz_error_jmp = NULL;
static char *fuzz_stack_base = NULL;

void
fuzz_begin_input(char *stack_base)
{
	fuzz_stack_base = stack_base;
	memset(&fuzz_error, 0, sizeof(fuzz_error));
}

bool
fuzz_call(void (*fn) (void *arg), void *arg)
{
	sigjmp_buf	jmp;
	sigjmp_buf *volatile save = fuzz_error_jmp;

	if (sigsetjmp(jmp, 0) != 0)
	{
		fuzz_error_jmp = save;
		return false;
	}
	fuzz_error_jmp = &jmp;
	fn(arg);
	fuzz_error_jmp = save;
	return true;
}

/* say what expectation failed, and the last ereport */
static void
report_failure(const char *fmt, va_list args)
{
	fflush(stdout);
	fprintf(stderr, "\nfuzz: expectation failed: ");
	vfprintf(stderr, fmt, args);
	fprintf(stderr, "\n");
	if (fuzz_error.message && !fuzz_lenient)
		fprintf(stderr, "fuzz: last ereport (%s:%d): %s\n",
				fuzz_error.filename ? fuzz_error.filename : "?",
				fuzz_error.lineno, fuzz_error.message);
}

void
fuzz_fail(const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	report_failure(fmt, args);
	va_end(args);
	abort();
}

void
fuzz_unexpected(const char *fmt,...)
{
	va_list		args;

	if (fuzz_lenient && ++unexpected_count > 5)
		return;
	va_start(args, fmt);
	report_failure(fmt, args);
	va_end(args);
	if (!fuzz_lenient)
		abort();
	if (unexpected_count == 5)
		fprintf(stderr, "fuzz: (lenient: further broken expectations are not shown)\n");
}

/*
 * FORMAT_INTO formats fmt and the variadic arguments of the enclosing
 * function into a palloc'd string, as elog.c's EVALUATE_MESSAGE does.
 */
#define FORMAT_INTO(target, fmt) \
	do { \
		StringInfoData buf; \
		initStringInfo(&buf); \
		for (;;) \
		{ \
			va_list		args; \
			int			needed; \
			va_start(args, fmt); \
			needed = appendStringInfoVA(&buf, fmt, args); \
			va_end(args); \
			if (needed == 0) \
				break; \
			enlargeStringInfo(&buf, needed); \
		} \
		(target) = buf.data; \
	} while (0)

/* The five characters of a SQLSTATE, as elog.c's unpack_sql_state. */
static const char *
sqlstate_text(int sqlstate, char *buf)
{
	for (int i = 0; i < 5; i++)
	{
		buf[i] = PGUNSIXBIT(sqlstate);
		sqlstate >>= 6;
	}
	buf[5] = '\0';
	return buf;
}

bool
errstart(int elevel, const char *domain)
{
	memset(&fuzz_error, 0, sizeof(fuzz_error));
	fuzz_error.elevel = elevel;
	fuzz_error.sqlerrcode = elevel >= ERROR ? ERRCODE_INTERNAL_ERROR :
		elevel >= WARNING ? ERRCODE_WARNING : ERRCODE_SUCCESSFUL_COMPLETION;
	return true;
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	char		state[6];

	fuzz_error.filename = filename;
	fuzz_error.lineno = lineno;
	if (fuzz_verbose || fuzz_error.elevel > ERROR)
		fprintf(stderr, "fuzz: ereport level %d, SQLSTATE %s at %s:%d: %s%s%s%s%s\n",
				fuzz_error.elevel, sqlstate_text(fuzz_error.sqlerrcode, state),
				filename, lineno,
				fuzz_error.message ? fuzz_error.message : "(no message)",
				fuzz_error.detail ? "\n  DETAIL: " : "",
				fuzz_error.detail ? fuzz_error.detail : "",
				fuzz_error.hint ? "\n  HINT: " : "",
				fuzz_error.hint ? fuzz_error.hint : "");
	if (fuzz_error.elevel < ERROR)
		return;
	if (fuzz_error.elevel > ERROR)
		fuzz_fail("ereport at level %d (FATAL or worse)", fuzz_error.elevel);
	if (fuzz_error_jmp == NULL)
		fuzz_fail("ereport(ERROR) where the caller expects no error");
	siglongjmp(*fuzz_error_jmp, 1);
}

int
errcode(int sqlerrcode)
{
	fuzz_error.sqlerrcode = sqlerrcode;
	return 0;
}

int
errmsg(const char *fmt,...)
{
	FORMAT_INTO(fuzz_error.message, fmt);
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	FORMAT_INTO(fuzz_error.message, fmt);
	return 0;
}

int
errdetail(const char *fmt,...)
{
	FORMAT_INTO(fuzz_error.detail, fmt);
	return 0;
}

int
errdetail_internal(const char *fmt,...)
{
	FORMAT_INTO(fuzz_error.detail, fmt);
	return 0;
}

int
errhint(const char *fmt,...)
{
	FORMAT_INTO(fuzz_error.hint, fmt);
	return 0;
}

int
set_errcontext_domain(const char *domain)
{
	return 0;
}

int
errcontext_msg(const char *fmt,...)
{
	const char *context;

	FORMAT_INTO(context, fmt);
	(void) context;
	return 0;
}

int
errposition(int cursorpos)
{
	return 0;
}

/* ----- lists ----- */

/*
 * lappend appends datum to list (NIL is an empty list), growing the cell
 * array as list.c does, by doubling.
 */
List *
lappend(List *list, void *datum)
{
	if (list == NIL)
	{
		int			max = 5;

		list = palloc(offsetof(List, initial_elements) + max * sizeof(ListCell));
		list->type = T_List;
		list->length = 0;
		list->max_length = max;
		list->elements = list->initial_elements;
	}
	else if (list->length == list->max_length)
	{
		int			max = list->max_length * 2;
		ListCell   *cells = palloc(max * sizeof(ListCell));

		memcpy(cells, list->elements, list->length * sizeof(ListCell));
		if (list->elements != list->initial_elements)
			pfree(list->elements);
		list->elements = cells;
		list->max_length = max;
	}
	list->elements[list->length++].ptr_value = datum;
	return list;
}

/* ----- fmgr ----- */

Datum
DirectFunctionCall1Coll(PGFunction func, Oid collation, Datum arg1)
{
	LOCAL_FCINFO(fcinfo, 1);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, 1, collation, NULL, NULL);
	fcinfo->args[0].value = arg1;
	fcinfo->args[0].isnull = false;
	result = (*func) (fcinfo);
	if (fcinfo->isnull)
		elog(ERROR, "function %p returned NULL", (void *) func);
	return result;
}

Datum
DirectFunctionCall2Coll(PGFunction func, Oid collation, Datum arg1, Datum arg2)
{
	LOCAL_FCINFO(fcinfo, 2);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, 2, collation, NULL, NULL);
	fcinfo->args[0].value = arg1;
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = arg2;
	fcinfo->args[1].isnull = false;
	result = (*func) (fcinfo);
	if (fcinfo->isnull)
		elog(ERROR, "function %p returned NULL", (void *) func);
	return result;
}

Datum
DirectFunctionCall3Coll(PGFunction func, Oid collation, Datum arg1, Datum arg2,
						Datum arg3)
{
	LOCAL_FCINFO(fcinfo, 3);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, 3, collation, NULL, NULL);
	fcinfo->args[0].value = arg1;
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = arg2;
	fcinfo->args[1].isnull = false;
	fcinfo->args[2].value = arg3;
	fcinfo->args[2].isnull = false;
	result = (*func) (fcinfo);
	if (fcinfo->isnull)
		elog(ERROR, "function %p returned NULL", (void *) func);
	return result;
}

/*
 * Values built in memory are never toasted or compressed; anything else
 * would mean a pointer into garbage.
 */
struct varlena *
pg_detoast_datum(struct varlena *datum)
{
	if (VARATT_IS_EXTENDED(datum))
		fuzz_fail("pg_detoast_datum of a toasted or short value");
	return datum;
}

struct varlena *
pg_detoast_datum_packed(struct varlena *datum)
{
	if (VARATT_IS_COMPRESSED(datum) || VARATT_IS_EXTERNAL(datum))
		fuzz_fail("pg_detoast_datum_packed of a toasted value");
	return datum;
}

/* ----- stack depth ----- */

void
check_stack_depth(void)
{
	char		here;
	long		depth;

	if (fuzz_stack_base == NULL)
		return;
	depth = labs((long) (fuzz_stack_base - &here));
	if (depth > FUZZ_MAX_STACK_DEPTH)
		ereport(ERROR,
				(errcode(ERRCODE_STATEMENT_TOO_COMPLEX),
				 errmsg("stack depth limit exceeded")));
}

/* ----- helpers of fuzz.h ----- */

bool
fuzz_valid_utf8(const char *s, size_t len)
{
	return pg_encoding_verifymbstr(PG_UTF8, s, (int) len) == (int) len;
}

char *
fuzz_cstring(const uint8_t *data, size_t size)
{
	char	   *s = palloc(size + 1);

	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

int
fuzz_choose_target(const char *harness, int *argc, char ***argv,
				   const char *const *names, int n)
{
	const char *name = getenv("FUZZ_TARGET");

	(void) argc;
	fuzz_verbose = getenv("AGENTPHONE_FUZZ_VERBOSE") != NULL;
	fuzz_lenient = getenv("AGENTPHONE_FUZZ_LENIENT") != NULL;
	if (name == NULL || name[0] == '\0')
	{
		const char *slash = strrchr((*argv)[0], '/');

		name = slash ? slash + 1 : (*argv)[0];
	}
	for (int i = 0; i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	fprintf(stderr, "%s: unknown target \"%s\"; run it as one of:", harness, name);
	for (int i = 0; i < n; i++)
		fprintf(stderr, " %s", names[i]);
	fprintf(stderr, " (or set FUZZ_TARGET)\n");
	exit(2);
}
