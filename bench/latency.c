/*
 * latency.c: flowdb pickup latency against the bare commit latency.
 *
 * One run at a time, on one libpq connection; bound and flowdb samples are
 * interleaved so that both see the same machine:
 *
 *   bound sample:  BEGIN; INSERT INTO bench.commit_probe (blueprint, payload)
 *                  VALUES (<same blueprint>, <same payload>);
 *                  t0; COMMIT; t1                      -> commit = t1 - t0
 *   flowdb sample: BEGIN; SELECT flow_execute(<1-step blueprint whose url
 *                  is http://HOST:PORT/t/{{run.id}}>, <payload>);
 *                  t0; COMMIT; t1
 *                  GET /_wait/t/<run id> from fastserver -> arrival
 *                  (CLOCK_REALTIME ns when the request arrived there)
 *                  then wait for the run to finish (NOTIFY
 *                  flowdb_run_finished, polling flowdb.runs as a fallback)
 *                  so the next sample starts on an idle worker.
 * t0 is taken just before COMMIT is sent, t1 just after it returns; all
 * times are CLOCK_REALTIME on the same machine.
 *
 * Usage: latency CONNINFO SRVHOST SRVPORT SAMPLES RAWFILE
 * (LATENCY_DEBUG=1 prints, per sample, how long after the request the run
 * finished: a step whose completion is noticed late shows here.)
 * Prints "key p50 p90 p99 max mean n" lines in microseconds:
 *   bound_commit, flowdb_commit, pickup_from_t0, pickup_from_t1
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

static PGconn *conn;
static int	srv = -1;
static const char *srv_host;
static int	srv_port;

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
die(const char *what)
{
	fprintf(stderr, "latency: %s: %s\n", what, conn ? PQerrorMessage(conn) : strerror(errno));
	exit(1);
}

static void
exec_ok(const char *sql)
{
	PGresult   *r = PQexec(conn, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "latency: %s: %s", sql, PQerrorMessage(conn));
		exit(1);
	}
	PQclear(r);
}

static void
srv_connect(void)
{
	struct sockaddr_in sa;
	int			one = 1;
	struct timeval tv = {.tv_sec = 30};

	if (srv >= 0)
		close(srv);
	srv = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t) srv_port);
	inet_pton(AF_INET, srv_host, &sa.sin_addr);
	if (connect(srv, (struct sockaddr *) &sa, sizeof(sa)) < 0)
		die("connect to fastserver");
	setsockopt(srv, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(srv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* GET /_wait<path>: arrival ns of path, or -1 on timeout/error */
static int64_t
srv_wait(const char *path)
{
	char		req[512];
	char		buf[4096];
	size_t		len = 0;
	int			n = snprintf(req, sizeof(req),
							 "GET /_wait%s HTTP/1.1\r\nHost: %s\r\n\r\n", path, srv_host);

	if (write(srv, req, (size_t) n) != n)
		return -1;
	for (;;)
	{
		ssize_t		r = read(srv, buf + len, sizeof(buf) - 1 - len);
		char	   *h, *cl, *ns;

		if (r <= 0)
		{
			srv_connect();		/* timed out: the connection is unusable */
			return -1;
		}
		len += (size_t) r;
		buf[len] = '\0';
		h = strstr(buf, "\r\n\r\n");
		if (h == NULL)
			continue;
		cl = strstr(buf, "Content-Length:");
		if (cl == NULL || (size_t) (h + 4 - buf) + strtoul(cl + 15, NULL, 10) > len)
			continue;
		ns = strstr(h, "\"ns\":");
		return ns ? strtoll(ns + 5, NULL, 10) : -1;
	}
}

/* wait until the run is finished: NOTIFY, else poll */
static void
wait_finished(const char *run_id)
{
	int64_t		deadline = now_ns() + 2000000000LL;
	const char *params[1] = {run_id};

	while (now_ns() < deadline)
	{
		PGnotify   *nt;
		struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};

		if (!PQconsumeInput(conn))
			die("PQconsumeInput");
		while ((nt = PQnotifies(conn)) != NULL)
		{
			int			hit = strncmp(nt->extra, run_id, strlen(run_id)) == 0;

			PQfreemem(nt);
			if (hit)
				return;
		}
		poll(&pfd, 1, 100);
	}
	/* fallback: poll the table */
	for (int i = 0; i < 3000; i++)
	{
		PGresult   *r = PQexecParams(conn,
									 "SELECT status IN ('succeeded','failed','canceled') FROM flowdb.runs WHERE id = $1",
									 1, NULL, params, NULL, NULL, 0);
		int			done = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
			PQgetvalue(r, 0, 0)[0] == 't';

		PQclear(r);
		if (done)
			return;
		usleep(10000);
	}
	fprintf(stderr, "latency: run %s did not finish\n", run_id);
}

static int
cmp_dbl(const void *a, const void *b)
{
	double		x = *(const double *) a, y = *(const double *) b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *sorted, int n, double q)
{
	int			k = (int) ceil(q * n) - 1;

	if (k < 0)
		k = 0;
	if (k >= n)
		k = n - 1;
	return sorted[k];
}

