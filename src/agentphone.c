/*-------------------------------------------------------------------------
 *
 * agentphone.c
 *		Module entry point: settings, shared memory, the background worker's
 *		registration, waking the worker at COMMIT, and the log hook: the API
 *		key kept out of the server log, the grant named in a refusal.
 *
 * The worker is woken through its latch, published in a small shared
 * memory struct.  A backend that queues calls asks to wake it; the wake
 * happens in a transaction callback at COMMIT (never at ROLLBACK), once per
 * transaction however many calls it queued.
 *
 *-------------------------------------------------------------------------
 */
#include "agentphone.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "tcop/tcopprot.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/elog.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

AgentphoneShared *agentphone_shared = NULL;

static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static emit_log_hook_type prev_emit_log_hook = NULL;

/* Set when this transaction queued a call; consumed at COMMIT/ABORT. */
static bool wake_at_commit = false;

/* Keys shorter than this are not redacted (they would mangle every line). */
#define MIN_REDACT_LEN 6

/*
 * agentphone_shmem_request asks the postmaster for our small struct.
 */
static void
agentphone_shmem_request(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(MAXALIGN(sizeof(AgentphoneShared)));
}

/*
 * agentphone_shmem_startup creates or attaches to the shared struct.
 */
static void
agentphone_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	agentphone_shared = ShmemInitStruct("agentphone",
										sizeof(AgentphoneShared), &found);
	if (!found)
	{
		memset(agentphone_shared, 0, sizeof(AgentphoneShared));
		SpinLockInit(&agentphone_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * agentphone_wake_worker sets the running worker's latch, if there is one.
 */
void
agentphone_wake_worker(void)
{
	Latch	   *latch;

	if (agentphone_shared == NULL)
		return;
	SpinLockAcquire(&agentphone_shared->mutex);
	latch = agentphone_shared->worker_latch;
	SpinLockRelease(&agentphone_shared->mutex);
	if (latch)
		SetLatch(latch);
}

/*
 * unpublish_worker clears the worker's entry when it exits, so nobody sets
 * a latch that belongs to a dead process.
 */
static void
unpublish_worker(int code, Datum arg)
{
	(void) code;
	(void) arg;
	SpinLockAcquire(&agentphone_shared->mutex);
	agentphone_shared->worker_pid = 0;
	agentphone_shared->worker_latch = NULL;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * agentphone_publish_worker records the worker's latch and pid.
 */
void
agentphone_publish_worker(Latch *latch)
{
	if (agentphone_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("agentphone shared memory is not initialized"),
				 errhint("Add agentphone to shared_preload_libraries.")));
	SpinLockAcquire(&agentphone_shared->mutex);
	agentphone_shared->worker_pid = MyProcPid;
	agentphone_shared->worker_latch = latch;
	agentphone_shared->started_at = GetCurrentTimestamp();
	SpinLockRelease(&agentphone_shared->mutex);
	before_shmem_exit(unpublish_worker, (Datum) 0);
}

/*
 * agentphone_count adds n to a worker counter.
 */
void
agentphone_count(AgentphoneCounter c, int n)
{
	if (agentphone_shared == NULL)
		return;
	SpinLockAcquire(&agentphone_shared->mutex);
	agentphone_shared->counters[c] += n;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * agentphone_note_error remembers the worker's last failure, cut to fit on
 * a character boundary.
 */
void
agentphone_note_error(const char *message)
{
	int			len;

	if (agentphone_shared == NULL)
		return;
	len = pg_mbcliplen(message, strlen(message), sizeof(agentphone_shared->last_error) - 1);
	SpinLockAcquire(&agentphone_shared->mutex);
	memcpy(agentphone_shared->last_error, message, len);
	agentphone_shared->last_error[len] = '\0';
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * agentphone_note_loop records that the worker's loop ran.
 */
void
agentphone_note_loop(int in_flight)
{
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&agentphone_shared->mutex);
	agentphone_shared->last_loop = now;
	agentphone_shared->in_flight = in_flight;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * agentphone_xact_callback wakes the worker when a transaction that queued
 * calls commits.  An abort or PREPARE TRANSACTION forgets the request; a
 * prepared transaction's calls are found by the worker's periodic sweep.
 */
static void
agentphone_xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_at_commit)
				agentphone_wake_worker();
			wake_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			wake_at_commit = false;
			break;
		default:
			break;
	}
}

/*
 * agentphone_wake_at_commit arranges for the worker to be woken when the
 * current transaction commits.  It warns once per session when no worker
 * can ever be woken because the library was not preloaded.
 */
void
agentphone_wake_at_commit(void)
{
	static bool callback_registered = false;
	static bool warned = false;

	if (!callback_registered)
	{
		RegisterXactCallback(agentphone_xact_callback, NULL);
		callback_registered = true;
	}
	wake_at_commit = true;

	if (agentphone_shared == NULL && !warned)
	{
		ereport(WARNING,
				(errmsg("agentphone is not loaded through shared_preload_libraries"),
				 errdetail("The call is queued, but no background worker is running to place it."),
				 errhint("Add agentphone to shared_preload_libraries and restart the server.")));
		warned = true;
	}
}

/*
 * agentphone_saved_plan returns the saved plan in *plan, preparing and
 * keeping query on first use.  Every query of the extension goes through
 * it; the plan cache re-plans after DDL, even after the extension is
 * dropped and created again.
 */
static SPIPlanPtr
saved_plan(SPIPlanPtr *plan, const char *query, int nargs, Oid *argtypes, int options)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare_cursor(query, nargs, argtypes, options);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*plan = p;
	}
	return *plan;
}

