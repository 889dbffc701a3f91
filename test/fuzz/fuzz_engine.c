/*-------------------------------------------------------------------------
 *
 * fuzz_engine.c
 *	  libFuzzer target for engine.c, the run state machine.
 *
 * Input, two forms:
 *	 "{...blueprint JSON...}\0<event bytes>"
 *		 the blueprint as given (the payload is a fixed object);
 *	 anything not starting with '{':
 *		 a blueprint and payload generated from the leading bytes (up to
 *		 8 nodes of every type, random DAG edges with conditions, else
 *		 edges and failure edges, a payload whose "when" string is raw input bytes used by
 *		 delay nodes as "until": "{{trigger_data.when}}" and whose "items"
 *		 (0 to 6) map nodes go over), then event bytes.
 *
 * Only blueprints that pass bp_validate are run (flowdb never runs any
 * other).  The event bytes drive up to 200 steps, each one of: advance,
 * an in-flight action succeeds / fails (retryable, with or without
 * Retry-After, or not), a multi-phase action moves to its next phase, an
 * event resumes a waiting wait_event (as flowdb.resume_node does), time
 * passes, the state is committed and reloaded by another worker (with
 * engine_recover; a running map's lists go to flowdb.map_parts and come
 * back from its rows, as in the worker: map_parts.h), or a failed run is
 * retried (as flow_retry does).  When
 * the bytes run out, the run is settled (all requests succeed, time jumps
 * to the next due) for the remaining steps.
 *
 * Invariants (abort on violation): only pending/retrying action nodes are
 * dispatched, once each, with 1 <= attempt <= max_attempts; nothing is
 * dispatched by a failing run; run status is one of the five and agrees
 * with the nodes (succeeded = every node succeeded, skipped or failed
 * with a failure edge, failed =
 * an error and nothing in flight); after an advance a "running" run has a
 * request in flight (no stuck runs); a state reloaded from its JSON text
 * and rows prints identically, a finished run's state has no lists
 * apart, and a restored map has nothing to write again; events are
 * well-formed.  No crash, leak or
 * sanitizer report.
 *
 * A run that is failing while requests are in flight is reloaded too:
 * the reloaded run must still be failing (test_recover_failing in
 * test/unit/test_engine.c covers the same by hand).
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -I src \
 *		test/fuzz/fuzz_engine.c src/fjson.c src/template.c src/condition.c \
 *		src/blueprint.c src/catalog.c src/catalog_json.c src/httpmsg.c \
 *		src/toolkit.c src/service_limits.c src/engine.c src/map_parts.c src/cron.c src/tools/\*.c \
 *		-lcjson -lm
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blueprint.h"
#include "engine.h"
#include "map_parts.h"

#define T0 1767225600000.0		/* 2026-01-01T00:00:00Z */
#define MAX_STEPS 200
#define MAX_GEN_NODES 8

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct Reader
{
	const uint8_t *p;
	size_t		n;
} Reader;

static uint32_t rng_state;

/*
 * next_byte
 *		The next input byte, 0 once exhausted.
 */
static unsigned
next_byte(Reader *r)
{
	if (r->n == 0)
		return 0;
	r->n--;
	return *r->p++;
}

/*
 * fuzz_random01
 *		Deterministic jitter source (reproducible per input).
 */
static double
fuzz_random01(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return (double) ((rng_state >> 8) % 1000000) / 1000000.0;
}

/*
 * check
 *		Abort with a message when an invariant does not hold.
 */
static void
check(bool cond, const char *what, EngineRun *run)
{
	if (!cond)
	{
		char	   *st = run ? cJSON_PrintUnformatted(run->state) : NULL;

		fprintf(stderr, "fuzz_engine invariant violated: %s\nstate: %s\nerror: %s\n",
				what, st ? st : "(none)", run && run->error ? run->error : "(none)");
		free(st);
		abort();
	}
}

/* ---------------------------------------------------------------------
 * blueprint generation
 * --------------------------------------------------------------------- */

