/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The flowdb launcher: one static background worker that starts the
 *	  flowdb workers of every database that has the extension, and the
 *	  life of a worker's shared-memory slot.
 *
 * The launcher connects to no database: it reads pg_database (a shared
 * catalog) every LIST_INTERVAL_MS and whenever it is woken, and for every
 * database that allows connections and is not a template (and that
 * flowdb.database_name names, when set) it starts worker 0 as a dynamic
 * background worker.  That worker connects to the database and looks for
 * the extension: without it, it says so in its slot and exits, and the
 * launcher probes the database again with a back-off (PROBE_MIN_S
 * doubling to PROBE_MAX_S); with it, it serves the database and the
 * launcher starts workers 1 .. flowdb.workers-1 there.  So the launcher
 * never connects to each database itself, and a database without the
 * extension costs one short-lived process per back-off period.
 *
 * Wake-ups: CREATE EXTENSION (any extension: an object access hook) and a
 * commit that queued runs in a database where no worker runs (flowdb.c)
 * queue the database in shared memory at commit and set the launcher's
 * latch, so a new database is served at once, without a restart.
 *
 * Slots: flowdb.max_workers slots, reserved by the launcher (under
 * FlowdbShared.mutex, with a new generation each time) before it
 * registers the worker, which passes slot and generation in bgw_extra.
 * The worker attaches only if both still match, and frees the slot when
 * it exits (on_shmem_exit).  A registration that never started is freed
 * by the launcher once its handle says it stopped; a launcher that
 * restarts frees the reservations of its predecessor (generation bumped:
 * a late worker exits quietly) and adopts the running workers.  So at
 * most one process is worker N of a database at any time, which is what
 * lease recovery relies on: leases carry the worker number (lease_owner,
 * per database), and a starting worker N takes back every lease of N.
 *
 * DROP DATABASE (and RENAME, ALTER DATABASE SET TABLESPACE, CREATE
 * DATABASE ... TEMPLATE) wait for other sessions of the database to leave,
 * and PostgreSQL 15 does not terminate background workers for them: a
 * utility hook, for the database's owner, holds the database (the
 * launcher starts nobody there) and tells its workers to stop; they leave
 * at their next loop turn.  DROP EXTENSION flowdb holds its database the
 * same way (object access hook), so the workers leave instead of failing
 * on the tables being dropped.  A hold ends with the statement's
 * transaction.  The runs a stopped worker held are taken back by the next
 * worker with its number, counting one crash each (as after a crash).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "flowdb.h"

/* pg_database is read at least this often (ms) */
#define LIST_INTERVAL_MS 10000
/* a database without the extension is probed again after (s, doubling) */
#define PROBE_MIN_S 10
#define PROBE_MAX_S 300
/* a worker that exited with an error is started again after (ms) */
#define RESTART_DELAY_MS 1000
/* a worker that could not be registered: next try after (ms) */
#define REGISTER_RETRY_MS 10000

int			flowdb_max_workers = 8;

/* what the launcher passes to a worker in bgw_extra */
typedef struct WorkerExtra
{
	int			slot;
	uint32		generation;
	char		dbname[NAMEDATALEN];
} WorkerExtra;

StaticAssertDecl(sizeof(WorkerExtra) <= BGW_EXTRALEN, "bgw_extra too small");

/* launcher: one worker number of one database */
typedef struct DbWorker
{
	int			slot;			/* shared slot, -1 when none */
	uint32		generation;		/* of the slot when we reserved it */
	BackgroundWorkerHandle *handle; /* NULL for adopted workers */
	TimestampTz reserved_at;
	TimestampTz retry_at;		/* no start before */
	uint64		starts;			/* carried from slot to slot */
} DbWorker;

typedef enum DbState
{
	DB_UNKNOWN,					/* probe: start worker 0 */
	DB_SERVING,					/* worker 0 found the extension */
	DB_ABSENT					/* no extension: probe at probe_at */
} DbState;

/* launcher: one database */
typedef struct DbEntry
{
	Oid			dboid;			/* hash key */
	char		name[NAMEDATALEN];
	bool		listed;			/* in the last read of pg_database */
	DbState		state;
	TimestampTz probe_at;
	int			backoff_s;
	TimestampTz woken_at;		/* last wake-up request for it */
	bool		warned;			/* a start failure was logged */
	DbWorker	w[FLOWDB_MAX_WORKERS];
} DbEntry;

