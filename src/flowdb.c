/*-------------------------------------------------------------------------
 *
 * flowdb.c
 *	  Module entry: settings, shared memory, the launcher's
 *	  registration and the commit-time wake-up of the workers.
 *
 * A run becomes visible when the transaction that queued it commits.  A
 * statement trigger on flowdb.runs (flowdb.wake_workers) marks the
 * transaction; at XACT_EVENT_COMMIT a transaction callback sets the latch
 * of every flowdb worker of the committing database (or, when none runs
 * there, the launcher's: see launcher.c).  NOTIFY cannot do this: notifications are not
 * delivered to a background worker's latch.  The trigger also queues a
 * NOTIFY on channel "flowdb_runs" for outside listeners.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "access/xact.h"
#include "commands/async.h"
#include "commands/dbcommands.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "flowdb.h"
#include "blueprint.h"
#include "catalog.h"
#include "condition.h"
#include "engine.h"
#include "template.h"
#include "netguard.h"
#include "speech.h"
#include "worker_settings.h"

PG_MODULE_MAGIC;

/* settings */
char	   *flowdb_database_name = NULL;
int			flowdb_workers = 1;
int			flowdb_max_inflight = 256;
int			flowdb_claim_batch = 32;
int			flowdb_lease_seconds = 60;
int			flowdb_scan_interval_ms = 1000;
char	   *flowdb_allow_private_hosts = NULL;
char	   *flowdb_http_proxy = NULL;
char	   *flowdb_http_ca_file = NULL;
int			flowdb_http_timeout_ms = 30000;
int			flowdb_max_response_bytes = 1024 * 1024;
int			flowdb_max_redirects = 3;
int			flowdb_max_host_connections = 0;
int			flowdb_retry_base_ms = 1000;
int			flowdb_retention_days = 30;
int			flowdb_prune_interval = 3600;
bool		flowdb_notify = true;
int			flowdb_max_blueprint_bytes = 256 * 1024;
int			flowdb_max_payload_bytes = 1024 * 1024;
int			flowdb_max_value_bytes = 1024 * 1024;
int			flowdb_max_state_bytes = 8 * 1024 * 1024;
int			flowdb_max_map_items = ENGINE_DEFAULT_MAX_MAP_ITEMS;
int			flowdb_max_regex_subject = 10000;
int			flowdb_max_run_crashes = 3;
int			flowdb_max_queued_per_owner = 10000;

int			flowdb_sandbox_mode = FLOWDB_SANDBOX_AUTO;
static char *flowdb_llm_model = NULL;
static char *flowdb_transcription_model = NULL;
static int	flowdb_webhook_max_age = 3 * 86400;
static int	flowdb_event_buffer_seconds = 300;
/* intent_parse and the WhatsApp assistant (read from SQL) */
static char *flowdb_public_url = NULL;
static int	flowdb_intent_confirm_rupees = 5000;
static int	flowdb_intent_session_minutes = 30;

/* flowdb.<service>_base_url, one per registered service */
#define MAX_SERVICES 64
static char *flowdb_service_limits_text = NULL;
static int	service_limits[MAX_SERVICES];
static double service_rates[MAX_SERVICES];
static const NetGuardPolicy *net_policy = NULL;
static char *base_urls[MAX_SERVICES];
static char base_url_names[MAX_SERVICES][NAMEDATALEN];

static const struct config_enum_entry sandbox_options[] = {
	{"off", FLOWDB_SANDBOX_OFF, false},
	{"on", FLOWDB_SANDBOX_ON, false},
	{"auto", FLOWDB_SANDBOX_AUTO, false},
	{"true", FLOWDB_SANDBOX_ON, true},
	{"false", FLOWDB_SANDBOX_OFF, true},
	{NULL, 0, false}
};

FlowdbShared *flowdb_shared = NULL;
int			flowdb_my_slot = -1;

/* true in processes forked from a postmaster that preloaded flowdb */
static bool flowdb_preloaded = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static bool wake_at_commit = false;

