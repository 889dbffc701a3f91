/*-------------------------------------------------------------------------
 *
 * engine.c
 *	  The run state machine.  Pure C over cJSON: no I/O, no transactions,
 *	  so every rule here is unit-tested in test/unit/test_engine.c.
 *
 * Rules (see docs/blueprint.md):
 *	- a node with no incoming edge is ready at once;
 *	- an edge is resolved when its source finished: taken if the source
 *	  succeeded and its condition holds (no condition = taken; an "else"
 *	  edge is taken when no conditional sibling was), not taken if the
 *	  source was skipped;
 *	- a node runs when all its incoming edges are resolved and at least one
 *	  was taken; when all are resolved and none was taken it is skipped;
 *	- a permanently failed node fails the run once nothing is in flight,
 *	  unless it has failure edges ("on": "failure"): then those are taken,
 *	  its other edges are not, and the run goes on;
 *	- failure edges are not taken when their source succeeds or is skipped.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "condition.h"
#include "template.h"

/* a node id (at most 64 bytes when valid) plus room to notice longer ones */
#define ENGINE_ID_BUF 80

static double default_random01(void);
static int	edge_value(EngineRun *run, int i);
static void resolve_out_edges(EngineRun *run, const char *node_id, bool skipped,
							  bool timed_out, bool failed);
static void fail_node(EngineRun *run, const char *node_id, cJSON *input,
					  const char *error, double started_ms, double now_ms,
					  EngineEvents *ev);
static bool is_failure_edge(const cJSON *edge);
static void fail_over_state_cap(EngineRun *run, const char *node_id, int item,
								cJSON *input, double started_ms, double now_ms,
								EngineEvents *ev);
static bool has_failure_edge(EngineRun *run, const char *node_id);

static bool is_map_node(const cJSON *node);
static cJSON *item_state(EngineRun *run, const char *step_id, char *node_id,
						 size_t len, int *index);
static void map_start(EngineRun *run, const cJSON *node, const char *id,
					  double now_ms, EngineEvents *ev);
static bool map_advance(EngineRun *run, const cJSON *node, const char *id,
						double now_ms, char ***out, int *n, int *cap,
						EngineEvents *ev);
static void map_item_done(EngineRun *run, const char *node_id, int index,
						  cJSON *input, cJSON *output, const char *error,
						  double started_ms, double now_ms, EngineEvents *ev);
static void map_index_free(EngineRun *run);
static int	map_item_count(EngineRun *run, cJSON *m);
static cJSON *map_item(EngineRun *run, cJSON *m, int i);
static int	map_result_slots(EngineRun *run, cJSON *m);
static void map_set_result(EngineRun *run, cJSON *m, int i, cJSON *result);

EngineConfig engine_config = {1000.0, 3600000.0, default_random01, 0,
ENGINE_DEFAULT_MAX_MAP_ITEMS};

/*
 * default_random01
 *		Jitter source: libc random() scaled to [0,1).
 */
static double
default_random01(void)
{
	return (double) (random() % 1000000) / 1000000.0;
}

/* ---------------------------------------------------------------------
 * events
 * --------------------------------------------------------------------- */

/*
 * engine_events_init
 *		Empty event list.
 */
void
engine_events_init(EngineEvents *ev)
{
	ev->n = 0;
	ev->cap = 0;
	ev->items = NULL;
}

/*
 * event_free
 *		Free one event's contents.
 */
static void
event_free(EngineEvent *e)
{
	free(e->node_id);
	free(e->error);
	cJSON_Delete(e->input);
	cJSON_Delete(e->output);
}

/*
 * engine_events_clear
 *		Free the events' contents, keep the array for reuse.
 */
void
engine_events_clear(EngineEvents *ev)
{
	for (int i = 0; i < ev->n; i++)
		event_free(&ev->items[i]);
	ev->n = 0;
}

/*
 * engine_events_retain
 *		Keep the events flagged in keep, in their order; free the others.
 */
void
engine_events_retain(EngineEvents *ev, const bool *keep)
{
	int			n = 0;

	for (int i = 0; i < ev->n; i++)
	{
		if (keep[i])
			ev->items[n++] = ev->items[i];
		else
			event_free(&ev->items[i]);
	}
	ev->n = n;
}

/*
 * engine_events_free
 *		Free everything.
 */
void
engine_events_free(EngineEvents *ev)
{
	engine_events_clear(ev);
	free(ev->items);
	engine_events_init(ev);
}

/*
 * add_event
 *		Append a log event; input/output are taken over.
 */
static void
add_event(EngineEvents *ev, const char *node_id, FlowStatus status,
		  int attempt, cJSON *input, cJSON *output, const char *error,
		  double started_ms, double finished_ms)
{
	EngineEvent *e;

	if (ev == NULL)
	{
		cJSON_Delete(input);
		cJSON_Delete(output);
		return;
	}
	if (ev->n == ev->cap)
	{
		int			ncap = ev->cap ? ev->cap * 2 : 16;
		EngineEvent *items = realloc(ev->items, sizeof(EngineEvent) * ncap);

		if (items == NULL)
			abort();
		ev->items = items;
		ev->cap = ncap;
	}
	e = &ev->items[ev->n++];
	e->node_id = fdb_strdup(node_id);
	e->item = -1;
	e->status = flow_status_names[status];
	e->attempt = attempt;
	e->input = input;
	e->output = output;
	e->error = error ? fdb_strdup(error) : NULL;
	e->started_ms = started_ms;
	e->finished_ms = finished_ms;
}

/*
 * add_item_event
 *		Append a log event of one map item (see add_event).
 */
static void
add_item_event(EngineEvents *ev, const char *node_id, int index,
			   FlowStatus status, int attempt, cJSON *input, cJSON *output,
			   const char *error, double started_ms, double finished_ms)
{
	add_event(ev, node_id, status, attempt, input, output, error,
			  started_ms, finished_ms);
	if (ev != NULL)
		ev->items[ev->n - 1].item = index;
}

/* ---------------------------------------------------------------------
 * state access
 * --------------------------------------------------------------------- */

/*
 * node_state
 *		The state object of a node, created (pending) when absent.
 */
static cJSON *
node_state(EngineRun *run, const char *id)
{
	cJSON	   *ns = cJSON_GetObjectItemCaseSensitive(run->nodes, id);

	if (ns == NULL || !cJSON_IsObject(ns))
	{
		if (ns != NULL)
			cJSON_DeleteItemFromObjectCaseSensitive(run->nodes, id);
		ns = cJSON_AddObjectToObject(run->nodes, id);
	}
	return ns;
}

/*
 * node_status
 *		Status of a node (FLOW_PENDING when it has none yet).
 */
static FlowStatus
node_status(EngineRun *run, const char *id)
{
	cJSON	   *ns = cJSON_GetObjectItemCaseSensitive(run->nodes, id);
	const char *s = ns ? fdb_json_str(ns, "status") : NULL;

	return s ? flow_status_parse(s) : FLOW_PENDING;
}

/*
 * set_field
 *		Replace (or add) key in obj with item (taken over).
 */
static void
set_field(cJSON *obj, const char *key, cJSON *item)
{
	if (cJSON_HasObjectItem(obj, key))
		cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
	else
		cJSON_AddItemToObject(obj, key, item);
}

/*
 * set_status
 *		Set a node's status.
 */
static void
set_status(cJSON *ns, FlowStatus status)
{
	set_field(ns, "status", cJSON_CreateString(flow_status_names[status]));
}

/*
 * get_int
 *		Integer field of an object, or dflt.
 */
static int
get_int(const cJSON *obj, const char *key, int dflt)
{
	double		d;

	if (obj && fdb_json_num(obj, key, &d))
		return (int) d;
	return dflt;
}

/*
 * get_double
 *		Number field of an object, or dflt.
 */
static double
get_double(const cJSON *obj, const char *key, double dflt)
{
	double		d;

	if (obj && fdb_json_num(obj, key, &d))
		return d;
	return dflt;
}

const char *const flow_status_names[] = {
	[FLOW_PENDING] = "pending",
	[FLOW_RUNNING] = "running",
	[FLOW_RETRYING] = "retrying",
	[FLOW_WAITING] = "waiting",
	[FLOW_RESUMED] = "resumed",
	[FLOW_SUCCEEDED] = "succeeded",
	[FLOW_FAILED] = "failed",
	[FLOW_SKIPPED] = "skipped",
	[FLOW_STARTED] = "started",
	[FLOW_UNKNOWN] = "unknown",
};

/*
 * flow_status_parse
 *		The FlowStatus whose name is name; FLOW_UNKNOWN when none is.
 */
FlowStatus
flow_status_parse(const char *name)
{
	if (name == NULL)
		return FLOW_UNKNOWN;
	for (int i = 0; i < FLOW_UNKNOWN; i++)
		if (strcmp(flow_status_names[i], name) == 0)
			return (FlowStatus) i;
	return FLOW_UNKNOWN;
}

/*
 * is_terminal
 *		Node finished for good (as far as edges are concerned).
 */
static bool
is_terminal(FlowStatus status)
{
	return status == FLOW_SUCCEEDED || status == FLOW_SKIPPED ||
		status == FLOW_FAILED;
}

/*
 * engine_run_new
 *		Wrap a run's blueprint, payload and state (all taken over).
 */
