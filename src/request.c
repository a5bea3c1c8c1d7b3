/*-------------------------------------------------------------------------
 *
 * request.c
 *		The worker's API requests: each carries an owner record (which
 *		incarnation of the extension it belongs to, the handler its answer
 *		goes to, then the fields of the module that started it), so the
 *		worker loop hands answers on without knowing what they are.  URLs and the way requests are
 *		sent come from the settings here, not in the HTTP module.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/memutils.h"

#include "api.h"
#include "guc.h"
#include "http.h"
#include "request.h"
#include "secret.h"
#include "validate.h"

/*
 * request_new allocates the owner record of a request whose answer goes
 * to handler: size bytes, zeroed, for the module's struct, which begins
 * with the ApiRequest filled here.  It lives until the answer has been
 * handled (request_finish()).
 */
ApiRequest *
request_new(Size size, const RequestHandler *handler, Oid extension_oid, int64 id)
{
	ApiRequest *r;

	Assert(size >= sizeof(ApiRequest));
	r = MemoryContextAllocZero(TopMemoryContext, size);
	r->handler = handler;
	r->extension_oid = extension_oid;
	r->id = id;
	return r;
}

/*
 * request_free frees an owner record.
 */
void
request_free(ApiRequest *r)
{
	if (r->handler->release)
		r->handler->release(r);
	pfree(r);
}

/*
 * request_options returns how an API request is sent, from the settings,
 * with key as its Bearer token (NULL: none) and sub_account as its
 * X-Sub-Account-Id (NULL or "": none).
 */
HttpOptions
request_options(const char *key, const char *sub_account)
{
	HttpOptions opt = {0};

	opt.bearer = key;
	opt.sub_account = sub_account;
	opt.timeout_ms = agentphone_request_timeout_ms;
	opt.allow_http = agentphone_allow_insecure_http;
	opt.proxy = agentphone_http_proxy;
	opt.max_connections = agentphone_max_in_flight;
	return opt;
}

/*
 * request_start sends the request r stands for: a POST of json to url, or
 * a GET when json is NULL, with key as its Bearer token.
 */
void
request_start(ApiRequest *r, const char *url, const char *key, const char *json)
{
	HttpOptions opt = request_options(key, r->sub_account);

	http_start(url, json, &opt, r);
}

/*
 * request_set_sub_account sends r under sub-account id (NULL: none).  An
 * id that is not one (a superuser's direct INSERT into tables older than
 * 1.5, which check it) is never sent: it could carry a header of its own.
 */
void
request_set_sub_account(ApiRequest *r, const char *id)
{
	r->sub_account[0] = '\0';
	if (id == NULL)
		return;
	if (!agentphone_sub_account_ok(id))
	{
		ereport(WARNING,
				(errmsg("agentphone: call %lld has an invalid subAccountId, sent without one",
						(long long) r->id)));
		return;
	}
	strlcpy(r->sub_account, id, sizeof(r->sub_account));
}

/*
 * request_finish frees a handled request and its owner record.
 */
void
request_finish(HttpRequest *req)
{
	request_free((ApiRequest *) req->owner);
	http_free(req);
}

/*
 * api_url returns agentphone.api_url (without trailing slashes) followed
 * by the formatted path.
 */
char *
api_url(const char *fmt,...)
{
	StringInfoData buf;
	const char *base = agentphone_api_url;
	int			len = strlen(base);
	va_list		args;
	int			needed;

	while (len > 0 && base[len - 1] == '/')
		len--;
	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, base, len);
	for (;;)
	{
		va_start(args, fmt);
		needed = appendStringInfoVA(&buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	return buf.data;
}

/*
 * api_said describes the API's unsuccessful answer to req, its words
 * redacted of every key before they are cut to size: the text is stored
 * in last_error, or raised to the caller.
 */
char *
api_said(const HttpRequest *req)
{
	return api_error_text(req->status, agentphone_redact_keys(req->body));
}

/*
 * answer_problem returns why a request got no usable 200 answer (the API's
 * words, or the transfer's failure), or NULL for a 200.
 */
const char *
answer_problem(HttpRequest *req)
{
	if (req->result == CURLE_OK && req->status == 200)
		return NULL;
	return req->status ? api_said(req) : http_failure_text(req);
}