SPIPlanPtr
agentphone_saved_plan(SPIPlanPtr *plan, const char *query, int nargs, Oid *argtypes)
{
	return saved_plan(plan, query, nargs, argtypes, 0);
}

/*
 * agentphone_saved_generic_plan is agentphone_saved_plan for a query that
 * runs once per queued call and whose plan does not depend on its
 * parameters' values: planned once, never again for each call (the plan
 * cache would otherwise keep choosing a custom plan whenever one that
 * folds a parameter looks cheaper, and plan the query at every call).
 */
SPIPlanPtr
agentphone_saved_generic_plan(SPIPlanPtr *plan, const char *query, int nargs, Oid *argtypes)
{
	return saved_plan(plan, query, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);
}

/*
 * agentphone_has_relation says whether schema agentphone has relname: a
 * library newer than the installed scripts (ALTER EXTENSION agentphone
 * UPDATE not yet run) keeps working with the older schema, without what
 * the newer objects bring.  It needs a transaction.
 */
bool
agentphone_has_relation(const char *relname)
{
	Oid			nsp = get_namespace_oid("agentphone", true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid(relname, nsp));
}

/*
 * redact returns s with every occurrence of key replaced, or s itself when
 * the key does not occur.  The copy lives in the current (error) context.
 */
static char *
redact(char *s, const char *key, size_t keylen)
{
	StringInfoData buf;
	char	   *p;
	char	   *hit;

	if (s == NULL || (hit = strstr(s, key)) == NULL)
		return s;
	initStringInfo(&buf);
	p = s;
	do
	{
		appendBinaryStringInfo(&buf, p, hit - p);
		appendStringInfoString(&buf, "********");
		p = hit + keylen;
	} while ((hit = strstr(p, key)) != NULL);
	appendStringInfoString(&buf, p);
	return buf.data;
}

/*
 * assignment_value_start returns where the value begins when p (just past
 * "api_key") continues as an assignment: = or TO (SET, ALTER SYSTEM) or a
 * comma (set_config), with quotes and spaces around; else NULL.
 */
static char *
assignment_value_start(char *p)
{
	bool		assigns = false;

	for (;;)
	{
		if (*p == '=' || *p == ',')
			assigns = true, p++;
		else if (pg_strncasecmp(p, "to", 2) == 0 && (p[2] == ' ' || p[2] == '\''))
			assigns = true, p += 2;
		else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\'' || *p == '"')
		{
			if ((*p == '\'' || *p == '"') && assigns)
				break;
			p++;
		}
		else
			break;
	}
	return (assigns && *p) ? p : NULL;
}

