/*
 * test_engine.c
 *	  Unit tests of engine.c, the run state machine: readiness, skipping,
 *	  routers and else edges, set/delay/wait_event nodes, retries with
 *	  backoff, multi-phase actions, crash recovery, durability of the state
 *	  JSON, and engine_parse_time.
 *
 * Everything is deterministic: engine_config.random01 returns 0.5 (jitter
 * factor exactly 1.0) and every call gets an explicit now_ms.  JSON
 * literals are written with single quotes and converted by JQ().
 */
#include "unit.h"

#include "blueprint.h"
#include "engine.h"
#include "template.h"

#define JQ(text) unit_json_q((text), 1)

/* 2026-01-01T00:00:00Z */
#define T0 1767225600000.0

#define HEAD "'version': 1, 'name': 'wf', 'trigger': {'type': 'manual'}, "
/* A valid action node (the engine itself never looks at service/task). */
#define ACT(id) "{'id': '" id "', 'type': 'action', 'service': 'http', " \
	"'task': 'request', 'params': {'url': 'https://x.test/" id "'}}"
#define ACT_RETRY(id, retry) "{'id': '" id "', 'type': 'action', 'service': 'http', " \
	"'task': 'request', 'params': {'url': 'https://x.test/" id "'}, 'retry': " retry "}"
#define ROUTER(id) "{'id': '" id "', 'type': 'router'}"

static EngineEvents ev;

/* ---------------------------------------------------------------------
 * helpers
 * --------------------------------------------------------------------- */

static double
rand_half(void)
{
	return 0.5;
}

static double
rand_zero(void)
{
	return 0.0;
}

static double
rand_high(void)
{
	return 0.999;
}

/*
 * same_json
 *		Is got deeply equal to the (single-quoted) JSON text want?
 */
static int
same_json(const cJSON *got, const char *want)
{
	cJSON	   *w = JQ(want);
	int			eq = got != NULL && cJSON_Compare(got, w, true);

	if (!eq)
	{
		char	   *g = got ? cJSON_PrintUnformatted(got) : NULL;

		fprintf(stderr, "  [%s] got %s, want %s\n", unit_current, g ? g : "(null)", want);
		free(g);
	}
	cJSON_Delete(w);
	return eq;
}

/*
 * mkrun
 *		A run "r1" of an ad hoc blueprint; payload/state may be NULL.
 */
static EngineRun *
mkrun(const char *bp, const char *payload, const char *state)
{
	return engine_run_new("r1", "", JQ(bp), payload ? JQ(payload) : NULL,
						  state ? JQ(state) : NULL);
}

/*
 * nstate
 *		The state object of a node (NULL when absent).
 */
static cJSON *
nstate(EngineRun *run, const char *id)
{
	return cJSON_GetObjectItemCaseSensitive(run->nodes, id);
}

/*
 * st
 *		A node's status ("pending" when it has no state).
 */
static const char *
st(EngineRun *run, const char *id)
{
	const char *s = fdb_json_str(nstate(run, id), "status");

	return s ? s : "pending";
}

/*
 * nnum
 *		A numeric field of a node's state, or -12345 when absent.
 */
static double
nnum(EngineRun *run, const char *id, const char *key)
{
	double		d;

	if (fdb_json_num(nstate(run, id), key, &d))
		return d;
	return -12345;
}

/*
 * adv
 *		engine_advance at now; the dispatched ids joined with "," ("" when
 *		none).  Every dispatched node must now be running.
 */
static const char *
adv(EngineRun *run, double now)
{
	static char buf[1024];
	char	  **ids = (char **) 0x1;
	int			n;

	buf[0] = '\0';
	n = engine_advance(run, now, &ids, &ev);

	/*
	 * The dispatch array is set exactly when something was dispatched.  Not
	 * counted as a pass: the callers assert the dispatched ids themselves.
	 */
	if (n < 0 || (n == 0) != (ids == NULL))
	{
		unit_failed++;
		fprintf(stderr, "FAIL %s:%d [%s]: engine_advance returned %d with dispatch %s\n",
				__FILE__, __LINE__, unit_current, n, ids ? "set" : "NULL");
		return "(bad dispatch)";
	}
	for (int i = 0; i < n; i++)
	{
		if (i)
			strncat(buf, ",", sizeof(buf) - strlen(buf) - 1);
		strncat(buf, ids[i], sizeof(buf) - strlen(buf) - 1);
		if (strchr(ids[i], '[') == NULL)
			CHECK_STR(st(run, ids[i]), "running");
		else
			CHECK_INT(engine_node_attempt(run, ids[i]) >= 1, 1);
	}
	engine_free_dispatch(ids, n);
	return buf;
}

/*
 * evs
 *		The events logged since the last call, as "node:status:attempt"
 *		joined by spaces; clears them.
 */
static const char *
evs(void)
{
	static char buf[4096];

	buf[0] = '\0';
	for (int i = 0; i < ev.n; i++)
	{
		char		one[256];

		if (ev.items[i].item >= 0)
			snprintf(one, sizeof(one), "%s%s[%d]:%s:%d", i ? " " : "", ev.items[i].node_id,
					 ev.items[i].item, ev.items[i].status, ev.items[i].attempt);
		else
			snprintf(one, sizeof(one), "%s%s:%s:%d", i ? " " : "", ev.items[i].node_id,
					 ev.items[i].status, ev.items[i].attempt);
		strncat(buf, one, sizeof(buf) - strlen(buf) - 1);
	}
	engine_events_clear(&ev);
	return buf;
}

/*
 * rstat
 *		engine_run_status; *due gets next_due_ms.
 */
static const char *
rstat(EngineRun *run, double *due)
{
	double		d = -1;
	const char *s = engine_run_status(run, &d);

	if (due)
		*due = d;
	return s;
}

/*
 * ok
 *		An action succeeded at now (started 100 ms earlier).
 */
static void
ok(EngineRun *run, const char *id, const char *output, double now)
{
	engine_action_succeeded(run, id, NULL, output ? JQ(output) : NULL, now - 100, now, &ev);
}

/*
 * fail
 *		An action failed at now (started 100 ms earlier).
 */
static void
fail(EngineRun *run, const char *id, const char *error, bool retryable,
	 double retry_after_s, double now)
{
	engine_action_failed(run, id, NULL, error, retryable, retry_after_s, now - 100, now, &ev);
}

/*
 * resume
 *		What flowdb.resume_node does in SQL: merge {"status": "resumed",
 *		"output": data} into the node's state.
 */
static void
resume(EngineRun *run, const char *id, const char *data)
{
	cJSON	   *ns = nstate(run, id);

	cJSON_DeleteItemFromObjectCaseSensitive(ns, "status");
	cJSON_DeleteItemFromObjectCaseSensitive(ns, "output");
	cJSON_AddStringToObject(ns, "status", "resumed");
	cJSON_AddItemToObject(ns, "output", data ? JQ(data) : cJSON_CreateObject());
}

/*
 * reincarnate
 *		The durability model: the worker commits state as JSON text and a
 *		later worker builds a new EngineRun from it.  The printed state of
 *		the new run must be the same text.  Frees the old run.
 */
static EngineRun *
reincarnate(EngineRun *run, bool recover)
{
	char	   *text = cJSON_PrintUnformatted(run->state);
	EngineRun  *n = engine_run_new(run->run_id, run->workflow_id,
								   cJSON_Duplicate(run->bp, true),
								   cJSON_Duplicate(run->payload, true),
								   cJSON_Parse(text));
	char	   *text2 = cJSON_PrintUnformatted(n->state);

	CHECK_STR(text2, text);
	free(text);
	free(text2);
	engine_run_free(run);
	if (recover)
		engine_recover(n);
	return n;
}

/*
 * flow_retry
 *		What public.flow_retry does in SQL to a failed run's state: keep
 *		succeeded and skipped nodes (everything else starts over), keep the
 *		edges, count the retry.  Then a worker claims it (engine_recover).
 */
static EngineRun *
flow_retry(EngineRun *run)
{
	cJSON	   *state = cJSON_Duplicate(run->state, true);
	cJSON	   *nodes = cJSON_CreateObject();
	cJSON	   *ns;
	double		retries = 0;
	EngineRun  *n;

	cJSON_ArrayForEach(ns, cJSON_GetObjectItemCaseSensitive(state, "nodes"))
	{
		const char *s = fdb_json_str(ns, "status");

		if (s && (strcmp(s, "succeeded") == 0 || strcmp(s, "skipped") == 0))
			cJSON_AddItemToObject(nodes, ns->string, cJSON_Duplicate(ns, true));
	}
	cJSON_ReplaceItemInObjectCaseSensitive(state, "nodes", nodes);
	cJSON_DeleteItemFromObjectCaseSensitive(state, "error");	/* as flow_retry does */
	fdb_json_num(state, "retries", &retries);
	cJSON_DeleteItemFromObjectCaseSensitive(state, "retries");
	cJSON_AddNumberToObject(state, "retries", retries + 1);
	n = engine_run_new(run->run_id, run->workflow_id, cJSON_Duplicate(run->bp, true),
					   cJSON_Duplicate(run->payload, true), state);
	engine_run_free(run);
	engine_recover(n);
	return n;
}

/* ---------------------------------------------------------------------
 * linear and parallel graphs
 * --------------------------------------------------------------------- */

TEST(test_linear)
{
	EngineRun  *run = mkrun("{" HEAD "'nodes': [" ACT("a") ","
							"{'id': 'b', 'type': 'action', 'service': 'http', 'task': 'request',"
							" 'params': {'url': 'https://x.test/{{steps.a.output.n}}',"
							" 'count': '{{steps.a.output.n}}', 'label': 'n={{steps.a.output.n}}',"
							" 'all': '{{steps.a.output}}', 'first': '{{steps.a.output.list[0]}}',"
							" 'flag': '{{steps.a.output.ok}}', 'nothing': '{{steps.a.output.none}}',"
							" 'lit': 7}}," ACT("c") "],"
							" 'edges': [{'from': 'a', 'to': 'b'}, {'from': 'b', 'to': 'c'}]}",
							"{'x': 1}", NULL);
	double		due;
	char		err[FDB_ERRLEN];
	cJSON	   *params;
	cJSON	   *in;

	/* fresh state: every edge unresolved */
	CHECK_INT(cJSON_GetArraySize(run->edges), 2);
	CHECK(cJSON_IsNull(cJSON_GetArrayItem(run->edges, 0)));
	CHECK_STR(rstat(run, &due), "running");
	CHECK(due == 0);

	/* only the root is dispatched */
	CHECK_STR(adv(run, T0), "a");
	CHECK_STR(st(run, "a"), "running");
	CHECK_INT(engine_node_attempt(run, "a"), 1);
	CHECK(nnum(run, "a", "started") == T0);
	CHECK_STR(st(run, "b"), "pending");
	CHECK_STR(st(run, "c"), "pending");
	CHECK(nstate(run, "b") == NULL);
	CHECK_INT(engine_inflight(run), 1);
	CHECK_STR(rstat(run, &due), "running");
	CHECK(due == 0);
	CHECK_STR(evs(), "");

	/* advancing again dispatches nothing new */
	CHECK_STR(adv(run, T0 + 10), "");
	CHECK_INT(engine_node_attempt(run, "a"), 1);

	/* a succeeds: logged with input/output/times; b ready on next advance */
	in = JQ("{'url': 'https://x.test/a'}");
	engine_action_succeeded(run, "a", in,
							JQ("{'n': 5, 'list': ['p', 'q'], 'ok': true, 'none': null}"),
							T0, T0 + 250, &ev);
	CHECK_INT(ev.n, 1);
	if (ev.n == 1)
	{
		CHECK_STR(ev.items[0].node_id, "a");
		CHECK_STR(ev.items[0].status, "succeeded");
		CHECK_INT(ev.items[0].attempt, 1);
		CHECK(ev.items[0].input == in);
		CHECK(same_json(ev.items[0].output, "{'n': 5, 'list': ['p', 'q'], 'ok': true, 'none': null}"));
		CHECK(ev.items[0].output != cJSON_GetObjectItemCaseSensitive(nstate(run, "a"), "output"));
		CHECK(ev.items[0].error == NULL);
		CHECK(ev.items[0].started_ms == T0);
		CHECK(ev.items[0].finished_ms == T0 + 250);
	}
	CHECK_STR(evs(), "a:succeeded:1");
	CHECK_STR(st(run, "a"), "succeeded");
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(nstate(run, "a"), "output"),
					"{'n': 5, 'list': ['p', 'q'], 'ok': true, 'none': null}"));
	CHECK(cJSON_IsTrue(cJSON_GetArrayItem(run->edges, 0)));
	CHECK(cJSON_IsNull(cJSON_GetArrayItem(run->edges, 1)));
	CHECK_STR(st(run, "b"), "pending");
	CHECK_INT(engine_inflight(run), 0);
	CHECK_STR(rstat(run, &due), "running");	/* b is ready */

	CHECK_STR(adv(run, T0 + 300), "b");
	CHECK_INT(engine_node_attempt(run, "b"), 1);

	/* b's params rendered from steps.a.output; whole templates keep types */
	err[0] = '\0';
	params = engine_render_params(run, "b", err, sizeof(err));
	CHECK(params != NULL);
	CHECK_STR(err, "");
	CHECK(same_json(params, "{'url': 'https://x.test/5', 'count': 5, 'label': 'n=5',"
					" 'all': {'n': 5, 'list': ['p', 'q'], 'ok': true, 'none': null},"
					" 'first': 'p', 'flag': true, 'nothing': null, 'lit': 7}"));
	CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(params, "count")));
	CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(params, "flag")));
	cJSON_Delete(params);
	/* the rendering did not alter the blueprint */
	CHECK_STR(fdb_json_str(cJSON_GetObjectItemCaseSensitive(
							   cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(run->bp, "nodes"), 1),
							   "params"), "count"), "{{steps.a.output.n}}");

	ok(run, "b", "{'status': 200}", T0 + 400);
	CHECK_STR(adv(run, T0 + 400), "c");
	CHECK_STR(rstat(run, &due), "running");
	ok(run, "c", NULL, T0 + 500);
	/* NULL output is stored as {} */
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(nstate(run, "c"), "output"), "{}"));
	CHECK_STR(adv(run, T0 + 500), "");
	CHECK_STR(rstat(run, &due), "succeeded");
	CHECK(due == 0);
	CHECK(run->error == NULL);
	CHECK(!run->failing);
	CHECK_STR(evs(), "b:succeeded:1 c:succeeded:1");
	engine_run_free(run);
	engine_events_clear(&ev);
}

TEST(test_parallel_join)
{
	EngineRun  *run = mkrun("{" HEAD "'nodes': [" ACT("a") "," ACT("b") "," ACT("j") "," ACT("z") "],"
							" 'edges': [{'from': 'a', 'to': 'j'}, {'from': 'b', 'to': 'j'},"
							" {'from': 'j', 'to': 'z'}]}", NULL, NULL);

	/* both roots at once, in blueprint order */
	CHECK_STR(adv(run, T0), "a,b");
	CHECK_INT(engine_inflight(run), 2);
	CHECK_INT(engine_node_attempt(run, "a"), 1);
	CHECK_INT(engine_node_attempt(run, "b"), 1);

	/* the join waits for both in-edges */
	ok(run, "b", "{'v': 'b'}", T0 + 100);
	CHECK_STR(adv(run, T0 + 100), "");
	CHECK_STR(st(run, "j"), "pending");
	CHECK_STR(rstat(run, NULL), "running");
	ok(run, "a", "{'v': 'a'}", T0 + 200);
	CHECK_STR(adv(run, T0 + 200), "j");
	ok(run, "j", NULL, T0 + 300);
	CHECK_STR(adv(run, T0 + 300), "z");
	ok(run, "z", NULL, T0 + 400);
	CHECK_STR(adv(run, T0 + 400), "");
	CHECK_STR(rstat(run, NULL), "succeeded");
	CHECK_STR(evs(), "b:succeeded:1 a:succeeded:1 j:succeeded:1 z:succeeded:1");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* several independent roots with no edges at all */
	run = mkrun("{" HEAD "'nodes': [" ACT("x") "," ACT("y") "," ACT("w") "]}", NULL, NULL);
	CHECK_INT(cJSON_GetArraySize(run->edges), 0);
	CHECK_STR(adv(run, T0), "x,y,w");
	engine_run_free(run);
	engine_events_clear(&ev);
}

/* ---------------------------------------------------------------------
 * routers, conditions, else edges, skipping
 * --------------------------------------------------------------------- */

#define ROUTER_BP \
	"{" HEAD "'nodes': [" ROUTER("r") "," ACT("big") "," ACT("small") "," \
	ACT("big2") "," ACT("big3") "," ACT("after_small") "]," \
	" 'edges': [{'from': 'r', 'to': 'big', 'condition': {'left': '{{trigger_data.n}}', 'op': 'gt', 'right': 5}}," \
	" {'from': 'r', 'to': 'small', 'else': true}," \
	" {'from': 'big', 'to': 'big2'}, {'from': 'big2', 'to': 'big3'}," \
	" {'from': 'small', 'to': 'after_small'}]}"

