/*-------------------------------------------------------------------------
 *
 * client.h
 *		The calling backend's synchronous client of the API (client.c),
 *		for the SQL functions that ask it directly (read.c, control.c,
 *		stream.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef AGENTPHONE_CLIENT_H
#define AGENTPHONE_CLIENT_H

#include "fmgr.h"

#include "http.h"

/* The largest JSON answer a function takes. */
#define MAX_JSON_BYTES (8 * 1024 * 1024)

extern void client_require_key(void);
extern void client_begin(void);
extern char *client_check_id(const char *argname, text *t);
extern char *client_reachable_call_id(text *t);
extern HttpRequest *client_wait_for(HttpRequest *req);
extern void client_fail(HttpRequest *req, const char *what) pg_attribute_noreturn();
extern HttpRequest *client_request(const char *url, const char *json, bool auth, size_t max_bytes, const char *what);
extern Datum client_body_jsonb(HttpRequest *req);
extern Datum client_time_datum(const char *s, bool *isnull);

#endif							/* AGENTPHONE_CLIENT_H */