static HTAB *dbs = NULL;
/*
 * slots a DbWorker still points to: not reused before it was reaped (its
 * exit reason and start count are read from the slot)
 */
static bool *slot_tracked = NULL;
static bool filter_warned = false;

/* worker side */
static FlowdbWorkerSlot *my_worker_slot = NULL;
static char my_dbname[NAMEDATALEN];

/* backend side: pending at commit */
static bool wake_db_at_commit = false;
static bool holding = false;

static object_access_hook_type prev_object_access_hook = NULL;
static ProcessUtility_hook_type prev_utility_hook = NULL;

static void hold_database_oid(Oid dboid, const char *why);
static void flowdb_object_access(ObjectAccessType access, Oid classId,
								 Oid objectId, int subId, void *arg);
static void flowdb_utility(PlannedStmt *pstmt, const char *queryString,
						   bool readOnlyTree, ProcessUtilityContext context,
						   ParamListInfo params, QueryEnvironment *queryEnv,
						   DestReceiver *dest, QueryCompletion *qc);

/*
 * set_launcher_latch
 *		Wake the launcher, if it runs.
 */
static void
set_launcher_latch(void)
{
	if (flowdb_shared != NULL && pg_atomic_read_u32(&flowdb_shared->launcher_pid) != 0)
		SetLatch(&ProcGlobal->allProcs[pg_atomic_read_u32(&flowdb_shared->launcher_procno)].procLatch);
}

/*
 * flowdb_shared_size
 *		Bytes of shared memory: the header and flowdb.max_workers slots.
 */
Size
flowdb_shared_size(void)
{
	return add_size(offsetof(FlowdbShared, slots),
					mul_size(sizeof(FlowdbWorkerSlot), flowdb_max_workers));
}

/*
 * flowdb_launcher_init
 *		At shared_preload_libraries time: register the launcher (when
 *		flowdb.workers > 0) and install the hooks that wake or hold it.
 */
void
flowdb_launcher_init(void)
{
	BackgroundWorker bw;

	prev_object_access_hook = object_access_hook;
	object_access_hook = flowdb_object_access;
	prev_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = flowdb_utility;

	if (flowdb_workers <= 0)
		return;
	memset(&bw, 0, sizeof(bw));
	bw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bw.bgw_restart_time = 1;
	snprintf(bw.bgw_library_name, BGW_MAXLEN, "flowdb");
	snprintf(bw.bgw_function_name, BGW_MAXLEN, "flowdb_launcher_main");
	snprintf(bw.bgw_name, BGW_MAXLEN, "flowdb launcher");
	snprintf(bw.bgw_type, BGW_MAXLEN, "flowdb launcher");
	RegisterBackgroundWorker(&bw);
}

/*
 * flowdb_launcher_wake
 *		Ask the launcher to look at a database now (InvalidOid: only read
 *		pg_database again).
 */
void
flowdb_launcher_wake(Oid dboid)
{
	if (flowdb_shared == NULL)
		return;
	SpinLockAcquire(&flowdb_shared->mutex);
	if (OidIsValid(dboid))
	{
		bool		queued = false;

		for (int i = 0; i < flowdb_shared->nwake; i++)
			if (flowdb_shared->wake[i] == dboid)
				queued = true;
		if (!queued && flowdb_shared->nwake < FLOWDB_WAKE_QUEUE)
			flowdb_shared->wake[flowdb_shared->nwake++] = dboid;
		else if (!queued)
			flowdb_shared->wake_overflow = true;
	}
	else
		flowdb_shared->wake_overflow = true;
	SpinLockRelease(&flowdb_shared->mutex);
	set_launcher_latch();
}

/*
 * flowdb_object_access
 *		Object access hook: a transaction that creates an extension wakes
 *		the launcher for this database when it commits (it may be flowdb,
 *		created in a database the launcher found without it).  Dropping
 *		flowdb (permission already checked) holds this database: its
 *		workers leave instead of failing on the tables being dropped.
 */
static void
flowdb_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					 int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	if (access == OAT_POST_CREATE && classId == ExtensionRelationId)
		wake_db_at_commit = true;
	if (access == OAT_DROP && classId == ExtensionRelationId &&
		objectId == get_extension_oid("flowdb", true))
		hold_database_oid(MyDatabaseId, "extension \"flowdb\" is to be dropped");
}

