/*-------------------------------------------------------------------------
 *
 * http.c
 *		Concurrent HTTP requests through one libcurl multi handle, waited
 *		for together with the process latch.
 *
 * All requests share one multi handle and therefore one connection cache,
 * so connections to the API are reused.  The worker never blocks in
 * libcurl: http_wait() sleeps in a WaitEventSet that holds the latch, the
 * postmaster-death event and curl's sockets, so a COMMIT, SIGTERM or
 * SIGHUP interrupts the wait at once.  libcurl is driven by its socket
 * interface: it says which sockets to watch (on_socket) and when it wants
 * time (on_timer), and is told only about the socket that is ready.  The
 * WaitEventSet is kept from one wait to the next and rebuilt only when
 * curl opens or closes a socket, which with reused connections is rare.
 *
 * Each request's handle is set up by httpreq.c (its options, headers,
 * body and the callbacks that collect its answer); this file adds it to
 * the multi handle and hands it back once it has finished.  Callbacks
 * never raise PostgreSQL errors: they run inside libcurl and must not
 * longjmp out of it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "http.h"


_Static_assert(LIBCURL_VERSION_NUM >= 0x073e00, "agentphone needs libcurl 7.62 or later");

static CURLM *multi = NULL;
static MemoryContext http_context = NULL;
static int	n_in_flight = 0;
static dlist_head active = DLIST_STATIC_INIT(active);
static HttpRequest *done_head = NULL;
static HttpRequest *done_tail = NULL;

/*
 * A socket of curl's, open.  curl stops watching a connection it keeps for
 * reuse (events 0) and watches it again when it reuses it: its event stays
 * in wait_set meanwhile, so reuse costs one epoll_ctl, not a rebuild.
 */
typedef struct CurlSocket
{
	curl_socket_t fd;
	uint32		events;			/* WL_SOCKET_* curl wants, 0 for none */
	int			pos;			/* its event in wait_set, -1 if none */
	ino_t		ino;			/* its inode when its event was added */
	bool		changed;		/* events changed since wait_set was built */
} CurlSocket;

static CurlSocket *sockets = NULL;
static int	n_sockets = 0;
static int	max_sockets = 0;
static bool rebuild = false;	/* wait_set lacks a socket or has a closed one */
static WaitEventSet *wait_set = NULL;
static long curl_timer_ms = -1; /* when curl wants time, -1: never */
static TimestampTz curl_timer_from = 0;

/* Most events one wait reports; level-triggered, the rest come next. */
#define MAX_WAIT_EVENTS 128

/*
 * socket_index returns the index of fd in sockets, n_sockets if absent.
 */
static int
socket_index(curl_socket_t fd)
{
	int			i;

	for (i = 0; i < n_sockets && sockets[i].fd != fd; i++)
		;
	return i;
}

/*
 * on_close is curl's close-socket callback: the socket leaves the table,
 * and wait_set is rebuilt before the next wait.
 */
static int
on_close(void *clientp pg_attribute_unused(), curl_socket_t fd)
{
	int			i = socket_index(fd);

	if (i < n_sockets)
	{
		sockets[i] = sockets[--n_sockets];
		rebuild = true;
	}
	return close(fd);
}

/*
 * on_socket is curl's socket callback: it notes which sockets to watch for
 * what (CURL_POLL_REMOVE: nothing; the socket stays in the table until
 * on_close).  Like every callback it must not raise an error, so the
 * WaitEventSet is brought up to date by the next wait, not here, and a
 * socket table that cannot grow fails the transfer (MCXT_ALLOC_NO_OOM).
 */
static int
on_socket(CURL *e pg_attribute_unused(), curl_socket_t fd, int what,
		  void *userp pg_attribute_unused(), void *socketp pg_attribute_unused())
{
	uint32		events = ((what == CURL_POLL_IN || what == CURL_POLL_INOUT) ? WL_SOCKET_READABLE : 0) |
		((what == CURL_POLL_OUT || what == CURL_POLL_INOUT) ? WL_SOCKET_WRITEABLE : 0);
	int			i = socket_index(fd);

	if (i == n_sockets)
	{
		if (n_sockets == max_sockets)
		{
			CurlSocket *more = MemoryContextAllocExtended(http_context,
													  sizeof(CurlSocket) * max_sockets * 2,
													  MCXT_ALLOC_NO_OOM);

			if (more == NULL)
				return -1;		/* curl fails the transfer */
			memcpy(more, sockets, sizeof(CurlSocket) * max_sockets);
			pfree(sockets);
			sockets = more;
			max_sockets *= 2;
		}
		sockets[n_sockets++] = (CurlSocket) {fd, events, -1, 0, false};
		rebuild = true;
		return 0;
	}
	if (sockets[i].events != events)
	{
		sockets[i].events = events;
		sockets[i].changed = true;
	}
	return 0;
}

