/*-------------------------------------------------------------------------
 *
 * utility.h
 *		Passing a utility statement on down the chain of ProcessUtility
 *		hooks, for agentphone's two hooks (dbguard.c, granthook.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_UTILITY_H
#define AGENTPHONE_UTILITY_H

#include "tcop/utility.h"

/*
 * agentphone_next_utility runs the statement through prev, the hook that
 * was installed before ours, or PostgreSQL's own when there was none.
 */
static inline void
agentphone_next_utility(ProcessUtility_hook_type prev, PlannedStmt *pstmt,
						const char *queryString, bool readOnlyTree,
						ProcessUtilityContext context, ParamListInfo params,
						QueryEnvironment *queryEnv, DestReceiver *dest,
						QueryCompletion *qc)
{
	if (prev)
		prev(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

#endif							/* AGENTPHONE_UTILITY_H */
