/*-------------------------------------------------------------------------
 *
 * http.h
 *	  Many HTTP requests at once with one curl multi handle (socket API).
 *
 * No PostgreSQL headers: the worker owns the wait loop and hands ready
 * sockets and timer expiries to http_socket_action().  Callbacks never
 * ereport, never palloc; bodies are capped, redirects limited, only
 * http/https allowed, proxy environment variables ignored, and
 * connections to private, loopback and link-local addresses refused unless
 * the policy (netguard.h) allows them for the request's service.  The
 * address is checked when a socket is opened and again before every
 * request on the connection, so a kept-alive connection is checked too;
 * connections are pooled per effective policy and never shared across a
 * policy change or between services with different allow lists.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_HTTP_H
#define FLOWDB_HTTP_H

#include "catalog.h"
#include "netguard.h"

typedef struct HttpLimits
{
	long		default_timeout_ms;
	long		max_response_bytes;
	long		max_redirects;
	const NetGuardPolicy *policy;	/* private addresses allowed (copied) */
	const char *policy_text;	/* the setting's text: a change retires the
								 * connection pools */
	const char *service;		/* service of the request (policy rules) */
	const char *proxy;			/* "" or NULL = no proxy at all */
	const char *ca_file;		/* "" or NULL = libcurl's CA bundle */
	long		max_host_connections;	/* per host and port; 0 = no cap */
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

/* A descriptor readable while a socket of curl is ready, or -1 (then wait
 * on http_sockets). */
extern int	http_wait_fd(HttpMulti *m);

/* Drive curl on the sockets ready now and an expired timer (no wait). */
extern void http_poll(HttpMulti *m);

/* A completed transfer, or NULL.  The caller takes *resp (free with
 * http_response_free) and gets the owner back; the transfer is freed. */
extern void *http_next_done(HttpMulti *m, HttpResponse *resp);

/* Completed transfers waiting for http_next_done? */
extern bool http_has_done(HttpMulti *m);

/* Requests in flight. */
extern int	http_inflight(HttpMulti *m);

#endif							/* FLOWDB_HTTP_H */