EngineRun *
engine_run_new(const char *run_id, const char *workflow_id,
			   cJSON *bp, cJSON *payload, cJSON *state)
{
	EngineRun  *run = calloc(1, sizeof(EngineRun));
	const cJSON *edges = cJSON_GetObjectItemCaseSensitive(bp, "edges");
	int			nedges = cJSON_IsArray(edges) ? cJSON_GetArraySize(edges) : 0;

	if (run == NULL)
		abort();
	snprintf(run->run_id, sizeof(run->run_id), "%s", run_id ? run_id : "");
	snprintf(run->workflow_id, sizeof(run->workflow_id), "%s",
			 workflow_id ? workflow_id : "");
	run->bp = bp;
	run->payload = payload ? payload : cJSON_CreateObject();
	run->state = (state && cJSON_IsObject(state)) ? state : cJSON_CreateObject();
	if (state && run->state != state)
		cJSON_Delete(state);

	run->nodes = cJSON_GetObjectItemCaseSensitive(run->state, "nodes");
	if (!cJSON_IsObject(run->nodes))
	{
		cJSON_DeleteItemFromObjectCaseSensitive(run->state, "nodes");
		run->nodes = cJSON_AddObjectToObject(run->state, "nodes");
	}
	{
		const char *err = fdb_json_str(run->state, "error");

		if (err != NULL)
		{
			run->failing = true;
			run->error = fdb_strdup(err);
		}
		else
		{
			/* only meaningful with the error (cleared by flow_retry) */
			cJSON_DeleteItemFromObjectCaseSensitive(run->state, "failed_node");
		}
	}
	run->edges = cJSON_GetObjectItemCaseSensitive(run->state, "edges");
	if (!cJSON_IsArray(run->edges) || cJSON_GetArraySize(run->edges) != nedges)
	{
		cJSON_DeleteItemFromObjectCaseSensitive(run->state, "edges");
		run->edges = cJSON_AddArrayToObject(run->state, "edges");
		for (int i = 0; i < nedges; i++)
			cJSON_AddItemToArray(run->edges, cJSON_CreateNull());
	}
	if (engine_config.max_state_bytes > 0)
		run->state_bytes = fdb_json_size(run->state, engine_config.max_state_bytes);
	return run;
}

/*
 * engine_run_free
 *		Free a run and everything it owns.
 */
void
engine_run_free(EngineRun *run)
{
	if (run == NULL)
		return;
	cJSON_Delete(run->bp);
	cJSON_Delete(run->payload);
	cJSON_Delete(run->state);
	free(run->error);
	map_index_free(run);
	free(run);
}

/*
 * engine_recover
 *		Requests recorded as running may have been lost with the process
 *		that sent them: make them pending again (keeping the attempt count
 *		so the same Idempotency-Key and attempt number are used).
 *		Edges out of a failed node reset too when the run was retried.
 */
void
engine_recover(EngineRun *run)
{
	cJSON	   *ns;

	run->memo_valid = false;
	cJSON_ArrayForEach(ns, run->nodes)
	{
		const char *st = fdb_json_str(ns, "status");
		cJSON	   *m = cJSON_GetObjectItemCaseSensitive(ns, "map");

		if (st && strcmp(st, "running") == 0 && cJSON_IsObject(m))
		{
			/* a map stays running; its items in flight are sent again */
			cJSON	   *a;

			cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(m, "active"))
			{
				const char *ist = fdb_json_str(a, "status");

				if (ist && strcmp(ist, "running") == 0)
				{
					set_status(a, FLOW_PENDING);
					set_field(a, "attempt",
							  cJSON_CreateNumber(get_int(a, "attempt", 1) - 1));
				}
			}
		}
		else if (st && strcmp(st, "running") == 0)
		{
			set_status(ns, FLOW_PENDING);
			set_field(ns, "attempt",
					  cJSON_CreateNumber(get_int(ns, "attempt", 1) - 1));
		}
	}
	/* edges whose source is not finished are unresolved (flow_retry) */
	{
		const cJSON *edges = cJSON_GetObjectItemCaseSensitive(run->bp, "edges");
		int			i = 0;
		const cJSON *e;

		cJSON_ArrayForEach(e, edges)
		{
			const char *from = fdb_json_str(e, "from");

			if (from && !is_terminal(node_status(run, from)))
				cJSON_ReplaceItemInArray(run->edges, i, cJSON_CreateNull());
			i++;
		}
		/*
		 * A succeeded node with an unresolved edge had a condition error;
		 * when the run is no longer failing (flow_retry), decide again.
		 */
		i = 0;
		cJSON_ArrayForEach(e, edges)
		{
			const char *from = fdb_json_str(e, "from");

			if (!run->failing && from && edge_value(run, i) < 0 &&
				node_status(run, from) == FLOW_SUCCEEDED)
				resolve_out_edges(run, from, false, false, false);
			i++;
		}
	}
}

/* ---------------------------------------------------------------------
 * context and rendering
 * --------------------------------------------------------------------- */

/*
 * engine_context
 *		{"trigger_data", "steps": {id: {"output", "status"}}, "run",
 *		"workflow"}; large values are references into the run.  For a map
 *		item's step id ("<id>[<index>]") also "item" and "index", and
 *		run.attempt is the item's.
 */
cJSON *
engine_context(EngineRun *run, const char *node_id)
{
	cJSON	   *ctx = cJSON_CreateObject();
	char		nid[ENGINE_ID_BUF];
	int			index = -1;
	cJSON	   *is = node_id ? item_state(run, node_id, nid, sizeof(nid), &index) : NULL;
	cJSON	   *steps = cJSON_AddObjectToObject(ctx, "steps");
	cJSON	   *r = cJSON_AddObjectToObject(ctx, "run");
	cJSON	   *w = cJSON_AddObjectToObject(ctx, "workflow");
	cJSON	   *ns;
	const char *name = fdb_json_str(run->bp, "name");

	cJSON_AddItemReferenceToObject(ctx, "trigger_data", run->payload);
	cJSON_ArrayForEach(ns, run->nodes)
	{
		cJSON	   *s = cJSON_AddObjectToObject(steps, ns->string);
		cJSON	   *out = cJSON_GetObjectItemCaseSensitive(ns, "output");
		const char *st = fdb_json_str(ns, "status");
		const char *nerr = fdb_json_str(ns, "error");

		if (out)
			cJSON_AddItemReferenceToObject(s, "output", out);
		cJSON_AddStringToObject(s, "status", st ? st : "pending");
		/* a failed node's error, for its failure path */
		if (nerr && flow_status_parse(st) == FLOW_FAILED)
			cJSON_AddStringToObject(s, "error", nerr);
	}
	cJSON_AddStringToObject(r, "id", run->run_id);
	if (index >= 0)
	{
		cJSON	   *m = cJSON_GetObjectItemCaseSensitive(node_state(run, nid), "map");
		cJSON	   *item = map_item(run, m, index);

		if (item)
			cJSON_AddItemReferenceToObject(ctx, "item", item);
		else
			cJSON_AddNullToObject(ctx, "item");
		cJSON_AddNumberToObject(ctx, "index", index);
		cJSON_AddNumberToObject(r, "attempt", get_int(is, "attempt", 1));
	}
	else
		cJSON_AddNumberToObject(r, "attempt",
								node_id ? get_int(cJSON_GetObjectItemCaseSensitive(run->nodes, node_id),
												  "attempt", 1) : 1);
	cJSON_AddNumberToObject(r, "retries", get_int(run->state, "retries", 0));
	if (run->workflow_id[0])
		cJSON_AddStringToObject(w, "id", run->workflow_id);
	else
		cJSON_AddNullToObject(w, "id");
	cJSON_AddStringToObject(w, "name", name ? name : "");
	return ctx;
}

/*
 * engine_context_free
 *		Free a context (references are not followed).
 */
void
engine_context_free(cJSON *ctx)
{
	cJSON_Delete(ctx);
}

/*
 * engine_render_params
 *		The node's params with templates resolved.
 */
cJSON *
engine_render_params(EngineRun *run, const char *node_id, char *err, size_t errlen)
{
	const cJSON *node = engine_action_node(run, node_id);
	const cJSON *params = node ? cJSON_GetObjectItemCaseSensitive(node, "params") : NULL;
	cJSON	   *ctx;
	cJSON	   *out;

	if (params == NULL)
		return cJSON_CreateObject();
	ctx = engine_context(run, node_id);
	out = tmpl_render(params, ctx, err, errlen);
	engine_context_free(ctx);
	return out;
}

/* ---------------------------------------------------------------------
 * graph
 * --------------------------------------------------------------------- */

/*
 * engine_find_node
 *		The blueprint node with this id, or NULL.
 */
const cJSON *
engine_find_node(const cJSON *bp, const char *id)
{
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(bp, "nodes");
	const cJSON *n;

	cJSON_ArrayForEach(n, nodes)
	{
		const char *nid = fdb_json_str(n, "id");

		if (nid && strcmp(nid, id) == 0)
			return n;
	}
	return NULL;
}

/*
 * edge_value
 *		-1 unresolved, 0 not taken, 1 taken.
 */
static int
edge_value(EngineRun *run, int i)
{
	const cJSON *v = cJSON_GetArrayItem(run->edges, i);

	if (v == NULL || cJSON_IsNull(v))
		return -1;
	return cJSON_IsTrue(v) ? 1 : 0;
}

/*
 * set_edge
 *		Record edge i as taken or not.
 */
