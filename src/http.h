/*-------------------------------------------------------------------------
 *
 * http.h
 *		Concurrent HTTP requests through libcurl's multi interface.
 *		Knows nothing of tables, settings or the AgentPhone API's shapes:
 *		callers pass what a request needs in HttpOptions.
 *
 * http.c runs the requests through one libcurl multi handle; httpreq.c
 * sets up each request and reads what is left of it once it is done.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_HTTP_H
#define AGENTPHONE_HTTP_H

#include <curl/curl.h>

#include "lib/ilist.h"

/* Largest response body read by default; a longer one fails the request. */
#define HTTP_MAX_RESPONSE_BYTES (1024 * 1024)

/* How to send a request: the caller's settings, passed in. */
typedef struct HttpOptions
{
	const char *bearer;			/* Authorization: Bearer token, or NULL */
	const char *sub_account;	/* X-Sub-Account-Id, NULL or "": none */
	long		timeout_ms;		/* for the whole transfer */
	const char *accept;			/* Accept header; NULL: application/json */
	bool		allow_http;		/* http:// as well as https:// */
	const char *proxy;			/* proxy URL; NULL or "": none */
	int			max_connections;	/* idle connections kept, at most */
} HttpOptions;

typedef struct HttpRequest
{
	/* set by the caller, returned untouched */
	void	   *owner;

	/* results, valid once the request is done */
	CURLcode	result;			/* CURLE_OK when an HTTP answer arrived */
	long		status;			/* HTTP status, 0 if none */
	bool		sent;			/* any byte of the request went out */
	bool		too_large;		/* body exceeded max_bytes */
	size_t		max_bytes;		/* cap on the body, HTTP_MAX_RESPONSE_BYTES unless set */
	int			retry_after_ms; /* from Retry-After, -1 when absent */
	char	   *body;			/* NUL-terminated response body (malloc) */
	size_t		body_len;
	char		errbuf[CURL_ERROR_SIZE];

	/* private */
	char	   *request_body;	/* copy of the JSON sent (malloc) */
	size_t		request_len;
	size_t		request_pos;	/* how much of it curl has read */
	CURL	   *easy;
	struct curl_slist *headers;
	dlist_node	active;			/* in the list of requests not yet done */
	struct HttpRequest *next;
} HttpRequest;

/* http.c: the requests in flight */
extern void http_init(void);
extern HttpRequest *http_start(const char *url, const char *json,
							   const HttpOptions *opt, void *owner);
extern int	http_in_flight(void);
extern bool http_wait(long timeout_ms);
extern HttpRequest *http_next_done(void);
extern void http_abort(HttpRequest *req);
extern HttpRequest *http_take_done(HttpRequest *req);
extern bool http_is_done(const HttpRequest *req);
extern long http_status_so_far(HttpRequest *req);

/* httpreq.c: one request */
extern void http_free(HttpRequest *req);
extern const char *http_failure_text(const HttpRequest *req);
extern char *http_escape(const char *s);

/* httpreq.c, for http.c */
extern void http_prepare(HttpRequest *req, const char *url, const char *json,
						 const HttpOptions *opt);
extern void http_out_of_memory(const char *what) pg_attribute_noreturn();

#endif							/* AGENTPHONE_HTTP_H */