TEST(test_router_branches)
{
	EngineRun  *run;

	/* run 1: n = 7, conditional edge taken, else branch skipped */
	run = mkrun(ROUTER_BP, "{'n': 7}", NULL);
	CHECK_STR(adv(run, T0), "big");
	CHECK_STR(evs(), "r:succeeded:1 small:skipped:0 after_small:skipped:0");
	CHECK_STR(st(run, "r"), "succeeded");
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(nstate(run, "r"), "output"), "{}"));
	CHECK_STR(st(run, "small"), "skipped");
	CHECK_STR(st(run, "after_small"), "skipped");
	CHECK(same_json(run->edges, "[true, false, null, null, false]"));
	ok(run, "big", NULL, T0 + 1);
	CHECK_STR(adv(run, T0 + 1), "big2");
	ok(run, "big2", NULL, T0 + 2);
	CHECK_STR(adv(run, T0 + 2), "big3");
	ok(run, "big3", NULL, T0 + 3);
	CHECK_STR(adv(run, T0 + 3), "");
	CHECK_STR(rstat(run, NULL), "succeeded");
	CHECK_STR(evs(), "big:succeeded:1 big2:succeeded:1 big3:succeeded:1");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* run 2: n = 2, else taken, the whole big chain skipped */
	run = mkrun(ROUTER_BP, "{'n': 2}", NULL);
	CHECK_STR(adv(run, T0), "small");
	CHECK_STR(evs(), "r:succeeded:1 big:skipped:0 big2:skipped:0 big3:skipped:0");
	CHECK_STR(st(run, "big3"), "skipped");
	CHECK(same_json(run->edges, "[false, true, false, false, null]"));
	CHECK_STR(rstat(run, NULL), "running");
	ok(run, "small", NULL, T0 + 5);
	CHECK_STR(adv(run, T0 + 5), "after_small");
	ok(run, "after_small", NULL, T0 + 6);
	CHECK_STR(adv(run, T0 + 6), "");
	CHECK_STR(rstat(run, NULL), "succeeded");
	/* skipped events carry no data and the skip time */
	engine_run_free(run);
	engine_events_clear(&ev);

	run = mkrun(ROUTER_BP, "{'n': 2}", NULL);
	adv(run, T0 + 42);
	CHECK_INT(ev.n, 4);
	if (ev.n == 4)
	{
		CHECK_STR(ev.items[1].status, "skipped");
		CHECK(ev.items[1].input == NULL);
		CHECK(ev.items[1].output == NULL);
		CHECK(ev.items[1].error == NULL);
		CHECK(ev.items[1].started_ms == T0 + 42);
		CHECK(ev.items[1].finished_ms == T0 + 42);
	}
	engine_events_clear(&ev);
	engine_run_free(run);
	engine_events_clear(&ev);
}

TEST(test_router_multi)
{
	const char *bp = "{" HEAD "'nodes': [" ROUTER("r") "," ACT("x") "," ACT("y") "," ACT("z") "],"
		" 'edges': [{'from': 'r', 'to': 'x', 'condition': {'left': '{{trigger_data.a}}', 'op': 'eq', 'right': 1}},"
		" {'from': 'r', 'to': 'y', 'condition': {'left': '{{trigger_data.b}}', 'op': 'eq', 'right': 1}},"
		" {'from': 'r', 'to': 'z', 'else': true}]}";
	EngineRun  *run;

	/* every true conditional edge is taken; else is not */
	run = mkrun(bp, "{'a': 1, 'b': 1}", NULL);
	CHECK_STR(adv(run, T0), "x,y");
	CHECK_STR(evs(), "r:succeeded:1 z:skipped:0");
	engine_run_free(run);
	engine_events_clear(&ev);

	run = mkrun(bp, "{'a': 0, 'b': 1}", NULL);
	CHECK_STR(adv(run, T0), "y");
	CHECK_STR(evs(), "r:succeeded:1 x:skipped:0 z:skipped:0");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* no conditional edge taken: only else */
	run = mkrun(bp, "{'a': 0, 'b': 0}", NULL);
	CHECK_STR(adv(run, T0), "z");
	CHECK_STR(evs(), "r:succeeded:1 x:skipped:0 y:skipped:0");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* conditions may read the source's own output */
	run = mkrun("{" HEAD "'nodes': [" ACT("a") "," ACT("b") "," ACT("c") "],"
				" 'edges': [{'from': 'a', 'to': 'b', 'condition': {'left': '{{steps.a.output.status}}', 'op': 'eq', 'right': 200}},"
				" {'from': 'a', 'to': 'c', 'else': true}]}", NULL, NULL);
	CHECK_STR(adv(run, T0), "a");
	ok(run, "a", "{'status': 404}", T0 + 1);
	CHECK_STR(adv(run, T0 + 1), "c");
	CHECK_STR(evs(), "a:succeeded:1 b:skipped:0");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* a skipped router takes neither its conditional nor its else edge */
	run = mkrun("{" HEAD "'nodes': [" ROUTER("top") "," ACT("off") "," ROUTER("r") "," ACT("x") "," ACT("e") "],"
				" 'edges': [{'from': 'top', 'to': 'off'},"
				" {'from': 'top', 'to': 'r', 'condition': {'left': 1, 'op': 'eq', 'right': 2}},"
				" {'from': 'r', 'to': 'x', 'condition': {'left': 1, 'op': 'eq', 'right': 1}},"
				" {'from': 'r', 'to': 'e', 'else': true}]}", NULL, NULL);
	CHECK_STR(adv(run, T0), "off");
	CHECK_STR(evs(), "top:succeeded:1 r:skipped:0 x:skipped:0 e:skipped:0");
	CHECK(same_json(run->edges, "[true, false, false, false]"));
	engine_run_free(run);
	engine_events_clear(&ev);
}

TEST(test_diamond)
{
	/* r -> b (true) -> d ; r -> c (false) -> c2 -> d : d still runs */
	const char *bp = "{" HEAD "'nodes': [" ROUTER("r") "," ACT("b") "," ACT("c") "," ACT("c2") "," ACT("d") "],"
		" 'edges': [{'from': 'r', 'to': 'b', 'condition': {'left': '{{trigger_data.go_b}}', 'op': 'eq', 'right': true}},"
		" {'from': 'r', 'to': 'c', 'condition': {'left': '{{trigger_data.go_c}}', 'op': 'eq', 'right': true}},"
		" {'from': 'c', 'to': 'c2'}, {'from': 'b', 'to': 'd'}, {'from': 'c2', 'to': 'd'}]}";
	EngineRun  *run;

	run = mkrun(bp, "{'go_b': true, 'go_c': false}", NULL);
	CHECK_STR(adv(run, T0), "b");
	CHECK_STR(evs(), "r:succeeded:1 c:skipped:0 c2:skipped:0");
	/* d: one in-edge not taken, the other unresolved: wait */
	CHECK_STR(st(run, "d"), "pending");
	ok(run, "b", NULL, T0 + 1);
	CHECK_STR(adv(run, T0 + 1), "d");
	ok(run, "d", NULL, T0 + 2);
	CHECK_STR(adv(run, T0 + 2), "");
	CHECK_STR(rstat(run, NULL), "succeeded");
	CHECK_STR(evs(), "b:succeeded:1 d:succeeded:1");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* the other branch */
	run = mkrun(bp, "{'go_b': false, 'go_c': true}", NULL);
	CHECK_STR(adv(run, T0), "c");
	CHECK_STR(evs(), "r:succeeded:1 b:skipped:0");
	ok(run, "c", NULL, T0 + 1);
	CHECK_STR(adv(run, T0 + 1), "c2");
	ok(run, "c2", NULL, T0 + 2);
	CHECK_STR(adv(run, T0 + 2), "d");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* both branches: d runs once, after both */
	run = mkrun(bp, "{'go_b': true, 'go_c': true}", NULL);
	CHECK_STR(adv(run, T0), "b,c");
	ok(run, "b", NULL, T0 + 1);
	ok(run, "c", NULL, T0 + 1);
	CHECK_STR(adv(run, T0 + 1), "c2");
	ok(run, "c2", NULL, T0 + 2);
	CHECK_STR(adv(run, T0 + 2), "d");
	CHECK_STR(adv(run, T0 + 3), "");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* neither: the join is skipped too, the run succeeds */
	run = mkrun(bp, "{'go_b': false, 'go_c': false}", NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_STR(evs(), "r:succeeded:1 b:skipped:0 c:skipped:0 c2:skipped:0 d:skipped:0");
	CHECK_STR(rstat(run, NULL), "succeeded");
	engine_run_free(run);
	engine_events_clear(&ev);
}

TEST(test_condition_error)
{
	const char *bp = "{" HEAD "'nodes': [" ACT("a") "," ACT("b") "," ACT("c") "],"
		" 'edges': [{'from': 'a', 'to': 'b', 'condition': {'left': '{{steps.a.output.x}}', 'op': 'gt', 'right': 5}},"
		" {'from': 'a', 'to': 'c', 'else': true}]}";
	EngineRun  *run = mkrun(bp, NULL, NULL);
	double		due;

	CHECK_STR(adv(run, T0), "a");
	ok(run, "a", "{'x': 'text'}", T0 + 1);
	CHECK(run->failing);
	CHECK_CONTAINS(run->error, "a -> b");
	CHECK_CONTAINS(run->error, "condition on edge a -> b: cannot compare");
	CHECK_STR(rstat(run, &due), "failed");
	CHECK(due == 0);
	/* nothing more happens */
	CHECK_STR(adv(run, T0 + 2), "");
	CHECK_STR(st(run, "b"), "pending");
	CHECK_STR(st(run, "c"), "pending");
	CHECK_STR(evs(), "a:succeeded:1");
	/* the first error wins */
	engine_fail_run(run, "later");
	CHECK_CONTAINS(run->error, "a -> b");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* same with a router: fails within the advance */
	run = mkrun("{" HEAD "'nodes': [" ROUTER("r") "," ACT("x") "],"
				" 'edges': [{'from': 'r', 'to': 'x', 'condition': {'left': '{{trigger_data.s}}', 'op': 'lt', 'right': 1}}]}",
				"{'s': 'abc'}", NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_STR(rstat(run, NULL), "failed");
	CHECK_CONTAINS(run->error, "condition on edge r -> x");
	CHECK_STR(st(run, "x"), "pending");
	engine_run_free(run);
	engine_events_clear(&ev);
}

/* ---------------------------------------------------------------------
 * set nodes
 * --------------------------------------------------------------------- */

TEST(test_set_node)
{
	EngineRun  *run = mkrun("{" HEAD "'nodes': [{'id': 's', 'type': 'set', 'values':"
							" {'total': '{{trigger_data.amount}}', 'label': 'order {{trigger_data.id}}',"
							" 'nested': {'arr': ['{{trigger_data.id}}', 2]}, 'run': '{{run.id}}'}},"
							"{'id': 'b', 'type': 'action', 'service': 'http', 'task': 'request',"
							" 'params': {'url': 'https://x.test/', 'n': '{{steps.s.output.total}}'}}],"
							" 'edges': [{'from': 's', 'to': 'b'}]}",
							"{'amount': 12.5, 'id': 'o-9'}", NULL);
	char		err[FDB_ERRLEN];
	cJSON	   *p;

	CHECK_STR(adv(run, T0), "b");
	CHECK_STR(evs(), "s:succeeded:1");
	CHECK_STR(st(run, "s"), "succeeded");
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(nstate(run, "s"), "output"),
					"{'total': 12.5, 'label': 'order o-9', 'nested': {'arr': ['o-9', 2]}, 'run': 'r1'}"));
	p = engine_render_params(run, "b", err, sizeof(err));
	CHECK(same_json(p, "{'url': 'https://x.test/', 'n': 12.5}"));
	cJSON_Delete(p);
	engine_run_free(run);
	engine_events_clear(&ev);

	/* a set node without values outputs {} */
	run = mkrun("{" HEAD "'nodes': [{'id': 's', 'type': 'set'}]}", NULL, NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(nstate(run, "s"), "output"), "{}"));
	CHECK_STR(rstat(run, NULL), "succeeded");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* a missing template path fails the node and the run */
	run = mkrun("{" HEAD "'nodes': [{'id': 's', 'type': 'set', 'values': {'x': '{{trigger_data.nope}}'}},"
				ACT("b") "], 'edges': [{'from': 's', 'to': 'b'}]}", "{'yes': 1}", NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_INT(ev.n, 1);
	if (ev.n == 1)
	{
		CHECK_STR(ev.items[0].status, "failed");
		CHECK_CONTAINS(ev.items[0].error, "trigger_data.nope");
		CHECK(ev.items[0].output == NULL);
	}
	CHECK_STR(evs(), "s:failed:1");
	CHECK_STR(st(run, "s"), "failed");
	CHECK_CONTAINS(fdb_json_str(nstate(run, "s"), "error"), "trigger_data.nope");
	CHECK_STR(st(run, "b"), "pending");
	CHECK_STR(rstat(run, NULL), "failed");
	CHECK_CONTAINS(run->error, "node s failed: ");
	CHECK_CONTAINS(run->error, "trigger_data.nope");
	CHECK_STR(adv(run, T0 + 1), "");
	engine_run_free(run);
	engine_events_clear(&ev);
}

/*
 * test_state_cap: chained set nodes that each output ten copies of the
 * previous output (the poison blueprint of issue 8) fail with a clear
 * error once the value or the run state would pass its cap.
 */