static const char *const gen_conditions[] = {
	"{\"left\": \"{{trigger_data.n}}\", \"op\": \"gt\", \"right\": 4}",
	"{\"left\": \"{{trigger_data.flag}}\", \"op\": \"eq\", \"right\": true}",
	"{\"left\": \"{{trigger_data.s}}\", \"op\": \"gt\", \"right\": 4}",	/* runtime type error */
	"{\"left\": \"{{steps.%s.output.v}}\", \"op\": \"exists\"}",
	"{\"left\": \"{{steps.%s.output.v}}\", \"op\": \"eq\", \"right\": 1}",	/* may error */
	"{\"any\": [{\"left\": \"{{trigger_data.n}}\", \"op\": \"lt\", \"right\": 3},"
	" {\"not\": {\"left\": \"{{steps.%s.output.timed_out}}\", \"op\": \"empty\"}}]}",
};

static const char *const gen_untils[] = {
	"2026-01-01T00:00:30Z",
	"2025-12-31T23:00:00Z",
	"2026-01-01T05:31:00+05:30",
	"{{trigger_data.when}}",
	"{{trigger_data.when}}",
	"{{trigger_data.n}}",
};

/*
 * gen_node
 *		Append the JSON text of node i to buf.
 */
static void
gen_node(Reader *r, FdbBuf *b, int i, char *types)
{
	unsigned	t = next_byte(r) % 7;
	unsigned	x = next_byte(r);

	if (i)
		fdb_buf_puts(b, ",");
	switch (t)
	{
		case 0:
		case 1:
			types[i] = 'a';
			fdb_buf_printf(b, "{\"id\": \"n%d\", \"type\": \"action\", \"service\": \"http\","
						   " \"task\": \"request\", \"params\": {\"url\": \"https://x.test/n%d\","
						   " \"body\": {\"n\": \"{{trigger_data.n}}\"}}", i, i);
			if (x & 1)
				fdb_buf_printf(b, ", \"retry\": {\"max_attempts\": %u, \"backoff_ms\": %u}",
							   1 + (x >> 1) % 4, 10 + (x >> 3) * 100);
			fdb_buf_puts(b, "}");
			break;
		case 2:
			types[i] = 'r';
			fdb_buf_printf(b, "{\"id\": \"n%d\", \"type\": \"router\"}", i);
			break;
		case 3:
			types[i] = 's';
			fdb_buf_printf(b, "{\"id\": \"n%d\", \"type\": \"set\", \"values\": %s}", i,
						   x % 4 == 0 ? "{\"v\": \"{{trigger_data.missing}}\"}" :
						   x % 4 == 1 ? "{\"v\": \"{{trigger_data.n}}\", \"w\": \"x {{trigger_data.s}}\"}" :
						   x % 4 == 2 ? "{\"v\": 1}" : "{}");
			break;
		case 4:
			types[i] = 'd';
			if (x % 2)
				fdb_buf_printf(b, "{\"id\": \"n%d\", \"type\": \"delay\", \"seconds\": %u}",
							   i, 1 + (x >> 1) % 120);
			else
				fdb_buf_printf(b, "{\"id\": \"n%d\", \"type\": \"delay\", \"until\": \"%s\"}",
							   i, gen_untils[(x >> 1) % 6]);
			break;
		case 6:
			types[i] = 'm';
			fdb_buf_printf(b, "{\"id\": \"n%d\", \"type\": \"map\", \"items\": \"{{trigger_data.items}}\","
						   " \"concurrency\": %u, \"on_item_error\": \"%s\", \"do\": {\"service\": \"http\","
						   " \"task\": \"request\", \"params\": {\"url\": \"https://x.test/m%d/{{index}}\","
						   " \"body\": {\"i\": \"{{item}}\"}}",
						   i, 1 + x % 3, (x & 4) ? "continue" : "fail", i);
			if (x & 8)
				fdb_buf_printf(b, ", \"retry\": {\"max_attempts\": %u, \"backoff_ms\": 50}",
							   1 + (x >> 4) % 3);
			fdb_buf_puts(b, "}}");
			break;
		default:
			types[i] = 'w';
			fdb_buf_printf(b, "{\"id\": \"n%d\", \"type\": \"wait_event\", \"event\": \"shop.paid\"", i);
			if (x & 1)
				fdb_buf_puts(b, ", \"match\": {\"id\": \"{{trigger_data.id}}\"}");
			if (x & 2)
				fdb_buf_printf(b, ", \"timeout_seconds\": %u", 1 + (x >> 2) % 600);
			fdb_buf_puts(b, "}");
			break;
	}
}

