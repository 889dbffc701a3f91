/*-------------------------------------------------------------------------
 *
 * worker_int.h
 *	  Private interface between the three parts of the flowdb background
 *	  worker:
 *		worker.c	the loop: start, signals, waiting on the latch and on
 *					curl's sockets, timers, the runs the worker holds;
 *		store.c		every statement the worker runs (SPI): claim, commit,
 *					leases and their recovery, credentials, housekeeping;
 *		dispatch.c	the requests of action nodes: prepare, queue, start,
 *					apply the response, sandbox outbox records.
 *	  Nothing outside these three files includes this header.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_WORKER_INT_H
#define FLOWDB_WORKER_INT_H

#include "lib/ilist.h"

#include "flowdb.h"
#include "catalog.h"
#include "engine.h"
#include "http.h"
#include "map_parts.h"

/*
 * A request still in flight this many ms after it went out gets its
 * "started" log row: with the next commit of its run from then on, or on
 * its own, asynchronously and batched across runs (worker_needs_commit).
 * An answer that comes sooner is logged by its outcome row alone, which
 * has the start time too (store.c: start_fate).
 */
#define STARTED_LOG_DELAY_MS 100

/* a run held by this worker */
typedef struct WRun
{
	dlist_node	node;
	EngineRun  *er;
	char		owner[NAMEDATALEN * 2];
	cJSON	   *credentials;	/* {"<service>/<name>": secret}, malloc */
	EngineEvents events;		/* log rows not yet committed */
	char		token[40];		/* lease token of this claim */
	MapParts	parts;			/* running maps stored apart (map_parts.h) */
	double		busy_until;		/* row locked by a client: commit after */
	double		unlogged_start; /* earliest "started" log event not
								 * committed yet (0: none) */
	int			inflight;		/* requests queued or in flight */
	int			unapplied;		/* answers taken between steps, not yet
								 * applied (worker.c: arrivals) */
	bool		dirty;			/* state changed since last commit */
	bool		advance;		/* engine_advance needed */
	bool		lost;			/* canceled or taken away: drop */
	bool		sandbox;		/* a dry run (runs.sandbox): send nothing */
	bool		releasing;		/* the pending commit releases the lease */
	bool		released;		/* lease released: forget the run */
} WRun;

/* one request of one action node */
typedef struct WCall
{
	dlist_node	node;			/* in the dispatch queue */
	WRun	   *run;
	char	   *node_id;
	const ToolTask *task;
	const ToolService *svc;
	const cJSON *cred;			/* the credential (borrowed from the run) */
	cJSON	   *params;			/* rendered, owned */
	HttpRequest req;
	double		started_ms;
	int			svc_index;		/* position in fdb_services[] */
	bool		counted;		/* counted in service_inflight[] */
	char	   *pace_key;		/* "service/owner/credential" (pacing) */
} WCall;

/* a sandboxed request recorded in flowdb.outbox (strings malloc'd) */
typedef struct WOutbox
{
	char	   *run_id;
	char	   *owner;
	char	   *node_id;
	char	   *service;
	char	   *task;
	char	   *method;
	char	   *url;
	char	   *headers;		/* JSON text, redacted */
	char	   *body;
} WOutbox;

/* worker.c: the loop and the runs it holds */
extern dlist_head worker_runs;
extern int	worker_nruns;
extern HttpMulti *worker_multi;
extern FlowdbWorkerSlot *worker_slot;	/* NULL without shared memory */

extern void worker_hold_run(WRun *w);
extern WRun *worker_held_run(const char *run_id);
extern double worker_now_ms(void);
extern bool worker_needs_commit(WRun *w, double now);
extern void worker_fail_run_on_error(WRun *w, MemoryContext cxt, const char *what);
extern pg_attribute_noreturn() void worker_out_of_memory(void);

/* store.c: the worker's SQL */
extern void store_recover_leases(bool at_start);
extern bool store_own_recovery_pending(void);
extern void store_renew_leases(void);
extern void store_fire_schedules(void);
extern bool store_prune(void);
extern int	store_claim_runs(int limit, bool *contended);
extern void store_flush_claims(void);
extern void store_commit_changes(void);
extern bool store_run_disposition(WRun *w, double now, const char **dbstatus,
								  double *next);
extern WOutbox *store_outbox_add(void);

/* dispatch.c: requests */
extern void dispatch_advance_run(WRun *w, double now);
extern void dispatch_pump_queue(void);
extern void dispatch_refill_slots(void);
extern void dispatch_apply_response(WCall *c, HttpResponse *resp);
extern void dispatch_free_call(WCall *c);
extern double dispatch_pace_wake_at(void);

#endif							/* FLOWDB_WORKER_INT_H */