TEST(test_state_cap)
{
	char		bp[4096];
	char		node[256];
	EngineRun  *run;
	int			len;

	len = snprintf(bp, sizeof(bp), "{" HEAD "'nodes': [{'id': 's0', 'type': 'set', "
				   "'values': {'v': '0123456789'}}");
	for (int i = 1; i < 8; i++)
	{
		snprintf(node, sizeof(node), ", {'id': 's%d', 'type': 'set', 'values': {'v': '"
				 "{{steps.s%d.output.v}}{{steps.s%d.output.v}}{{steps.s%d.output.v}}"
				 "{{steps.s%d.output.v}}{{steps.s%d.output.v}}'}}",
				 i, i - 1, i - 1, i - 1, i - 1, i - 1);
		len += snprintf(bp + len, sizeof(bp) - len, "%s", node);
	}
	len += snprintf(bp + len, sizeof(bp) - len, "], 'edges': [");
	for (int i = 1; i < 8; i++)
		len += snprintf(bp + len, sizeof(bp) - len, "%s{'from': 's%d', 'to': 's%d'}",
						i > 1 ? ", " : "", i - 1, i);
	snprintf(bp + len, sizeof(bp) - len, "]}");

	/* the value cap: s5 would be 10 * 5^5 = 31250 bytes */
	tmpl_max_bytes = 20000;
	run = mkrun(bp, NULL, NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_STR(evs(), "s0:succeeded:1 s1:succeeded:1 s2:succeeded:1 s3:succeeded:1 "
			  "s4:succeeded:1 s5:failed:1");
	CHECK_STR(rstat(run, NULL), "failed");
	CHECK_CONTAINS(run->error, "node s5 failed: rendered value larger than 20000 bytes");
	engine_run_free(run);
	engine_events_clear(&ev);
	tmpl_max_bytes = 0;

	/* the state cap: s0..s4 hold 10+50+250+1250+6250 bytes of values */
	engine_config.max_state_bytes = 7000;
	run = mkrun(bp, NULL, NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_STR(evs(), "s0:succeeded:1 s1:succeeded:1 s2:succeeded:1 s3:succeeded:1 "
			  "s4:failed:1");
	CHECK_CONTAINS(run->error, "node s4 failed: the run's state would be larger than 7000 bytes");
	CHECK_STR(rstat(run, NULL), "failed");

	/* dropping outputs of an oversized run keeps statuses */
	engine_fail_oversized(run, "too big");
	CHECK(cJSON_GetObjectItemCaseSensitive(nstate(run, "s1"), "output") == NULL);
	CHECK_STR(st(run, "s1"), "succeeded");
	CHECK_CONTAINS(fdb_json_str(run->state, "error"), "node s4 failed");
	engine_run_free(run);
	engine_events_clear(&ev);
	engine_config.max_state_bytes = 0;
}

TEST(test_unknown_type_and_defaults)
{
	EngineRun  *run;
	char		err[FDB_ERRLEN];
	cJSON	   *p;

	/* an unknown type fails the node */
	run = mkrun("{" HEAD "'nodes': [{'id': 'q', 'type': 'bogus'}]}", NULL, NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_STR(evs(), "q:failed:1");
	CHECK_STR(run->error, "node q failed: unknown node type \"bogus\"");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* a node without a type is an action; without params renders to {} */
	run = mkrun("{" HEAD "'nodes': [{'id': 'q'}]}", NULL, NULL);
	CHECK_STR(adv(run, T0), "q");
	p = engine_render_params(run, "q", err, sizeof(err));
	CHECK(same_json(p, "{}"));
	cJSON_Delete(p);
	p = engine_render_params(run, "no-such-node", err, sizeof(err));
	CHECK(same_json(p, "{}"));
	cJSON_Delete(p);
	/* accessors of a node without state */
	CHECK_INT(engine_node_attempt(run, "zz"), 1);
	CHECK_INT(engine_node_phase(run, "zz"), 0);
	CHECK_INT(engine_node_phase(run, "q"), 0);
	engine_run_free(run);
	engine_events_clear(&ev);

	/* params with a missing path: NULL with the path in err */
	run = mkrun("{" HEAD "'nodes': [{'id': 'q', 'type': 'action', 'params': {'u': '{{steps.zz.output}}'}}]}",
				NULL, NULL);
	CHECK_STR(adv(run, T0), "q");
	err[0] = '\0';
	p = engine_render_params(run, "q", err, sizeof(err));
	CHECK(p == NULL);
	CHECK_CONTAINS(err, "steps.zz");
	engine_run_free(run);
	engine_events_clear(&ev);

	engine_run_free(NULL);
	engine_free_dispatch(NULL, 0);
}

TEST(test_context)
{
	EngineRun  *run = engine_run_new("r-7", "wf-3",
									 JQ("{'version': 1, 'name': 'My flow', 'trigger': {'type': 'manual'},"
									   " 'nodes': [" ACT("a") "," ACT("b") "], 'edges': [{'from': 'a', 'to': 'b'}]}"),
									 JQ("{'k': [1, 2]}"),
									 JQ("{'nodes': {}, 'retries': 2}"));
	cJSON	   *ctx;

	CHECK_STR(adv(run, T0), "a");
	fail(run, "a", "e1", true, 0, T0 + 1);
	CHECK_STR(adv(run, T0 + 1), "a");
	ctx = engine_context(run, "a");
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(ctx, "trigger_data"), "{'k': [1, 2]}"));
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(ctx, "run"), "{'id': 'r-7', 'attempt': 2, 'retries': 2}"));
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(ctx, "workflow"), "{'id': 'wf-3', 'name': 'My flow'}"));
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(ctx, "steps"), "{'a': {'status': 'running'}}"));
	engine_context_free(ctx);
	ok(run, "a", "{'o': 1}", T0 + 2);
	ctx = engine_context(run, NULL);
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(ctx, "steps"),
					"{'a': {'output': {'o': 1}, 'status': 'succeeded'}}"));
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(ctx, "run"), "{'id': 'r-7', 'attempt': 1, 'retries': 2}"));
	engine_context_free(ctx);
	/* the context only referenced the run's data */
	CHECK(same_json(run->payload, "{'k': [1, 2]}"));
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(nstate(run, "a"), "output"), "{'o': 1}"));
	engine_run_free(run);
	engine_events_clear(&ev);

	/* ad hoc run: workflow.id is null */
	run = mkrun("{" HEAD "'nodes': [" ACT("a") "]}", NULL, NULL);
	ctx = engine_context(run, NULL);
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(ctx, "workflow"), "{'id': null, 'name': 'wf'}"));
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(ctx, "trigger_data"), "{}"));
	engine_context_free(ctx);
	engine_run_free(run);
	engine_events_clear(&ev);
}

/* ---------------------------------------------------------------------
 * retries
 * --------------------------------------------------------------------- */

TEST(test_retry_backoff)
{
	EngineRun  *run = mkrun("{" HEAD "'nodes': [" ACT_RETRY("a", "{'max_attempts': 3, 'backoff_ms': 100}")
							"," ACT("b") "], 'edges': [{'from': 'a', 'to': 'b'}]}", NULL, NULL);
	double		due;

	CHECK_STR(adv(run, T0), "a");
	CHECK_INT(engine_node_attempt(run, "a"), 1);

	/* attempt 1 fails: due = now + 100 * 2^0 * (0.75 + 0.5 * 0.5) */
	engine_action_failed(run, "a", JQ("{'in': 1}"), "HTTP 503", true, -1, T0, T0 + 10, &ev);
	CHECK_INT(ev.n, 1);
	if (ev.n == 1)
	{
		CHECK_STR(ev.items[0].status, "retrying");
		CHECK_STR(ev.items[0].error, "HTTP 503");
		CHECK(same_json(ev.items[0].input, "{'in': 1}"));
		CHECK(ev.items[0].output == NULL);
		CHECK(ev.items[0].started_ms == T0);
		CHECK(ev.items[0].finished_ms == T0 + 10);
	}
	CHECK_STR(evs(), "a:retrying:1");
	CHECK_STR(st(run, "a"), "retrying");
	CHECK(nnum(run, "a", "due") == T0 + 110);
	CHECK_STR(fdb_json_str(nstate(run, "a"), "error"), "HTTP 503");
	CHECK_INT(engine_inflight(run), 0);
	CHECK_STR(rstat(run, &due), "retrying");
	CHECK(due == T0 + 110);
	CHECK(!run->failing);

	/* not before due */
	CHECK_STR(adv(run, T0 + 109), "");
	CHECK_STR(st(run, "a"), "retrying");
	CHECK_INT(engine_node_attempt(run, "a"), 1);
	/* at due, attempt 2 */
	CHECK_STR(adv(run, T0 + 110), "a");
	CHECK_INT(engine_node_attempt(run, "a"), 2);
	CHECK(nstate(run, "a") && !cJSON_HasObjectItem(nstate(run, "a"), "due"));
	CHECK(nnum(run, "a", "started") == T0 + 110);
	CHECK_STR(rstat(run, &due), "running");

	/* attempt 2 fails: 100 * 2^1 */
	fail(run, "a", "HTTP 502", true, -1, T0 + 200);
	CHECK_STR(evs(), "a:retrying:2");
	CHECK(nnum(run, "a", "due") == T0 + 400);
	CHECK_STR(adv(run, T0 + 399), "");
	CHECK_STR(adv(run, T0 + 500), "a");	/* late is fine */
	CHECK_INT(engine_node_attempt(run, "a"), 3);

	/* attempt 3 = max_attempts: failed for good */
	fail(run, "a", "HTTP 500", true, -1, T0 + 600);
	CHECK_INT(ev.n, 1);
	if (ev.n == 1)
	{
		CHECK_STR(ev.items[0].error, "HTTP 500");
		CHECK(ev.items[0].finished_ms == T0 + 600);
	}
	CHECK_STR(evs(), "a:failed:3");
	CHECK_STR(st(run, "a"), "failed");
	CHECK_STR(fdb_json_str(nstate(run, "a"), "error"), "HTTP 500");
	CHECK(nstate(run, "a") && !cJSON_HasObjectItem(nstate(run, "a"), "due"));
	CHECK_STR(rstat(run, &due), "failed");
	CHECK(due == 0);
	CHECK_STR(run->error, "node a failed: HTTP 500");
	CHECK_STR(adv(run, T0 + 10000), "");
	CHECK_STR(st(run, "b"), "pending");
	engine_run_free(run);
	engine_events_clear(&ev);
}

TEST(test_retry_variants)
{
	EngineRun  *run;
	double		due;

	/* retry_after_s overrides backoff (and jitter) */
	run = mkrun("{" HEAD "'nodes': [" ACT_RETRY("a", "{'max_attempts': 5, 'backoff_ms': 100}") "]}", NULL, NULL);
	adv(run, T0);
	fail(run, "a", "429", true, 2, T0 + 10);
	CHECK(nnum(run, "a", "due") == T0 + 2010);
	CHECK_STR(rstat(run, &due), "retrying");
	CHECK(due == T0 + 2010);
	CHECK_STR(adv(run, T0 + 2009), "");
	CHECK_STR(adv(run, T0 + 2010), "a");
	CHECK_INT(engine_node_attempt(run, "a"), 2);
	/* Retry-After: 0 is due at once */
	fail(run, "a", "429", true, 0, T0 + 3000);
	CHECK(nnum(run, "a", "due") == T0 + 3000);
	CHECK_STR(adv(run, T0 + 3000), "a");
	CHECK_INT(engine_node_attempt(run, "a"), 3);
	/* success after retries: error cleared, attempt logged */
	ok(run, "a", "{'fine': true}", T0 + 3100);
	CHECK_STR(evs(), "a:retrying:1 a:retrying:2 a:succeeded:3");
	CHECK(nstate(run, "a") && !cJSON_HasObjectItem(nstate(run, "a"), "error"));
	CHECK_INT(engine_node_attempt(run, "a"), 3);
	CHECK_STR(rstat(run, NULL), "succeeded");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* jitter bounds: random 0 -> 75 %, random 0.999 -> 124.95 % */
	engine_config.random01 = rand_zero;
	run = mkrun("{" HEAD "'nodes': [" ACT_RETRY("a", "{'max_attempts': 5, 'backoff_ms': 1000}") "]}", NULL, NULL);
	adv(run, T0);
	fail(run, "a", "x", true, -1, T0);
	CHECK(nnum(run, "a", "due") == T0 + 750);
	engine_config.random01 = rand_high;
	adv(run, T0 + 750);
	fail(run, "a", "x", true, -1, T0 + 1000);
	CHECK(nnum(run, "a", "due") == T0 + 1000 + 2000 * (0.75 + 0.5 * 0.999));
	engine_config.random01 = rand_half;
	evs();
	engine_run_free(run);
	engine_events_clear(&ev);

	/* no backoff_ms: engine_config.retry_base_ms; cap at retry_max_ms */
	run = mkrun("{" HEAD "'nodes': [" ACT_RETRY("a", "{'max_attempts': 10}") "]}", NULL, NULL);
	adv(run, T0);
	fail(run, "a", "x", true, -1, T0);
	CHECK(nnum(run, "a", "due") == T0 + 1000);
	engine_config.retry_max_ms = 3000;
	adv(run, T0 + 1000);
	fail(run, "a", "x", true, -1, T0 + 1000);
	CHECK(nnum(run, "a", "due") == T0 + 1000 + 2000);
	adv(run, T0 + 3000);
	fail(run, "a", "x", true, -1, T0 + 3000);
	CHECK(nnum(run, "a", "due") == T0 + 3000 + 3000);	/* 4000 capped */
	adv(run, T0 + 6000);
	fail(run, "a", "x", true, 3600, T0 + 6000);
	CHECK(nnum(run, "a", "due") == T0 + 6000 + 3000);	/* Retry-After capped too */
	engine_config.retry_max_ms = 3600000.0;
	evs();
	engine_run_free(run);
	engine_events_clear(&ev);

	/* non-retryable: failed at once */
	run = mkrun("{" HEAD "'nodes': [" ACT_RETRY("a", "{'max_attempts': 5, 'backoff_ms': 100}") "]}", NULL, NULL);
	adv(run, T0);
	fail(run, "a", "HTTP 400", false, -1, T0 + 5);
	CHECK_STR(evs(), "a:failed:1");
	CHECK_STR(rstat(run, NULL), "failed");
	CHECK_STR(run->error, "node a failed: HTTP 400");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* default max attempts: 3 */
	run = mkrun("{" HEAD "'nodes': [" ACT("a") "]}", NULL, NULL);
	CHECK_INT(ENGINE_DEFAULT_ATTEMPTS, 3);
	adv(run, T0);
	fail(run, "a", "e", true, -1, T0);
	CHECK(nnum(run, "a", "due") == T0 + 1000);	/* default base 1 s */
	CHECK_STR(adv(run, T0 + 1000), "a");
	fail(run, "a", "e", true, -1, T0 + 1000);
	CHECK(nnum(run, "a", "due") == T0 + 3000);
	CHECK_STR(adv(run, T0 + 3000), "a");
	fail(run, "a", "e", true, -1, T0 + 3000);
	CHECK_STR(evs(), "a:retrying:1 a:retrying:2 a:failed:3");
	CHECK_STR(rstat(run, NULL), "failed");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* max_attempts 1: the first retryable failure is final */
	run = mkrun("{" HEAD "'nodes': [" ACT_RETRY("a", "{'max_attempts': 1}") "]}", NULL, NULL);
	adv(run, T0);
	fail(run, "a", "e", true, -1, T0);
	CHECK_STR(evs(), "a:failed:1");
	CHECK_STR(rstat(run, NULL), "failed");
	engine_run_free(run);
	engine_events_clear(&ev);
}

TEST(test_inflight_when_failing)
{
	EngineRun  *run = mkrun("{" HEAD "'nodes': [" ACT("a") "," ACT("b") "," ACT("c") "," ACT("d") "],"
							" 'edges': [{'from': 'b', 'to': 'c'}]}", NULL, NULL);
	double		due;

	CHECK_STR(adv(run, T0), "a,b,d");
	fail(run, "a", "boom", false, -1, T0 + 1);
	CHECK(run->failing);
	/* b and d still in flight: the run is still running */
	CHECK_STR(rstat(run, &due), "running");
	CHECK_INT(engine_inflight(run), 2);
	CHECK_STR(adv(run, T0 + 2), "");
	ok(run, "b", "{'v': 1}", T0 + 3);
	/* b's result is kept, but c is not started */
	CHECK_STR(st(run, "b"), "succeeded");
	CHECK_STR(adv(run, T0 + 3), "");
	CHECK_STR(st(run, "c"), "pending");
	CHECK_STR(rstat(run, &due), "running");
	/* d fails retryably: no retry is run for a failing run */
	fail(run, "d", "flaky", true, -1, T0 + 4);
	CHECK_STR(rstat(run, &due), "failed");
	CHECK_STR(adv(run, T0 + 100000), "");
	CHECK_STR(run->error, "node a failed: boom");
	CHECK_STR(evs(), "a:failed:1 b:succeeded:1 d:retrying:1");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* the in-flight node fails too: the first error wins */
	run = mkrun("{" HEAD "'nodes': [" ACT("a") "," ACT("b") "]}", NULL, NULL);
	CHECK_STR(adv(run, T0), "a,b");
	fail(run, "b", "first", false, -1, T0 + 1);
	CHECK_STR(rstat(run, NULL), "running");
	fail(run, "a", "second", false, -1, T0 + 2);
	CHECK_STR(rstat(run, NULL), "failed");
	CHECK_STR(run->error, "node b failed: first");
	CHECK_STR(evs(), "b:failed:1 a:failed:1");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* engine_fail_run from outside (e.g. unparsable blueprint) */
	run = mkrun("{" HEAD "'nodes': [" ACT("a") "]}", NULL, NULL);
	engine_fail_run(run, "blueprint could not be parsed");
	CHECK_STR(adv(run, T0), "");
	CHECK_STR(rstat(run, NULL), "failed");
	CHECK_STR(run->error, "blueprint could not be parsed");
	engine_run_free(run);
	engine_events_clear(&ev);
}

/* ---------------------------------------------------------------------
 * recovery, phases, idempotency keys
 * --------------------------------------------------------------------- */

TEST(test_recover)
{
	EngineRun  *run = mkrun("{" HEAD "'nodes': [" ACT("a") "," ACT("b") "," ACT("c") "],"
							" 'edges': [{'from': 'a', 'to': 'c'}, {'from': 'b', 'to': 'c'}]}", NULL,
							"{'nodes': {'a': {'status': 'running', 'attempt': 2, 'started': 5},"
							" 'b': {'status': 'succeeded', 'attempt': 1, 'output': {}}},"
							" 'edges': [true, true]}");
	char	   *k0;
	char	   *k1;

	engine_recover(run);
	CHECK_STR(st(run, "a"), "pending");
	CHECK(nnum(run, "a", "attempt") == 1);
	/* edge out of the unfinished a reset; out of the succeeded b kept */
	CHECK(same_json(run->edges, "[null, true]"));
	CHECK_INT(engine_inflight(run), 0);
	CHECK_STR(rstat(run, NULL), "running");

	/* re-dispatched with the same attempt number and key */
	CHECK_STR(adv(run, T0), "a");
	CHECK_INT(engine_node_attempt(run, "a"), 2);
	k0 = engine_idempotency_key(run, "a", engine_node_phase(run, "a"));
	CHECK_STR(k0, "flowdb-r1-a");
	k1 = engine_idempotency_key(run, "a", 1);
	CHECK_STR(k1, "flowdb-r1-a-p1");
	free(k0);
	free(k1);
	ok(run, "a", NULL, T0 + 1);
	CHECK_STR(evs(), "a:succeeded:2");
	CHECK_STR(adv(run, T0 + 1), "c");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* a run with nothing running is unchanged by recover */
	run = mkrun("{" HEAD "'nodes': [" ACT("a") "]}", NULL,
				"{'nodes': {'a': {'status': 'retrying', 'attempt': 1, 'due': 7}}, 'edges': []}");
	engine_recover(run);
	CHECK_STR(st(run, "a"), "retrying");
	CHECK(nnum(run, "a", "attempt") == 1);
	CHECK(nnum(run, "a", "due") == 7);
	engine_run_free(run);
	engine_events_clear(&ev);

	/* a running node without attempt field recovers to attempt 0 -> 1 */
	run = mkrun("{" HEAD "'nodes': [" ACT("a") "]}", NULL, "{'nodes': {'a': {'status': 'running'}}}");
	engine_recover(run);
	CHECK_STR(adv(run, T0), "a");
	CHECK_INT(engine_node_attempt(run, "a"), 1);
	engine_run_free(run);
	engine_events_clear(&ev);

	/* the key does not depend on the attempt or on the workflow */
	run = engine_run_new("0b1e-77", "wf", JQ("{" HEAD "'nodes': [" ACT("a") "]}"), NULL, NULL);
	k0 = engine_idempotency_key(run, "a", 0);
	CHECK_STR(k0, "flowdb-0b1e-77-a");
	free(k0);
	k0 = engine_idempotency_key(run, "a", 3);
	CHECK_STR(k0, "flowdb-0b1e-77-a-p3");
	free(k0);
	engine_run_free(run);
	engine_events_clear(&ev);
}

