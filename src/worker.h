/*-------------------------------------------------------------------------
 *
 * worker.h
 *		The background worker's entry point (worker.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_WORKER_H
#define AGENTPHONE_WORKER_H

extern PGDLLEXPORT void agentphone_worker_main(Datum main_arg);


#endif							/* AGENTPHONE_WORKER_H */
