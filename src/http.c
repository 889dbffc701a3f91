/*-------------------------------------------------------------------------
 *
 * http.c
 *	  I/O multiplexing for the worker: libcurl's multi socket interface.
 *
 * Everything here runs inside curl callbacks or between waits; it uses
 * malloc only and reports problems in the transfer's error text, so no
 * ereport can longjmp through libcurl.
 *
 * SSRF guard: open_socket_cb refuses a private destination before the
 * socket exists and prereq_cb checks the address of the connection, new or
 * kept alive, before every request (redirects included).  Connections are
 * cached per pool: one curl share handle (CURL_LOCK_DATA_CONNECT) per
 * effective policy, so a connection opened under one allow list is never
 * reused under another.  When flowdb.allow_private_hosts or the proxy
 * changes, every pool is retired: idle connections are closed at once,
 * busy pools when their last transfer ends.
 *
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
/* FLOWDB_NO_EPOLL: build the poll(2) fallback only (test_http_noepoll) */
#if defined(__linux__) && !defined(FLOWDB_NO_EPOLL)
#define HTTP_EPOLL 1
#include <sys/epoll.h>
#endif
#include <sys/time.h>
#include <curl/curl.h>

#include "http.h"

typedef struct HttpPool HttpPool;

/* connections shared by transfers with the same effective policy */
struct HttpPool
{
	HttpPool   *next;
	CURLSH	   *share;			/* holds the connection cache */
	NetGuardPolicy policy;		/* rules of the pool's services, names dropped */
	char		key[2048];		/* netguard_policy_text of policy */
	int			refs;			/* live transfers */
	bool		retired;		/* from an older policy: free when unused */
};

struct HttpTransfer
{
	CURL	   *easy;
	void	   *owner;
	HttpPool   *pool;
	bool		proxied;		/* through flowdb.http_proxy */
	struct curl_slist *headers;
	char	   *body;
	size_t		body_len;
	size_t		body_cap;
	long		max_bytes;
	bool		too_large;
	bool		blocked;
	char		blocked_addr[64];
	cJSON	   *resp_headers;
	double		retry_after;
	struct timeval started;
	char		errbuf[CURL_ERROR_SIZE];
	HttpTransfer *prev;			/* list of live transfers */
	HttpTransfer *next;
	CURLcode	result;			/* once done */
	HttpTransfer *next_done;	/* queue of completed transfers */
};

struct HttpMulti
{
	CURLM	   *multi;
	int			inflight;
	long		timeout_ms;		/* as last set by curl; -1 none */
	struct timeval timer_set;
	HttpSocket *socks;
	int			nsocks;
	int			capsocks;
	HttpTransfer *live;			/* transfers not yet popped */
	HttpTransfer *done_head;	/* completed, not yet popped */
	HttpTransfer *done_tail;
	HttpPool   *pools;
	char	   *epoch;			/* policy text, NUL, proxy: what the pools
								 * belong to */
	long		host_cap;		/* CURLMOPT_MAX_HOST_CONNECTIONS as set */
	int			epfd;			/* epoll set of socks, kept by socket_cb; -1:
								 * none (not Linux, or epoll_create failed) */
	bool		epoll_broken;	/* an epoll_ctl failed: poll every socket */
};

/*
 * now_tv
 *		Current time.
 */
static struct timeval
now_tv(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv;
}

/*
 * ms_between
 *		Milliseconds from a to b.
 */
static double
ms_between(struct timeval a, struct timeval b)
{
	return (b.tv_sec - a.tv_sec) * 1000.0 + (b.tv_usec - a.tv_usec) / 1000.0;
}

/*
 * block
 *		Record that the transfer was refused a private address.
 */
static void
block(HttpTransfer *t, const char *addr)
{
	t->blocked = true;
	snprintf(t->blocked_addr, sizeof(t->blocked_addr), "%s", addr ? addr : "?");
}

/*
 * open_socket_cb
 *		Refuse private destinations before connecting (checked on the
 *		resolved address, so DNS tricks and redirects cannot reach them).
 *		Through a proxy the socket goes to the proxy the superuser chose.
 */
