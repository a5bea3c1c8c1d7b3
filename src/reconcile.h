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

extern void reconcile_note(void);

/* the rest is the worker's task agentphone_reconcile_task (task.h) */

#endif							/* AGENTPHONE_RECONCILE_H */
