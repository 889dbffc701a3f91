/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The flowdb background worker's loop: claim runs, drive them through
 *	  the engine, send their requests with curl multi, commit every result.
 *	  The statements live in store.c, the requests in dispatch.c (their
 *	  shared types in worker_int.h); this file starts the worker, waits,
 *	  handles signals and timers and holds the runs.
 *
 * Loop (one iteration, worker_loop):
 *	 1. pop completed transfers, apply them to their runs (engine), and
 *		start queued requests of other runs in the freed slots;
 *	 2. claim runnable runs (FOR UPDATE SKIP LOCKED, lease) when woken,
 *		when the scan timer fired or when the last claim was full; the
 *		claim commits without waiting for its WAL flush;
 *	 3. commit all changed runs in ONE transaction: log rows, outbox rows
 *		and the runs' new state (durable before anything depends on it).
 *		Its WAL flush makes the claim before it durable too: one flush
 *		per loop, not two;
 *	 4. advance changed runs: instant nodes resolve in memory, action
 *		nodes become requests (at most flowdb.max_inflight in flight);
 *		flush the claim if step 3 did not;
 *	 5. wait on latch + postmaster death + curl's epoll set + timers.
 * After steps 2 and 3, answers that came in meanwhile are taken (not
 * applied: that is step 1 of the next iteration) and their slots refilled
 * (take_arrivals).  A claim is durable before any answer to its requests
 * is applied (see store_flush_claims).
 * No transaction is open while requests are in flight or while waiting.
 *
 * Crash safety: leases carry the worker's slot number and a token that is
 * new at every claim.  Commits and renewals match the token, so a copy of
 * a run from an older claim (canceled and retried meanwhile, or taken
 * back) can never write: it is dropped.  Slot numbers are per database
 * (worker N of a database; the launcher runs at most one process as
 * worker N, see launcher.c).  At start a worker takes back every lease of
 * its slot (its previous incarnation is dead), so
 * interrupted runs resume at once, counting the crash on each run; a run
 * that was in flight during flowdb.max_run_crashes crashes is failed.
 * Expired leases of other slots are taken back by the periodic scan.
 *
 * Isolation: an error while processing one run (template, size, tool,
 * out of memory) fails that run, not the worker.  Statements that lock
 * rows skip rows locked by clients (SKIP LOCKED) and give up on other
 * locks after a lock timeout (store.c); the work is retried later.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "condition.h"
#include "worker_int.h"
#include "version.h"

dlist_head	worker_runs = DLIST_STATIC_INIT(worker_runs);
int			worker_nruns = 0;

/*
 * held_by_id: run id -> the latest copy of that run in worker_runs (older
 * copies of a run claimed again are lost).  A claim looks up each run it
 * takes: a walk of worker_runs per claimed run cost 3.5% of the worker's
 * CPU with 256 requests in flight.
 */
#define RUN_ID_KEYSIZE 40		/* uuid text (36) and NUL, rounded */
typedef struct HeldEntry
{
	char		run_id[RUN_ID_KEYSIZE];
	WRun	   *run;
} HeldEntry;
static HTAB *held_by_id = NULL;
HttpMulti  *worker_multi = NULL;
FlowdbWorkerSlot *worker_slot = NULL;

/* what the loop carries from one iteration to the next */
typedef struct LoopState
{
	bool		ready;			/* the extension is there (extension_ready) */
	bool		want_claim;		/* the queue may hold more runs for us:
								 * claim when there is room */
	double		next_scan;		/* epoch ms of the next periodic scan */
	double		claim_retry_at; /* epoch ms: a contended claim's next try */
	int			claim_backoff_ms;	/* its wait, doubling while contended */
	double		stats_due;		/* epoch ms: table statistics still pending
								 * are flushed by then (0: none pending) */
	double		read_only_since;	/* epoch ms: idle because writes are
									 * refused (0: they are not) */
	MemoryContext cxt;			/* reset at every iteration */
} LoopState;

/* an answer taken between steps, applied at the next step 1 */
typedef struct Arrival
{
	WCall	   *call;
	HttpResponse resp;
} Arrival;

static Arrival *arrivals;		/* malloc */
static int	narrivals;
static int	caparrivals;

static void worker_loop(void);
static bool extension_ready(bool *installed);
static bool wait_for_work(long timeout_ms);
static double earliest_due(void);
static void mark_due_runs(double now);
static void housekeeping(double now);
static void release_idle_runs(double now);
static void free_run(WRun *w);

