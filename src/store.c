/*-------------------------------------------------------------------------
 *
 * store.c
 *	  Every statement of the flowdb background worker (SPI): claim runs
 *	  with their credentials, commit their results in one statement,
 *	  renew and take back leases, fire schedules, prune.  Each statement
 *	  is a named constant below; its parameters are addressed by the names
 *	  of an enum of their positions, never by number.
 *
 *	  Every transaction is short (spi_begin/spi_end), runs with a lock
 *	  timeout and survives it (guarded_tx): the work is tried again later.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"

#include "worker_int.h"

/* lock_timeout of every worker transaction (ms, as text for SET LOCAL) */
#define FLOWDB_LOCK_TIMEOUT "1000"
/* a run whose row a client holds locked: try its commit again after (ms) */
#define BUSY_RETRY_MS 200

static SPIPlanPtr claim_plan = NULL;
static SPIPlanPtr commit_plan = NULL;
static SPIPlanPtr credential_plan = NULL;

/* end of the last claim's commit record, until flush_claims flushed it */
static XLogRecPtr claim_flush_lsn = InvalidXLogRecPtr;

/* sandboxed requests not yet committed to flowdb.outbox (malloc) */
static WOutbox *outbox = NULL;
static int	noutbox = 0;
static int	capoutbox = 0;

static MemoryContext spi_caller_cxt = NULL;	/* spi_end goes back to it */

/*
 * spi_begin
 *		Open one short transaction around SPI work, with the worker's lock
 *		timeout; spi_end commits it.
 */
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

/*
 * spi_end
 *		Commit the transaction spi_begin opened and return to the caller's
 *		memory context.
 */
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
 * held_uuids
 *		uuid[] of the lease tokens (or the ids) of the runs this worker
 *		holds.
 */
static Datum
held_uuids(bool ids)
{
	dlist_iter	it;
	Datum	   *d = palloc(sizeof(Datum) * Max(worker_nruns, 1));
	int			n = 0;
	int			dims[1];
	int			lbs[1] = {1};

	dlist_foreach(it, &worker_runs)
	{
		WRun	   *w = dlist_container(WRun, node, it.cur);

		if (!w->lost && w->token[0] != '\0')
			d[n++] = DirectFunctionCall1(uuid_in,
										 CStringGetDatum(ids ? w->er->run_id : w->token));
	}
	dims[0] = n;
	return PointerGetDatum(construct_md_array(d, NULL, 1, dims, lbs, UUIDOID,
											  UUID_LEN, false, TYPALIGN_CHAR));
}

/* recover_leases: is our own slot's recovery still to do (rows skipped)? */
static bool own_recovery_pending = true;

/* parameters of the lease recovery and renewal statements */
typedef enum LeaseParam
{
	LEASE_SLOT,					/* this worker's slot */
	LEASE_WORKERS,				/* flowdb.workers (recovery) */
	LEASE_MAX_CRASHES,			/* flowdb.max_run_crashes (recovery) */
	LEASE_HELD_TOKENS,			/* uuid[]: the claims this worker holds */
	LEASE_NPARAMS
} LeaseParam;

/*
 * RECOVER_LEASES_SQL: take back leases (the condition is one of the two
 * below, put in at %s), counting a crash per run; at $3 crashes the run
 * is failed.  Returns per run whether it was failed.
 */
#define RECOVER_LEASES_SQL \
	"WITH c AS MATERIALIZED (" \
	"  SELECT id FROM flowdb.runs " \
	"  WHERE finished_at IS NULL AND lease_owner IS NOT NULL AND %s " \
	"  FOR UPDATE SKIP LOCKED) " \
	"UPDATE flowdb.runs r SET lease_owner = NULL, lease_until = NULL, " \
	"  lease_token = NULL, crashes = r.crashes + 1, updated_at = now(), " \
	"  next_at = CASE WHEN r.crashes + 1 >= $3 THEN 'infinity' ELSE r.created_at END, " \
	"  status = CASE WHEN r.crashes + 1 >= $3 THEN 'failed' ELSE r.status END, " \
	"  finished_at = CASE WHEN r.crashes + 1 >= $3 THEN now() ELSE r.finished_at END, " \
	"  error = CASE WHEN r.crashes + 1 >= $3 " \
	"    THEN format('worker crashed %%s times while running this run', r.crashes + 1) " \
	"    ELSE r.error END " \
	"FROM c WHERE r.id = c.id " \
	"RETURNING r.status = 'failed'"
/* at start: our slot's leases (and beyond flowdb.workers) but the held */
#define RECOVER_OWN_COND \
	"(lease_owner = $1 OR lease_owner >= $2) " \
	"AND (lease_token IS NULL OR lease_token <> ALL ($4))"
/* periodically: expired leases of the other slots */
#define RECOVER_EXPIRED_COND \
	"lease_owner <> $1 AND lease_until < now() AND $2 > 0"
/* are there own leases left that a client held locked? */
#define OWN_LEASES_LEFT_SQL \
	"SELECT 1 FROM flowdb.runs " \
	"WHERE finished_at IS NULL AND lease_owner IS NOT NULL " \
	"AND (lease_owner = $1 OR lease_owner >= $2) " \
	"AND (lease_token IS NULL OR lease_token <> ALL ($4)) " \
	"LIMIT 1"
/* extend the leases of the held runs ($2: flowdb.lease_seconds) */
#define RENEW_LEASES_SQL \
	"UPDATE flowdb.runs SET lease_until = now() + make_interval(secs => $2) " \
	"WHERE id IN (SELECT id FROM flowdb.runs " \
	"  WHERE id = ANY ($4) AND lease_owner = $1 AND lease_token = ANY ($3) " \
	"  FOR UPDATE SKIP LOCKED)"
/* parameters of RENEW_LEASES_SQL */
typedef enum RenewParam
{
	RENEW_SLOT,
	RENEW_LEASE_SECONDS,
	RENEW_HELD_TOKENS,
	RENEW_HELD_IDS,				/* the runs' ids: found by primary key */
	RENEW_NPARAMS
} RenewParam;
#define FIRE_SCHEDULES_SQL "SELECT flowdb.fire_schedules()"
#define PRUNE_SQL "SELECT flowdb.prune()"
/* a credential's secret ($1 owner, $2 service, $3 name) */
#define CREDENTIAL_SQL "SELECT flowdb.credential_secret($1, $2, $3)::text"
enum
{
	CRED_OWNER, CRED_SERVICE, CRED_NAME, CRED_NPARAMS
};