/*
 * gen_blueprint
 *		A valid blueprint (text) and its payload from the leading bytes.
 */
static char *
gen_blueprint(Reader *r, cJSON **payload)
{
	FdbBuf		b;
	int			nn = 1 + (int) (next_byte(r) % MAX_GEN_NODES);
	char		types[MAX_GEN_NODES];
	bool		has_else[MAX_GEN_NODES];
	int			nedges = 0;
	unsigned	wlen;
	char		when[64];

	/* payload: fixed fields plus "when" made of raw input bytes */
	wlen = next_byte(r) % 40;
	{
		unsigned	k;

		for (k = 0; k < wlen; k++)
		{
			unsigned	c = next_byte(r);

			if (c == 0)
				break;
			when[k] = (char) c;
		}
		when[k] = '\0';
	}
	*payload = cJSON_CreateObject();
	cJSON_AddNumberToObject(*payload, "n", next_byte(r) % 10);
	cJSON_AddStringToObject(*payload, "s", "abc");
	cJSON_AddStringToObject(*payload, "id", "pay_1");
	cJSON_AddBoolToObject(*payload, "flag", next_byte(r) & 1);
	cJSON_AddStringToObject(*payload, "when", when);
	{
		cJSON	   *items = cJSON_AddArrayToObject(*payload, "items");
		unsigned	nitems = next_byte(r) % 7;

		for (unsigned k = 0; k < nitems; k++)
			cJSON_AddItemToArray(items, cJSON_CreateNumber(k * 10));
	}

	fdb_buf_init(&b);
	fdb_buf_puts(&b, "{\"version\": 1, \"name\": \"fz\", \"trigger\": {\"type\": \"manual\"}, \"nodes\": [");
	for (int i = 0; i < nn; i++)
	{
		gen_node(r, &b, i, types);
		has_else[i] = false;
	}
	fdb_buf_puts(&b, "], \"edges\": [");
	for (int j = 1; j < nn; j++)
	{
		for (int i = 0; i < j; i++)
		{
			unsigned	e = next_byte(r);

			if (e % 3 != 0)
				continue;		/* no edge i -> j */
			fdb_buf_printf(&b, "%s{\"from\": \"n%d\", \"to\": \"n%d\"", nedges++ ? ", " : "", i, j);
			if ((e >> 2) % 3 == 1)
			{
				char		id[16];
				const char *fmt = gen_conditions[(e >> 4) % 6];

				snprintf(id, sizeof(id), "n%d", i);
				fdb_buf_puts(&b, ", \"condition\": ");
				if (strstr(fmt, "%s"))
					fdb_buf_printf(&b, fmt, id);
				else
					fdb_buf_puts(&b, fmt);
			}
			else if ((e >> 2) % 3 == 2 && !has_else[i])
			{
				has_else[i] = true;
				fdb_buf_puts(&b, ", \"else\": true");
			}
			else if ((e >> 6) & 1)
				fdb_buf_puts(&b, ", \"on\": \"failure\"");
			fdb_buf_puts(&b, "}");
		}
	}
	fdb_buf_puts(&b, "]}");
	return b.data;
}

/* ---------------------------------------------------------------------
 * driving a run
 * --------------------------------------------------------------------- */

/*
 * node_status
 *		Status of a node in the run ("pending" when absent).
 */
static const char *
node_status(EngineRun *run, const char *id)
{
	const char *s = fdb_json_str(cJSON_GetObjectItemCaseSensitive(run->nodes, id), "status");

	return s ? s : "pending";
}

/*
 * has_failure_edge
 *		Does node id have an outgoing edge with "on": "failure"?
 */
static bool
has_failure_edge(EngineRun *run, const char *id)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(run->bp, "edges"))
	{
		const char *from = fdb_json_str(e, "from");
		const char *on = fdb_json_str(e, "on");

		if (from && on && strcmp(from, id) == 0 && strcmp(on, "failure") == 0)
			return true;
	}
	return false;
}

