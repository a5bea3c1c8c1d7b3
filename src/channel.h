/*-------------------------------------------------------------------------
 *
 * channel.h
 *		Where a call's transitions are announced (channel.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_CHANNEL_H
#define AGENTPHONE_CHANNEL_H

extern void agentphone_announce(Oid role, const char *payload);

#endif							/* AGENTPHONE_CHANNEL_H */