/*
 * recover_leases_tx
 *		The transaction of store_recover_leases; arg points to at_start.
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
	Datum		args[LEASE_NPARAMS];
	Oid			types[LEASE_NPARAMS];
	char	   *sql;
	int			ret;
	uint64		failed = 0;

	spi_begin("flowdb: recover leases");
	types[LEASE_SLOT] = INT4OID;
	types[LEASE_WORKERS] = INT4OID;
	types[LEASE_MAX_CRASHES] = INT4OID;
	types[LEASE_HELD_TOKENS] = UUIDARRAYOID;
	args[LEASE_SLOT] = Int32GetDatum(flowdb_my_slot);
	args[LEASE_WORKERS] = Int32GetDatum(flowdb_workers);
	args[LEASE_MAX_CRASHES] = Int32GetDatum(flowdb_max_run_crashes);
	args[LEASE_HELD_TOKENS] = held_uuids(false);
	sql = psprintf(RECOVER_LEASES_SQL,
				   at_start ? RECOVER_OWN_COND : RECOVER_EXPIRED_COND);
	ret = SPI_execute_with_args(sql, LEASE_NPARAMS, types, args, NULL, false, 0);
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
				(errmsg_plural("flowdb worker %d took back %llu interrupted run",
							   "flowdb worker %d took back %llu interrupted runs",
							   (unsigned long) (SPI_processed - failed),
							   flowdb_my_slot, (unsigned long long) (SPI_processed - failed))));
	if (failed > 0)
		ereport(LOG,
				(errmsg_plural("flowdb worker %d failed %llu run in flight during %d worker crashes",
							   "flowdb worker %d failed %llu runs in flight during %d worker crashes",
							   (unsigned long) failed,
							   flowdb_my_slot, (unsigned long long) failed, flowdb_max_run_crashes)));
	if (at_start)
	{
		/* rows a client held locked are still ours to take back */
		ret = SPI_execute_with_args(OWN_LEASES_LEFT_SQL, LEASE_NPARAMS,
									types, args, NULL, true, 1);
		own_recovery_pending = (ret == SPI_OK_SELECT && SPI_processed > 0);
	}
	spi_end();
}

/*
 * store_recover_leases
 *		Take back interrupted runs (see recover_leases_tx); a lock timeout
 *		leaves it for the next scan.
 */
void
store_recover_leases(bool at_start)
{
	bool		arg = at_start;

	(void) locked_tx(recover_leases_tx, &arg, "lease recovery");
}

/*
 * store_own_recovery_pending
 *		Did the last recovery at start skip own leases (rows a client held
 *		locked)?  Then the housekeeping tries again.
 */
bool
store_own_recovery_pending(void)
{
	return own_recovery_pending;
}

/*
 * renew_leases_tx
 *		Extend the leases of the runs we hold (matched by token; rows a
 *		client holds locked are renewed next time).
 */
static void
renew_leases_tx(void *arg)
{
	Datum		args[RENEW_NPARAMS];
	Oid			types[RENEW_NPARAMS];

	spi_begin("flowdb: renew leases");
	types[RENEW_SLOT] = INT4OID;
	types[RENEW_LEASE_SECONDS] = INT4OID;
	types[RENEW_HELD_TOKENS] = UUIDARRAYOID;
	args[RENEW_SLOT] = Int32GetDatum(flowdb_my_slot);
	args[RENEW_LEASE_SECONDS] = Int32GetDatum(flowdb_lease_seconds);
	args[RENEW_HELD_TOKENS] = held_uuids(false);
	types[RENEW_HELD_IDS] = UUIDARRAYOID;
	args[RENEW_HELD_IDS] = held_uuids(true);
	SPI_execute_with_args(RENEW_LEASES_SQL, RENEW_NPARAMS, types, args,
						  NULL, false, 0);
	spi_end();
}

/*
 * store_renew_leases
 *		Extend the leases of the held runs; a lock timeout leaves it for
 *		the next time.
 */
void
store_renew_leases(void)
{
	(void) locked_tx(renew_leases_tx, NULL, "lease renewal");
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
 * store_fire_schedules
 *		Fire the schedule triggers due this minute (worker 0).
 */
void
store_fire_schedules(void)
{
	(void) locked_tx(sql_tx, FIRE_SCHEDULES_SQL, "firing schedules");
}

/*
 * store_prune
 *		Prune old runs (flowdb.prune); true when it committed.
 */
bool
store_prune(void)
{
	return locked_tx(sql_tx, PRUNE_SQL, "pruning");
}

/*
 * text_array
 *		text[] from C strings; NULL means SQL NULL.
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
	Oid			types[CRED_NPARAMS] = {TEXTOID, TEXTOID, TEXTOID};

	if (!OidIsValid(get_relname_relid("credentials", get_namespace_oid("flowdb", true))))
		return creds;
	/* prepared once: claimed runs of services with credentials look up one each */
	if (credential_plan == NULL)
		credential_plan = keep_plan(SPI_prepare(CREDENTIAL_SQL, CRED_NPARAMS, types),
									"credential");
	cJSON_ArrayForEach(node, cJSON_GetObjectItemCaseSensitive(bp, "nodes"))
	{
		/* a map's items run its "do" action */
		const cJSON *act = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(node, "do")) ?
			cJSON_GetObjectItemCaseSensitive(node, "do") : node;
		const char *svc = fdb_json_str(act, "service");
		const ToolService *tool = svc ? catalog_service(svc) : NULL;
		const char *name = fdb_json_str(act, "credential");
		char		key[256];
		Datum		args[CRED_NPARAMS];
		int			ret;

		/* services that take no credential (http) need no lookup */
		if (tool == NULL || !catalog_service_has_credentials(tool))
			continue;
		if (name == NULL)
			name = "default";
		snprintf(key, sizeof(key), "%s/%s", svc, name);
		if (cJSON_HasObjectItem(creds, key))
			continue;
		args[CRED_OWNER] = CStringGetTextDatum(owner);
		args[CRED_SERVICE] = CStringGetTextDatum(svc);
		args[CRED_NAME] = CStringGetTextDatum(name);
		ret = SPI_execute_plan(credential_plan, args, NULL, true, 1);
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
	WRun	   *w = worker_held_run(run_id);

	if (w == NULL || w->lost)
		return;
	ereport(LOG,
			(errmsg("flowdb worker %d: run %s was claimed again, dropping its previous copy",
					flowdb_my_slot, run_id)));
	w->lost = true;
	w->dirty = false;
	w->advance = false;
	engine_events_clear(&w->events);
}


/* claim_tx's argument and result */
typedef struct ClaimArgs
{
	int			limit;
	int			claimed;
	int			seen;			/* candidates the walk picked */
} ClaimArgs;

static void claim_tx(void *arg);