/*
 * bp_node_by_id
 *		Blueprint node with this id (first one).
 */
static const cJSON *
bp_node_by_id(EngineRun *run, const char *id)
{
	const cJSON *n;

	cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(run->bp, "nodes"))
	{
		const char *nid = fdb_json_str(n, "id");

		if (nid && strcmp(nid, id) == 0)
			return n;
	}
	return NULL;
}

/*
 * pick_node
 *		The k-th (mod count) step whose status is st, or NULL: nodes of the
 *		blueprint and, for "running", the running items of a map
 *		("<id>[<index>]", in a static buffer; the map node itself is
 *		never picked).  For "waiting", only wait_event nodes.
 */
static const char *
pick_node(EngineRun *run, const char *st, unsigned k)
{
	static char step[128];
	int			count = 0;
	int			want = -1;

	for (int pass = 0; pass < 2; pass++)
	{
		const cJSON *n;

		cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(run->bp, "nodes"))
		{
			const char *id = fdb_json_str(n, "id");
			cJSON	   *ns = id ? cJSON_GetObjectItemCaseSensitive(run->nodes, id) : NULL;
			cJSON	   *m = ns ? cJSON_GetObjectItemCaseSensitive(ns, "map") : NULL;

			if (id == NULL)
				continue;
			if (cJSON_IsObject(m) && strcmp(node_status(run, id), "running") == 0)
			{
				const cJSON *a;

				if (strcmp(st, "running") != 0)
					continue;
				cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(m, "active"))
				{
					const char *ist = fdb_json_str(a, "status");

					if (ist == NULL || strcmp(ist, "running") != 0)
						continue;
					if (pass == 1 && want-- == 0)
					{
						snprintf(step, sizeof(step), "%s[%s]", id, a->string);
						return step;
					}
					count += pass == 0;
				}
				continue;
			}
			if (strcmp(node_status(run, id), st) == 0 &&
				(strcmp(st, "waiting") != 0 || cJSON_HasObjectItem(ns, "event")))
			{
				if (pass == 1 && want-- == 0)
					return id;
				count += pass == 0;
			}
		}
		if (pass == 0)
		{
			if (count == 0)
				return NULL;
			want = (int) (k % (unsigned) count);
		}
	}
	return NULL;
}

/*
 * check_events
 *		Every logged event is well-formed; clears them.
 */
static void
check_events(EngineRun *run, EngineEvents *ev)
{
	for (int i = 0; i < ev->n; i++)
	{
		const EngineEvent *e = &ev->items[i];
		const char *s = e->status;

		check(e->node_id != NULL && bp_node_by_id(run, e->node_id) != NULL,
			  "event of an unknown node", run);
		check(s && (strcmp(s, "succeeded") == 0 || strcmp(s, "failed") == 0 ||
					strcmp(s, "retrying") == 0 || strcmp(s, "skipped") == 0),
			  "event status", run);
		if (strcmp(s, "failed") == 0 || strcmp(s, "retrying") == 0)
			check(e->error != NULL, "failed/retrying event without error", run);
		if (strcmp(s, "skipped") == 0)
			check(e->attempt == 0, "skipped event with an attempt", run);
		else
			check(e->attempt >= 1, "event attempt < 1", run);
		check(e->finished_ms >= e->started_ms || strcmp(s, "succeeded") != 0 ||
			  e->input != NULL, "event finished before started", run);
	}
	engine_events_clear(ev);
}

/*
 * check_status
 *		engine_run_status agrees with the nodes.
 */