TEST(test_phases)
{
	EngineRun  *run = mkrun("{" HEAD "'nodes': [" ACT("a") "," ACT("b") "], 'edges': [{'from': 'a', 'to': 'b'}]}",
							NULL, NULL);
	cJSON	   *ps;
	char	   *key;
	double		due;

	CHECK_STR(adv(run, T0), "a");
	CHECK_INT(engine_node_phase(run, "a"), 0);
	ps = engine_node_phase_state(run, "a");
	CHECK(cJSON_IsObject(ps));
	CHECK(engine_node_phase_state(run, "a") == ps);	/* created once */
	cJSON_AddStringToObject(ps, "upload_id", "u-1");

	/* phase 0 done: the next request only after the state is committed */
	engine_node_set_phase(run, "a", 1);
	CHECK_INT(engine_node_phase(run, "a"), 1);
	CHECK_STR(st(run, "a"), "retrying");
	CHECK_INT(engine_inflight(run), 0);
	CHECK_STR(rstat(run, &due), "retrying");
	CHECK(due > 0 && due <= T0);	/* due at once */
	CHECK_STR(evs(), "");

	/* survives a commit / reload */
	run = reincarnate(run, true);
	CHECK_STR(adv(run, T0 + 5), "a");
	CHECK_INT(engine_node_attempt(run, "a"), 1);	/* same attempt */
	CHECK_INT(engine_node_phase(run, "a"), 1);
	CHECK(same_json(engine_node_phase_state(run, "a"), "{'upload_id': 'u-1'}"));
	key = engine_idempotency_key(run, "a", engine_node_phase(run, "a"));
	CHECK_STR(key, "flowdb-r1-a-p1");
	free(key);

	/* crash during phase 1: same attempt, same phase */
	run = reincarnate(run, true);
	CHECK_STR(st(run, "a"), "pending");
	CHECK_STR(adv(run, T0 + 6), "a");
	CHECK_INT(engine_node_attempt(run, "a"), 1);
	CHECK_INT(engine_node_phase(run, "a"), 1);

	/* a retryable failure in phase 1 retries phase 1 with attempt 2 */
	fail(run, "a", "HTTP 503", true, -1, T0 + 10);
	CHECK(nnum(run, "a", "due") == T0 + 1010);
	CHECK_STR(adv(run, T0 + 1010), "a");
	CHECK_INT(engine_node_attempt(run, "a"), 2);
	CHECK_INT(engine_node_phase(run, "a"), 1);
	CHECK(same_json(engine_node_phase_state(run, "a"), "{'upload_id': 'u-1'}"));

	/* phase 2, then done: phase data dropped */
	engine_node_set_phase(run, "a", 2);
	CHECK_STR(adv(run, T0 + 1011), "a");
	CHECK_INT(engine_node_attempt(run, "a"), 2);
	CHECK_INT(engine_node_phase(run, "a"), 2);
	ok(run, "a", "{'id': 'media-1'}", T0 + 1100);
	CHECK_STR(evs(), "a:retrying:1 a:succeeded:2");
	CHECK(!cJSON_HasObjectItem(nstate(run, "a"), "phase"));
	CHECK(!cJSON_HasObjectItem(nstate(run, "a"), "phase_state"));
	CHECK_INT(engine_node_phase(run, "a"), 0);
	CHECK_STR(adv(run, T0 + 1100), "b");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* a phase_state that is not an object is replaced */
	run = mkrun("{" HEAD "'nodes': [" ACT("a") "]}", NULL,
				"{'nodes': {'a': {'status': 'running', 'attempt': 1, 'phase_state': [1]}}}");
	CHECK(same_json(engine_node_phase_state(run, "a"), "{}"));
	engine_run_free(run);
	engine_events_clear(&ev);
}

/* ---------------------------------------------------------------------
 * delay
 * --------------------------------------------------------------------- */

TEST(test_delay_seconds)
{
	const char *bp = "{" HEAD "'nodes': [{'id': 'd', 'type': 'delay', 'seconds': 60}," ACT("b") "],"
		" 'edges': [{'from': 'd', 'to': 'b'}]}";
	EngineRun  *run = mkrun(bp, NULL, NULL);
	double		due;

	CHECK_STR(adv(run, T0), "");
	CHECK_STR(st(run, "d"), "waiting");
	CHECK(nnum(run, "d", "due") == T0 + 60000);
	CHECK(nnum(run, "d", "since") == T0);
	CHECK_STR(rstat(run, &due), "waiting");
	CHECK(due == T0 + 60000);
	CHECK(!engine_waiting_for_event(run));
	CHECK_INT(engine_inflight(run), 0);
	CHECK_STR(evs(), "");

	CHECK_STR(adv(run, T0 + 59999), "");
	CHECK_STR(st(run, "d"), "waiting");
	CHECK_STR(adv(run, T0 + 60000), "b");
	CHECK_STR(st(run, "d"), "succeeded");
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(nstate(run, "d"), "output"), "{'waited_ms': 60000}"));
	CHECK(!cJSON_HasObjectItem(nstate(run, "d"), "due"));
	CHECK_INT(ev.n, 1);
	if (ev.n == 1)
	{
		CHECK(ev.items[0].started_ms == T0);
		CHECK(ev.items[0].finished_ms == T0 + 60000);
		CHECK(same_json(ev.items[0].output, "{'waited_ms': 60000}"));
	}
	CHECK_STR(evs(), "d:succeeded:1");
	CHECK_STR(rstat(run, &due), "running");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* woken late: waited_ms is the real wait */
	run = mkrun(bp, NULL, NULL);
	adv(run, T0);
	CHECK_STR(adv(run, T0 + 61500), "b");
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(nstate(run, "d"), "output"), "{'waited_ms': 61500}"));
	evs();
	engine_run_free(run);
	engine_events_clear(&ev);

	/* fractional seconds */
	run = mkrun("{" HEAD "'nodes': [{'id': 'd', 'type': 'delay', 'seconds': 0.5}]}", NULL, NULL);
	adv(run, T0);
	CHECK(nnum(run, "d", "due") == T0 + 500);
	CHECK_STR(adv(run, T0 + 500), "");
	CHECK_STR(rstat(run, NULL), "succeeded");
	evs();
	engine_run_free(run);
	engine_events_clear(&ev);

	/* the earliest due wins in run status */
	run = mkrun("{" HEAD "'nodes': [{'id': 'd1', 'type': 'delay', 'seconds': 30},"
				"{'id': 'd2', 'type': 'delay', 'seconds': 10}," ACT_RETRY("a", "{'backoff_ms': 20000}") "]}",
				NULL, NULL);
	CHECK_STR(adv(run, T0), "a");
	CHECK_STR(rstat(run, &due), "running");
	CHECK(due == T0 + 10000);
	fail(run, "a", "x", true, -1, T0);
	/* retrying wins over waiting */
	CHECK_STR(rstat(run, &due), "retrying");
	CHECK(due == T0 + 10000);
	CHECK_STR(adv(run, T0 + 10000), "");
	CHECK_STR(rstat(run, &due), "retrying");
	CHECK(due == T0 + 20000);
	evs();
	engine_run_free(run);
	engine_events_clear(&ev);
}

TEST(test_delay_until)
{
	EngineRun  *run;
	double		due;

	/* literal ISO timestamp */
	run = mkrun("{" HEAD "'nodes': [{'id': 'd', 'type': 'delay', 'until': '2026-01-01T00:10:00Z'}," ACT("b") "],"
				" 'edges': [{'from': 'd', 'to': 'b'}]}", NULL, NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK(nnum(run, "d", "due") == T0 + 600000);
	CHECK_STR(rstat(run, &due), "waiting");
	CHECK(due == T0 + 600000);
	CHECK_STR(adv(run, T0 + 599999), "");
	CHECK_STR(adv(run, T0 + 600000), "b");
	CHECK_STR(evs(), "d:succeeded:1");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* template from trigger_data, with an offset */
	run = mkrun("{" HEAD "'nodes': [{'id': 'd', 'type': 'delay', 'until': '{{trigger_data.when}}'}]}",
				"{'when': '2026-01-01T06:00:00+05:30'}", NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK(nnum(run, "d", "due") == T0 + 1800000);
	CHECK_STR(adv(run, T0 + 1800000), "");
	CHECK_STR(rstat(run, NULL), "succeeded");
	CHECK_STR(evs(), "d:succeeded:1");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* embedded template */
	run = mkrun("{" HEAD "'nodes': [{'id': 'd', 'type': 'delay', 'until': '{{trigger_data.day}}T00:01:00Z'}]}",
				"{'day': '2026-01-01'}", NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK(nnum(run, "d", "due") == T0 + 60000);
	engine_run_free(run);
	engine_events_clear(&ev);

	/* a time in the past: done at once, successor dispatched */
	run = mkrun("{" HEAD "'nodes': [{'id': 'd', 'type': 'delay', 'until': '2020-01-01T00:00:00Z'}," ACT("b") "],"
				" 'edges': [{'from': 'd', 'to': 'b'}]}", NULL, NULL);
	CHECK_STR(adv(run, T0), "b");
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(nstate(run, "d"), "output"), "{'waited_ms': 0}"));
	CHECK_STR(evs(), "d:succeeded:1");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* invalid timestamps fail the node and the run */
	run = mkrun("{" HEAD "'nodes': [{'id': 'd', 'type': 'delay', 'until': '{{trigger_data.when}}'}," ACT("b") "],"
				" 'edges': [{'from': 'd', 'to': 'b'}]}", "{'when': 'tomorrow'}", NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_STR(evs(), "d:failed:1");
	CHECK_STR(st(run, "d"), "failed");
	CHECK_STR(fdb_json_str(nstate(run, "d"), "error"),
			  "delay until: \"tomorrow\" is not an ISO 8601 timestamp");
	CHECK_STR(run->error, "node d failed: delay until: \"tomorrow\" is not an ISO 8601 timestamp");
	CHECK_STR(rstat(run, NULL), "failed");
	CHECK_STR(st(run, "b"), "pending");
	engine_run_free(run);
	engine_events_clear(&ev);

	run = mkrun("{" HEAD "'nodes': [{'id': 'd', 'type': 'delay', 'until': '{{trigger_data.when}}'}]}",
				"{'when': 1767225600000}", NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_STR(run->error, "node d failed: delay until: \"1767225600000\" is not an ISO 8601 timestamp");
	evs();
	engine_run_free(run);
	engine_events_clear(&ev);

	run = mkrun("{" HEAD "'nodes': [{'id': 'd', 'type': 'delay', 'until': '2026-13-01T00:00:00Z'}]}", NULL, NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_CONTAINS(run->error, "is not an ISO 8601 timestamp");
	evs();
	engine_run_free(run);
	engine_events_clear(&ev);

	/* missing template path */
	run = mkrun("{" HEAD "'nodes': [{'id': 'd', 'type': 'delay', 'until': '{{trigger_data.nope}}'}]}", "{}", NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_CONTAINS(run->error, "node d failed: ");
	CHECK_CONTAINS(run->error, "trigger_data.nope");
	evs();
	engine_run_free(run);
	engine_events_clear(&ev);

	/* neither seconds nor until */
	run = mkrun("{" HEAD "'nodes': [{'id': 'd', 'type': 'delay'}]}", NULL, NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_STR(run->error, "node d failed: delay needs seconds or until");
	evs();
	engine_run_free(run);
	engine_events_clear(&ev);
}

/*
 * A delay "until" that the blueprint validator accepts must be usable at
 * run time (otherwise a saved workflow fails on every run), and mean the
 * instant it says: each stamp is valid and parses to its epoch ms.
 */
TEST(test_delay_until_validator_agrees)
{
	static const struct
	{
		const char *stamp;
		double		ms;
	}			stamps[] = {
		/* comma fraction */
		{"2030-01-01T00:00:00,5Z", 1893456000500.0},
		/* offset hour 15..23 */
		{"2030-01-01T00:00:00+15:00", 1893402000000.0},
		/* offset without a colon */
		{"2030-01-01T00:00:00-2300", 1893538800000.0},
		{"2030-01-01T00:00:00.5+05:30", 1893436200500.0},
		/* space separator, no seconds, no zone: UTC */
		{"2030-12-31 23:59", 1924991940000.0},
	};

	for (size_t i = 0; i < sizeof(stamps) / sizeof(stamps[0]); i++)
	{
		char		bp[1024];
		cJSON	   *b;
		FdbErrors	e;
		double		ms = -1;

		snprintf(bp, sizeof(bp),
				 "{" HEAD "'nodes': [{'id': 'd', 'type': 'delay', 'until': '%s'}]}",
				 stamps[i].stamp);
		b = JQ(bp);
		fdb_errors_init(&e);
		CHECK(bp_validate(b, &e));
		fdb_errors_free(&e);
		cJSON_Delete(b);
		CHECK(engine_parse_time(stamps[i].stamp, &ms));
		CHECK_INT(ms, stamps[i].ms);
	}
}

/* ---------------------------------------------------------------------
 * wait_event
 * --------------------------------------------------------------------- */

#define WAIT_BP(extra) \
	"{" HEAD "'nodes': [" ACT("create") "," \
	"{'id': 'w', 'type': 'wait_event', 'event': 'shop.paid'," \
	" 'match': {'payment': '{{trigger_data.id}}', 'invoice': '{{steps.create.output.id}}', 'fixed': 1}" extra "}," \
	ACT("thanks") "," ACT("remind") "]," \
	" 'edges': [{'from': 'create', 'to': 'w'}, {'from': 'w', 'to': 'thanks'," \
	" 'condition': {'left': '{{steps.w.output.timed_out}}', 'op': 'empty'}}," \
	" {'from': 'w', 'to': 'remind', 'else': true}]}"

TEST(test_wait_event_resume)
{
	EngineRun  *run = mkrun(WAIT_BP(", 'timeout_seconds': 3600"), "{'id': 'pay_1'}", NULL);
	double		due;

	CHECK(!engine_waiting_for_event(run));
	CHECK_STR(adv(run, T0), "create");
	ok(run, "create", "{'id': 'inv_9'}", T0 + 100);
	CHECK_STR(adv(run, T0 + 100), "");
	CHECK_STR(st(run, "w"), "waiting");
	CHECK_STR(fdb_json_str(nstate(run, "w"), "event"), "shop.paid");
	/* the match is rendered when the wait starts */
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(nstate(run, "w"), "match"),
					"{'payment': 'pay_1', 'invoice': 'inv_9', 'fixed': 1}"));
	CHECK(nnum(run, "w", "due") == T0 + 100 + 3600000);
	CHECK(nnum(run, "w", "since") == T0 + 100);
	CHECK(engine_waiting_for_event(run));
	CHECK_STR(rstat(run, &due), "waiting");
	CHECK(due == T0 + 100 + 3600000);
	CHECK_STR(adv(run, T0 + 5000), "");
	CHECK_STR(evs(), "create:succeeded:1");

	/* the event arrives (SQL marks the node resumed) */
	resume(run, "w", "{'amount': 10, 'payment': 'pay_1'}");
	CHECK(!engine_waiting_for_event(run));
	CHECK_STR(rstat(run, &due), "running");
	CHECK_STR(adv(run, T0 + 6000), "thanks");
	CHECK_STR(st(run, "w"), "succeeded");
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(nstate(run, "w"), "output"),
					"{'amount': 10, 'payment': 'pay_1'}"));
	CHECK_INT(ev.n, 2);
	if (ev.n == 2)
	{
		CHECK_STR(ev.items[0].node_id, "w");
		CHECK(same_json(ev.items[0].output, "{'amount': 10, 'payment': 'pay_1'}"));
		CHECK(ev.items[0].started_ms == T0 + 100);
		CHECK(ev.items[0].finished_ms == T0 + 6000);
	}
	CHECK_STR(evs(), "w:succeeded:1 remind:skipped:0");
	CHECK(!engine_waiting_for_event(run));
	ok(run, "thanks", NULL, T0 + 7000);
	CHECK_STR(adv(run, T0 + 7000), "");
	CHECK_STR(rstat(run, NULL), "succeeded");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* resumed without data: output {} */
	run = mkrun("{" HEAD "'nodes': [{'id': 'w', 'type': 'wait_event', 'event': 'a.b'}," ACT("n") "],"
				" 'edges': [{'from': 'w', 'to': 'n'}]}", NULL, NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK(!cJSON_HasObjectItem(nstate(run, "w"), "match"));
	cJSON_DeleteItemFromObjectCaseSensitive(nstate(run, "w"), "status");
	cJSON_AddStringToObject(nstate(run, "w"), "status", "resumed");
	CHECK_STR(adv(run, T0 + 1), "n");
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(nstate(run, "w"), "output"), "{}"));
	evs();
	engine_run_free(run);
	engine_events_clear(&ev);

	/* resumed across a commit/reload */
	run = mkrun(WAIT_BP(""), "{'id': 'pay_2'}", NULL);
	adv(run, T0);
	ok(run, "create", "{'id': 'inv_2'}", T0 + 1);
	adv(run, T0 + 1);
	run = reincarnate(run, true);
	CHECK(engine_waiting_for_event(run));
	resume(run, "w", "{'ok': 1}");
	run = reincarnate(run, true);
	CHECK_STR(adv(run, T0 + 2), "thanks");
	evs();
	engine_run_free(run);
	engine_events_clear(&ev);
}

TEST(test_wait_event_timeout)
{
	EngineRun  *run = mkrun(WAIT_BP(", 'timeout_seconds': 60"), "{'id': 'pay_1'}", NULL);
	double		due;

	adv(run, T0);
	ok(run, "create", "{'id': 'inv_9'}", T0);
	CHECK_STR(adv(run, T0), "");
	CHECK_STR(adv(run, T0 + 59999), "");
	CHECK_STR(rstat(run, &due), "waiting");
	CHECK(due == T0 + 60000);
	/* timeout: output timed_out, only the else edge taken */
	CHECK_STR(adv(run, T0 + 60000), "remind");
	CHECK_STR(st(run, "w"), "succeeded");
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(nstate(run, "w"), "output"), "{'timed_out': true}"));
	CHECK_STR(evs(), "create:succeeded:1 w:succeeded:1 thanks:skipped:0");
	CHECK(!engine_waiting_for_event(run));
	ok(run, "remind", NULL, T0 + 60001);
	CHECK_STR(adv(run, T0 + 60001), "");
	CHECK_STR(rstat(run, NULL), "succeeded");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* a timeout with only a plain successor: it is skipped */
	run = mkrun("{" HEAD "'nodes': [{'id': 'w', 'type': 'wait_event', 'event': 'a.b', 'timeout_seconds': 1},"
				ACT("n") "], 'edges': [{'from': 'w', 'to': 'n'}]}", NULL, NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_STR(adv(run, T0 + 1000), "");
	CHECK_STR(evs(), "w:succeeded:1 n:skipped:0");
	CHECK_STR(rstat(run, NULL), "succeeded");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* no timeout: waits forever, no due */
	run = mkrun(WAIT_BP(""), "{'id': 'x'}", NULL);
	adv(run, T0);
	ok(run, "create", "{'id': 'i'}", T0);
	CHECK_STR(adv(run, T0), "");
	CHECK(nnum(run, "w", "due") == 0);
	CHECK_STR(rstat(run, &due), "waiting");
	CHECK(due == 0);
	CHECK_STR(adv(run, T0 + 1e12), "");
	CHECK_STR(st(run, "w"), "waiting");
	CHECK(engine_waiting_for_event(run));
	evs();
	engine_run_free(run);
	engine_events_clear(&ev);

	/* a match with a missing path fails the node */
	run = mkrun("{" HEAD "'nodes': [{'id': 'w', 'type': 'wait_event', 'event': 'a.b',"
				" 'match': {'k': '{{trigger_data.nope}}'}}]}", "{}", NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_STR(evs(), "w:failed:1");
	CHECK_CONTAINS(run->error, "node w failed: ");
	CHECK_CONTAINS(run->error, "trigger_data.nope");
	CHECK(!engine_waiting_for_event(run));
	engine_run_free(run);
	engine_events_clear(&ev);

	/* a delay that is waiting is not waiting for an event */
	run = mkrun("{" HEAD "'nodes': [{'id': 'd', 'type': 'delay', 'seconds': 5},"
				"{'id': 'w', 'type': 'wait_event', 'event': 'a.b'}],"
				" 'edges': [{'from': 'd', 'to': 'w'}]}", NULL, NULL);
	adv(run, T0);
	CHECK(!engine_waiting_for_event(run));
	adv(run, T0 + 5000);
	CHECK(engine_waiting_for_event(run));
	evs();
	engine_run_free(run);
	engine_events_clear(&ev);
}

/* ---------------------------------------------------------------------
 * engine_parse_time
 * --------------------------------------------------------------------- */

static bool
pt(const char *s, double *ms)
{
	*ms = -1;
	return engine_parse_time(s, ms);
}

#define PT_OK(s, want) do { double ms_; \
	if (pt((s), &ms_) && ms_ == (want)) unit_passed++; \
	else { unit_failed++; fprintf(stderr, "FAIL %s:%d [%s]: engine_parse_time(\"%s\") -> %.0f, want %.0f\n", \
			__FILE__, __LINE__, unit_current, (s), ms_, (double) (want)); } } while (0)
