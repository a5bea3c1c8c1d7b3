/*-------------------------------------------------------------------------
 *
 * shared.h
 *		What backends, the launcher and the workers share (shared.c): one
 *		slot per served database (its worker's latch, pid, health and
 *		counters, what is becoming of the database, the launcher's view of
 *		it) and the launcher's latch.  Here: creating them, and the copies
 *		of a slot's or the launcher's health (health.h) that backends read.
 *		The structs themselves are private to shared.c, slots.c and
 *		workerslot.c (shared_internal.h); the launcher's side of the slots
 *		is slots.h, a worker's own slot workerslot.h (the per-key pacing
 *		windows: pacing.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_SHARED_H
#define AGENTPHONE_SHARED_H

#include "health.h"

extern void shared_install(void);
extern bool shared_available(void);
extern int	shared_slot_count(void);
extern bool shared_database_health(Oid db, WorkerHealth *health);
extern bool shared_slot_health(int slot, WorkerHealth *health);
extern bool shared_launcher_health(LauncherHealth *health);
extern bool shared_database_unserved(Oid db);
extern char *shared_unserved_text(void);

/* Backends (the commit-time wake: wake.c) */
extern void agentphone_wake_at_commit(void);
extern void agentphone_request_worker_at_commit(void);

#endif							/* AGENTPHONE_SHARED_H */