static const char *
check_status(EngineRun *run, double *due)
{
	const char *st = engine_run_status(run, due);
	const cJSON *n;
	double		fresh_due;

	/* the kept answer is the one the nodes give now */
	run->memo_valid = false;
	check(engine_run_state(run, &fresh_due) == flow_status_parse(st) &&
		  fresh_due == *due, "engine_run_state kept a stale answer", run);
	check(*due >= 0, "negative next_due", run);
	check(strcmp(st, "running") == 0 || strcmp(st, "retrying") == 0 ||
		  strcmp(st, "waiting") == 0 || strcmp(st, "succeeded") == 0 ||
		  strcmp(st, "failed") == 0, "unknown run status", run);
	if (strcmp(st, "succeeded") == 0)
	{
		check(!run->failing, "succeeded while failing", run);
		cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(run->bp, "nodes"))
		{
			const char *id = fdb_json_str(n, "id");
			const char *ns = id ? node_status(run, id) : "succeeded";

			check(strcmp(ns, "succeeded") == 0 || strcmp(ns, "skipped") == 0 ||
				  (strcmp(ns, "failed") == 0 && has_failure_edge(run, id)),
				  "run succeeded with an unfinished or unhandled failed node", run);
		}
	}
	if (strcmp(st, "failed") == 0)
	{
		check(run->failing && run->error != NULL, "failed without an error", run);
		check(engine_inflight(run) == 0, "failed with requests in flight", run);
	}
	if (run->failing)
		check(strcmp(st, "running") == 0 || strcmp(st, "failed") == 0,
			  "failing run neither running nor failed", run);
	return st;
}

/*
 * do_advance
 *		engine_advance with its invariants.
 */
static void
do_advance(EngineRun *run, double now, EngineEvents *ev)
{
	char	  **ids = NULL;
	int			n;
	bool		was_failing = run->failing;
	cJSON	   *before = cJSON_Duplicate(run->nodes, true);
	double		due;

	n = engine_advance(run, now, &ids, ev);
	check(n >= 0, "negative dispatch count", run);
	check(n == 0 || ids != NULL, "dispatch list missing", run);
	if (was_failing)
		check(n == 0, "a failing run dispatched", run);
	for (int i = 0; i < n; i++)
	{
		char		nid[80];
		int			index = engine_step_split(ids[i], nid, sizeof(nid));
		const cJSON *node;
		const char *type;

		if (index >= 0)
		{
			/* a map item: its map is running, its action is the map's "do" */
			const cJSON *map = bp_node_by_id(run, nid);
			const cJSON *act = engine_action_node(run, ids[i]);
			double		maxi = ENGINE_DEFAULT_ATTEMPTS;
			int			attempt = engine_node_attempt(run, ids[i]);

			check(map != NULL && act != NULL && fdb_json_str(act, "service") != NULL,
				  "dispatched an item of no map action", run);
			check(strcmp(node_status(run, nid), "running") == 0, "dispatched an item of a map not running", run);
			fdb_json_num(cJSON_GetObjectItemCaseSensitive(act, "retry"), "max_attempts", &maxi);
			check(attempt >= 1 && attempt <= (int) maxi, "dispatched item attempt out of range", run);
			for (int j = 0; j < i; j++)
				check(strcmp(ids[i], ids[j]) != 0, "item dispatched twice", run);
			continue;
		}
		node = bp_node_by_id(run, ids[i]);
		type = node ? fdb_json_str(node, "type") : NULL;
		const char *prev = fdb_json_str(cJSON_GetObjectItemCaseSensitive(before, ids[i]), "status");
		int			attempt = engine_node_attempt(run, ids[i]);
		double		maxa = ENGINE_DEFAULT_ATTEMPTS;

		check(node != NULL, "dispatched an unknown node", run);
		check(type == NULL || strcmp(type, "action") == 0, "dispatched a non-action", run);
		check(strcmp(node_status(run, ids[i]), "running") == 0, "dispatched node not running", run);
		check(prev == NULL || strcmp(prev, "pending") == 0 || strcmp(prev, "retrying") == 0,
			  "dispatched a node that was not pending or retrying", run);
		fdb_json_num(cJSON_GetObjectItemCaseSensitive(node, "retry"), "max_attempts", &maxa);
		check(attempt >= 1 && attempt <= (int) maxa, "dispatched attempt out of range", run);
		for (int j = 0; j < i; j++)
			check(strcmp(ids[i], ids[j]) != 0, "node dispatched twice", run);
	}
	engine_free_dispatch(ids, n);
	cJSON_Delete(before);
	check_events(run, ev);
	/* no stuck runs: after an advance, "running" means a request in flight */
	if (strcmp(check_status(run, &due), "running") == 0)
		check(engine_inflight(run) > 0, "run is running with nothing in flight (stuck)", run);
}