/*
 * worker_now_ms
 *		Current time as Unix epoch milliseconds.
 */
double
worker_now_ms(void)
{
	TimestampTz ts = GetCurrentTimestamp();

	return (double) ts / 1000.0 +
		((double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000.0);
}

/*
 * worker_out_of_memory
 *		A malloc of the worker failed: raise ERROR with SQLSTATE 53200
 *		(while processing a run, worker_fail_run_on_error fails that run).
 */
void
worker_out_of_memory(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("out of memory")));
}

/*
 * keep_freed_memory
 *		Have glibc keep up to 64 MB the worker frees rather than hand it
 *		back to the kernel at once.  A run with a large state (a map over
 *		thousands of items: about 1 MB) has it printed and parsed again at
 *		every commit; with glibc's defaults those megabytes were mapped,
 *		faulted in page by page and returned at each commit, and a map
 *		over 8,000 items took 8.3 to 15.5 s of the worker instead of 4.1
 *		to 4.9 (measured; page faults are dear in a VM).  1-step runs
 *		showed no difference beyond the noise.
 */
static void
keep_freed_memory(void)
{
#ifdef __GLIBC__
	mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
#endif
}

/*
 * The worker's session settings, whatever its database or role sets
 * (ALTER DATABASE/ROLE ... SET reaches a background worker too):
 *	jit = off: the worker's statements are short and cached, but a commit
 *		of a few hundred runs is estimated past jit_above_cost, and
 *		compiling it took 50-70 ms each time (measured with auto_explain),
 *		longer than the statement itself, while every response in flight
 *		waited;
 *	READ COMMITTED: the claim locks with SKIP LOCKED, and its UPDATE, like
 *		the commit of results, re-checks a row a concurrent transaction
 *		changed (a cancel, a retry) and skips it; under REPEATABLE READ or
 *		SERIALIZABLE that race is an error (40001) failing the whole claim
 *		or commit, and SERIALIZABLE also takes predicate locks on all the
 *		claim reads (061);
 *	session_replication_role = origin: at replica no trigger fires, and a
 *		parked parent would never resume when its child ends
 *		(runs_resume_parked_calls), nor foreign keys be checked (061);
 *	search_path = pg_catalog, pg_temp: names in the worker's statements
 *		(now(), =, gen_random_uuid(), ...) resolve in pg_catalog only.  The
 *		worker runs as a superuser, and the database's owner, who need not
 *		be one, may set the database's search_path: with a schema of
 *		theirs before pg_catalog, a function of theirs named now() ran as
 *		the superuser at every claim (063).
 */
static const struct
{
	const char *name;
	const char *value;
}			pinned_settings[] = {
	{"jit", "off"},
	{"default_transaction_isolation", "read committed"},
	{"session_replication_role", "origin"},
	{"search_path", "pg_catalog, pg_temp"},
};

/*
 * pin_session_settings
 *		Set pinned_settings for the life of the worker's session.
 */
static void
pin_session_settings(void)
{
	for (int i = 0; i < (int) lengthof(pinned_settings); i++)
		SetConfigOption(pinned_settings[i].name, pinned_settings[i].value,
						PGC_SUSET, PGC_S_OVERRIDE);
}

/*
 * flowdb_worker_main
 *		Entry point of each flowdb background worker: the launcher starts
 *		worker number N of one database (launcher.c).
 */
void
flowdb_worker_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* the slot, flowdb_my_slot = N, and the database connection */
	worker_slot = flowdb_worker_attach(arg);
	pgstat_report_appname("flowdb worker");

	pin_session_settings();

	keep_freed_memory();
	engine_config.retry_base_ms = flowdb_retry_base_ms;
	worker_multi = http_multi_create();
	if (worker_multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("flowdb worker could not initialize libcurl")));

	worker_loop();
	proc_exit(1);
}

/*
 * worker_needs_commit
 *		Does the run have changes to commit now (not waiting for a
 *		client's row lock to go away)?  Results do at once; a "started"
 *		log row only once its request was in flight STARTED_LOG_DELAY_MS.
 */
bool
worker_needs_commit(WRun *w, double now)
{
	if (w->busy_until > now)
		return false;
	return w->dirty ||
		(w->unlogged_start > 0 && now - w->unlogged_start >= STARTED_LOG_DELAY_MS);
}

/*
 * earliest_start_log
 *		When the oldest uncommitted "started" row must be committed (epoch
 *		ms, 0 when there is none).
 */