/*
 * FAIR_CLAIM_SQL: the CTEs that pick up to $3 due runs (taken), round-robin
 * across owners so that one owner's backlog cannot starve another owner's
 * run.
 *	owners: every owner with an unfinished run, and that owner's
 *		smallest next_at (a loose index scan of runs_owner_due (owner,
 *		next_at, id): one descent per owner, not per run, and the same
 *		descent gives the owner's first run; the ORDER BY matches the
 *		index, the only index of unfinished runs, so that no plan made
 *		from stale statistics can prefer another partial index and sort
 *		a whole backlog);
 *	due: the $3 owners whose oldest due run has waited longest (an owner
 *		whose first run is not due has none due);
 *	picked: up to $3 x $4 oldest due runs of each (index reads only),
 *		numbered per owner ($4: flowdb.workers, the workers that may be
 *		claiming at the same moment: the runs another worker is locking
 *		now still look due to this walk, and with only $3 candidates a
 *		second worker found every one of them locked, claimed nothing
 *		and idled until the next scan: two workers ran 1,622 steps/s
 *		where one ran 3,230)
 *		(LIMIT (SELECT ...): an unknown limit keeps the planner on the
 *		ordered index scan instead of sorting a whole backlog);
 *	taken: the first run of every owner, the second of every owner, ...,
 *	each locked with SKIP LOCKED as the LIMIT reaches it (only the rows
 *	taken are locked; the due condition is checked on the locked version).
 *	The lock is taken by primary key alone, behind OFFSET 0: with the due
 *	condition inside, a plan made while the queue was empty locked
 *	through a scan of a partial index of unfinished runs, reading the
 *	whole backlog once per run (18,400 rows per run, 10 ms each).
 * A claim moves next_at to 'infinity' (CLAIM_SQL), so the runs in flight
 * are out of every walk's way.  A claim that left next_at alone would be
 * a HOT update, but then each walk reads every held run (up to
 * 4 x flowdb.max_inflight) from the heap: measured, the claims under a
 * 10,000-run backlog against a 100 ms API then cost about 6 ms of worker
 * CPU per step.
 */
#define FAIR_CLAIM_SQL \
	"WITH RECURSIVE owners(owner, first) AS (" \
	"  (SELECT o.owner, o.next_at FROM flowdb.runs o " \
	"   WHERE o.finished_at IS NULL " \
	"   ORDER BY o.owner, o.next_at, o.id LIMIT 1) " \
	"  UNION ALL " \
	"  SELECT n.owner, n.first FROM owners p, " \
	"  LATERAL (SELECT o.owner, o.next_at FROM flowdb.runs o " \
	"           WHERE o.finished_at IS NULL AND o.owner > p.owner " \
	"           ORDER BY o.owner, o.next_at, o.id LIMIT 1) n(owner, first)), " \
	"due AS (" \
	"  SELECT p.owner, p.first FROM owners p " \
	"  WHERE p.first <= clock_timestamp() " \
	"  ORDER BY p.first LIMIT $3), " \
	"picked AS (" \
	"  SELECT c.id, c.next_at, " \
	"         row_number() OVER (PARTITION BY d.owner ORDER BY c.next_at) AS turn " \
	"  FROM due d, " \
	"  LATERAL (SELECT x.id, x.next_at FROM flowdb.runs x " \
	"           WHERE x.owner = d.owner AND x.finished_at IS NULL " \
	"             AND x.next_at <= clock_timestamp() " \
	"           ORDER BY x.next_at, x.id LIMIT (SELECT $3 * $4)) c), " \
	"taken AS MATERIALIZED (" \
	"  SELECT l.id, k.turn, k.next_at " \
	"  FROM (SELECT * FROM picked ORDER BY turn, next_at) k, " \
	"  LATERAL (SELECT r.id, r.finished_at, r.next_at FROM flowdb.runs r " \
	"           WHERE r.id = k.id OFFSET 0 FOR UPDATE SKIP LOCKED) l " \
	"  WHERE l.finished_at IS NULL AND l.next_at <= clock_timestamp() " \
	"  LIMIT $3)"


/*
 * store_claim_runs
 *		Lease up to limit runnable runs; returns how many were claimed
 *		(0 when the claim waited too long for a lock).  *contended: the
 *		walk picked due runs it could not lease (locked by another
 *		worker's claim or a client), so more may be due.
 */
int
store_claim_runs(int limit, bool *contended)
{
	ClaimArgs	a;

	a.limit = limit;
	a.claimed = 0;
	a.seen = 0;
	*contended = false;
	if (!locked_tx(claim_tx, &a, "claim"))
		return 0;
	if (a.claimed > 0)
		claim_flush_lsn = XactLastCommitEnd;
	*contended = a.seen > a.claimed;
	return a.claimed;
}

/*
 * store_flush_claims
 *		Make the last claim durable once its first requests are out, if
 *		nothing flushed it yet.  The claim commits without waiting for its
 *		WAL flush: the commit of results that follows it in the loop
 *		flushes it along with its own (one flush per loop: 473 fdatasync
 *		calls for 20,000 1-step runs instead of 1,049), and when there
 *		were no results to commit, this flush comes after the claimed
 *		runs' requests have left.  Either way the claim is durable before
 *		any response is handled, so a crash while a response is processed
 *		always finds the lease and counts it (flowdb.max_run_crashes).  A
 *		crash before the flush loses the claim: the run is claimed again as
 *		queued and its request sent again with the same Idempotency-Key.
 */
void
store_flush_claims(void)
{
	if (XLogRecPtrIsInvalid(claim_flush_lsn))
		return;
	XLogFlush(claim_flush_lsn);
	claim_flush_lsn = InvalidXLogRecPtr;
}

/* parameters of CLAIM_SQL */
typedef enum ClaimParam
{
	CLAIM_SLOT,					/* this worker's slot: lease_owner */
	CLAIM_LEASE_SECONDS,		/* flowdb.lease_seconds */
	CLAIM_LIMIT,				/* how many runs at the most */
	CLAIM_SPREAD,				/* candidates per run: flowdb.workers */
	CLAIM_TOKEN,				/* uuid: this claim's lease token */
	CLAIM_NPARAMS
} ClaimParam;

/* columns CLAIM_SQL returns (1-based, as SPI_getvalue counts) */
typedef enum ClaimColumn
{
	CLAIM_COL_ID = 1,
	CLAIM_COL_WORKFLOW,
	CLAIM_COL_OWNER,
	CLAIM_COL_BLUEPRINT,
	CLAIM_COL_PAYLOAD,
	CLAIM_COL_STATE,
	CLAIM_COL_TOKEN,
	CLAIM_COL_SANDBOX,
	CLAIM_COL_SEEN
} ClaimColumn;

/*
 * CLAIM_SQL: lease the runs FAIR_CLAIM_SQL took with this claim's token ($5); one row
 * per leased run, and always at least one row (a row of NULLs when none
 * was leased) carrying how many candidates the walk picked (CLAIM_COL_SEEN:
 * more than were leased means some were locked by others, so the queue is
 * not known to be drained).  The runs are updated by an array of ids, one
 * key lookup each: a join with taken was planned, under enable_seqscan off
 * and a small table, as a merge join over a full scan of runs_pkey.  The
 * rows come back in the order taken chose them (owners in turn, oldest
 * first): the worker holds, and so sends, its runs in that order.
 */
#define CLAIM_SQL \
	FAIR_CLAIM_SQL ", " \
	"u AS (" \
	"  UPDATE flowdb.runs r SET lease_owner = $1, " \
	"    lease_until = now() + make_interval(secs => $2), " \
	"    lease_token = $5, " \
	"    next_at = 'infinity', status = 'running', " \
	"    started_at = coalesce(r.started_at, now()), updated_at = now() " \
	"  WHERE r.id = ANY (ARRAY(SELECT c.id FROM taken c)) " \
	"  RETURNING r.id::text AS id, coalesce(r.workflow_id::text, '') AS workflow_id, " \
	"    r.owner, r.blueprint::text AS blueprint, r.payload::text AS payload, " \
	"    r.state::text AS state, r.lease_token::text AS token, r.sandbox) " \
	"SELECT u.*, (SELECT count(*) FROM picked) AS seen " \
	"FROM (SELECT) one LEFT JOIN (u JOIN taken t ON t.id::text = u.id) ON true " \
	"ORDER BY t.turn, t.next_at"

