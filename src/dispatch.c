/*-------------------------------------------------------------------------
 *
 * dispatch.c
 *	  The requests of the flowdb worker's action nodes: advance a run in
 *	  the engine, prepare the calls it wants (render params, credential,
 *	  sandbox), queue them fairly across owners, start them under the
 *	  in-flight, per-service and pace limits, and apply the responses
 *	  with the task's parser.  Sandboxed requests are recorded for
 *	  flowdb.outbox (store.c commits them with their run).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "utils/guc.h"

#include "condition.h"
#include "pace.h"
#include "worker_int.h"

/* bytes of subject a run's "matches" conditions may scan in one step, as
 * a multiple of flowdb.max_regex_subject */
#define REGEX_BUDGET_SUBJECTS 4

static dlist_head queue = DLIST_STATIC_INIT(queue);
static int	service_inflight[64];	/* requests in flight per fdb_services[] index */
static Pace pacer;				/* request pace per service/owner/credential */
static double pace_wake_at = 0;	/* when a paced request may go (0: none) */
static double pace_swept_at = 0;

static void start_call(WCall *c);
static void note_started(WCall *c);
static void enqueue_call(WCall *c);

/*
 * redact
 *		Replace values of secret-looking keys (authorization, token,
 *		secret, password, api_key) in a JSON tree, recursively.
 */
static void
redact(cJSON *v)
{
	cJSON	   *c;

	if (v == NULL)
		return;
	cJSON_ArrayForEach(c, v)
	{
		if (cJSON_IsObject(v) && c->string)
		{
			char		low[128];
			size_t		i;

			for (i = 0; i < sizeof(low) - 1 && c->string[i]; i++)
				low[i] = (char) tolower((unsigned char) c->string[i]);
			low[i] = '\0';
			if (strstr(low, "idempotency") == NULL &&
				(strstr(low, "authorization") || strstr(low, "token") ||
				strstr(low, "secret") || strstr(low, "password") ||
				 strstr(low, "api_key") || strstr(low, "apikey")))
			{
				if (!cJSON_IsObject(c) && !cJSON_IsArray(c))
				{
					cJSON_SetValuestring(c, "[redacted]");
					if (!cJSON_IsString(c))
					{
						c->type = cJSON_String;
						c->valuestring = fdb_strdup("[redacted]");
					}
					continue;
				}
			}
		}
		redact(c);
	}
}

/*
 * redacted_headers
 *		The request's headers as a JSON object, secrets replaced.
 */
static char *
redacted_headers(const HttpRequest *req)
{
	cJSON	   *h = cJSON_CreateObject();
	char	   *s;

	for (int i = 0; i < req->nheaders; i++)
	{
		const char *colon = strchr(req->headers[i], ':');
		char		name[128];
		const char *value;
		size_t		len;

		if (colon == NULL)
			continue;
		len = Min((size_t) (colon - req->headers[i]), sizeof(name) - 1);
		memcpy(name, req->headers[i], len);
		name[len] = '\0';
		value = colon + 1;
		while (*value == ' ')
			value++;
		cJSON_AddStringToObject(h, name, value);
	}
	redact(h);
	s = fdb_json_print(h);
	cJSON_Delete(h);
	return s;
}

/*
 * service_settings
 *		Service settings from GUCs handed to tasks (the llm model).
 */
static cJSON *
service_settings(const ToolService *svc)
{
	cJSON	   *s = cJSON_CreateObject();
	char		guc[128];
	const char *v;

	snprintf(guc, sizeof(guc), "flowdb.%s_model", svc->name);
	v = GetConfigOption(guc, true, false);
	if (v && v[0])
		cJSON_AddStringToObject(s, "model", v);
	return s;
}

/*
 * record_outbox
 *		Sandbox: remember the exact (redacted) request for flowdb.outbox.
 */