static void
set_edge(EngineRun *run, int i, bool taken)
{
	cJSON_ReplaceItemInArray(run->edges, i, cJSON_CreateBool(taken));
}

/*
 * is_failure_edge
 *		Is this an edge taken when its source fails ("on": "failure")?
 */
static bool
is_failure_edge(const cJSON *edge)
{
	const char *on = fdb_json_str(edge, "on");

	return on != NULL && strcmp(on, "failure") == 0;
}

/*
 * has_failure_edge
 *		Does node_id have an outgoing failure edge (its failure is handled)?
 */
static bool
has_failure_edge(EngineRun *run, const char *node_id)
{
	const cJSON *edges = cJSON_GetObjectItemCaseSensitive(run->bp, "edges");
	const cJSON *e;

	cJSON_ArrayForEach(e, edges)
	{
		const char *from = fdb_json_str(e, "from");

		if (from && strcmp(from, node_id) == 0 && is_failure_edge(e))
			return true;
	}
	return false;
}

/*
 * resolve_out_edges
 *		Decide the outgoing edges of a node that finished.  skipped: none
 *		taken.  failed (a failure with failure edges): only the failure
 *		edges are taken.  Failure edges are never taken otherwise.  A
 *		wait_event's else edges are its timeout path: taken when it timed
 *		out (and then only they are), never when the event came.  Otherwise
 *		conditions are evaluated against the run context; an evaluation
 *		error fails the run and leaves the edge unresolved.
 */
static void
resolve_out_edges(EngineRun *run, const char *node_id, bool skipped, bool timed_out,
				  bool failed)
{
	const cJSON *edges = cJSON_GetObjectItemCaseSensitive(run->bp, "edges");
	const cJSON *e;
	cJSON	   *ctx = NULL;
	bool		any_conditional_taken = false;
	const cJSON *node = engine_find_node(run->bp, node_id);
	const char *type = node ? fdb_json_str(node, "type") : NULL;
	bool		is_wait = type && strcmp(type, "wait_event") == 0;
	int			i;

	/* pass 1: plain and conditional edges */
	i = 0;
	cJSON_ArrayForEach(e, edges)
	{
		const char *from = fdb_json_str(e, "from");
		const cJSON *cond = cJSON_GetObjectItemCaseSensitive(e, "condition");
		bool		is_else = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "else"));

		if (from && strcmp(from, node_id) == 0 && is_failure_edge(e))
			set_edge(run, i, failed && !skipped);
		else if (from && strcmp(from, node_id) == 0 && !is_else)
		{
			if (skipped || timed_out || failed)
				set_edge(run, i, false);
			else if (cond == NULL || cJSON_IsNull(cond))
				set_edge(run, i, true);
			else
			{
				char		err[FDB_ERRLEN];
				int			r;

				if (ctx == NULL)
					ctx = engine_context(run, NULL);
				err[0] = '\0';
				r = cond_eval(cond, ctx, err, sizeof(err));
				if (r < 0)
				{
					char	   *msg = fdb_asprintf("condition on edge %s -> %s: %s",
												   node_id, fdb_json_str(e, "to"), err);

					if (!run->failing)
						set_field(run->state, "failed_node", cJSON_CreateString(node_id));
					engine_fail_run(run, msg);
					free(msg);
					/* stays unresolved: a retried run evaluates it again */
				}
				else
				{
					set_edge(run, i, r == 1);
					if (r == 1)
						any_conditional_taken = true;
				}
			}
		}
		i++;
	}
	/* pass 2: else edges */
	i = 0;
	cJSON_ArrayForEach(e, edges)
	{
		const char *from = fdb_json_str(e, "from");
		bool		is_else = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "else"));

		if (from && strcmp(from, node_id) == 0 && is_else && !is_failure_edge(e))
		{
			if (failed)
				set_edge(run, i, false);
			else if (is_wait)
				set_edge(run, i, !skipped && timed_out);
			else
				set_edge(run, i, !skipped && !any_conditional_taken);
		}
		i++;
	}
	if (ctx)
		engine_context_free(ctx);
}

/*
 * readiness
 *		For a pending node: 1 ready, 0 not yet, -1 to be skipped.
 */
static int
readiness(EngineRun *run, const char *node_id)
{
	const cJSON *edges = cJSON_GetObjectItemCaseSensitive(run->bp, "edges");
	const cJSON *e;
	int			i = 0;
	int			incoming = 0;
	bool		unresolved = false;
	bool		taken = false;

	cJSON_ArrayForEach(e, edges)
	{
		const char *to = fdb_json_str(e, "to");

		if (to && strcmp(to, node_id) == 0)
		{
			int			v = edge_value(run, i);

			incoming++;
			if (v < 0)
				unresolved = true;
			else if (v == 1)
				taken = true;
		}
		i++;
	}
	if (incoming == 0)
		return 1;
	if (unresolved)
		return 0;
	return taken ? 1 : -1;
}

/*
 * node_max_attempts
 *		retry.max_attempts of a node (default 3).
 */
static int
node_max_attempts(const cJSON *node)
{
	const cJSON *retry = cJSON_GetObjectItemCaseSensitive(node, "retry");

	return get_int(retry, "max_attempts", ENGINE_DEFAULT_ATTEMPTS);
}

/*
 * succeed_node
 *		Mark a node succeeded with output (taken over), log it, resolve
 *		its outgoing edges.
 */
static void
succeed_node(EngineRun *run, const char *node_id, cJSON *input, cJSON *output,
			 double started_ms, double now_ms, bool timed_out, EngineEvents *ev)
{
	cJSON	   *ns = node_state(run, node_id);
	int			attempt = get_int(ns, "attempt", 1);

	/* a run's state only grows by outputs: keep it under the cap */
	if (engine_config.max_state_bytes > 0)
	{
		size_t		max = engine_config.max_state_bytes;
		size_t		size = fdb_json_size(output, max);

		if (size > max || run->state_bytes > max - size)
		{
			cJSON_Delete(output);
			fail_over_state_cap(run, node_id, -1, input, started_ms, now_ms, ev);
			return;
		}
		run->state_bytes += size;
	}
	if (attempt < 1)
		attempt = 1;
	set_status(ns, FLOW_SUCCEEDED);
	set_field(ns, "attempt", cJSON_CreateNumber(attempt));
	set_field(ns, "output", output ? output : cJSON_CreateObject());
	cJSON_DeleteItemFromObjectCaseSensitive(ns, "due");
	cJSON_DeleteItemFromObjectCaseSensitive(ns, "error");
	cJSON_DeleteItemFromObjectCaseSensitive(ns, "phase");
	cJSON_DeleteItemFromObjectCaseSensitive(ns, "phase_state");
	add_event(ev, node_id, FLOW_SUCCEEDED, attempt, input,
			  cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ns, "output"), true),
			  NULL, started_ms, now_ms);
	resolve_out_edges(run, node_id, false, timed_out, false);
}

/*
 * fail_over_state_cap
 *		Fail a node whose output (or a map's items, or a map item's result,
 *		item >= 0) would grow the run's state past flowdb.max_state_bytes.
 */
static void
fail_over_state_cap(EngineRun *run, const char *node_id, int item, cJSON *input,
					double started_ms, double now_ms, EngineEvents *ev)
{
	size_t		max = engine_config.max_state_bytes;
	char	   *msg = item >= 0
		? fdb_asprintf("item %d: the run's state would be larger than %zu bytes "
					   "(flowdb.max_state_bytes)", item, max)
		: fdb_asprintf("the run's state would be larger than %zu bytes "
					   "(flowdb.max_state_bytes)", max);

	fail_node(run, node_id, input, msg, started_ms, now_ms, ev);
	free(msg);
}

/*
 * fail_node
 *		Mark a node failed for good.  With failure edges the failure is
 *		handled: they are taken and the run goes on; otherwise the run is
 *		failing (and state.failed_node names the first node that failed
 *		it, for the workflow's on_failure handler).
 */
static void
fail_node(EngineRun *run, const char *node_id, cJSON *input, const char *error,
		  double started_ms, double now_ms, EngineEvents *ev)
{
	cJSON	   *ns = node_state(run, node_id);
	int			attempt = get_int(ns, "attempt", 1);
	char	   *msg;

	set_status(ns, FLOW_FAILED);
	set_field(ns, "error", cJSON_CreateString(error));
	cJSON_DeleteItemFromObjectCaseSensitive(ns, "due");
	add_event(ev, node_id, FLOW_FAILED, attempt < 1 ? 1 : attempt, input, NULL, error,
			  started_ms, now_ms);
	if (has_failure_edge(run, node_id))
	{
		resolve_out_edges(run, node_id, false, false, true);
		return;
	}
	if (!run->failing)
		set_field(run->state, "failed_node", cJSON_CreateString(node_id));
	msg = fdb_asprintf("node %s failed: %s", node_id, error);
	engine_fail_run(run, msg);
	free(msg);
}

/*
 * engine_fail_oversized
 *		Fail a run whose state grew too large to be stored: drop every
 *		node's output and phase state (keeping statuses, attempts and
 *		errors) and fail the run with error (the first error still wins
 *		for run->error, but this one is recorded in the state too).
 */