#define PT_BAD(s) do { double ms_; \
	if (!pt((s), &ms_)) unit_passed++; \
	else { unit_failed++; fprintf(stderr, "FAIL %s:%d [%s]: engine_parse_time(\"%s\") accepted (%.0f), want rejected\n", \
			__FILE__, __LINE__, unit_current, (s), ms_); } } while (0)

TEST(test_parse_time_valid)
{
	PT_OK("2026-01-01T00:00:00Z", 1767225600000.0);
	PT_OK("1969-12-31T23:59:59Z", -1000.0);	/* before the epoch, as the validator allows */
	PT_OK("2026-01-01T00:00:00z", 1767225600000.0);
	PT_OK("2026-01-01t00:00:00Z", 1767225600000.0);
	PT_OK("2026-01-01T00:00:00", 1767225600000.0);	/* UTC by default */
	PT_OK("2026-01-01T00:00Z", 1767225600000.0);
	PT_OK("2026-01-01T00:00", 1767225600000.0);
	PT_OK("2026-01-01 00:00:00", 1767225600000.0);
	PT_OK("2026-01-01 00:00", 1767225600000.0);
	PT_OK("2026-01-01", 1767225600000.0);	/* date only */
	PT_OK("2026-01-01T05:30:00+05:30", 1767225600000.0);
	PT_OK("2026-01-01T05:30+05:30", 1767225600000.0);
	PT_OK("2026-01-01T05:30:00+0530", 1767225600000.0);
	PT_OK("2026-01-01T05:00+05", 1767225600000.0);
	PT_OK("2025-12-31T19:00:00-05:00", 1767225600000.0);
	PT_OK("2026-01-01T00:00-0800", 1767254400000.0);
	PT_OK("2026-01-01T14:00+14:00", 1767225600000.0);
	PT_OK("2026-01-01T00:00:00.250Z", 1767225600250.0);
	PT_OK("2026-01-01T00:00:00.5", 1767225600500.0);
	PT_OK("2026-01-01T00:00:01.125+00:00", 1767225601125.0);
	PT_OK("2026-06-15T12:34:56.789+02:00", 1781519696789.0);
	PT_OK("1970-01-01T00:00:00Z", 0.0);
	PT_OK("1970-01-01T00:00:01Z", 1000.0);
	PT_OK("2000-03-01T00:00:00Z", 951868800000.0);
	PT_OK("2024-02-29T12:00:00Z", 1709208000000.0);	/* leap day */
	PT_OK("2099-12-31T23:59:59Z", 4102444799000.0);
	PT_OK("2026-01-01T23:59:60Z", 1767225600000.0 + 86400000.0);	/* leap second */
}

TEST(test_parse_time_invalid)
{
	double		ms;
	char		buf[64];

	CHECK(!engine_parse_time(NULL, &ms));
	PT_BAD("");
	PT_BAD("2026");
	PT_BAD("2026-01");
	PT_BAD("2026-13-01");		/* month 13 */
	PT_BAD("2026-00-10");
	PT_BAD("2026-01-00");
	PT_BAD("2026-01-32");
	PT_BAD("2026-01-01T24:00");
	PT_BAD("2026-01-01T10:60");
	PT_BAD("2026-01-01T10:00:61");
	PT_BAD("2026-01-01T00:00:00Zjunk");	/* trailing junk */
	PT_BAD("2026-01-01T00:00:00 ");
	PT_BAD("2026-01-01junk");
	PT_BAD("2026-01-01Z");
	PT_BAD("2026-1-01");		/* missing digits */
	PT_BAD("26-01-01");
	PT_BAD("2026-01-1");
	PT_BAD("2026-01-01T1:00");
	PT_BAD("2026-01-01T10:0");
	PT_BAD("2026-01-01T10");
	PT_BAD("2026-01-01T");
	PT_BAD("2026-01-01T10:00:5Z");
	PT_BAD("2026-01-01T10:00:00.Z");
	PT_BAD("2026-01-01T00:00+1");
	PT_BAD("2026-01-01T00:00+");
	PT_BAD("2026-01-01T00:00+24:00");	/* offset hour beyond 23 (as the validator) */
	PT_BAD("2026-01-01T00:00+05:60");
	PT_BAD("2026/01/01");
	PT_BAD(" 2026-01-01");
	PT_BAD("tomorrow");

	/*
	 * BUG candidates: sscanf("%2d") accepts a sign or leading blanks in
	 * place of a digit, so these malformed stamps are accepted.
	 */
	PT_BAD("2026-+1-01");
	PT_BAD("2026- 1-01");
	PT_BAD("2026-01-01T-1:00Z");	/* hour -1 */
	PT_BAD("2026-01-01T 1:00Z");
	PT_BAD("2026-01-01T00:-5Z");	/* minute -5 */
	PT_BAD("2026-01-01T00:00+05:-3");
	/* the offset hour's second character is not checked to be a digit */
	PT_BAD("2026-01-01T00:00+1a");
	PT_BAD("2026-01-01T00:00+1:");
	/* days beyond the month's length */
	PT_BAD("2026-02-30");
	PT_BAD("2026-02-29T00:00Z");	/* 2026 is not a leap year */
	PT_BAD("2026-04-31T00:00Z");

	/*
	 * A one-digit offset minute: the parser skips two characters, past the
	 * string's terminator (out-of-bounds read).  With a second NUL after
	 * it, it is accepted.
	 */
	memset(buf, 0, sizeof(buf));
	strcpy(buf, "2026-01-01T00:00+05:3");
	PT_BAD(buf);
	memset(buf, 0, sizeof(buf));
	strcpy(buf, "2026-01-01T00:00+053");
	PT_BAD(buf);
}

/* ---------------------------------------------------------------------
 * durability: state JSON round trips
 * --------------------------------------------------------------------- */

#define DUR_BP \
	"{" HEAD "'nodes': [" ACT_RETRY("fetch", "{'max_attempts': 3, 'backoff_ms': 500}") "," \
	ROUTER("r") "," \
	"{'id': 's', 'type': 'set', 'values': {'total': '{{steps.fetch.output.total}}', 'who': '{{trigger_data.who}}'}}," \
	"{'id': 'd', 'type': 'delay', 'seconds': 30}," \
	"{'id': 'w', 'type': 'wait_event', 'event': 'shop.paid', 'match': {'who': '{{steps.s.output.who}}'}, 'timeout_seconds': 600}," \
	ACT("big") "," ACT("small") "," ACT("end") "]," \
	" 'edges': [{'from': 'fetch', 'to': 'r'}," \
	" {'from': 'r', 'to': 's', 'condition': {'left': '{{steps.fetch.output.total}}', 'op': 'gte', 'right': 100}}," \
	" {'from': 'r', 'to': 'small', 'else': true}," \
	" {'from': 's', 'to': 'd'}, {'from': 'd', 'to': 'w'}, {'from': 'w', 'to': 'big'}," \
	" {'from': 'big', 'to': 'end'}, {'from': 'small', 'to': 'end'}]}"

/*
 * drive
 *		One scripted run; with durable, the run is rebuilt from its printed
 *		state after every step (as a worker commits and another one loads
 *		it).  Returns the transcript (malloc'd).
 */
static char *
drive(bool durable)
{
	EngineRun  *run = mkrun(DUR_BP, "{'who': 'ada'}", NULL);
	FdbBuf		b;
	char	   *text;
	double		due;

	fdb_buf_init(&b);
#define STEP(expr) do { \
	fdb_buf_printf(&b, "[%s]", (expr)); \
	if (durable) run = reincarnate(run, false); \
} while (0)

	STEP(adv(run, T0));
	fail(run, "fetch", "HTTP 503", true, -1, T0 + 100);
	STEP(evs());
	STEP(adv(run, T0 + 599));
	STEP(adv(run, T0 + 600));
	fail(run, "fetch", "HTTP 503", true, 1, T0 + 700);
	STEP(evs());
	STEP(rstat(run, &due));
	fdb_buf_printf(&b, "due=%.0f", due - T0);
	STEP(adv(run, T0 + 1700));
	ok(run, "fetch", "{'total': 250}", T0 + 1800);
	STEP(evs());
	STEP(adv(run, T0 + 1800));
	STEP(evs());
	STEP(rstat(run, &due));
	fdb_buf_printf(&b, "due=%.0f", due - T0);
	STEP(adv(run, T0 + 31800));
	STEP(evs());
	STEP(rstat(run, &due));
	fdb_buf_printf(&b, "due=%.0f wait=%d", due - T0, engine_waiting_for_event(run));
	resume(run, "w", "{'paid': true}");
	STEP(adv(run, T0 + 40000));
	STEP(evs());
	ok(run, "big", NULL, T0 + 41000);
	STEP(adv(run, T0 + 41000));
	ok(run, "end", NULL, T0 + 42000);
	STEP(adv(run, T0 + 42000));
	STEP(evs());
	STEP(rstat(run, &due));
#undef STEP
	text = cJSON_PrintUnformatted(run->state);
	fdb_buf_printf(&b, "\nstate=%s", text);
	free(text);
	engine_run_free(run);
	engine_events_clear(&ev);
	return b.data;
}

TEST(test_round_trip)
{
	char	   *plain = drive(false);
	char	   *durable = drive(true);

	CHECK_STR(durable, plain);
	/* the transcript itself */
	CHECK_CONTAINS(plain, "[fetch][fetch:retrying:1][][fetch][fetch:retrying:2][retrying]due=1700[fetch]"
				   "[fetch:succeeded:3][][r:succeeded:1 s:succeeded:1 small:skipped:0][waiting]due=31800"
				   "[][d:succeeded:1][waiting]due=631800 wait=1");
	CHECK_CONTAINS(plain, "[big][w:succeeded:1][end][][big:succeeded:1 end:succeeded:1][succeeded]");
	CHECK_CONTAINS(plain, "\"match\":{\"who\":\"ada\"}");
	free(plain);
	free(durable);
}

TEST(test_crash_recovery_model)
{
	EngineRun  *run = mkrun("{" HEAD "'nodes': [" ACT("a") "," ACT("b") "], 'edges': [{'from': 'a', 'to': 'b'}]}",
							NULL, NULL);
	char	   *k1;
	char	   *k2;

	/* dispatched, committed, then the worker died: resent, same attempt */
	CHECK_STR(adv(run, T0), "a");
	k1 = engine_idempotency_key(run, "a", engine_node_phase(run, "a"));
	run = reincarnate(run, true);
	CHECK_STR(st(run, "a"), "pending");
	CHECK_STR(adv(run, T0 + 1), "a");
	CHECK_INT(engine_node_attempt(run, "a"), 1);
	k2 = engine_idempotency_key(run, "a", engine_node_phase(run, "a"));
	CHECK_STR(k2, k1);
	free(k1);
	free(k2);
	/* first attempt failed and a retry is in flight: crash again */
	fail(run, "a", "e", true, 0, T0 + 2);
	CHECK_STR(adv(run, T0 + 2), "a");
	CHECK_INT(engine_node_attempt(run, "a"), 2);
	run = reincarnate(run, true);
	CHECK_STR(adv(run, T0 + 3), "a");
	CHECK_INT(engine_node_attempt(run, "a"), 2);
	ok(run, "a", NULL, T0 + 4);
	run = reincarnate(run, true);
	CHECK_STR(adv(run, T0 + 5), "b");
	CHECK_STR(evs(), "a:retrying:1 a:succeeded:2");
	engine_run_free(run);
	engine_events_clear(&ev);
}