static double
earliest_start_log(void)
{
	dlist_iter	it;
	double		at = 0;

	dlist_foreach(it, &worker_runs)
	{
		WRun	   *w = dlist_container(WRun, node, it.cur);

		if (w->unlogged_start > 0 && !w->lost &&
			(at == 0 || w->unlogged_start + STARTED_LOG_DELAY_MS < at))
			at = Max(w->unlogged_start + STARTED_LOG_DELAY_MS, w->busy_until);
	}
	return at;
}

/*
 * worker_fail_run_on_error
 *		PG_CATCH half of the per-run isolation: an ERROR raised while
 *		processing one run (out of memory, an oversized value) fails that
 *		run with the error's message; the worker goes on.  Cancel requests
 *		are not a run's fault: they are rethrown.
 */
void
worker_fail_run_on_error(WRun *w, MemoryContext cxt, const char *what)
{
	ErrorData  *ed;
	char	   *msg;

	MemoryContextSwitchTo(cxt);
	ed = CopyErrorData();
	if (ed->sqlerrcode == ERRCODE_QUERY_CANCELED || ed->elevel > ERROR)
	{
		FreeErrorData(ed);
		PG_RE_THROW();
	}
	FlushErrorState();
	if (IsTransactionState())
		AbortCurrentTransaction();
	MemoryContextSwitchTo(cxt);
	cond_regex_budget = -1;
	if (w->lost)
	{
		FreeErrorData(ed);
		return;
	}
	msg = psprintf("the worker could not %s this run: %s", what, ed->message);
	ereport(LOG,
			(errmsg("flowdb worker %d: run %s failed: %s",
					flowdb_my_slot, w->er->run_id, msg)));
	/* the state itself may be what failed: keep only what is small */
	engine_fail_oversized(w->er, msg);
	w->dirty = true;
	w->advance = false;
	FreeErrorData(ed);
}

/*
 * apply_response_guarded
 *		dispatch_apply_response; an error fails only that run.  Frees the
 *		response and the call either way.
 */
static void
apply_response_guarded(WCall *c, HttpResponse *resp, MemoryContext cxt)
{
	PG_TRY();
	{
		dispatch_apply_response(c, resp);
	}
	PG_CATCH();
	{
		worker_fail_run_on_error(c->run, cxt, "apply a response to");
	}
	PG_END_TRY();
	http_response_free(resp);
	dispatch_free_call(c);
}

/*
 * advance_run_guarded
 *		advance_run; an error fails only that run.
 */
static void
advance_run_guarded(WRun *w, double now, MemoryContext cxt)
{
	PG_TRY();
	{
		dispatch_advance_run(w, now);
	}
	PG_CATCH();
	{
		worker_fail_run_on_error(w, cxt, "advance");
	}
	PG_END_TRY();
}

/*
 * report_table_stats
 *		Hand the worker's counts of rows inserted, updated and deleted to
 *		the cumulative statistics, as a backend does between statements.
 *		A background worker that never does leaves autovacuum and
 *		ANALYZE blind to its writes: every claim and finish updates
 *		flowdb.runs and every step inserts into flowdb.workflow_logs, and
 *		none of it counted (pg_stat_user_tables showed 0 updates), so the
 *		dead rows of flowdb.runs were vacuumed only when clients' own
 *		writes happened to trigger it.  Flushed at most once a second (the
 *		server's rate limit, which keeps this cheap at every iteration);
 *		counts left pending are forced out at ls->stats_due, which
 *		wait_for_next_event wakes the worker for, as an idle backend
 *		does (called at every iteration and before every wait).
 */
static void
report_table_stats(LoopState *ls)
{
	double		now = worker_now_ms();
	long		retry_ms;

	if (ls->stats_due > 0 && now >= ls->stats_due)
	{
		(void) pgstat_report_stat(true);
		ls->stats_due = 0;
		return;
	}
	retry_ms = pgstat_report_stat(false);
	if (retry_ms == 0)
		ls->stats_due = 0;
	else if (ls->stats_due == 0)
		ls->stats_due = now + retry_ms;
}

/*
 * begin_iteration
 *		Start of every loop: interrupts, the heartbeat, the table
 *		statistics, a fresh memory context and a pending configuration
 *		reload (SIGHUP).
 */