static void
record_outbox(WCall *c)
{
	WOutbox    *o = store_outbox_add();

	o->run_id = fdb_strdup(c->run->er->run_id);
	o->owner = fdb_strdup(c->run->owner);
	o->node_id = fdb_strdup(c->node_id);
	o->service = fdb_strdup(c->svc->name);
	o->task = fdb_strdup(c->task->name);
	o->method = fdb_strdup(c->req.method);
	o->url = fdb_strdup(c->req.url ? c->req.url : "");
	o->headers = redacted_headers(&c->req);
	if (c->req.body)
	{
		o->body = malloc(c->req.body_len + 1);
		if (o->body == NULL)
			worker_out_of_memory();
		memcpy(o->body, c->req.body, c->req.body_len);
		o->body[c->req.body_len] = '\0';
	}
	else
		o->body = NULL;
}

/*
 * call_failed
 *		Record an action failure on the run.
 */
static void
call_failed(WCall *c, const char *error, bool retryable, double retry_after)
{
	WRun	   *w = c->run;
	cJSON	   *input = cJSON_Duplicate(c->params, true);
	char	   *clean = fdb_scrub_text(c->cred, error);

	redact(input);
	engine_action_failed(w->er, c->node_id, input, clean ? clean : "error",
						 retryable, retry_after, c->started_ms, worker_now_ms(), &w->events);
	free(clean);
	w->dirty = true;
	w->advance = true;
}

/*
 * call_succeeded
 *		Record an action's output on the run.
 */
static void
call_succeeded(WCall *c, cJSON *output)
{
	WRun	   *w = c->run;
	cJSON	   *input = cJSON_Duplicate(c->params, true);

	redact(input);
	fdb_scrub_json(c->cred, output);
	engine_action_succeeded(w->er, c->node_id, input, output, c->started_ms,
							worker_now_ms(), &w->events);
	w->dirty = true;
	w->advance = true;
}

/*
 * prepare_call
 *		Render the node's params and build its request for the current
 *		phase.  Sandboxed calls complete at once with a sample output.
 *		Returns the call to send, or NULL when it already finished.
 */
