/*-------------------------------------------------------------------------
 *
 * engine.h
 *	  The run state machine (pure C): which nodes are ready, which are
 *	  skipped, what an action's result does to the run.
 *
 * A run's durable state is one JSON object (flowdb.runs.state):
 *
 *	 {"nodes": {"<id>": {"status": "...", "attempt": n, "output": ...,
 *						 "error": "...", "due": <epoch ms>,
 *						 "phase": n, "phase_state": {...}}},
 *	  "edges": [true | false | null, ...],	(one per blueprint edge)
 *	  "retries": n,							(flow_retry count)
 *	  "error": "...", "failed_node": "<id>"}	(once failing)
 *
 * Node status: pending (absent), running (request in flight), retrying
 * (due at "due"), waiting (delay / wait_event, due at "due" or never when
 * 0), resumed (an event arrived; set by SQL, output holds its data),
 * succeeded, failed, skipped.  A failed node with failure edges ("on":
 * "failure") does not fail the run: those edges are taken instead.  The
 * worker owns I/O and transactions; the
 * engine only transforms this JSON and reports log events.
 *
 * A map node runs its "do" action once per item.  While it runs, its
 * state holds (see engine.c, "map nodes"):
 *
 *	 "map": {"items": [...], "next": k, "results": [...], "succeeded": n,
 *			 "failed": n, "active": {"<index>": {"status", "attempt", "due",
 *			 "phase", "phase_state", ...}}}
 *
 * and each item is dispatched as the step id "<node id>[<index>]": every
 * function below that takes a node_id of a dispatched step accepts such a
 * step id too.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_ENGINE_H
#define FLOWDB_ENGINE_H

#include "fjson.h"

#define ENGINE_DEFAULT_ATTEMPTS 3
#define ENGINE_DEFAULT_MAP_CONCURRENCY 10
#define ENGINE_DEFAULT_MAX_MAP_ITEMS 10000

/*
 * Status of a node (its "status" in the run state) or of a whole run
 * (engine_run_state).  C code compares these, never the texts; the texts
 * (flow_status_names) are what the state and flowdb.workflow_logs hold.
 */
typedef enum FlowStatus
{
	FLOW_PENDING,
	FLOW_RUNNING,
	FLOW_RETRYING,
	FLOW_WAITING,
	FLOW_RESUMED,
	FLOW_SUCCEEDED,
	FLOW_FAILED,
	FLOW_SKIPPED,
	FLOW_STARTED,				/* log rows only: a request went out */
	FLOW_UNKNOWN				/* a text none of the above */
} FlowStatus;

extern const char *const flow_status_names[];	/* indexed by FlowStatus */
/* The status called name; FLOW_UNKNOWN for NULL or an unknown text. */
extern FlowStatus flow_status_parse(const char *name);

/* One log row (flowdb.workflow_logs) produced by the engine. */
typedef struct EngineEvent
{
	char	   *node_id;		/* malloc */
	int			item;			/* map item index, -1 for the node itself */
	const char *status;			/* started, succeeded, failed, retrying,
								 * skipped */
	int			attempt;
	cJSON	   *input;			/* owned, may be NULL */
	cJSON	   *output;			/* owned, may be NULL */
	char	   *error;			/* malloc, may be NULL */
	double		started_ms;		/* epoch milliseconds */
	double		finished_ms;
} EngineEvent;

typedef struct EngineEvents
{
	int			n;
	int			cap;
	EngineEvent *items;
} EngineEvents;

typedef struct EngineRun
{
	char		run_id[64];
	char		workflow_id[64];	/* "" when ad hoc */
	cJSON	   *bp;				/* owned */
	cJSON	   *payload;		/* owned */
	cJSON	   *state;			/* owned */
	cJSON	   *nodes;			/* borrowed: state.nodes */
	cJSON	   *edges;			/* borrowed: state.edges */
	char	   *error;			/* run error (malloc) once failing */
	bool		failing;		/* a node failed for good */
	size_t		state_bytes;	/* approximate size of state (when capped) */
	bool		calls_started;	/* a call (or sub-workflow map item) parked:
								 * the state must be committed for the
								 * database to start its child run; the
								 * worker clears it */
	/* engine_run_state's last answer, valid until a call that may change
	 * the state (every such call clears memo_valid first) */
	bool		memo_valid;
	FlowStatus	memo_status;
	double		memo_due;
	/* random access to one map's items and result slots (engine.c:
	 * map_index), NULL until a map needs it */
	struct EngineMapIndex *map_index;
} EngineRun;

/* Settings the engine reads (the worker copies GUCs here). */
typedef struct EngineConfig
{
	double		retry_base_ms;	/* first backoff */
	double		retry_max_ms;	/* cap */
	double		(*random01) (void);	/* jitter source in [0,1) */
	size_t		max_state_bytes;	/* largest run state, 0 = no limit: an
									 * output that would pass it fails its
									 * node */
	int			max_map_items;	/* items per map node, 0 = no limit */
} EngineConfig;