static void
begin_iteration(LoopState *ls)
{
	CHECK_FOR_INTERRUPTS();
	flowdb_worker_heartbeat();
	report_table_stats(ls);
	MemoryContextReset(ls->cxt);
	MemoryContextSwitchTo(ls->cxt);

	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
		engine_config.retry_base_ms = flowdb_retry_base_ms;
		/* writes refused from now on: stop before the next claim or commit */
		if (DefaultXactReadOnly)
			ls->ready = false;
	}
}

/*
 * How long a worker waits while default_transaction_read_only is on
 * before it starts afresh, to read the database's setting again.
 */
#define READ_ONLY_RECHECK_MS 10000

/*
 * writes_refused
 *		Is default_transaction_read_only on for the worker (a database in
 *		read-only mode: a full disk, a migration's soft freeze)?  Then the
 *		worker idles instead of failing every claim and commit, exiting
 *		and being started again every second with an ERROR each time.  A
 *		reload (ALTER SYSTEM) reaches it at once; ALTER DATABASE/ROLE ...
 *		SET only reaches new sessions, so after READ_ONLY_RECHECK_MS a
 *		worker that holds no run exits and the launcher starts a fresh
 *		one, which reads the setting of the moment (a worker holding runs
 *		went read-only by a reload, and a reload ends it).  One LOG line
 *		when it starts waiting, one when writes are allowed again.  Runs
 *		held meanwhile stay in the worker with the answers that came in
 *		and are committed when writes come back (062_read_only): nothing
 *		is sent again and no crash is counted, unless the pause outlasted
 *		flowdb.lease_seconds and another worker took them over first.
 */
static bool
writes_refused(LoopState *ls)
{
	double		now = worker_now_ms();

	if (!DefaultXactReadOnly)
	{
		if (ls->read_only_since > 0)
			ereport(LOG,
					(errmsg("flowdb worker %d: writes are allowed again, going on",
							flowdb_my_slot)));
		ls->read_only_since = 0;
		return false;
	}
	if (ls->read_only_since == 0)
	{
		ls->read_only_since = now;
		ereport(LOG,
				(errmsg("flowdb worker %d: default_transaction_read_only is on, not claiming or committing runs",
						flowdb_my_slot),
				 errhint("Runs wait until writes are allowed; answers to requests already in flight are kept until then.")));
	}
	else if (worker_nruns == 0 && now - ls->read_only_since >= READ_ONLY_RECHECK_MS)
		proc_exit(1);			/* a new session reads the database's setting */
	return true;
}

/*
 * become_ready
 *		The extension is absent (not created, dropped, still being
 *		created): exit, the launcher probes again later.  Installed at
 *		another version than the library's: check again, idling a second.
 *		Once it is there, take back our slot's interrupted runs and claim
 *		at once.  True when the loop may go on.
 */
static bool
become_ready(LoopState *ls)
{
	bool		installed;

	if (ls->ready)
		return true;
	if (writes_refused(ls))
	{
		wait_for_work(1000);
		return false;
	}
	ls->ready = extension_ready(&installed);
	if (!installed)
		flowdb_worker_no_extension();
	if (!ls->ready)
	{
		wait_for_work(1000);
		return false;
	}
	flowdb_worker_serving();
	store_recover_leases(true);
	ls->want_claim = true;
	return true;
}

/*
 * apply_completed_calls
 *		Step 1: apply every finished transfer to its run, the answers taken
 *		between the last iteration's steps first; an error fails only that
 *		run.
 */
static void
apply_completed_calls(MemoryContext cxt)
{
	HttpResponse resp;
	WCall	   *done;

	for (int i = 0; i < narrivals; i++)
	{
		done = arrivals[i].call;
		done->run->unapplied--;
		apply_response_guarded(done, &arrivals[i].resp, cxt);
	}
	narrivals = 0;
	while ((done = http_next_done(worker_multi, &resp)) != NULL)
		apply_response_guarded(done, &resp, cxt);
}

/*
 * take_arrivals
 *		Between the long steps of an iteration (the commit, the claim):
 *		read the answers that came in meanwhile and refill their slots
 *		with queued requests of other runs.  The answers are kept, not
 *		applied: a run's results are applied at step 1 and committed before
 *		the run advances (its next request never goes out before the
 *		result it depends on is durable), and its own queued requests wait
 *		for that (dispatch_refill_slots).  Against a slow API an answer
 *		otherwise kept its slot empty for the rest of the iteration, about
 *		a commit and a claim (10 ms of every 100 ms round trip at 256 in
 *		flight).  At most flowdb.max_inflight answers are kept.
 */