void
engine_fail_oversized(EngineRun *run, const char *error)
{
	cJSON	   *ns;

	run->memo_valid = false;
	cJSON_ArrayForEach(ns, run->nodes)
	{
		cJSON_DeleteItemFromObjectCaseSensitive(ns, "output");
		cJSON_DeleteItemFromObjectCaseSensitive(ns, "phase_state");
		cJSON_DeleteItemFromObjectCaseSensitive(ns, "match");
	}
	engine_fail_run(run, error);
	set_field(run->state, "error", cJSON_CreateString(run->error));
	run->state_bytes = fdb_json_size(run->state, SIZE_MAX);
}

/*
 * engine_fail_run
 *		The run will fail once nothing is in flight; the first error wins.
 */
void
engine_fail_run(EngineRun *run, const char *error)
{
	run->memo_valid = false;
	if (!run->failing)
	{
		run->failing = true;
		run->error = fdb_strdup(error);
		/* durable: a reloaded run is still failing */
		set_field(run->state, "error", cJSON_CreateString(error));
	}
}

/*
 * start_wait
 *		Park a delay or wait_event node until due_ms (0 = no deadline).
 */
static void
start_wait(cJSON *ns, double due_ms, double now_ms)
{
	set_status(ns, FLOW_WAITING);
	set_field(ns, "due", cJSON_CreateNumber(due_ms));
	set_field(ns, "since", cJSON_CreateNumber(now_ms));
}

/*
 * start_node
 *		A pending node became ready: run it (instant types) or dispatch it
 *		(action).  Returns true when it was dispatched.
 */
static bool
start_node(EngineRun *run, const cJSON *node, const char *id, double now_ms,
		   EngineEvents *ev)
{
	const char *type = fdb_json_str(node, "type");
	cJSON	   *ns = node_state(run, id);
	char		err[FDB_ERRLEN];

	err[0] = '\0';
	if (type == NULL || strcmp(type, "action") == 0)
	{
		set_status(ns, FLOW_RUNNING);
		set_field(ns, "attempt", cJSON_CreateNumber(get_int(ns, "attempt", 0) + 1));
		set_field(ns, "started", cJSON_CreateNumber(now_ms));
		return true;
	}
	if (strcmp(type, "router") == 0)
	{
		set_field(ns, "attempt", cJSON_CreateNumber(1));
		succeed_node(run, id, NULL, cJSON_CreateObject(), now_ms, now_ms, false, ev);
	}
	else if (strcmp(type, "set") == 0)
	{
		const cJSON *values = cJSON_GetObjectItemCaseSensitive(node, "values");
		cJSON	   *ctx = engine_context(run, id);
		cJSON	   *out = values ? tmpl_render(values, ctx, err, sizeof(err))
			: cJSON_CreateObject();

		engine_context_free(ctx);
		set_field(ns, "attempt", cJSON_CreateNumber(1));
		if (out)
			succeed_node(run, id, NULL, out, now_ms, now_ms, false, ev);
		else
			fail_node(run, id, NULL, err, now_ms, now_ms, ev);
	}
	else if (strcmp(type, "delay") == 0)
	{
		double		seconds;
		double		due = 0;

		set_field(ns, "attempt", cJSON_CreateNumber(1));
		if (fdb_json_num(node, "seconds", &seconds))
			due = now_ms + seconds * 1000.0;
		else
		{
			const cJSON *until = cJSON_GetObjectItemCaseSensitive(node, "until");
			cJSON	   *ctx = engine_context(run, id);
			cJSON	   *val = until ? tmpl_render(until, ctx, err, sizeof(err)) : NULL;

			engine_context_free(ctx);
			if (val == NULL)
			{
				fail_node(run, id, NULL, err[0] ? err : "delay needs seconds or until",
						  now_ms, now_ms, ev);
				return false;
			}
			if (!cJSON_IsString(val) || !engine_parse_time(val->valuestring, &due))
			{
				char	   *t = fdb_json_to_text(val);
				char	   *msg = fdb_asprintf("delay until: \"%s\" is not an ISO 8601 timestamp", t);

				free(t);
				cJSON_Delete(val);
				fail_node(run, id, NULL, msg, now_ms, now_ms, ev);
				free(msg);
				return false;
			}
			cJSON_Delete(val);
		}
		if (due <= now_ms)
			due = now_ms;
		start_wait(ns, due, now_ms);
	}
	else if (strcmp(type, "map") == 0)
		map_start(run, node, id, now_ms, ev);
	else if (strcmp(type, "call") == 0)
	{
		/*
		 * Park on the child run: the database creates it when this state is
		 * committed (flowdb.start_calls) and resumes the node when it ends.
		 */
		const cJSON *payload = cJSON_GetObjectItemCaseSensitive(node, "payload");
		const char *wf = fdb_json_str(node, "workflow");
		cJSON	   *ctx = engine_context(run, id);
		cJSON	   *val = payload ? tmpl_render(payload, ctx, err, sizeof(err))
			: cJSON_CreateObject();
		cJSON	   *call;

		engine_context_free(ctx);
		set_field(ns, "attempt", cJSON_CreateNumber(1));
		if (val == NULL)
		{
			char	   *msg = fdb_asprintf("payload: %s", err);

			fail_node(run, id, NULL, msg, now_ms, now_ms, ev);
			free(msg);
			return false;
		}
		call = cJSON_CreateObject();
		cJSON_AddStringToObject(call, "workflow", wf ? wf : "");
		cJSON_AddItemToObject(call, "payload", val);
		set_field(ns, "call", call);
		start_wait(ns, 0, now_ms);
		run->calls_started = true;
	}
	else if (strcmp(type, "wait_event") == 0)
	{
		double		timeout_s;
		const char *event = fdb_json_str(node, "event");

		set_field(ns, "attempt", cJSON_CreateNumber(1));
		set_field(ns, "event", cJSON_CreateString(event ? event : ""));
		if (cJSON_HasObjectItem(node, "match"))
		{
			/* render now: {"invoice": "{{steps.create.output.id}}"} */
			cJSON	   *ctx = engine_context(run, id);
			cJSON	   *match = tmpl_render(cJSON_GetObjectItemCaseSensitive(node, "match"),
											ctx, err, sizeof(err));

			engine_context_free(ctx);
			if (match == NULL)
			{
				fail_node(run, id, NULL, err, now_ms, now_ms, ev);
				return false;
			}
			set_field(ns, "match", match);
		}
		start_wait(ns, fdb_json_num(node, "timeout_seconds", &timeout_s)
				   ? now_ms + timeout_s * 1000.0 : 0, now_ms);
	}
	else
	{
		char	   *msg = fdb_asprintf("unknown node type \"%s\"", type);

		fail_node(run, id, NULL, msg, now_ms, now_ms, ev);
		free(msg);
	}
	return false;
}

/*
 * wake_node
 *		Handle a node in a timed or resumable state: due retries become
 *		dispatchable, due delays succeed, resumed waits succeed with the
 *		event's data, due wait timeouts take the else path.  Returns 1 when
 *		dispatched, 0 otherwise; *changed tells whether the state moved.
 */
static int
wake_node(EngineRun *run, const cJSON *node, const char *id, FlowStatus st,
		  double now_ms, bool *changed, EngineEvents *ev)
{
	cJSON	   *ns = node_state(run, id);
	double		due = get_double(ns, "due", 0);
	const char *type = fdb_json_str(node, "type");

	if (st == FLOW_RETRYING)
	{
		if (due <= now_ms)
		{
			set_status(ns, FLOW_RUNNING);
			set_field(ns, "attempt", cJSON_CreateNumber(get_int(ns, "attempt", 0) + 1));
			set_field(ns, "started", cJSON_CreateNumber(now_ms));
			cJSON_DeleteItemFromObjectCaseSensitive(ns, "due");
			*changed = true;
			return 1;
		}
		return 0;
	}
	if (st == FLOW_RESUMED && fdb_json_str(ns, "call_error") != NULL)
	{
		/* a call whose child run could not start, failed or was canceled */
		char	   *msg = fdb_strdup(fdb_json_str(ns, "call_error"));

		cJSON_DeleteItemFromObjectCaseSensitive(ns, "call");
		fail_node(run, id, NULL, msg, get_double(ns, "since", now_ms), now_ms, ev);
		free(msg);
		*changed = true;
		return 0;
	}
	if (st == FLOW_RESUMED)
	{
		cJSON	   *out = cJSON_DetachItemFromObjectCaseSensitive(ns, "output");

		cJSON_DeleteItemFromObjectCaseSensitive(ns, "call");

		succeed_node(run, id, NULL, out, get_double(ns, "since", now_ms), now_ms,
					 false, ev);
		*changed = true;
		return 0;
	}
	if (st == FLOW_WAITING && due > 0 && due <= now_ms)
	{
		cJSON	   *out = cJSON_CreateObject();
		bool		is_wait = type && strcmp(type, "wait_event") == 0;

		if (is_wait)
			cJSON_AddBoolToObject(out, "timed_out", true);
		else
			cJSON_AddNumberToObject(out, "waited_ms",
									now_ms - get_double(ns, "since", now_ms));
		succeed_node(run, id, NULL, out, get_double(ns, "since", now_ms), now_ms,
					 is_wait, ev);
		*changed = true;
	}
	return 0;
}

/*
 * engine_advance
 *		Move the run forward until nothing more can happen without I/O or
 *		time; collect the action nodes to dispatch.
 */