static curl_socket_t
open_socket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	HttpTransfer *t = clientp;
	int			family = 0;
	uint8_t		addr[16] = {0};

	if (address->family == AF_INET)
	{
		family = 4;
		memcpy(addr, &((struct sockaddr_in *) &address->addr)->sin_addr, 4);
	}
	else if (address->family == AF_INET6)
	{
		family = 6;
		memcpy(addr, &((struct sockaddr_in6 *) &address->addr)->sin6_addr, 16);
	}
	if (!t->proxied && !netguard_allowed(&t->pool->policy, NULL, family, addr))
	{
		char		host[INET6_ADDRSTRLEN] = "?";

		if (family != 0)
			inet_ntop(address->family, addr, host, sizeof(host));
		block(t, host);
		return CURL_SOCKET_BAD;
	}
	return socket(address->family, address->socktype, address->protocol);
}

/*
 * url_host_blocked
 *		Through a proxy: is the host of the URL being requested a numeric
 *		address the policy refuses?  (The proxy resolves names; it must
 *		enforce its own egress rules for them.)
 */
static bool
url_host_blocked(HttpTransfer *t)
{
	char	   *url = NULL;
	char	   *host = NULL;
	CURLU	   *u;
	bool		refused = false;
	int			family;
	uint8_t		addr[16];

	if (curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &url) != CURLE_OK || url == NULL)
		return false;
	u = curl_url();
	if (u == NULL)
		return true;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
	{
		/* cannot tell where it goes: refuse */
		block(t, "(unparsable URL host)");
		refused = true;
	}
	else if (netguard_host_literal(host, &family, addr) &&
			 !netguard_allowed(&t->pool->policy, NULL, family, addr))
	{
		block(t, host);
		refused = true;
	}
	curl_free(host);
	curl_url_cleanup(u);
	return refused;
}

/*
 * prereq_cb
 *		Just before each request is sent, new connection or reused one:
 *		check the address it is connected to (libcurl >= 7.80).
 */
static int
prereq_cb(void *clientp, char *conn_primary_ip, char *conn_local_ip,
		  int conn_primary_port, int conn_local_port)
{
	HttpTransfer *t = clientp;

	if (t->proxied)
		return url_host_blocked(t) ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
	if (!netguard_allowed_text(&t->pool->policy, NULL, conn_primary_ip))
	{
		block(t, conn_primary_ip);
		return CURL_PREREQFUNC_ABORT;
	}
	return CURL_PREREQFUNC_OK;
}

/*
 * pool_free
 *		Unlink a pool and close its connections.
 */
static void
pool_free(HttpMulti *m, HttpPool *pool)
{
	HttpPool  **pp;

	for (pp = &m->pools; *pp; pp = &(*pp)->next)
	{
		if (*pp == pool)
		{
			*pp = pool->next;
			break;
		}
	}
	curl_share_cleanup(pool->share);
	free(pool);
}

/*
 * pools_retire
 *		A new policy: close idle pools, let busy ones finish and go.
 */
static void
pools_retire(HttpMulti *m)
{
	HttpPool   *pool = m->pools;

	while (pool)
	{
		HttpPool   *next = pool->next;

		pool->retired = true;
		if (pool->refs == 0)
			pool_free(m, pool);
		pool = next;
	}
}

/*
 * pool_release
 *		A transfer of the pool ended (after its easy handle is gone).
 */
static void
pool_release(HttpMulti *m, HttpPool *pool)
{
	if (--pool->refs == 0 && pool->retired)
		pool_free(m, pool);
}

/*
 * pool_for
 *		The pool of a request: same policy text and proxy as the current
 *		pools (else they are retired first) and the same rules for its
 *		service.  NULL on out of memory.
 */
