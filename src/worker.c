/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The flowdb background worker: claim runs, drive them through the
 *	  engine, send their requests with curl multi, commit every result.
 *
 * Loop (one iteration):
 *	 1. pop completed transfers, apply them to their runs (engine);
 *	 2. commit all changed runs in ONE transaction: log rows, outbox rows
 *		and the runs' new state (durable before anything depends on it);
 *	 3. claim runnable runs (FOR UPDATE SKIP LOCKED, lease) when woken,
 *		when the scan timer fired or when the last claim was full;
 *	 4. advance changed runs: instant nodes resolve in memory, action
 *		nodes become requests (at most flowdb.max_inflight in flight);
 *	 5. wait on latch + postmaster death + curl sockets + timers.
 * No transaction is open while requests are in flight or while waiting.
 *
 * Crash safety: leases carry the worker's slot number and a token that is
 * new at every claim.  Commits and renewals match the token, so a copy of
 * a run from an older claim (canceled and retried meanwhile, or taken
 * back) can never write: it is dropped.  At start a worker takes back
 * every lease of its slot (its previous incarnation is dead), so
 * interrupted runs resume at once, counting the crash on each run; a run
 * that was in flight during flowdb.max_run_crashes crashes is failed.
 * Expired leases of other slots are taken back by the periodic scan.
 *
 * Isolation: an error while processing one run (template, size, tool,
 * out of memory) fails that run, not the worker.  Statements that lock
 * rows skip rows locked by clients (SKIP LOCKED) and give up on other
 * locks after FLOWDB_LOCK_TIMEOUT; the work is retried later.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "lib/ilist.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
#include "utils/wait_event.h"

#include "flowdb.h"
#include "catalog.h"
#include "condition.h"
#include "engine.h"
#include "http.h"
#include "pace.h"

/* lock_timeout of every worker transaction (ms, as text for SET LOCAL) */
#define FLOWDB_LOCK_TIMEOUT "1000"
/* a run whose row a client holds locked: try its commit again after (ms) */
#define BUSY_RETRY_MS 200
/* bytes of subject a run's "matches" conditions may scan in one step, as
 * a multiple of flowdb.max_regex_subject */
#define REGEX_BUDGET_SUBJECTS 4
/*
 * A request that went out is logged "started" with the next commit the
 * worker makes anyway; when none comes within this many ms (a slow
 * request), the started rows are committed on their own, asynchronously
 * and batched across runs (see needs_commit).
 */
#define STARTED_LOG_DELAY_MS 100
/* the longest back-off while flowdb.database_name does not exist (s) */
#define MISSING_DB_MAX_BACKOFF_S 60

/* a run held by this worker */
typedef struct WRun
{
	dlist_node	node;
	EngineRun  *er;
	char		owner[NAMEDATALEN * 2];
	cJSON	   *credentials;	/* {"<service>/<name>": secret}, malloc */
	EngineEvents events;		/* log rows not yet committed */
	char		token[40];		/* lease token of this claim */
	double		busy_until;		/* row locked by a client: commit after */
	double		unlogged_start; /* earliest "started" event not committed
								 * yet (0: none) */
	int			inflight;		/* requests queued or in flight */
	bool		dirty;			/* state changed since last commit */
	bool		advance;		/* engine_advance needed */
	bool		lost;			/* canceled or taken away: drop */
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

/* a sandboxed request recorded in flowdb.outbox */
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

static dlist_head runs = DLIST_STATIC_INIT(runs);
static dlist_head queue = DLIST_STATIC_INIT(queue);
static int	nruns = 0;
static HttpMulti *multi = NULL;
static WOutbox *outbox = NULL;
static int	noutbox = 0;
static int	capoutbox = 0;
static FlowdbWorkerSlot *myslot = NULL;
static int	service_inflight[64];	/* requests in flight per fdb_services[] index */
static Pace pacer;				/* request pace per service/owner/credential */
static double pace_wake_at = 0;	/* when a paced request may go (0: none) */
static double pace_swept_at = 0;

static SPIPlanPtr claim_plan = NULL;
static SPIPlanPtr commit_plan = NULL;

static void worker_loop(void);
static bool extension_ready(void);
static void recover_leases(bool at_start);
static bool locked_tx(void (*fn) (void *), void *arg, const char *what);
static bool needs_commit(WRun *w, double now);
static void fail_run_on_error(WRun *w, MemoryContext cxt, const char *what);
static void wait_for_database(void);
static int	claim_runs(int limit);
static void flush_claims(void);

/* end of the last claim's commit record, until flush_claims flushed it */
static XLogRecPtr claim_flush_lsn = InvalidXLogRecPtr;
static void claim_tx(void *arg);
static void commit_changes(void);
static void advance_run(WRun *w, double now);
static void start_call(WCall *c);
static void note_started(WCall *c);
static void enqueue_call(WCall *c);
static void pump_queue(void);
static void apply_response(WCall *c, HttpResponse *resp);
static void free_call(WCall *c);
static void release_idle_runs(double now);
static void free_run(WRun *w);
static bool run_disposition(WRun *w, double now, const char **dbstatus, double *next);
static bool service_has_credentials(const ToolService *svc);
static bool wait_for_work(long timeout_ms);
static double earliest_due(void);
static void mark_due_runs(double now);
static void housekeeping(double now);

/*
 * now_ms
 *		Current time as Unix epoch milliseconds.
 */
static double
now_ms(void)
{
	TimestampTz ts = GetCurrentTimestamp();

	return (double) ts / 1000.0 +
		((double) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000.0);
}

/*
 * worker_detach
 *		on_shmem_exit: clear our slot so nobody sets a stale latch.
 */
static void
worker_detach(int code, Datum arg)
{
	if (myslot)
		pg_atomic_write_u32(&myslot->pid, 0);
}

/*
 * flowdb_worker_main
 *		Entry point of each flowdb background worker.
 */
void
flowdb_worker_main(Datum arg)
{
	int			slot = DatumGetInt32(arg);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	flowdb_my_slot = slot;
	if (flowdb_shared && slot < FLOWDB_MAX_WORKERS)
		myslot = &flowdb_shared->slots[slot];

	/* the last start died connecting: wait for the database instead */
	if (myslot && pg_atomic_read_u32(&myslot->db_state) == FLOWDB_DB_CONNECTING)
		wait_for_database();
	if (myslot)
		pg_atomic_write_u32(&myslot->db_state, FLOWDB_DB_CONNECTING);
	BackgroundWorkerInitializeConnection(flowdb_database_name, NULL, 0);
	if (myslot)
		pg_atomic_write_u32(&myslot->db_state, FLOWDB_DB_OK);
	pgstat_report_appname("flowdb worker");

	if (myslot)
	{
		pg_atomic_write_u32(&myslot->procno, MyProc->pgprocno);
		pg_atomic_write_u32(&myslot->pid, (uint32) MyProcPid);
		on_shmem_exit(worker_detach, (Datum) 0);
	}

	engine_config.retry_base_ms = flowdb_retry_base_ms;
	multi = http_multi_create();
	if (multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("flowdb worker could not initialize libcurl")));

	worker_loop();
	proc_exit(1);
}

/*
 * wait_for_database
 *		The previous start of this worker died connecting to
 *		flowdb.database_name (PostgreSQL reports that as FATAL).  Connect
 *		to no database, say so once, and check again with an exponential
 *		back-off (1 s doubling up to MISSING_DB_MAX_BACKOFF_S) until the
 *		database exists; then exit so that the restarted worker connects.
 */
