/*-------------------------------------------------------------------------
 *
 * schedule_tz.c
 *	  Time zones of schedule triggers: whether a zone exists (the hook
 *	  bp_validate calls, with a "did you mean" from the zone database) and
 *	  cron matching in a zone for flowdb.fire_schedules.
 *
 * A schedule's cron fields are wall-clock fields in its time zone (UTC
 * when it names none).  Like cron, a local time that a daylight saving
 * jump skips never matches, and one that occurs twice matches twice.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "blueprint.h"
#include "cron.h"
#include "flowdb.h"
#include "suggest.h"

/* zone names compared for a suggestion (the database has about 600) */
#define TZ_MAX_SUGGEST 2000

/*
 * lookup_zone
 *		The zone called name, or NULL when the database has none by that
 *		name (or only a leap-second one, which PostgreSQL refuses too).
 */
static pg_tz *
lookup_zone(const char *name)
{
	pg_tz	   *tz = pg_tzset(name);

	if (tz == NULL || !pg_tz_acceptable(tz))
		return NULL;
	return tz;
}

/*
 * flowdb_timezone_known
 *		bp_timezone_hook: does the zone exist?  When not, hint gets the
 *		closest zone name of the database, if one is close.
 */
bool
flowdb_timezone_known(const char *name, char *hint, size_t hintlen)
{
	pg_tzenum  *e;
	pg_tz	   *tz;
	const char **names;
	int			n = 0;
	const char *near;

	if (lookup_zone(name) != NULL)
		return true;
	names = palloc(sizeof(char *) * TZ_MAX_SUGGEST);
	e = pg_tzenumerate_start();
	while (n < TZ_MAX_SUGGEST && (tz = pg_tzenumerate_next(e)) != NULL)
		names[n++] = pstrdup(pg_get_timezone_name(tz));
	pg_tzenumerate_end(e);
	near = fdb_closest(name, names, n);
	if (near != NULL)
		snprintf(hint, hintlen, " (did you mean \"%s\"?)", near);
	else
		snprintf(hint, hintlen, " (an IANA name such as \"Asia/Kolkata\" or \"UTC\": see pg_timezone_names)");
	for (int i = 0; i < n; i++)
		pfree((char *) names[i]);
	pfree(names);
	return false;
}

FLOWDB_FUNCTION_INFO_V1(flowdb_cron_matches_tz);

/*
 * flowdb_cron_matches_tz
 *		cron_matches(expr text, at timestamptz, timezone text) returns
 *		boolean: does the expression match the wall-clock minute of at in
 *		that zone?
 */
Datum
flowdb_cron_matches_tz(PG_FUNCTION_ARGS)
{
	char	   *expr = text_to_cstring(PG_GETARG_TEXT_PP(0));
	TimestampTz at = PG_GETARG_TIMESTAMPTZ(1);
	char	   *zone = text_to_cstring(PG_GETARG_TEXT_PP(2));
	pg_tz	   *tz = lookup_zone(zone);
	CronSpec	spec;
	char		err[256];
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;

	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", zone),
				 errhint("Use a name from pg_timezone_names, such as \"Asia/Kolkata\" or \"UTC\".")));
	if (!cron_parse(expr, &spec, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cron expression \"%s\": %s", expr, err)));
	if (timestamp2tm(at, &tzoff, &tm, &fsec, NULL, tz) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	PG_RETURN_BOOL(cron_matches(&spec, tm.tm_min, tm.tm_hour, tm.tm_mday,
								tm.tm_mon, j2day(date2j(tm.tm_year, tm.tm_mon, tm.tm_mday))));
}
