/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The agentphone background worker: its main loop and the one helper
 *		through which it touches the database.
 *
 * One worker runs per database where agentphone is installed, started by
 * the launcher (launcher.c) with the number of its slot in shared memory,
 * and connected to its database by OID.  Each turn of the loop:
 *
 *	 - claims due calls when it was woken (a COMMIT that queued calls sets
 *	   its latch), when a retry falls due, or when the safety sweep comes
 *	   round (agentphone.sweep_interval); an idle worker runs no other query
 *	   but the refresh of the account's agents (agents.c);
 *	 - sends them (dispatch.c) after the claim has committed;
 *	 - starts each periodic task whose cycle is due (task.h: following the
 *	   live calls, reconciling, refreshing the agents), naming none;
 *	 - hands each finished request to the handler its owner record names
 *	   (request.h): pages in memory, answers in a new short transaction;
 *	 - sleeps on its latch and curl's sockets (http.c).
 *
 * When it finds no extension in its database (it never was installed
 * there, or DROP EXTENSION ran) it tells the launcher and exits; CREATE
 * EXTENSION asks the launcher for a worker again.  It holds no lock
 * between transactions, so it never blocks DROP EXTENSION; DROP DATABASE
 * and the like make it leave (dbguard.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"

#include "callanswer.h"
#include "dbguard.h"
#include "dispatch.h"
#include "guc.h"
#include "health.h"
#include "housekeeping.h"
#include "http.h"
#include "outage.h"
#include "request.h"
#include "schema.h"
#include "secret.h"
#include "session.h"
#include "tables.h"
#include "task.h"
#include "worker.h"
#include "workerslot.h"
#include "xact.h"

/* Events deleted per transaction by the retention trim. */
/* Pause after a failed transaction, so an error cannot become a busy loop. */
#define ERROR_PAUSE_MS 1000

/* State of the loop. */
static Oid	extension_oid = InvalidOid;	/* as of the last check */
static bool extension_checked = false;	/* checked at least once */

/* The extension exists in the worker's database, as of the last check. */
#define extension_ready() OidIsValid(extension_oid)

/* The worker's periodic tasks (task.h), each in its own file. */
static const WorkerTask *const tasks[] = {
	&agentphone_poll_task, &agentphone_reconcile_task, &agentphone_agents_task,
};
static bool orphans_recovered = false;
static bool schema_1_3 = false; /* the tables are 1.3's: window holds */
static TimestampTz next_claim_at = 0;	/* claim no later than this */
static bool more_due = false;	/* the last claim may have left due calls */
static bool api_unusable = false;	/* the URL or key allows no request (warned) */
static char *window_rules = NULL;	/* the calling window's settings, as of
									 * the last release */
static bool window_release_due = false;	/* they changed since */
static char database_name[NAMEDATALEN];	/* the worker's database */

typedef struct ClaimArgs
{
	int			max;
	MemoryContext cxt;
	List	   *claimed;
	long		next_due_ms;
} ClaimArgs;

typedef struct RecordArgs
{
	List	   *done;			/* HttpRequest, answers to record */
	RecordResult result;
} RecordArgs;

/*
 * check_extension_at_start notes whether the extension exists in this
 * database, logging each change once.  On first sight it recovers
 * orphaned calls.  Where it exists, it refuses (an error: the transaction
 * does nothing) to go on while agentphone may not write its tables
 * (agentphone_require_safe_tables); the worker's first transaction
 * (starting), which must commit for the worker to start, leaves the
 * orphans for later instead.
 */
static void
check_extension_at_start(bool starting)
{
	Oid			oid = get_extension_oid("agentphone", true);
	bool		ready;

	/*
	 * Hold DROP EXTENSION off until this short transaction ends, then look
	 * again: the extension may have been dropped while we waited for the
	 * lock, and the tables with it.
	 */
	if (OidIsValid(oid))
	{
		LockDatabaseObject(ExtensionRelationId, oid, 0, AccessShareLock);
		if (get_extension_oid("agentphone", true) != oid)
			oid = InvalidOid;
	}
	ready = OidIsValid(oid);

	if (ready && !extension_checked)
		ereport(LOG,
				(errmsg("agentphone: extension found in database \"%s\", placing calls",
						database_name)));
	if (oid != extension_oid)
	{
		/* a cycle of a dropped extension would never end */
		for (size_t i = 0; i < lengthof(tasks); i++)
			tasks[i]->reset();
	}
	extension_oid = oid;
	extension_checked = true;
	if (ready && !starting)
		agentphone_require_safe_tables();
	schema_1_3 = ready && agentphone_schema_has(SCHEMA_1_3);
	if (ready && !orphans_recovered && agentphone_tables_are_safe())
	{
		callanswer_recover_orphans();
		orphans_recovered = true;
	}
}

/* check_extension is check_extension_at_start for every later transaction. */
static void
check_extension(void)
{
	check_extension_at_start(false);
}

/*
 * check_step is the body of the worker's first transaction.
 */
static void
check_step(void *arg)
{
	(void) arg;
	check_extension_at_start(true);
	strlcpy(database_name, get_database_name(MyDatabaseId), NAMEDATALEN);
	secret_use_database(database_name);
}

/*
 * leave_if_no_extension exits when the extension is not installed in the
 * worker's database, so that the launcher frees its slot.
 */
static void
leave_if_no_extension(void)
{
	if (!extension_checked || extension_ready())
		return;
	ereport(LOG,
			(errmsg("agentphone: extension not installed in database \"%s\", its worker stops",
					database_name),
			 errdetail("CREATE EXTENSION agentphone starts one again.")));
	workerslot_exit(EXIT_NO_EXTENSION);
	proc_exit(0);
}

/*
 * claim_step is the claim transaction's body.
 */
static void
claim_step(void *arg)
{
	ClaimArgs  *a = (ClaimArgs *) arg;

	check_extension();
	if (!extension_ready())
		return;
	if (window_release_due && schema_1_3)
		dispatch_release_window_holds();
	a->claimed = dispatch_claim(a->max, a->cxt, &a->next_due_ms);
	housekeeping_run();
}

/*
 * record_answers hands each answer of a's list to its handler, to be
 * stored.  Answers for calls of another incarnation of the extension
 * (dropped, perhaps created again, while they were in flight) are
 * discarded: their ids name other calls, or none.
 */
static void
record_answers(RecordArgs *a)
{
	ListCell   *lc;
	int			stale = 0;

	foreach(lc, a->done)
	{
		HttpRequest *req = lfirst(lc);
		ApiRequest *r = (ApiRequest *) req->owner;

		if (!extension_ready() || r->extension_oid != extension_oid)
			stale++;
		else
			r->handler->record(req, &a->result);
	}
	if (stale > 0)
		ereport(LOG,
				(errmsg_plural("agentphone: %d API answer arrived after DROP EXTENSION agentphone and was discarded",
							   "agentphone: %d API answers arrived after DROP EXTENSION agentphone and were discarded",
							   stale, stale)));
}

/*
 * record_step is the record transaction's body.
 */
static void
record_step(void *arg)
{
	check_extension();
	record_answers((RecordArgs *) arg);
	if (extension_ready())
		for (size_t i = 0; i < lengthof(tasks); i++)
			if (tasks[i]->record != NULL)
				tasks[i]->record();
}

typedef struct LoadArgs
{
	const WorkerTask *task;
	bool		go;				/* it has work to start */
} LoadArgs;

/*
 * load_step is the body of the transaction that starts a task's cycle.
 */
static void
load_step(void *arg)
{
	LoadArgs   *a = (LoadArgs *) arg;

	check_extension();
	a->go = extension_ready() && a->task->load();
}

/*
 * start_task starts a cycle of task t: it reads the work in a short
 * transaction and sends the requests outside it.  A transaction that
 * fails, or no work, puts the next cycle off by one interval (a cycle
 * failing at once must not become a busy loop).
 */
static void
start_task(const WorkerTask *t)
{
	LoadArgs	a = {t, false};

	if (!run_in_transaction(t->activity, load_step, &a) || !a.go)
	{
		cycle_postpone(t->cycle, t->interval_ms());
		return;
	}
	if (extension_ready())
		t->start(extension_oid);
}

/*
 * start_due_tasks starts every task whose cycle is due, once the
 * extension exists and while the API may be used.
 */
static void
start_due_tasks(TimestampTz now)
{
	for (size_t i = 0; i < lengthof(tasks); i++)
		if (extension_ready() && !api_unusable && cycle_due(tasks[i]->cycle, now))
			start_task(tasks[i]);
}

/*
 * tasks_pending says whether a task has writes for the record transaction.
 */
static bool
tasks_pending(void)
{
	for (size_t i = 0; i < lengthof(tasks); i++)
		if (tasks[i]->pending != NULL && tasks[i]->pending())
			return true;
	return false;
}

/*
 * note_window_rules notes whether the calling window's settings differ
 * from those of the last release (at start, they do): the next claim then
 * releases the calls held for their window first.
 */
static void
note_window_rules(void)
{
	char	   *rules = psprintf("%s|%s|%s", agentphone_call_window,
								 agentphone_call_days, agentphone_default_timezone);

	if (window_rules == NULL || strcmp(rules, window_rules) != 0)
	{
		if (window_rules != NULL)
			pfree(window_rules);
		window_rules = MemoryContextStrdup(TopMemoryContext, rules);
		window_release_due = true;
		next_claim_at = 0;
	}
	pfree(rules);
}

/*
 * note_waiting_step is the body of the transaction that says in their
 * last_error why due calls are not placed (arg, the whole text).
 */
static void
note_waiting_step(void *arg)
{
	check_extension();
	if (extension_ready())
		dispatch_note_waiting((const char *) arg);
}

/*
 * note_calls_wait writes why into the last_error of the due calls left
 * waiting, in a transaction of its own.
 */
static void
note_calls_wait(const char *why)
{
	run_in_transaction("agentphone: noting why calls wait", note_waiting_step, (void *) why);
}

/*
 * claim_due_at lowers next_claim_at to now + ms.
 */
static void
claim_due_at(TimestampTz now, long ms)
{
	TimestampTz t = TimestampTzPlusMilliseconds(now, ms);

	if (t < next_claim_at)
		next_claim_at = t;
}

/*
 * reconcile_unrecorded_step is the body of the transaction that hands the
 * calls whose answer was not recorded to reconciliation.
 */
static void
reconcile_unrecorded_step(void *arg)
{
	(void) arg;
	check_extension();
	callanswer_reconcile_unrecorded(extension_oid);
}

/*
 * reconcile_unrecorded runs that transaction when there are such calls,
 * and forgets them once it committed; it returns whether none is left.
 */
static bool
reconcile_unrecorded(void)
{
	if (!callanswer_has_unrecorded())
		return true;
	if (!run_in_transaction("agentphone: reconciling calls whose answer was not recorded",
							reconcile_unrecorded_step, NULL))
		return false;
	callanswer_forget_unrecorded();
	return true;
}

/*
 * api_problem says why no request may be sent now (the URL, the key, or
 * the key the API refused), or NULL; *hint is set to what fixes it, and
 * *for_callers to the reason as callers may read it (no key file path).
 */
static const char *
api_problem(const char **hint, const char **for_callers)
{
	const char *problem = agentphone_url_problem();

	*hint = "Correct the setting and reload the configuration.";
	*for_callers = problem;
	if (problem != NULL)
		return problem;
	if (agentphone_api_key_value() == NULL)
	{
		*hint = agentphone_key_hint();
		*for_callers = psprintf("no API key: %s", agentphone_key_problem_shown(false));
		return psprintf("no API key: %s", agentphone_key_problem_shown(true));
	}
	*hint = psprintf("Put the account's key in %s: the worker tries it as soon as it changes, or after a reload.",
					 agentphone_key_source());
	*for_callers = agentphone_key_refused_problem();
	return *for_callers;
}

/*
 * api_usable says whether requests may be sent; the first time they may
 * not, it says why in a warning (once, until they may again), and at each
 * sweep it writes why into the last_error of the calls left waiting.
 */
static bool
api_usable(void)
{
	const char *hint;
	const char *for_callers;
	const char *problem = api_problem(&hint, &for_callers);

	if (problem == NULL)
	{
		if (api_unusable)
			workerslot_note_error_over();
		api_unusable = false;
		return true;
	}
	if (!api_unusable)
		ereport(WARNING,
				(errmsg("agentphone: queued calls are not placed: %s", problem),
				 errhint("%s", hint)));
	api_unusable = true;
	workerslot_note_error(problem, for_callers);
	note_calls_wait(psprintf("waiting: the worker cannot place calls: %s", for_callers));
	return false;
}

/* when a paused worker next writes why into the due calls' last_error */
static TimestampTz paused_note_due = 0;

/*
 * claim_and_send claims as many due calls as the in-flight limit and the
 * per-minute window allow, commits, then sends them.
 */
static void
claim_and_send(TimestampTz now)
{
	ClaimArgs	a = {0, NULL, NIL, -1};	/* next_due_ms: none unless a claim ran */
	TimestampTz free_at = 0;
	TimestampTz probe_at = 0;
	int			slots = agentphone_max_in_flight - http_in_flight();
	const char *key;

	next_claim_at = TimestampTzPlusMilliseconds(now, agentphone_sweep_interval_ms);
	more_due = false;
	if (!reconcile_unrecorded())
	{
		next_claim_at = TimestampTzPlusMilliseconds(now, ERROR_PAUSE_MS);
		return;					/* nothing is claimed before they are */
	}
	if (!api_usable())
		return;
	if (!agentphone_enabled)
	{
		/* paused: calls stay queued, saying so (once a sweep) */
		if (now >= paused_note_due)
		{
			note_calls_wait("paused: agentphone.enabled is off; the call is placed when it is turned on again");
			paused_note_due = TimestampTzPlusMilliseconds(now, agentphone_sweep_interval_ms);
		}
		return;
	}
	paused_note_due = 0;
	if (slots <= 0)
	{
		more_due = true;		/* claim again when a request finishes */
		return;
	}
	if ((slots = outage_claim_limit(slots, now, &probe_at)) == 0)
	{
		next_claim_at = probe_at;	/* the next probe, or its answer */
		note_calls_wait(psprintf("waiting for the AgentPhone API, which cannot take calls now: %s",
								 outage_reason()));
		return;
	}
	key = agentphone_api_key_value();	/* once for the reservation and the sends */
	a.max = dispatch_reserve(key, slots, now, &free_at);
	if (a.max <= 0)
	{
		next_claim_at = free_at;
		/* (one text for as long as it lasts: each call is written once) */
		note_calls_wait(psprintf("waiting for agentphone.max_calls_per_minute (%d): the key's budget for this minute is spent",
								 agentphone_max_calls_per_minute));
		return;
	}

	a.cxt = CurrentMemoryContext;
	if (!run_in_transaction("agentphone: claiming due calls", claim_step, &a))
	{
		dispatch_unreserve(a.max);
		next_claim_at = TimestampTzPlusMilliseconds(now, ERROR_PAUSE_MS);
		return;
	}
	dispatch_unreserve(a.max - list_length(a.claimed));
	if (a.claimed == NIL)
		outage_probe_unused();
	window_release_due = false;
	dispatch_send(a.claimed, extension_oid, key);
	if (list_length(a.claimed) == a.max)
		more_due = true;
	if (a.next_due_ms >= 0)
		claim_due_at(now, a.next_due_ms);
}

/*
 * record_finished hands every finished request to its handler: those
 * handled in memory at once, the others in one record transaction.
 */
static void
record_finished(TimestampTz now)
{
	RecordArgs	a = {NIL, {-1, false}};
	HttpRequest *req;
	ListCell   *lc;

	while ((req = http_next_done()) != NULL)
	{
		ApiRequest *r = (ApiRequest *) req->owner;

		if (r->handler->record != NULL)
			a.done = lappend(a.done, req);
		else
		{
			/* those of a dropped extension are dropped */
			if (r->extension_oid == extension_oid)
				r->handler->on_answer(req);
			request_finish(req);
		}
	}
	if (a.done != NIL || tasks_pending())
	{
		if (!run_in_transaction("agentphone: recording API answers", record_step, &a))
		{
			ereport(WARNING,
					(errmsg_plural("agentphone: %d API answer could not be recorded",
								   "agentphone: %d API answers could not be recorded",
								   list_length(a.done), list_length(a.done)),
					 errdetail("The calls they placed are reconciled with the API once the worker can write again; polled calls are looked at again.")));
			callanswer_note_unrecorded(a.done, extension_oid);
		}
	}
	foreach(lc, a.done)
		request_finish(lfirst(lc));
	for (size_t i = 0; i < lengthof(tasks); i++)
		if (tasks[i]->after_record != NULL)
			tasks[i]->after_record();
	if (a.result.soonest_retry_ms >= 0)
		claim_due_at(now, a.result.soonest_retry_ms);
	if ((more_due && a.done != NIL) || a.result.requeued)
		next_claim_at = now;
}

/*
 * next_wait_ms is how long the loop may sleep: until the next claim, or
 * the next cycle of a task (which runs only once the extension exists,
 * and while the API may be used: an overdue cycle that cannot start must
 * not wake the loop at once, again and again).
 */
static long
next_wait_ms(TimestampTz now)
{
	long		wait = TimestampDifferenceMilliseconds(now, next_claim_at);

	for (size_t i = 0; i < lengthof(tasks) && extension_ready() && !api_unusable; i++)
	{
		long		task_wait = cycle_wait_ms(tasks[i]->cycle, now);

		if (task_wait >= 0 && task_wait < wait)
			wait = task_wait;
	}
	return Max(wait, 0);
}

/*
 * report_idle shows in pg_stat_activity what the worker is waiting for.
 */
static void
report_idle(void)
{
	char		buf[128];

	snprintf(buf, sizeof(buf), "agentphone: waiting, %d requests in flight",
			 http_in_flight());
	pgstat_report_activity(STATE_IDLE, buf);
}

/*
 * agentphone_worker_main is the worker's entry point.
 */
void
agentphone_worker_main(Datum main_arg)
{
	MemoryContext loopcxt;
	bool		woken = true;
	Oid			db;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	if (!workerslot_attach(DatumGetInt32(main_arg), &db, database_name))
		proc_exit(0);			/* the launcher freed the slot meanwhile */
	workerslot_publish(MyLatch);
	agentphone_leave_if_database_needed(database_name);
	agentphone_note_server_settings();
	BackgroundWorkerInitializeConnectionByOid(db, InvalidOid, 0);
	agentphone_pin_session_settings();
	pgstat_report_appname("agentphone worker");
	http_init();
	if (!run_in_transaction("agentphone: looking for the extension", check_step, NULL))
		proc_exit(1);
	leave_if_no_extension();
	ereport(LOG,
			(errmsg("agentphone worker started in database \"%s\"",
					database_name)));

	loopcxt = AllocSetContextCreate(TopMemoryContext, "agentphone worker loop",
									ALLOCSET_DEFAULT_SIZES);
	note_window_rules();
	for (;;)
	{
		TimestampTz now;

		MemoryContextReset(loopcxt);
		MemoryContextSwitchTo(loopcxt);
		CHECK_FOR_INTERRUPTS();
		agentphone_leave_if_database_needed(database_name);
		leave_if_no_extension();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			housekeeping_settings_reloaded();
			note_window_rules();
			agentphone_forget_key_refusal();
			for (size_t i = 0; i < lengthof(tasks); i++)
				cycle_interval_reloaded(tasks[i]->cycle, tasks[i]->interval_ms());
		}

		now = GetCurrentTimestamp();
		if (woken || now >= next_claim_at)
			claim_and_send(now);
		start_due_tasks(now);
		record_finished(GetCurrentTimestamp());

		report_idle();
		workerslot_note_loop(http_in_flight());
		woken = http_wait(next_wait_ms(GetCurrentTimestamp()));
	}
}
