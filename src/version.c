/*-------------------------------------------------------------------------
 *
 * version.c
 *	  The worker's check that the library and the installed extension
 *	  agree on the version.
 *
 * The library (flowdb.so, loaded at server start) and the SQL objects
 * (created by CREATE EXTENSION / ALTER EXTENSION UPDATE in a database) are
 * upgraded separately: after installing a new build and restarting, the
 * database still holds the previous version's schema until someone runs
 * ALTER EXTENSION flowdb UPDATE.  The worker's queries are written for
 * its own version's schema, so until the versions agree it processes no
 * runs, says once in the log what to run, and checks again at every
 * readiness check (worker.c, extension_ready).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "flowdb.h"
#include "version.h"

#ifndef FLOWDB_VERSION
#error "FLOWDB_VERSION must be defined (the Makefile passes EXTVERSION)"
#endif

const char *const flowdb_library_version = FLOWDB_VERSION;

/* a mismatch was reported and has not been resolved since */
static bool mismatch_told = false;

/*
 * installed_version
 *		pg_extension.extversion of extension extoid, palloc'd; NULL when
 *		the extension does not exist (any more).
 */
static char *
installed_version(Oid extoid)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *version = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = text_to_cstring(DatumGetTextPP(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

/*
 * flowdb_extension_version_matches
 *		See version.h.  The WARNING comes once per mismatch (not at every
 *		check); when the versions agree again, a LOG line says the worker
 *		resumes.
 */
bool
flowdb_extension_version_matches(Oid extoid)
{
	char	   *installed = installed_version(extoid);

	if (installed == NULL)
		return false;
	if (strcmp(installed, flowdb_library_version) == 0)
	{
		if (mismatch_told)
			ereport(LOG,
					(errmsg("flowdb worker %d: extension flowdb is now version %s in database \"%s\", as the library: processing runs",
							flowdb_my_slot, installed, flowdb_worker_dbname())));
		mismatch_told = false;
		pfree(installed);
		return true;
	}
	if (!mismatch_told)
	{
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("flowdb worker %d: the flowdb library is version %s but database \"%s\" has extension flowdb version %s: no runs are processed until they agree",
						flowdb_my_slot, flowdb_library_version,
						flowdb_worker_dbname(), installed),
				 errhint("Run ALTER EXTENSION flowdb UPDATE; in database \"%s\" (no restart needed: the worker checks again every second). "
						 "If it reports no update path, the installed extension is newer than this library: install the matching flowdb build and restart the server.",
						 flowdb_worker_dbname())));
		mismatch_told = true;
	}
	pfree(installed);
	return false;
}