static void
wait_for_database(void)
{
	long		backoff_s = 1;
	bool		told = false;

	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("flowdb worker");
	for (;;)
	{
		bool		exists;

		CHECK_FOR_INTERRUPTS();
		StartTransactionCommand();
		exists = OidIsValid(get_database_oid(flowdb_database_name, true));
		CommitTransactionCommand();
		if (exists)
			break;
		if (!told)
		{
			ereport(WARNING,
					(errcode(ERRCODE_UNDEFINED_DATABASE),
					 errmsg("flowdb worker %d: database \"%s\" does not exist",
							flowdb_my_slot, flowdb_database_name),
					 errhint("Create the database, or set flowdb.database_name and restart the server. "
							 "The worker checks again with a back-off of up to %d s.",
							 MISSING_DB_MAX_BACKOFF_S)));
			told = true;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 backoff_s * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		backoff_s = Min(backoff_s * 2, MISSING_DB_MAX_BACKOFF_S);
	}
	ereport(LOG,
			(errmsg("flowdb worker %d: database \"%s\" exists now, restarting to connect",
					flowdb_my_slot, flowdb_database_name)));
	pg_atomic_write_u32(&myslot->db_state, FLOWDB_DB_FOUND);
	proc_exit(1);
}

/*
 * needs_commit
 *		Does the run have changes to commit now (not waiting for a
 *		client's row lock to go away)?  Results do at once; "started" log
 *		rows only once they waited STARTED_LOG_DELAY_MS for another commit
 *		to ride along with (has_unlogged_start).
 */
static bool
needs_commit(WRun *w, double now)
{
	if (w->busy_until > now)
		return false;
	return w->dirty ||
		(w->unlogged_start > 0 && now - w->unlogged_start >= STARTED_LOG_DELAY_MS);
}

/*
 * has_unlogged_start
 *		Does the run hold "started" log rows that may ride along with a
 *		commit being made anyway?
 */
static bool
has_unlogged_start(WRun *w, double now)
{
	return w->unlogged_start > 0 && w->busy_until <= now && !w->lost;
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

	dlist_foreach(it, &runs)
	{
		WRun	   *w = dlist_container(WRun, node, it.cur);

		if (w->unlogged_start > 0 && !w->lost &&
			(at == 0 || w->unlogged_start + STARTED_LOG_DELAY_MS < at))
			at = Max(w->unlogged_start + STARTED_LOG_DELAY_MS, w->busy_until);
	}
	return at;
}

/*
 * fail_run_on_error
 *		PG_CATCH half of the per-run isolation: an ERROR raised while
 *		processing one run (out of memory, an oversized value) fails that
 *		run with the error's message; the worker goes on.  Cancel requests
 *		are not a run's fault: they are rethrown.
 */
static void
fail_run_on_error(WRun *w, MemoryContext cxt, const char *what)
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
 *		apply_response; an error fails only the call's run.
 */
static void
apply_response_guarded(WCall *c, HttpResponse *resp, MemoryContext cxt)
{
	PG_TRY();
	{
		apply_response(c, resp);
	}
	PG_CATCH();
	{
		fail_run_on_error(c->run, cxt, "apply a response to");
	}
	PG_END_TRY();
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
		advance_run(w, now);
	}
	PG_CATCH();
	{
		fail_run_on_error(w, cxt, "advance");
	}
	PG_END_TRY();
}

/*
 * worker_loop
 *		The main loop (see the file header).
 */
