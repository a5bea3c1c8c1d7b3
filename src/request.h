/*-------------------------------------------------------------------------
 *
 * request.h
 *		The worker's API requests (request.c): the owner record each one
 *		carries, with the handler its answer goes to, and how a request
 *		is addressed and sent from the settings.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_REQUEST_H
#define AGENTPHONE_REQUEST_H

#include "http.h"

/* What recording a batch of answers leaves the worker to do. */
typedef struct RecordResult
{
	int			soonest_retry_ms;	/* claim again this soon; -1: no retry */
	bool		requeued;		/* a call went back to "queued" */
} RecordResult;

/*
 * Where an answer goes: exactly one of the two is set.  on_answer handles
 * it in memory, outside any transaction (pages of a list kept until the
 * last one); record stores it, inside the worker's record transaction.
 */
struct ApiRequest;

typedef struct RequestHandler
{
	void		(*on_answer) (HttpRequest *req);
	void		(*record) (HttpRequest *req, RecordResult *result);
	void		(*release) (struct ApiRequest *r);	/* frees what the
													 * module's fields
													 * hold, or NULL */
} RequestHandler;

/*
 * The owner of one request in flight (lives in TopMemoryContext): this
 * header, which the worker loop reads, then the fields of the module that
 * started it (its own struct begins with an ApiRequest).
 */
typedef struct ApiRequest
{
	const RequestHandler *handler;	/* where the answer goes */
	Oid			extension_oid;	/* the agentphone.calls it belongs to */
	int64		id;				/* agentphone.calls.id, 0 for a list */
	char		sub_account[129];	/* X-Sub-Account-Id to send, "" for none */
} ApiRequest;

extern ApiRequest *request_new(Size size, const RequestHandler *handler,
							   Oid extension_oid, int64 id);
extern void request_start(ApiRequest *r, const char *url, const char *key,
						  const char *json);
extern void request_set_sub_account(ApiRequest *r, const char *id);
extern void request_finish(HttpRequest *req);
extern void request_free(ApiRequest *r);
extern HttpOptions request_options(const char *key, const char *sub_account);
extern char *api_url(const char *fmt,...) pg_attribute_printf(1, 2);
extern char *api_said(const HttpRequest *req);
extern const char *answer_problem(HttpRequest *req);

#endif							/* AGENTPHONE_REQUEST_H */
