/*-------------------------------------------------------------------------
 *
 * workerslot.h
 *		A worker's own slot in shared memory (workerslot.c): its latch,
 *		pid and health, as the worker publishes them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_WORKERSLOT_H
#define AGENTPHONE_WORKERSLOT_H

#include "storage/latch.h"
#include "utils/timestamp.h"

#include "health.h"

extern bool workerslot_attach(int slot, Oid *db, char *dbname);
extern void workerslot_publish(Latch *latch);
extern void workerslot_exit(WorkerExit why);
extern void workerslot_count(AgentphoneCounter c, int n);
extern void workerslot_note_error(const char *message, const char *for_callers);
extern void workerslot_note_error_over(void);
extern void workerslot_note_loop(int in_flight);
extern void workerslot_note_queue_depth(int64 depth, bool held_only);
extern AgentphoneDbState workerslot_db_state(TimestampTz *since);

#endif							/* AGENTPHONE_WORKERSLOT_H */
