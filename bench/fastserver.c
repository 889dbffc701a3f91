/*
 * fastserver.c: a small, fast HTTP/1.1 server for the flowdb benchmarks.
 *
 * One thread, epoll, non-blocking sockets, keep-alive and pipelining.
 * Every request gets "200 OK" with a small JSON body at once, except:
 *   /d/<ms>/...        answered <ms> milliseconds (0 - 600000) after the
 *                      request was read (a slow API).  The connection waits
 *                      (a later pipelined request on it is answered after
 *                      this one); other connections are served meanwhile:
 *                      pending answers sit in a min-heap of due times and
 *                      the epoll_wait timeout is the earliest of them, so
 *                      an answer leaves at most ~1 ms late.
 *
 * Requests whose path starts with /t/ are recorded: arrival time
 * (CLOCK_REALTIME, ns, taken when the complete request has been read) and
 * path.  Control paths (not recorded):
 *   GET /_wait/<path>  answers {"ns": <arrival>} as soon as <path> (e.g.
 *                      /t/<run id>) has arrived (at once when it already did)
 *   GET /_count        {"recorded": n, "requests": total}
 *   GET /_dump         writes the records to the dump file, {"dumped": n}
 *   GET /_reset        forgets the records
 * SIGTERM/SIGINT: dump the records and exit.  Dump format: one line per
 * record, "<ns> <path>".
 *
 * Usage: fastserver [-a 127.0.0.1] [-p port|0] [-P portfile] [-o dumpfile]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS	256
#define MAX_REQ		(4 * 1024 * 1024)	/* largest request we accept */
#define PATH_MAX_LEN 200

typedef struct Conn
{
	int			fd;
	char	   *in;
	size_t		inlen;
	size_t		incap;
	char	   *out;
	size_t		outlen;
	size_t		outoff;
	size_t		outcap;
	int			close_after;	/* close once out is flushed */
	int			waiting;		/* has a pending /_wait */
	int			delayed;		/* has a pending /d/<ms>/ answer */
	int64_t		due_ns;			/* when (CLOCK_MONOTONIC) */
	size_t		heap_idx;		/* its slot in the timer heap */
	uint64_t	delayed_n;		/* request number of the pending answer */
	int			dead;			/* to be closed after this epoll batch */
	struct Conn *next_dead;
	char		waitpath[PATH_MAX_LEN + 1];
	struct Conn *next_waiter;
} Conn;

typedef struct Record
{
	int64_t		ns;
	char		path[PATH_MAX_LEN + 1];
} Record;

static volatile sig_atomic_t stop = 0;
static int	epfd;
static Record *recs = NULL;
static size_t nrecs = 0;
static size_t caprecs = 0;
static uint64_t nrequests = 0;
static const char *dumpfile = NULL;
static Conn *waiters = NULL;
static Conn *deadlist = NULL;

/* pending delayed answers: min-heap of connections by due_ns */
static Conn **theap = NULL;
static size_t ntheap = 0;
static size_t captheap = 0;

/* open-addressing hash: path -> record index + 1 (0 = empty) */
static size_t *htab = NULL;
static size_t hcap = 0;

static int64_t lookup(const char *path);

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
theap_set(size_t i, Conn *c)
{
	theap[i] = c;
	c->heap_idx = i;
}

