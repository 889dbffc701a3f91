/*-------------------------------------------------------------------------
 *
 * worker_settings.c
 *	  Settings only the background workers read (flowdb.sandbox,
 *	  flowdb.allow_private_hosts, flowdb.llm_model, flowdb.<service>_base_url)
 *	  are PGC_SUSET, so a superuser may SET them in a session, where they
 *	  change nothing: the workers have their own sessions and read the
 *	  server configuration.  A newcomer who runs SET flowdb.sandbox = on
 *	  and then starts a run would believe it sandboxed.  The check hooks of
 *	  these settings call worker_setting_warn, which warns when the change
 *	  comes from a session of a client backend, and says how to change the
 *	  setting for the workers (ALTER SYSTEM ...; SELECT pg_reload_conf();).
 *
 *	  Check hooks are not told which setting they check, so the base URL
 *	  settings (one per service) each get one of a fixed set of hooks,
 *	  bound to the setting's name by worker_setting_string_hook.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"

#include "worker_settings.h"

/*
 * worker_setting_warn
 *		WARNING 01000 when a client backend's session sets name (SET,
 *		SET LOCAL, set_config, a function's SET clause): the workers do not
 *		see it.  Configuration file reloads, ALTER SYSTEM / ALTER DATABASE
 *		validation, the postmaster and background workers stay silent.
 */
void
worker_setting_warn(const char *name, const char *value, GucSource source,
					const char *extra_hint)
{
	StringInfoData hint;

	if (source < PGC_S_INTERACTIVE || source == PGC_S_TEST)
		return;
	if (!IsUnderPostmaster || MyBackendType != B_BACKEND)
		return;

	initStringInfo(&hint);
	appendStringInfo(&hint, "To change it for the workers: ALTER SYSTEM SET %s = ", name);
	/* the value as a SQL literal: quotes doubled */
	appendStringInfoChar(&hint, '\'');
	for (const char *p = value ? value : ""; *p; p++)
	{
		if (*p == '\'')
			appendStringInfoChar(&hint, '\'');
		appendStringInfoChar(&hint, *p);
	}
	appendStringInfoString(&hint, "'; SELECT pg_reload_conf();");
	if (extra_hint)
		appendStringInfo(&hint, " %s", extra_hint);

	ereport(WARNING,
			(errcode(ERRCODE_WARNING),
			 errmsg("SET %s changes only this session, not the flowdb workers", name),
			 errdetail("The background workers that run flows read %s from the server configuration.",
					   name),
			 errhint("%s", hint.data)));
	pfree(hint.data);
}

/* base URL settings and any other plain string setting: one hook each */
#define MAX_STRING_HOOKS 16

static const char *hooked_names[MAX_STRING_HOOKS];
static int	nhooked = 0;

/*
 * check_hooked_string
 *		The body of hook number n: warn, accept every value.
 */
static bool
check_hooked_string(int n, char **newval, GucSource source)
{
	worker_setting_warn(hooked_names[n], *newval, source, NULL);
	return true;
}

/*
 * check_string_<n>
 *		Hook number n (one function per slot, since a check hook cannot
 *		tell which setting it checks): check_hooked_string(n, ...).
 */
#define STRING_HOOK(n) \
static bool \
check_string_##n(char **newval, void **extra, GucSource source) \
{ \
	return check_hooked_string(n, newval, source); \
}

STRING_HOOK(0)
STRING_HOOK(1)
STRING_HOOK(2)
STRING_HOOK(3)
STRING_HOOK(4)
STRING_HOOK(5)
STRING_HOOK(6)
STRING_HOOK(7)
STRING_HOOK(8)
STRING_HOOK(9)
STRING_HOOK(10)
STRING_HOOK(11)
STRING_HOOK(12)
STRING_HOOK(13)
STRING_HOOK(14)
STRING_HOOK(15)

static const GucStringCheckHook string_hooks[MAX_STRING_HOOKS] = {
	check_string_0, check_string_1, check_string_2, check_string_3,
	check_string_4, check_string_5, check_string_6, check_string_7,
	check_string_8, check_string_9, check_string_10, check_string_11,
	check_string_12, check_string_13, check_string_14, check_string_15
};

/*
 * worker_setting_string_hook
 *		A check hook bound to name (see the file header); NULL when all are
 *		taken (sql/170_settings.sql checks that every base URL setting
 *		warns, so running out shows there).
 */
GucStringCheckHook
worker_setting_string_hook(const char *name)
{
	if (nhooked >= MAX_STRING_HOOKS)
		return NULL;
	hooked_names[nhooked] = name;
	return string_hooks[nhooked++];
}
