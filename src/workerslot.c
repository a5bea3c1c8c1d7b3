/*-------------------------------------------------------------------------
 *
 * workerslot.c
 *		A worker's own slot in shared memory: attaching to it, publishing
 *		its latch and pid, telling the launcher why it exits, and keeping
 *		the health agentphone_worker_status() and agentphone_workers() show
 *		(its loop, counters, last failure and queue depth); reading what is
 *		becoming of its database.
 *
 * The last failure is kept twice: as superusers may read it, and without
 * the phone numbers it may quote, for the others; both without any key.
 * The layout is shared_internal.h's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "secret.h"
#include "shared_internal.h"
#include "workerslot.h"

static int	my_slot = -1;		/* the worker's slot */

/*
 * workerslot_attach makes slot the worker's own and returns its
 * database's OID and name; false when the slot no longer holds one.
 */
bool
workerslot_attach(int slot, Oid *db, char *dbname)
{
	if (agentphone_shared == NULL || slot < 0 || slot >= agentphone_shared->nslots)
		return false;
	SpinLockAcquire(&agentphone_shared->mutex);
	*db = SLOT(slot)->h.dboid;
	strlcpy(dbname, SLOT(slot)->h.dbname, NAMEDATALEN);
	SpinLockRelease(&agentphone_shared->mutex);
	my_slot = slot;
	return OidIsValid(*db);
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
	SLOT(my_slot)->h.worker_pid = 0;
	SLOT(my_slot)->worker_latch = NULL;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * workerslot_publish records the worker's latch and pid in its
 * slot.
 */
void
workerslot_publish(Latch *latch)
{
	Assert(my_slot >= 0);
	SpinLockAcquire(&agentphone_shared->mutex);
	SLOT(my_slot)->h.worker_pid = MyProcPid;
	SLOT(my_slot)->worker_latch = latch;
	SLOT(my_slot)->h.started_at = GetCurrentTimestamp();
	SpinLockRelease(&agentphone_shared->mutex);
	before_shmem_exit(unpublish_worker, (Datum) 0);
}

/*
 * workerslot_exit tells the launcher why the worker is about to exit.
 */
void
workerslot_exit(WorkerExit why)
{
	SpinLockAcquire(&agentphone_shared->mutex);
	SLOT(my_slot)->h.last_exit = why;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * workerslot_count adds n to a worker counter.
 */
void
workerslot_count(AgentphoneCounter c, int n)
{
	if (agentphone_shared == NULL || my_slot < 0)
		return;
	SpinLockAcquire(&agentphone_shared->mutex);
	SLOT(my_slot)->h.counters[c] += n;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * copy_message copies message into buf of size len, cut to fit on a
 * character boundary.
 */
static void
copy_message(char *buf, size_t size, const char *message)
{
	int			len = pg_mbcliplen(message, strlen(message), size - 1);

	memcpy(buf, message, len);
	buf[len] = '\0';
}

/*
 * number_end returns where the phone number at p ends, or NULL if none
 * starts there: a + and 7 or more digits (with the spaces, dashes, dots
 * and parentheses that write them), or 10 or more digits in a row.
 */
static const char *
number_end(const char *p)
{
	const char *q = p + (*p == '+');
	const char *last = NULL;
	int			digits = 0;

	if (*p == '+')
	{
		for (; *q && strchr("0123456789 -.()", *q); q++)
			if (isdigit((unsigned char) *q))
				digits++, last = q;
		return digits >= 7 ? last + 1 : NULL;
	}
	for (; isdigit((unsigned char) *q); q++)
		digits++;
	return digits >= 10 ? q : NULL;
}

/*
 * mask_numbers replaces every phone number in buf (number_end) with
 * "<number>", for the text that pg_monitor reads: an API error may quote
 * the callee's.
 */
static void
mask_numbers(char *buf, size_t size)
{
	StringInfoData out;
	const char *p = buf;

	initStringInfo(&out);
	while (*p)
	{
		const char *end = (p == buf || !isdigit((unsigned char) p[-1])) ? number_end(p) : NULL;

		if (end != NULL)
		{
			appendStringInfoString(&out, "<number>");
			p = end;
		}
		else
			appendStringInfoChar(&out, *p++);
	}
	copy_message(buf, size, out.data);
	pfree(out.data);
}

/*
 * workerslot_note_error remembers the worker's last failure, as superusers
 * may read it (message) and as others may (for_callers, NULL: the same,
 * without phone numbers), both redacted of every key.
 */
void
workerslot_note_error(const char *message, const char *for_callers)
{
	char		buf[sizeof(((WorkerHealth *) NULL)->last_error)];
	char		pub[sizeof(((WorkerHealth *) NULL)->last_error_public)];
	TimestampTz now = GetCurrentTimestamp();

	if (agentphone_shared == NULL || my_slot < 0)
		return;
	copy_message(buf, sizeof(buf), agentphone_redact_keys(message));
	copy_message(pub, sizeof(pub), agentphone_redact_keys(for_callers ? for_callers : message));
	mask_numbers(pub, sizeof(pub));
	SpinLockAcquire(&agentphone_shared->mutex);
	memcpy(SLOT(my_slot)->h.last_error, buf, sizeof(buf));
	memcpy(SLOT(my_slot)->h.last_error_public, pub, sizeof(pub));
	SLOT(my_slot)->h.last_error_at = now;
	SLOT(my_slot)->h.last_error_over = false;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * workerslot_note_error_over records that the worker's last failure is
 * over (the API answers again, the key or URL works again): it is still
 * shown, with its time, as over.
 */
void
workerslot_note_error_over(void)
{
	if (agentphone_shared == NULL || my_slot < 0)
		return;
	SpinLockAcquire(&agentphone_shared->mutex);
	if (SLOT(my_slot)->h.last_error_at != 0)
		SLOT(my_slot)->h.last_error_over = true;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * workerslot_note_loop records that the worker's loop ran.
 */
void
workerslot_note_loop(int in_flight)
{
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&agentphone_shared->mutex);
	SLOT(my_slot)->h.last_loop = now;
	SLOT(my_slot)->h.in_flight = in_flight;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * workerslot_note_queue_depth records how many calls the worker's database
 * has queued, and whether they are all held copies with nothing else to
 * do (the launcher gives such a database's slot to one that waits).
 */
void
workerslot_note_queue_depth(int64 depth, bool held_only)
{
	SpinLockAcquire(&agentphone_shared->mutex);
	SLOT(my_slot)->h.queue_depth = depth;
	SLOT(my_slot)->h.held_only = held_only;
	SpinLockRelease(&agentphone_shared->mutex);
}

/*
 * workerslot_db_state returns what is becoming of the worker's database,
 * and since when in *since.
 */
AgentphoneDbState
workerslot_db_state(TimestampTz *since)
{
	AgentphoneDbState state;

	SpinLockAcquire(&agentphone_shared->mutex);
	state = SLOT(my_slot)->h.db_state;
	*since = SLOT(my_slot)->h.db_state_since;
	SpinLockRelease(&agentphone_shared->mutex);
	return state;
}