static WCall *
prepare_call(WRun *w, const char *node_id)
{
	EngineRun  *er = w->er;
	const cJSON *node;
	WCall	   *c = calloc(1, sizeof(WCall));
	char		err[FDB_ERRLEN];
	ToolContext ctx;
	const char *svcname;
	const char *credname;
	const cJSON *cred = NULL;
	cJSON	   *settings;
	char	   *idem;
	bool		sandbox;
	bool		ok;

	if (c == NULL)
		worker_out_of_memory();
	c->run = w;
	c->node_id = fdb_strdup(node_id);
	c->started_ms = worker_now_ms();
	node = engine_action_node(er, node_id);	/* the node, or a map's "do" */
	svcname = node ? fdb_json_str(node, "service") : NULL;
	c->svc = svcname ? catalog_service(svcname) : NULL;
	c->task = c->svc ? catalog_task(c->svc, fdb_json_str(node, "task")) : NULL;
	c->svc_index = c->svc ? catalog_service_index(c->svc) : -1;
	err[0] = '\0';
	c->params = engine_render_params(er, node_id, err, sizeof(err));
	if (c->params == NULL)
	{
		c->params = cJSON_CreateObject();
		call_failed(c, err, false, -1);
		dispatch_free_call(c);
		return NULL;
	}
	if (c->task == NULL)
	{
		call_failed(c, "unknown service or task", false, -1);
		dispatch_free_call(c);
		return NULL;
	}

	credname = fdb_json_str(node, "credential");
	{
		char		key[256];

		snprintf(key, sizeof(key), "%s/%s", c->svc->name, credname ? credname : "default");
		cred = cJSON_GetObjectItemCaseSensitive(w->credentials, key);
		c->cred = cred;
		c->pace_key = fdb_strdup(psprintf("%s/%s/%s", c->svc->name, w->owner,
										  credname ? credname : "default"));
	}
	if (credname && cred == NULL && catalog_service_has_credentials(c->svc) &&
		flowdb_sandbox_mode != FLOWDB_SANDBOX_ON && !w->sandbox)
	{
		char	   *msg = psprintf("credential \"%s\" for service %s not found",
								   credname, c->svc->name);

		call_failed(c, msg, false, -1);
		dispatch_free_call(c);
		return NULL;
	}
	/* a dry run is sandboxed whatever the server says; never the reverse */
	sandbox = w->sandbox || flowdb_sandbox_mode == FLOWDB_SANDBOX_ON ||
		(flowdb_sandbox_mode == FLOWDB_SANDBOX_AUTO &&
		 catalog_service_has_credentials(c->svc) && cred == NULL);

	settings = service_settings(c->svc);
	memset(&ctx, 0, sizeof(ctx));
	ctx.params = c->params;
	ctx.credential = sandbox ? NULL : cred;
	ctx.base_url = flowdb_base_url(c->svc);
	idem = engine_idempotency_key(er, node_id, engine_node_phase(er, node_id));
	ctx.idempotency_key = idem;
	ctx.settings = settings;
	ctx.phase = engine_node_phase(er, node_id);
	ctx.phase_state = engine_node_phase_state(er, node_id);

	http_request_init(&c->req, "GET");
	err[0] = '\0';
	ok = c->task->build(&ctx, &c->req, err, sizeof(err));
	if (ok)
	{
		double		timeout;

		/* the node's timeout_ms wins over the task's default */
		if (fdb_json_num(node, "timeout_ms", &timeout))
			c->req.timeout_ms = (long) timeout;
	}
	if (!ok)
		call_failed(c, err[0] ? err : "could not build the request", false, -1);
	else if (sandbox)
	{
		cJSON	   *out;

		record_outbox(c);
		out = c->task->sample(&ctx);
		if (cJSON_IsObject(out))
			cJSON_AddBoolToObject(out, "sandbox", true);
		call_succeeded(c, out);
		ok = false;
	}
	free(idem);
	cJSON_Delete(settings);
	if (!ok)
	{
		dispatch_free_call(c);
		return NULL;
	}
	return c;
}

/*
 * dispatch_advance_run
 *		Let the engine move the run; queue the requests it wants sent.
 */
void
dispatch_advance_run(WRun *w, double now)
{
	char	  **ids;
	int			n;
	int			logged;

	w->advance = false;
	if (w->lost)
		return;
	/*
	 * Dispatching alone does not make the run dirty: "running" need not be
	 * durable (after a crash it is pending again), so the first request
	 * of a claimed run goes out without waiting for another WAL flush
	 * than the claim's.
	 */
	/* bound the regular-expression work of this run's conditions */
	cond_regex_budget = (long) flowdb_max_regex_subject * REGEX_BUDGET_SUBJECTS;
	logged = w->events.n;
	n = engine_advance(w->er, now, &ids, &w->events);
	cond_regex_budget = -1;
	for (int i = 0; i < n; i++)
	{
		WCall	   *c = prepare_call(w, ids[i]);

		if (c)
		{
			w->inflight++;
			enqueue_call(c);
		}
	}
	engine_free_dispatch(ids, n);
	/* new log rows (not "started" ones: see worker_needs_commit) */
	if (w->events.n > logged)
		w->dirty = true;
	/* a parked call: commit now, so that its child run starts now */
	if (w->er->calls_started)
	{
		w->er->calls_started = false;
		w->dirty = true;
	}
}

/*
 * enqueue_call
 *		Queue a request.  The claim takes owners in turn, but the queue
 *		would undo that when full: a backlogged owner's claimed calls sit
 *		ahead of everyone else's.  So a call whose owner has nothing queued
 *		yet goes to the head (it starts as soon as a slot frees), and the
 *		rest go to the tail.  The scan happens only while calls are waiting
 *		(a backlog), and looks at owners, not at every call's text.
 */