static HttpPool *
pool_for(HttpMulti *m, const HttpLimits *limits)
{
	NetGuardPolicy sub;
	char		key[sizeof(((HttpPool *) 0)->key)];
	const char *ptext = limits->policy_text ? limits->policy_text : "";
	const char *proxy = limits->proxy ? limits->proxy : "";
	size_t		plen = strlen(ptext);
	HttpPool   *pool;

	/* epoch = policy text, NUL, proxy (neither setting can hold a NUL) */
	if (m->epoch == NULL || strcmp(m->epoch, ptext) != 0 ||
		strcmp(m->epoch + plen + 1, proxy) != 0)
	{
		char	   *e = malloc(plen + strlen(proxy) + 2);

		if (e == NULL)
			return NULL;
		memcpy(e, ptext, plen + 1);
		strcpy(e + plen + 1, proxy);
		pools_retire(m);
		free(m->epoch);
		m->epoch = e;
	}

	if (limits->policy)
		netguard_for_service(limits->policy, limits->service, &sub);
	else
		memset(&sub, 0, sizeof(sub));
	netguard_policy_text(&sub, key, sizeof(key));
	for (pool = m->pools; pool; pool = pool->next)
		if (!pool->retired && strcmp(pool->key, key) == 0)
			return pool;

	pool = calloc(1, sizeof(HttpPool));
	if (pool == NULL)
		return NULL;
	pool->share = curl_share_init();
	if (pool->share == NULL ||
		curl_share_setopt(pool->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK)
	{
		if (pool->share)
			curl_share_cleanup(pool->share);
		free(pool);
		return NULL;
	}
	pool->policy = sub;
	memcpy(pool->key, key, sizeof(key));
	pool->next = m->pools;
	m->pools = pool;
	return pool;
}

/*
 * write_cb
 *		Append body bytes, stopping the transfer past the size cap.
 */
static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	HttpTransfer *t = userdata;
	size_t		n = size * nmemb;

	if (t->body_len + n > (size_t) t->max_bytes)
	{
		t->too_large = true;
		return 0;
	}
	if (t->body_len + n + 1 > t->body_cap)
	{
		size_t		ncap = t->body_cap ? t->body_cap : 4096;
		char	   *nb;

		while (ncap < t->body_len + n + 1)
			ncap *= 2;
		nb = realloc(t->body, ncap);
		if (nb == NULL)
			return 0;
		t->body = nb;
		t->body_cap = ncap;
	}
	memcpy(t->body + t->body_len, ptr, n);
	t->body_len += n;
	t->body[t->body_len] = '\0';
	return n;
}

/*
 * parse_retry_after
 *		Retry-After as seconds (delta or HTTP date), -1 when unusable.
 */
static double
parse_retry_after(const char *v)
{
	char	   *end;
	double		d = strtod(v, &end);

	if (end != v && *end == '\0' && d >= 0)
		return d;
	{
		time_t		when = curl_getdate(v, NULL);

		if (when > 0)
		{
			double		delta = difftime(when, time(NULL));

			return delta > 0 ? delta : 0;
		}
	}
	return -1;
}

/*
 * header_cb
 *		Collect response headers (lower-case names) of the final response.
 */
static size_t
header_cb(char *buffer, size_t size, size_t nitems, void *userdata)
{
	HttpTransfer *t = userdata;
	size_t		n = size * nitems;
	char		name[128];
	size_t		i = 0;
	size_t		vstart;
	size_t		vend;
	char	   *value;

	if (n >= 5 && strncmp(buffer, "HTTP/", 5) == 0)
	{
		/* a new response (redirect, 100 Continue): start over */
		cJSON_Delete(t->resp_headers);
		t->resp_headers = cJSON_CreateObject();
		t->retry_after = -1;
		return n;
	}
	while (i < n && i < sizeof(name) - 1 && buffer[i] != ':')
	{
		name[i] = (char) tolower((unsigned char) buffer[i]);
		i++;
	}
	if (i >= n || buffer[i] != ':' || i == 0)
		return n;
	name[i] = '\0';
	vstart = i + 1;
	while (vstart < n && (buffer[vstart] == ' ' || buffer[vstart] == '\t'))
		vstart++;
	vend = n;
	while (vend > vstart && (buffer[vend - 1] == '\r' || buffer[vend - 1] == '\n' ||
							 buffer[vend - 1] == ' '))
		vend--;
	value = malloc(vend - vstart + 1);
	if (value == NULL)
		return 0;
	memcpy(value, buffer + vstart, vend - vstart);
	value[vend - vstart] = '\0';
	if (t->resp_headers == NULL)
		t->resp_headers = cJSON_CreateObject();
	if (cJSON_HasObjectItem(t->resp_headers, name))
		cJSON_DeleteItemFromObjectCaseSensitive(t->resp_headers, name);
	cJSON_AddStringToObject(t->resp_headers, name, value);
	if (strcmp(name, "retry-after") == 0)
		t->retry_after = parse_retry_after(value);
	free(value);
	return n;
}

