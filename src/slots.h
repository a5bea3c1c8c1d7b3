/*-------------------------------------------------------------------------
 *
 * slots.h
 *		The launcher's slots and its request ring in shared memory
 *		(slots.c): asking for a worker, waking one or the launcher, and the
 *		launcher's bookkeeping of each slot.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_SLOTS_H
#define AGENTPHONE_SLOTS_H

#include "nodes/pg_list.h"
#include "storage/latch.h"
#include "utils/timestamp.h"

#include "health.h"

/* Backends (the commit-time wake: wake.c) */
extern void slots_request_worker(Oid db, bool reset_backoff);
extern void slots_wake_worker(Oid db);

/* dbguard.c, for the database a command names */
extern void slots_set_db_state(Oid db, AgentphoneDbState state);
extern void slots_wake_launcher(bool rescan);

/* The launcher */
extern void slots_publish_launcher(Latch *latch);
extern bool slots_take_requests(List **unslotted);
extern int	slots_claim(Oid db, const char *dbname);
extern void slots_started(int slot, TimestampTz now);
extern void slots_stopped(int slot, WorkerExit *why, int *failures);
extern void slots_backoff(int slot, TimestampTz retry_at);
extern void slots_rename(int slot, const char *dbname);
extern void slots_free(int slot);
extern void slots_note_unserved(int n);

#endif							/* AGENTPHONE_SLOTS_H */
