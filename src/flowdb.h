/*-------------------------------------------------------------------------
 *
 * flowdb.h
 *	  Backend-side declarations shared by flowdb.c, api.c, http.c, worker.c:
 *	  settings (GUCs) and the shared-memory worker registry.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_H
#define FLOWDB_H

#include "postgres.h"
#include "port/atomics.h"
#include "storage/spin.h"

/* flowdb.workers: most workers per database */
#define FLOWDB_MAX_WORKERS 32

/* settings (see docs/configuration.md) */
extern char *flowdb_database_name;
extern int	flowdb_workers;
extern int	flowdb_max_inflight;
extern int	flowdb_claim_batch;
extern int	flowdb_lease_seconds;
extern int	flowdb_scan_interval_ms;
extern char *flowdb_allow_private_hosts;
extern char *flowdb_http_proxy;
extern char *flowdb_http_ca_file;
extern int	flowdb_http_timeout_ms;
extern int	flowdb_max_response_bytes;
extern int	flowdb_max_redirects;
extern int	flowdb_max_host_connections;
extern int	flowdb_retry_base_ms;
extern int	flowdb_retention_days;
extern int	flowdb_prune_interval;
extern bool flowdb_notify;
extern int	flowdb_max_blueprint_bytes;
extern int	flowdb_max_payload_bytes;
extern int	flowdb_max_value_bytes;
extern int	flowdb_max_state_bytes;
extern int	flowdb_max_map_items;
extern int	flowdb_max_regex_subject;
extern int	flowdb_max_run_crashes;
extern int	flowdb_max_queued_per_owner;

typedef enum FlowdbSandboxMode
{
	FLOWDB_SANDBOX_OFF,
	FLOWDB_SANDBOX_ON,
	FLOWDB_SANDBOX_AUTO
} FlowdbSandboxMode;

extern int	flowdb_sandbox_mode;

struct ToolService;
/* base URL of a service: flowdb.<service>_base_url, no trailing slash */
extern const char *flowdb_base_url(const struct ToolService *svc);
/* flowdb.service_limits: most requests in flight per service (0 = none) */
extern int	flowdb_service_limit(const struct ToolService *svc);
/* flowdb.service_limits "service=R/s": requests per second per owner credential (0 = none) */
extern double flowdb_service_rate(const struct ToolService *svc);
/* flowdb.allow_private_hosts, parsed (netguard.h) */
struct NetGuardPolicy;
extern const struct NetGuardPolicy *flowdb_net_policy(void);

/* flowdb.workers: workers per database; flowdb.max_workers: all of them */
#define FLOWDB_MAX_TOTAL_WORKERS 1024
/* launcher wake-up requests queued in shared memory (more: rescan all) */
#define FLOWDB_WAKE_QUEUE 16
/* databases held at once (DROP/RENAME/ALTER ... SET TABLESPACE/TEMPLATE) */
#define FLOWDB_MAX_HOLDS 16

/* FlowdbWorkerSlot.state */
#define FLOWDB_SLOT_FREE 0
#define FLOWDB_SLOT_RESERVED 1	/* registered by the launcher, not attached */
#define FLOWDB_SLOT_RUNNING 2	/* a worker process owns it */

/*
 * One slot per worker process, in shared memory (flowdb.max_workers of
 * them).  The launcher reserves a slot for worker number `worker` of a
 * database; the process attaches to it and frees it when it exits.  Only
 * plain values: no process-local pointers.
 */
typedef struct FlowdbWorkerSlot
{
	/* protected by FlowdbShared.mutex */
	int			state;			/* FLOWDB_SLOT_* */
	uint32		generation;		/* bumped at every reservation */
	int			worker;			/* number within its database: lease owner */
	bool		serving;		/* found the extension and entered the loop */
	bool		noext;			/* exited: the extension is not installed */
	bool		stop;			/* leave: the database is being dropped... */
	/* read without the lock */
	pg_atomic_uint32 dboid;		/* database of the worker */
	pg_atomic_uint32 pid;		/* 0 when not running */
	pg_atomic_uint32 procno;	/* pgprocno, valid while pid != 0 */
	pg_atomic_uint64 claimed;	/* runs claimed */
	pg_atomic_uint64 steps;		/* step results committed */
	pg_atomic_uint64 commits;	/* result transactions */
	pg_atomic_uint64 wakeups;	/* latch wake-ups received from commits */
	pg_atomic_uint64 heartbeat; /* TimestampTz of the last loop turn, 0 = never */
	pg_atomic_uint64 starts;	/* processes that served as this worker */
} FlowdbWorkerSlot;