/*
 * epoll_watch
 *		Keep the epoll set in step with curl's wishes for socket s: events
 *		(HTTP_EV_*) to watch, 0 to forget it; added says it is new.  A
 *		failure falls back to the other operation (a socket curl reopened
 *		on a recycled number, or one the kernel dropped when it closed);
 *		what still fails is left to the next http_poll, which asks curl
 *		about every socket when the set is unusable.
 */
static void
epoll_watch(HttpMulti *m, int s, int events, bool added)
{
#ifdef HTTP_EPOLL
	struct epoll_event ee;

	if (m->epfd < 0)
		return;
	memset(&ee, 0, sizeof(ee));
	ee.data.fd = s;
	ee.events = ((events & HTTP_EV_IN) ? EPOLLIN : 0) |
		((events & HTTP_EV_OUT) ? EPOLLOUT : 0);
	if (events == 0)
		(void) epoll_ctl(m->epfd, EPOLL_CTL_DEL, s, NULL);
	else if (added)
	{
		if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, s, &ee) != 0 &&
			epoll_ctl(m->epfd, EPOLL_CTL_MOD, s, &ee) != 0)
			m->epoll_broken = true;
	}
	else if (epoll_ctl(m->epfd, EPOLL_CTL_MOD, s, &ee) != 0 &&
			 epoll_ctl(m->epfd, EPOLL_CTL_ADD, s, &ee) != 0)
		m->epoll_broken = true;
#endif
}

/*
 * socket_cb
 *		curl tells which sockets to watch for what.
 */
static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	HttpMulti  *m = userp;
	int			i;
	int			ev;

	for (i = 0; i < m->nsocks; i++)
		if (m->socks[i].fd == (int) s)
			break;
	if (what == CURL_POLL_REMOVE)
	{
		if (i < m->nsocks)
		{
			m->socks[i] = m->socks[--m->nsocks];
			epoll_watch(m, (int) s, 0, false);
		}
		return 0;
	}
	ev = (what == CURL_POLL_IN ? HTTP_EV_IN :
		  what == CURL_POLL_OUT ? HTTP_EV_OUT :
		  HTTP_EV_IN | HTTP_EV_OUT);
	if (i == m->nsocks)
	{
		if (m->nsocks == m->capsocks)
		{
			int			ncap = m->capsocks ? m->capsocks * 2 : 16;
			HttpSocket *ns = realloc(m->socks, sizeof(HttpSocket) * ncap);

			if (ns == NULL)
				return -1;
			m->socks = ns;
			m->capsocks = ncap;
		}
		m->nsocks++;
		epoll_watch(m, (int) s, ev, true);
	}
	else if (m->socks[i].what != ev)
		epoll_watch(m, (int) s, ev, false);
	m->socks[i].fd = (int) s;
	m->socks[i].what = ev;
	return 0;
}

/*
 * timer_cb
 *		curl asks to be called after timeout_ms (-1 = cancel the timer).
 */
static void collect_done(HttpMulti *m);

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	HttpMulti  *m = userp;

	m->timeout_ms = timeout_ms;
	m->timer_set = now_tv();
	return 0;
}

/*
 * http_multi_create
 *		A multi handle with socket and timer callbacks.
 */
HttpMulti *
http_multi_create(void)
{
	HttpMulti  *m = calloc(1, sizeof(HttpMulti));

	if (m == NULL)
		return NULL;
	m->multi = curl_multi_init();
	if (m->multi == NULL)
	{
		free(m);
		return NULL;
	}
	m->timeout_ms = -1;
#ifdef HTTP_EPOLL
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
#else
	m->epfd = -1;
#endif
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
	/* HTTP/2 where the server offers it: requests share its connections */
	curl_multi_setopt(m->multi, CURLMOPT_PIPELINING, (long) CURLPIPE_MULTIPLEX);
	/* no per-host cap until a request's limits set one (libcurl: 0 = none) */
	curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
	m->host_cap = 0;
	return m;
}