int
engine_advance(EngineRun *run, double now_ms, char ***dispatch, EngineEvents *ev)
{
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(run->bp, "nodes");
	int			n = 0;
	int			cap = 0;
	char	  **out = NULL;
	bool		changed = true;
	int			guard = 0;

	run->memo_valid = false;
	*dispatch = NULL;
	while (changed && !run->failing && guard++ < 10000)
	{
		const cJSON *node;

		changed = false;
		cJSON_ArrayForEach(node, nodes)
		{
			const char *id = fdb_json_str(node, "id");
			FlowStatus	st;
			bool		send = false;

			if (id == NULL || run->failing)
				continue;
			st = node_status(run, id);
			if (st == FLOW_PENDING)
			{
				int			r = readiness(run, id);

				if (r == 0)
					continue;
				changed = true;
				if (r < 0)
				{
					cJSON	   *ns = node_state(run, id);

					set_status(ns, FLOW_SKIPPED);
					add_event(ev, id, FLOW_SKIPPED, 0, NULL, NULL, NULL, now_ms, now_ms);
					resolve_out_edges(run, id, true, false, false);
					continue;
				}
				send = start_node(run, node, id, now_ms, ev);
				if (is_map_node(node) && node_status(run, id) == FLOW_RUNNING)
					(void) map_advance(run, node, id, now_ms, &out, &n, &cap, ev);
			}
			else if (st == FLOW_RETRYING || st == FLOW_RESUMED ||
					 st == FLOW_WAITING)
				send = wake_node(run, node, id, st, now_ms, &changed, ev) == 1;
			else if (st == FLOW_RUNNING && is_map_node(node))
			{
				if (map_advance(run, node, id, now_ms, &out, &n, &cap, ev))
					changed = true;
			}

			if (send)
			{
				if (n == cap)
				{
					cap = cap ? cap * 2 : 8;
					out = realloc(out, sizeof(char *) * cap);
					if (out == NULL)
						abort();
				}
				out[n++] = fdb_strdup(id);
			}
		}
	}
	*dispatch = out;
	return n;
}

/*
 * engine_free_dispatch
 *		Free a dispatch list.
 */
void
engine_free_dispatch(char **dispatch, int n)
{
	for (int i = 0; i < n; i++)
		free(dispatch[i]);
	free(dispatch);
}

/*
 * engine_node_attempt
 *		Attempt number of a node (1-based while running).
 */
int
engine_node_attempt(EngineRun *run, const char *node_id)
{
	char		nid[ENGINE_ID_BUF];
	int			index;
	cJSON	   *is = item_state(run, node_id, nid, sizeof(nid), &index);

	if (index >= 0)
		return get_int(is, "attempt", 1);
	return get_int(cJSON_GetObjectItemCaseSensitive(run->nodes, node_id), "attempt", 1);
}

/*
 * engine_node_phase
 *		Current phase of a multi-request action (0 first).
 */
int
engine_node_phase(EngineRun *run, const char *node_id)
{
	char		nid[ENGINE_ID_BUF];
	int			index;
	cJSON	   *is = item_state(run, node_id, nid, sizeof(nid), &index);

	if (index >= 0)
		return get_int(is, "phase", 0);
	return get_int(cJSON_GetObjectItemCaseSensitive(run->nodes, node_id), "phase", 0);
}

/*
 * engine_node_phase_state
 *		The node's phase_state object, created when absent.
 */
cJSON *
engine_node_phase_state(EngineRun *run, const char *node_id)
{
	char		nid[ENGINE_ID_BUF];
	int			index;
	cJSON	   *is = item_state(run, node_id, nid, sizeof(nid), &index);
	cJSON	   *ns = index >= 0 ? is : node_state(run, node_id);
	cJSON	   *ps = cJSON_GetObjectItemCaseSensitive(ns, "phase_state");

	run->memo_valid = false;
	if (!cJSON_IsObject(ps))
	{
		cJSON_DeleteItemFromObjectCaseSensitive(ns, "phase_state");
		ps = cJSON_AddObjectToObject(ns, "phase_state");
	}
	return ps;
}

/*
 * engine_node_set_phase
 *		Record the next phase of a multi-request action.  The node goes back
 *		to pending so that the next request is dispatched only after the
 *		worker committed the phase state (no duplicate first request after
 *		a crash).
 */
void
engine_node_set_phase(EngineRun *run, const char *node_id, int phase)
{
	char		nid[ENGINE_ID_BUF];
	int			index;
	cJSON	   *is = item_state(run, node_id, nid, sizeof(nid), &index);
	cJSON	   *ns = index >= 0 ? is : node_state(run, node_id);

	run->memo_valid = false;
	set_field(ns, "phase", cJSON_CreateNumber(phase));
	set_status(ns, FLOW_RETRYING);
	set_field(ns, "due", cJSON_CreateNumber(0));
	/* the next phase is the same attempt */
	set_field(ns, "attempt", cJSON_CreateNumber(get_int(ns, "attempt", 1) - 1));
}

/*
 * engine_action_started
 *		A request of a running action was sent: record the send time in
 *		the node's state (flow_status shows it as "since") and log the
 *		attempt as started when this is its first request.
 */
void
engine_action_started(EngineRun *run, const char *node_id, double now_ms,
					  EngineEvents *ev)
{
	char		nid[ENGINE_ID_BUF];
	int			index;
	cJSON	   *is = item_state(run, node_id, nid, sizeof(nid), &index);
	cJSON	   *ns;

	run->memo_valid = false;
	if (index >= 0)
	{
		/* a map item: its own state under the map node, logged with its index */
		if (is == NULL)
			return;
		set_field(is, "started", cJSON_CreateNumber(now_ms));
		add_item_event(ev, nid, index, FLOW_STARTED, get_int(is, "attempt", 1),
					   NULL, NULL, NULL, now_ms, now_ms);
		return;
	}
	ns = node_state(run, node_id);
	set_field(ns, "started", cJSON_CreateNumber(now_ms));
	if (get_int(ns, "phase", 0) == 0)
		add_event(ev, node_id, FLOW_STARTED, get_int(ns, "attempt", 1), NULL, NULL,
				  NULL, now_ms, now_ms);
}

/*
 * engine_action_succeeded
 *		An action's request(s) completed successfully.
 */
void
engine_action_succeeded(EngineRun *run, const char *node_id, cJSON *input,
						cJSON *output, double started_ms, double now_ms,
						EngineEvents *ev)
{
	char		nid[ENGINE_ID_BUF];
	int			index;

	run->memo_valid = false;
	(void) item_state(run, node_id, nid, sizeof(nid), &index);
	if (index >= 0)
		map_item_done(run, nid, index, input, output, NULL, started_ms, now_ms, ev);
	else
		succeed_node(run, node_id, input, output, started_ms, now_ms, false, ev);
}

/*
 * retry_delay
 *		Milliseconds before the next attempt of an action: Retry-After when
 *		given, else the action's retry.backoff_ms (or flowdb.retry_base_ms)
 *		doubled per attempt, with 75%..125% jitter; capped.
 */
static double
retry_delay(const cJSON *action, int attempt, double retry_after_s)
{
	const cJSON *retry = action ? cJSON_GetObjectItemCaseSensitive(action, "retry") : NULL;
	double		base = get_double(retry, "backoff_ms", engine_config.retry_base_ms);
	double		delay;

	if (retry_after_s >= 0)
		delay = retry_after_s * 1000.0;
	else
	{
		delay = base * pow(2.0, attempt - 1);
		/* jitter: 75%..125% */
		delay *= 0.75 + 0.5 * engine_config.random01();
	}
	if (delay > engine_config.retry_max_ms)
		delay = engine_config.retry_max_ms;
	return delay;
}

/*
 * engine_action_failed
 *		An action's request failed: schedule a retry (exponential backoff
 *		with jitter, or Retry-After) while attempts remain and the error is
 *		retryable, else fail the node and the run.
 */
void
engine_action_failed(EngineRun *run, const char *node_id, cJSON *input,
					 const char *error, bool retryable, double retry_after_s,
					 double started_ms, double now_ms, EngineEvents *ev)
{
	const cJSON *node = engine_action_node(run, node_id);
	char		nid[ENGINE_ID_BUF];
	int			index;
	cJSON	   *is = item_state(run, node_id, nid, sizeof(nid), &index);
	cJSON	   *ns = index >= 0 ? is : node_state(run, node_id);
	int			attempt = get_int(ns, "attempt", 1);
	int			max_attempts = node ? node_max_attempts(node) : ENGINE_DEFAULT_ATTEMPTS;

	run->memo_valid = false;
	if (index >= 0 && (ns == NULL ||
					   node_status(run, nid) != FLOW_RUNNING ||
					   !retryable || attempt >= max_attempts))
	{
		/* an item that failed for good (or whose map is over) */
		map_item_done(run, nid, index, input, NULL, error, started_ms, now_ms, ev);
		return;
	}
	if (retryable && attempt < max_attempts)
	{
		double		delay = retry_delay(node, attempt, retry_after_s);

		set_status(ns, FLOW_RETRYING);
		set_field(ns, "due", cJSON_CreateNumber(now_ms + delay));
		set_field(ns, "error", cJSON_CreateString(error));
		if (index >= 0)
			add_item_event(ev, nid, index, FLOW_RETRYING, attempt, input, NULL, error,
						   started_ms, now_ms);
		else
			add_event(ev, node_id, FLOW_RETRYING, attempt, input, NULL, error,
					  started_ms, now_ms);
		return;
	}
	fail_node(run, node_id, input, error, started_ms, now_ms, ev);
}

/*
 * engine_inflight
 *		Nodes with a request in flight.
 */