static void
worker_loop(void)
{
	bool		ready = false;
	bool		want_claim = true;
	double		next_scan = 0;
	MemoryContext loop_cxt = AllocSetContextCreate(TopMemoryContext,
												   "flowdb worker loop",
												   ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		double		now;
		long		timeout;
		HttpResponse resp;
		WCall	   *done;

		CHECK_FOR_INTERRUPTS();
		flowdb_worker_heartbeat();
		MemoryContextReset(loop_cxt);
		MemoryContextSwitchTo(loop_cxt);

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			engine_config.retry_base_ms = flowdb_retry_base_ms;
		}

		if (!ready)
		{
			ready = extension_ready();
			if (!ready)
			{
				wait_for_work(1000);
				continue;
			}
			recover_leases(true);
			want_claim = true;
		}

		/* 1. completed requests; an error fails only that run */
		while ((done = http_next_done(multi, &resp)) != NULL)
		{
			apply_response_guarded(done, &resp, loop_cxt);
			http_response_free(&resp);
			free_call(done);
		}

		/* 2. commit results before anything depends on them */
		commit_changes();

		now = now_ms();
		/* 3. claim */
		if (now >= next_scan)
		{
			want_claim = true;
			next_scan = now + flowdb_scan_interval_ms;
			housekeeping(now);
			if (!extension_ready())
			{
				ready = false;
				continue;
			}
		}
		if (want_claim)
		{
			int			room = Min(flowdb_claim_batch,
								   flowdb_max_inflight * 4 - nruns);

			want_claim = false;
			if (room > 0 && claim_runs(room) == room)
				want_claim = true;	/* there may be more */
		}

		/* 4. advance runs; instant results loop back to commit first */
		{
			dlist_mutable_iter it;
			bool		changed = false;

			now = now_ms();
			dlist_foreach_modify(it, &runs)
			{
				WRun	   *w = dlist_container(WRun, node, it.cur);

				if (w->advance)
					advance_run_guarded(w, now, loop_cxt);
				if (needs_commit(w, now))
					changed = true;
			}
			pump_queue();
			flush_claims();
			if (changed)
				continue;		/* commit before waiting */
		}

		release_idle_runs(now);
		if (dlist_is_empty(&runs) == false)
		{
			/* runs with results in the engine still need a commit */
			dlist_iter	it;
			bool		dirty = false;

			dlist_foreach(it, &runs)
			{
				if (needs_commit(dlist_container(WRun, node, it.cur), now))
					dirty = true;
			}
			if (dirty)
				continue;
		}

		/* 5. wait, at most until the next scan, curl timer or due node */
		timeout = (long) (next_scan - now_ms());
		{
			long		ct = http_timeout(multi);
			double		due = earliest_due();
			double		log_at = earliest_start_log();

			if (ct >= 0 && ct < timeout)
				timeout = ct;
			if (due > 0 && (long) (due - now_ms()) < timeout)
				timeout = (long) (due - now_ms());
			/* "started" rows that found no commit to ride along with */
			if (log_at > 0 && (long) ceil(log_at - now_ms()) < timeout)
				timeout = (long) ceil(log_at - now_ms());
			/* a paced request's turn */
			if (pace_wake_at > 0 && (long) ceil(pace_wake_at - now_ms()) < timeout)
				timeout = (long) ceil(pace_wake_at - now_ms());
			if (timeout < 0 || want_claim || http_has_done(multi))
				timeout = 0;
			/* a latch wake-up means a commit queued or changed runs */
			if (wait_for_work(timeout))
				want_claim = true;
			/* held runs whose retry, delay or wait timeout came due */
			if (due > 0 && due <= now_ms())
				mark_due_runs(now_ms());
		}
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

	dlist_foreach(it, &runs)
	{
		WRun	   *w = dlist_container(WRun, node, it.cur);
		double		due;

		(void) engine_run_status(w->er, &due);
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

	dlist_foreach(it, &runs)
	{
		WRun	   *w = dlist_container(WRun, node, it.cur);
		double		due;

		(void) engine_run_status(w->er, &due);
		if (due > 0 && due <= now)
			w->advance = true;
	}
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
	WaitEventSet *set;
	HttpSocket *socks;
	int			nsocks = http_sockets(multi, &socks);
	WaitEvent	events[64];
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
	{
		int			fds[64];
		int			what[64];
		int			k = 0;

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
			http_socket_action(multi, fds[i], what[i]);
	}
	if (http_timeout(multi) == 0)
		http_socket_action(multi, -1, 0);
	if (latch)
		ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	return latch;
}

/*
 * extension_ready
 *		The worker idles while the extension is absent or being created,
 *		during recovery and binary upgrade.
 */
static bool
extension_ready(void)
{
	bool		ok;
	MemoryContext cxt = CurrentMemoryContext;

	if (RecoveryInProgress() || IsBinaryUpgrade)
		return false;
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	ok = OidIsValid(get_extension_oid("flowdb", true)) &&
		OidIsValid(get_relname_relid("runs", get_namespace_oid("flowdb", true)));
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	return ok;
}

/*
 * spi_begin / spi_end
 *		One short transaction around SPI work.
 */
static MemoryContext spi_caller_cxt = NULL;

static void
spi_begin(const char *activity)
{
	spi_caller_cxt = CurrentMemoryContext;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
	/* a client holding a lock must not stall the worker (see locked_tx) */
	(void) set_config_option("lock_timeout", FLOWDB_LOCK_TIMEOUT, PGC_SUSET,
							 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
}

static void
spi_end(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	/* commit leaves us in TopMemoryContext: go back to the loop's context */
	MemoryContextSwitchTo(spi_caller_cxt);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* what guarded_tx saw */
typedef enum TxResult
{
	TX_OK,						/* committed */
	TX_LOCKED,					/* a lock timeout: rolled back, try later */
	TX_FAILED					/* another error (only with failure != NULL) */
} TxResult;

/*
 * guarded_tx
 *		Run fn (one spi_begin/spi_end transaction) and survive a lock
 *		timeout: the transaction is rolled back and a LOG line says what
 *		waited.  With failure != NULL any other ERROR is survived too (its
 *		message goes to *failure, palloc'd); without, it is rethrown.
 *		Cancels and worse are always rethrown.
 */
static TxResult
guarded_tx(void (*fn) (void *), void *arg, const char *what, char **failure)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile TxResult result = TX_OK;

	PG_TRY();
	{
		fn(arg);
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		if (ed->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE &&
			(failure == NULL || ed->sqlerrcode == ERRCODE_QUERY_CANCELED ||
			 ed->elevel > ERROR))
		{
			FreeErrorData(ed);
			PG_RE_THROW();
		}
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(cxt);
		pgstat_report_activity(STATE_IDLE, NULL);
		if (ed->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
		{
			ereport(LOG,
					(errmsg("flowdb worker %d: %s waited too long for a lock, will try again",
							flowdb_my_slot, what),
					 errdetail_internal("%s", ed->message)));
			result = TX_LOCKED;
		}
		else
		{
			*failure = pstrdup(ed->message);
			result = TX_FAILED;
		}
		FreeErrorData(ed);
	}
	PG_END_TRY();
	return result;
}

/*
 * locked_tx
 *		guarded_tx rethrowing every error but a lock timeout; true when
 *		fn committed.
 */
static bool
locked_tx(void (*fn) (void *), void *arg, const char *what)
{
	return guarded_tx(fn, arg, what, NULL) == TX_OK;
}

/*
 * keep_plan
 *		Keep a prepared statement for the life of the worker.
 */
static SPIPlanPtr
keep_plan(SPIPlanPtr p, const char *what)
{
	if (p == NULL || SPI_keepplan(p) != 0)
		elog(ERROR, "flowdb: could not prepare the %s statement: %d", what, SPI_result);
	return p;
}

/*
 * held_tokens
 *		uuid[] of the lease tokens of the runs this worker holds.
 */
static Datum
held_tokens(void)
{
	dlist_iter	it;
	Datum	   *d = palloc(sizeof(Datum) * Max(nruns, 1));
	int			n = 0;
	int			dims[1];
	int			lbs[1] = {1};

	dlist_foreach(it, &runs)
	{
		WRun	   *w = dlist_container(WRun, node, it.cur);

		if (!w->lost && w->token[0] != '\0')
			d[n++] = DirectFunctionCall1(uuid_in, CStringGetDatum(w->token));
	}
	dims[0] = n;
	return PointerGetDatum(construct_md_array(d, NULL, 1, dims, lbs, UUIDOID,
											  UUID_LEN, false, TYPALIGN_CHAR));
}

/* recover_leases: is our own slot's recovery still to do (rows skipped)? */
static bool own_recovery_pending = true;

/*
 * recover_leases_tx
 *		The transaction of recover_leases; arg points to at_start.
 *		at_start: take back our slot's leases (and those of slots beyond
 *		flowdb.workers) except the runs we hold now.  Otherwise: expired
 *		leases of other workers.  Each run taken back counts a crash; at
 *		flowdb.max_run_crashes it is failed instead.  A run taken back
 *		is due from its creation time, so the claim resumes it ahead of
 *		the runs its owner queued after it (now() would put it behind
 *		the owner's whole backlog).  Rows locked by clients are skipped
 *		(at start: tried again later).
 */
static void
recover_leases_tx(void *arg)
{
	bool		at_start = *(bool *) arg;
	Datum		args[4];
	Oid			types[4] = {INT4OID, INT4OID, INT4OID, UUIDARRAYOID};
	char	   *sql;
	int			ret;
	uint64		failed = 0;

	spi_begin("flowdb: recover leases");
	args[0] = Int32GetDatum(flowdb_my_slot);
	args[1] = Int32GetDatum(flowdb_workers);
	args[2] = Int32GetDatum(flowdb_max_run_crashes);
	args[3] = held_tokens();
	sql = psprintf("WITH c AS MATERIALIZED ("
				   "  SELECT id FROM flowdb.runs "
				   "  WHERE lease_owner IS NOT NULL AND %s "
				   "  FOR UPDATE SKIP LOCKED) "
				   "UPDATE flowdb.runs r SET lease_owner = NULL, lease_until = NULL, "
				   "  lease_token = NULL, crashes = r.crashes + 1, updated_at = now(), "
				   "  next_at = CASE WHEN r.crashes + 1 >= $3 THEN 'infinity' ELSE r.created_at END, "
				   "  status = CASE WHEN r.crashes + 1 >= $3 THEN 'failed' ELSE r.status END, "
				   "  finished_at = CASE WHEN r.crashes + 1 >= $3 THEN now() ELSE r.finished_at END, "
				   "  error = CASE WHEN r.crashes + 1 >= $3 "
				   "    THEN format('worker crashed %%s times while running this run', r.crashes + 1) "
				   "    ELSE r.error END "
				   "FROM c WHERE r.id = c.id "
				   "RETURNING r.status = 'failed'",
				   at_start ?
				   "(lease_owner = $1 OR lease_owner >= $2) "
				   "AND (lease_token IS NULL OR lease_token <> ALL ($4))" :
				   "lease_owner <> $1 AND lease_until < now() AND $2 > 0");
	ret = SPI_execute_with_args(sql, 4, types, args, NULL, false, 0);
	if (ret != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "flowdb: lease recovery failed: %d", ret);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull)))
			failed++;
	}
	if (SPI_processed > failed)
		ereport(LOG,
				(errmsg("flowdb worker %d took back %llu interrupted run(s)",
						flowdb_my_slot, (unsigned long long) (SPI_processed - failed))));
	if (failed > 0)
		ereport(LOG,
				(errmsg("flowdb worker %d failed %llu run(s) in flight during %d worker crashes",
						flowdb_my_slot, (unsigned long long) failed, flowdb_max_run_crashes)));
	if (at_start)
	{
		/* rows a client held locked are still ours to take back */
		ret = SPI_execute_with_args("SELECT 1 FROM flowdb.runs "
									"WHERE lease_owner IS NOT NULL "
									"AND (lease_owner = $1 OR lease_owner >= $2) "
									"AND (lease_token IS NULL OR lease_token <> ALL ($4)) "
									"LIMIT 1",
									4, types, args, NULL, true, 1);
		own_recovery_pending = (ret == SPI_OK_SELECT && SPI_processed > 0);
	}
	spi_end();
}

