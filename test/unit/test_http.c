/*
 * test_http.c: src/http.c's connection pools and SSRF checks against an
 * in-process HTTP server on 127.0.0.1 (loopback only, a free port).
 *
 * The server accepts connections and answers every request with 200 "ok",
 * keeping the connection open, and counts the connections and requests it
 * got, so the tests see whether curl reused a kept-alive connection.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <curl/curl.h>

#include "unit.h"
#include "http.h"

#define MAX_CLIENTS 8

static int	srv_fd = -1;
static int	srv_port;
static int	clients[MAX_CLIENTS];
static int	nclients;
static int	srv_connections;
static int	srv_requests;
/* how fetch drives curl */
static enum
{
	DRIVE_SOCKETS,				/* poll(2) of curl's sockets, then each one */
	DRIVE_WAIT_FD,				/* as the worker: http_wait_fd, then http_poll */
	DRIVE_HTTP_POLL				/* http_poll finds the ready sockets itself */
}			drive = DRIVE_SOCKETS;

/*
 * server_start
 *		Listen on 127.0.0.1, port chosen by the kernel.
 */
static void
server_start(void)
{
	struct sockaddr_in a;
	socklen_t	len = sizeof(a);

	srv_fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(srv_fd, (struct sockaddr *) &a, sizeof(a)) != 0 || listen(srv_fd, 8) != 0)
	{
		perror("test server");
		exit(1);
	}
	getsockname(srv_fd, (struct sockaddr *) &a, &len);
	srv_port = ntohs(a.sin_port);
}

/*
 * server_step
 *		Accept a connection or answer the requests that arrived.
 */
static void
server_step(struct pollfd *p, int n)
{
	for (int i = 0; i < n; i++)
	{
		char		buf[4096];
		ssize_t		r;

		if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (p[i].fd == srv_fd)
		{
			int			c = accept(srv_fd, NULL, NULL);

			if (c >= 0 && nclients < MAX_CLIENTS)
			{
				clients[nclients++] = c;
				srv_connections++;
			}
			else if (c >= 0)
				close(c);
			continue;
		}
		r = read(p[i].fd, buf, sizeof(buf) - 1);
		if (r <= 0)
		{
			for (int k = 0; k < nclients; k++)
				if (clients[k] == p[i].fd)
					clients[k] = clients[--nclients];
			close(p[i].fd);
			continue;
		}
		buf[r] = '\0';
		/* one small GET per read is all these tests send */
		if (strstr(buf, "\r\n\r\n"))
		{
			static const char resp[] =
				"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";

			srv_requests++;
			if (write(p[i].fd, resp, sizeof(resp) - 1) < 0)
				perror("test server write");
		}
	}
}

/*
 * fetch
 *		One GET of url for service under policy text spec; drives curl and
 *		the server until it completes.  Returns the status (0 = transport
 *		error, text in err).
 */
static long
fetch(HttpMulti *m, const char *service, const char *spec, const char *url,
	  char *err, size_t errlen)
{
	HttpRequest req;
	HttpResponse resp;
	HttpLimits lim;
	NetGuardPolicy pol;
	char		perr[128];
	int			owner = 1;
	long		status;

	CHECK(netguard_parse_policy(spec, &pol, perr, sizeof(perr)));
	memset(&lim, 0, sizeof(lim));
	lim.default_timeout_ms = 5000;
	lim.max_response_bytes = 65536;
	lim.policy = &pol;
	lim.policy_text = spec;
	lim.service = service;
	lim.proxy = "";
	http_request_init(&req, "GET");
	req.url = strdup(url);
	if (http_start(m, &req, &lim, &owner, err, errlen) == NULL)
	{
		http_request_free(&req);
		return -1;
	}
	http_socket_action(m, -1, 0);
	while (!http_has_done(m))
	{
		struct pollfd p[2 * MAX_CLIENTS + 2];
		HttpSocket *socks;
		int			ns = http_sockets(m, &socks);
		int			n = 0;
		long		to = http_timeout(m);

		p[n].fd = srv_fd;
		p[n++].events = POLLIN;
		for (int i = 0; i < nclients; i++)
		{
			p[n].fd = clients[i];
			p[n++].events = POLLIN;
		}
		if (drive == DRIVE_WAIT_FD)
		{
			/* as the worker waits: on the one descriptor, then http_poll */
			p[n].fd = http_wait_fd(m);
			p[n++].events = POLLIN;
			ns = 0;
		}
		for (int i = 0; i < ns && n < (int) (sizeof(p) / sizeof(p[0])); i++)
		{
			p[n].fd = socks[i].fd;
			p[n++].events = ((socks[i].what & HTTP_EV_IN) ? POLLIN : 0) |
				((socks[i].what & HTTP_EV_OUT) ? POLLOUT : 0);
		}
		if (poll(p, n, to < 0 || to > 100 ? 100 : (int) to) == 0)
		{
			http_socket_action(m, -1, 0);
			continue;
		}
		server_step(p, 1 + nclients);
		if (drive != DRIVE_SOCKETS)
		{
			http_poll(m);
			continue;
		}
		for (int i = 1 + nclients; i < n; i++)
		{
			int			ev = ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) ? HTTP_EV_IN : 0) |
				((p[i].revents & POLLOUT) ? HTTP_EV_OUT : 0);

			if (ev)
				http_socket_action(m, p[i].fd, ev);
		}
		if (to == 0)
			http_socket_action(m, -1, 0);
	}
	CHECK(http_next_done(m, &resp) == &owner);
	status = resp.status;
	snprintf(err, errlen, "%s", resp.error);
	http_response_free(&resp);
	http_request_free(&req);
	return status;
}