/*
 * The worker's flowdb.map_parts for the run being driven: the table's rows
 * (upserted by node, instance, item) and the current copy's record.
 */
static MapPartRow *table;
static int	ntable;
static int	captable;
static MapParts parts;
static int	claims;

/*
 * table_put
 *		INSERT ... ON CONFLICT DO UPDATE of one row.
 */
static void
table_put(const MapPartRow *row)
{
	for (int i = 0; i < ntable; i++)
		if (table[i].item == row->item && strcmp(table[i].node_id, row->node_id) == 0 &&
			strcmp(table[i].instance, row->instance) == 0)
		{
			free(table[i].value);
			table[i].value = fdb_strdup(row->value);
			return;
		}
	if (ntable == captable)
	{
		captable = captable ? captable * 2 : 16;
		table = realloc(table, sizeof(MapPartRow) * captable);
		if (table == NULL)
			abort();
	}
	table[ntable].node_id = fdb_strdup(row->node_id);
	table[ntable].instance = fdb_strdup(row->instance);
	table[ntable].item = row->item;
	table[ntable].value = fdb_strdup(row->value);
	ntable++;
}

/*
 * table_clear
 *		DELETE of the run's rows (and, with free_all, the array itself).
 */
static void
table_clear(bool free_all)
{
	for (int i = 0; i < ntable; i++)
	{
		free(table[i].node_id);
		free(table[i].instance);
		free(table[i].value);
	}
	ntable = 0;
	if (free_all)
	{
		free(table);
		table = NULL;
		captable = 0;
	}
}

/*
 * reload
 *		Commit the state as the worker does (a running map's lists go to
 *		flowdb.map_parts, a marker stays in the state) and build the run
 *		again from the stored text and rows (a new worker's claim); the
 *		state must print identically, and a collect right after the
 *		restore must find nothing new to write.  recover: the requests in
 *		flight were lost.  retry: flow_retry's transformation (only for
 *		failed runs).
 */
static EngineRun *
reload(EngineRun *run, bool recover, bool retry)
{
	double		due;
	FlowStatus	st = engine_run_state(run, &due);
	char		token[32];
	char		err[256];
	char	   *text;
	char	   *full;
	cJSON	   *state;
	EngineRun  *n;
	char	   *text2;

	snprintf(token, sizeof(token), "tok%d", claims++);
	map_parts_collect(&parts, run->state, token, st == FLOW_SUCCEEDED || st == FLOW_FAILED);
	for (int i = 0; i < parts.nrows; i++)
		table_put(&parts.rows[i]);
	if (parts.clear)
		table_clear(false);
	map_parts_detach(&parts);
	text = cJSON_PrintUnformatted(run->state);
	map_parts_attach(&parts);
	full = cJSON_PrintUnformatted(run->state);
	map_parts_written(&parts, true);
	map_parts_free(&parts);
	state = cJSON_Parse(text);
	check(state != NULL, "state JSON does not parse", run);
	check(st == FLOW_SUCCEEDED || st == FLOW_FAILED ? !map_parts_needed(state) : true,
		  "a finished run's state has lists apart", run);
	if (map_parts_needed(state))
		check(map_parts_restore(&parts, state, table, ntable, err, sizeof(err)),
			  "a map's lists could not be restored from their rows", run);
	if (retry)
	{
		cJSON	   *nodes = cJSON_CreateObject();
		cJSON	   *ns;
		double		retries = 0;

		cJSON_ArrayForEach(ns, cJSON_GetObjectItemCaseSensitive(state, "nodes"))
		{
			const char *s = fdb_json_str(ns, "status");

			if (s && (strcmp(s, "succeeded") == 0 || strcmp(s, "skipped") == 0))
				cJSON_AddItemToObject(nodes, ns->string, cJSON_Duplicate(ns, true));
		}
		cJSON_ReplaceItemInObjectCaseSensitive(state, "nodes", nodes);
		fdb_json_num(state, "retries", &retries);
		cJSON_DeleteItemFromObjectCaseSensitive(state, "retries");
		cJSON_AddNumberToObject(state, "retries", retries + 1);
	}
	n = engine_run_new(run->run_id, run->workflow_id, cJSON_Duplicate(run->bp, true),
					   cJSON_Duplicate(run->payload, true), state);
	if (!retry)
	{
		text2 = cJSON_PrintUnformatted(n->state);
		check(strcmp(full, text2) == 0, "reloaded state prints differently", run);
		free(text2);
	}
	free(text);
	free(full);
	engine_run_free(run);
	if (recover)
		engine_recover(n);
	if (!retry)
	{
		/* the restored lists are known as written: nothing to write again */
		FlowStatus	st2 = engine_run_state(n, &due);

		map_parts_collect(&parts, n->state, "check", st2 == FLOW_SUCCEEDED || st2 == FLOW_FAILED);
		check(parts.nrows == 0, "a restored map would write its rows again", n);
		map_parts_written(&parts, false);
	}
	return n;
}