/*
 * recover_leases
 *		Take back interrupted runs (see recover_leases_tx); a lock timeout
 *		leaves it for the next scan.
 */
static void
recover_leases(bool at_start)
{
	bool		arg = at_start;

	(void) locked_tx(recover_leases_tx, &arg, "lease recovery");
}

/*
 * renew_leases_tx
 *		Extend the leases of the runs we hold (matched by token; rows a
 *		client holds locked are renewed next time).
 */
static void
renew_leases_tx(void *arg)
{
	Datum		args[3];
	Oid			types[3] = {INT4OID, INT4OID, UUIDARRAYOID};

	spi_begin("flowdb: renew leases");
	args[0] = Int32GetDatum(flowdb_my_slot);
	args[1] = Int32GetDatum(flowdb_lease_seconds);
	args[2] = held_tokens();
	SPI_execute_with_args("UPDATE flowdb.runs SET lease_until = now() + make_interval(secs => $2) "
						  "WHERE id IN (SELECT id FROM flowdb.runs "
						  "  WHERE lease_owner = $1 AND lease_token = ANY ($3) "
						  "  FOR UPDATE SKIP LOCKED)",
						  3, types, args, NULL, false, 0);
	spi_end();
}

/*
 * sql_tx
 *		A transaction running one statement (arg: the SQL text).
 */
static void
sql_tx(void *arg)
{
	const char *sql = arg;

	spi_begin(sql);
	if (SPI_execute(sql, false, 0) < 0)
		elog(ERROR, "flowdb: %s failed", sql);
	spi_end();
}

/*
 * housekeeping
 *		Periodic: renew our leases, take back expired ones, prune old runs.
 */
static void
housekeeping(double now)
{
	static double next_renew = 0;
	static double next_prune = 0;

	if (now >= next_renew)
	{
		next_renew = now + flowdb_lease_seconds * 1000.0 / 3;
		if (nruns > 0)
			(void) locked_tx(renew_leases_tx, NULL, "lease renewal");
		recover_leases(false);
	}
	if (own_recovery_pending)
		recover_leases(true);
	if (flowdb_my_slot == 0)
	{
		/* schedule triggers: at most once per minute and workflow */
		(void) locked_tx(sql_tx, "SELECT flowdb.fire_schedules()", "firing schedules");
	}
	if (now >= next_prune && flowdb_my_slot == 0)
	{
		if (locked_tx(sql_tx, "SELECT flowdb.prune()", "pruning"))
			next_prune = now + 3600 * 1000.0;
	}
}

/*
 * text_datum_or_null
 *		Helper for building SPI argument arrays.
 */
static Datum
text_array(char **vals, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};

	for (int i = 0; i < n; i++)
	{
		nulls[i] = (vals[i] == NULL);
		d[i] = vals[i] ? CStringGetTextDatum(vals[i]) : (Datum) 0;
	}
	return PointerGetDatum(construct_md_array(d, nulls, 1, dims, lbs,
											  TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * float_array
 *		float8[] from doubles; NaN means NULL.
 */
static Datum
float_array(double *vals, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};

	for (int i = 0; i < n; i++)
	{
		nulls[i] = isnan(vals[i]);
		d[i] = Float8GetDatum(nulls[i] ? 0 : vals[i]);
	}
	return PointerGetDatum(construct_md_array(d, nulls, 1, dims, lbs,
											  FLOAT8OID, 8, FLOAT8PASSBYVAL,
											  TYPALIGN_DOUBLE));
}

/*
 * load_credentials
 *		Resolve, inside the claim transaction, every credential the run's
 *		action nodes may use: {"service/name": secret}.  Named credentials
 *		("credential": "shop") or the owner's "default" for the service.
 */
static cJSON *
load_credentials(const char *owner, const cJSON *bp)
{
	cJSON	   *creds = cJSON_CreateObject();
	const cJSON *node;
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};

	if (!OidIsValid(get_relname_relid("credentials", get_namespace_oid("flowdb", true))))
		return creds;
	cJSON_ArrayForEach(node, cJSON_GetObjectItemCaseSensitive(bp, "nodes"))
	{
		const char *svc = fdb_json_str(node, "service");
		const ToolService *tool = svc ? catalog_service(svc) : NULL;
		const char *name = fdb_json_str(node, "credential");
		char		key[256];
		Datum		args[3];
		int			ret;

		/* services that take no credential (http) need no lookup */
		if (tool == NULL || !service_has_credentials(tool))
			continue;
		if (name == NULL)
			name = "default";
		snprintf(key, sizeof(key), "%s/%s", svc, name);
		if (cJSON_HasObjectItem(creds, key))
			continue;
		args[0] = CStringGetTextDatum(owner);
		args[1] = CStringGetTextDatum(svc);
		args[2] = CStringGetTextDatum(name);
		ret = SPI_execute_with_args("SELECT flowdb.credential_secret($1, $2, $3)::text",
									3, types, args, NULL, true, 1);
		if (ret == SPI_OK_SELECT && SPI_processed == 1)
		{
			char	   *txt = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
			cJSON	   *secret = txt ? cJSON_Parse(txt) : NULL;

			if (secret)
				cJSON_AddItemToObject(creds, key, secret);
		}
	}
	return creds;
}

/*
 * drop_old_copy
 *		A run we claim again (canceled and retried while its requests were
 *		in flight) may still be held from its previous claim: that copy is
 *		dropped with its in-flight results; only the new claim may write.
 */
static void
drop_old_copy(const char *run_id)
{
	dlist_iter	it;

	dlist_foreach(it, &runs)
	{
		WRun	   *w = dlist_container(WRun, node, it.cur);

		if (!w->lost && strcmp(w->er->run_id, run_id) == 0)
		{
			ereport(LOG,
					(errmsg("flowdb worker %d: run %s was claimed again, dropping its previous copy",
							flowdb_my_slot, run_id)));
			w->lost = true;
			w->dirty = false;
			w->advance = false;
			engine_events_clear(&w->events);
		}
	}
}

/* claim_tx's argument and result */
typedef struct ClaimArgs
{
	int			limit;
	int			claimed;
} ClaimArgs;