static void
take_arrivals(void)
{
	bool		took = false;

	if (http_inflight(worker_multi) == 0)
		return;					/* nothing can have come in */
	http_poll(worker_multi);
	while (narrivals < flowdb_max_inflight && http_has_done(worker_multi))
	{
		Arrival    *a;

		if (narrivals == caparrivals)
		{
			int			ncap = Max(caparrivals * 2, 16);
			Arrival    *na = realloc(arrivals, sizeof(Arrival) * ncap);

			if (na == NULL)
				break;			/* keep them in curl's queue for step 1 */
			arrivals = na;
			caparrivals = ncap;
		}
		a = &arrivals[narrivals];
		a->call = http_next_done(worker_multi, &a->resp);
		if (a->call == NULL)
			break;
		a->call->run->unapplied++;
		narrivals++;
		took = true;
	}
	if (took)
		dispatch_refill_slots();
}

/*
 * periodic_scan
 *		Step 2a: when the scan timer fired, claim, do the housekeeping and
 *		check that the extension is still there.  False when it is not
 *		(the loop goes back to waiting for it).
 */
static bool
periodic_scan(LoopState *ls)
{
	double		now = worker_now_ms();

	if (now < ls->next_scan)
		return true;
	ls->want_claim = true;
	ls->claim_retry_at = 0;
	ls->next_scan = now + flowdb_scan_interval_ms;
	housekeeping(now);
	if (!extension_ready(NULL))
	{
		ls->ready = false;
		return false;
	}
	return true;
}

/*
 * claim_room
 *		How many runs the next claim may take: at most flowdb.claim_batch,
 *		up to four times flowdb.max_inflight held in all; 0 until there is
 *		room for a whole batch (or for flowdb.max_inflight runs, when that
 *		is less).  The claim is fair only among the owners one claim
 *		takes (as many as it has room for): a worker that claimed one or
 *		two runs each time one finished gave every place to the owner with
 *		the oldest backlog, and another owner's single run waited behind
 *		92 of its requests (018_fairness.pl).
 */
static int
claim_room(void)
{
	int			cap = flowdb_max_inflight * 4;
	int			room = Min(flowdb_claim_batch, cap - worker_nruns);

	if (room < Min(flowdb_claim_batch, flowdb_max_inflight))
		return 0;
	return room;
}

/*
 * claim_if_wanted
 *		Step 2b: claim as many runs as there is room for.  Only a claim that
 *		found fewer runs than it asked for, and no due run it could not
 *		lease, says the queue is drained; a worker holding all it may hold
 *		keeps wanting to claim, so that the runs still queued are claimed
 *		as soon as held runs finish (not at the next periodic scan, which
 *		left the in-flight slots empty for up to flowdb.scan_interval_ms
 *		behind every backlog).  Due runs locked by others (two workers
 *		claiming at once took the same candidates, and both went idle with
 *		half a batch each) are tried again after a wait that doubles from
 *		1 ms up to the scan interval while they stay locked (a client may
 *		hold its row locks for long).
 */
static void
claim_if_wanted(LoopState *ls)
{
	int			room = claim_room();
	int			claimed;
	bool		contended;

	if (!ls->want_claim || room <= 0 || worker_now_ms() < ls->claim_retry_at)
		return;
	claimed = store_claim_runs(room, &contended);
	if (claimed == room || (claimed > 0 && !contended))
		ls->claim_backoff_ms = 0;
	if (claimed < room && !contended)
		ls->want_claim = false;
	else if (claimed < room)
	{
		ls->claim_backoff_ms = Min(Max(ls->claim_backoff_ms * 2, 1),
								   flowdb_scan_interval_ms);
		ls->claim_retry_at = worker_now_ms() + ls->claim_backoff_ms;
	}
}

/*
 * advance_held_runs
 *		Step 4: advance the runs that asked for it, start queued requests
 *		and flush the last claim.  True when a run has results to commit
 *		(instant results loop back to the commit before waiting).
 */
static bool
advance_held_runs(double now, MemoryContext cxt)
{
	dlist_mutable_iter it;
	bool		changed = false;

	dlist_foreach_modify(it, &worker_runs)
	{
		WRun	   *w = dlist_container(WRun, node, it.cur);

		if (w->advance)
			advance_run_guarded(w, now, cxt);
		if (worker_needs_commit(w, now))
			changed = true;
	}
	dispatch_pump_queue();
	store_flush_claims();
	return changed;
}