TEST(test_flow_retry)
{
	EngineRun  *run;
	cJSON	   *ctx;

	/* failed at b; retried: a kept, b starts over from attempt 1 */
	run = mkrun("{" HEAD "'nodes': [" ACT("a") "," ACT("b") "," ACT("c") "],"
				" 'edges': [{'from': 'a', 'to': 'b'}, {'from': 'b', 'to': 'c'}]}", NULL, NULL);
	adv(run, T0);
	ok(run, "a", "{'v': 1}", T0 + 1);
	adv(run, T0 + 1);
	fail(run, "b", "HTTP 400", false, -1, T0 + 2);
	CHECK_STR(rstat(run, NULL), "failed");
	run = flow_retry(run);
	CHECK(!run->failing);
	CHECK_STR(st(run, "a"), "succeeded");
	CHECK_STR(st(run, "b"), "pending");
	CHECK_STR(adv(run, T0 + 10), "b");
	CHECK_INT(engine_node_attempt(run, "b"), 1);
	ctx = engine_context(run, "b");
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(ctx, "run"), "{'id': 'r1', 'attempt': 1, 'retries': 1}"));
	engine_context_free(ctx);
	ok(run, "b", NULL, T0 + 11);
	CHECK_STR(adv(run, T0 + 11), "c");
	ok(run, "c", NULL, T0 + 12);
	CHECK_STR(adv(run, T0 + 12), "");
	CHECK_STR(rstat(run, NULL), "succeeded");
	CHECK_STR(evs(), "a:succeeded:1 b:failed:1 b:succeeded:1 c:succeeded:1");
	engine_run_free(run);
	engine_events_clear(&ev);

	/*
	 * A run failed by a condition error on edge a -> b, retried: the
	 * condition must be evaluated again (and fail again with the same
	 * data), not leave b silently skipped and the run succeeded.
	 */
	run = mkrun("{" HEAD "'nodes': [" ACT("a") "," ACT("b") "],"
				" 'edges': [{'from': 'a', 'to': 'b', 'condition': {'left': '{{steps.a.output.x}}', 'op': 'gt', 'right': 5}}]}",
				NULL, NULL);
	adv(run, T0);
	ok(run, "a", "{'x': 'text'}", T0 + 1);
	CHECK_STR(rstat(run, NULL), "failed");
	run = flow_retry(run);
	adv(run, T0 + 10);
	CHECK(strcmp(st(run, "b"), "skipped") != 0);
	CHECK_STR(rstat(run, NULL), "failed");
	CHECK_CONTAINS(run->error, "condition on edge a -> b");
	evs();
	engine_run_free(run);
	engine_events_clear(&ev);
}

/*
 * A run that is failing while requests are in flight is committed with
 * db status "running" (the worker keeps it until they finish).  If that
 * worker dies, the next one rebuilds the run from the state JSON alone:
 * the failure must survive (the run fails, nothing new is dispatched),
 * not be forgotten with the failed node's successors pending forever.
 */
TEST(test_recover_failing)
{
	EngineRun  *run;

	/* a node failed for good while b was in flight */
	run = mkrun("{" HEAD "'nodes': [" ACT("a") "," ACT("b") "," ACT("c") "],"
				" 'edges': [{'from': 'a', 'to': 'c'}]}", NULL, NULL);
	CHECK_STR(adv(run, T0), "a,b");
	fail(run, "a", "boom", false, -1, T0 + 1);
	CHECK_STR(rstat(run, NULL), "running");
	run = reincarnate(run, true);	/* worker crash, run reclaimed */
	CHECK(run->failing);
	CHECK_STR(adv(run, T0 + 2), "");
	CHECK_STR(rstat(run, NULL), "failed");
	CHECK_CONTAINS(run->error, "node a failed: boom");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* a condition error while x was in flight */
	run = mkrun("{" HEAD "'nodes': [" ACT("a") "," ACT("b") "," ACT("x") "],"
				" 'edges': [{'from': 'a', 'to': 'b', 'condition': {'left': '{{steps.a.output.v}}', 'op': 'gt', 'right': 5}}]}",
				NULL, NULL);
	CHECK_STR(adv(run, T0), "a,x");
	ok(run, "a", "{'v': 'text'}", T0 + 1);
	CHECK(run->failing);
	CHECK_STR(rstat(run, NULL), "running");
	run = reincarnate(run, true);
	CHECK(run->failing);
	CHECK_STR(adv(run, T0 + 2), "");
	CHECK_STR(rstat(run, NULL), "failed");
	CHECK_CONTAINS(run->error, "condition on edge a -> b");
	engine_run_free(run);
	engine_events_clear(&ev);
}

/* ---------------------------------------------------------------------
 * stored state shapes
 * --------------------------------------------------------------------- */

TEST(test_state_shapes)
{
	const char *bp = "{" HEAD "'nodes': [" ACT("a") "," ACT("b") "," ACT("c") "],"
		" 'edges': [{'from': 'a', 'to': 'b'}, {'from': 'b', 'to': 'c'}]}";
	EngineRun  *run;

	/* edges array of the wrong length: reset to all unresolved */
	run = mkrun(bp, NULL, "{'nodes': {}, 'edges': [true]}");
	CHECK(same_json(run->edges, "[null, null]"));
	CHECK(cJSON_GetObjectItemCaseSensitive(run->state, "edges") == run->edges);
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(run->state, "edges")), 2);
	engine_run_free(run);
	engine_events_clear(&ev);

	run = mkrun(bp, NULL, "{'nodes': {}, 'edges': [true, false, null]}");
	CHECK(same_json(run->edges, "[null, null]"));
	engine_run_free(run);
	engine_events_clear(&ev);

	/* edges not an array */
	run = mkrun(bp, NULL, "{'nodes': {}, 'edges': {'0': true}}");
	CHECK(same_json(run->edges, "[null, null]"));
	engine_run_free(run);
	engine_events_clear(&ev);

	/* right length: kept as is */
	run = mkrun(bp, NULL, "{'nodes': {'a': {'status': 'succeeded', 'attempt': 1, 'output': {}}},"
				" 'edges': [true, null], 'retries': 3}");
	CHECK(same_json(run->edges, "[true, null]"));
	CHECK_STR(adv(run, T0), "b");
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(run->state, "retries"), "3"));
	engine_run_free(run);
	engine_events_clear(&ev);

	/* nodes not an object: fresh nodes */
	run = mkrun(bp, NULL, "{'nodes': [1, 2], 'edges': [null, null]}");
	CHECK(cJSON_IsObject(run->nodes));
	CHECK(cJSON_GetObjectItemCaseSensitive(run->state, "nodes") == run->nodes);
	CHECK_INT(cJSON_GetArraySize(run->nodes), 0);
	CHECK_STR(adv(run, T0), "a");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* state not an object: a fresh state */
	run = mkrun(bp, NULL, "[1, 2, 3]");
	CHECK(same_json(run->state, "{'nodes': {}, 'edges': [null, null]}"));
	engine_run_free(run);
	engine_events_clear(&ev);

	/* a node state that is not an object is replaced when touched */
	run = mkrun(bp, NULL, "{'nodes': {'a': 'junk'}}");
	CHECK_STR(st(run, "a"), "pending");
	CHECK_STR(adv(run, T0), "a");
	CHECK(cJSON_IsObject(nstate(run, "a")));
	engine_run_free(run);
	engine_events_clear(&ev);

	/* blueprint without edges / nodes, NULL payload */
	run = engine_run_new(NULL, NULL, JQ("{}"), NULL, NULL);
	CHECK_STR(run->run_id, "");
	CHECK_STR(run->workflow_id, "");
	CHECK(same_json(run->payload, "{}"));
	CHECK(same_json(run->state, "{'nodes': {}, 'edges': []}"));
	CHECK_STR(adv(run, T0), "");
	CHECK_STR(rstat(run, NULL), "succeeded");
	engine_run_free(run);
	engine_events_clear(&ev);
}

/* ---------------------------------------------------------------------
 * events list
 * --------------------------------------------------------------------- */

TEST(test_events_growth)
{
	char		bp[16384];
	size_t		len;
	EngineRun  *run;
	EngineEvents mine;
	char	  **ids;
	int			n;

	/* a chain of 40 routers resolves in one advance: 40 events */
	len = (size_t) snprintf(bp, sizeof(bp), "{" HEAD "'nodes': [");
	for (int i = 0; i < 40; i++)
		len += (size_t) snprintf(bp + len, sizeof(bp) - len, "%s{'id': 'n%d', 'type': 'router'}", i ? "," : "", i);
	len += (size_t) snprintf(bp + len, sizeof(bp) - len, "], 'edges': [");
	for (int i = 39; i > 0; i--)	/* reverse order: worst case for passes */
		len += (size_t) snprintf(bp + len, sizeof(bp) - len, "%s{'from': 'n%d', 'to': 'n%d'}",
								 i < 39 ? "," : "", i - 1, i);
	snprintf(bp + len, sizeof(bp) - len, "]}");

	engine_events_init(&mine);
	CHECK_INT(mine.n, 0);
	CHECK(mine.items == NULL);
	run = mkrun(bp, NULL, NULL);
	n = engine_advance(run, T0, &ids, &mine);
	CHECK_INT(n, 0);
	CHECK(ids == NULL);
	CHECK_INT(mine.n, 40);
	CHECK(mine.cap >= 40);
	if (mine.n == 40)
	{
		CHECK_STR(mine.items[0].node_id, "n0");
		CHECK_STR(mine.items[39].node_id, "n39");
	}
	CHECK_STR(rstat(run, NULL), "succeeded");
	/* clear keeps the buffer */
	engine_events_clear(&mine);
	CHECK_INT(mine.n, 0);
	CHECK(mine.items != NULL);
	engine_events_free(&mine);
	CHECK(mine.items == NULL);
	CHECK_INT(mine.cap, 0);
	engine_run_free(run);
	engine_events_clear(&ev);

	/* events may be NULL: nothing logged, nothing leaked */
	run = mkrun("{" HEAD "'nodes': [" ROUTER("r") "," ACT("a") "], 'edges': [{'from': 'r', 'to': 'a'}]}", NULL, NULL);
	n = engine_advance(run, T0, &ids, NULL);
	CHECK_INT(n, 1);
	engine_free_dispatch(ids, n);
	engine_action_failed(run, "a", JQ("{'i': 1}"), "e", true, -1, T0, T0, NULL);
	n = engine_advance(run, T0 + 1000, &ids, NULL);
	CHECK_INT(n, 1);
	engine_free_dispatch(ids, n);
	engine_action_succeeded(run, "a", JQ("{'i': 1}"), JQ("{'o': 1}"), T0, T0, NULL);
	CHECK_STR(rstat(run, NULL), "succeeded");
	engine_run_free(run);
	engine_events_clear(&ev);
}

/* ---------------------------------------------------------------------
 * map nodes
 * --------------------------------------------------------------------- */

#define MAP(extra) "{'id': 'm', 'type': 'map', 'items': '{{trigger_data.items}}', " extra \
	"'do': {'service': 'http', 'task': 'request', " \
	"'params': {'url': 'https://x.test/{{index}}', 'body': {'who': '{{item.name}}', 'n': '{{index}}'}}, " \
	"'retry': {'max_attempts': 2, 'backoff_ms': 100}}}"
#define ITEMS5 "{'items': [{'name': 'a'}, {'name': 'b'}, {'name': 'c'}, {'name': 'd'}, {'name': 'e'}]}"

/*
 * mout
 *		The map node's output as compact JSON text (static buffer).
 */
static const char *
mout(EngineRun *run, const char *id)
{
	static char buf[4096];
	char	   *t = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(nstate(run, id), "output"));

	snprintf(buf, sizeof(buf), "%s", t ? t : "(none)");
	free(t);
	return buf;
}

TEST(test_map_basic)
{
	EngineRun  *run = mkrun("{" HEAD "'nodes': [" MAP("'concurrency': 2, ") ", "
							"{'id': 'after', 'type': 'set', 'values': {'second': '{{steps.m.output.results[1].who}}', "
							"'n': '{{steps.m.output.succeeded}}'}}], "
							"'edges': [{'from': 'm', 'to': 'after'}]}", ITEMS5, NULL);
	cJSON	   *params;
	char		err[256];
	char	   *key;
	double		due;

	/* two at a time, in order */
	CHECK_STR(adv(run, T0), "m[0],m[1]");
	CHECK_STR(st(run, "m"), "running");
	CHECK_STR(rstat(run, &due), "running");
	CHECK_INT(engine_inflight(run), 2);
	CHECK_STR(adv(run, T0), "");

	/* an item's action, params, key and context */
	CHECK_STR(fdb_json_str(engine_action_node(run, "m[1]"), "service"), "http");
	CHECK(engine_action_node(run, "m") == bp_node(run->bp, "m"));
	CHECK(engine_action_node(run, "after[1]") == NULL);
	params = engine_render_params(run, "m[1]", err, sizeof(err));
	CHECK(same_json(params, "{'url': 'https://x.test/1', 'body': {'who': 'b', 'n': 1}}"));
	cJSON_Delete(params);
	key = engine_idempotency_key(run, "m[1]", 0);
	CHECK_STR(key, "flowdb-r1-m.1");
	free(key);
	key = engine_idempotency_key(run, "m[12]", 2);
	CHECK_STR(key, "flowdb-r1-m.12-p2");
	free(key);

	/* results land in item order whatever order they finish in */
	ok(run, "m[1]", "{'who': 'b'}", T0 + 10);
	CHECK_STR(evs(), "m[1]:succeeded:1");
	CHECK_STR(adv(run, T0 + 10), "m[2]");
	ok(run, "m[2]", "{'who': 'c'}", T0 + 20);
	ok(run, "m[0]", "{'who': 'a'}", T0 + 20);
	CHECK_STR(adv(run, T0 + 20), "m[3],m[4]");
	ok(run, "m[4]", "{'who': 'e'}", T0 + 30);
	ok(run, "m[3]", "{'who': 'd'}", T0 + 30);
	CHECK_STR(evs(), "m[2]:succeeded:1 m[0]:succeeded:1 m[4]:succeeded:1 m[3]:succeeded:1");
	CHECK_STR(adv(run, T0 + 30), "");
	CHECK_STR(evs(), "m:succeeded:1 after:succeeded:1");
	CHECK_STR(st(run, "m"), "succeeded");
	CHECK_STR(mout(run, "m"), "{\"results\":[{\"who\":\"a\"},{\"who\":\"b\"},{\"who\":\"c\"},"
			  "{\"who\":\"d\"},{\"who\":\"e\"}],\"succeeded\":5,\"failed\":0}");
	CHECK(cJSON_GetObjectItemCaseSensitive(nstate(run, "m"), "map") == NULL);
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(nstate(run, "after"), "output"),
					"{'second': 'b', 'n': 5}"));
	CHECK_STR(rstat(run, NULL), "succeeded");
	engine_run_free(run);
}

#define MAP2(id, items) "{'id': '" id "', 'type': 'map', 'items': " items ", 'concurrency': 2, " \
	"'do': {'service': 'http', 'task': 'request', " \
	"'params': {'url': 'https://x.test/" id "/{{index}}', 'body': {'who': '{{item}}'}}}}"

/*
 * TEST test_map_two_at_once
 *		Two maps running side by side, their items finishing in turns: each
 *		item renders its own map's item and its result lands in its own
 *		map's slot (the run's map index is rebuilt at every switch).
 */
TEST(test_map_two_at_once)
{
	EngineRun  *run = mkrun("{" HEAD "'nodes': [" MAP2("m", "['a', 'b', 'c']") ", "
							MAP2("n", "['x', 'y', 'z']") "], 'edges': []}", "{}", NULL);
	const char *names[2] = {"m", "n"};
	char		err[256];

	CHECK_STR(adv(run, T0), "m[0],m[1],n[0],n[1]");
	for (int i = 0; i < 3; i++)
	{
		for (int k = 0; k < 2; k++)
		{
			char		step[16];
			char		want[64];
			char		out[64];
			cJSON	   *params;

			snprintf(step, sizeof(step), "%s[%d]", names[k], i);
			params = engine_render_params(run, step, err, sizeof(err));
			snprintf(want, sizeof(want), "https://x.test/%s/%d", names[k], i);
			CHECK_STR(fdb_json_str(params, "url"), want);
			snprintf(out, sizeof(out), "{'who': '%s', 'i': %d}",
					 fdb_json_str(cJSON_GetObjectItemCaseSensitive(params, "body"), "who"), i);
			cJSON_Delete(params);
			ok(run, step, out, T0 + 10 * (i + 1));
		}
		(void) adv(run, T0 + 10 * (i + 1));
	}
	CHECK_STR(mout(run, "m"), "{\"results\":[{\"who\":\"a\",\"i\":0},{\"who\":\"b\",\"i\":1},"
			  "{\"who\":\"c\",\"i\":2}],\"succeeded\":3,\"failed\":0}");
	CHECK_STR(mout(run, "n"), "{\"results\":[{\"who\":\"x\",\"i\":0},{\"who\":\"y\",\"i\":1},"
			  "{\"who\":\"z\",\"i\":2}],\"succeeded\":3,\"failed\":0}");
	CHECK_STR(rstat(run, NULL), "succeeded");
	engine_run_free(run);
	engine_events_clear(&ev);
}

