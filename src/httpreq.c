/*-------------------------------------------------------------------------
 *
 * httpreq.c
 *		One HTTP request: its libcurl handle set up safely, its headers and
 *		body, the callbacks that collect its answer, and what is left of it
 *		once it is done.
 *
 * http.c runs the handle, with every other request, through the one multi
 * handle.
 *
 * A POST is never sent twice by libcurl itself.  libcurl silently resends
 * a request on a fresh connection when a reused connection dies before an
 * answer arrives, which for POST /calls could dial a person twice.  The
 * body is therefore handed to libcurl through a read callback that cannot
 * seek: the resend would need to rewind it, so libcurl fails the transfer
 * instead (CURLE_SEND_FAIL_REWIND) and the caller sees a request that was
 * sent without an answer.  Connections are still reused.
 *
 * Safety: redirects are never followed, proxies from the environment are
 * ignored, TLS verification stays on (libcurl's default), only http and
 * https are allowed, bodies are capped (HTTP_MAX_RESPONSE_BYTES unless the
 * caller sets another cap), and
 * verbose output is never enabled, so the Authorization header is never
 * printed anywhere.  Callbacks never raise PostgreSQL errors: they run
 * inside libcurl and must not longjmp out of it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "http.h"

/* Cap on a Retry-After we honour: one day. */
#define MAX_RETRY_AFTER_MS (24 * 3600 * 1000)

/*
 * http_out_of_memory raises the error for what libcurl or malloc could not
 * allocate.
 */
void
http_out_of_memory(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("%s", what)));
}

/*
 * on_body collects the response body, failing the transfer (by returning
 * less than it was given) once it grows past the cap.
 */
static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	HttpRequest *req = (HttpRequest *) arg;
	size_t		n = size * nmemb;
	char	   *grown;

	if (req->body_len + n > req->max_bytes)
	{
		req->too_large = true;
		return 0;
	}
	grown = realloc(req->body, req->body_len + n + 1);
	if (grown == NULL)
		return 0;
	memcpy(grown + req->body_len, data, n);
	req->body = grown;
	req->body_len += n;
	req->body[req->body_len] = '\0';
	return n;
}

/*
 * on_read hands libcurl the next part of the request body.
 */
static size_t
on_read(char *buffer, size_t size, size_t nitems, void *arg)
{
	HttpRequest *req = (HttpRequest *) arg;
	size_t		n = Min(size * nitems, req->request_len - req->request_pos);

	memcpy(buffer, req->request_body + req->request_pos, n);
	req->request_pos += n;
	return n;
}

/*
 * on_seek refuses to rewind the body, so libcurl can never resend a POST
 * on its own (see the file header).
 */
static int
on_seek(void *arg, curl_off_t offset, int origin)
{
	(void) arg;
	(void) offset;
	(void) origin;
	return CURL_SEEKFUNC_CANTSEEK;
}

/*
 * parse_retry_after turns a Retry-After value (delay-seconds or an
 * HTTP-date) into milliseconds from now, or -1.
 */
static int
parse_retry_after(const char *value, size_t len)
{
	char		buf[64];
	char	   *end;
	long		secs;
	time_t		when;

	while (len > 0 && (value[len - 1] == '\r' || value[len - 1] == '\n' ||
					   value[len - 1] == ' '))
		len--;
	while (len > 0 && *value == ' ')
		value++, len--;
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, value, len);
	buf[len] = '\0';

	secs = strtol(buf, &end, 10);
	if (end != buf && *end == '\0')
		return (secs < 0) ? -1 : (int) Min((int64) Min(secs, MAX_RETRY_AFTER_MS / 1000) * 1000,
										   MAX_RETRY_AFTER_MS);
	when = curl_getdate(buf, NULL);
	if (when <= 0)
		return -1;
	secs = (long) Min(when - time(NULL), (time_t) (MAX_RETRY_AFTER_MS / 1000));
	return (int) Min((int64) Max(secs, 0) * 1000, MAX_RETRY_AFTER_MS);
}

/*
 * on_header picks Retry-After out of the response headers.
 */
static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	HttpRequest *req = (HttpRequest *) arg;
	size_t		n = size * nmemb;
	static const char name[] = "retry-after:";

	if (n > sizeof(name) - 1 && pg_strncasecmp(data, name, sizeof(name) - 1) == 0)
		req->retry_after_ms = parse_retry_after(data + sizeof(name) - 1,
												n - (sizeof(name) - 1));
	return n;
}

