/*-------------------------------------------------------------------------
 *
 * poll.h
 *		Following placed calls to their end and fetching their transcripts
 *		(poll.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_POLL_H
#define AGENTPHONE_POLL_H

struct Cycle;

extern struct Cycle poll_cycle;

extern void poll_note_placed(void);
extern void poll_reset(void);
extern void poll_postpone(void);
extern void poll_load(void);
extern void poll_start(Oid extension_oid);
extern void poll_record_snippets(void);
extern bool poll_pending_writes(void);
extern void poll_after_record(void);

#endif							/* AGENTPHONE_POLL_H */