static void
enqueue_call(WCall *c)
{
	dlist_iter	it;

	if (!dlist_is_empty(&queue))
	{
		dlist_foreach(it, &queue)
		{
			WCall	   *q = dlist_container(WCall, node, it.cur);

			if (q->run == c->run || strcmp(q->run->owner, c->run->owner) == 0)
			{
				dlist_push_tail(&queue, &c->node);
				return;
			}
		}
	}
	dlist_push_head(&queue, &c->node);
}

/*
 * dispatch_pace_wake_at
 *		When a request held back by its pace may go (epoch ms; 0: none),
 *		as the last dispatch_pump_queue found.
 */
double
dispatch_pace_wake_at(void)
{
	return pace_wake_at;
}

/*
 * pump_queue
 *		Start queued requests while below flowdb.max_inflight; with
 *		settled_only, only those of runs with no results waiting to be
 *		advanced (a run whose results just came in may have failed or
 *		changed course: its queued requests wait for the commit).
 */
static void
pump_queue(bool settled_only)
{
	bool		started = false;
	dlist_mutable_iter it;
	double		now = worker_now_ms();

	pace_wake_at = 0;
	if (now - pace_swept_at > PACE_IDLE_MS)
	{
		pace_sweep(&pacer, now);
		pace_swept_at = now;
	}
	dlist_foreach_modify(it, &queue)
	{
		WCall	   *c = dlist_container(WCall, node, it.cur);
		int			idx = c->svc_index;
		int			limit = flowdb_service_limit(c->svc);

		if (http_inflight(worker_multi) >= flowdb_max_inflight)
			break;
		if (settled_only && (c->run->advance || c->run->unapplied > 0) &&
			!c->run->lost)
			continue;
		if (!c->run->lost && limit > 0 && idx >= 0 && idx < (int) lengthof(service_inflight) &&
			service_inflight[idx] >= limit)
			continue;			/* over the service's limit: wait in the queue */
		/* over the service's rate for this owner's credential: wait */
		if (!c->run->lost && c->pace_key)
		{
			double		wait = pace_take(&pacer, c->pace_key,
										 pace_interval_of_rate(flowdb_service_rate(c->svc)), now);

			if (wait > 0)
			{
				if (pace_wake_at == 0 || now + wait < pace_wake_at)
					pace_wake_at = now + wait;
				continue;
			}
		}
		dlist_delete(&c->node);
		if (c->run->lost)
		{
			c->run->inflight--;
			dispatch_free_call(c);
			continue;
		}
		if (idx >= 0 && idx < (int) lengthof(service_inflight))
		{
			service_inflight[idx]++;
			c->counted = true;
		}
		start_call(c);
		started = true;
	}
	/* let curl connect and send now rather than after the next wait */
	if (started)
		http_socket_action(worker_multi, -1, 0);
}

/*
 * dispatch_pump_queue
 *		Start queued requests while below flowdb.max_inflight.
 */
void
dispatch_pump_queue(void)
{
	pump_queue(false);
}

/*
 * dispatch_refill_slots
 *		Start the queued requests of other runs in the slots that the
 *		responses just handled freed, before the commit of those responses
 *		waits for its WAL flush: against a slow API the slots would
 *		otherwise stay empty for a commit's time in every round trip.
 *		Requests of runs whose results are not advanced yet stay queued.
 */
void
dispatch_refill_slots(void)
{
	pump_queue(true);
}

/*
 * start_call
 *		Hand a request to curl.
 */