static void
report(const char *key, double *v, int n)
{
	double		sum = 0;

	if (n == 0)
	{
		printf("%s nan nan nan nan nan 0\n", key);
		return;
	}
	qsort(v, (size_t) n, sizeof(double), cmp_dbl);
	for (int i = 0; i < n; i++)
		sum += v[i];
	printf("%s %.1f %.1f %.1f %.1f %.1f %d\n", key, pct(v, n, 0.5), pct(v, n, 0.9),
		   pct(v, n, 0.99), v[n - 1], sum / n, n);
}

int
main(int argc, char **argv)
{
	const char *conninfo;
	int			samples;
	const char *rawfile;
	FILE	   *raw;
	char		bp[1024];
	const char *payload = "{\"bench\": \"latency\"}";
	double	   *bound, *fcommit, *p0, *p1;
	int			nb = 0, nf = 0, lost = 0;
	const int	warmup = 20;

	if (argc < 6)
	{
		fprintf(stderr, "usage: %s CONNINFO SRVHOST SRVPORT SAMPLES RAWFILE\n", argv[0]);
		return 2;
	}
	conninfo = argv[1];
	srv_host = argv[2];
	srv_port = atoi(argv[3]);
	samples = atoi(argv[4]);
	rawfile = argv[5];

	snprintf(bp, sizeof(bp),
			 "{\"version\": 1, \"name\": \"bench-latency\", \"trigger\": {\"type\": \"manual\"}, "
			 "\"nodes\": [{\"id\": \"a\", \"type\": \"action\", \"service\": \"http\", "
			 "\"task\": \"request\", \"params\": {\"method\": \"POST\", "
			 "\"url\": \"http://%s:%d/t/{{run.id}}\", \"body\": {\"probe\": true}}}], "
			 "\"edges\": []}", srv_host, srv_port);

	conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK)
		die("connect");
	srv_connect();
	exec_ok("LISTEN flowdb_run_finished");

	bound = calloc((size_t) samples, sizeof(double));
	fcommit = calloc((size_t) samples, sizeof(double));
	p0 = calloc((size_t) samples, sizeof(double));
	p1 = calloc((size_t) samples, sizeof(double));
	raw = fopen(rawfile, "w");
	if (raw == NULL)
		die(rawfile);
	fprintf(raw, "i,bound_commit_us,flowdb_commit_us,arrival_minus_t0_us,arrival_minus_t1_us\n");

	for (int i = -warmup; i < samples; i++)
	{
		const char *params[2] = {bp, payload};
		PGresult   *r;
		int64_t		t0, t1, arr;
		char		run_id[64];
		char		path[128];
		double		b, fc;

		/* bound: bare commit of an equivalent insert */
		exec_ok("BEGIN");
		r = PQexecParams(conn,
						 "INSERT INTO bench.commit_probe (blueprint, payload) VALUES ($1::jsonb, $2::jsonb)",
						 2, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			die("probe insert");
		PQclear(r);
		t0 = now_ns();
		r = PQexec(conn, "COMMIT");
		t1 = now_ns();
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			die("COMMIT");
		PQclear(r);
		b = (t1 - t0) / 1000.0;

		/* flowdb: queue one run, commit, wait for its request */
		exec_ok("BEGIN");
		r = PQexecParams(conn, "SELECT flow_execute($1::jsonb, $2::jsonb)",
						 2, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
			die("flow_execute");
		snprintf(run_id, sizeof(run_id), "%s", PQgetvalue(r, 0, 0));
		PQclear(r);
		t0 = now_ns();
		r = PQexec(conn, "COMMIT");
		t1 = now_ns();
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			die("COMMIT");
		PQclear(r);
		fc = (t1 - t0) / 1000.0;
		snprintf(path, sizeof(path), "/t/%s", run_id);
		arr = srv_wait(path);
		if (arr < 0)
		{
			fprintf(stderr, "latency: no request for run %s within 30 s\n", run_id);
			lost++;
			continue;
		}
		{
			int64_t		w0 = now_ns();

			wait_finished(run_id);
			if (getenv("LATENCY_DEBUG"))
				fprintf(stderr, "sample %d: finished %.1f ms after arrival (wait %.1f ms)\n", i,
						(now_ns() - arr) / 1e6, (now_ns() - w0) / 1e6);
		}
		if (i < 0)
			continue;
		bound[nb++] = b;
		fcommit[nf] = fc;
		p0[nf] = (arr - t0) / 1000.0;
		p1[nf] = (arr - t1) / 1000.0;
		fprintf(raw, "%d,%.1f,%.1f,%.1f,%.1f\n", i, b, fc, p0[nf], p1[nf]);
		nf++;
	}
	fclose(raw);
	report("bound_commit", bound, nb);
	report("flowdb_commit", fcommit, nf);
	report("pickup_from_t0", p0, nf);
	report("pickup_from_t1", p1, nf);
	printf("lost %d\n", lost);
	PQfinish(conn);
	return lost ? 1 : 0;
}