/*
 * fuzz_output
 *		An action's output for selector k (NULL allowed).
 */
static cJSON *
fuzz_output(unsigned k)
{
	switch (k % 5)
	{
		case 0:
			return NULL;
		case 1:
			return cJSON_Parse("{\"v\": 1}");
		case 2:
			return cJSON_Parse("{\"v\": \"one\", \"total\": 250}");
		case 3:
			return cJSON_Parse("{\"timed_out\": false}");
		default:
			return cJSON_CreateObject();
	}
}

/*
 * drive
 *		Run the blueprint for up to MAX_STEPS steps.
 */
static void
drive(cJSON *bp, cJSON *payload, Reader *r)
{
	EngineRun  *run = engine_run_new("fz-1", "", bp, payload, NULL);
	EngineEvents ev;
	double		now = T0;
	double		due;

	engine_events_init(&ev);
	for (int step = 0; step < MAX_STEPS; step++)
	{
		unsigned	op = r->n ? next_byte(r) : 255;
		unsigned	k = next_byte(r);
		const char *id;
		const char *st;

		if (op == 255)
		{
			/* settle: results for everything in flight, then time */
			const char *s = check_status(run, &due);

			if (strcmp(s, "succeeded") == 0 || strcmp(s, "failed") == 0)
				break;
			if ((id = pick_node(run, "running", 0)) != NULL)
				engine_action_succeeded(run, id, NULL, fuzz_output(step), now, now, &ev);
			else if ((id = pick_node(run, "waiting", 0)) != NULL && due == 0)
			{
				cJSON	   *ns = cJSON_GetObjectItemCaseSensitive(run->nodes, id);

				cJSON_ReplaceItemInObjectCaseSensitive(ns, "status", cJSON_CreateString("resumed"));
				cJSON_DeleteItemFromObjectCaseSensitive(ns, "output");
				cJSON_AddItemToObject(ns, "output", cJSON_CreateObject());
				run->memo_valid = false;	/* changed outside the engine */
			}
			else if (due > now)
				now = due;
			do_advance(run, now, &ev);
			continue;
		}
		switch (op % 12)
		{
			case 0:
			case 1:
			case 2:
				do_advance(run, now, &ev);
				break;
			case 3:
			case 4:
				if ((id = pick_node(run, "running", k)) != NULL)
					engine_action_succeeded(run, id, k & 8 ? cJSON_CreateObject() : NULL,
											fuzz_output(k >> 4), now - 5, now, &ev);
				break;
			case 5:
				if ((id = pick_node(run, "running", k)) != NULL)
					engine_action_failed(run, id, k & 8 ? cJSON_CreateObject() : NULL,
										 "HTTP 503", true, k & 16 ? (double) (k >> 5) : -1,
										 now - 5, now, &ev);
				break;
			case 6:
				if ((id = pick_node(run, "running", k)) != NULL)
					engine_action_failed(run, id, NULL, "HTTP 400", false, -1, now - 5, now, &ev);
				break;
			case 7:
				if ((id = pick_node(run, "running", k)) != NULL &&
					engine_node_phase(run, id) < 3)
				{
					cJSON	   *ps = engine_node_phase_state(run, id);

					cJSON_AddNumberToObject(ps, "p", engine_node_phase(run, id));
					engine_node_set_phase(run, id, engine_node_phase(run, id) + 1);
				}
				break;
			case 8:
				/* flowdb.resume_node: state || {status: resumed, output} */
				if ((id = pick_node(run, "waiting", k)) != NULL)
				{
					cJSON	   *ns = cJSON_GetObjectItemCaseSensitive(run->nodes, id);
					cJSON	   *out = fuzz_output(k >> 3);

					cJSON_ReplaceItemInObjectCaseSensitive(ns, "status", cJSON_CreateString("resumed"));
					cJSON_DeleteItemFromObjectCaseSensitive(ns, "output");
					cJSON_AddItemToObject(ns, "output", out ? out : cJSON_CreateObject());
					run->memo_valid = false;	/* changed outside the engine */
				}
				break;
			case 9:
				now += (double) k * 97.0;
				break;
			case 10:
				check_status(run, &due);
				if (due > now)
					now = due;
				break;
			default:
				st = check_status(run, &due);
				if (strcmp(st, "failed") == 0)
				{
					if (k & 1)
						run = reload(run, true, true);
				}
				else
				{
					bool		was_failing = run->failing;

					run = reload(run, (k & 1) != 0, false);
					check(!was_failing || run->failing,
						  "a reload lost the run's failure", run);
				}
				break;
		}
		check_events(run, &ev);
		check_status(run, &due);
	}
	if (getenv("FUZZ_ENGINE_DEBUG"))
	{
		char	   *text = cJSON_PrintUnformatted(run->state);

		fprintf(stderr, "final status %s (error %s)\nstate %s\n", engine_run_status(run, &due),
				run->error ? run->error : "none", text);
		free(text);
	}
	engine_events_free(&ev);
	engine_run_free(run);
	map_parts_free(&parts);
	table_clear(true);
	claims = 0;
}