static void
start_call(WCall *c)
{
	HttpLimits	limits;
	char		err[256];

	limits.default_timeout_ms = flowdb_http_timeout_ms;
	limits.max_response_bytes = flowdb_max_response_bytes;
	limits.max_redirects = flowdb_max_redirects;
	limits.policy = flowdb_net_policy();
	limits.policy_text = flowdb_allow_private_hosts;
	limits.service = c->svc ? c->svc->name : NULL;
	limits.proxy = flowdb_http_proxy;
	limits.ca_file = flowdb_http_ca_file;
	limits.max_host_connections = flowdb_max_host_connections;
	c->started_ms = worker_now_ms();
	err[0] = '\0';
	if (http_start(worker_multi, &c->req, &limits, c, err, sizeof(err)) == NULL)
	{
		c->run->inflight--;
		call_failed(c, err, true, -1);
		dispatch_free_call(c);
		return;
	}
	note_started(c);
}

/*
 * note_started
 *		The call's request is out: the engine logs the attempt as started;
 *		the row is committed only if the request is still in flight
 *		STARTED_LOG_DELAY_MS later (store.c: start_fate).
 */
static void
note_started(WCall *c)
{
	WRun	   *w = c->run;
	int			before = w->events.n;

	engine_action_started(w->er, c->node_id, c->started_ms, &w->events);
	if (w->events.n > before && w->unlogged_start == 0)
		w->unlogged_start = c->started_ms;
}

/*
 * dispatch_apply_response
 *		A request finished: classify it with the task's parser and record
 *		the outcome on the run.
 */
void
dispatch_apply_response(WCall *c, HttpResponse *resp)
{
	WRun	   *w = c->run;
	EngineRun  *er = w->er;
	ToolContext ctx;
	cJSON	   *output = NULL;
	char		err[FDB_ERRLEN];
	ToolOutcome outcome;
	cJSON	   *settings;
	char	   *idem;

	w->inflight--;
	if (w->lost)
		return;
	if (resp->status == 0)
	{
		const char *what = resp->timed_out ? "timed out" : "failed";
		char	   *msg = psprintf("request %s: %s", what, resp->error);

		call_failed(c, msg, !resp->permanent, -1);
		return;
	}

	/* a 429 slows this owner's credential down; a success speeds it up */
	if (c->pace_key)
	{
		double		base = pace_interval_of_rate(flowdb_service_rate(c->svc));

		if (resp->status == 429)
			(void) pace_slow(&pacer, c->pace_key, base, worker_now_ms(),
							 resp->retry_after >= 0 ? resp->retry_after * 1000.0 : -1);
		else if (resp->status < 400)
			pace_ok(&pacer, c->pace_key, base);
	}

	settings = service_settings(c->svc);
	memset(&ctx, 0, sizeof(ctx));
	ctx.params = c->params;
	ctx.base_url = flowdb_base_url(c->svc);
	idem = engine_idempotency_key(er, c->node_id, engine_node_phase(er, c->node_id));
	ctx.idempotency_key = idem;
	ctx.settings = settings;
	ctx.phase = engine_node_phase(er, c->node_id);
	ctx.phase_state = engine_node_phase_state(er, c->node_id);
	err[0] = '\0';
	outcome = c->task->parse(&ctx, resp, &output, err, sizeof(err));
	free(idem);
	cJSON_Delete(settings);

	switch (outcome)
	{
		case TOOL_DONE:
			call_succeeded(c, output);
			break;
		case TOOL_NEXT:
			cJSON_Delete(output);
			engine_node_set_phase(er, c->node_id, ctx.phase + 1);
			w->dirty = true;
			w->advance = true;
			break;
		case TOOL_RETRY:
			cJSON_Delete(output);
			call_failed(c, err[0] ? err : "retryable error", true, resp->retry_after);
			break;
		case TOOL_FAIL:
			cJSON_Delete(output);
			call_failed(c, err[0] ? err : "request failed", false, -1);
			break;
	}
}

/*
 * dispatch_free_call
 *		Free a call's memory.
 */
void
dispatch_free_call(WCall *c)
{
	if (c->counted)
		service_inflight[c->svc_index]--;
	free(c->pace_key);
	free(c->node_id);
	cJSON_Delete(c->params);
	http_request_free(&c->req);
	free(c);
}