/*
 * hold_database_oid
 *		Keep the launcher away from a database until this transaction ends
 *		and tell its workers to leave at their next loop turn.
 */
static void
hold_database_oid(Oid dboid, const char *why)
{
	int			procnos[FLOWDB_MAX_TOTAL_WORKERS];
	int			n = 0;
	bool		held = false;

	if (flowdb_shared == NULL)
		return;

	SpinLockAcquire(&flowdb_shared->mutex);
	for (int i = 0; i < FLOWDB_MAX_HOLDS && !held; i++)
	{
		FlowdbHold *h = &flowdb_shared->holds[i];

		if (!OidIsValid(h->dboid))
		{
			h->dboid = dboid;
			h->holder = MyProcPid;
			held = true;
		}
	}
	for (int i = 0; i < flowdb_shared->nslots; i++)
	{
		FlowdbWorkerSlot *s = &flowdb_shared->slots[i];

		if (s->state != FLOWDB_SLOT_FREE && pg_atomic_read_u32(&s->dboid) == dboid)
		{
			s->stop = true;
			if (s->state == FLOWDB_SLOT_RUNNING)
				procnos[n++] = (int) pg_atomic_read_u32(&s->procno);
		}
	}
	SpinLockRelease(&flowdb_shared->mutex);
	holding = true;
	for (int i = 0; i < n; i++)
		SetLatch(&ProcGlobal->allProcs[procnos[i]].procLatch);
	if (n > 0)
		ereport(LOG,
				(errmsg("flowdb: stopping %d worker(s) of database %u: %s", n, dboid, why)));
}

/*
 * hold_database
 *		Hold a database that a statement needs to itself (DROP DATABASE,
 *		RENAME...), so that it does not wait for the workers.  Only for the
 *		database's owner (a superuser owns all): anybody else fails the
 *		statement anyway and must not be able to interrupt the workers.
 */
static void
hold_database(const char *dbname)
{
	Oid			dboid = get_database_oid(dbname, true);

	/* our own database: the statement fails whatever the workers do */
	if (!OidIsValid(dboid) || dboid == MyDatabaseId ||
		!pg_database_ownercheck(dboid, GetUserId()))
		return;
	hold_database_oid(dboid, psprintf("database \"%s\" is to be dropped, renamed, moved or copied",
									  dbname));
}

/*
 * flowdb_utility
 *		ProcessUtility hook: hold the database a statement needs to itself.
 */
