/*-------------------------------------------------------------------------
 *
 * reconcile.h
 *		Asking the API whether a call of unknown outcome was placed
 *		(reconcile.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_RECONCILE_H
#define AGENTPHONE_RECONCILE_H

struct Cycle;

extern struct Cycle reconcile_cycle;

extern void reconcile_note(void);
extern void reconcile_reset(void);
extern void reconcile_load(void);
extern void reconcile_start(Oid extension_oid);

#endif							/* AGENTPHONE_RECONCILE_H */
