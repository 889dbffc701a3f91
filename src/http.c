/*-------------------------------------------------------------------------
 *
 * http.c
 *	  I/O multiplexing for the worker: libcurl's multi socket interface.
 *
 * Everything here runs inside curl callbacks or between waits; it uses
 * malloc only and reports problems in the transfer's error text, so no
 * ereport can longjmp through libcurl.
 *
 *-------------------------------------------------------------------------
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <curl/curl.h>

#include "http.h"

struct HttpTransfer
{
	CURL	   *easy;
	void	   *owner;
	struct curl_slist *headers;
	char	   *body;
	size_t		body_len;
	size_t		body_cap;
	long		max_bytes;
	bool		too_large;
	bool		blocked;
	bool		allow_private;
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
 * http_addr_is_private
 *		True for loopback, RFC 1918, CGNAT, link-local, unspecified,
 *		multicast and reserved IPv4 ranges, and their IPv6 counterparts
 *		(including IPv4-mapped addresses).
 */
bool
http_addr_is_private(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
	{
		const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
		uint32_t	a = ntohl(in->sin_addr.s_addr);
		uint8_t		b0 = a >> 24;
		uint8_t		b1 = (a >> 16) & 0xff;

		return b0 == 0 || b0 == 10 || b0 == 127 ||
			(b0 == 100 && (b1 & 0xc0) == 64) ||
			(b0 == 169 && b1 == 254) ||
			(b0 == 172 && (b1 & 0xf0) == 16) ||
			(b0 == 192 && b1 == 168) ||
			(b0 == 192 && b1 == 0 && ((a >> 8) & 0xff) == 0) ||
			(b0 == 198 && (b1 & 0xfe) == 18) ||
			b0 >= 224;
	}
	if (sa->sa_family == AF_INET6)
	{
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
		const uint8_t *b = in6->sin6_addr.s6_addr;
		static const uint8_t zero[16] = {0};

		if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1))
			return true;		/* :: and ::1 */
		if (memcmp(b, zero, 10) == 0 && b[10] == 0xff && b[11] == 0xff)
		{
			struct sockaddr_in v4;

			memset(&v4, 0, sizeof(v4));
			v4.sin_family = AF_INET;
			memcpy(&v4.sin_addr, b + 12, 4);
			return http_addr_is_private((struct sockaddr *) &v4);
		}
		return (b[0] & 0xfe) == 0xfc ||	/* unique local */
			(b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||	/* link-local */
			b[0] == 0xff;		/* multicast */
	}
	return true;
}

/*
 * open_socket_cb
 *		Refuse private destinations (checked on the resolved address, so
 *		DNS tricks and redirects cannot reach them).
 */
static curl_socket_t
open_socket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	HttpTransfer *t = clientp;

	if (!t->allow_private && http_addr_is_private(&address->addr))
	{
		char		host[INET6_ADDRSTRLEN] = "?";

		if (address->family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *) &address->addr)->sin_addr,
					  host, sizeof(host));
		else if (address->family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *) &address->addr)->sin6_addr,
					  host, sizeof(host));
		t->blocked = true;
		snprintf(t->blocked_addr, sizeof(t->blocked_addr), "%s", host);
		return CURL_SOCKET_BAD;
	}
	return socket(address->family, address->socktype, address->protocol);
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
 * socket_cb
 *		curl tells which sockets to watch for what.
 */
static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	HttpMulti  *m = userp;
	int			i;

	for (i = 0; i < m->nsocks; i++)
		if (m->socks[i].fd == (int) s)
			break;
	if (what == CURL_POLL_REMOVE)
	{
		if (i < m->nsocks)
			m->socks[i] = m->socks[--m->nsocks];
		return 0;
	}
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
	}
	m->socks[i].fd = (int) s;
	m->socks[i].what = (what == CURL_POLL_IN ? HTTP_EV_IN :
						what == CURL_POLL_OUT ? HTTP_EV_OUT :
						HTTP_EV_IN | HTTP_EV_OUT);
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
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
	curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 64L);
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
	curl_multi_cleanup(m->multi);
	free(m->socks);
	free(m);
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
	t->max_bytes = limits->max_response_bytes;
	t->allow_private = limits->allow_private;
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
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "flowdb/0.1");
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);

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
		resp->permanent = true;
		snprintf(resp->error, sizeof(resp->error),
				 "refused to connect to private address %s (set flowdb.allow_private_hosts to allow it)",
				 t->blocked_addr);
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