static void
flowdb_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			   ProcessUtilityContext context, ParamListInfo params,
			   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *n = pstmt->utilityStmt;
	const char *dbname = NULL;
	ListCell   *lc;

	switch (nodeTag(n))
	{
		case T_DropdbStmt:
			dbname = ((DropdbStmt *) n)->dbname;
			break;
		case T_RenameStmt:
			if (((RenameStmt *) n)->renameType == OBJECT_DATABASE)
				dbname = ((RenameStmt *) n)->subname;
			break;
		case T_AlterDatabaseStmt:
			foreach(lc, ((AlterDatabaseStmt *) n)->options)
			{
				if (strcmp(((DefElem *) lfirst(lc))->defname, "tablespace") == 0)
					dbname = ((AlterDatabaseStmt *) n)->dbname;
			}
			break;
		case T_CreatedbStmt:
			foreach(lc, ((CreatedbStmt *) n)->options)
			{
				DefElem    *d = (DefElem *) lfirst(lc);

				if (strcmp(d->defname, "template") == 0 && d->arg != NULL)
					dbname = defGetString(d);
			}
			break;
		default:
			break;
	}
	if (dbname != NULL)
		hold_database(dbname);

	if (prev_utility_hook)
		prev_utility_hook(pstmt, queryString, readOnlyTree, context, params,
						  queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

/*
 * flowdb_launcher_xact_end
 *		Transaction end (flowdb.c's callback): release our holds, and on
 *		commit of a CREATE EXTENSION wake the launcher for this database.
 */
void
flowdb_launcher_xact_end(bool commit)
{
	if (holding && flowdb_shared != NULL)
	{
		Oid			released[FLOWDB_MAX_HOLDS];
		int			n = 0;

		SpinLockAcquire(&flowdb_shared->mutex);
		for (int i = 0; i < FLOWDB_MAX_HOLDS; i++)
		{
			FlowdbHold *h = &flowdb_shared->holds[i];

			if (OidIsValid(h->dboid) && h->holder == MyProcPid)
			{
				released[n++] = h->dboid;
				h->dboid = InvalidOid;
			}
		}
		SpinLockRelease(&flowdb_shared->mutex);
		holding = false;
		for (int i = 0; i < n; i++)
			flowdb_launcher_wake(released[i]);
	}
	if (wake_db_at_commit && commit && OidIsValid(MyDatabaseId))
		flowdb_launcher_wake(MyDatabaseId);
	wake_db_at_commit = false;
}

/* ------------------------------------------------------------------------
 * Worker side
 * ------------------------------------------------------------------------
 */

/*
 * worker_detach
 *		on_shmem_exit of a worker: free its slot and tell the launcher.
 */
static void
worker_detach(int code, Datum arg)
{
	if (my_worker_slot == NULL)
		return;
	SpinLockAcquire(&flowdb_shared->mutex);
	my_worker_slot->state = FLOWDB_SLOT_FREE;
	pg_atomic_write_u32(&my_worker_slot->pid, 0);
	SpinLockRelease(&flowdb_shared->mutex);
	my_worker_slot = NULL;
	set_launcher_latch();
}

/*
 * flowdb_worker_attach
 *		Start of a worker: take the slot the launcher reserved (bgw_extra)
 *		and connect to the database (bgw_main_arg).  A slot given away
 *		meanwhile (the launcher restarted) or a database being dropped:
 *		exit quietly.  Sets flowdb_my_slot to the worker's number.
 */
FlowdbWorkerSlot *
flowdb_worker_attach(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	WorkerExtra ex;
	FlowdbWorkerSlot *s;
	bool		ok;

	memcpy(&ex, MyBgworkerEntry->bgw_extra, sizeof(ex));
	if (flowdb_shared == NULL || ex.slot < 0 || ex.slot >= flowdb_shared->nslots)
		proc_exit(0);
	s = &flowdb_shared->slots[ex.slot];
	on_shmem_exit(worker_detach, (Datum) 0);

	SpinLockAcquire(&flowdb_shared->mutex);
	ok = s->state == FLOWDB_SLOT_RESERVED && s->generation == ex.generation &&
		!s->stop && pg_atomic_read_u32(&s->dboid) == dboid;
	if (ok)
	{
		s->state = FLOWDB_SLOT_RUNNING;
		pg_atomic_write_u32(&s->procno, MyProc->pgprocno);
		pg_atomic_write_u32(&s->pid, (uint32) MyProcPid);
		my_worker_slot = s;
		flowdb_my_slot = s->worker;
	}
	SpinLockRelease(&flowdb_shared->mutex);
	if (!ok)
	{
		elog(DEBUG1, "flowdb worker: slot %d was given away, exiting", ex.slot);
		proc_exit(0);
	}
	strlcpy(my_dbname, ex.dbname, sizeof(my_dbname));
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	return s;
}

/*
 * flowdb_worker_dbname
 *		Name of the worker's database, for messages ("" outside a worker).
 */
const char *
flowdb_worker_dbname(void)
{
	return my_dbname;
}

/*
 * flowdb_worker_serving
 *		The worker found the extension: count the start, let the launcher
 *		start the database's other workers.
 */
void
flowdb_worker_serving(void)
{
	static bool counted = false;

	if (my_worker_slot == NULL || counted)
		return;
	counted = true;
	SpinLockAcquire(&flowdb_shared->mutex);
	my_worker_slot->serving = true;
	SpinLockRelease(&flowdb_shared->mutex);
	pg_atomic_fetch_add_u64(&my_worker_slot->starts, 1);
	ereport(LOG,
			(errmsg("flowdb worker %d serving database \"%s\"", flowdb_my_slot, my_dbname)));
	set_launcher_latch();
}

/*
 * flowdb_worker_no_extension
 *		The extension is not installed (or was dropped, or is still being
 *		created): say so in the slot and exit; the launcher probes again
 *		later or when woken.
 */
void
flowdb_worker_no_extension(void)
{
	bool		was_serving = false;

	if (my_worker_slot != NULL)
	{
		SpinLockAcquire(&flowdb_shared->mutex);
		my_worker_slot->noext = true;
		was_serving = my_worker_slot->serving;
		SpinLockRelease(&flowdb_shared->mutex);
	}
	ereport(was_serving ? LOG : DEBUG1,
			(errmsg("flowdb worker %d: extension \"flowdb\" is not installed in database \"%s\", exiting",
					flowdb_my_slot, my_dbname)));
	proc_exit(0);
}

/*
 * flowdb_worker_heartbeat
 *		Called by a worker at every turn of its loop: leave when told to
 *		(the database is being dropped...), else record the time.
 */
void
flowdb_worker_heartbeat(void)
{
	volatile FlowdbWorkerSlot *s = my_worker_slot;

	if (s == NULL)
		return;
	if (s->stop)
	{
		ereport(LOG,
				(errmsg("flowdb worker %d of database \"%s\" stopping: the database or the extension is being dropped, or the database renamed, moved or copied",
						flowdb_my_slot, my_dbname)));
		proc_exit(0);
	}
	pg_atomic_write_u64(&my_worker_slot->heartbeat, (uint64) GetCurrentTimestamp());
}

/* ------------------------------------------------------------------------
 * Launcher
 * ------------------------------------------------------------------------
 */

/*
 * launcher_detach
 *		on_shmem_exit of the launcher: nobody is to set its latch.
 */
static void
launcher_detach(int code, Datum arg)
{
	pg_atomic_write_u32(&flowdb_shared->launcher_pid, 0);
}

/*
 * db_entry
 *		The launcher's entry of a database, created empty if new.
 */
static DbEntry *
db_entry(Oid dboid)
{
	bool		found;
	DbEntry    *e = hash_search(dbs, &dboid, HASH_ENTER, &found);

	if (!found)
	{
		memset(((char *) e) + sizeof(Oid), 0, sizeof(DbEntry) - sizeof(Oid));
		e->state = DB_UNKNOWN;
		e->backoff_s = PROBE_MIN_S;
		for (int i = 0; i < FLOWDB_MAX_WORKERS; i++)
			e->w[i].slot = -1;
	}
	return e;
}

/*
 * adopt_slots
 *		Launcher start: free the reservations a previous launcher left
 *		(their workers, should they start late, find a new generation and
 *		exit) and adopt the workers still running.
 */
static void
adopt_slots(void)
{
	struct
	{
		Oid			dboid;
		int			worker;
		uint32		generation;
		bool		serving;
	}		   *run = palloc(sizeof(*run) * flowdb_shared->nslots);

	SpinLockAcquire(&flowdb_shared->mutex);
	for (int i = 0; i < flowdb_shared->nslots; i++)
	{
		FlowdbWorkerSlot *s = &flowdb_shared->slots[i];

		run[i].dboid = InvalidOid;
		if (s->state == FLOWDB_SLOT_RESERVED)
		{
			s->state = FLOWDB_SLOT_FREE;
			s->generation++;
		}
		else if (s->state == FLOWDB_SLOT_RUNNING)
		{
			run[i].dboid = pg_atomic_read_u32(&s->dboid);
			run[i].worker = s->worker;
			run[i].generation = s->generation;
			run[i].serving = s->serving;
		}
	}
	SpinLockRelease(&flowdb_shared->mutex);

	for (int i = 0; i < flowdb_shared->nslots; i++)
	{
		DbEntry    *e;

		if (!OidIsValid(run[i].dboid) || run[i].worker < 0 ||
			run[i].worker >= FLOWDB_MAX_WORKERS)
			continue;
		e = db_entry(run[i].dboid);
		slot_tracked[i] = true;
		e->w[run[i].worker].slot = i;
		e->w[run[i].worker].generation = run[i].generation;
		if (run[i].serving)
			e->state = DB_SERVING;
	}
	pfree(run);
}

/*
 * list_databases
 *		Read pg_database: every database that allows connections, is no
 *		template, is valid and passes flowdb.database_name.
 */
static void
list_databases(void)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	HASH_SEQ_STATUS seq;
	DbEntry    *e;
	bool		filter_found = false;

	hash_seq_init(&seq, dbs);
	while ((e = hash_seq_search(&seq)) != NULL)
		e->listed = false;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database d = (Form_pg_database) GETSTRUCT(tup);

		if (!d->datallowconn || d->datistemplate || database_is_invalid_form(d))
			continue;
		if (flowdb_database_name != NULL && flowdb_database_name[0] != '\0' &&
			strcmp(NameStr(d->datname), flowdb_database_name) != 0)
			continue;
		filter_found = true;
		e = db_entry(d->oid);
		strlcpy(e->name, NameStr(d->datname), NAMEDATALEN);
		e->listed = true;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();

	if (flowdb_database_name != NULL && flowdb_database_name[0] != '\0')
	{
		if (!filter_found && !filter_warned)
		{
			ereport(WARNING,
					(errcode(ERRCODE_UNDEFINED_DATABASE),
					 errmsg("flowdb: database \"%s\" (flowdb.database_name) does not exist or does not allow connections",
							flowdb_database_name),
					 errhint("flowdb serves it once it exists and has the extension (CREATE DATABASE, then CREATE EXTENSION flowdb there). "
							 "Leave flowdb.database_name empty to serve every database that has the extension.")));
			filter_warned = true;
		}
		else if (filter_found && filter_warned)
		{
			ereport(LOG,
					(errmsg("flowdb: database \"%s\" exists now", flowdb_database_name)));
			filter_warned = false;
		}
	}

	/* forget databases gone (or filtered out) once their workers left */
	hash_seq_init(&seq, dbs);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		bool		busy = false;

		for (int i = 0; i < FLOWDB_MAX_WORKERS; i++)
			if (e->w[i].slot >= 0)
				busy = true;
		if (!e->listed && !busy)
			(void) hash_search(dbs, &e->dboid, HASH_REMOVE, NULL);
	}
}

