/*-------------------------------------------------------------------------
 *
 * callstore.h
 *		Storing what the API says of a placed call (callstore.c).  Each
 *		step takes its struct as void *, for callstore_run().
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_CALLSTORE_H
#define AGENTPHONE_CALLSTORE_H

#include "nodes/pg_list.h"

#include "api.h"

typedef struct CallUpdate
{
	int64		id;
	ApiCall    *call;			/* what the API said, or NULL */
	const char *status;			/* the state to store, or NULL: the API's, mapped */
	const char *flag;			/* last_error to set, or NULL */
	int			backoff_ms;		/* next individual lookup, or -1 */
	bool		transcript_complete;	/* its transcript was just stored */
} CallUpdate;

typedef struct TranscriptWrite
{
	int64		id;
	List	   *turns;			/* ApiTurn */
	ApiCall    *call;			/* the ended call's fields, or NULL */
} TranscriptWrite;

typedef struct Backoff
{
	int64		id;
	const char *why;
} Backoff;

/* A transcript snippet to store. */
typedef struct SnippetUpdate
{
	int64		id;
	char	   *snippet;
} SnippetUpdate;

extern void callstore_run(void (*step) (void *), void *arg, int64 id);
extern void callstore_update(void *arg);	/* CallUpdate */
extern void callstore_transcript(void *arg);	/* TranscriptWrite */
extern void callstore_backoff(void *arg);	/* Backoff */
extern void callstore_snippet(void *arg);	/* SnippetUpdate */

#endif							/* AGENTPHONE_CALLSTORE_H */