/*
 * cached_plan_by_key
 *		For this transaction's claim or commit statement: plan it once for
 *		the life of the worker, and by index only.
 *		- plan_cache_mode = force_generic_plan: by default every execution
 *		  of a prepared statement with parameters may be planned again for
 *		  its values (a custom plan), and these statements were, each time:
 *		  the planner read the size of flowdb.runs and of its 8 indexes
 *		  (9 lseek calls per mention of the table, 4 mentions per commit)
 *		  and planned a statement of 6 CTEs again, on every claim and
 *		  commit.
 *		- enable_seqscan = off: the one plan may be made while the table is
 *		  small (a new install, a drained queue), when a sequential scan of
 *		  flowdb.runs per run locked or written is cheapest on paper.
 */
static void
cached_plan_by_key(void)
{
	(void) set_config_option("plan_cache_mode", "force_generic_plan", PGC_SUSET,
							 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
	(void) set_config_option("enable_seqscan", "off", PGC_SUSET,
							 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * prepare_claim
 *		Prepare CLAIM_SQL once for the life of the worker.
 */
static void
prepare_claim(void)
{
	Oid			types[CLAIM_NPARAMS];

	if (claim_plan != NULL)
		return;
	types[CLAIM_SLOT] = INT4OID;
	types[CLAIM_LEASE_SECONDS] = INT4OID;
	types[CLAIM_LIMIT] = INT4OID;
	types[CLAIM_SPREAD] = INT4OID;
	types[CLAIM_TOKEN] = UUIDOID;
	claim_plan = keep_plan(SPI_prepare(CLAIM_SQL, CLAIM_NPARAMS, types), "claim");
}

/*
 * run_is_sandboxed
 *		The claimed row's runs.sandbox (a dry run): true unless it is a
 *		plain false.
 */
static bool
run_is_sandboxed(HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, CLAIM_COL_SANDBOX, &isnull);

	return isnull || DatumGetBool(d);
}

/* a run's rows of flowdb.map_parts (map_parts.h) */
#define MAP_PARTS_SQL \
	"SELECT node_id, instance, item, value::text FROM flowdb.map_parts WHERE run_id = $1"

/*
 * load_map_parts
 *		The claimed run's state stores running maps apart: read the run's
 *		rows and put the maps' arrays back (map_parts_restore).  False,
 *		with the reason in err, when they cannot be: the run fails.
 */
static bool
load_map_parts(WRun *w, const char *id, cJSON *state, char *err, size_t errlen)
{
	Oid			type = UUIDOID;
	Datum		arg = DirectFunctionCall1(uuid_in, CStringGetDatum(id));
	MapPartRow *rows;
	int			ret;

	ret = SPI_execute_with_args(MAP_PARTS_SQL, 1, &type, &arg, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "flowdb: reading flowdb.map_parts failed: %d", ret);
	rows = palloc(sizeof(MapPartRow) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;

		rows[i].node_id = SPI_getvalue(t, d, 1);
		rows[i].instance = SPI_getvalue(t, d, 2);
		rows[i].item = atoi(SPI_getvalue(t, d, 3));
		rows[i].value = SPI_getvalue(t, d, 4);
	}
	return map_parts_restore(&w->parts, state, rows, (int) SPI_processed, err, errlen);
}

/*
 * hold_claimed_run
 *		Make one row the claim returned a held run: drop an older copy of
 *		it, load its engine state and credentials, and ask for an advance
 *		(a run whose stored JSON does not parse is failed).
 */
static void
hold_claimed_run(HeapTuple tup, TupleDesc desc)
{
	char	   *id = SPI_getvalue(tup, desc, CLAIM_COL_ID);
	char	   *wf = SPI_getvalue(tup, desc, CLAIM_COL_WORKFLOW);
	char	   *owner = SPI_getvalue(tup, desc, CLAIM_COL_OWNER);
	cJSON	   *bp = cJSON_Parse(SPI_getvalue(tup, desc, CLAIM_COL_BLUEPRINT));
	cJSON	   *payload = cJSON_Parse(SPI_getvalue(tup, desc, CLAIM_COL_PAYLOAD));
	cJSON	   *state = cJSON_Parse(SPI_getvalue(tup, desc, CLAIM_COL_STATE));
	WRun	   *w = calloc(1, sizeof(WRun));
	char		parts_err[256];
	bool		parts_ok = true;

	if (w == NULL)
		worker_out_of_memory();
	drop_old_copy(id);
	snprintf(w->token, sizeof(w->token), "%s", SPI_getvalue(tup, desc, CLAIM_COL_TOKEN));
	if (state != NULL && map_parts_needed(state) &&
		!(parts_ok = load_map_parts(w, id, state, parts_err, sizeof(parts_err))))
	{
		/* the engine never sees a state with maps missing: failed below */
		cJSON_Delete(state);
		state = cJSON_CreateObject();
	}
	w->er = engine_run_new(id, wf, bp ? bp : cJSON_CreateObject(), payload, state);
	snprintf(w->owner, sizeof(w->owner), "%s", owner);
	w->sandbox = run_is_sandboxed(tup, desc);
	engine_events_init(&w->events);
	engine_recover(w->er);
	w->credentials = load_credentials(owner, w->er->bp);
	w->advance = true;
	if (bp == NULL || payload == NULL || state == NULL)
	{
		engine_fail_run(w->er, "the run's blueprint, payload or state could not be parsed");
		w->dirty = true;
	}
	else if (!parts_ok)
	{
		char	   *msg = psprintf("the run's state could not be restored: %s", parts_err);

		engine_fail_run(w->er, msg);
		w->dirty = true;
	}
	worker_hold_run(w);
}

/*
 * claim_token
 *		A new lease token for one claim, shared by the runs it leases: the
 *		token tells this claim from every other claim of the same run,
 *		which is all the commits and renewals check.  One random value per
 *		claim instead of a gen_random_uuid() per run (each a call into
 *		OpenSSL: 5.6% of the claim's CPU in 1-step runs).
 */
static Datum
claim_token(void)
{
	pg_uuid_t  *u = palloc(sizeof(pg_uuid_t));

	if (!pg_strong_random(u->data, UUID_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random lease token")));
	u->data[6] = (u->data[6] & 0x0f) | 0x40;	/* version 4 */
	u->data[8] = (u->data[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	return UUIDPGetDatum(u);
}

/*
 * claim_tx
 *		The claim transaction: lease runs with a new token and load
 *		them with their credentials.
 */
static void
claim_tx(void *arg)
{
	ClaimArgs  *a = arg;
	Datum		args[CLAIM_NPARAMS];
	int			ret;
	uint64		n;
	SPITupleTable *claimed;

	spi_begin("flowdb: claim");
	/* no WAL flush wait here: flush_claims flushes once requests are out */
	(void) set_config_option("synchronous_commit", "off", PGC_SUSET,
							 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
	/* by index only, one plan: see cached_plan_by_key */
	cached_plan_by_key();
	prepare_claim();
	args[CLAIM_SLOT] = Int32GetDatum(flowdb_my_slot);
	args[CLAIM_LEASE_SECONDS] = Int32GetDatum(flowdb_lease_seconds);
	args[CLAIM_LIMIT] = Int32GetDatum(a->limit);
	args[CLAIM_SPREAD] = Int32GetDatum(Max(flowdb_workers, 1));
	args[CLAIM_TOKEN] = claim_token();
	ret = SPI_execute_plan(claim_plan, args, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "flowdb: claim failed: %d", ret);
	n = SPI_processed;
	/* load_credentials runs queries: keep the claim's own result */
	claimed = SPI_tuptable;
	a->claimed = 0;
	a->seen = 0;
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		seen = SPI_getbinval(claimed->vals[i], claimed->tupdesc,
										 CLAIM_COL_SEEN, &isnull);

		if (!isnull)
			a->seen = (int) DatumGetInt64(seen);
		(void) SPI_getbinval(claimed->vals[i], claimed->tupdesc, CLAIM_COL_ID, &isnull);
		if (isnull)
			continue;			/* the row of NULLs: nothing leased */
		hold_claimed_run(claimed->vals[i], claimed->tupdesc);
		a->claimed++;
	}
	spi_end();
	if (worker_slot)
		pg_atomic_fetch_add_u64(&worker_slot->claimed, a->claimed);
}

/*
 * json_text
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
		worker_out_of_memory();
	p = pstrdup(s);
	free(s);
	return p;
}

/*
 * store_run_disposition
 *		What to write for a run: its status in flowdb.runs and, when the
 *		lease is to be released (returns true), when to look at it again
 *		(*next, epoch ms; NaN = never by itself).
 */
bool
store_run_disposition(WRun *w, double now, const char **dbstatus, double *next)
{
	double		due;
	FlowStatus	st = engine_run_state(w->er, &due);

	*next = NAN;
	if (st == FLOW_SUCCEEDED || st == FLOW_FAILED)
	{
		*dbstatus = flow_status_names[st];
		return w->inflight == 0;
	}
	*dbstatus = flow_status_names[FLOW_RUNNING];
	if (w->inflight > 0 || st == FLOW_RUNNING)
		return false;
	if (due > 0 && due - now < 2000 && !engine_waiting_for_event(w->er))
		return false;			/* soon: keep it */
	if (st == FLOW_WAITING)
		*dbstatus = flow_status_names[FLOW_WAITING];
	*next = due > 0 ? due : NAN;
	return true;
}

/* text columns of the commit statement's run, log and outbox arrays */
enum
{
	R_ID, R_STATE, R_STATUS, R_ERROR, R_LEASE, R_TOKEN, R_NCOLS
};
enum
{
	L_RUN, L_NODE, L_STATUS, L_INPUT, L_OUTPUT, L_ERROR, L_ATTEMPT, L_NCOLS
};
enum
{
	O_RUN, O_NODE, O_SVC, O_TASK, O_METHOD, O_URL, O_HEADERS, O_BODY, O_NCOLS
};
enum
{
	P_RUN, P_NODE, P_INSTANCE, P_ITEM, P_VALUE, P_NCOLS
};

/*
 * Parameters of COMMIT_SQL, in $n order ($1 is COMMIT_RUN_ID).  The log
 * and outbox text columns follow the L_* and O_* orders above, so that
 * COMMIT_LOG_FIRST + L_x is column L_x's parameter.
 */
typedef enum CommitParam
{
	COMMIT_RUN_ID,				/* $1 uuid[] */
	COMMIT_RUN_STATE,			/* $2 jsonb[] */
	COMMIT_RUN_STATUS,			/* $3 */
	COMMIT_RUN_ERROR,			/* $4 */
	COMMIT_RUN_LEASE,			/* $5 NULL: release the lease */
	COMMIT_RUN_NEXT_MS,			/* $6 float8[]: when to look again */
	COMMIT_SLOT,				/* $7 int: lease_owner */
	COMMIT_LOG_FIRST,			/* $8..$14: the L_* columns */
	COMMIT_LOG_START = COMMIT_LOG_FIRST + L_NCOLS,	/* $15 float8[] */
	COMMIT_LOG_END,				/* $16 float8[] */
	COMMIT_NOTIFY,				/* $17 bool: flowdb.notify */
	COMMIT_OUT_FIRST,			/* $18..$25: the O_* columns */
	COMMIT_RUN_TOKEN = COMMIT_OUT_FIRST + O_NCOLS,	/* $26 uuid[] */
	COMMIT_LOG_ITEM,			/* $27 text[]: a map item's index, or NULL */
	COMMIT_PART_FIRST,			/* $28..$32: the P_* columns (map_parts) */
	COMMIT_PART_CLEAR = COMMIT_PART_FIRST + P_NCOLS,	/* $33 uuid[]: runs
														 * whose rows go */
	COMMIT_NPARAMS
} CommitParam;

StaticAssertDecl(COMMIT_LOG_START == 14 && COMMIT_NOTIFY == 16 &&
				 COMMIT_RUN_TOKEN == 25 && COMMIT_LOG_ITEM == 26 &&
				 COMMIT_PART_FIRST == 27 && COMMIT_PART_CLEAR == 32 && COMMIT_NPARAMS == 33,
				 "COMMIT_SQL numbers its parameters as CommitParam does");

/*
 * COMMIT_SQL: write the runs' state (x, only rows not locked by clients:
 * k, and only while this claim's lease token holds: u), append their log
 * rows (l), outbox rows (o) and rows of running maps (p: map_parts.h), delete
 * the map rows of runs that end (c), and report per run (by ordinality)
 * 'w' written, 'b' busy (a client holds the row) or 'l' lost.
 *
 * Every read of flowdb.runs is one primary-key lookup per run: the plan
 * is generic and cached for the life of the worker, often made while the
 * table was small (or before ANALYZE saw a bulk insert), and was then a
 * seq scan of all of flowdb.runs per commit (commit_tx plans with
 * enable_seqscan off).  k locks each run through a LATERAL lookup (a
 * nested loop whatever the estimates) and carries x's columns, so that u
 * joins one CTE by index; joining x and k to a bitmap scan of
 * id = ANY ($1) was planned as nested loops rescanning both CTEs per run,
 * quadratic in the batch (2 of 5 ms for 64 runs).  While the run keeps
 * its lease its status and next_at stay, so the update changes no indexed
 * column (a HOT update).
 */
#define COMMIT_SQL \
	"WITH x AS (" \
	"  SELECT * FROM unnest($1::uuid[], $2::jsonb[], $3, $4, $5, $6, $26::uuid[]) " \
	"    WITH ORDINALITY AS x(id, state, status, error, lease, next_ms, token, ord)), " \
	"k AS MATERIALIZED (" \
	"  SELECT x.* FROM x, LATERAL (SELECT FROM flowdb.runs r WHERE r.id = x.id " \
	"                              FOR UPDATE SKIP LOCKED) l), " \
	"u AS (" \
	"  UPDATE flowdb.runs r SET state = x.state, status = x.status, error = x.error, " \
	"    next_at = CASE WHEN x.lease IS NOT NULL OR x.next_ms IS NULL " \
	"                   THEN 'infinity'::timestamptz " \
	"                   ELSE to_timestamp(x.next_ms / 1000.0) END, " \
	"    lease_owner = CASE WHEN x.lease IS NULL THEN NULL ELSE r.lease_owner END, " \
	"    lease_until = CASE WHEN x.lease IS NULL THEN NULL ELSE r.lease_until END, " \
	"    lease_token = CASE WHEN x.lease IS NULL THEN NULL ELSE r.lease_token END, " \
	"    finished_at = CASE WHEN x.status IN ('succeeded', 'failed') THEN now() END, " \
	"    updated_at = now() " \
	"  FROM k x " \
	"  WHERE r.id = x.id " \
	"    AND coalesce(r.lease_owner, -1) = $7 AND r.lease_token = x.token " \
	"    AND r.status NOT IN ('canceled', 'succeeded', 'failed') " \
	"  RETURNING r.id, r.owner, r.status), " \
	"l AS (" \
	"  INSERT INTO flowdb.workflow_logs (run_id, owner, node_id, status, attempt, " \
	"    input, output, error, started_at, finished_at, duration_ms, item) " \
	"  SELECT y.run_id, u.owner, y.node_id, y.status, y.attempt::int, y.input::jsonb, " \
	"    y.output::jsonb, y.error, to_timestamp(y.s / 1000.0), " \
	"    CASE WHEN y.status <> 'started' THEN to_timestamp(y.e / 1000.0) END, " \
	"    CASE WHEN y.status <> 'started' THEN y.e - y.s END, y.item::int " \
	"  FROM unnest($8::uuid[], $9, $10, $11, $12, $13, $14, $15, $16, $27) " \
	"    WITH ORDINALITY AS y(run_id, node_id, status, input, output, error, attempt, s, e, item, ord) " \
	"  JOIN u ON u.id = y.run_id ORDER BY y.ord), " \
	"o AS (" \
	"  INSERT INTO flowdb.outbox (run_id, owner, node_id, service, task, method, url, " \
	"    headers, body) " \
	"  SELECT z.run_id, u.owner, z.node_id, z.svc, z.task, z.method, z.url, " \
	"    z.headers::jsonb, z.body " \
	"  FROM unnest($18::uuid[], $19, $20, $21, $22, $23, $24, $25) " \
	"    AS z(run_id, node_id, svc, task, method, url, headers, body) " \
	"  JOIN u ON u.id = z.run_id), " \
	"p AS (" \
	"  INSERT INTO flowdb.map_parts (run_id, node_id, instance, item, value) " \
	"  SELECT q.run_id, q.node_id, q.instance, q.item::int, q.value::jsonb " \
	"  FROM unnest($28::uuid[], $29, $30, $31, $32) " \
	"    AS q(run_id, node_id, instance, item, value) " \
	"  JOIN u ON u.id = q.run_id " \
	"  ON CONFLICT (run_id, node_id, instance, item) DO UPDATE SET value = excluded.value), " \
	"c AS (" \
	"  DELETE FROM flowdb.map_parts mp USING u " \
	"  WHERE u.id = ANY ($33::uuid[]) AND mp.run_id = u.id) " \
	"SELECT x.ord, CASE WHEN u.id IS NOT NULL THEN 'w' " \
	"  WHEN k.id IS NULL AND EXISTS (SELECT FROM flowdb.runs r2 " \
	"    WHERE r2.id = x.id AND r2.id = ANY ($1::uuid[])) " \
	"  THEN 'b' ELSE 'l' END, " \
	"  CASE WHEN u.status IN ('succeeded', 'failed') AND $17 " \
	"  THEN pg_notify('flowdb_run_finished', u.id::text || ' ' || u.status) END " \
	"FROM x LEFT JOIN k ON k.id = x.id LEFT JOIN u ON u.id = x.id"

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
	char	 ***p;				/* rows of flowdb.map_parts */
	char	  **clear;			/* runs whose map_parts rows go */
	int			np;
	int			nclear;
	double	   *r_next;
	double	   *l_start;
	double	   *l_end;
	char	   *outcome;		/* per run: 'w' written, 'b' busy, 'l' lost */
	double		now;			/* when it was built (start_fate) */
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

	/* running maps' arrays are written apart (collect_map_parts) */
	map_parts_detach(&w->parts);
	PG_TRY();
	{
		text = json_text(w->er->state);
	}
	PG_CATCH();
	{
		map_parts_attach(&w->parts);
		worker_fail_run_on_error(w, cxt, "store the state of");
		text = NULL;
	}
	PG_END_TRY();
	map_parts_attach(&w->parts);
	if (text == NULL || strlen(text) > (size_t) flowdb_max_state_bytes)
	{
		char	   *msg = psprintf("the run's state is larger than %d bytes (flowdb.max_state_bytes)",
								   flowdb_max_state_bytes);

		if (text != NULL)
			engine_fail_oversized(w->er, msg);
		/* the run ends now: its whole state, no rows apart */
		map_parts_collect(&w->parts, w->er->state, w->token, true);
		text = json_text(w->er->state);
	}
	return text;
}

/*
 * collect_map_parts
 *		The rows of flowdb.map_parts this commit of the run adds (the items
 *		of maps that started, results that came in), or, when the run ends
 *		with it, none and a delete of its rows (map_parts_collect).
 */
static void
collect_map_parts(WRun *w)
{
	double		due;
	FlowStatus	st = engine_run_state(w->er, &due);

	map_parts_collect(&w->parts, w->er->state, w->token,
					  st == FLOW_SUCCEEDED || st == FLOW_FAILED);
}


/*
 * prepare_commit
 *		Prepare COMMIT_SQL once for the life of the worker.
 */
static void
prepare_commit(void)
{
	Oid			types[COMMIT_NPARAMS];

	if (commit_plan != NULL)
		return;
	for (int i = 0; i < COMMIT_NPARAMS; i++)
		types[i] = TEXTARRAYOID;
	types[COMMIT_RUN_NEXT_MS] = FLOAT8ARRAYOID;
	types[COMMIT_SLOT] = INT4OID;
	types[COMMIT_LOG_START] = FLOAT8ARRAYOID;
	types[COMMIT_LOG_END] = FLOAT8ARRAYOID;
	types[COMMIT_NOTIFY] = BOOLOID;
	commit_plan = keep_plan(SPI_prepare(COMMIT_SQL, COMMIT_NPARAMS, types), "commit");
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
	Datum		args[COMMIT_NPARAMS];
	int			ret;

	spi_begin("flowdb: commit results");
	/* "started" rows alone need not be durable (a crash re-sends anyway) */
	if (b->async)
		(void) set_config_option("synchronous_commit", "off", PGC_SUSET,
								 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
	/* the statement reads runs by key only (see COMMIT_SQL), one plan */
	cached_plan_by_key();
	prepare_commit();
	args[COMMIT_RUN_ID] = text_array(b->r[R_ID], b->nr);
	args[COMMIT_RUN_STATE] = text_array(b->r[R_STATE], b->nr);
	args[COMMIT_RUN_STATUS] = text_array(b->r[R_STATUS], b->nr);
	args[COMMIT_RUN_ERROR] = text_array(b->r[R_ERROR], b->nr);
	args[COMMIT_RUN_LEASE] = text_array(b->r[R_LEASE], b->nr);
	args[COMMIT_RUN_NEXT_MS] = float_array(b->r_next, b->nr);
	args[COMMIT_SLOT] = Int32GetDatum(flowdb_my_slot);
	for (int i = 0; i < L_NCOLS; i++)
		args[COMMIT_LOG_FIRST + i] = text_array(b->l[i], b->nl);
	args[COMMIT_LOG_START] = float_array(b->l_start, b->nl);
	args[COMMIT_LOG_END] = float_array(b->l_end, b->nl);
	args[COMMIT_NOTIFY] = BoolGetDatum(flowdb_notify);
	for (int i = 0; i < O_NCOLS; i++)
		args[COMMIT_OUT_FIRST + i] = text_array(b->o[i], b->no);
	args[COMMIT_RUN_TOKEN] = text_array(b->r[R_TOKEN], b->nr);
	args[COMMIT_LOG_ITEM] = text_array(b->l[L_NCOLS], b->nl);
	for (int i = 0; i < P_NCOLS; i++)
		args[COMMIT_PART_FIRST + i] = text_array(b->p[i], b->np);
	args[COMMIT_PART_CLEAR] = text_array(b->clear, b->nclear);
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
 * batch_alloc
 *		Room in the batch for nr runs with nl log rows, no outbox rows and
 *		np rows of flowdb.map_parts.
 */
static void
batch_alloc(CommitBatch *b, WRun **list, int nr, int nl, int no, int np)
{
	b->r = alloc_columns(R_NCOLS, nr);
	b->l = alloc_columns(L_NCOLS + 1, nl);	/* + the item column */
	b->o = alloc_columns(O_NCOLS, no);
	b->p = alloc_columns(P_NCOLS, np);
	b->clear = palloc0(sizeof(char *) * Max(nr, 1));
	b->np = 0;
	b->nclear = 0;
	b->runs = list;
	b->outcome = palloc0(Max(nr, 1));
	b->r_next = palloc(sizeof(double) * Max(nr, 1));
	b->l_start = palloc(sizeof(double) * Max(nl, 1));
	b->l_end = palloc(sizeof(double) * Max(nl, 1));
	b->nr = 0;
	b->nl = 0;
	b->no = 0;
}

/*
 * batch_add_run
 *		The run's row: state, status, error, whether the lease is kept,
 *		when to look at it again, its claim's token.
 */
static void
batch_add_run(CommitBatch *b, WRun *w, double now, MemoryContext cxt)
{
	int			k = b->nr++;
	const char *st;

	/* first: serializing may fail the run, which changes the rest */
	b->r[R_STATE][k] = serialize_state(w, cxt);
	b->r[R_ID][k] = w->er->run_id;
	b->r[R_ERROR][k] = w->er->error ? pstrdup(w->er->error) : NULL;
	w->releasing = store_run_disposition(w, now, &st, &b->r_next[k]);
	b->r[R_STATUS][k] = (char *) st;
	b->r[R_LEASE][k] = w->releasing ? NULL : "held";
	b->r[R_TOKEN][k] = w->token;
}

/* what a commit does with a log event (start_fate) */
typedef enum EventFate
{
	EVENT_WRITE,				/* a row of this commit */
	EVENT_DROP,					/* a "started" row next to its outcome */
	EVENT_HOLD					/* a "started" row kept for a later commit */
} EventFate;

/*
 * start_fate
 *		What the commit does with the run's event i.  A "started" row
 *		waits while its request is in flight less than STARTED_LOG_DELAY_MS
 *		and the run keeps its lease (another commit of the run follows),
 *		and is dropped once its attempt's outcome is beside it: committed
 *		together, it would never have shown a request in flight, and the
 *		outcome row has the start time too.  Fast steps so write one log
 *		row, not two.
 */
static EventFate
start_fate(const WRun *w, int i, double now)
{
	const EngineEvent *s = &w->events.items[i];

	if (strcmp(s->status, flow_status_names[FLOW_STARTED]) != 0)
		return EVENT_WRITE;
	for (int j = i + 1; j < w->events.n; j++)
	{
		const EngineEvent *o = &w->events.items[j];

		if (o->attempt == s->attempt && o->item == s->item &&
			strcmp(o->status, flow_status_names[FLOW_STARTED]) != 0 &&
			strcmp(o->node_id, s->node_id) == 0)
			return EVENT_DROP;
	}
	if (!w->releasing && now - s->started_ms < STARTED_LOG_DELAY_MS)
		return EVENT_HOLD;
	return EVENT_WRITE;
}

/*
 * batch_add_logs
 *		The run's log rows not yet committed.
 */
static void
batch_add_logs(CommitBatch *b, WRun *w)
{
	for (int i = 0; i < w->events.n; i++)
	{
		EngineEvent *e = &w->events.items[i];
		int			nl;

		if (start_fate(w, i, b->now) != EVENT_WRITE)
			continue;
		nl = b->nl++;

		b->l[L_RUN][nl] = w->er->run_id;
		b->l[L_NODE][nl] = pstrdup(e->node_id);
		b->l[L_STATUS][nl] = (char *) e->status;
		b->l[L_INPUT][nl] = json_text(e->input);
		b->l[L_OUTPUT][nl] = json_text(e->output);
		b->l[L_ERROR][nl] = e->error ? pstrdup(e->error) : NULL;
		b->l[L_ATTEMPT][nl] = psprintf("%d", e->attempt);
		b->l[L_NCOLS][nl] = e->item >= 0 ? psprintf("%d", e->item) : NULL;
		b->l_start[nl] = e->started_ms;
		b->l_end[nl] = e->finished_ms;
	}
}

/*
 * batch_add_outbox
 *		The run's sandboxed requests not yet committed.
 */
static void
batch_add_outbox(CommitBatch *b, WRun *w)
{
	for (int i = 0; i < noutbox; i++)
	{
		WOutbox    *o = &outbox[i];
		int			no;

		if (strcmp(o->run_id, w->er->run_id) != 0)
			continue;
		no = b->no++;
		b->o[O_RUN][no] = o->run_id;
		b->o[O_NODE][no] = o->node_id;
		b->o[O_SVC][no] = o->service;
		b->o[O_TASK][no] = o->task;
		b->o[O_METHOD][no] = o->method;
		b->o[O_URL][no] = o->url;
		b->o[O_HEADERS][no] = o->headers;
		b->o[O_BODY][no] = o->body;
	}
}

/*
 * batch_add_parts
 *		The run's rows of flowdb.map_parts for this commit, or the delete
 *		of its rows when it ends (collect_map_parts, serialize_state).
 */
static void
batch_add_parts(CommitBatch *b, WRun *w)
{
	for (int i = 0; i < w->parts.nrows; i++)
	{
		MapPartRow *row = &w->parts.rows[i];
		int			np = b->np++;

		b->p[P_RUN][np] = w->er->run_id;
		b->p[P_NODE][np] = row->node_id;
		b->p[P_INSTANCE][np] = row->instance;
		b->p[P_ITEM][np] = psprintf("%d", row->item);
		b->p[P_VALUE][np] = row->value;
	}
	if (w->parts.clear)
		b->clear[b->nclear++] = w->er->run_id;
}

/*
 * build_batch
 *		The commit statement's inputs for the runs in list.
 */
static void
build_batch(CommitBatch *b, WRun **list, int nr)
{
	double		now = worker_now_ms();
	int			nl = 0;
	int			np = 0;
	MemoryContext cxt = CurrentMemoryContext;

	for (int i = 0; i < nr; i++)
	{
		nl += list[i]->events.n;
		collect_map_parts(list[i]);
		np += list[i]->parts.nrows;
	}
	batch_alloc(b, list, nr, nl, noutbox, np);
	b->now = now;
	b->async = true;
	for (int i = 0; i < nr; i++)
		if (list[i]->dirty)
			b->async = false;
	for (int k = 0; k < nr; k++)
	{
		batch_add_run(b, list[k], now, cxt);
		batch_add_logs(b, list[k]);
		batch_add_outbox(b, list[k]);
		batch_add_parts(b, list[k]);
	}
}

/*
 * keep_held_back_starts
 *		After the run's commit: forget the events written or dropped, keep
 *		the "started" rows held back (start_fate) for a later commit.
 */
static void
keep_held_back_starts(WRun *w, double now)
{
	bool	   *keep = palloc(sizeof(bool) * Max(w->events.n, 1));

	w->unlogged_start = 0;
	for (int i = 0; i < w->events.n; i++)
	{
		keep[i] = start_fate(w, i, now) == EVENT_HOLD;
		if (keep[i] && (w->unlogged_start == 0 ||
						w->events.items[i].started_ms < w->unlogged_start))
			w->unlogged_start = w->events.items[i].started_ms;
	}
	engine_events_retain(&w->events, keep);
	pfree(keep);
}

/*
 * apply_outcomes
 *		After the commit statement: per run, written (a released lease
 *		forgets the run), busy (a client holds its row: keep the changes,
 *		try again soon) or lost (canceled, retried or taken back: drop
 *		this copy).  Counts the steps written in the worker's slot.
 */
static void
apply_outcomes(CommitBatch *b, TxResult result)
{
	double		now = worker_now_ms();
	int			steps = 0;

	for (int i = 0; i < b->nr; i++)
	{
		WRun	   *w = b->runs[i];
		char		what = result == TX_OK ? b->outcome[i] : 'b';

		map_parts_written(&w->parts, what == 'w');
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
			{
				FlowStatus	st = flow_status_parse(w->events.items[j].status);

				if (st != FLOW_SKIPPED && st != FLOW_STARTED)
					steps++;
			}
		}
		else
		{
			ereport(DEBUG1,
					(errmsg("flowdb worker %d: run %s was canceled, retried or taken back, dropping this copy",
							flowdb_my_slot, w->er->run_id)));
			w->lost = true;
		}
		w->dirty = false;
		if (what == 'w')
			keep_held_back_starts(w, b->now);
		else
		{
			w->unlogged_start = 0;
			engine_events_clear(&w->events);
		}
	}
	if (worker_slot && result == TX_OK)
	{
		pg_atomic_fetch_add_u64(&worker_slot->steps, steps);
		pg_atomic_fetch_add_u64(&worker_slot->commits, 1);
	}
}

/*
 * commit_runs
 *		Commit the changes of the runs in list (their state, log rows and
 *		outbox rows) in one transaction and apply the outcome to each run
 *		(apply_outcomes).  Returns TX_FAILED with *failure set, and nothing
 *		applied, when the statement raised an error other than a lock
 *		timeout.
 */
static TxResult
commit_runs(WRun **list, int nr, char **failure)
{
	CommitBatch b;
	TxResult	result;

	build_batch(&b, list, nr);
	result = guarded_tx(commit_tx, &b, "commit", failure);
	if (result != TX_FAILED)
		apply_outcomes(&b, result);
	else
		for (int i = 0; i < nr; i++)
			map_parts_written(&list[i]->parts, false);
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
 * store_outbox_add
 *		A new, zeroed outbox row for a sandboxed request, committed with
 *		its run's next commit (dispatch fills it in with malloc'd strings).
 */
WOutbox *
store_outbox_add(void)
{
	WOutbox    *o;

	if (noutbox == capoutbox)
	{
		int			ncap = capoutbox ? capoutbox * 2 : 16;
		WOutbox    *n = realloc(outbox, sizeof(WOutbox) * ncap);

		if (n == NULL)
			worker_out_of_memory();
		outbox = n;
		capoutbox = ncap;
	}
	o = &outbox[noutbox++];
	memset(o, 0, sizeof(WOutbox));
	return o;
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
		WRun	   *w = worker_held_run(o->run_id);

		if (w != NULL && w->dirty && !w->lost)
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
 * runs_to_commit
 *		The held runs with changes to commit now (*nr of them).
 */
static WRun **
runs_to_commit(int *nr)
{
	dlist_iter	it;
	double		now = worker_now_ms();
	WRun	  **list = palloc(sizeof(WRun *) * Max(worker_nruns, 1));
	int			n = 0;

	dlist_foreach(it, &worker_runs)
	{
		WRun	   *w = dlist_container(WRun, node, it.cur);

		if (worker_needs_commit(w, now))
			list[n++] = w;
	}
	*nr = n;
	return list;
}

/*
 * commit_one_by_one
 *		The batch's statement failed: commit each run alone, so that only
 *		a run the database refuses fails.
 */
static void
commit_one_by_one(WRun **list, int nr, const char *failure)
{
	ereport(LOG,
			(errmsg_plural("flowdb worker %d: a commit of %d run failed, committing it alone",
						   "flowdb worker %d: a commit of %d runs failed, committing them one by one",
						   nr, flowdb_my_slot, nr),
			 errdetail_internal("%s", failure)));
	for (int i = 0; i < nr; i++)
		if (list[i]->dirty && !list[i]->lost)
			commit_alone(list[i]);
}

/*
 * store_commit_changes
 *		One transaction: the new state of every changed run, its log rows
 *		and its outbox rows, in a single statement.  Runs canceled, retried
 *		or taken away meanwhile are not written and are dropped; runs whose
 *		row a client holds locked keep their changes for a later commit.
 *		If the statement fails, each run is committed alone, so that one
 *		run the database refuses fails on its own.
 */
void
store_commit_changes(void)
{
	int			nr;
	WRun	  **list = runs_to_commit(&nr);
	char	   *failure = NULL;

	if (nr > 0 && commit_runs(list, nr, &failure) == TX_FAILED)
		commit_one_by_one(list, nr, failure);
	prune_outbox();
}