/*
 * redact_assignments hides the value of every "api_key = ..." in s, so a
 * statement that sets a new key is not logged with it.  The value ends at
 * its closing quote, or at a space, semicolon or parenthesis.
 */
static char *
redact_assignments(char *s)
{
	StringInfoData buf;
	char	   *p = s;
	char	   *hit;
	bool		changed = false;

	if (s == NULL)
		return s;
	initStringInfo(&buf);
	while ((hit = strcasestr(p, "api_key")) != NULL)
	{
		char	   *v = assignment_value_start(hit + 7);
		char	   *end;

		if (v == NULL)
		{
			appendBinaryStringInfo(&buf, p, hit + 7 - p);
			p = hit + 7;
			continue;
		}
		if (*v == '\'' || *v == '"')
		{
			for (end = v + 1; *end && !(*end == *v && end[1] != *v); end++)
				if (*end == *v)
					end++;		/* a doubled quote inside the value */
			end += (*end != '\0');
		}
		else
			end = v + strcspn(v, " \t\n;),");
		appendBinaryStringInfo(&buf, p, v - p);
		appendStringInfoString(&buf, "'********'");
		p = end;
		changed = true;
	}
	if (!changed)
	{
		pfree(buf.data);
		return s;
	}
	appendStringInfoString(&buf, p);
	return buf.data;
}

/*
 * agentphone_emit_log redacts the API key from every message on its way to
 * the server log or the client, whatever produced it: a failed statement
 * that quoted the key, log_statement, or the postmaster's "parameter
 * changed" line after a reload.  It also hides the value of any statement
 * that assigns agentphone.api_key (ALTER SYSTEM, set_config), which may be
 * a new key not yet loaded.  A statement that contains the key, or assigns
 * one, is not appended to the log either.
 */
static void
agentphone_emit_log(ErrorData *edata)
{
	const char *keys[2];
	int			nkeys = agentphone_known_keys(keys);

	edata->message = redact_assignments(edata->message);
	edata->internalquery = redact_assignments(edata->internalquery);
	if (debug_query_string && strcasestr(debug_query_string, "api_key") != NULL &&
		redact_assignments((char *) debug_query_string) != debug_query_string)
		edata->hide_stmt = true;
	for (int i = 0; i < nkeys; i++)
	{
		const char *key = keys[i];
		size_t		keylen = strlen(key);

		if (keylen < MIN_REDACT_LEN)
			continue;
		edata->message = redact(edata->message, key, keylen);
		edata->detail = redact(edata->detail, key, keylen);
		edata->detail_log = redact(edata->detail_log, key, keylen);
		edata->hint = redact(edata->hint, key, keylen);
		edata->context = redact(edata->context, key, keylen);
		edata->internalquery = redact(edata->internalquery, key, keylen);
		if (debug_query_string && strstr(debug_query_string, key) != NULL)
			edata->hide_stmt = true;
	}
	agentphone_privilege_hint(edata);
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/*
 * register_worker registers the one static background worker.  It starts
 * only once recovery has finished, so nothing ever dials from a standby,
 * and the postmaster restarts it 5 seconds after a crash.
 */
static void
register_worker(void)
{
	BackgroundWorker worker = {
		.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION,
		.bgw_start_time = BgWorkerStart_RecoveryFinished,
		.bgw_restart_time = 5,
		.bgw_notify_pid = 0,
	};

	strlcpy(worker.bgw_library_name, "agentphone", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "agentphone_worker_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "agentphone worker", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "agentphone worker", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

void
_PG_init(void)
{
	agentphone_define_settings();

	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = agentphone_emit_log;

	if (!process_shared_preload_libraries_in_progress)
		return;

#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = agentphone_shmem_request;
#else
	agentphone_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = agentphone_shmem_startup;
	agentphone_install_dbguard();

	register_worker();
}
