/*-------------------------------------------------------------------------
 *
 * workerrecord.h
 *		Handing the worker's finished requests to their handlers
 *		(workerrecord.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_WORKERRECORD_H
#define AGENTPHONE_WORKERRECORD_H

#include "request.h"

extern bool workerrecord_finished(RecordResult *result);

#endif							/* AGENTPHONE_WORKERRECORD_H */