/*
 * take_wake_requests
 *		Empty the shared wake-up queue: a woken database without the
 *		extension is probed at once, and a probe that started before the
 *		wake-up is not trusted (see reap_workers).  True when anything
 *		was queued (then pg_database is read again: the database may be
 *		new).
 */
static bool
take_wake_requests(TimestampTz now)
{
	Oid			wake[FLOWDB_WAKE_QUEUE];
	int			n;
	bool		overflow;

	SpinLockAcquire(&flowdb_shared->mutex);
	n = flowdb_shared->nwake;
	memcpy(wake, flowdb_shared->wake, sizeof(Oid) * n);
	overflow = flowdb_shared->wake_overflow;
	flowdb_shared->nwake = 0;
	flowdb_shared->wake_overflow = false;
	SpinLockRelease(&flowdb_shared->mutex);

	for (int i = 0; i < n; i++)
	{
		DbEntry    *e = hash_search(dbs, &wake[i], HASH_FIND, NULL);

		if (e == NULL)
			continue;
		e->woken_at = now;
		if (e->state == DB_ABSENT)
		{
			e->state = DB_UNKNOWN;
			e->backoff_s = PROBE_MIN_S;
		}
		else if (e->state == DB_SERVING)
		{
			bool		any = false;

			/* all left (a hold ended, the extension may be gone): probe */
			for (int k = 0; k < FLOWDB_MAX_WORKERS; k++)
				if (e->w[k].slot >= 0)
					any = true;
			if (!any)
				e->state = DB_UNKNOWN;
		}
	}
	if (overflow)
	{
		HASH_SEQ_STATUS seq;
		DbEntry    *e;

		hash_seq_init(&seq, dbs);
		while ((e = hash_seq_search(&seq)) != NULL)
		{
			e->woken_at = now;
			if (e->state == DB_ABSENT)
				e->state = DB_UNKNOWN;
		}
	}
	return n > 0 || overflow;
}

