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

struct HttpRequest;
struct Cycle;

extern struct Cycle reconcile_cycle;

extern void reconcile_note(void);
extern void reconcile_reset(void);
extern void reconcile_load(void);
extern void reconcile_start(Oid extension_oid);
extern bool reconcile_record_one(struct HttpRequest *req);

#endif							/* AGENTPHONE_RECONCILE_H */