/* a database whose workers must stay away until `holder` ends its
 * transaction (it drops, renames, moves or copies the database) */
typedef struct FlowdbHold
{
	Oid			dboid;			/* InvalidOid: unused entry */
	int			holder;			/* pid of the backend */
} FlowdbHold;

typedef struct FlowdbShared
{
	slock_t		mutex;			/* slot state, wake queue, holds */
	int			nslots;			/* flowdb.max_workers */
	pg_atomic_uint32 launcher_pid;	/* 0 when the launcher is not running */
	pg_atomic_uint32 launcher_procno;
	int			nwake;			/* databases in wake[] */
	bool		wake_overflow;	/* more requests than wake[] holds */
	Oid			wake[FLOWDB_WAKE_QUEUE];
	FlowdbHold	holds[FLOWDB_MAX_HOLDS];
	FlowdbWorkerSlot slots[FLEXIBLE_ARRAY_MEMBER];
} FlowdbShared;

extern FlowdbShared *flowdb_shared;
extern int	flowdb_my_slot;			/* worker number in its database (lease
									 * owner); -1 outside a flowdb worker */

extern void flowdb_wake_all(void);

/* launcher.c: the launcher and the life of a worker slot */
extern int	flowdb_max_workers;
extern void flowdb_launcher_init(void);
extern Size flowdb_shared_size(void);
extern PGDLLEXPORT void flowdb_launcher_main(Datum arg);
extern void flowdb_launcher_wake(Oid dboid);
extern void flowdb_launcher_xact_end(bool commit);
/* worker side: attach to the reserved slot and connect (exits quietly
 * when the slot was given away); then serving, or exit without the
 * extension; heartbeat once per loop turn (exits when told to stop) */
extern FlowdbWorkerSlot *flowdb_worker_attach(Datum arg);
extern void flowdb_worker_serving(void);
extern void flowdb_worker_no_extension(void) pg_attribute_noreturn();
extern void flowdb_worker_heartbeat(void);
/* the worker's database name, for messages ("" outside a worker) */
extern const char *flowdb_worker_dbname(void);

/* schedule_tz.c: does a schedule's time zone exist (bp_timezone_hook) */
extern bool flowdb_timezone_known(const char *name, char *hint, size_t hintlen);

/* regex_pg.c: the "matches" operator on PostgreSQL's regex engine */
extern int	flowdb_regex_match(const char *subject, size_t len, const char *pattern,
							   char *err, size_t errlen);
extern bool flowdb_regex_compiles(const char *pattern, char *msg, size_t msglen);

/*
 * What the library exports.  It is built with -fvisibility=hidden (and
 * PGDLLEXPORT defined as default visibility, see the Makefile), so that its
 * internal names cannot clash with other preloaded libraries: only
 * Pg_magic_func, _PG_init, the worker entry and the SQL-callable functions
 * (with their pg_finfo_ records) are visible; `make check-symbols` checks.
 * PG 15's PG_FUNCTION_INFO_V1 marks only pg_finfo_<name> exported (PG 16
 * marks the function too): SQL-callable functions use FLOWDB_FUNCTION_INFO_V1.
 */
#define FLOWDB_FUNCTION_INFO_V1(funcname) \
extern PGDLLEXPORT Datum funcname(PG_FUNCTION_ARGS); \
PG_FUNCTION_INFO_V1(funcname)

extern PGDLLEXPORT void _PG_init(void);

/* worker.c */
extern PGDLLEXPORT void flowdb_worker_main(Datum arg);



/* api.c: conversions between jsonb and cJSON */
#include <cjson/cJSON.h>
#include "utils/jsonb.h"
#include "fjson.h"

/* table_shape.c: a table trigger's columns (bp_table_shape_hook) */
extern cJSON *flowdb_table_shape(const char *table);
#define FLOWDB_MAX_JSON_DEPTH FDB_MAX_JSON_DEPTH
extern cJSON *flowdb_jsonb_to_cjson(Jsonb *jb);
extern void flowdb_check_json_depth(Jsonb *jb, const char *what);
extern cJSON *flowdb_parse_json_text(const char *text);
extern Datum flowdb_cjson_to_jsonb(const cJSON *v);
extern Datum flowdb_cjson_to_jsonb_free(cJSON *v);
#endif							/* FLOWDB_H */