/*
 * build_headers returns the request headers.  The Authorization line is
 * built in a scratch buffer that is wiped once curl has its own copy.
 */
static struct curl_slist *
build_headers(const char *bearer, const char *sub_account, const char *accept)
{
	struct curl_slist *h = NULL;
	char		line[64];

	snprintf(line, sizeof(line), "Accept: %s", accept);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, line);
	h = curl_slist_append(h, "Expect:");
	if (bearer != NULL && bearer[0] != '\0')
	{
		char	   *auth = psprintf("Authorization: Bearer %s", bearer);

		h = curl_slist_append(h, auth);
		explicit_bzero(auth, strlen(auth));
		pfree(auth);
	}
	if (sub_account != NULL && sub_account[0] != '\0' &&
		strpbrk(sub_account, "\r\n") == NULL)
	{
		char	   *line2 = psprintf("X-Sub-Account-Id: %s", sub_account);

		h = curl_slist_append(h, line2);
		pfree(line2);
	}
	if (h == NULL)
		http_out_of_memory("out of memory while building HTTP headers");
	return h;
}

/*
 * set_safe_options applies the options every request gets.
 */
static void
set_safe_options(CURL *e, const HttpOptions *opt)
{
	bool		http_ok = opt->allow_http;
	long		timeout_ms = opt->timeout_ms;

	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_VERBOSE, 0L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	/* a proxy only when configured: never from the environment */
	curl_easy_setopt(e, CURLOPT_PROXY, opt->proxy ? opt->proxy : "");
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, http_ok ? "http,https" : "https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS,
					 (long) (http_ok ? CURLPROTO_HTTP | CURLPROTO_HTTPS : CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, Min(timeout_ms, 5000L));
	curl_easy_setopt(e, CURLOPT_USERAGENT, "agentphone/1.0");
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
}

/*
 * set_post_body makes the request a POST of json through the non-seekable
 * read callback (see the file header).
 */
static void
set_post_body(HttpRequest *req, const char *json)
{
	CURL	   *e = req->easy;

	req->request_len = strlen(json);
	req->request_body = strdup(json);
	if (req->request_body == NULL)
		http_out_of_memory("out of memory while preparing a request");
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->request_len);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(e, CURLOPT_READDATA, req);
	curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
	curl_easy_setopt(e, CURLOPT_SEEKDATA, req);
}

/*
 * http_prepare gives req a libcurl handle for url, set up as opt says: a
 * POST of json, or a GET when json is NULL, with the safe options, the
 * headers and the callbacks that collect the answer.  http_start adds it
 * to the multi handle.
 */
void
http_prepare(HttpRequest *req, const char *url, const char *json,
			 const HttpOptions *opt)
{
	CURL	   *e = curl_easy_init();

	if (e == NULL)
		http_out_of_memory("could not create a libcurl handle");
	req->retry_after_ms = -1;
	req->max_bytes = HTTP_MAX_RESPONSE_BYTES;
	req->easy = e;
	req->headers = build_headers(opt->bearer, opt->sub_account,
								 opt->accept ? opt->accept : "application/json");

	set_safe_options(e, opt);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers);
	if (json != NULL)
		set_post_body(req, json);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, req);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, req);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, req->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, req);
}

/*
 * http_free releases a finished request.
 */
void
http_free(HttpRequest *req)
{
	free(req->body);
	free(req->request_body);
	pfree(req);
}

/*
 * http_failure_text describes a transfer that got no usable HTTP answer.
 */
const char *
http_failure_text(const HttpRequest *req)
{
	if (req->too_large)
		return psprintf("the answer was larger than %zu bytes", req->max_bytes);
	return psprintf("%s", req->errbuf[0] ? req->errbuf : curl_easy_strerror(req->result));
}

/*
 * http_escape returns s percent-encoded for a URL's query or path, palloc'd.
 */
char *
http_escape(const char *s)
{
	char	   *escaped = curl_easy_escape(NULL, s, 0);
	char	   *result = escaped ? pstrdup(escaped) : NULL;

	curl_free(escaped);
	if (result == NULL)
		http_out_of_memory("out of memory while encoding a URL");
	return result;
}