TEST(keep_alive_and_policy_change)
{
	HttpMulti  *m = http_multi_create();
	char		url[128];
	char		err[256];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/a", srv_port);
	CHECK_INT(fetch(m, "http", "on", url, err, sizeof(err)), 200);
	CHECK_INT(fetch(m, "http", "on", url, err, sizeof(err)), 200);
	CHECK_INT(srv_connections, 1);	/* the connection was kept alive */
	CHECK_INT(srv_requests, 2);

	/* policy off: refused, nothing reaches the server */
	CHECK_INT(fetch(m, "http", "off", url, err, sizeof(err)), 0);
	CHECK_CONTAINS(err, "refused to connect to private address 127.0.0.1");
	CHECK_INT(srv_requests, 2);

	/* every spelling of loopback */
	snprintf(url, sizeof(url), "http://127.1:%d/b", srv_port);
	CHECK_INT(fetch(m, "http", "off", url, err, sizeof(err)), 0);
	CHECK_CONTAINS(err, "private address");
	snprintf(url, sizeof(url), "http://2130706433:%d/c", srv_port);
	CHECK_INT(fetch(m, "http", "off", url, err, sizeof(err)), 0);
	CHECK_CONTAINS(err, "private address");
	snprintf(url, sizeof(url), "http://[::ffff:127.0.0.1]:%d/d", srv_port);
	CHECK_INT(fetch(m, "http", "off", url, err, sizeof(err)), 0);
	CHECK_CONTAINS(err, "private address");
	CHECK_INT(srv_requests, 2);
	http_multi_destroy(m);
}

TEST(pools_per_service)
{
	HttpMulti  *m = http_multi_create();
	const char *spec = "http:127.0.0.1, llm:127.0.0.0/8";
	char		url[128];
	char		err[256];
	int			conns = srv_connections;
	int			reqs = srv_requests;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/e", srv_port);
	CHECK_INT(fetch(m, "http", spec, url, err, sizeof(err)), 200);
	/* slack has no rule: refused although http's connection is open */
	CHECK_INT(fetch(m, "slack", spec, url, err, sizeof(err)), 0);
	CHECK_CONTAINS(err, "private address");
	CHECK_INT(srv_requests, reqs + 1);
	/* llm is allowed too, but with other rules: its own connection */
	CHECK_INT(fetch(m, "llm", spec, url, err, sizeof(err)), 200);
	CHECK_INT(srv_connections, conns + 2);
	/* http again: its kept-alive connection */
	CHECK_INT(fetch(m, "http", spec, url, err, sizeof(err)), 200);
	CHECK_INT(srv_connections, conns + 2);
	CHECK_INT(srv_requests, reqs + 3);
	http_multi_destroy(m);
}

/*
 * readable_now
 *		Is fd readable at once?
 */
static bool
readable_now(int fd)
{
	struct pollfd p = {.fd = fd,.events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

/*
 * fetch_twice_kept_alive
 *		Two GETs of /<tag>1 and /<tag>2, curl driven as drive says: both
 *		200, over one new connection kept alive between them.
 */
static void
fetch_twice_kept_alive(HttpMulti *m, const char *tag)
{
	char		url[128];
	char		err[256];
	int			conns = srv_connections;
	int			reqs = srv_requests;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s1", srv_port, tag);
	CHECK_INT(fetch(m, "http", "on", url, err, sizeof(err)), 200);
	/* the kept-alive connection is idle: curl stopped watching it */
	if (drive == DRIVE_WAIT_FD)
		CHECK(!readable_now(http_wait_fd(m)));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s2", srv_port, tag);
	CHECK_INT(fetch(m, "http", "on", url, err, sizeof(err)), 200);
	/* the second request went over the same connection */
	CHECK_INT(srv_connections, conns + 1);
	CHECK_INT(srv_requests, reqs + 2);
}

#ifndef FLOWDB_NO_EPOLL

TEST(wait_fd_follows_curl_sockets)
{
	HttpMulti  *m = http_multi_create();
	char		url[128];
	char		err[256];

	/* Linux: the epoll set socket_cb keeps */
	CHECK(http_wait_fd(m) >= 0);
	/* nothing watched yet: not ready, and polling drives nothing */
	CHECK(!readable_now(http_wait_fd(m)));
	http_poll(m);
	CHECK(!http_has_done(m));

	drive = DRIVE_WAIT_FD;
	fetch_twice_kept_alive(m, "w");
	/* a refused request never opens a socket to watch */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/w3", srv_port);
	CHECK_INT(fetch(m, "http", "off", url, err, sizeof(err)), 0);
	CHECK_CONTAINS(err, "private address");
	CHECK(!readable_now(http_wait_fd(m)));
	drive = DRIVE_SOCKETS;
	http_multi_destroy(m);
}
#else

TEST(poll_fallback_drives_curl)
{
	HttpMulti  *m = http_multi_create();

	/* built without epoll: no descriptor, the worker waits on the sockets */
	CHECK_INT(http_wait_fd(m), -1);
	http_poll(m);
	CHECK(!http_has_done(m));

	/* http_poll's poll(2) of the socket list alone drives the transfers */
	drive = DRIVE_HTTP_POLL;
	fetch_twice_kept_alive(m, "p");
	drive = DRIVE_SOCKETS;
	http_multi_destroy(m);
}
#endif

int
main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	server_start();
	RUN(keep_alive_and_policy_change);
	RUN(pools_per_service);
#ifndef FLOWDB_NO_EPOLL
	RUN(wait_fd_follows_curl_sockets);
#else
	RUN(poll_fallback_drives_curl);
#endif
	for (int i = 0; i < nclients; i++)
		close(clients[i]);
	close(srv_fd);
	curl_global_cleanup();
	return UNIT_SUMMARY();
}