/*
 * FAIR_CLAIM_SQL: the ids of up to $3 due runs, taken round-robin across
 * owners so that one owner's backlog cannot starve another owner's run.
 *	owners: every owner with an unfinished run (a loose index scan of
 *		runs_owner_due: one index descent per owner, not per run);
 *	due: the $3 owners whose oldest due run has waited longest;
 *		(the tiebreak on id matches runs_owner_due (owner, next_at, id), which
 *		only that index can serve: with next_at alone a generic plan walks
 *		runs_due past every other owner's runs, 20 ms and more per claim
 *		under a backlog; the owners' terminal NULL row is skipped, it would
 *		scan everything);
 *	picked: up to $3 oldest due runs of each (index reads only), numbered
 *		per owner;
 *		(LIMIT (SELECT $3): an unknown limit keeps the planner on the
 *		ordered index scan instead of sorting a whole backlog);
 *	then the first run of every owner, the second of every owner, ...,
 *	each locked with SKIP LOCKED as the LIMIT reaches it (only the rows
 *	taken are locked; the due condition is checked on the locked version).
 */
#define FAIR_CLAIM_SQL \
	"WITH RECURSIVE owners(owner) AS (" \
	"  (SELECT o.owner FROM flowdb.runs o " \
	"   WHERE o.status IN ('queued', 'running', 'waiting') " \
	"   ORDER BY o.owner LIMIT 1) " \
	"  UNION ALL " \
	"  SELECT (SELECT o.owner FROM flowdb.runs o " \
	"          WHERE o.status IN ('queued', 'running', 'waiting') AND o.owner > p.owner " \
	"          ORDER BY o.owner LIMIT 1) " \
	"  FROM owners p WHERE p.owner IS NOT NULL), " \
	"due AS (" \
	"  SELECT p.owner, f.first FROM owners p, " \
	"  LATERAL (SELECT x.next_at AS first FROM flowdb.runs x " \
	"           WHERE x.owner = p.owner AND x.status IN ('queued', 'running', 'waiting') " \
	"             AND x.next_at <= clock_timestamp() " \
	"           ORDER BY x.next_at, x.id LIMIT 1) f " \
	"  WHERE p.owner IS NOT NULL " \
	"  ORDER BY f.first LIMIT $3), " \
	"picked AS (" \
	"  SELECT c.id, c.next_at, " \
	"         row_number() OVER (PARTITION BY d.owner ORDER BY c.next_at) AS turn " \
	"  FROM due d, " \
	"  LATERAL (SELECT x.id, x.next_at FROM flowdb.runs x " \
	"           WHERE x.owner = d.owner AND x.status IN ('queued', 'running', 'waiting') " \
	"             AND x.next_at <= clock_timestamp() " \
	"           ORDER BY x.next_at, x.id LIMIT (SELECT $3)) c) " \
	"SELECT l.id FROM (SELECT * FROM picked ORDER BY turn, next_at) k, " \
	"LATERAL (SELECT r.id FROM flowdb.runs r " \
	"         WHERE r.id = k.id AND r.status IN ('queued', 'running', 'waiting') " \
	"           AND r.next_at <= clock_timestamp() " \
	"         FOR UPDATE SKIP LOCKED) l " \
	"LIMIT $3"

/*
 * claim_runs
 *		Lease up to limit runnable runs; returns how many were claimed
 *		(0 when the claim waited too long for a lock).
 */
static int
claim_runs(int limit)
{
	ClaimArgs	a;

	a.limit = limit;
	a.claimed = 0;
	if (!locked_tx(claim_tx, &a, "claim"))
		return 0;
	if (a.claimed > 0)
		claim_flush_lsn = XactLastCommitEnd;
	return a.claimed;
}

/*
 * flush_claims
 *		Make the last claim durable once its first requests are out.  The
 *		claim commits without waiting for its WAL flush, so that a claimed
 *		run's request leaves at once; flushing here, before any response is
 *		handled, means a crash while a response is processed always finds
 *		the lease and counts it (flowdb.max_run_crashes).  A crash before
 *		this flush loses the claim: the run is claimed again as queued and
 *		its request sent again with the same Idempotency-Key.
 */
static void
flush_claims(void)
{
	if (XLogRecPtrIsInvalid(claim_flush_lsn))
		return;
	XLogFlush(claim_flush_lsn);
	claim_flush_lsn = InvalidXLogRecPtr;
}

/*
 * claim_tx
 *		The claim transaction: lease runs with a new token each and load
 *		them with their credentials.
 */
static void
claim_tx(void *arg)
{
	ClaimArgs  *a = arg;
	int			limit = a->limit;
	Datum		args[3];
	Oid			types[3] = {INT4OID, INT4OID, INT4OID};
	int			ret;
	uint64		n;
	SPITupleTable *claimed;

	spi_begin("flowdb: claim");
	/* no WAL flush wait here: flush_claims flushes once requests are out */
	(void) set_config_option("synchronous_commit", "off", PGC_SUSET,
							 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
	if (claim_plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(
									"UPDATE flowdb.runs r SET lease_owner = $1, "
									"  lease_until = now() + make_interval(secs => $2), "
									"  lease_token = gen_random_uuid(), "
									"  next_at = 'infinity', status = 'running', "
									"  started_at = coalesce(r.started_at, now()), updated_at = now() "
									"FROM (" FAIR_CLAIM_SQL ") c "
									"WHERE r.id = c.id "
									"RETURNING r.id::text, coalesce(r.workflow_id::text, ''), r.owner, "
									"  r.blueprint::text, r.payload::text, r.state::text, "
									"  r.lease_token::text",
									3, types);

		claim_plan = keep_plan(p, "claim");
	}
	args[0] = Int32GetDatum(flowdb_my_slot);
	args[1] = Int32GetDatum(flowdb_lease_seconds);
	args[2] = Int32GetDatum(limit);
	ret = SPI_execute_plan(claim_plan, args, NULL, false, 0);
	if (ret != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "flowdb: claim failed: %d", ret);
	n = SPI_processed;
	/* load_credentials runs queries: keep the claim's own result */
	claimed = SPI_tuptable;
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = claimed->vals[i];
		TupleDesc	desc = claimed->tupdesc;
		char	   *id = SPI_getvalue(tup, desc, 1);
		char	   *wf = SPI_getvalue(tup, desc, 2);
		char	   *owner = SPI_getvalue(tup, desc, 3);
		cJSON	   *bp = cJSON_Parse(SPI_getvalue(tup, desc, 4));
		cJSON	   *payload = cJSON_Parse(SPI_getvalue(tup, desc, 5));
		cJSON	   *state = cJSON_Parse(SPI_getvalue(tup, desc, 6));
		WRun	   *w = calloc(1, sizeof(WRun));

		if (w == NULL)
			elog(ERROR, "out of memory");
		drop_old_copy(id);
		snprintf(w->token, sizeof(w->token), "%s", SPI_getvalue(tup, desc, 7));
		w->er = engine_run_new(id, wf, bp ? bp : cJSON_CreateObject(), payload, state);
		snprintf(w->owner, sizeof(w->owner), "%s", owner);
		engine_events_init(&w->events);
		engine_recover(w->er);
		w->credentials = load_credentials(owner, w->er->bp);
		w->advance = true;
		if (bp == NULL || payload == NULL || state == NULL)
		{
			engine_fail_run(w->er, "the run's blueprint, payload or state could not be parsed");
			w->dirty = true;
		}
		dlist_push_tail(&runs, &w->node);
		nruns++;
	}
	spi_end();
	if (myslot)
		pg_atomic_fetch_add_u64(&myslot->claimed, n);
	a->claimed = (int) n;
}

