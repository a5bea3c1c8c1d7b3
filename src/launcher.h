/*-------------------------------------------------------------------------
 *
 * launcher.h
 *		The launcher that starts one worker per database (launcher.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_LAUNCHER_H
#define AGENTPHONE_LAUNCHER_H

#include "fmgr.h"

extern void agentphone_register_launcher(void);
extern PGDLLEXPORT void agentphone_launcher_main(Datum main_arg);

#endif							/* AGENTPHONE_LAUNCHER_H */
