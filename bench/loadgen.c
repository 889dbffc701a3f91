/*
 * loadgen.c: closed-loop HTTP/1.1 keep-alive load client (self-test of
 * fastserver).  C connections, each sends one POST with a small JSON body,
 * waits for the whole response, sends the next; for S seconds.
 *
 * Usage: loadgen HOST PORT CONNS SECONDS [PATH]
 * A PATH ending in '/' gets a sequence number appended (unique paths).
 * Prints: "loadgen: <n> requests in <s> s = <r> req/s, errors <e>,
 * latency min/mean/max <a>/<b>/<c> ms" (request sent to response read).
 * Against fastserver's /d/<ms>/ (a delayed answer) the rate is at most
 * CONNS / <ms> and every latency should be just above <ms>: a server that
 * served the delayed requests one after the other would show far less.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct
{
	int			fd;
	char		buf[8192];
	size_t		len;
	double		sent;			/* when the outstanding request was sent */
} LConn;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char req[1024];
static size_t reqlen;
static const char *g_host, *g_path;
static int	g_port;
static int	g_seq;				/* append a sequence number to the path */
static unsigned long long seqno = 0;
static const char *g_body = "{\"bench\":true,\"n\":1}";

static void
build_req(void)
{
	char		path[512];

	if (g_seq)
		snprintf(path, sizeof(path), "%s%llu", g_path, ++seqno);
	else
		snprintf(path, sizeof(path), "%s", g_path);
	reqlen = (size_t) snprintf(req, sizeof(req),
							   "POST %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: loadgen\r\n"
							   "Accept: */*\r\nContent-Type: application/json\r\n"
							   "Content-Length: %zu\r\n\r\n%s",
							   path, g_host, g_port, strlen(g_body), g_body);
}

static int
send_req(LConn *c)
{
	size_t		off = 0;

	if (g_seq || reqlen == 0)
		build_req();
	while (off < reqlen)
	{
		ssize_t		w = write(c->fd, req + off, reqlen - off);

		if (w < 0)
		{
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		off += (size_t) w;
	}
	c->sent = now_s();
	return 0;
}

/* length of one complete response at buf, or 0 when incomplete */
static size_t
complete(const char *buf, size_t len)
{
	const char *h = memmem(buf, len, "\r\n\r\n", 4);
	const char *cl;
	size_t		body;

	if (h == NULL)
		return 0;
	cl = memmem(buf, (size_t) (h - buf), "Content-Length:", 15);
	body = cl ? (size_t) strtoul(cl + 15, NULL, 10) : 0;
	if ((size_t) (h + 4 - buf) + body > len)
		return 0;
	return (size_t) (h + 4 - buf) + body;
}

int
main(int argc, char **argv)
{
	const char *host;
	int			port, nconn;
	double		secs, t0, t1;
	const char *path = "/load";
	struct sockaddr_in sa;
	int			epfd;
	LConn	   *conns;
	unsigned long long done = 0, errors = 0;
	double		lat_min = 0, lat_max = 0, lat_sum = 0;
	struct epoll_event evs[256];

	if (argc < 5)
	{
		fprintf(stderr, "usage: %s HOST PORT CONNS SECONDS [PATH]\n", argv[0]);
		return 2;
	}
	host = argv[1];
	port = atoi(argv[2]);
	nconn = atoi(argv[3]);
	secs = atof(argv[4]);
	if (argc > 5)
		path = argv[5];
	g_host = host;
	g_port = port;
	g_path = path;
	g_seq = path[strlen(path) - 1] == '/';

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t) port);
	inet_pton(AF_INET, host, &sa.sin_addr);
	epfd = epoll_create1(0);
	conns = calloc((size_t) nconn, sizeof(LConn));
	for (int i = 0; i < nconn; i++)
	{
		int			one = 1;
		struct epoll_event ev = {.events = EPOLLIN};

		conns[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(conns[i].fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
		{
			perror("connect");
			return 1;
		}
		setsockopt(conns[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		ev.data.ptr = &conns[i];
		epoll_ctl(epfd, EPOLL_CTL_ADD, conns[i].fd, &ev);
	}
	t0 = now_s();
	for (int i = 0; i < nconn; i++)
		send_req(&conns[i]);
	while ((t1 = now_s()) - t0 < secs)
	{
		int			n = epoll_wait(epfd, evs, 256, 100);

		for (int i = 0; i < n; i++)
		{
			LConn	   *c = evs[i].data.ptr;
			ssize_t		r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
			size_t		k;

			if (r <= 0)
			{
				if (r < 0 && errno == EINTR)
					continue;
				errors++;
				epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
				continue;
			}
			c->len += (size_t) r;
			while ((k = complete(c->buf, c->len)) > 0)
			{
				double		lat = now_s() - c->sent;

				if (strncmp(c->buf, "HTTP/1.1 200", 12) != 0)
					errors++;
				if (done == 0 || lat < lat_min)
					lat_min = lat;
				if (lat > lat_max)
					lat_max = lat;
				lat_sum += lat;
				done++;
				memmove(c->buf, c->buf + k, c->len - k);
				c->len -= k;
				if (send_req(c) < 0)
					errors++;
			}
		}
	}
	printf("loadgen: %llu requests in %.2f s = %.0f req/s, errors %llu, "
		   "latency min/mean/max %.2f/%.2f/%.2f ms\n",
		   done, t1 - t0, done / (t1 - t0), errors,
		   lat_min * 1e3, done ? lat_sum / done * 1e3 : 0.0, lat_max * 1e3);
	return errors ? 1 : 0;
}