int
engine_inflight(EngineRun *run)
{
	cJSON	   *ns;
	int			n = 0;

	cJSON_ArrayForEach(ns, run->nodes)
	{
		const char *st = fdb_json_str(ns, "status");
		cJSON	   *m = cJSON_GetObjectItemCaseSensitive(ns, "map");
		cJSON	   *a;

		if (st == NULL || strcmp(st, "running") != 0)
			continue;
		if (!cJSON_IsObject(m))
		{
			n++;
			continue;
		}
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(m, "active"))
		{
			const char *ist = fdb_json_str(a, "status");

			if (ist && strcmp(ist, "running") == 0)
				n++;
		}
	}
	return n;
}

/*
 * run_state_compute
 *		engine_run_state from the nodes' states.
 */
static FlowStatus
run_state_compute(EngineRun *run, double *next_due_ms)
{
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(run->bp, "nodes");
	const cJSON *node;
	bool		running = false;
	bool		retrying = false;
	bool		waiting = false;
	bool		open = false;
	double		due = 0;

	cJSON_ArrayForEach(node, nodes)
	{
		const char *id = fdb_json_str(node, "id");
		FlowStatus	st;
		double		d;

		if (id == NULL)
			continue;
		st = node_status(run, id);
		if (st == FLOW_RUNNING && is_map_node(node))
		{
			/* a map: what its items are doing */
			cJSON	   *ns = node_state(run, id);
			cJSON	   *m = cJSON_GetObjectItemCaseSensitive(ns, "map");
			cJSON	   *active = cJSON_GetObjectItemCaseSensitive(m, "active");
			cJSON	   *a;
			int			nactive = 0;

			cJSON_ArrayForEach(a, active)
			{
				const char *ist = fdb_json_str(a, "status");

				nactive++;
				if (ist && strcmp(ist, "running") == 0)
					running = true;
				else if (ist && strcmp(ist, "retrying") == 0)
				{
					retrying = true;
					d = get_double(a, "due", 0);
					if (d > 0 && (due == 0 || d < due))
						due = d;
					else if (d == 0)
						due = 1;
				}
				else if (ist && strcmp(ist, "waiting") == 0)
					waiting = true;	/* on its child run */
				else
					open = true;
			}
			/* items left to start, or the map to finish */
			if (get_int(m, "next", 0) < map_item_count(run, m)
				? nactive < get_int(node, "concurrency", ENGINE_DEFAULT_MAP_CONCURRENCY)
				: nactive == 0)
				open = true;
		}
		else if (st == FLOW_RUNNING)
			running = true;
		else if (st == FLOW_RETRYING || st == FLOW_WAITING)
		{
			if (st == FLOW_RETRYING)
				retrying = true;
			else
				waiting = true;
			d = get_double(cJSON_GetObjectItemCaseSensitive(run->nodes, id), "due", 0);
			if (d > 0 && (due == 0 || d < due))
				due = d;
			else if (d == 0 && st == FLOW_RETRYING)
				due = 1;		/* next phase: due at once */
		}
		else if (st == FLOW_PENDING || st == FLOW_RESUMED)
			open = true;
	}
	*next_due_ms = due;
	if (running)
		return FLOW_RUNNING;
	if (run->failing)
		return FLOW_FAILED;
	if (retrying)
		return FLOW_RETRYING;
	if (waiting)
		return FLOW_WAITING;
	if (open)
		return FLOW_RUNNING;
	return FLOW_SUCCEEDED;
}

/*
 * engine_run_state
 *		Summarize the run (see engine.h).  The answer is kept until a call
 *		that may change the state: the worker asks for every run it holds
 *		before each wait, and held runs that are only waiting for their
 *		answers (up to 4 x flowdb.max_inflight) cost 5% of its time when
 *		their nodes were walked each time.
 */
FlowStatus
engine_run_state(EngineRun *run, double *next_due_ms)
{
	if (!run->memo_valid)
	{
		run->memo_status = run_state_compute(run, &run->memo_due);
		run->memo_valid = true;
	}
	*next_due_ms = run->memo_due;
	return run->memo_status;
}

/*
 * engine_run_status
 *		engine_run_state's name (see engine.h).
 */
const char *
engine_run_status(EngineRun *run, double *next_due_ms)
{
	return flow_status_names[engine_run_state(run, next_due_ms)];
}

/* ---------------------------------------------------------------------
 * map nodes
 *
 * A map renders "items" once when it starts and keeps them in its state
 * with one result slot per item.  Items start in order, at most
 * "concurrency" of them active (running or waiting for a retry) at once;
 * each is dispatched as the step "<id>[<index>]" with its own attempts,
 * phases and idempotency key.  A finished item's result is in the state
 * committed with its log row, so after a crash only the items that were
 * active are sent again.
 * --------------------------------------------------------------------- */

/*
 * EngineMapIndex: a map state's "items" and "results" arrays as vectors.
 * cJSON arrays are lists, so finding item i walks i elements, and the
 * array sizes were counted at every item: a map over 8,000 items spent
 * 19% of the worker's CPU walking them.  One index per run is kept, for
 * the map state object "m" it was built for, dropped when a map starts or
 * finishes.  So that no other path that frees m can leave it pointing at
 * freed elements, m is also told apart from an object allocated later at
 * the same address by a serial number kept in m's valuedouble, which
 * cJSON does not use for objects (zero in a new object; never printed).
 */
typedef struct EngineMapIndex
{
	const cJSON *m;				/* the map state indexed */
	double		tag;			/* m->valuedouble when it was built */
	const cJSON *items_array;
	const cJSON *results_array;
	int			nitems;
	int			nresults;
	cJSON	  **items;
	cJSON	  **results;
} EngineMapIndex;

static double map_index_serial = 0;

/*
 * map_index_free
 *		Drop the run's map index.
 */
static void
map_index_free(EngineRun *run)
{
	EngineMapIndex *x = run->map_index;

	if (x == NULL)
		return;
	free(x->items);
	free(x->results);
	free(x);
	run->map_index = NULL;
}

/*
 * array_vector
 *		The elements of a cJSON array as a malloc'd vector (*n of them;
 *		NULL and 0 for an empty array or a non-array).
 */
static cJSON **
array_vector(const cJSON *a, int *n)
{
	cJSON	  **v;
	cJSON	   *e;
	int			i = 0;

	*n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
	if (*n == 0)
		return NULL;
	v = malloc(sizeof(cJSON *) * *n);
	if (v == NULL)
		abort();
	cJSON_ArrayForEach(e, a)
		v[i++] = e;
	return v;
}

/*
 * map_index
 *		The index of map state m (built on first use, or again for another
 *		m, or when m's arrays are not those it was built for); NULL when m
 *		is not an object.
 */
static EngineMapIndex *
map_index(EngineRun *run, cJSON *m)
{
	EngineMapIndex *x = run->map_index;
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(m, "items");
	const cJSON *results = cJSON_GetObjectItemCaseSensitive(m, "results");

	if (!cJSON_IsObject(m))
		return NULL;
	if (x != NULL && x->m == m && m->valuedouble == x->tag &&
		x->items_array == items && x->results_array == results)
		return x;
	map_index_free(run);
	x = calloc(1, sizeof(EngineMapIndex));
	if (x == NULL)
		abort();
	x->m = m;
	x->tag = m->valuedouble = ++map_index_serial;
	x->items_array = items;
	x->results_array = results;
	x->items = array_vector(items, &x->nitems);
	x->results = array_vector(results, &x->nresults);
	run->map_index = x;
	return x;
}

/*
 * map_item_count
 *		How many items map state m has.
 */
static int
map_item_count(EngineRun *run, cJSON *m)
{
	EngineMapIndex *x = map_index(run, m);

	return x ? x->nitems : 0;
}

/*
 * map_item
 *		Item i of map state m, NULL when there is none.
 */
static cJSON *
map_item(EngineRun *run, cJSON *m, int i)
{
	EngineMapIndex *x = map_index(run, m);

	return x && i >= 0 && i < x->nitems ? x->items[i] : NULL;
}

/*
 * map_set_result
 *		Put result into slot i of map state m (taken over; dropped when
 *		there is no such slot: see map_result_slots).
 */
static void
map_set_result(EngineRun *run, cJSON *m, int i, cJSON *result)
{
	EngineMapIndex *x = map_index(run, m);

	if (x == NULL || i < 0 || i >= x->nresults)
	{
		cJSON_Delete(result);	/* no such slot (the caller checked) */
		return;
	}

	cJSON_ReplaceItemViaPointer(cJSON_GetObjectItemCaseSensitive(m, "results"),
								x->results[i], result);
	x->results[i] = result;
}

/*
 * map_result_slots
 *		How many result slots map state m has.
 */
static int
map_result_slots(EngineRun *run, cJSON *m)
{
	EngineMapIndex *x = map_index(run, m);

	return x ? x->nresults : 0;
}

/*
 * is_map_node
 *		Is this blueprint node a map?
 */
static bool
is_map_node(const cJSON *node)
{
	const char *type = node ? fdb_json_str(node, "type") : NULL;

	return type != NULL && strcmp(type, "map") == 0;
}

/*
 * engine_step_split
 *		"<id>[<index>]" -> id and index; a plain id -> id and -1.  Node ids
 *		never contain "[" (see bp_validate), so the forms cannot clash.
 */