/*
 * on_timer is curl's timer callback: curl wants to be called after
 * timeout_ms (-1: not at all).
 */
static int
on_timer(CURLM *m pg_attribute_unused(), long timeout_ms, void *userp pg_attribute_unused())
{
	curl_timer_ms = timeout_ms;
	curl_timer_from = GetCurrentTimestamp();
	return 0;
}

/*
 * http_init sets up libcurl once per process.
 */
void
http_init(void)
{
	if (multi != NULL)
		return;
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not initialize libcurl")));
	multi = curl_multi_init();
	if (multi == NULL)
		http_out_of_memory("could not create a libcurl multi handle");
	http_context = AllocSetContextCreate(TopMemoryContext, "agentphone http",
										 ALLOCSET_SMALL_SIZES);
	max_sockets = 16;
	sockets = MemoryContextAlloc(http_context, sizeof(CurlSocket) * max_sockets);
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
}

/*
 * http_start starts a request to url, sent as opt says: a POST of json, or
 * a GET when json is NULL.  It returns the request, which completes later
 * through http_wait() and http_next_done().
 */
HttpRequest *
http_start(const char *url, const char *json, const HttpOptions *opt,
		   void *owner)
{
	HttpRequest *req = MemoryContextAllocZero(http_context, sizeof(HttpRequest));

	req->owner = owner;
	http_prepare(req, url, json, opt);
	/* curl's sockets close through on_close, which keeps the socket table */
	curl_easy_setopt(req->easy, CURLOPT_CLOSESOCKETFUNCTION, on_close);

	/* keep no more idle connections than can be busy at once */
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long) Max(opt->max_connections, 1));
	if (curl_multi_add_handle(multi, req->easy) != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not add a request to libcurl")));
	n_in_flight++;
	dlist_push_tail(&active, &req->active);
	return req;
}

/*
 * http_in_flight returns the number of requests not yet done.
 */
int
http_in_flight(void)
{
	return n_in_flight;
}

/*
 * release_handle detaches a request from libcurl.
 */
static void
release_handle(HttpRequest *req)
{
	curl_multi_remove_handle(multi, req->easy);
	curl_easy_cleanup(req->easy);
	curl_slist_free_all(req->headers);
	req->easy = NULL;
	req->headers = NULL;
	dlist_delete(&req->active);
	n_in_flight--;
}

/*
 * finish moves a completed transfer to the done list.
 */
static void
finish(CURL *e, CURLcode result)
{
	HttpRequest *req;
	curl_off_t	sent_bytes = 0;

	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **) &req);
	req->result = result;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &req->status);
	curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &sent_bytes);
	req->sent = (sent_bytes > 0);
	release_handle(req);

	if (done_tail)
		done_tail->next = req;
	else
		done_head = req;
	done_tail = req;
}

/*
 * collect_done moves finished transfers to the done list.
 */
static void
collect_done(void)
{
	int			queued;
	CURLMsg    *msg;

	while ((msg = curl_multi_info_read(multi, &queued)) != NULL)
	{
		if (msg->msg == CURLMSG_DONE)
			finish(msg->easy_handle, msg->data.result);
	}
}

/*
 * inode_of returns the inode of fd's socket, 0 if fd is not open.  curl
 * closes a few sockets of its own (its resolver's) without on_close: a
 * number seen again may be another socket, whose event must be added anew.
 */
