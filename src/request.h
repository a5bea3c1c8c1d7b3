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

/* What a request is, for the module that started it. */
typedef enum RequestKind
{
	REQ_CREATE_CALL,			/* POST /calls for a claimed call */
	REQ_LIST_ACTIVE,			/* GET /calls?status=in-progress, a page */
	REQ_GET_CALL,				/* GET /calls/{id} of a call that changed */
	REQ_GET_TRANSCRIPT,			/* GET /calls/{id}/transcript */
	REQ_GET_CALL_TRANSCRIPT,	/* GET /calls/{id}, for the transcript in it */
	REQ_SEARCH_CALLS,			/* GET /calls?search=<number> */
	REQ_LIST_AGENTS				/* GET /agents, a page */
} RequestKind;

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
typedef struct RequestHandler
{
	void		(*on_answer) (HttpRequest *req);
	void		(*record) (HttpRequest *req, RecordResult *result);
} RequestHandler;

struct ApiCall;

/* The owner of one request in flight (lives in TopMemoryContext). */
typedef struct ApiRequest
{
	const RequestHandler *handler;
	RequestKind kind;
	Oid			extension_oid;	/* the agentphone.calls it belongs to */
	int64		id;				/* agentphone.calls.id, 0 for a list */
	int			attempt;		/* REQ_CREATE_CALL: 1 for the first try */
	uint64		key_hash;		/* REQ_CREATE_CALL: of the key sent */
	char		sub_account[129];	/* X-Sub-Account-Id to send, "" for none */
	int			offset;			/* a list's page: its offset */
	char		api_id[129];	/* REQ_GET_*: the API's id */
	struct ApiCall *ended;		/* REQ_GET_*TRANSCRIPT: the ended call, stored
								 * with its transcript (one chunk), or NULL */
} ApiRequest;

extern ApiRequest *request_new(const RequestHandler *handler, RequestKind kind,
							   Oid extension_oid, int64 id, const char *api_id);
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
