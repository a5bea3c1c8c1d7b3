/*-------------------------------------------------------------------------
 *
 * shared_internal.h
 *		The layout of the structs in shared memory, for the three files
 *		that read and write them, under their lock, and no other: shared.c
 *		(creating them, the backends' copies), slots.c (the launcher's
 *		slots and its request ring) and workerslot.c (a worker's own slot).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_SHARED_INTERNAL_H
#define AGENTPHONE_SHARED_INTERNAL_H

#include "storage/latch.h"
#include "storage/spin.h"

#include "health.h"

/* Requests for a worker that fit before the launcher rescans everything. */
#define REQUEST_RING 32

typedef struct DatabaseSlot
{
	Latch	   *worker_latch;	/* the running worker's latch, or NULL */
	WorkerHealth h;				/* what the status functions show */
} DatabaseSlot;

typedef struct WorkerRequest
{
	Oid			db;
	bool		reset_backoff;	/* CREATE EXTENSION: start at once */
} WorkerRequest;

typedef struct AgentphoneShared
{
	slock_t		mutex;			/* everything */
	Latch	   *launcher_latch;
	LauncherHealth launcher;
	bool		rescan;			/* the launcher must look at every database */
	int			nrequests;
	WorkerRequest requests[REQUEST_RING];
	int			nslots;
	DatabaseSlot slots[FLEXIBLE_ARRAY_MEMBER];
} AgentphoneShared;

/* NULL in a session whose server did not preload the library */
extern AgentphoneShared *agentphone_shared;

#define SLOT(i) (&agentphone_shared->slots[(i)])

/*
 * shared_slot_of returns the slot serving database db, or -1; the caller
 * holds the mutex.
 */
static inline int
shared_slot_of(Oid db)
{
	for (int i = 0; i < agentphone_shared->nslots; i++)
		if (SLOT(i)->h.dboid == db)
			return i;
	return -1;
}

#endif							/* AGENTPHONE_SHARED_INTERNAL_H */