extern EngineConfig engine_config;

extern void engine_events_init(EngineEvents *ev);
extern void engine_events_clear(EngineEvents *ev);	/* frees items, keeps
													 * buffer */
extern void engine_events_free(EngineEvents *ev);
/* keep the events whose keep[i] is true (in order), free the others */
extern void engine_events_retain(EngineEvents *ev, const bool *keep);

/* Take ownership of bp/payload/state (state may be NULL = fresh run). */
extern EngineRun *engine_run_new(const char *run_id, const char *workflow_id,
								 cJSON *bp, cJSON *payload, cJSON *state);
extern void engine_run_free(EngineRun *run);

/* After (re)claiming a run: a request that was "running" when the state
 * was committed may or may not have been sent; it will be sent again. */
extern void engine_recover(EngineRun *run);

/*
 * Advance the run at time now_ms: resolve instant nodes (router, set,
 * delays and waits that are due, resumed waits), skip unreachable nodes
 * and return in *dispatch (malloc'd array of malloc'd node ids) the action
 * nodes to send now; they are marked running with attempt+1.  Log events
 * are appended to ev.  Returns the number of nodes dispatched.
 */
extern int	engine_advance(EngineRun *run, double now_ms, char ***dispatch,
						   EngineEvents *ev);
extern void engine_free_dispatch(char **dispatch, int n);

/*
 * Build the context for rendering node_id's params: trigger_data, steps,
 * run, workflow.  The result references the run's data; free it with
 * engine_context_free.
 */
extern cJSON *engine_context(EngineRun *run, const char *node_id);
extern void engine_context_free(cJSON *ctx);

/* Render node_id's params; NULL with err (e.g. a missing path). */
extern cJSON *engine_render_params(EngineRun *run, const char *node_id,
								   char *err, size_t errlen);

/* The blueprint node whose id is id (the first), or NULL. */
extern const cJSON *engine_find_node(const cJSON *bp, const char *id);

/* Accessors for a node in flight. */
extern int	engine_node_attempt(EngineRun *run, const char *node_id);
extern int	engine_node_phase(EngineRun *run, const char *node_id);
extern cJSON *engine_node_phase_state(EngineRun *run, const char *node_id);	/* borrowed, created
																				 * if absent */
extern void engine_node_set_phase(EngineRun *run, const char *node_id, int phase);

/*
 * An action's request went out at now_ms: the node's "started" time
 * becomes the send time and, for the first request of an attempt (phase
 * 0), a "started" log event is added (no input, output or finish time).
 */
extern void engine_action_started(EngineRun *run, const char *node_id,
								  double now_ms, EngineEvents *ev);

/* An action finished.  output/input are taken over (may be NULL). */
extern void engine_action_succeeded(EngineRun *run, const char *node_id,
									cJSON *input, cJSON *output,
									double started_ms, double now_ms,
									EngineEvents *ev);

/* An action failed; retries when retryable and attempts remain. */
extern void engine_action_failed(EngineRun *run, const char *node_id,
								 cJSON *input, const char *error,
								 bool retryable, double retry_after_s,
								 double started_ms, double now_ms,
								 EngineEvents *ev);

/* Fail the run now (e.g. the run cannot be parsed). */
extern void engine_fail_run(EngineRun *run, const char *error);

/* Fail a run whose state is too large to store: outputs are dropped from
 * the state so that what is written stays small. */
extern void engine_fail_oversized(EngineRun *run, const char *error);

/*
 * Where the run stands: "running" (requests in flight or nodes ready),
 * "retrying" (only backoffs pending), "waiting" (parked on delay or
 * wait_event), "succeeded", "failed".  *next_due_ms: earliest due time of
 * a retry, delay or wait timeout (0 when none).
 */
extern FlowStatus engine_run_state(EngineRun *run, double *next_due_ms);
/* The same as its name. */
extern const char *engine_run_status(EngineRun *run, double *next_due_ms);

/* A wait_event node is parked on its event. */
extern bool engine_waiting_for_event(EngineRun *run);

/* Count of nodes with status running. */
extern int	engine_inflight(EngineRun *run);

/* Parse an ISO 8601 timestamp (YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|+hh:mm]) to
 * epoch ms; false if malformed. */
extern bool engine_parse_time(const char *s, double *out_ms);

/*
 * The action definition of a dispatched step: the node itself, or for a
 * map item ("<id>[<index>]") the map's "do" object.  NULL when unknown.
 */
extern const cJSON *engine_action_node(EngineRun *run, const char *step_id);

/* Split a step id into node id (copied into node, size len) and item index
 * (-1 when it is a plain node id). */
extern int	engine_step_split(const char *step_id, char *node, size_t len);

/* Idempotency key of a node: stable across attempts, crashes, retries. */
extern char *engine_idempotency_key(EngineRun *run, const char *node_id, int phase);

#endif							/* FLOWDB_ENGINE_H */