/*
 * TEST test_map_after_map
 *		A map over the results of the map before it: the second map's
 *		state may be allocated where the first one's was freed, and must
 *		not be taken for it.
 */
TEST(test_map_after_map)
{
	EngineRun  *run = mkrun("{" HEAD "'nodes': [" MAP2("m", "['a', 'b']") ", "
							MAP2("n", "'{{steps.m.output.results}}'") "], "
							"'edges': [{'from': 'm', 'to': 'n'}]}", "{}", NULL);
	char		err[256];
	cJSON	   *params;

	CHECK_STR(adv(run, T0), "m[0],m[1]");
	ok(run, "m[1]", "'B'", T0 + 10);
	ok(run, "m[0]", "'A'", T0 + 10);
	CHECK_STR(adv(run, T0 + 10), "n[0],n[1]");
	CHECK_STR(mout(run, "m"), "{\"results\":[\"A\",\"B\"],\"succeeded\":2,\"failed\":0}");
	params = engine_render_params(run, "n[1]", err, sizeof(err));
	CHECK(same_json(params, "{'url': 'https://x.test/n/1', 'body': {'who': 'B'}}"));
	cJSON_Delete(params);
	ok(run, "n[0]", "1", T0 + 20);
	ok(run, "n[1]", "2", T0 + 20);
	(void) adv(run, T0 + 20);
	CHECK_STR(mout(run, "n"), "{\"results\":[1,2],\"succeeded\":2,\"failed\":0}");
	CHECK_STR(rstat(run, NULL), "succeeded");
	engine_run_free(run);
	engine_events_clear(&ev);
}