static void
theap_up(size_t i)
{
	Conn	   *c = theap[i];

	while (i > 0 && theap[(i - 1) / 2]->due_ns > c->due_ns)
	{
		theap_set(i, theap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	theap_set(i, c);
}

static void
theap_down(size_t i)
{
	Conn	   *c = theap[i];

	for (;;)
	{
		size_t		k = 2 * i + 1;

		if (k >= ntheap)
			break;
		if (k + 1 < ntheap && theap[k + 1]->due_ns < theap[k]->due_ns)
			k++;
		if (theap[k]->due_ns >= c->due_ns)
			break;
		theap_set(i, theap[k]);
		i = k;
	}
	theap_set(i, c);
}

static void
theap_push(Conn *c)
{
	if (ntheap == captheap)
	{
		size_t		ncap = captheap ? captheap * 2 : 1024;
		Conn	  **n = realloc(theap, ncap * sizeof(Conn *));

		if (n == NULL)
		{
			perror("realloc");
			exit(1);
		}
		theap = n;
		captheap = ncap;
	}
	theap_set(ntheap++, c);
	theap_up(ntheap - 1);
}

static void
theap_remove(Conn *c)
{
	size_t		i = c->heap_idx;

	ntheap--;
	if (i < ntheap)
	{
		theap_set(i, theap[ntheap]);
		theap_up(i);
		theap_down(theap[i]->heap_idx);
	}
}

/* epoll_wait timeout: ms until the earliest delayed answer is due, or -1 */
static int
theap_timeout(void)
{
	int64_t		left;

	if (ntheap == 0)
		return -1;
	left = theap[0]->due_ns - mono_ns();
	if (left <= 0)
		return 0;
	return (int) ((left + 999999) / 1000000);	/* round up: never early */
}

static uint64_t
hash_str(const char *s)
{
	uint64_t	h = 1469598103934665603ULL;

	while (*s)
	{
		h ^= (unsigned char) *s++;
		h *= 1099511628211ULL;
	}
	return h;
}

static void
htab_insert(size_t idx)
{
	size_t		i = hash_str(recs[idx].path) & (hcap - 1);

	while (htab[i] != 0)
		i = (i + 1) & (hcap - 1);
	htab[i] = idx + 1;
}

static void
htab_grow(void)
{
	size_t		ncap = hcap ? hcap * 2 : 1 << 16;

	free(htab);
	htab = calloc(ncap, sizeof(size_t));
	if (htab == NULL)
	{
		perror("calloc");
		exit(1);
	}
	hcap = ncap;
	for (size_t i = 0; i < nrecs; i++)
		if (lookup(recs[i].path) < 0)
			htab_insert(i);
}

/* first arrival of path, or -1 */
static int64_t
lookup(const char *path)
{
	size_t		i;

	if (hcap == 0)
		return -1;
	i = hash_str(path) & (hcap - 1);
	while (htab[i] != 0)
	{
		if (strcmp(recs[htab[i] - 1].path, path) == 0)
			return recs[htab[i] - 1].ns;
		i = (i + 1) & (hcap - 1);
	}
	return -1;
}

static void
record(int64_t ns, const char *path, size_t len)
{
	if (nrecs == caprecs)
	{
		size_t		ncap = caprecs ? caprecs * 2 : 65536;
		Record	   *n = realloc(recs, ncap * sizeof(Record));

		if (n == NULL)
		{
			perror("realloc");
			exit(1);
		}
		recs = n;
		caprecs = ncap;
	}
	if (len > PATH_MAX_LEN)
		len = PATH_MAX_LEN;
	recs[nrecs].ns = ns;
	memcpy(recs[nrecs].path, path, len);
	recs[nrecs].path[len] = '\0';
	if (lookup(recs[nrecs].path) >= 0)
	{
		nrecs++;				/* a repeat: the index keeps the first */
		return;
	}
	nrecs++;
	if (nrecs * 2 > hcap)
		htab_grow();
	else
		htab_insert(nrecs - 1);
}

static size_t
dump(void)
{
	FILE	   *f;

	if (dumpfile == NULL)
		return 0;
	f = fopen(dumpfile, "w");
	if (f == NULL)
	{
		perror(dumpfile);
		return 0;
	}
	for (size_t i = 0; i < nrecs; i++)
		fprintf(f, "%lld %s\n", (long long) recs[i].ns, recs[i].path);
	fclose(f);
	return nrecs;
}

static void
on_signal(int sig)
{
	(void) sig;
	stop = 1;
}

static void
set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void
conn_close(Conn *c)
{
	if (c->waiting)
	{
		Conn	  **pp = &waiters;

		while (*pp && *pp != c)
			pp = &(*pp)->next_waiter;
		if (*pp)
			*pp = c->next_waiter;
	}
	if (c->delayed)
		theap_remove(c);
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static void
out_append(Conn *c, const char *data, size_t len)
{
	if (c->outlen + len > c->outcap)
	{
		size_t		ncap = c->outcap ? c->outcap : 4096;

		while (ncap < c->outlen + len)
			ncap *= 2;
		c->out = realloc(c->out, ncap);
		if (c->out == NULL)
		{
			perror("realloc");
			exit(1);
		}
		c->outcap = ncap;
	}
	memcpy(c->out + c->outlen, data, len);
	c->outlen += len;
}

static void
respond_status(Conn *c, const char *status, const char *body)
{
	char		hdr[256];
	size_t		blen = strlen(body);
	int			n;

	n = snprintf(hdr, sizeof(hdr),
				 "HTTP/1.1 %s\r\n"
				 "Content-Type: application/json\r\n"
				 "Content-Length: %zu\r\n"
				 "%s"
				 "\r\n",
				 status, blen, c->close_after ? "Connection: close\r\n" : "");
	out_append(c, hdr, (size_t) n);
	out_append(c, body, blen);
}

static void
respond(Conn *c, const char *body)
{
	respond_status(c, "200 OK", body);
}

/* write what we can; 0 = ok, -1 = connection is gone */
static int
flush_out(Conn *c)
{
	while (c->outoff < c->outlen)
	{
		ssize_t		w = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);

		if (w < 0)
		{
			if (errno == EAGAIN || errno == EWOULDBLOCK)
			{
				struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};

				epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
				return 0;
			}
			if (errno == EINTR)
				continue;
			return -1;
		}
		c->outoff += (size_t) w;
	}
	c->outoff = c->outlen = 0;
	if (c->close_after && !c->waiting && !c->delayed)
		return -1;
	return 0;
}

static void
answer_wait(Conn *c, int64_t ns)
{
	char		body[64];

	snprintf(body, sizeof(body), "{\"ns\":%lld}", (long long) ns);
	c->waiting = 0;
	respond(c, body);
}

/* find a header value (case-insensitive name) in [hdrs, end) */
static const char *
find_header(const char *hdrs, const char *end, const char *name, size_t *vlen)
{
	size_t		nlen = strlen(name);
	const char *p = hdrs;

	while (p < end)
	{
		const char *eol = memmem(p, (size_t) (end - p), "\r\n", 2);

		if (eol == NULL)
			eol = end;
		if ((size_t) (eol - p) > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0)
		{
			const char *v = p + nlen + 1;

			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*vlen = (size_t) (eol - v);
			return v;
		}
		p = eol + 2;
	}
	return NULL;
}

/*
 * handle_requests: parse and answer every complete request in c->in.
 * Returns -1 when the connection must be closed.
 */
static int
handle_requests(Conn *c)
{
	size_t		off = 0;

	while (!c->waiting && !c->delayed)
	{
		char	   *start = c->in + off;
		size_t		avail = c->inlen - off;
		char	   *hend = memmem(start, avail, "\r\n\r\n", 4);
		char	   *sp1, *sp2, *line_end;
		const char *v;
		size_t		vlen;
		size_t		body_len = 0;
		size_t		total;
		int64_t		ns;
		char		path[PATH_MAX_LEN + 1];
		size_t		plen;
		int			http10;

		if (hend == NULL)
		{
			if (avail > MAX_REQ)
				return -1;
			break;
		}
		line_end = memmem(start, (size_t) (hend - start) + 2, "\r\n", 2);
		sp1 = memchr(start, ' ', (size_t) (line_end - start));
		if (sp1 == NULL)
			return -1;
		sp2 = memchr(sp1 + 1, ' ', (size_t) (line_end - sp1 - 1));
		if (sp2 == NULL)
			return -1;
		http10 = (line_end - sp2 - 1 == 8 && memcmp(sp2 + 1, "HTTP/1.0", 8) == 0);
		v = find_header(line_end + 2, hend + 2, "Content-Length", &vlen);
		if (v)
			body_len = (size_t) strtoull(v, NULL, 10);
		if (find_header(line_end + 2, hend + 2, "Transfer-Encoding", &vlen))
			return -1;			/* chunked bodies: not supported */
		total = (size_t) (hend + 4 - start) + body_len;
		if (total > MAX_REQ)
			return -1;
		if (avail < total)
			break;				/* body not complete yet */

		ns = now_ns();
		nrequests++;
		plen = (size_t) (sp2 - sp1 - 1);
		if (plen > PATH_MAX_LEN)
			plen = PATH_MAX_LEN;
		memcpy(path, sp1 + 1, plen);
		path[plen] = '\0';

		v = find_header(line_end + 2, hend + 2, "Connection", &vlen);
		if (v && vlen >= 5 && strncasecmp(v, "close", 5) == 0)
			c->close_after = 1;
		else if (http10 && !(v && vlen >= 10 && strncasecmp(v, "keep-alive", 10) == 0))
			c->close_after = 1;

		if (strncmp(path, "/t/", 3) == 0)
		{
			char		body[96];
			Conn	  **pp = &waiters;

			record(ns, path, plen);
			snprintf(body, sizeof(body), "{\"ok\":true,\"n\":%llu}",
					 (unsigned long long) nrequests);
			respond(c, body);
			/* wake whoever waits for this path */
			while (*pp)
			{
				Conn	   *w = *pp;

				if (strcmp(w->waitpath, path) == 0)
				{
					*pp = w->next_waiter;
					answer_wait(w, ns);
					if (flush_out(w) < 0 && !w->dead)
					{
						/* closed after this epoll batch: it may be in it */
						w->dead = 1;
						w->next_dead = deadlist;
						deadlist = w;
					}
				}
				else
					pp = &w->next_waiter;
			}
		}
		else if (strncmp(path, "/d/", 3) == 0 && path[3] >= '0' && path[3] <= '9')
		{
			char	   *end;
			long		dms = strtol(path + 3, &end, 10);

			if ((*end != '/' && *end != '\0' && *end != '?') || dms > 600000)
				respond_status(c, "400 Bad Request", "{\"error\":\"/d/<ms>/: ms is 0 - 600000\"}");
			else
			{
				/* answered by fire_timers; the loop stops at c->delayed */
				c->delayed = 1;
				c->delayed_n = nrequests;
				c->due_ns = mono_ns() + (int64_t) dms * 1000000LL;
				theap_push(c);
			}
		}
		else if (strncmp(path, "/_wait/", 7) == 0)
		{
			int64_t		at = lookup(path + 6);

			if (at >= 0)
				answer_wait(c, at);
			else
			{
				c->waiting = 1;
				snprintf(c->waitpath, sizeof(c->waitpath), "%s", path + 6);
				c->next_waiter = waiters;
				waiters = c;
			}
		}
		else if (strcmp(path, "/_count") == 0)
		{
			char		body[96];

			snprintf(body, sizeof(body), "{\"recorded\":%zu,\"requests\":%llu}",
					 nrecs, (unsigned long long) nrequests);
			respond(c, body);
		}
		else if (strcmp(path, "/_dump") == 0)
		{
			char		body[64];

			snprintf(body, sizeof(body), "{\"dumped\":%zu}", dump());
			respond(c, body);
		}
		else if (strcmp(path, "/_reset") == 0)
		{
			nrecs = 0;
			if (htab)
				memset(htab, 0, hcap * sizeof(size_t));
			respond(c, "{\"reset\":true}");
		}
		else
		{
			char		body[96];

			snprintf(body, sizeof(body), "{\"ok\":true,\"n\":%llu}",
					 (unsigned long long) nrequests);
			respond(c, body);
		}
		off += total;
		if (c->close_after)
			break;
	}
	if (off > 0)
	{
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
	}
	return flush_out(c);
}

static void
on_readable(Conn *c)
{
	for (;;)
	{
		ssize_t		r;

		if (c->incap - c->inlen < 4096)
		{
			size_t		ncap = c->incap ? c->incap * 2 : 16384;

			c->in = realloc(c->in, ncap);
			if (c->in == NULL)
			{
				perror("realloc");
				exit(1);
			}
			c->incap = ncap;
		}
		r = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
		if (r > 0)
		{
			c->inlen += (size_t) r;
			if ((size_t) r < c->incap - c->inlen + (size_t) r)
				break;			/* short read: drained */
			continue;
		}
		if (r == 0)
		{
			conn_close(c);
			return;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		if (errno == EINTR)
			continue;
		conn_close(c);
		return;
	}
	if (handle_requests(c) < 0)
		conn_close(c);
}

/* answer the delayed requests that are due, then what is queued behind them */
static void
fire_timers(void)
{
	int64_t		now = mono_ns();

	while (ntheap > 0 && theap[0]->due_ns <= now)
	{
		Conn	   *c = theap[0];
		char		body[96];

		theap_remove(c);
		c->delayed = 0;
		snprintf(body, sizeof(body), "{\"ok\":true,\"n\":%llu}",
				 (unsigned long long) c->delayed_n);
		respond(c, body);
		/* Connection: close answers nothing after this request */
		if ((c->close_after ? flush_out(c) : handle_requests(c)) < 0)
			conn_close(c);
	}
}

int
main(int argc, char **argv)
{
	const char *addr = "127.0.0.1";
	int			port = 0;
	const char *portfile = NULL;
	int			lfd;
	int			one = 1;
	struct sockaddr_in sa;
	socklen_t	slen = sizeof(sa);
	struct epoll_event ev;
	struct epoll_event events[MAX_EVENTS];
	struct sigaction act;
	int			opt;

	while ((opt = getopt(argc, argv, "a:p:P:o:")) != -1)
	{
		switch (opt)
		{
			case 'a':
				addr = optarg;
				break;
			case 'p':
				port = atoi(optarg);
				break;
			case 'P':
				portfile = optarg;
				break;
			case 'o':
				dumpfile = optarg;
				break;
			default:
				fprintf(stderr, "usage: %s [-a addr] [-p port] [-P portfile] [-o dumpfile]\n", argv[0]);
				return 2;
		}
	}

	memset(&act, 0, sizeof(act));
	act.sa_handler = on_signal;	/* no SA_RESTART: epoll_wait returns EINTR */
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	signal(SIGPIPE, SIG_IGN);

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t) port);
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
	{
		fprintf(stderr, "bad address %s\n", addr);
		return 2;
	}
	if (bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0)
	{
		perror("bind/listen");
		return 1;
	}
	getsockname(lfd, (struct sockaddr *) &sa, &slen);
	port = ntohs(sa.sin_port);
	if (portfile)
	{
		char		tmp[4096];
		FILE	   *f;

		snprintf(tmp, sizeof(tmp), "%s.tmp", portfile);
		f = fopen(tmp, "w");
		if (f == NULL)
		{
			perror(tmp);
			return 1;
		}
		fprintf(f, "%d\n", port);
		fclose(f);
		rename(tmp, portfile);
	}
	printf("fastserver listening on %s:%d\n", addr, port);
	fflush(stdout);
	set_nonblock(lfd);

	epfd = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;			/* NULL = the listener */
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);

	while (!stop)
	{
		int			n = epoll_wait(epfd, events, MAX_EVENTS, theap_timeout());

		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			perror("epoll_wait");
			break;
		}
		for (int i = 0; i < n; i++)
		{
			Conn	   *c = events[i].data.ptr;

			if (c != NULL && c->dead)
				continue;
			if (c == NULL)
			{
				for (;;)
				{
					int			fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);

					if (fd < 0)
						break;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					c = calloc(1, sizeof(Conn));
					c->fd = fd;
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			if (events[i].events & EPOLLOUT)
			{
				if (flush_out(c) < 0)
				{
					conn_close(c);
					continue;
				}
				if (c->outlen == 0)
				{
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
				}
			}
			if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				on_readable(c);
		}
		while (deadlist)
		{
			Conn	   *d = deadlist;

			deadlist = d->next_dead;
			conn_close(d);
		}
		fire_timers();
	}
	fprintf(stderr, "fastserver: %llu requests, %zu recorded, dumped %zu\n",
			(unsigned long long) nrequests, nrecs, dump());
	return 0;
}