/*
 * any_run_to_commit
 *		Does a held run still have results to commit now?
 */
static bool
any_run_to_commit(double now)
{
	dlist_iter	it;

	dlist_foreach(it, &worker_runs)
	{
		if (worker_needs_commit(dlist_container(WRun, node, it.cur), now))
			return true;
	}
	return false;
}

/*
 * wait_for_next_event
 *		Step 5: wait, at most until the next scan, curl timer, due node or
 *		paced request; then mark the runs that came due.
 */
static void
wait_for_next_event(LoopState *ls)
{
	long		timeout = (long) (ls->next_scan - worker_now_ms());
	long		ct = http_timeout(worker_multi);
	double		due = earliest_due();
	double		pace_wake_at = dispatch_pace_wake_at();
	double		log_at = earliest_start_log();

	/* this iteration's transactions: counted now, or a wake-up to force */
	report_table_stats(ls);
	if (ct >= 0 && ct < timeout)
		timeout = ct;
	if (due > 0 && (long) (due - worker_now_ms()) < timeout)
		timeout = (long) (due - worker_now_ms());
	/* "started" rows of requests in flight for STARTED_LOG_DELAY_MS */
	if (log_at > 0 && (long) ceil(log_at - worker_now_ms()) < timeout)
		timeout = (long) ceil(log_at - worker_now_ms());
	/* statistics left pending (report_table_stats) */
	if (ls->stats_due > 0 && (long) ceil(ls->stats_due - worker_now_ms()) < timeout)
		timeout = (long) ceil(ls->stats_due - worker_now_ms());
	/* a paced request's turn */
	if (pace_wake_at > 0 && (long) ceil(pace_wake_at - worker_now_ms()) < timeout)
		timeout = (long) ceil(pace_wake_at - worker_now_ms());
	/* a claim to make: now, or when a contended claim tries again */
	if (ls->want_claim && claim_room() > 0 &&
		(long) ceil(ls->claim_retry_at - worker_now_ms()) < timeout)
		timeout = (long) ceil(ls->claim_retry_at - worker_now_ms());
	if (timeout < 0 || http_has_done(worker_multi) || narrivals > 0)
		timeout = 0;
	/* a latch wake-up means a commit queued or changed runs */
	if (wait_for_work(timeout))
	{
		ls->want_claim = true;
		ls->claim_retry_at = 0;
	}
	/* held runs whose retry, delay or wait timeout came due */
	if (due > 0 && due <= worker_now_ms())
		mark_due_runs(worker_now_ms());
}

/*
 * worker_loop
 *		The main loop (see the file header), one named step after another.
 */
static void
worker_loop(void)
{
	LoopState	ls;

	ls.ready = false;
	ls.want_claim = true;
	ls.next_scan = 0;
	ls.claim_retry_at = 0;
	ls.claim_backoff_ms = 0;
	ls.stats_due = 0;
	ls.read_only_since = 0;
	ls.cxt = AllocSetContextCreate(TopMemoryContext, "flowdb worker loop",
								   ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		double		now;

		begin_iteration(&ls);
		if (!become_ready(&ls))
			continue;
		apply_completed_calls(ls.cxt);	/* 1. completed requests */
		dispatch_refill_slots();	/* their slots, before the commit waits */
		if (!periodic_scan(&ls))	/* 2. housekeeping and claim */
			continue;
		claim_if_wanted(&ls);
		take_arrivals();		/* answers that came in during the claim */
		store_commit_changes();		/* 3. results, before anything uses them */
		take_arrivals();		/* ... and during the commit */
		now = worker_now_ms();
		if (advance_held_runs(now, ls.cxt))	/* 4. advance, dispatch */
			continue;			/* commit before waiting */
		release_idle_runs(now);
		if (any_run_to_commit(now))
			continue;			/* results in the engine still to commit */
		wait_for_next_event(&ls);	/* 5. wait */
	}
}

/*
 * earliest_due
 *		Earliest due time (retry, delay, wait timeout) of the held runs,
 *		epoch ms; 0 when none.
 */
static double
earliest_due(void)
{
	dlist_iter	it;
	double		min = 0;

	dlist_foreach(it, &worker_runs)
	{
		WRun	   *w = dlist_container(WRun, node, it.cur);
		double		due;

		(void) engine_run_state(w->er, &due);
		/* a commit put off by a client's row lock is due too */
		if (w->dirty && w->busy_until > 0 && (due <= 0 || w->busy_until < due))
			due = w->busy_until;
		if (due > 0 && (min == 0 || due < min))
			min = due;
	}
	return min;
}