TEST(test_map_default_concurrency_and_empty)
{
	char		items[2048];
	int			len = snprintf(items, sizeof(items), "{'items': [");
	EngineRun  *run;
	const char *d;

	for (int i = 0; i < 25; i++)
		len += snprintf(items + len, sizeof(items) - len, "%s{'name': 'n%d'}", i ? ", " : "", i);
	snprintf(items + len, sizeof(items) - len, "]}");
	run = mkrun("{" HEAD "'nodes': [" MAP("") "]}", items, NULL);
	d = adv(run, T0);
	CHECK_STR(d, "m[0],m[1],m[2],m[3],m[4],m[5],m[6],m[7],m[8],m[9]");
	CHECK_INT(engine_inflight(run), ENGINE_DEFAULT_MAP_CONCURRENCY);
	engine_run_free(run);

	run = mkrun("{" HEAD "'nodes': [" MAP("") "]}", "{'items': []}", NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_STR(evs(), "m:succeeded:1");
	CHECK_STR(mout(run, "m"), "{\"results\":[],\"succeeded\":0,\"failed\":0}");
	CHECK_STR(rstat(run, NULL), "succeeded");
	engine_run_free(run);

	/* a literal array with templates inside */
	run = mkrun("{" HEAD "'nodes': [{'id': 'm', 'type': 'map', 'items': ['{{trigger_data.x}}', 2], "
				"'do': {'service': 'http', 'task': 'request', 'params': {'url': 'https://x.test/{{item}}'}}}]}",
				"{'x': 1}", NULL);
	CHECK_STR(adv(run, T0), "m[0],m[1]");
	{
		char		err[256];
		cJSON	   *p = engine_render_params(run, "m[1]", err, sizeof(err));

		CHECK(same_json(p, "{'url': 'https://x.test/2'}"));
		cJSON_Delete(p);
	}
	engine_run_free(run);
}

TEST(test_map_item_errors)
{
	EngineRun  *run;
	double		due;

	/* fail (default): the first item failing for good fails the node */
	run = mkrun("{" HEAD "'nodes': [" MAP("'concurrency': 2, ") "]}", ITEMS5, NULL);
	CHECK_STR(adv(run, T0), "m[0],m[1]");
	fail(run, "m[1]", "HTTP 400", false, -1, T0 + 10);
	CHECK_STR(evs(), "m[1]:failed:1 m:failed:1");
	CHECK_STR(st(run, "m"), "failed");
	CHECK_STR(run->error, "node m failed: item 1: HTTP 400");
	CHECK_STR(adv(run, T0 + 10), "");
	/* item 0 still in flight: its result is logged, nothing else moves */
	ok(run, "m[0]", "{'who': 'a'}", T0 + 20);
	CHECK_STR(evs(), "m[0]:succeeded:1");
	CHECK_STR(st(run, "m"), "failed");
	CHECK_STR(rstat(run, &due), "failed");
	engine_run_free(run);

	/* continue: the error is the item's result */
	run = mkrun("{" HEAD "'nodes': [" MAP("'concurrency': 5, 'on_item_error': 'continue', ") "]}",
				ITEMS5, NULL);
	CHECK_STR(adv(run, T0), "m[0],m[1],m[2],m[3],m[4]");
	fail(run, "m[2]", "HTTP 404", false, -1, T0 + 10);
	fail(run, "m[4]", "timeout", true, -1, T0 + 10);	/* retried once */
	ok(run, "m[0]", "{'x': 0}", T0 + 10);
	ok(run, "m[1]", "{'x': 1}", T0 + 10);
	ok(run, "m[3]", "{'x': 3}", T0 + 10);
	CHECK_STR(evs(), "m[2]:failed:1 m[4]:retrying:1 m[0]:succeeded:1 m[1]:succeeded:1 "
			  "m[3]:succeeded:1");
	CHECK_STR(rstat(run, &due), "retrying");
	CHECK(due == T0 + 10 + 100);
	CHECK_STR(adv(run, T0 + 50), "");
	CHECK_STR(adv(run, T0 + 110), "m[4]");
	CHECK_INT(engine_node_attempt(run, "m[4]"), 2);
	{
		cJSON	   *ctx = engine_context(run, "m[4]");

		CHECK(same_json(cJSON_GetObjectItemCaseSensitive(ctx, "run"),
						"{'id': 'r1', 'attempt': 2, 'retries': 0}"));
		CHECK(same_json(cJSON_GetObjectItemCaseSensitive(ctx, "item"), "{'name': 'e'}"));
		CHECK(same_json(cJSON_GetObjectItemCaseSensitive(ctx, "index"), "4"));
		engine_context_free(ctx);
	}
	fail(run, "m[4]", "timeout again", true, -1, T0 + 200);
	CHECK_STR(evs(), "m[4]:failed:2");
	CHECK_STR(adv(run, T0 + 200), "");
	CHECK_STR(evs(), "m:succeeded:1");
	CHECK_STR(mout(run, "m"), "{\"results\":[{\"x\":0},{\"x\":1},{\"error\":\"HTTP 404\"},"
			  "{\"x\":3},{\"error\":\"timeout again\"}],\"succeeded\":3,\"failed\":2}");
	CHECK_STR(rstat(run, NULL), "succeeded");
	engine_run_free(run);
}

TEST(test_map_bad_items)
{
	EngineRun  *run;

	run = mkrun("{" HEAD "'nodes': [" MAP("") "]}", "{'items': 'abc'}", NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_STR(evs(), "m:failed:1");
	CHECK_STR(run->error, "node m failed: items must be an array, got the string \"abc\"");
	engine_run_free(run);

	run = mkrun("{" HEAD "'nodes': [" MAP("") "]}", "{'other': 1}", NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_CONTAINS(run->error, "node m failed: items: path trigger_data.items not found");
	engine_run_free(run);

	run = mkrun("{" HEAD "'nodes': [" MAP("") "]}", "{'items': 7}", NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_STR(run->error, "node m failed: items must be an array, got 7");
	engine_run_free(run);

	/* flowdb.max_map_items */
	engine_config.max_map_items = 4;
	run = mkrun("{" HEAD "'nodes': [" MAP("") "]}", ITEMS5, NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_STR(run->error, "node m failed: items has 5 elements, more than 4 (flowdb.max_map_items)");
	engine_run_free(run);
	engine_config.max_map_items = 5;
	run = mkrun("{" HEAD "'nodes': [" MAP("") "]}", ITEMS5, NULL);
	CHECK_STR(adv(run, T0), "m[0],m[1],m[2],m[3],m[4]");
	engine_run_free(run);
	engine_config.max_map_items = ENGINE_DEFAULT_MAX_MAP_ITEMS;

	/* the state cap counts the items and every result */
	engine_config.max_state_bytes = 300;
	evs();
	run = mkrun("{" HEAD "'nodes': [" MAP("'on_item_error': 'continue', ") "]}", ITEMS5, NULL);
	CHECK_STR(adv(run, T0), "m[0],m[1],m[2],m[3],m[4]");
	ok(run, "m[0]", "{'x': 'short'}", T0 + 10);
	ok(run, "m[1]", "{'x': '0123456789012345678901234567890123456789012345678901234567890123456789"
	   "0123456789012345678901234567890123456789012345678901234567890123456789"
	   "0123456789012345678901234567890123456789012345678901234567890123456789'}", T0 + 10);
	CHECK_STR(evs(), "m[0]:succeeded:1 m[1]:succeeded:1 m:failed:1");
	CHECK_STR(run->error, "node m failed: item 1: the run's state would be larger than 300 bytes "
			  "(flowdb.max_state_bytes)");
	engine_run_free(run);
	engine_config.max_state_bytes = 0;
}

TEST(test_map_recover)
{
	EngineRun  *run = mkrun("{" HEAD "'nodes': [" MAP("'concurrency': 3, ") "]}", ITEMS5, NULL);
	char	   *key;

	CHECK_STR(adv(run, T0), "m[0],m[1],m[2]");
	ok(run, "m[1]", "{'x': 1}", T0 + 10);
	CHECK_STR(adv(run, T0 + 10), "m[3]");
	engine_node_set_phase(run, "m[2]", 1);	/* m[2] is multi-request */
	CHECK_INT(engine_node_phase(run, "m[2]"), 1);
	key = engine_idempotency_key(run, "m[2]", engine_node_phase(run, "m[2]"));
	CHECK_STR(key, "flowdb-r1-m.2-p1");
	free(key);
	evs();

	/* the committed state, a crash, a new worker: the finished item stays
	 * finished; the active ones go again with their attempt and phase */
	run = reincarnate(run, true);
	CHECK_STR(st(run, "m"), "running");
	CHECK_STR(adv(run, T0 + 20), "m[0],m[2],m[3]");
	CHECK_INT(engine_node_attempt(run, "m[0]"), 1);
	CHECK_INT(engine_node_attempt(run, "m[2]"), 1);
	CHECK_INT(engine_node_phase(run, "m[2]"), 1);
	ok(run, "m[0]", "{'x': 0}", T0 + 30);
	ok(run, "m[2]", "{'x': 2}", T0 + 30);
	ok(run, "m[3]", "{'x': 3}", T0 + 30);
	CHECK_STR(adv(run, T0 + 30), "m[4]");
	run = reincarnate(run, true);
	CHECK_STR(adv(run, T0 + 40), "m[4]");
	ok(run, "m[4]", "{'x': 4}", T0 + 50);
	evs();
	CHECK_STR(adv(run, T0 + 50), "");
	CHECK_STR(evs(), "m:succeeded:1");
	CHECK_STR(mout(run, "m"), "{\"results\":[{\"x\":0},{\"x\":1},{\"x\":2},{\"x\":3},{\"x\":4}],"
			  "\"succeeded\":5,\"failed\":0}");
	engine_run_free(run);
}

TEST(test_map_failing_run)
{
	/* another branch fails: items in flight finish, nothing new starts */
	EngineRun  *run = mkrun("{" HEAD "'nodes': [" MAP("'concurrency': 2, ") ", " ACT("x") "]}",
							ITEMS5, NULL);
	double		due;

	CHECK_STR(adv(run, T0), "m[0],m[1],x");
	fail(run, "x", "boom", false, -1, T0 + 10);
	CHECK_STR(rstat(run, &due), "running");
	ok(run, "m[0]", "{}", T0 + 20);
	CHECK_STR(adv(run, T0 + 20), "");
	CHECK_STR(rstat(run, &due), "running");
	ok(run, "m[1]", "{}", T0 + 30);
	CHECK_STR(adv(run, T0 + 30), "");
	CHECK_STR(rstat(run, &due), "failed");
	engine_run_free(run);
}

TEST(test_step_split)
{
	char		id[80];

	CHECK_INT(engine_step_split("abc[12]", id, sizeof(id)), 12);
	CHECK_STR(id, "abc");
	CHECK_INT(engine_step_split("abc", id, sizeof(id)), -1);
	CHECK_STR(id, "abc");
	CHECK_INT(engine_step_split("abc[]", id, sizeof(id)), -1);
	CHECK_INT(engine_step_split("abc[1]x", id, sizeof(id)), -1);
	CHECK_INT(engine_step_split("abc[x]", id, sizeof(id)), -1);
	CHECK_INT(engine_step_split("[3]", id, sizeof(id)), -1);
	CHECK_INT(engine_step_split("a[99999999999]", id, sizeof(id)), -1);
	CHECK_INT(engine_step_split(NULL, id, sizeof(id)), -1);
	CHECK_STR(id, "");
}

TEST(test_call_node)
{
	EngineRun  *run = mkrun("{" HEAD "'nodes': [{'id': 'c', 'type': 'call', 'workflow': 'notify', "
							"'payload': {'text': 'order {{trigger_data.id}}'}}, "
							"{'id': 'after', 'type': 'set', 'values': {'s': '{{steps.c.output.status}}'}}], "
							"'edges': [{'from': 'c', 'to': 'after'}]}", "{'id': 7}", NULL);
	cJSON	   *ns;
	double		due;

	/* parks with what the database needs to start the child, and asks
	 * for a commit */
	CHECK(!run->calls_started);
	CHECK_STR(adv(run, T0), "");
	CHECK(run->calls_started);
	CHECK_STR(st(run, "c"), "waiting");
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(nstate(run, "c"), "call"),
					"{'workflow': 'notify', 'payload': {'text': 'order 7'}}"));
	CHECK_STR(rstat(run, &due), "waiting");
	CHECK(due == 0);
	CHECK(!engine_waiting_for_event(run));
	run = reincarnate(run, true);
	CHECK_STR(adv(run, T0 + 10), "");
	CHECK_STR(st(run, "c"), "waiting");

	/* flowdb.resume_call: the child succeeded */
	resume(run, "c", "{'status': 'succeeded', 'run_id': 'x', 'steps': {}}");
	CHECK_STR(adv(run, T0 + 20), "");
	CHECK_STR(evs(), "c:succeeded:1 after:succeeded:1");
	CHECK(cJSON_GetObjectItemCaseSensitive(nstate(run, "c"), "call") == NULL);
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(nstate(run, "after"), "output"),
					"{'s': 'succeeded'}"));
	CHECK_STR(rstat(run, NULL), "succeeded");
	engine_run_free(run);

	/* the child failed (or could not start): the node fails */
	run = mkrun("{" HEAD "'nodes': [{'id': 'c', 'type': 'call', 'workflow': 'w'}]}", NULL, NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK(same_json(cJSON_GetObjectItemCaseSensitive(nstate(run, "c"), "call"),
					"{'workflow': 'w', 'payload': {}}"));
	ns = nstate(run, "c");
	cJSON_DeleteItemFromObjectCaseSensitive(ns, "status");
	cJSON_AddStringToObject(ns, "status", "resumed");
	cJSON_AddStringToObject(ns, "call_error", "workflow \"w\" not found");
	CHECK_STR(adv(run, T0 + 5), "");
	CHECK_STR(evs(), "c:failed:1");
	CHECK_STR(run->error, "node c failed: workflow \"w\" not found");
	engine_run_free(run);

	/* a payload template that does not resolve fails the node at once */
	run = mkrun("{" HEAD "'nodes': [{'id': 'c', 'type': 'call', 'workflow': 'w', "
				"'payload': {'x': '{{trigger_data.nope}}'}}]}", NULL, NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_CONTAINS(run->error, "node c failed: payload: path trigger_data.nope not found");
	engine_run_free(run);
}

TEST(test_map_workflow)
{
	EngineRun  *run = mkrun("{" HEAD "'nodes': [{'id': 'm', 'type': 'map', 'items': '{{trigger_data.items}}', "
							"'concurrency': 2, 'on_item_error': 'continue', 'do': {'workflow': 'remind-one'}}]}",
							ITEMS5, NULL);
	cJSON	   *active;
	cJSON	   *a;
	double		due;

	/* no request: two items park on their child runs */
	CHECK_STR(adv(run, T0), "");
	CHECK(run->calls_started);
	active = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(nstate(run, "m"), "map"),
											  "active");
	CHECK(same_json(active, "{'0': {'attempt': 1, 'started': 1767225600000, 'status': 'waiting', "
					"'call': {'workflow': 'remind-one', 'payload': {'name': 'a'}}}, "
					"'1': {'attempt': 1, 'started': 1767225600000, 'status': 'waiting', "
					"'call': {'workflow': 'remind-one', 'payload': {'name': 'b'}}}}"));
	CHECK_STR(rstat(run, &due), "waiting");
	CHECK(due == 0);
	run = reincarnate(run, true);
	CHECK_STR(adv(run, T0 + 1), "");

	/* flowdb.resume_call: child 1 succeeded, child 0 failed */
	active = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(nstate(run, "m"), "map"),
											  "active");
	a = cJSON_GetObjectItemCaseSensitive(active, "1");
	cJSON_ReplaceItemInObjectCaseSensitive(a, "status", cJSON_CreateString("resumed"));
	cJSON_AddItemToObject(a, "output", JQ("{'status': 'succeeded', 'steps': {'post': 1}}"));
	a = cJSON_GetObjectItemCaseSensitive(active, "0");
	cJSON_ReplaceItemInObjectCaseSensitive(a, "status", cJSON_CreateString("resumed"));
	cJSON_AddStringToObject(a, "call_error", "called run x failed: boom");
	CHECK_STR(adv(run, T0 + 10), "");
	CHECK_STR(evs(), "m[0]:failed:1 m[1]:succeeded:1");
	CHECK_INT(cJSON_GetArraySize(active), 2);	/* items 2 and 3 started */
	CHECK(cJSON_GetObjectItemCaseSensitive(active, "2") != NULL);
	CHECK_STR(rstat(run, NULL), "waiting");
	for (int i = 2; i < 5; i++)
	{
		char		key[8];

		snprintf(key, sizeof(key), "%d", i);
		a = cJSON_GetObjectItemCaseSensitive(active, key);
		cJSON_ReplaceItemInObjectCaseSensitive(a, "status", cJSON_CreateString("resumed"));
		cJSON_AddItemToObject(a, "output", cJSON_CreateNumber(i));
		CHECK_STR(adv(run, T0 + 20 + i), "");
	}
	CHECK_STR(st(run, "m"), "succeeded");
	CHECK_STR(mout(run, "m"), "{\"results\":[{\"error\":\"called run x failed: boom\"},"
			  "{\"status\":\"succeeded\",\"steps\":{\"post\":1}},2,3,4],\"succeeded\":4,\"failed\":1}");
	engine_run_free(run);
}

/*
 * test_action_started
 *		A request going out logs "started" once per attempt (not per
 *		phase), with no input, output or duration, and moves the node's
 *		"started" time to the send time; the node stays running.
 */
TEST(test_action_started)
{
	EngineRun  *run = mkrun("{" HEAD "'nodes': [" ACT_RETRY("a", "{'max_attempts': 2}") "], 'edges': []}",
							NULL, NULL);

	CHECK_STR(adv(run, T0), "a");
	CHECK_INT((long long) nnum(run, "a", "started"), (long long) T0);
	engine_action_started(run, "a", T0 + 40, &ev);
	CHECK_STR(st(run, "a"), "running");
	CHECK_INT((long long) nnum(run, "a", "started"), (long long) (T0 + 40));
	CHECK_INT(ev.n, 1);
	if (ev.n == 1)
	{
		CHECK(ev.items[0].input == NULL && ev.items[0].output == NULL &&
			  ev.items[0].error == NULL);
		CHECK(ev.items[0].started_ms == T0 + 40);
	}
	CHECK_STR(evs(), "a:started:1");

	/* a retry is a new attempt: started again, attempt 2 */
	fail(run, "a", "HTTP 503", true, 1, T0 + 100);
	CHECK_STR(evs(), "a:retrying:1");
	CHECK_STR(adv(run, T0 + 2000), "a");
	engine_action_started(run, "a", T0 + 2001, &ev);
	CHECK_STR(evs(), "a:started:2");

	/* a later phase of the same attempt is not a new start */
	engine_node_set_phase(run, "a", 1);
	CHECK_STR(adv(run, T0 + 3000), "a");
	engine_action_started(run, "a", T0 + 3001, &ev);
	CHECK_STR(evs(), "");
	CHECK_INT((long long) nnum(run, "a", "started"), (long long) (T0 + 3001));
	ok(run, "a", "{'done': true}", T0 + 3100);
	CHECK_STR(evs(), "a:succeeded:2");
	engine_run_free(run);
}

/*
 * test_events_retain
 *		engine_events_retain keeps the flagged events in order, with their
 *		contents, and frees the others (valgrind sees a leak or a double
 *		free otherwise); the array is reused afterwards.
 */
TEST(test_events_retain)
{
	EngineRun  *run = mkrun("{" HEAD "'nodes': [" ACT("a") "," ACT("b") "," ACT("c") "],"
							" 'edges': []}", NULL, NULL);
	bool		keep[3] = {false, true, false};
	bool		none[2] = {false, false};

	CHECK_STR(adv(run, T0), "a,b,c");
	engine_action_started(run, "a", T0 + 1, &ev);
	engine_action_started(run, "b", T0 + 2, &ev);
	ok(run, "a", "{'x': 1}", T0 + 3);
	CHECK_INT(ev.n, 3);
	engine_events_retain(&ev, keep);
	CHECK_INT(ev.n, 1);
	if (ev.n == 1)
		CHECK(ev.items[0].started_ms == T0 + 2);
	engine_action_started(run, "c", T0 + 4, &ev);
	CHECK_STR(evs(), "b:started:1 c:started:1");
	engine_action_started(run, "a", T0 + 5, &ev);
	ok(run, "b", "{'y': 2}", T0 + 6);
	engine_events_retain(&ev, none);
	CHECK_INT(ev.n, 0);
	CHECK_STR(evs(), "");
	engine_run_free(run);
}

/* ---------------------------------------------------------------------
 * failure edges ("on": "failure")
 * --------------------------------------------------------------------- */

/* charge -> ship (success), charge -> alert (failure), both -> done */
#define FAILBP "{" HEAD "'nodes': [" ACT_RETRY("charge", "{'max_attempts': 2}") "," ACT("ship") "," \
	"{'id': 'alert', 'type': 'action', 'service': 'http', 'task': 'request'," \
	" 'params': {'url': 'https://x.test/alert', 'why': 'charge: {{steps.charge.error}}'}}," \
	ROUTER("done") "]," \
	" 'edges': [{'from': 'charge', 'to': 'ship'}," \
	" {'from': 'charge', 'to': 'alert', 'on': 'failure'}," \
	" {'from': 'ship', 'to': 'done'}, {'from': 'alert', 'to': 'done'}]}"

TEST(test_failure_edge_taken)
{
	EngineRun  *run = mkrun(FAILBP, NULL, NULL);
	char		err[FDB_ERRLEN];
	cJSON	   *p;

	CHECK_STR(adv(run, T0), "charge");
	/* a retryable error with attempts left retries: the path waits */
	fail(run, "charge", "HTTP 503", true, -1, T0 + 1);
	CHECK_STR(st(run, "charge"), "retrying");
	CHECK_STR(st(run, "alert"), "pending");
	CHECK_STR(evs(), "charge:retrying:1");
	CHECK_STR(adv(run, T0 + 5000), "charge");
	/* the last attempt fails: the failure edge is taken, the run goes on */
	fail(run, "charge", "HTTP 503", true, -1, T0 + 5001);
	CHECK(!run->failing);
	CHECK(run->error == NULL);
	CHECK_STR(st(run, "charge"), "failed");
	CHECK_STR(evs(), "charge:failed:2");
	CHECK_STR(adv(run, T0 + 5002), "alert");
	CHECK_STR(st(run, "ship"), "skipped");
	CHECK_STR(evs(), "ship:skipped:0");
	CHECK_STR(rstat(run, NULL), "running");
	/* the error is in the context of the alert step */
	p = engine_render_params(run, "alert", err, sizeof(err));
	CHECK(same_json(p, "{'url': 'https://x.test/alert', 'why': 'charge: HTTP 503'}"));
	cJSON_Delete(p);
	/* the failed node keeps its state across a reload (edges stay decided) */
	run = reincarnate(run, true);
	CHECK_STR(st(run, "charge"), "failed");
	CHECK_STR(st(run, "alert"), "pending");
	CHECK_STR(adv(run, T0 + 5003), "alert");
	ok(run, "alert", "{'sent': true}", T0 + 5100);
	CHECK_STR(adv(run, T0 + 5101), "");
	/* the join runs once, after the path that ran */
	CHECK_STR(evs(), "alert:succeeded:1 done:succeeded:1");
	CHECK_STR(rstat(run, NULL), "succeeded");
	CHECK(fdb_json_str(run->state, "failed_node") == NULL);
	engine_run_free(run);
	engine_events_clear(&ev);
}

TEST(test_failure_edge_not_taken)
{
	EngineRun  *run = mkrun(FAILBP, NULL, NULL);

	CHECK_STR(adv(run, T0), "charge");
	ok(run, "charge", "{'id': 'pay_1'}", T0 + 1);
	CHECK_STR(adv(run, T0 + 2), "ship");
	CHECK_STR(st(run, "alert"), "skipped");
	ok(run, "ship", NULL, T0 + 3);
	CHECK_STR(adv(run, T0 + 4), "");
	CHECK_STR(evs(), "charge:succeeded:1 alert:skipped:0 ship:succeeded:1 done:succeeded:1");
	CHECK_STR(rstat(run, NULL), "succeeded");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* skipped source: the failure edge is not taken either */
	run = mkrun("{" HEAD "'nodes': [" ROUTER("r") "," ACT("a") "," ACT("alert") "],"
				" 'edges': [{'from': 'r', 'to': 'a', 'condition': {'left': 1, 'op': 'eq', 'right': 2}},"
				" {'from': 'a', 'to': 'alert', 'on': 'failure'}]}", NULL, NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_STR(st(run, "a"), "skipped");
	CHECK_STR(st(run, "alert"), "skipped");
	CHECK_STR(rstat(run, NULL), "succeeded");
	engine_run_free(run);
	engine_events_clear(&ev);
}

TEST(test_failure_without_edge_fails_run)
{
	EngineRun  *run = mkrun(FAILBP, NULL, NULL);

	/* the alert step itself has no failure edge: its failure fails the run */
	CHECK_STR(adv(run, T0), "charge");
	fail(run, "charge", "card declined", false, -1, T0 + 1);
	CHECK(!run->failing);
	CHECK_STR(adv(run, T0 + 2), "alert");
	fail(run, "alert", "HTTP 404", false, -1, T0 + 3);
	CHECK(run->failing);
	CHECK_STR(run->error, "node alert failed: HTTP 404");
	CHECK_STR(fdb_json_str(run->state, "failed_node"), "alert");
	CHECK_STR(adv(run, T0 + 4), "");
	CHECK_STR(st(run, "done"), "pending");
	CHECK_STR(rstat(run, NULL), "failed");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* no failure edge at all: as before, and failed_node names the node */
	run = mkrun("{" HEAD "'nodes': [" ACT("a") "," ACT("b") "], 'edges': [{'from': 'a', 'to': 'b'}]}",
				NULL, NULL);
	CHECK_STR(adv(run, T0), "a");
	fail(run, "a", "boom", false, -1, T0 + 1);
	CHECK_STR(rstat(run, NULL), "failed");
	CHECK_STR(fdb_json_str(run->state, "failed_node"), "a");
	/* a later failure does not replace the first */
	engine_fail_run(run, "later");
	CHECK_STR(fdb_json_str(run->state, "failed_node"), "a");
	/* reloaded without an error (flow_retry cleared it): failed_node goes too */
	{
		cJSON	   *state = cJSON_Duplicate(run->state, true);
		cJSON	   *bp = cJSON_Duplicate(run->bp, true);

		engine_run_free(run);
		cJSON_DeleteItemFromObjectCaseSensitive(state, "error");
		run = engine_run_new("r1", "", bp, NULL, state);
		CHECK(!run->failing);
		CHECK(fdb_json_str(run->state, "failed_node") == NULL);
		engine_run_free(run);
	}
	engine_events_clear(&ev);
}

TEST(test_failure_edge_else_and_instant)
{
	/* a failed node takes none of its plain, conditional or else edges */
	EngineRun  *run = mkrun("{" HEAD "'nodes': [" ACT("a") "," ACT("x") "," ACT("y") "," ACT("z") "," ACT("alert") "],"
							" 'edges': [{'from': 'a', 'to': 'x', 'condition': {'left': 1, 'op': 'eq', 'right': 1}},"
							" {'from': 'a', 'to': 'y', 'else': true}, {'from': 'a', 'to': 'z'},"
							" {'from': 'a', 'to': 'alert', 'on': 'failure'}]}", NULL, NULL);

	CHECK_STR(adv(run, T0), "a");
	fail(run, "a", "bad request", false, -1, T0 + 1);
	CHECK_STR(adv(run, T0 + 2), "alert");
	CHECK_STR(st(run, "x"), "skipped");
	CHECK_STR(st(run, "y"), "skipped");
	CHECK_STR(st(run, "z"), "skipped");
	engine_run_free(run);
	engine_events_clear(&ev);

	/* an instant node (set with a missing path) takes its failure edge in the same advance */
	run = mkrun("{" HEAD "'nodes': [{'id': 's', 'type': 'set', 'values': {'v': '{{trigger_data.nope}}'}},"
				" {'id': 'why', 'type': 'set', 'values': {'e': '{{steps.s.error}}', 'st': '{{steps.s.status}}'}}],"
				" 'edges': [{'from': 's', 'to': 'why', 'on': 'failure'}]}", "{}", NULL);
	CHECK_STR(adv(run, T0), "");
	CHECK_STR(evs(), "s:failed:1 why:succeeded:1");
	CHECK_STR(fdb_json_str(cJSON_GetObjectItemCaseSensitive(nstate(run, "why"), "output"), "e"),
			  "path trigger_data.nope not found (no key \"nope\" in trigger_data)");
	CHECK_STR(fdb_json_str(cJSON_GetObjectItemCaseSensitive(nstate(run, "why"), "output"), "st"),
			  "failed");
	CHECK_STR(rstat(run, NULL), "succeeded");
	engine_run_free(run);
	engine_events_clear(&ev);
}

int
main(void)
{
	engine_config.random01 = rand_half;
	engine_events_init(&ev);

#define RUN_CLEAN(t) do { engine_events_clear(&ev); RUN(t); } while (0)
	RUN_CLEAN(test_linear);
	RUN_CLEAN(test_parallel_join);
	RUN_CLEAN(test_router_branches);
	RUN_CLEAN(test_router_multi);
	RUN_CLEAN(test_diamond);
	RUN_CLEAN(test_condition_error);
	RUN_CLEAN(test_set_node);
	RUN_CLEAN(test_state_cap);
	RUN_CLEAN(test_unknown_type_and_defaults);
	RUN_CLEAN(test_context);
	RUN_CLEAN(test_retry_backoff);
	RUN_CLEAN(test_retry_variants);
	RUN_CLEAN(test_inflight_when_failing);
	RUN_CLEAN(test_recover);
	RUN_CLEAN(test_phases);
	RUN_CLEAN(test_action_started);
	RUN_CLEAN(test_events_retain);
	RUN_CLEAN(test_delay_seconds);
	RUN_CLEAN(test_delay_until);
	RUN_CLEAN(test_delay_until_validator_agrees);
	RUN_CLEAN(test_wait_event_resume);
	RUN_CLEAN(test_wait_event_timeout);
	RUN_CLEAN(test_parse_time_valid);
	RUN_CLEAN(test_parse_time_invalid);
	RUN_CLEAN(test_round_trip);
	RUN_CLEAN(test_crash_recovery_model);
	RUN_CLEAN(test_flow_retry);
	RUN_CLEAN(test_recover_failing);
	RUN_CLEAN(test_state_shapes);
	RUN_CLEAN(test_events_growth);
	RUN_CLEAN(test_map_basic);
	RUN_CLEAN(test_map_two_at_once);
	RUN_CLEAN(test_map_after_map);
	RUN_CLEAN(test_map_default_concurrency_and_empty);
	RUN_CLEAN(test_map_item_errors);
	RUN_CLEAN(test_map_bad_items);
	RUN_CLEAN(test_map_recover);
	RUN_CLEAN(test_map_failing_run);
	RUN_CLEAN(test_step_split);
	RUN_CLEAN(test_call_node);
	RUN_CLEAN(test_map_workflow);
	RUN_CLEAN(test_failure_edge_taken);
	RUN_CLEAN(test_failure_edge_not_taken);
	RUN_CLEAN(test_failure_without_edge_fails_run);
	RUN_CLEAN(test_failure_edge_else_and_instant);

	engine_events_free(&ev);
	return UNIT_SUMMARY();
}
