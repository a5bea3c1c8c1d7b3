/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The agentphone background worker: its entry point and main loop.
 *
 * One worker runs per database where agentphone is installed, started by
 * the launcher (launcher.c) with the number of its slot in shared memory,
 * and connected to its database by OID.  Each turn of the loop:
 *
 *	 - claims due calls when it was woken (a COMMIT that queued calls sets
 *	   its latch), when a retry falls due, or when the safety sweep comes
 *	   round (agentphone.sweep_interval), and sends them after the claim has
 *	   committed (workerclaim.c, dispatch.c); an idle worker runs no other
 *	   query but the refresh of the account's agents (agents.c);
 *	 - starts each periodic task whose cycle is due (task.h: following the
 *	   live calls, reconciling, refreshing the agents), naming none;
 *	 - hands each finished request to the handler its owner record names
 *	   (request.h): pages in memory, answers in a new short transaction
 *	   (workerrecord.c);
 *	 - sleeps on its latch and curl's sockets (http.c).
 *
 * Each of its transactions first checks that the extension is installed
 * in its database (workerdb.c); when it is not, the worker tells the
 * launcher and exits.  DROP DATABASE and the like make it leave
 * (dbguard.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "cycle.h"
#include "dbguard.h"
#include "housekeeping.h"
#include "http.h"
#include "request.h"
#include "secret.h"
#include "session.h"
#include "task.h"
#include "worker.h"
#include "workerclaim.h"
#include "workerdb.h"
#include "workerrecord.h"
#include "workerslot.h"
#include "xact.h"

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

	workerdb_check();
	a->go = workerdb_ready() && a->task->load();
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
	if (workerdb_ready())
		t->start(workerdb_extension_oid());
}

/*
 * start_due_tasks starts every task whose cycle is due, once the
 * extension exists and while the API may be used.
 */
static void
start_due_tasks(TimestampTz now)
{
	for (int i = 0; i < task_count(); i++)
		if (workerdb_ready() && !workerclaim_api_unusable() &&
			cycle_due(task_get(i)->cycle, now))
			start_task(task_get(i));
}

/*
 * record_finished hands every finished request to its handler, and brings
 * the next claim forward, from now, for what their answers say.
 */
static void
record_finished(TimestampTz now)
{
	RecordResult result;
	bool		answered = workerrecord_finished(&result);

	workerclaim_after_record(now, &result, answered);
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
	long		wait = workerclaim_wait_ms(now);

	if (workerdb_ready() && !workerclaim_api_unusable())
		wait = task_wait_ms(now, wait);
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
 * worker_start sets the worker up in slot: its signals, its slot, its
 * session in its database, and the extension looked for there.
 */
static void
worker_start(int slot)
{
	Oid			db;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	if (!workerdb_attach(slot, &db))
		proc_exit(0);			/* the launcher freed the slot meanwhile */
	workerslot_publish(MyLatch);
	agentphone_leave_if_database_needed(workerdb_name());
	agentphone_note_server_settings();
	BackgroundWorkerInitializeConnectionByOid(db, InvalidOid, 0);
	agentphone_pin_session_settings();
	pgstat_report_appname("agentphone worker");
	http_init();
	if (!workerdb_look_for_extension())
		proc_exit(1);
	workerdb_leave_if_no_extension();
	ereport(LOG,
			(errmsg("agentphone worker started in database \"%s\"",
					workerdb_name())));
}

/*
 * reload_settings reads the configuration file again, and tells every
 * part of the worker that keeps something derived from the settings.
 */
static void
reload_settings(void)
{
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	housekeeping_settings_reloaded();
	workerclaim_note_window_rules();
	agentphone_forget_key_refusal();
	task_reload_intervals();
}

/*
 * agentphone_worker_main is the worker's entry point.
 */
void
agentphone_worker_main(Datum main_arg)
{
	MemoryContext loopcxt;
	bool		woken = true;

	worker_start(DatumGetInt32(main_arg));
	loopcxt = AllocSetContextCreate(TopMemoryContext, "agentphone worker loop",
									ALLOCSET_DEFAULT_SIZES);
	workerclaim_note_window_rules();
	for (;;)
	{
		TimestampTz now;

		MemoryContextReset(loopcxt);
		MemoryContextSwitchTo(loopcxt);
		CHECK_FOR_INTERRUPTS();
		agentphone_leave_if_database_needed(workerdb_name());
		workerdb_leave_if_no_extension();
		if (ConfigReloadPending)
			reload_settings();

		now = GetCurrentTimestamp();
		if (woken || workerclaim_due(now))
			workerclaim_run(now);
		start_due_tasks(now);
		record_finished(GetCurrentTimestamp());

		report_idle();
		workerslot_note_loop(http_in_flight());
		woken = http_wait(next_wait_ms(GetCurrentTimestamp()));
	}
}
