/*-------------------------------------------------------------------------
 *
 * http.h
 *	  Many HTTP requests at once with one curl multi handle (socket API).
 *
 * No PostgreSQL headers: the worker owns the wait loop and hands ready
 * sockets and timer expiries to http_socket_action().  Callbacks never
 * ereport, never palloc; bodies are capped, redirects limited, only
 * http/https allowed, and connections to private, loopback and link-local
 * addresses are refused unless allowed.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_HTTP_H
#define FLOWDB_HTTP_H

#include "catalog.h"

typedef struct HttpLimits
{
	long		default_timeout_ms;
	long		max_response_bytes;
	long		max_redirects;
	bool		allow_private;
} HttpLimits;

typedef struct HttpTransfer HttpTransfer;
typedef struct HttpMulti HttpMulti;

/* events for http_socket_action */
#define HTTP_EV_IN	1
#define HTTP_EV_OUT 2

typedef struct HttpSocket
{
	int			fd;
	int			what;			/* HTTP_EV_IN | HTTP_EV_OUT */
} HttpSocket;

extern HttpMulti *http_multi_create(void);
extern void http_multi_destroy(HttpMulti *m);

/* Start a request; owner is handed back when it completes.  NULL with err
 * if curl refused the request. */
extern HttpTransfer *http_start(HttpMulti *m, const HttpRequest *req,
								const HttpLimits *limits, void *owner,
								char *err, size_t errlen);

/* Cancel and free a transfer that has not completed. */
extern void http_cancel(HttpMulti *m, HttpTransfer *t);

/* Sockets curl wants watched (valid until the next http_* call). */
extern int	http_sockets(HttpMulti *m, HttpSocket **socks);

/* Milliseconds until curl's timer fires (-1 = no timer). */
extern long http_timeout(HttpMulti *m);

/* Drive curl: fd ready (fd >= 0, events HTTP_EV_*) or timer (fd = -1). */
extern void http_socket_action(HttpMulti *m, int fd, int events);

/* A completed transfer, or NULL.  The caller takes *resp (free with
 * http_response_free) and gets the owner back; the transfer is freed. */
extern void *http_next_done(HttpMulti *m, HttpResponse *resp);

/* Completed transfers waiting for http_next_done? */
extern bool http_has_done(HttpMulti *m);

/* Requests in flight. */
extern int	http_inflight(HttpMulti *m);

/* Is this IPv4/IPv6 address private, loopback, link-local or otherwise
 * not public?  (exposed for unit tests) */
struct sockaddr;
extern bool http_addr_is_private(const struct sockaddr *sa);

#endif							/* FLOWDB_HTTP_H */