/*
 * event_json
 *		JSON text of an event's input/output (NULL stays NULL).
 */
static char *
json_text(const cJSON *v)
{
	char	   *s;
	char	   *p;

	if (v == NULL)
		return NULL;
	s = fdb_json_print(v);
	if (s == NULL)
		elog(ERROR, "out of memory");
	p = pstrdup(s);
	free(s);
	return p;
}

/*
 * run_disposition
 *		What to write for a run: its status in flowdb.runs and, when the
 *		lease is to be released (returns true), when to look at it again
 *		(*next, epoch ms; NaN = never by itself).
 */
static bool
run_disposition(WRun *w, double now, const char **dbstatus, double *next)
{
	double		due;
	const char *st = engine_run_status(w->er, &due);

	*next = NAN;
	if (strcmp(st, "succeeded") == 0 || strcmp(st, "failed") == 0)
	{
		*dbstatus = st;
		return w->inflight == 0;
	}
	*dbstatus = "running";
	if (w->inflight > 0 || strcmp(st, "running") == 0)
		return false;
	if (due > 0 && due - now < 2000 && !engine_waiting_for_event(w->er))
		return false;			/* soon: keep it */
	if (strcmp(st, "waiting") == 0)
		*dbstatus = "waiting";
	*next = due > 0 ? due : NAN;
	return true;
}

/* text columns of the commit statement, in parameter order */
enum
{
	R_ID, R_STATE, R_STATUS, R_ERROR, R_LEASE, R_NCOLS,	/* $1..$5 */
	R_TOKEN = R_NCOLS			/* $26, after the others */
};
enum
{
	L_RUN, L_NODE, L_STATUS, L_INPUT, L_OUTPUT, L_ERROR, L_ATTEMPT, L_NCOLS	/* $8..$14 */
};
enum
{
	O_RUN, O_NODE, O_SVC, O_TASK, O_METHOD, O_URL, O_HEADERS, O_BODY, O_NCOLS	/* $18..$25 */
};

/*
 * alloc_columns
 *		ncols arrays of nrows strings (NULL = SQL NULL), in the loop context.
 */
static char ***
alloc_columns(int ncols, int nrows)
{
	char	 ***cols = palloc(sizeof(char **) * ncols);

	for (int i = 0; i < ncols; i++)
		cols[i] = palloc0(sizeof(char *) * Max(nrows, 1));
	return cols;
}

/* the commit statement's inputs, built by commit_changes */
typedef struct CommitBatch
{
	int			nr;				/* runs */
	int			nl;				/* log rows */
	int			no;				/* outbox rows */
	WRun	  **runs;			/* the runs, in row order */
	char	 ***r;
	char	 ***l;
	char	 ***o;
	double	   *r_next;
	double	   *l_start;
	double	   *l_end;
	char	   *outcome;		/* per run: 'w' written, 'b' busy, 'l' lost */
	bool		async;			/* only "started" rows: no WAL flush wait */
} CommitBatch;

/*
 * serialize_state
 *		The run's state as JSON text for the commit.  A state larger than
 *		flowdb.max_state_bytes, or one that cannot be serialized (out of
 *		memory), fails the run with its outputs dropped.
 */
static char *
serialize_state(WRun *w, MemoryContext cxt)
{
	char	   *volatile text = NULL;

	PG_TRY();
	{
		text = json_text(w->er->state);
	}
	PG_CATCH();
	{
		fail_run_on_error(w, cxt, "store the state of");
		text = NULL;
	}
	PG_END_TRY();
	if (text == NULL || strlen(text) > (size_t) flowdb_max_state_bytes)
	{
		char	   *msg = psprintf("the run's state is larger than %d bytes (flowdb.max_state_bytes)",
								   flowdb_max_state_bytes);

		if (text != NULL)
			engine_fail_oversized(w->er, msg);
		text = json_text(w->er->state);
	}
	return text;
}

/*
 * commit_tx
 *		The commit transaction (arg: the CommitBatch).  Rows a client holds
 *		locked are skipped (outcome 'b'); rows whose lease token is not
 *		this claim's any more, or that were canceled or finished meanwhile,
 *		are not written (outcome 'l').
 */
static void
commit_tx(void *arg)
{
	CommitBatch *b = arg;
	Datum		args[26];
	Oid			types[26];
	int			ret;

	spi_begin("flowdb: commit results");
	/* "started" rows alone need not be durable (a crash re-sends anyway) */
	if (b->async)
		(void) set_config_option("synchronous_commit", "off", PGC_SUSET,
								 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
	if (commit_plan == NULL)
	{
		SPIPlanPtr	p;

		for (int i = 0; i < 26; i++)
			types[i] = TEXTARRAYOID;
		types[5] = FLOAT8ARRAYOID;
		types[6] = INT4OID;
		types[14] = FLOAT8ARRAYOID;
		types[15] = FLOAT8ARRAYOID;
		types[16] = BOOLOID;
		p = SPI_prepare(
						"WITH x AS ("
						"  SELECT * FROM unnest($1::uuid[], $2::jsonb[], $3, $4, $5, $6, $26::uuid[]) "
						"    WITH ORDINALITY AS x(id, state, status, error, lease, next_ms, token, ord)), "
						"k AS MATERIALIZED ("
						"  SELECT r.id FROM flowdb.runs r WHERE r.id IN (SELECT x.id FROM x) "
						"  FOR UPDATE SKIP LOCKED), "
						"u AS ("
						"  UPDATE flowdb.runs r SET state = x.state, status = x.status, error = x.error, "
						"    next_at = CASE WHEN x.lease IS NOT NULL OR x.next_ms IS NULL "
						"                   THEN 'infinity'::timestamptz "
						"                   ELSE to_timestamp(x.next_ms / 1000.0) END, "
						"    lease_owner = CASE WHEN x.lease IS NULL THEN NULL ELSE r.lease_owner END, "
						"    lease_until = CASE WHEN x.lease IS NULL THEN NULL ELSE r.lease_until END, "
						"    lease_token = CASE WHEN x.lease IS NULL THEN NULL ELSE r.lease_token END, "
						"    finished_at = CASE WHEN x.status IN ('succeeded', 'failed') THEN now() END, "
						"    updated_at = now() "
						"  FROM x JOIN k ON k.id = x.id "
						"  WHERE r.id = x.id AND r.lease_owner = $7 AND r.lease_token = x.token "
						"    AND r.status NOT IN ('canceled', 'succeeded', 'failed') "
						"  RETURNING r.id, r.owner, r.status), "
						"l AS ("
						"  INSERT INTO flowdb.workflow_logs (run_id, owner, node_id, status, attempt, "
						"    input, output, error, started_at, finished_at, duration_ms) "
						"  SELECT y.run_id, u.owner, y.node_id, y.status, y.attempt::int, y.input::jsonb, "
						"    y.output::jsonb, y.error, to_timestamp(y.s / 1000.0), "
						"    CASE WHEN y.status <> 'started' THEN to_timestamp(y.e / 1000.0) END, "
						"    CASE WHEN y.status <> 'started' THEN y.e - y.s END "
						"  FROM unnest($8::uuid[], $9, $10, $11, $12, $13, $14, $15, $16) "
						"    WITH ORDINALITY AS y(run_id, node_id, status, input, output, error, attempt, s, e, ord) "
						"  JOIN u ON u.id = y.run_id ORDER BY y.ord), "
						"o AS ("
						"  INSERT INTO flowdb.outbox (run_id, owner, node_id, service, task, method, url, "
						"    headers, body) "
						"  SELECT z.run_id, u.owner, z.node_id, z.svc, z.task, z.method, z.url, "
						"    z.headers::jsonb, z.body "
						"  FROM unnest($18::uuid[], $19, $20, $21, $22, $23, $24, $25) "
						"    AS z(run_id, node_id, svc, task, method, url, headers, body) "
						"  JOIN u ON u.id = z.run_id) "
						"SELECT x.ord, CASE WHEN u.id IS NOT NULL THEN 'w' "
						"  WHEN k.id IS NULL AND EXISTS (SELECT FROM flowdb.runs r2 WHERE r2.id = x.id) "
						"  THEN 'b' ELSE 'l' END, "
						"  CASE WHEN u.status IN ('succeeded', 'failed') AND $17 "
						"  THEN pg_notify('flowdb_run_finished', u.id::text || ' ' || u.status) END "
						"FROM x LEFT JOIN k ON k.id = x.id LEFT JOIN u ON u.id = x.id",
						26, types);
		commit_plan = keep_plan(p, "commit");
	}
	for (int i = 0; i < R_NCOLS; i++)
		args[i] = text_array(b->r[i], b->nr);
	args[5] = float_array(b->r_next, b->nr);
	args[6] = Int32GetDatum(flowdb_my_slot);
	for (int i = 0; i < L_NCOLS; i++)
		args[7 + i] = text_array(b->l[i], b->nl);
	args[14] = float_array(b->l_start, b->nl);
	args[15] = float_array(b->l_end, b->nl);
	args[16] = BoolGetDatum(flowdb_notify);
	for (int i = 0; i < O_NCOLS; i++)
		args[17 + i] = text_array(b->o[i], b->no);
	args[25] = text_array(b->r[R_TOKEN], b->nr);
	ret = SPI_execute_plan(commit_plan, args, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "flowdb: commit failed: %d", ret);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64		ord = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
													  SPI_tuptable->tupdesc, 1, &isnull));
		char	   *what = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);

		if (ord >= 1 && ord <= b->nr && what != NULL)
			b->outcome[ord - 1] = what[0];
	}
	spi_end();
}