/*
 * reap_workers
 *		Notice workers that left: a registration that never started, a
 *		worker that found no extension (the database is probed again later,
 *		or at once when a wake-up came after the probe started), or one
 *		that failed (started again after RESTART_DELAY_MS).  Worker 0
 *		serving marks its database served.
 */
static void
reap_workers(TimestampTz now)
{
	HASH_SEQ_STATUS seq;
	DbEntry    *e;

	hash_seq_init(&seq, dbs);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		for (int i = 0; i < FLOWDB_MAX_WORKERS; i++)
		{
			DbWorker   *w = &e->w[i];
			FlowdbWorkerSlot *s;
			bool		stopped = false;
			bool		gone;
			bool		noext;
			bool		serving;
			pid_t		pid;

			if (w->slot < 0)
				continue;
			s = &flowdb_shared->slots[w->slot];
			if (w->handle != NULL &&
				GetBackgroundWorkerPid(w->handle, &pid) == BGWH_STOPPED)
				stopped = true;

			SpinLockAcquire(&flowdb_shared->mutex);
			if (stopped && s->generation == w->generation &&
				s->state == FLOWDB_SLOT_RESERVED)
			{
				/* it never attached and never will */
				s->state = FLOWDB_SLOT_FREE;
				s->generation++;
			}
			gone = s->generation != w->generation || s->state == FLOWDB_SLOT_FREE;
			noext = s->noext;
			serving = s->serving;
			SpinLockRelease(&flowdb_shared->mutex);

			if (!gone)
			{
				if (serving && i == 0 && e->state != DB_SERVING)
				{
					e->state = DB_SERVING;
					e->backoff_s = PROBE_MIN_S;
				}
				continue;
			}
			w->starts = pg_atomic_read_u64(&s->starts);
			slot_tracked[w->slot] = false;
			w->slot = -1;
			if (w->handle != NULL)
				pfree(w->handle);
			w->handle = NULL;
			if (noext && e->woken_at < w->reserved_at)
			{
				e->state = DB_ABSENT;
				e->probe_at = TimestampTzPlusMilliseconds(now, e->backoff_s * 1000L);
				e->backoff_s = Min(e->backoff_s * 2, PROBE_MAX_S);
			}
			else if (noext)
				e->state = DB_UNKNOWN;
			else
				w->retry_at = TimestampTzPlusMilliseconds(now, RESTART_DELAY_MS);
		}
	}
}