/*
 * LLVMFuzzerTestOneInput
 *		One fuzz iteration.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Reader		r = {data, size};
	cJSON	   *bp = NULL;
	cJSON	   *payload = NULL;
	FdbErrors	errs;
	bool		valid;

	engine_config.random01 = fuzz_random01;
	engine_config.retry_base_ms = 1000.0;
	engine_config.retry_max_ms = 3600000.0;
	rng_state = (uint32_t) size;

	if (size > 0 && data[0] == '{')
	{
		const uint8_t *nul = memchr(data, 0, size);
		size_t		blen = nul ? (size_t) (nul - data) : size;

		bp = cJSON_ParseWithLength((const char *) data, blen);
		r.p = data + blen + (nul ? 1 : 0);
		r.n = size - blen - (nul ? 1 : 0);
		payload = cJSON_Parse("{\"n\": 7, \"s\": \"abc\", \"id\": \"pay_1\", \"flag\": true,"
							  " \"when\": \"2026-01-01T00:01:00Z\", \"amount\": 5000}");
	}
	else
	{
		char	   *text = gen_blueprint(&r, &payload);

		bp = cJSON_Parse(text);
		if (bp == NULL)
		{
			fprintf(stderr, "generated blueprint does not parse: %s\n", text);
			abort();
		}
		free(text);
	}
	if (bp == NULL)
	{
		cJSON_Delete(payload);
		return 0;
	}

	fdb_errors_init(&errs);
	valid = bp_validate(bp, &errs);
	if (!valid && getenv("FUZZ_ENGINE_DEBUG"))
	{
		char	   *j = fdb_errors_join(&errs, "\n  ");

		fprintf(stderr, "invalid blueprint:\n  %s\n", j);
		free(j);
	}
	fdb_errors_free(&errs);
	if (!valid)
	{
		cJSON_Delete(bp);
		cJSON_Delete(payload);
		return 0;
	}

	/* the "when" string is also parsed on its own (exact-size copy) */
	{
		const char *when = fdb_json_str(payload, "when");

		if (when)
		{
			char	   *copy = fdb_strdup(when);
			double		ms;

			(void) engine_parse_time(copy, &ms);
			free(copy);
		}
	}

	drive(bp, payload, &r);
	return 0;
}