/*
 * mark_due_runs
 *		Ask the next loop to advance every held run with something due.
 */
static void
mark_due_runs(double now)
{
	dlist_iter	it;

	dlist_foreach(it, &worker_runs)
	{
		WRun	   *w = dlist_container(WRun, node, it.cur);
		double		due;

		(void) engine_run_state(w->er, &due);
		if (due > 0 && due <= now)
			w->advance = true;
	}
}

/*
 * wait_on_curl_set
 *		wait_for_work with curl's epoll set (fd): one wait set for the life
 *		of the worker (latch, postmaster, fd), then drive curl on whatever
 *		is ready.  True when the latch was set.
 */
static bool
wait_on_curl_set(int fd, long timeout_ms)
{
	static WaitEventSet *kept = NULL;
	static int	kept_fd = -1;
	WaitEvent	events[3];
	int			n;
	bool		latch = false;

	if (kept == NULL || kept_fd != fd)
	{
		if (kept != NULL)
			FreeWaitEventSet(kept);
		kept = CreateWaitEventSet(TopMemoryContext, 3);
		AddWaitEventToSet(kept, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
		AddWaitEventToSet(kept, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
		AddWaitEventToSet(kept, WL_SOCKET_READABLE, fd, NULL, NULL);
		kept_fd = fd;
	}
	n = WaitEventSetWait(kept, timeout_ms, events, lengthof(events),
						 PG_WAIT_EXTENSION);
	for (int i = 0; i < n; i++)
		if (events[i].events & WL_LATCH_SET)
			latch = true;
	http_poll(worker_multi);
	return latch;
}

/*
 * wait_on_sockets
 *		wait_for_work without an epoll set: a wait set of the latch, the
 *		postmaster and every socket of curl, built for this wait.  True
 *		when the latch was set.
 */
static bool
wait_on_sockets(long timeout_ms)
{
	WaitEventSet *set;
	HttpSocket *socks;
	int			nsocks = http_sockets(worker_multi, &socks);
	WaitEvent	events[64];
	int			fds[64];
	int			what[64];
	int			k = 0;
	int			n;
	bool		latch = false;

	set = CreateWaitEventSet(CurrentMemoryContext, 2 + nsocks);
	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (int i = 0; i < nsocks; i++)
	{
		uint32		ev = 0;

		if (socks[i].what & HTTP_EV_IN)
			ev |= WL_SOCKET_READABLE;
		if (socks[i].what & HTTP_EV_OUT)
			ev |= WL_SOCKET_WRITEABLE;
		AddWaitEventToSet(set, ev, socks[i].fd, NULL, NULL);
	}
	n = WaitEventSetWait(set, timeout_ms, events, lengthof(events),
						 PG_WAIT_EXTENSION);
	/* copy fds before curl changes its socket list */
	for (int i = 0; i < n; i++)
	{
		if (events[i].events & WL_LATCH_SET)
			latch = true;
		else if (events[i].events & (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE))
		{
			fds[k] = events[i].fd;
			what[k] = ((events[i].events & WL_SOCKET_READABLE) ? HTTP_EV_IN : 0) |
				((events[i].events & WL_SOCKET_WRITEABLE) ? HTTP_EV_OUT : 0);
			k++;
		}
	}
	FreeWaitEventSet(set);
	for (int i = 0; i < k; i++)
		http_socket_action(worker_multi, fds[i], what[i]);
	if (http_timeout(worker_multi) == 0)
		http_socket_action(worker_multi, -1, 0);
	return latch;
}

/*
 * wait_for_work
 *		Sleep on the latch, postmaster death and curl's sockets; drive curl
 *		on whatever became ready.  Returns true when the latch was set (a
 *		commit queued or changed runs).
 */
static bool
wait_for_work(long timeout_ms)
{
	int			fd = http_wait_fd(worker_multi);
	bool		latch;

	if (fd >= 0)
		latch = wait_on_curl_set(fd, timeout_ms);
	else
		latch = wait_on_sockets(timeout_ms);
	if (latch)
		ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	return latch;
}

/*
 * extension_ready
 *		Is the extension installed here (created and committed) at the
 *		library's version (version.c)?  Never during recovery and binary
 *		upgrade.  *installed (when not NULL): is it there at all?
 */
static bool
extension_ready(bool *installed)
{
	bool		ok;
	Oid			extoid;
	MemoryContext cxt = CurrentMemoryContext;

	if (installed)
		*installed = true;		/* idle, do not exit */
	if (RecoveryInProgress() || IsBinaryUpgrade)
		return false;
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	extoid = get_extension_oid("flowdb", true);
	ok = OidIsValid(extoid) &&
		OidIsValid(get_relname_relid("runs", get_namespace_oid("flowdb", true)));
	if (installed)
		*installed = ok;
	ok = ok && flowdb_extension_version_matches(extoid);
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	return ok;
}

/*
 * housekeeping
 *		Periodic: renew our leases, take back expired ones (and our own
 *		that clients held locked at start), fire schedules and prune old
 *		runs (the two last on worker 0 only; prune every
 *		flowdb.prune_interval).
 */
static void
housekeeping(double now)
{
	static double next_renew = 0;
	static double last_prune = 0;	/* 0: prune at start */

	if (now >= next_renew)
	{
		next_renew = now + flowdb_lease_seconds * 1000.0 / 3;
		if (worker_nruns > 0)
			store_renew_leases();
		store_recover_leases(false);
	}
	if (store_own_recovery_pending())
		store_recover_leases(true);
	if (flowdb_my_slot == 0)
	{
		/* schedule triggers: at most once per minute and workflow */
		store_fire_schedules();
	}
	/* measured from the last prune, so a reloaded interval applies at once */
	if (flowdb_my_slot == 0 &&
		(last_prune == 0 || now >= last_prune + flowdb_prune_interval * 1000.0))
	{
		if (store_prune())
			last_prune = now;
	}
}

/*
 * held_index
 *		held_by_id, made at first use (TopMemoryContext: it lives as long
 *		as the worker).
 */
static HTAB *
held_index(void)
{
	HASHCTL		ctl;

	if (held_by_id != NULL)
		return held_by_id;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = RUN_ID_KEYSIZE;
	ctl.entrysize = sizeof(HeldEntry);
	ctl.hcxt = TopMemoryContext;
	held_by_id = hash_create("flowdb held runs", 256, &ctl,
							 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	return held_by_id;
}

/*
 * worker_hold_run
 *		Add a claimed run to the held runs; it becomes the copy that
 *		worker_held_run finds for its id.
 */
void
worker_hold_run(WRun *w)
{
	HeldEntry  *e;

	if (strlen(w->er->run_id) >= RUN_ID_KEYSIZE)
		elog(ERROR, "flowdb: run id \"%s\" is too long", w->er->run_id);
	e = hash_search(held_index(), w->er->run_id, HASH_ENTER, NULL);
	e->run = w;
	dlist_push_tail(&worker_runs, &w->node);
	worker_nruns++;
}

/*
 * worker_held_run
 *		The latest copy of a held run (possibly lost), NULL when none.
 */
WRun *
worker_held_run(const char *run_id)
{
	HeldEntry  *e;

	if (strlen(run_id) >= RUN_ID_KEYSIZE)
		return NULL;
	e = hash_search(held_index(), run_id, HASH_FIND, NULL);
	return e ? e->run : NULL;
}

/*
 * free_run
 *		Forget a run (its state is committed or it was lost).
 */
static void
free_run(WRun *w)
{
	if (worker_held_run(w->er->run_id) == w)
		(void) hash_search(held_index(), w->er->run_id, HASH_REMOVE, NULL);
	dlist_delete(&w->node);
	worker_nruns--;
	engine_events_free(&w->events);
	map_parts_free(&w->parts);
	engine_run_free(w->er);
	cJSON_Delete(w->credentials);
	free(w);
}

/*
 * release_idle_runs
 *		Forget runs that are finished, lost or handed back.  A run that is
 *		idle (nothing in flight, nothing due within two seconds) is marked
 *		for a commit that releases its lease: its committed next_at says
 *		when a worker should look at it again, not this process.
 */
static void
release_idle_runs(double now)
{
	dlist_mutable_iter it;

	dlist_foreach_modify(it, &worker_runs)
	{
		WRun	   *w = dlist_container(WRun, node, it.cur);
		const char *dbstatus;
		double		next;

		if (w->inflight > 0 || w->dirty)
			continue;
		if (w->lost || w->released)
		{
			free_run(w);
			continue;
		}
		if (store_run_disposition(w, now, &dbstatus, &next))
			w->dirty = true;
	}
}