/*
 * commit_runs
 *		Commit the changes of the runs in list (their state, log rows and
 *		outbox rows) in one transaction and apply the outcome to each run:
 *		written, busy (a client holds its row: try again soon) or lost
 *		(canceled, retried or taken back: dropped).  Returns TX_FAILED with
 *		*failure set, and nothing applied, when the statement raised an
 *		error other than a lock timeout.
 */
static TxResult
commit_runs(WRun **list, int nr, char **failure)
{
	CommitBatch b;
	double		now = now_ms();
	int			steps = 0;
	int			nl = 0;
	int			no = 0;
	TxResult	result;
	MemoryContext cxt = CurrentMemoryContext;

	for (int i = 0; i < nr; i++)
		nl += list[i]->events.n;
	b.r = alloc_columns(R_NCOLS + 1, nr);
	b.l = alloc_columns(L_NCOLS, nl);
	b.o = alloc_columns(O_NCOLS, noutbox);
	b.runs = list;
	b.outcome = palloc0(Max(nr, 1));
	b.r_next = palloc(sizeof(double) * Max(nr, 1));
	b.l_start = palloc(sizeof(double) * Max(nl, 1));
	b.l_end = palloc(sizeof(double) * Max(nl, 1));
	b.async = true;
	for (int i = 0; i < nr; i++)
		if (list[i]->dirty)
			b.async = false;

	nl = 0;
	for (int k = 0; k < nr; k++)
	{
		WRun	   *w = list[k];
		const char *st;

		/* first: serializing may fail the run, which changes the rest */
		b.r[R_STATE][k] = serialize_state(w, cxt);
		b.r[R_ID][k] = w->er->run_id;
		b.r[R_ERROR][k] = w->er->error ? pstrdup(w->er->error) : NULL;
		w->releasing = run_disposition(w, now, &st, &b.r_next[k]);
		b.r[R_STATUS][k] = (char *) st;
		b.r[R_LEASE][k] = w->releasing ? NULL : "held";
		b.r[R_TOKEN][k] = w->token;
		for (int i = 0; i < w->events.n; i++)
		{
			EngineEvent *e = &w->events.items[i];

			b.l[L_RUN][nl] = w->er->run_id;
			b.l[L_NODE][nl] = pstrdup(e->node_id);
			b.l[L_STATUS][nl] = (char *) e->status;
			b.l[L_INPUT][nl] = json_text(e->input);
			b.l[L_OUTPUT][nl] = json_text(e->output);
			b.l[L_ERROR][nl] = e->error ? pstrdup(e->error) : NULL;
			b.l[L_ATTEMPT][nl] = psprintf("%d", e->attempt);
			b.l_start[nl] = e->started_ms;
			b.l_end[nl] = e->finished_ms;
			nl++;
		}
		/* the outbox rows of this run */
		for (int i = 0; i < noutbox; i++)
		{
			WOutbox    *o = &outbox[i];

			if (strcmp(o->run_id, w->er->run_id) != 0)
				continue;
			b.o[O_RUN][no] = o->run_id;
			b.o[O_NODE][no] = o->node_id;
			b.o[O_SVC][no] = o->service;
			b.o[O_TASK][no] = o->task;
			b.o[O_METHOD][no] = o->method;
			b.o[O_URL][no] = o->url;
			b.o[O_HEADERS][no] = o->headers;
			b.o[O_BODY][no] = o->body;
			no++;
		}
	}
	b.nr = nr;
	b.nl = nl;
	b.no = no;

	result = guarded_tx(commit_tx, &b, "commit", failure);
	if (result == TX_FAILED)
		return result;
	now = now_ms();
	for (int i = 0; i < nr; i++)
	{
		WRun	   *w = list[i];
		char		what = result == TX_OK ? b.outcome[i] : 'b';

		if (what == 'b')
		{
			/* a client holds the row: keep the changes, try again soon */
			w->busy_until = now + BUSY_RETRY_MS;
			w->releasing = false;
			continue;
		}
		w->busy_until = 0;
		if (what == 'w')
		{
			if (w->releasing)
				w->released = true;
			for (int j = 0; j < w->events.n; j++)
				if (strcmp(w->events.items[j].status, "skipped") != 0 &&
					strcmp(w->events.items[j].status, "started") != 0)
					steps++;
		}
		else
		{
			ereport(DEBUG1,
					(errmsg("flowdb worker %d: run %s was canceled, retried or taken back, dropping this copy",
							flowdb_my_slot, w->er->run_id)));
			w->lost = true;
		}
		w->dirty = false;
		w->unlogged_start = 0;
		engine_events_clear(&w->events);
	}
	if (myslot && result == TX_OK)
	{
		pg_atomic_fetch_add_u64(&myslot->steps, steps);
		pg_atomic_fetch_add_u64(&myslot->commits, 1);
	}
	return result;
}

/*
 * commit_alone
 *		The batch failed: commit this run on its own.  If that fails too,
 *		the run's changes are what the database refuses: fail the run with
 *		the error, dropping its outputs and unwritten log rows, and commit
 *		that; a run that cannot even be failed is dropped (its lease
 *		expires and another claim tries it, counting a crash).
 */
