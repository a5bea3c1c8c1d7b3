/*-------------------------------------------------------------------------
 *
 * tending.h
 *		The workers the launcher starts, one per slot (tending.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_TENDING_H
#define AGENTPHONE_TENDING_H

#include "nodes/pg_list.h"
#include "utils/timestamp.h"

extern void tending_init(void);
extern bool tending_retiring(int slot);
extern void tending_let_go(int slot);
extern void tending_tend(TimestampTz now, long *wait_ms, List **no_extension);
extern bool tending_take_slot_freed(void);

#endif							/* AGENTPHONE_TENDING_H */