/*
 * transfer_free
 *		Release a transfer's curl handle and buffers.
 */
static void
transfer_free(HttpMulti *m, HttpTransfer *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else if (m->live == t)
		m->live = t->next;
	if (t->next)
		t->next->prev = t->prev;
	if (t->easy)
	{
		curl_multi_remove_handle(m->multi, t->easy);
		curl_easy_cleanup(t->easy);
	}
	if (t->pool)
		pool_release(m, t->pool);
	curl_slist_free_all(t->headers);
	free(t->body);
	cJSON_Delete(t->resp_headers);
	free(t);
}

/*
 * http_multi_destroy
 *		Cancel everything and free the multi handle.
 */
void
http_multi_destroy(HttpMulti *m)
{
	if (m == NULL)
		return;
	while (m->live)
		transfer_free(m, m->live);
	while (m->pools)
		pool_free(m, m->pools);
	free(m->epoch);
	curl_multi_cleanup(m->multi);
	if (m->epfd >= 0)
		close(m->epfd);
	free(m->socks);
	free(m);
}

/*
 * host_cap_set
 *		flowdb.max_host_connections (reloadable).  libcurl checks the cap
 *		only when it opens a connection, so a lower cap retires the pools:
 *		their idle connections close now, busy ones once their transfers
 *		end, and new transfers open connections under the new cap.
 */
static void
host_cap_set(HttpMulti *m, long cap)
{
	if (cap < 0)
		cap = 0;
	if (cap == m->host_cap)
		return;
	if (cap > 0 && (m->host_cap == 0 || cap < m->host_cap))
		pools_retire(m);
	curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, cap);
	m->host_cap = cap;
}

/*
 * http_start
 *		Add a request to the multi handle.
 */