static void
commit_alone(WRun *w)
{
	char	   *failure = NULL;
	char	   *msg;

	if (commit_runs(&w, 1, &failure) != TX_FAILED)
		return;
	msg = psprintf("the worker could not store this run: %s", failure);
	ereport(LOG,
			(errmsg("flowdb worker %d: run %s failed: %s",
					flowdb_my_slot, w->er->run_id, msg)));
	engine_fail_oversized(w->er, msg);
	engine_events_clear(&w->events);
	w->unlogged_start = 0;
	if (commit_runs(&w, 1, &failure) == TX_FAILED)
	{
		ereport(LOG,
				(errmsg("flowdb worker %d: run %s could not be stored, dropping it: %s",
						flowdb_my_slot, w->er->run_id, failure)));
		w->lost = true;
		w->dirty = false;
		engine_events_clear(&w->events);
	}
}

/*
 * prune_outbox
 *		Forget outbox rows whose run has nothing left to commit (written,
 *		or dropped); rows of runs still waiting for a commit stay.
 */
static void
prune_outbox(void)
{
	int			kept = 0;

	for (int i = 0; i < noutbox; i++)
	{
		WOutbox    *o = &outbox[i];
		bool		keep = false;
		dlist_iter	it;

		dlist_foreach(it, &runs)
		{
			WRun	   *w = dlist_container(WRun, node, it.cur);

			if (w->dirty && !w->lost && strcmp(w->er->run_id, o->run_id) == 0)
				keep = true;
		}
		if (keep)
		{
			outbox[kept++] = *o;
			continue;
		}
		free(o->run_id);
		free(o->owner);
		free(o->node_id);
		free(o->service);
		free(o->task);
		free(o->method);
		free(o->url);
		free(o->headers);
		free(o->body);
	}
	noutbox = kept;
}

/*
 * commit_changes
 *		One transaction: the new state of every changed run, its log rows
 *		and its outbox rows, in a single statement.  Runs canceled, retried
 *		or taken away meanwhile are not written and are dropped; runs whose
 *		row a client holds locked keep their changes for a later commit.
 *		If the statement fails, each run is committed alone, so that one
 *		run the database refuses fails on its own.
 */
static void
commit_changes(void)
{
	dlist_iter	it;
	double		now = now_ms();
	int			nr = 0;
	WRun	  **list;
	char	   *failure = NULL;

	dlist_foreach(it, &runs)
	{
		if (needs_commit(dlist_container(WRun, node, it.cur), now))
			nr++;
	}
	if (nr > 0)
	{
		/* "started" rows of other runs ride along with this commit */
		nr = 0;
		dlist_foreach(it, &runs)
		{
			WRun	   *w = dlist_container(WRun, node, it.cur);

			if (needs_commit(w, now) || has_unlogged_start(w, now))
				nr++;
		}
		list = palloc(sizeof(WRun *) * nr);
		nr = 0;
		dlist_foreach(it, &runs)
		{
			WRun	   *w = dlist_container(WRun, node, it.cur);

			if (needs_commit(w, now) || has_unlogged_start(w, now))
				list[nr++] = w;
		}
		if (commit_runs(list, nr, &failure) == TX_FAILED)
		{
			ereport(LOG,
					(errmsg("flowdb worker %d: a commit of %d run(s) failed, committing them one by one",
							flowdb_my_slot, nr),
					 errdetail_internal("%s", failure)));
			for (int i = 0; i < nr; i++)
				if (list[i]->dirty && !list[i]->lost)
					commit_alone(list[i]);
		}
	}
	prune_outbox();
}

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
 * service_has_credentials
 *		Does the service declare credential fields?
 */
static bool
service_has_credentials(const ToolService *svc)
{
	return svc->credential_fields != NULL && svc->credential_fields[0] != NULL;
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
	WOutbox    *o;

	if (noutbox == capoutbox)
	{
		int			ncap = capoutbox ? capoutbox * 2 : 16;
		WOutbox    *n = realloc(outbox, sizeof(WOutbox) * ncap);

		if (n == NULL)
			elog(ERROR, "out of memory");
		outbox = n;
		capoutbox = ncap;
	}
	o = &outbox[noutbox++];
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
			elog(ERROR, "out of memory");
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
						 retryable, retry_after, c->started_ms, now_ms(), &w->events);
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
							now_ms(), &w->events);
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
	const cJSON *node = NULL;
	const cJSON *n;
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
		elog(ERROR, "out of memory");
	c->run = w;
	c->node_id = fdb_strdup(node_id);
	c->started_ms = now_ms();
	cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(er->bp, "nodes"))
	{
		const char *id = fdb_json_str(n, "id");

		if (id && strcmp(id, node_id) == 0)
			node = n;
	}
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
		free_call(c);
		return NULL;
	}
	if (c->task == NULL)
	{
		call_failed(c, "unknown service or task", false, -1);
		free_call(c);
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
	if (credname && cred == NULL && service_has_credentials(c->svc) &&
		flowdb_sandbox_mode != FLOWDB_SANDBOX_ON)
	{
		char	   *msg = psprintf("credential \"%s\" for service %s not found",
								   credname, c->svc->name);

		call_failed(c, msg, false, -1);
		free_call(c);
		return NULL;
	}
	sandbox = flowdb_sandbox_mode == FLOWDB_SANDBOX_ON ||
		(flowdb_sandbox_mode == FLOWDB_SANDBOX_AUTO &&
		 service_has_credentials(c->svc) && cred == NULL);

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
		free_call(c);
		return NULL;
	}
	return c;
}

/*
 * advance_run
 *		Let the engine move the run; queue the requests it wants sent.
 */
static void
advance_run(WRun *w, double now)
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
	/* new log rows (not "started" ones waiting to ride along) */
	if (w->events.n > logged)
		w->dirty = true;
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
 * pump_queue
 *		Start queued requests while below flowdb.max_inflight.
 */
static void
pump_queue(void)
{
	bool		started = false;
	dlist_mutable_iter it;
	double		now = now_ms();

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

		if (http_inflight(multi) >= flowdb_max_inflight)
			break;
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
			free_call(c);
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
		http_socket_action(multi, -1, 0);
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
	c->started_ms = now_ms();
	err[0] = '\0';
	if (http_start(multi, &c->req, &limits, c, err, sizeof(err)) == NULL)
	{
		c->run->inflight--;
		call_failed(c, err, true, -1);
		free_call(c);
		return;
	}
	note_started(c);
}

/*
 * note_started
 *		The call's request is out: the engine logs the attempt as started,
 *		and the row waits for a commit to ride along with (needs_commit).
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
 * apply_response
 *		A request finished: classify it with the task's parser and record
 *		the outcome on the run.
 */
static void
apply_response(WCall *c, HttpResponse *resp)
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
			(void) pace_slow(&pacer, c->pace_key, base, now_ms(),
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
 * free_call
 *		Free a call's memory.
 */
static void
free_call(WCall *c)
{
	if (c->counted)
		service_inflight[c->svc_index]--;
	free(c->pace_key);
	free(c->node_id);
	cJSON_Delete(c->params);
	http_request_free(&c->req);
	free(c);
}

/*
 * free_run
 *		Forget a run (its state is committed or it was lost).
 */
static void
free_run(WRun *w)
{
	dlist_delete(&w->node);
	nruns--;
	engine_events_free(&w->events);
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

	dlist_foreach_modify(it, &runs)
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
		if (run_disposition(w, now, &dbstatus, &next))
			w->dirty = true;
	}
}
