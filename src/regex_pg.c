/*-------------------------------------------------------------------------
 *
 * regex_pg.c
 *	  The condition operator "matches" on PostgreSQL's regular expression
 *	  engine (installed as cond_regex_matcher, see condition.h).
 *
 * glibc's regexec cannot be interrupted and takes time quadratic in the
 * subject's length on patterns like (a|aa)*c.  PostgreSQL's engine is a
 * DFA/NFA hybrid that handles those in linear time, and it returns
 * REG_CANCEL when an interrupt (SIGTERM, a cancel) is pending, so the
 * worker keeps answering signals (CHECK_FOR_INTERRUPTS acts on it).  Patterns are compiled as AREs, a
 * superset of the POSIX EREs the validator accepts (\d, \w and \s work as
 * with glibc's extensions).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "regex/regex.h"

#include "flowdb.h"
#include "condition.h"

/*
 * to_wchar
 *		The string as pg_wchar in the database encoding (palloc'd); *wlen
 *		gets its length.
 */
static pg_wchar *
to_wchar(const char *s, size_t len, int *wlen)
{
	pg_wchar   *w = palloc((len + 1) * sizeof(pg_wchar));

	*wlen = pg_mb2wchar_with_len(s, w, (int) len);
	return w;
}

/*
 * compile_pattern
 *		Compile pattern as an ARE into *re (the caller frees it with
 *		pg_regfree); false with msg set when PostgreSQL refuses it.  A
 *		pending interrupt (the engine returns REG_CANCEL) is acted on here.
 */
static bool
compile_pattern(const char *pattern, regex_t *re, char *msg, size_t msglen)
{
	pg_wchar   *wpat;
	int			wplen;
	int			rc;

	wpat = to_wchar(pattern, strlen(pattern), &wplen);
	rc = pg_regcomp(re, wpat, wplen, REG_ADVANCED | REG_NOSUB, C_COLLATION_OID);
	pfree(wpat);
	if (rc == REG_CANCEL)
		CHECK_FOR_INTERRUPTS();
	if (rc != REG_OKAY)
	{
		pg_regerror(rc, re, msg, msglen);
		return false;
	}
	return true;
}

/*
 * flowdb_regex_compiles
 *		CondRegexCompiles on PostgreSQL's engine, as the matcher compiles:
 *		the validator's syntax check.
 */
bool
flowdb_regex_compiles(const char *pattern, char *msg, size_t msglen)
{
	regex_t		re;

	if (!compile_pattern(pattern, &re, msg, msglen))
		return false;
	pg_regfree(&re);
	return true;
}

/*
 * flowdb_regex_match
 *		CondRegexMatcher on PostgreSQL's engine: 1 match, 0 none, -1 with
 *		err set (a pattern PostgreSQL refuses).
 */
int
flowdb_regex_match(const char *subject, size_t len, const char *pattern,
				   char *err, size_t errlen)
{
	regex_t		re;
	pg_wchar   *wsub;
	int			wslen;
	int			rc;
	char		msg[256];

	if (!compile_pattern(pattern, &re, msg, sizeof(msg)))
	{
		snprintf(err, errlen, "invalid regular expression: %s", msg);
		return -1;
	}
	wsub = to_wchar(subject, len, &wslen);

	/*
	 * REG_CANCEL: an interrupt is pending.  Act on it here (SIGTERM ends
	 * the process, a cancel raises an ERROR); anything else (a barrier, a
	 * config reload) is handled and the match starts again.
	 */
	for (int tries = 0;; tries++)
	{
		rc = pg_regexec(&re, wsub, wslen, 0, NULL, 0, NULL, 0);
		if (rc != REG_CANCEL || tries >= 10)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	pfree(wsub);
	if (rc != REG_OKAY && rc != REG_NOMATCH)
		pg_regerror(rc, &re, msg, sizeof(msg));
	pg_regfree(&re);
	if (rc == REG_OKAY)
		return 1;
	if (rc == REG_NOMATCH)
		return 0;
	if (rc == REG_CANCEL)
		snprintf(err, errlen, "regular expression evaluation was interrupted");
	else
		snprintf(err, errlen, "regular expression could not be evaluated: %s", msg);
	return -1;
}