HttpTransfer *
http_start(HttpMulti *m, const HttpRequest *req, const HttpLimits *limits,
		   void *owner, char *err, size_t errlen)
{
	HttpTransfer *t = calloc(1, sizeof(HttpTransfer));
	CURL	   *e;
	long		timeout = req->timeout_ms > 0 ? req->timeout_ms : limits->default_timeout_ms;

	if (t == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e = curl_easy_init();
	if (e == NULL)
	{
		free(t);
		snprintf(err, errlen, "could not create a curl handle");
		return NULL;
	}
	t->easy = e;
	t->owner = owner;
	host_cap_set(m, limits->max_host_connections);
	t->pool = pool_for(m, limits);
	if (t->pool == NULL)
	{
		curl_easy_cleanup(e);
		free(t);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->pool->refs++;
	t->proxied = limits->proxy != NULL && limits->proxy[0] != '\0';
	t->max_bytes = limits->max_response_bytes;
	t->retry_after = -1;
	t->resp_headers = cJSON_CreateObject();
	t->started = now_tv();

	for (int i = 0; i < req->nheaders; i++)
		t->headers = curl_slist_append(t->headers, req->headers[i]);
	t->headers = curl_slist_append(t->headers, "Expect:");

	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, limits->max_redirects > 0 ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, limits->max_redirects);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout < 10000 ? timeout : 10000L);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) limits->max_response_bytes);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
	curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, prereq_cb);
	curl_easy_setopt(e, CURLOPT_PREREQDATA, t);
	curl_easy_setopt(e, CURLOPT_SHARE, t->pool->share);
	/* "" disables http_proxy/https_proxy/all_proxy from the environment */
	curl_easy_setopt(e, CURLOPT_PROXY, t->proxied ? limits->proxy : "");
	curl_easy_setopt(e, CURLOPT_NOPROXY, "");
	/* a private CA's bundle in place of libcurl's (a reused connection
	 * must have been verified with the same one: libcurl compares them) */
	if (limits->ca_file != NULL && limits->ca_file[0] != '\0')
		curl_easy_setopt(e, CURLOPT_CAINFO, limits->ca_file);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "flowdb/0.1");
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	/*
	 * HTTP/2 over TLS when the server offers it (ALPN), HTTP/1.1 otherwise.
	 * Over https, wait for a connection being opened to the host rather
	 * than open another: its TLS handshake tells whether requests can share
	 * it.  Not over plain http: curl would learn that only from the first
	 * response, and requests to a slow server would go one at a time.
	 */
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
	if (strncasecmp(req->url, "https://", 8) == 0)
		curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);

	if (strcmp(req->method, "GET") == 0)
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	else if (strcmp(req->method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else
	{
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
		if (req->body || strcmp(req->method, "POST") == 0)
		{
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
			curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
		}
	}

	if (curl_multi_add_handle(m->multi, e) != CURLM_OK)
	{
		snprintf(err, errlen, "could not start the request");
		transfer_free(m, t);
		return NULL;
	}
	t->next = m->live;
	if (m->live)
		m->live->prev = t;
	m->live = t;
	m->inflight++;
	return t;
}

/*
 * http_cancel
 *		Drop a transfer that is still in flight.
 */
void
http_cancel(HttpMulti *m, HttpTransfer *t)
{
	transfer_free(m, t);
	m->inflight--;
}

/*
 * http_sockets
 *		The sockets to watch.
 */
int
http_sockets(HttpMulti *m, HttpSocket **socks)
{
	*socks = m->socks;
	return m->nsocks;
}

/*
 * http_timeout
 *		Remaining time on curl's timer.
 */
long
http_timeout(HttpMulti *m)
{
	double		left;

	if (m->timeout_ms < 0)
		return -1;
	left = m->timeout_ms - ms_between(m->timer_set, now_tv());
	return left <= 0 ? 0 : (long) left + 1;
}

/*
 * http_socket_action
 *		Let curl make progress on a socket or on its timer.
 */
void
http_socket_action(HttpMulti *m, int fd, int events)
{
	int			running;
	int			mask = 0;

	if (fd < 0)
	{
		m->timeout_ms = -1;
		curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	else
	{
		if (events & HTTP_EV_IN)
			mask |= CURL_CSELECT_IN;
		if (events & HTTP_EV_OUT)
			mask |= CURL_CSELECT_OUT;
		curl_multi_socket_action(m->multi, (curl_socket_t) fd, mask, &running);
	}
	collect_done(m);
}

#define lengthof_evs(a) ((int) (sizeof(a) / sizeof((a)[0])))

/*
 * ready_events
 *		HTTP_EV_* of a ready socket: readable (errors and hang-ups too, for
 *		curl to read them and find out) and writable.
 */
static int
ready_events(bool in, bool out)
{
	return (in ? HTTP_EV_IN : 0) | (out ? HTTP_EV_OUT : 0);
}

/*
 * http_wait_fd
 *		A descriptor that is readable while any of curl's sockets is ready
 *		(the epoll set socket_cb keeps), for the worker to wait on beside
 *		its latch without rebuilding a wait set of every socket at each
 *		wait (256 sockets in flight cost about 1 ms of epoll_ctl calls per
 *		wait); then http_poll drives curl on the ready ones.  -1 when there
 *		is none: wait on http_sockets.
 */
int
http_wait_fd(HttpMulti *m)
{
	return m->epoll_broken ? -1 : m->epfd;
}

/*
 * poll_sockets
 *		http_poll without an epoll set: one poll(2) of a copy of the
 *		socket list (curl changes the list while it is driven).
 */
static void
poll_sockets(HttpMulti *m)
{
	int			n = m->nsocks;
	struct pollfd *fds;
	int			ready;

	if (n <= 0 || (fds = malloc(sizeof(struct pollfd) * (size_t) n)) == NULL)
		return;
	for (int i = 0; i < n; i++)
	{
		fds[i].fd = m->socks[i].fd;
		fds[i].events = ((m->socks[i].what & HTTP_EV_IN) ? POLLIN : 0) |
			((m->socks[i].what & HTTP_EV_OUT) ? POLLOUT : 0);
		fds[i].revents = 0;
	}
	ready = poll(fds, (nfds_t) n, 0);
	for (int i = 0; ready > 0 && i < n; i++)
	{
		if (fds[i].revents == 0)
			continue;
		http_socket_action(m, fds[i].fd, ready_events(fds[i].revents & (POLLIN | POLLERR | POLLHUP),
													 fds[i].revents & POLLOUT));
		ready--;
	}
	free(fds);
}

/*
 * http_poll
 *		Drive curl on whatever is ready now, without waiting, then on its
 *		timer if that expired: after a wait on http_wait_fd, and between
 *		the worker's long steps (a commit, a claim), so that answers that
 *		came in meanwhile free their slots at once.
 */
void
http_poll(HttpMulti *m)
{
#ifdef HTTP_EPOLL
	if (http_wait_fd(m) >= 0)
	{
		struct epoll_event evs[256];
		int			n = epoll_wait(m->epfd, evs, lengthof_evs(evs), 0);

		for (int i = 0; i < n; i++)
			http_socket_action(m, evs[i].data.fd,
							   ready_events(evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP),
											evs[i].events & EPOLLOUT));
	}
	else
		poll_sockets(m);
#else
	poll_sockets(m);
#endif
	if (http_timeout(m) == 0)
		http_socket_action(m, -1, 0);
}

/*
 * http_has_done
 *		Are completed transfers waiting to be popped?  (Then the caller
 *		must not sleep: nothing will wake it for them.)
 */
bool
http_has_done(HttpMulti *m)
{
	return m->done_head != NULL;
}

/*
 * collect_done
 *		Move transfers curl reports as finished to our done queue, so that
 *		whoever drove curl last, the worker sees them before it sleeps.
 */
static void
collect_done(HttpMulti *m)
{
	CURLMsg    *msg;
	int			left;

	while ((msg = curl_multi_info_read(m->multi, &left)) != NULL)
	{
		HttpTransfer *t = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &t);
		if (t == NULL)
			continue;
		t->result = msg->data.result;
		t->next_done = NULL;
		if (m->done_tail)
			m->done_tail->next_done = t;
		else
			m->done_head = t;
		m->done_tail = t;
	}
}

