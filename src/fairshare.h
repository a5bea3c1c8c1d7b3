/*-------------------------------------------------------------------------
 *
 * fairshare.h
 *		Which databases the launcher's slots serve (fairshare.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_FAIRSHARE_H
#define AGENTPHONE_FAIRSHARE_H

#include "nodes/pg_list.h"
#include "utils/palloc.h"

extern void fairshare_rescan(List *requested, bool forget_absent,
							 MemoryContext cxt);
extern void fairshare_no_extension(List *dbs);
extern bool fairshare_unserved_said(void);

#endif							/* AGENTPHONE_FAIRSHARE_H */