int
engine_step_split(const char *step_id, char *node, size_t len)
{
	const char *br = step_id ? strchr(step_id, '[') : NULL;
	const char *p;
	long		index = 0;

	snprintf(node, len, "%s", step_id ? step_id : "");
	if (br == NULL || br == step_id)
		return -1;
	for (p = br + 1; *p >= '0' && *p <= '9' && index <= 100000000; p++)
		index = index * 10 + (*p - '0');
	if (p == br + 1 || p[0] != ']' || p[1] != '\0' || index > 100000000)
		return -1;
	if ((size_t) (br - step_id) < len)
		node[br - step_id] = '\0';
	return (int) index;
}

/*
 * item_state
 *		For a map item's step id: the item's entry in the map's "active"
 *		object (NULL when it is not active), with *index set; for a plain
 *		node id *index is -1 and NULL is returned.  node_id receives the
 *		node id either way.
 */
static cJSON *
item_state(EngineRun *run, const char *step_id, char *node_id, size_t len,
		   int *index)
{
	cJSON	   *ns;
	cJSON	   *m;
	char		key[16];

	*index = engine_step_split(step_id, node_id, len);
	if (*index < 0)
		return NULL;
	ns = cJSON_GetObjectItemCaseSensitive(run->nodes, node_id);
	m = ns ? cJSON_GetObjectItemCaseSensitive(ns, "map") : NULL;
	snprintf(key, sizeof(key), "%d", *index);
	return m ? cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "active"),
												key) : NULL;
}

/*
 * engine_action_node
 *		The action definition of a step: the node, or a map's "do".
 */
const cJSON *
engine_action_node(EngineRun *run, const char *step_id)
{
	char		nid[ENGINE_ID_BUF];
	int			index = engine_step_split(step_id, nid, sizeof(nid));
	const cJSON *node = engine_find_node(run->bp, nid);

	if (index < 0 || node == NULL)
		return node;
	if (!is_map_node(node))
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(node, "do");
}

/*
 * push_dispatch
 *		Append a step id (taken over) to a dispatch list.
 */
static void
push_dispatch(char ***out, int *n, int *cap, char *step_id)
{
	if (*n == *cap)
	{
		char	  **grown;

		*cap = *cap ? *cap * 2 : 8;
		grown = realloc(*out, sizeof(char *) * *cap);
		if (grown == NULL)
			abort();
		*out = grown;
	}
	(*out)[(*n)++] = step_id;
}

/*
 * map_start
 *		A map became ready: render its items (an array, at most
 *		engine_config.max_map_items of them, fitting the state cap) and
 *		set up its state; map_advance starts the items.
 */
static void
map_start(EngineRun *run, const cJSON *node, const char *id, double now_ms,
		  EngineEvents *ev)
{
	cJSON	   *ns = node_state(run, id);
	const cJSON *tmpl = cJSON_GetObjectItemCaseSensitive(node, "items");
	cJSON	   *ctx;
	cJSON	   *items;
	cJSON	   *m;
	cJSON	   *results;
	char		err[FDB_ERRLEN];
	int			n;

	set_field(ns, "attempt", cJSON_CreateNumber(1));
	err[0] = '\0';
	ctx = engine_context(run, id);
	items = tmpl ? tmpl_render(tmpl, ctx, err, sizeof(err)) : NULL;
	engine_context_free(ctx);
	if (items == NULL)
	{
		char	   *msg = fdb_asprintf("items: %s", err[0] ? err : "missing");

		fail_node(run, id, NULL, msg, now_ms, now_ms, ev);
		free(msg);
		return;
	}
	if (!cJSON_IsArray(items))
	{
		char	   *t = cJSON_PrintUnformatted(items);
		char	   *msg = fdb_asprintf("items must be an array, got %s%.64s%s",
									   cJSON_IsString(items) ? "the string " :
									   cJSON_IsObject(items) ? "the object " : "",
									   t ? t : "?", t && strlen(t) > 64 ? "..." : "");

		free(t);
		cJSON_Delete(items);
		fail_node(run, id, NULL, msg, now_ms, now_ms, ev);
		free(msg);
		return;
	}
	n = cJSON_GetArraySize(items);
	if (engine_config.max_map_items > 0 && n > engine_config.max_map_items)
	{
		char	   *msg = fdb_asprintf("items has %d elements, more than %d (flowdb.max_map_items)",
									   n, engine_config.max_map_items);

		cJSON_Delete(items);
		fail_node(run, id, NULL, msg, now_ms, now_ms, ev);
		free(msg);
		return;
	}
	if (engine_config.max_state_bytes > 0)
	{
		size_t		max = engine_config.max_state_bytes;
		size_t		size = fdb_json_size(items, max);

		/* the items and one "null," per result slot */
		if (size > max || run->state_bytes > max - size ||
			(size_t) n * 5 > max - size - run->state_bytes)
		{
			cJSON_Delete(items);
			fail_over_state_cap(run, id, -1, NULL, now_ms, now_ms, ev);
			return;
		}
		run->state_bytes += size + (size_t) n * 5;
	}
	m = cJSON_CreateObject();
	cJSON_AddItemToObject(m, "items", items);
	cJSON_AddNumberToObject(m, "next", 0);
	results = cJSON_AddArrayToObject(m, "results");
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(results, cJSON_CreateNull());
	cJSON_AddNumberToObject(m, "succeeded", 0);
	cJSON_AddNumberToObject(m, "failed", 0);
	cJSON_AddObjectToObject(m, "active");
	map_index_free(run);		/* set_field frees an earlier map state */
	set_field(ns, "map", m);
	set_status(ns, FLOW_RUNNING);
	set_field(ns, "started", cJSON_CreateNumber(now_ms));
}

/*
 * map_finish
 *		Every item finished: the map succeeds with {"results", "succeeded",
 *		"failed"} (the working state is dropped).
 */
static void
map_finish(EngineRun *run, const char *id, double now_ms, EngineEvents *ev)
{
	cJSON	   *ns = node_state(run, id);
	cJSON	   *m = cJSON_DetachItemFromObjectCaseSensitive(ns, "map");
	cJSON	   *out = cJSON_CreateObject();
	cJSON	   *results = cJSON_DetachItemFromObjectCaseSensitive(m, "results");

	map_index_free(run);		/* m is deleted below */
	cJSON_AddItemToObject(out, "results", results ? results : cJSON_CreateArray());
	cJSON_AddNumberToObject(out, "succeeded", get_int(m, "succeeded", 0));
	cJSON_AddNumberToObject(out, "failed", get_int(m, "failed", 0));
	cJSON_Delete(m);
	/* the results move to the output: count them once */
	if (engine_config.max_state_bytes > 0)
		run->state_bytes = fdb_json_size(run->state, engine_config.max_state_bytes);
	succeed_node(run, id, NULL, out, get_double(ns, "started", now_ms), now_ms,
				 false, ev);
}

/*
 * map_advance
 *		Dispatch what a running map can send now: active items whose retry
 *		is due or that were in flight at a crash, then new items while
 *		fewer than "concurrency" are active; finish the map when every
 *		item is done.  Returns true when the state changed.
 */
static bool
map_advance(EngineRun *run, const cJSON *node, const char *id, double now_ms,
			char ***out, int *n, int *cap, EngineEvents *ev)
{
	cJSON	   *ns = node_state(run, id);
	cJSON	   *m = cJSON_GetObjectItemCaseSensitive(ns, "map");
	cJSON	   *active = cJSON_GetObjectItemCaseSensitive(m, "active");
	cJSON	   *a;
	int			nitems;
	int			next;
	int			nactive = 0;
	int			conc = get_int(node, "concurrency", ENGINE_DEFAULT_MAP_CONCURRENCY);
	bool		changed = false;
	const cJSON *act = cJSON_GetObjectItemCaseSensitive(node, "do");
	const char *workflow = act ? fdb_json_str(act, "workflow") : NULL;
	int			ndone = 0;
	int		   *done = NULL;

	if (!cJSON_IsObject(m) || !cJSON_IsObject(active) ||
		!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(m, "items")))
	{
		fail_node(run, id, NULL, "the map's state is missing", now_ms, now_ms, ev);
		return true;
	}
	if (conc < 1)
		conc = 1;
	nitems = map_item_count(run, m);
	next = get_int(m, "next", 0);

	/* sub-workflow items whose child run ended (flowdb.resume_call) */
	cJSON_ArrayForEach(a, active)
	{
		const char *st = fdb_json_str(a, "status");

		if (st != NULL && strcmp(st, "resumed") == 0)
		{
			int		   *grown = realloc(done, sizeof(int) * (ndone + 1));

			if (grown == NULL)
				abort();
			done = grown;
			done[ndone++] = atoi(a->string);
		}
	}
	for (int i = 0; i < ndone && node_status(run, id) == FLOW_RUNNING; i++)
	{
		char		key[16];
		cJSON	   *ia;
		cJSON	   *out;
		char	   *cerr;

		snprintf(key, sizeof(key), "%d", done[i]);
		ia = cJSON_GetObjectItemCaseSensitive(active, key);
		out = cJSON_DetachItemFromObjectCaseSensitive(ia, "output");
		cerr = fdb_json_str(ia, "call_error") ? fdb_strdup(fdb_json_str(ia, "call_error")) : NULL;
		if (cerr)
		{
			cJSON_Delete(out);
			out = NULL;
		}
		else if (out == NULL)
			out = cJSON_CreateObject();
		map_item_done(run, id, done[i],
					  cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ia, "call"),
																	 "payload"), true),
					  out, cerr,
					  get_double(ia, "started", now_ms), now_ms, ev);
		free(cerr);
		changed = true;
	}
	free(done);
	if (node_status(run, id) != FLOW_RUNNING)
		return changed;			/* an item failed the map */

	cJSON_ArrayForEach(a, active)
	{
		const char *st = fdb_json_str(a, "status");

		nactive++;
		if (st != NULL && (strcmp(st, "pending") == 0 ||
						   (strcmp(st, "retrying") == 0 &&
							get_double(a, "due", 0) <= now_ms)))
		{
			set_status(a, FLOW_RUNNING);
			set_field(a, "attempt", cJSON_CreateNumber(get_int(a, "attempt", 0) + 1));
			set_field(a, "started", cJSON_CreateNumber(now_ms));
			cJSON_DeleteItemFromObjectCaseSensitive(a, "due");
			push_dispatch(out, n, cap, fdb_asprintf("%s[%s]", id, a->string));
			changed = true;
		}
	}
	while (nactive < conc && next < nitems)
	{
		char		key[16];
		cJSON	   *item = cJSON_CreateObject();

		snprintf(key, sizeof(key), "%d", next);
		cJSON_AddNumberToObject(item, "attempt", 1);
		cJSON_AddNumberToObject(item, "started", now_ms);
		if (workflow != NULL)
		{
			/* a child run per item, started by the commit (flowdb.start_calls) */
			cJSON	   *call = cJSON_AddObjectToObject(item, "call");

			cJSON_AddStringToObject(item, "status", "waiting");
			cJSON_AddStringToObject(call, "workflow", workflow);
			cJSON_AddItemToObject(call, "payload",
								  cJSON_Duplicate(map_item(run, m, next), true));
			cJSON_AddItemToObject(active, key, item);
			run->calls_started = true;
		}
		else
		{
			cJSON_AddStringToObject(item, "status", "running");
			cJSON_AddItemToObject(active, key, item);
			push_dispatch(out, n, cap, fdb_asprintf("%s[%d]", id, next));
		}
		next++;
		nactive++;
		changed = true;
	}
	if (changed)
		set_field(m, "next", cJSON_CreateNumber(next));
	if (nactive == 0 && next >= nitems)
	{
		map_finish(run, id, now_ms, ev);
		changed = true;
	}
	return changed;
}