static void flowdb_shmem_request(void);
static void flowdb_shmem_startup(void);
static void flowdb_xact_callback(XactEvent event, void *arg);
static void define_settings(void);
static bool check_service_limits(char **newval, void **extra, GucSource source);
static void assign_service_limits(const char *newval, void *extra);
static void assign_max_value_bytes(int newval, void *extra);
static void assign_max_state_bytes(int newval, void *extra);
static void assign_max_map_items(int newval, void *extra);
static void assign_max_regex_subject(int newval, void *extra);
static bool check_allow_private_hosts(char **newval, void **extra, GucSource source);
static bool check_sandbox(int *newval, void **extra, GucSource source);
static void assign_allow_private_hosts(const char *newval, void *extra);

/*
 * _PG_init
 *		Define settings; when preloaded, reserve shared memory and register
 *		the launcher.  Loaded later (CREATE EXTENSION or LOAD in a
 *		server without flowdb in shared_preload_libraries), it defines only
 *		the settings a session may use: PostgreSQL ends the session with a
 *		FATAL when a PGC_POSTMASTER setting is defined after startup.  The
 *		install script then refuses with an ERROR that says what to do
 *		(flowdb_require_preload).
 */
void
_PG_init(void)
{
	flowdb_preloaded = process_shared_preload_libraries_in_progress;
	define_settings();
	cond_regex_matcher = flowdb_regex_match;
	cond_regex_compiles = flowdb_regex_compiles;
	bp_timezone_hook = flowdb_timezone_known;
	bp_table_shape_hook = flowdb_table_shape;

	RegisterXactCallback(flowdb_xact_callback, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

	curl_global_init(CURL_GLOBAL_DEFAULT);

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = flowdb_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = flowdb_shmem_startup;

	/* the launcher starts the workers of every database (launcher.c) */
	flowdb_launcher_init();
}

/*
 * assign_max_value_bytes
 *		flowdb.max_value_bytes: the template renderer's cap.
 */
static void
assign_max_value_bytes(int newval, void *extra)
{
	tmpl_max_bytes = (size_t) newval;
}

/*
 * assign_max_state_bytes
 *		flowdb.max_state_bytes: the engine's cap on a run's state.
 */
static void
assign_max_state_bytes(int newval, void *extra)
{
	engine_config.max_state_bytes = (size_t) newval;
}

/*
 * assign_max_map_items
 *		flowdb.max_map_items: the engine's cap on the items of one map node.
 */
static void
assign_max_map_items(int newval, void *extra)
{
	engine_config.max_map_items = newval;
}

/*
 * assign_max_regex_subject
 *		flowdb.max_regex_subject: the longest "matches" subject.
 */
static void
assign_max_regex_subject(int newval, void *extra)
{
	cond_max_subject = (size_t) newval;
}

/*
 * define_settings
 *		All flowdb.* GUCs (documented in docs/configuration.md).
 */
static void
define_settings(void)
{
	/* postmaster settings only exist when flowdb is preloaded (_PG_init) */
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomStringVariable("flowdb.database_name",
								   "Serve only this database (empty: every database that has the extension).",
								   NULL, &flowdb_database_name, "",
								   PGC_POSTMASTER, GUC_SUPERUSER_ONLY,
								   NULL, NULL, NULL);
		DefineCustomIntVariable("flowdb.workers",
								"Number of flowdb background workers per database that has the extension (0: none, no launcher).",
								NULL, &flowdb_workers, 1, 0, FLOWDB_MAX_WORKERS,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);
		DefineCustomIntVariable("flowdb.max_workers",
								"Most flowdb workers of all databases together.",
								"Each is a background worker: max_worker_processes must leave room for them and the launcher.",
								&flowdb_max_workers, 8, 1, FLOWDB_MAX_TOTAL_WORKERS,
								PGC_POSTMASTER, 0, NULL, NULL, NULL);
	}
	DefineCustomIntVariable("flowdb.max_inflight",
							"Maximum HTTP requests in flight per worker.",
							NULL, &flowdb_max_inflight, 256, 1, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("flowdb.claim_batch",
							"Maximum runs a worker claims in one transaction.",
							NULL, &flowdb_claim_batch, 32, 1, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("flowdb.lease_seconds",
							"How long a worker's claim on a run lasts without renewal.",
							NULL, &flowdb_lease_seconds, 60, 5, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("flowdb.scan_interval_ms",
							"Period of the safety-net scan for due retries, delays and expired leases.",
							NULL, &flowdb_scan_interval_ms, 1000, 10, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomStringVariable("flowdb.allow_private_hosts",
							   "Private, loopback and link-local addresses tools may reach: off, on, or a list such as 'llm:10.0.0.5, http:127.0.0.1'.",
							   "Entries: service (any private address), service:ADDR[/BITS], *:ADDR[/BITS]; IPv6 in brackets.",
							   &flowdb_allow_private_hosts, "off",
							   PGC_SUSET, 0,
							   check_allow_private_hosts, assign_allow_private_hosts, NULL);
	DefineCustomStringVariable("flowdb.http_proxy",
							   "Proxy for the workers' HTTP requests (curl syntax); empty = none, proxy environment variables are ignored.",
							   NULL, &flowdb_http_proxy, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("flowdb.http_ca_file",
							   "PEM file of the certificate authorities the workers trust for https; empty = libcurl's default bundle.",
							   "For servers with certificates of a private CA.  A file the server cannot read fails every https request.",
							   &flowdb_http_ca_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("flowdb.http_timeout_ms",
							"Default timeout of one HTTP request.",
							NULL, &flowdb_http_timeout_ms, 30000, 1, 300000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("flowdb.max_response_bytes",
							"Largest HTTP response body a tool accepts.",
							NULL, &flowdb_max_response_bytes, 1024 * 1024, 1024,
							64 * 1024 * 1024, PGC_SIGHUP, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("flowdb.max_redirects",
							"Redirects an HTTP request may follow.",
							NULL, &flowdb_max_redirects, 3, 0, 20,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("flowdb.max_host_connections",
							"Most connections one worker opens to one host and port; 0 means no cap.",
							"Requests past it wait for a connection (their timeout runs meanwhile); HTTP/2 servers multiplex requests on few connections anyway.",
							&flowdb_max_host_connections, 0, 0, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("flowdb.retry_base_ms",
							"First retry backoff; doubles each attempt, with jitter.",
							NULL, &flowdb_retry_base_ms, 1000, 1, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("flowdb.retention_days",
							"Finished runs and their logs older than this are pruned.",
							NULL, &flowdb_retention_days, 30, 1, 36500,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("flowdb.prune_interval",
							"How often worker 0 calls flowdb.prune().",
							"The first call is when the worker starts.",
							&flowdb_prune_interval, 3600, 1, 7 * 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomBoolVariable("flowdb.notify",
							 "Send NOTIFY flowdb_runs when runs are queued or finish.",
							 NULL, &flowdb_notify, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("flowdb.max_blueprint_bytes",
							"Largest blueprint accepted.",
							NULL, &flowdb_max_blueprint_bytes, 256 * 1024, 1024,
							64 * 1024 * 1024, PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("flowdb.max_payload_bytes",
							"Largest run payload (trigger_data) accepted.",
							NULL, &flowdb_max_payload_bytes, 1024 * 1024, 1024,
							256 * 1024 * 1024, PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("flowdb.max_value_bytes",
							"Largest value one template may render (a set node's values, an action's params).",
							"A larger value fails its node.",
							&flowdb_max_value_bytes, 1024 * 1024, 1024,
							256 * 1024 * 1024, PGC_SIGHUP, GUC_UNIT_BYTE,
							NULL, assign_max_value_bytes, NULL);
	DefineCustomIntVariable("flowdb.max_state_bytes",
							"Largest state (all node outputs) of one run.",
							"An output that would make the state larger fails its node and the run.",
							&flowdb_max_state_bytes, 8 * 1024 * 1024, 64 * 1024,
							512 * 1024 * 1024, PGC_SIGHUP, GUC_UNIT_BYTE,
							NULL, assign_max_state_bytes, NULL);
	DefineCustomIntVariable("flowdb.max_map_items",
							"Most items one map node may go over.",
							"A map whose items render to a longer array fails its node.",
							&flowdb_max_map_items, ENGINE_DEFAULT_MAX_MAP_ITEMS, 1,
							1000000, PGC_SIGHUP, 0,
							NULL, assign_max_map_items, NULL);
	DefineCustomIntVariable("flowdb.max_regex_subject",
							"Longest string the condition operator \"matches\" accepts, in bytes.",
							NULL, &flowdb_max_regex_subject, 10000, 100, 10000000,
							PGC_SIGHUP, 0, NULL, assign_max_regex_subject, NULL);
	DefineCustomIntVariable("flowdb.max_run_crashes",
							"Worker crashes a run may be in flight for before it is failed instead of claimed again.",
							NULL, &flowdb_max_run_crashes, 3, 1, 1000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("flowdb.max_queued_per_owner",
							"Most unfinished runs (queued, running or waiting) one owner may have; 0 means no limit.",
							"Past it, starting a run fails with SQLSTATE 53400.",
							&flowdb_max_queued_per_owner, 10000, 0, INT_MAX,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("flowdb.sandbox",
							 "Sandbox mode: on records requests in flowdb.outbox instead of sending them; auto does so for services without a credential.",
							 NULL, &flowdb_sandbox_mode, FLOWDB_SANDBOX_AUTO,
							 sandbox_options, PGC_SUSET, 0, check_sandbox, NULL, NULL);
	DefineCustomStringVariable("flowdb.service_limits",
							   "Per-service limits per worker: requests in flight ('whatsapp=4') and requests per second per owner credential ('slack=1/s').",
							   "Providers rate-limit; requests over a service's limit wait in the worker's queue.",
							   &flowdb_service_limits_text, "",
							   PGC_SIGHUP, 0,
							   check_service_limits, assign_service_limits, NULL);
	DefineCustomStringVariable("flowdb.llm_model",
							   "Model name sent to the OpenAI-compatible API.",
							   NULL, &flowdb_llm_model, "gpt-4o-mini",
							   PGC_SUSET, 0, worker_setting_string_hook("flowdb.llm_model"),
							   NULL, NULL);
	DefineCustomStringVariable("flowdb.transcription_model",
							   "Model name sent to the Whisper-compatible /audio/transcriptions API.",
							   NULL, &flowdb_transcription_model, "whisper-1",
							   PGC_SUSET, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("flowdb.event_buffer_seconds",
							"How long an event is kept for wait_event nodes not yet parked on it; 0 disables.",
							"An event that arrives while its run is busy (leased) or before the run reaches its wait_event node is matched when the run parks, within this window.",
							&flowdb_event_buffer_seconds, 300, 0, 7 * 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("flowdb.webhook_max_age",
							"Oldest Razorpay delivery (by its signed created_at) a webhook accepts.",
							"Older deliveries are refused as replays; delivery ids are kept at least this long.",
							&flowdb_webhook_max_age, 3 * 86400, 60, 30 * 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);

	DefineCustomStringVariable("flowdb.public_url",
							   "Public base URL of the PostgREST API, e.g. https://api.example.com.",
							   "Twilio signs the URL it calls: whatsapp_webhook checks X-Twilio-Signature over this URL + /rpc/whatsapp_webhook.",
							   &flowdb_public_url, "",
							   PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("flowdb.intent_confirm_rupees",
							"Amounts above this (rupees) need a yes before intent_parse creates an invoice or payment link.",
							"0 asks for every amount.",
							&flowdb_intent_confirm_rupees, 5000, 0, INT_MAX,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("flowdb.intent_session_minutes",
							"How long intent_parse remembers a question it asked (flowdb.sessions).",
							NULL, &flowdb_intent_session_minutes, 30, 1, 10080,
							PGC_SUSET, GUC_UNIT_MIN, NULL, NULL, NULL);

	/* one base URL setting per service, from the registry */
	for (int i = 0; i < MAX_SERVICES && fdb_services[i] != NULL; i++)
	{
		const ToolService *svc = fdb_services[i];
		char		desc[256];

		if (svc->default_base_url == NULL || svc->default_base_url[0] == '\0')
			continue;
		snprintf(base_url_names[i], NAMEDATALEN, "flowdb.%s_base_url", svc->name);
		snprintf(desc, sizeof(desc), "Base URL of the %s API (tests point it at a local server).",
				 svc->name);
		DefineCustomStringVariable(base_url_names[i], pstrdup(desc), NULL,
								   &base_urls[i], svc->default_base_url,
								   PGC_SUSET, 0, worker_setting_string_hook(base_url_names[i]),
								   NULL, NULL);
	}
	speech_define_settings();
	MarkGUCPrefixReserved("flowdb");
}

/*
 * flowdb_base_url
 *		Current base URL of a service, without a trailing slash.
 */
const char *
flowdb_base_url(const ToolService *svc)
{
	static char buf[1024];

	for (int i = 0; i < MAX_SERVICES && fdb_services[i] != NULL; i++)
	{
		if (fdb_services[i] == svc && base_urls[i] != NULL)
		{
			size_t		len;

			snprintf(buf, sizeof(buf), "%s", base_urls[i]);
			len = strlen(buf);
			while (len > 0 && buf[len - 1] == '/')
				buf[--len] = '\0';
			return buf;
		}
	}
	return svc->default_base_url ? svc->default_base_url : "";
}

/*
 * check_service_limits
 *		GUC check hook: "service=N, service=R/s, ..." with known services.
 */
static bool
check_service_limits(char **newval, void **extra, GucSource source)
{
	int			limits[MAX_SERVICES];
	char		err[256];

	if (!catalog_parse_limits(*newval, limits, NULL, MAX_SERVICES, err, sizeof(err)))
	{
		GUC_check_errdetail("%s", err);
		return false;
	}
	return true;
}

/*
 * assign_service_limits
 *		GUC assign hook: keep the parsed limits.
 */
static void
assign_service_limits(const char *newval, void *extra)
{
	char		err[256];

	if (!catalog_parse_limits(newval, service_limits, service_rates, MAX_SERVICES,
							  err, sizeof(err)))
	{
		memset(service_limits, 0, sizeof(service_limits));
		memset(service_rates, 0, sizeof(service_rates));
	}
}

/*
 * check_allow_private_hosts
 *		GUC check hook: parse the private address policy (netguard.c) and
 *		make sure every service it names exists.  The parsed policy is the
 *		setting's extra (malloc'd, freed by the GUC machinery).
 */
static bool
check_allow_private_hosts(char **newval, void **extra, GucSource source)
{
	NetGuardPolicy *p;
	char		err[256];

	p = (NetGuardPolicy *) malloc(sizeof(NetGuardPolicy));
	if (p == NULL)
	{
		GUC_check_errcode(ERRCODE_OUT_OF_MEMORY);
		return false;
	}
	if (!netguard_parse_policy(*newval, p, err, sizeof(err)))
	{
		GUC_check_errdetail("%s", err);
		GUC_check_errhint("Use off, on, or entries such as 'llm:10.0.0.5', 'http:127.0.0.1/32', 'slack', '*:[fd00::1]'.");
		free(p);
		return false;
	}
	for (int i = 0; i < p->nrules; i++)
	{
		if (p->rules[i].service[0] != '\0' && catalog_service(p->rules[i].service) == NULL)
		{
			GUC_check_errdetail("unknown service \"%s\"", p->rules[i].service);
			free(p);
			return false;
		}
	}
	*extra = p;
	worker_setting_warn("flowdb.allow_private_hosts", *newval, source, NULL);
	return true;
}

/*
 * check_sandbox
 *		GUC check hook of flowdb.sandbox: every value is valid; a session
 *		SET is warned about (the workers do not see it).
 */
static bool
check_sandbox(int *newval, void **extra, GucSource source)
{
	const char *name = "?";

	for (const struct config_enum_entry *e = sandbox_options; e->name; e++)
	{
		if (e->val == *newval && !e->hidden)
		{
			name = e->name;
			break;
		}
	}
	worker_setting_warn("flowdb.sandbox", name, source,
						"To make one run a dry run instead, start it with sandbox => true "
						"(flow_execute, flow_run).");
	return true;
}

/*
 * assign_allow_private_hosts
 *		GUC assign hook: keep the parsed policy.
 */
static void
assign_allow_private_hosts(const char *newval, void *extra)
{
	net_policy = (const NetGuardPolicy *) extra;
}

/*
 * flowdb_net_policy
 *		The parsed flowdb.allow_private_hosts (never NULL).  Valid until the
 *		setting changes: copy what must outlive a configuration reload.
 */
const NetGuardPolicy *
flowdb_net_policy(void)
{
	static const NetGuardPolicy none;

	return net_policy ? net_policy : &none;
}

/*
 * flowdb_service_limit
 *		Most requests in flight for a service per worker (0 = no limit).
 */
int
flowdb_service_limit(const ToolService *svc)
{
	int			i = catalog_service_index(svc);

	return (i >= 0 && i < MAX_SERVICES) ? service_limits[i] : 0;
}

/*
 * flowdb_service_rate
 *		Most requests per second for a service per owner credential and
 *		worker (0 = no limit).
 */
double
flowdb_service_rate(const ToolService *svc)
{
	int			i = catalog_service_index(svc);

	return (i >= 0 && i < MAX_SERVICES) ? service_rates[i] : 0;
}

/*
 * flowdb_shmem_request
 *		Reserve the worker registry.
 */
static void
flowdb_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(flowdb_shared_size()));
}

/*
 * flowdb_shmem_startup
 *		Create or attach the worker registry.
 */
static void
flowdb_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	flowdb_shared = ShmemInitStruct("flowdb", flowdb_shared_size(), &found);
	if (!found)
	{
		memset(flowdb_shared, 0, flowdb_shared_size());
		SpinLockInit(&flowdb_shared->mutex);
		flowdb_shared->nslots = flowdb_max_workers;
		pg_atomic_init_u32(&flowdb_shared->launcher_pid, 0);
		pg_atomic_init_u32(&flowdb_shared->launcher_procno, 0);
		for (int i = 0; i < flowdb_max_workers; i++)
		{
			FlowdbWorkerSlot *s = &flowdb_shared->slots[i];

			s->state = FLOWDB_SLOT_FREE;
			pg_atomic_init_u32(&s->dboid, InvalidOid);
			pg_atomic_init_u32(&s->pid, 0);
			pg_atomic_init_u32(&s->procno, 0);
			pg_atomic_init_u64(&s->claimed, 0);
			pg_atomic_init_u64(&s->steps, 0);
			pg_atomic_init_u64(&s->commits, 0);
			pg_atomic_init_u64(&s->wakeups, 0);
			pg_atomic_init_u64(&s->heartbeat, 0);
			pg_atomic_init_u64(&s->starts, 0);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * flowdb_wake_all
 *		Set the latch of every running flowdb worker of this database, our
 *		own too when we are one (a trigger of our own commit queued or
 *		resumed runs: see flowdb_wake_workers).  When none runs here, wake
 *		the launcher for it: the database may have been found without the
 *		extension, or its workers may be restarting.
 */
void
flowdb_wake_all(void)
{
	bool		any = false;

	if (flowdb_shared == NULL)
		return;
	for (int i = 0; i < flowdb_shared->nslots; i++)
	{
		FlowdbWorkerSlot *s = &flowdb_shared->slots[i];
		uint32		pid = pg_atomic_read_u32(&s->pid);

		if (pid == 0 || pg_atomic_read_u32(&s->dboid) != MyDatabaseId)
			continue;
		any = true;
		pg_atomic_fetch_add_u64(&s->wakeups, 1);
		if (pid == (uint32) MyProcPid)
			SetLatch(MyLatch);
		else
			SetLatch(&ProcGlobal->allProcs[pg_atomic_read_u32(&s->procno)].procLatch);
	}
	if (!any)
		flowdb_launcher_wake(MyDatabaseId);
}

/*
 * flowdb_xact_callback
 *		At commit of a transaction that queued or changed runs, wake the
 *		workers; forget the mark on abort.
 */
static void
flowdb_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_at_commit)
			{
				wake_at_commit = false;
				flowdb_wake_all();
			}
			flowdb_launcher_xact_end(true);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			wake_at_commit = false;
			flowdb_launcher_xact_end(false);
			break;
		default:
			break;
	}
}

FLOWDB_FUNCTION_INFO_V1(flowdb_wake_workers);

/*
 * trigger_depth
 *		pg_trigger_depth(): how many trigger calls we are inside.
 */
static int
trigger_depth(void)
{
	LOCAL_FCINFO(fcinfo, 0);

	InitFunctionCallInfoData(*fcinfo, NULL, 0, InvalidOid, NULL, NULL);
	return DatumGetInt32(pg_trigger_depth(fcinfo));
}

/*
 * flowdb_wake_workers
 *		Statement trigger on flowdb.runs: wake the workers when this
 *		transaction commits, and NOTIFY outside listeners.
 *		A worker's own claims and commits wake nobody: it knows what it
 *		wrote.  But when a trigger of its statement writes runs (depth 2
 *		and more: a call node's child queued, a parent resumed when its
 *		child ended, a failure handler started, a parked run given its
 *		event), those runs are due now, and the worker had no reason to
 *		claim again before its next periodic scan: each call waited up
 *		to flowdb.scan_interval_ms twice (measured: a call of a 1-step
 *		workflow took 1.0 to 2.0 s, a map over 200 items of a
 *		sub-workflow 39.5 s).  Such a commit wakes the workers, this one
 *		included.
 */
Datum
flowdb_wake_workers(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("flowdb.wake_workers() must be called as a trigger")));

	if (flowdb_my_slot >= 0)
	{
		if (trigger_depth() > 1)
			wake_at_commit = true;
	}
	else
	{
		wake_at_commit = true;
		if (flowdb_notify)
			Async_Notify("flowdb_runs",
						 TRIGGER_FIRED_BY_INSERT(((TriggerData *) fcinfo->context)->tg_event)
						 ? "queued" : "updated");
	}
	return PointerGetDatum(NULL);
}

FLOWDB_FUNCTION_INFO_V1(flowdb_worker_info);

/*
 * flowdb_worker_info
 *		One row per worker slot in use, in every database: pid (0 while
 *		starting), counters, last heartbeat (NULL before the first loop
 *		turn), how many processes served as this worker, its database and
 *		its number there.  The database and worker columns come last, so
 *		the 0.1.0 declaration (without them) still works.
 */
Datum
flowdb_worker_info(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			natts;

	InitMaterializedSRF(fcinfo, 0);
	if (flowdb_shared == NULL)
		PG_RETURN_VOID();
	natts = rsinfo->setDesc->natts;

	for (int i = 0; i < flowdb_shared->nslots; i++)
	{
		FlowdbWorkerSlot *s = &flowdb_shared->slots[i];
		Datum		values[10];
		bool		nulls[10] = {0};
		uint64		beat = pg_atomic_read_u64(&s->heartbeat);
		int			state;
		int			worker;
		Oid			dboid;
		char	   *dbname;

		SpinLockAcquire(&flowdb_shared->mutex);
		state = s->state;
		worker = s->worker;
		dboid = pg_atomic_read_u32(&s->dboid);
		SpinLockRelease(&flowdb_shared->mutex);
		if (state == FLOWDB_SLOT_FREE)
			continue;

		values[0] = Int32GetDatum(i);
		values[1] = Int32GetDatum((int32) pg_atomic_read_u32(&s->pid));
		values[2] = Int64GetDatum((int64) pg_atomic_read_u64(&s->claimed));
		values[3] = Int64GetDatum((int64) pg_atomic_read_u64(&s->steps));
		values[4] = Int64GetDatum((int64) pg_atomic_read_u64(&s->commits));
		values[5] = Int64GetDatum((int64) pg_atomic_read_u64(&s->wakeups));
		values[6] = TimestampTzGetDatum((TimestampTz) beat);
		nulls[6] = (beat == 0);
		values[7] = Int64GetDatum((int64) pg_atomic_read_u64(&s->starts));
		if (natts >= 10)
		{
			dbname = get_database_name(dboid);
			nulls[8] = (dbname == NULL);
			if (dbname != NULL)
			{
				NameData   *nd = palloc0(sizeof(NameData));

				namestrcpy(nd, dbname);
				values[8] = NameGetDatum(nd);
			}
			values[9] = Int32GetDatum(worker);
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}

FLOWDB_FUNCTION_INFO_V1(flowdb_require_preload);

/*
 * flowdb_require_preload
 *		ERROR 55000 unless flowdb was loaded by shared_preload_libraries.
 *		The install script calls it first, so that CREATE EXTENSION in a
 *		server without the workers fails with the fix, creating nothing.
 */
Datum
flowdb_require_preload(PG_FUNCTION_ARGS)
{
	if (!flowdb_preloaded)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("flowdb must be loaded through shared_preload_libraries"),
				 errdetail("The background workers that run flows start with the server; "
						   "without them every run would stay queued."),
				 errhint("Add flowdb to shared_preload_libraries in postgresql.conf "
						 "(keep the libraries already listed), restart the server, "
						 "then run CREATE EXTENSION flowdb again.")));
	PG_RETURN_VOID();
}