static ino_t
inode_of(curl_socket_t fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

/*
 * ready_wait_set returns the WaitEventSet of the latch, postmaster death
 * and curl's sockets, rebuilt only when curl opened or closed a socket.  A
 * socket curl stopped watching keeps its event as it was; should it fire,
 * the set is rebuilt without it (see http_wait).
 */
static WaitEventSet *
ready_wait_set(void)
{
	for (int i = 0; i < n_sockets && !rebuild; i++)
	{
		CurlSocket *c = &sockets[i];

		if (!c->changed || c->events == 0)
			continue;
		c->changed = false;
		if (c->pos >= 0 && inode_of(c->fd) == c->ino)
			ModifyWaitEvent(wait_set, c->pos, c->events, NULL);
		else
			rebuild = true;
	}
	if (wait_set != NULL && !rebuild)
		return wait_set;
	if (wait_set != NULL)
		FreeWaitEventSet(wait_set);
	wait_set = CreateWaitEventSet(http_context, n_sockets + 2);
	AddWaitEventToSet(wait_set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wait_set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (int i = 0; i < n_sockets; i++)
	{
		CurlSocket *c = &sockets[i];

		c->changed = false;
		c->pos = c->events ? AddWaitEventToSet(wait_set, c->events, c->fd, NULL, NULL) : -1;
		c->ino = inode_of(c->fd);
	}
	rebuild = false;
	return wait_set;
}

/*
 * socket_watched says whether event pos of wait_set is a socket curl
 * watches now.
 */
static bool
socket_watched(int pos)
{
	for (int i = 0; i < n_sockets; i++)
		if (sockets[i].pos == pos)
			return sockets[i].events != 0;
	return false;
}

/*
 * curl_timer_left returns how long until curl wants time, or -1.
 */
static long
curl_timer_left(void)
{
	long		waited;

	if (curl_timer_ms < 0)
		return -1;
	waited = (long) ((GetCurrentTimestamp() - curl_timer_from) / 1000);
	return Max(curl_timer_ms - waited, 0);
}

/*
 * http_wait sleeps until the latch is set, a socket is ready, curl's own
 * timer fires or timeout_ms passes, then lets transfers progress.  It
 * returns true when the latch was set (and resets it).  It returns at once
 * when finished requests are waiting to be collected.
 */
bool
http_wait(long timeout_ms)
{
	WaitEvent	events[MAX_WAIT_EVENTS];
	long		timer = curl_timer_left();
	int			running;
	int			nev;
	bool		latch_set = false;

	if (timer >= 0 && timer < timeout_ms)
		timeout_ms = timer;
	if (done_head != NULL)
		timeout_ms = 0;

	nev = WaitEventSetWait(ready_wait_set(), Max(timeout_ms, 0), events, lengthof(events),
						   PG_WAIT_EXTENSION);
	for (int i = 0; i < nev; i++)
	{
		uint32		ev = events[i].events;

		if (ev & WL_LATCH_SET)
			latch_set = true;
		else if (!socket_watched(events[i].pos))
			rebuild = true;
		else if (ev & (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE))
			curl_multi_socket_action(multi, events[i].fd,
									 ((ev & WL_SOCKET_READABLE) ? CURL_CSELECT_IN : 0) |
									 ((ev & WL_SOCKET_WRITEABLE) ? CURL_CSELECT_OUT : 0),
									 &running);
	}
	if (curl_timer_left() == 0)
	{
		curl_timer_ms = -1;
		curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	collect_done();

	if (latch_set)
		ResetLatch(MyLatch);
	return latch_set;
}

/*
 * http_next_done returns the next finished request, or NULL.  The caller
 * frees it with http_free().
 */
HttpRequest *
http_next_done(void)
{
	HttpRequest *req = done_head;

	if (req != NULL)
	{
		done_head = req->next;
		if (done_head == NULL)
			done_tail = NULL;
		req->next = NULL;
	}
	return req;
}

/*
 * http_abort drops one request, finished or not, and frees it.
 */
void
http_abort(HttpRequest *req)
{
	if (req->easy != NULL)
		release_handle(req);
	else
		(void) http_take_done(req);
	http_free(req);
}

/*
 * http_take_done takes req off the done list once it has finished and
 * returns it, or returns NULL while it is still in flight: a backend that
 * follows a stream while it waits for another request takes its own.
 */
HttpRequest *
http_take_done(HttpRequest *req)
{
	HttpRequest **link = &done_head;
	HttpRequest *prev = NULL;

	if (req->easy != NULL)
		return NULL;
	while (*link != NULL && *link != req)
	{
		prev = *link;
		link = &(*link)->next;
	}
	if (*link != req)
		return NULL;
	*link = req->next;
	if (done_tail == req)
		done_tail = prev;
	req->next = NULL;
	return req;
}

/*
 * http_is_done tells whether req has finished (an answer, a failure or an
 * abort): its body is then complete.
 */
bool
http_is_done(const HttpRequest *req)
{
	return req->easy == NULL;
}

/*
 * http_status_so_far returns req's HTTP status once its status line has
 * arrived, before the body is complete; 0 until then.
 */
long
http_status_so_far(HttpRequest *req)
{
	if (req->easy != NULL && req->status == 0)
		curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &req->status);
	return req->status;
}