/*
 * http_next_done
 *		Pop one completed transfer into *resp; returns its owner.
 */
void *
http_next_done(HttpMulti *m, HttpResponse *resp)
{
	HttpTransfer *t;
	void	   *owner;
	long		status = 0;

	collect_done(m);
	t = m->done_head;
	if (t == NULL)
		return NULL;
	m->done_head = t->next_done;
	if (m->done_head == NULL)
		m->done_tail = NULL;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	if (t->result == CURLE_OK)
	{
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
		resp->status = status;
		resp->retry_after = t->retry_after;
	}
	else if (t->blocked)
	{
		bool		v6 = strchr(t->blocked_addr, ':') != NULL;

		resp->permanent = true;
		snprintf(resp->error, sizeof(resp->error),
				 "refused to connect to private address %.45s (to allow it: ALTER SYSTEM SET flowdb.allow_private_hosts = '<service>:%s%.45s%s'; SELECT pg_reload_conf())",
				 t->blocked_addr, v6 ? "[" : "", t->blocked_addr, v6 ? "]" : "");
	}
	else if (t->too_large || t->result == CURLE_FILESIZE_EXCEEDED)
	{
		resp->permanent = true;
		snprintf(resp->error, sizeof(resp->error),
				 "response larger than %ld bytes", t->max_bytes);
	}
	else
	{
		resp->timed_out = (t->result == CURLE_OPERATION_TIMEDOUT);
		snprintf(resp->error, sizeof(resp->error), "%s",
				 t->errbuf[0] ? t->errbuf : curl_easy_strerror(t->result));
	}
	resp->headers = t->resp_headers;
	t->resp_headers = NULL;
	resp->body = t->body ? t->body : calloc(1, 1);
	resp->body_len = t->body_len;
	t->body = NULL;
	resp->elapsed_ms = ms_between(t->started, now_tv());
	owner = t->owner;
	transfer_free(m, t);
	m->inflight--;
	return owner;
}

/*
 * http_inflight
 *		Transfers started and not yet popped.
 */
int
http_inflight(HttpMulti *m)
{
	return m->inflight;
}