/*
 * start_worker
 *		Reserve a slot for worker `i` of a database and register it.  On
 *		failure say why (once until a start succeeds) and return false.
 */
static bool
start_worker(DbEntry *e, int i, TimestampTz now)
{
	BackgroundWorker bw;
	BackgroundWorkerHandle *handle;
	WorkerExtra ex;
	FlowdbWorkerSlot *s = NULL;
	int			slot = -1;
	uint32		gen = 0;

	SpinLockAcquire(&flowdb_shared->mutex);
	for (int k = 0; k < flowdb_shared->nslots; k++)
	{
		s = &flowdb_shared->slots[k];
		if (s->state != FLOWDB_SLOT_FREE || slot_tracked[k])
			continue;
		slot = k;
		s->state = FLOWDB_SLOT_RESERVED;
		gen = ++s->generation;
		s->worker = i;
		s->serving = false;
		s->noext = false;
		s->stop = false;
		pg_atomic_write_u32(&s->dboid, e->dboid);
		pg_atomic_write_u32(&s->pid, 0);
		pg_atomic_write_u64(&s->claimed, 0);
		pg_atomic_write_u64(&s->steps, 0);
		pg_atomic_write_u64(&s->commits, 0);
		pg_atomic_write_u64(&s->wakeups, 0);
		pg_atomic_write_u64(&s->heartbeat, 0);
		pg_atomic_write_u64(&s->starts, e->w[i].starts);
		break;
	}
	SpinLockRelease(&flowdb_shared->mutex);

	if (slot < 0)
	{
		if (!e->warned)
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("flowdb: cannot start worker %d of database \"%s\": all %d worker slots are in use",
							i, e->name, flowdb_shared->nslots),
					 errdetail("flowdb.max_workers caps the workers of all databases together; flowdb.workers is per database."),
					 errhint("Raise flowdb.max_workers (and max_worker_processes with it) and restart the server, or lower flowdb.workers.")));
		e->warned = true;
		return false;
	}

	memset(&bw, 0, sizeof(bw));
	bw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bw.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(bw.bgw_library_name, BGW_MAXLEN, "flowdb");
	snprintf(bw.bgw_function_name, BGW_MAXLEN, "flowdb_worker_main");
	snprintf(bw.bgw_name, BGW_MAXLEN, "flowdb worker %d of database %s", i, e->name);
	snprintf(bw.bgw_type, BGW_MAXLEN, "flowdb worker");
	bw.bgw_main_arg = ObjectIdGetDatum(e->dboid);
	bw.bgw_notify_pid = MyProcPid;
	memset(&ex, 0, sizeof(ex));
	ex.slot = slot;
	ex.generation = gen;
	strlcpy(ex.dbname, e->name, sizeof(ex.dbname));
	memcpy(bw.bgw_extra, &ex, sizeof(ex));

	if (!RegisterDynamicBackgroundWorker(&bw, &handle))
	{
		SpinLockAcquire(&flowdb_shared->mutex);
		s->state = FLOWDB_SLOT_FREE;
		s->generation++;
		SpinLockRelease(&flowdb_shared->mutex);
		if (!e->warned)
			ereport(WARNING,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("flowdb: cannot start worker %d of database \"%s\": no background worker slot is free",
							i, e->name),
					 errdetail("max_worker_processes (%d) limits all background workers: the flowdb launcher, the flowdb workers of every database and parallel query workers.",
							   max_worker_processes),
					 errhint("Raise max_worker_processes to at least flowdb.max_workers + 1 plus max_parallel_workers and restart the server. "
							 "flowdb tries again every %d s.", REGISTER_RETRY_MS / 1000)));
		e->warned = true;
		return false;
	}
	e->warned = false;
	slot_tracked[slot] = true;
	e->w[i].slot = slot;
	e->w[i].generation = gen;
	e->w[i].handle = handle;
	e->w[i].reserved_at = now;
	return true;
}

