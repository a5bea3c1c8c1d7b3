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

extern void poll_note_placed(void);

/* the rest is the worker's task agentphone_poll_task (task.h) */

#endif							/* AGENTPHONE_POLL_H */
