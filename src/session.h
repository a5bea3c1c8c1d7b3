/*-------------------------------------------------------------------------
 *
 * session.h
 *		The worker's session settings (session.c): pinned, so no database or
 *		role setting changes what its statements mean.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_SESSION_H
#define AGENTPHONE_SESSION_H

extern void agentphone_note_server_settings(void);
extern void agentphone_pin_session_settings(void);


#endif							/* AGENTPHONE_SESSION_H */