/*
 * start_workers
 *		Start what is missing, worker number by worker number across the
 *		databases (every database gets its worker 0 before any gets a
 *		worker 1).  Returns how long the launcher may sleep (ms).
 */
static long
start_workers(TimestampTz now)
{
	FlowdbHold	holds[FLOWDB_MAX_HOLDS];
	long		sleep_ms = LIST_INTERVAL_MS;

	SpinLockAcquire(&flowdb_shared->mutex);
	memcpy(holds, flowdb_shared->holds, sizeof(holds));
	SpinLockRelease(&flowdb_shared->mutex);

	for (int i = 0; i < flowdb_workers && i < FLOWDB_MAX_WORKERS; i++)
	{
		HASH_SEQ_STATUS seq;
		DbEntry    *e;

		hash_seq_init(&seq, dbs);
		while ((e = hash_seq_search(&seq)) != NULL)
		{
			DbWorker   *w = &e->w[i];
			bool		held = false;

			if (!e->listed || w->slot >= 0)
				continue;
			for (int h = 0; h < FLOWDB_MAX_HOLDS; h++)
				if (holds[h].dboid == e->dboid)
					held = true;
			if (held)
				continue;
			if (e->state == DB_ABSENT)
			{
				if (now < e->probe_at)
				{
					sleep_ms = Min(sleep_ms, (long) ((e->probe_at - now) / 1000) + 1);
					continue;
				}
				e->state = DB_UNKNOWN;
			}
			if (i > 0 && e->state != DB_SERVING)
				continue;
			if (now < w->retry_at)
			{
				sleep_ms = Min(sleep_ms, (long) ((w->retry_at - now) / 1000) + 1);
				continue;
			}
			if (!start_worker(e, i, now))
			{
				w->retry_at = TimestampTzPlusMilliseconds(now, REGISTER_RETRY_MS);
				sleep_ms = Min(sleep_ms, REGISTER_RETRY_MS);
			}
		}
	}
	return sleep_ms;
}

/*
 * flowdb_launcher_main
 *		Entry point of the launcher (see the file header).
 */
void
flowdb_launcher_main(Datum arg)
{
	HASHCTL		ctl;
	TimestampTz next_list = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("flowdb launcher");

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(DbEntry);
	dbs = hash_create("flowdb launcher databases", 16, &ctl, HASH_ELEM | HASH_BLOBS);
	slot_tracked = MemoryContextAllocZero(TopMemoryContext,
										  sizeof(bool) * flowdb_shared->nslots);

	pg_atomic_write_u32(&flowdb_shared->launcher_procno, MyProc->pgprocno);
	pg_atomic_write_u32(&flowdb_shared->launcher_pid, (uint32) MyProcPid);
	on_shmem_exit(launcher_detach, (Datum) 0);
	adopt_slots();

	for (;;)
	{
		TimestampTz now;
		long		sleep_ms = LIST_INTERVAL_MS;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/* pg_upgrade runs the server in binary upgrade mode: stay idle */
		if (!IsBinaryUpgrade)
		{
			now = GetCurrentTimestamp();
			if (take_wake_requests(now) || now >= next_list)
			{
				list_databases();
				next_list = TimestampTzPlusMilliseconds(now, LIST_INTERVAL_MS);
			}
			reap_workers(now);
			sleep_ms = start_workers(now);
			sleep_ms = Min(sleep_ms, (long) ((next_list - now) / 1000) + 1);
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(sleep_ms, 1), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
