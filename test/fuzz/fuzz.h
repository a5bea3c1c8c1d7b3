/*-------------------------------------------------------------------------
 *
 * fuzz.h
 *		What the fuzz harness (fuzz_api.c, fuzz_validate.c) and the backend
 *		stand-ins of stubs.c share: the per-input memory arena, the
 *		ereport(ERROR) catcher and small checks used by several targets.
 *
 * A target calls agentphone code through fuzz_call(), which sets a
 * sigsetjmp point: an ereport(ERROR) raised inside longjmps back to it and
 * leaves what it said in fuzz_error.  An ERROR raised outside fuzz_call()
 * is a bug in the code under test, and aborts (a crash).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_FUZZ_H
#define AGENTPHONE_FUZZ_H

#include <setjmp.h>
#include <stdint.h>

/* What the last ereport said (all palloc'd, so valid until fuzz_reset). */
typedef struct FuzzError
{
	int			elevel;
	int			sqlerrcode;
	const char *message;
	const char *detail;
	const char *hint;
	const char *filename;
	int			lineno;
} FuzzError;

extern FuzzError fuzz_error;
extern bool fuzz_verbose;		/* $AGENTPHONE_FUZZ_VERBOSE: say what happens */
extern bool fuzz_lenient;		/* $AGENTPHONE_FUZZ_LENIENT: see FUZZ_EXPECT */

/*
 * fuzz_call runs fn(arg) and returns true when it returned, false when it
 * raised an ERROR (then described by fuzz_error).
 */
extern bool fuzz_call(void (*fn) (void *arg), void *arg);

/* Start an input: note the stack base and clear the last error. */
extern void fuzz_begin_input(char *stack_base);

/* Free everything palloc'd since fuzz_begin_input. */
extern void fuzz_reset(void);

/* Bytes palloc'd (without frees) since fuzz_begin_input. */
extern size_t fuzz_allocated_bytes(void);

/* Report a violated expectation and abort, so libFuzzer keeps the input. */
extern void fuzz_fail(const char *fmt,...) pg_attribute_printf(1, 2) pg_attribute_noreturn();

/* Like fuzz_fail, but only prints (the first few) when fuzz_lenient. */
extern void fuzz_unexpected(const char *fmt,...) pg_attribute_printf(1, 2);

/*
 * FUZZ_CHECK checks what the harness itself relies on (a result is there);
 * FUZZ_EXPECT checks what the code under test promises.  Both abort, but
 * with AGENTPHONE_FUZZ_LENIENT set a broken promise is only printed, so
 * that fuzzing for memory errors can go on past a known bug.
 */
#define FUZZ_CHECK(cond, ...) \
	do { \
		if (!(cond)) \
			fuzz_fail(__VA_ARGS__); \
	} while (0)

#define FUZZ_EXPECT(cond, ...) \
	do { \
		if (!(cond)) \
			fuzz_unexpected(__VA_ARGS__); \
	} while (0)

/* Is s[0 .. len) valid UTF-8 (no NUL bytes)? */
extern bool fuzz_valid_utf8(const char *s, size_t len);

/* A palloc'd, NUL-terminated copy of data[0 .. size). */
extern char *fuzz_cstring(const uint8_t *data, size_t size);

/*
 * The target this binary runs, named by argv[0] or FUZZ_TARGET: its index
 * in names[0 .. n); an unknown name ends the program with the list.
 */
extern int	fuzz_choose_target(const char *harness, int *argc, char ***argv,
							   const char *const *names, int n);

#endif							/* AGENTPHONE_FUZZ_H */