/*
 * map_item_done
 *		An item finished for good: output (taken over) on success, else
 *		error.  Logs it, stores its result ({"error": ...} for a failure)
 *		and counts it.  With on_item_error "fail" (the default) a failed
 *		item fails the map.  A result arriving after the map ended (it
 *		failed meanwhile) is only logged.
 */
static void
map_item_done(EngineRun *run, const char *node_id, int index, cJSON *input,
			  cJSON *output, const char *error, double started_ms,
			  double now_ms, EngineEvents *ev)
{
	cJSON	   *ns = node_state(run, node_id);
	cJSON	   *m = cJSON_GetObjectItemCaseSensitive(ns, "map");
	cJSON	   *active = cJSON_GetObjectItemCaseSensitive(m, "active");
	const cJSON *node = engine_find_node(run->bp, node_id);
	char		key[16];
	int			attempt;
	cJSON	   *result;
	const char *policy;

	snprintf(key, sizeof(key), "%d", index);
	attempt = get_int(cJSON_GetObjectItemCaseSensitive(active, key), "attempt", 1);
	if (attempt < 1)
		attempt = 1;
	if (output == NULL && error == NULL)
		output = cJSON_CreateObject();
	add_item_event(ev, node_id, index, output ? FLOW_SUCCEEDED : FLOW_FAILED, attempt,
				   input, output ? cJSON_Duplicate(output, true) : NULL, error,
				   started_ms, now_ms);
	if (active)
		cJSON_DeleteItemFromObjectCaseSensitive(active, key);
	if (node_status(run, node_id) != FLOW_RUNNING || !cJSON_IsObject(m) ||
		index < 0 || index >= map_result_slots(run, m))
	{
		cJSON_Delete(output);
		return;
	}
	if (output)
		result = output;
	else
	{
		result = cJSON_CreateObject();
		cJSON_AddStringToObject(result, "error", error);
	}
	if (engine_config.max_state_bytes > 0)
	{
		size_t		max = engine_config.max_state_bytes;
		size_t		size = fdb_json_size(result, max);

		if (size > max || run->state_bytes > max - size)
		{
			cJSON_Delete(result);
			fail_over_state_cap(run, node_id, index, NULL, now_ms, now_ms, ev);
			return;
		}
		run->state_bytes += size;
	}
	map_set_result(run, m, index, result);
	set_field(m, output ? "succeeded" : "failed",
			  cJSON_CreateNumber(get_int(m, output ? "succeeded" : "failed", 0) + 1));
	policy = node ? fdb_json_str(node, "on_item_error") : NULL;
	if (output == NULL && (policy == NULL || strcmp(policy, "continue") != 0))
	{
		char	   *msg = fdb_asprintf("item %d: %s", index, error);

		fail_node(run, node_id, NULL, msg, started_ms, now_ms, ev);
		free(msg);
	}
}

/*
 * digits
 *		Exactly n decimal digits at *p (advanced); -1 when not.
 */
static int
digits(const char **p, int n)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		char		c = (*p)[i];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	return v;
}

/*
 * days_in_month
 *		Length of a month in the proleptic Gregorian calendar.
 */
static int
days_in_month(int y, int mo)
{
	static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return len[mo - 1];
}

/*
 * engine_parse_time
 *		ISO 8601 to epoch milliseconds: YYYY-MM-DD, optionally followed by
 *		[T ]HH:MM[:SS[(.|,)fraction]] and Z or +-HH[:MM] (UTC when absent).
 *		Strict: fixed digit counts, calendar-checked, nothing after it.
 */
bool
engine_parse_time(const char *s, double *out_ms)
{
	int			y, mo, d;
	int			h = 0, mi = 0, sec = 0;
	int			off_sign = 0, off_h = 0, off_m = 0;
	double		frac = 0;
	long long	days;

	if (s == NULL)
		return false;
	if ((y = digits(&s, 4)) < 0 || *s++ != '-' ||
		(mo = digits(&s, 2)) < 0 || *s++ != '-' ||
		(d = digits(&s, 2)) < 0)
		return false;
	if (*s == 'T' || *s == 't' || *s == ' ')
	{
		s++;
		if ((h = digits(&s, 2)) < 0 || *s++ != ':' || (mi = digits(&s, 2)) < 0)
			return false;
		if (*s == ':')
		{
			s++;
			if ((sec = digits(&s, 2)) < 0)
				return false;
			if (*s == '.' || *s == ',')
			{
				double		scale = 0.1;

				s++;
				if (*s < '0' || *s > '9')
					return false;
				while (*s >= '0' && *s <= '9')
				{
					frac += (*s - '0') * scale;
					scale /= 10;
					s++;
				}
			}
		}
		if (*s == 'Z' || *s == 'z')
			s++;
		else if (*s == '+' || *s == '-')
		{
			off_sign = (*s == '+') ? 1 : -1;
			s++;
			if ((off_h = digits(&s, 2)) < 0)
				return false;
			if (*s == ':')
				s++;
			if (*s != '\0' && (off_m = digits(&s, 2)) < 0)
				return false;
		}
	}
	if (*s != '\0')
		return false;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
		h > 23 || mi > 59 || sec > 60 || off_h > 23 || off_m > 59)
		return false;
	/* days from civil (proleptic Gregorian), no timezone database needed */
	{
		int			yy = y - (mo <= 2);
		int			era = yy / 400;
		int			yoe = yy - era * 400;
		int			doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
		int			doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

		days = (long long) era * 146097 + doe - 719468;
	}
	*out_ms = ((double) days * 86400.0 + h * 3600.0 + mi * 60.0 + sec
			   - off_sign * (off_h * 3600.0 + off_m * 60.0)) * 1000.0 + frac * 1000.0;
	return true;
}

/*
 * engine_idempotency_key
 *		"flowdb-<run id>-<node id>[-p<phase>]" (malloc'd).
 */
char *
engine_idempotency_key(EngineRun *run, const char *node_id, int phase)
{
	char		nid[ENGINE_ID_BUF];
	int			index = engine_step_split(node_id, nid, sizeof(nid));

	if (index >= 0 && phase > 0)
		return fdb_asprintf("flowdb-%s-%s.%d-p%d", run->run_id, nid, index, phase);
	if (index >= 0)
		return fdb_asprintf("flowdb-%s-%s.%d", run->run_id, nid, index);
	if (phase > 0)
		return fdb_asprintf("flowdb-%s-%s-p%d", run->run_id, node_id, phase);
	return fdb_asprintf("flowdb-%s-%s", run->run_id, node_id);
}

/*
 * engine_waiting_for_event
 *		Is a wait_event node of the run parked on an event?  Such runs are
 *		never held by a worker, so that flow_send_event can resume them.
 */
bool
engine_waiting_for_event(EngineRun *run)
{
	cJSON	   *ns;

	cJSON_ArrayForEach(ns, run->nodes)
	{
		FlowStatus	st = flow_status_parse(fdb_json_str(ns, "status"));

		if (st == FLOW_WAITING && fdb_json_str(ns, "event") != NULL)
			return true;
	}
	return false;
}
