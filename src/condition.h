/*-------------------------------------------------------------------------
 *
 * condition.h
 *	  Edge conditions as data: {"left", "op", "right"} and all/any/not.
 *
 * Leaf:     {"left": <value>, "op": "<op>", "right": <value>}
 *           left/right are JSON values; strings may contain templates,
 *           rendered with tmpl_* against the run context.
 * Combined: {"all": [cond...]}, {"any": [cond...]}, {"not": cond}
 *
 * Ops: eq ne gt gte lt lte contains starts_with ends_with in exists empty
 * matches.  "exists" and "empty" take no right.  Numbers compare as
 * numbers, strings as strings; ordering ops on a number and a string (or
 * other mismatched types) are an error naming both types.  eq/ne compare
 * JSON values deeply and error on number-vs-string.  contains: substring
 * on strings, membership on arrays, key on objects.  in: left is an
 * element of right (an array).  exists: left is one template whose path
 * resolves (a missing path is false, not an error).  empty: null, "", [],
 * {} or missing.  matches: POSIX extended regex (right) against a string.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_CONDITION_H
#define FLOWDB_CONDITION_H

#include "fjson.h"

/*
 * Check a condition's shape; each problem is added to errs with its path
 * (path is the JSON path of cond itself, e.g. "$.edges[1].condition").
 * Template syntax and roots inside left/right are checked too.
 */
extern void cond_validate(const cJSON *cond, const char *path, FdbErrors *errs);

/*
 * Bounds on "matches" (glibc's matcher cannot be interrupted and some
 * patterns take time quadratic in the subject's length):
 * cond_max_subject: longest subject in bytes, 0 = no limit (the backend
 * sets it from flowdb.max_regex_subject);
 * cond_regex_budget: bytes of subject that "matches" may still scan, -1 =
 * no limit; the worker sets it before advancing each run, so one run's
 * conditions scan a bounded amount in one step.  Passing either is an
 * evaluation error.
 */
extern size_t cond_max_subject;
extern long cond_regex_budget;

/*
 * The matcher "matches" uses once the pattern passed the checks above
 * (length and cost; without a matcher also glibc's regcomp): NULL = glibc's
 * regexec.  The backend installs PostgreSQL's own engine, which is linear
 * on hostile patterns, acts on pending interrupts (SIGTERM) and reports
 * patterns it refuses, so that glibc compiles nothing at run time.
 * Returns 1 on a match, 0 on none, -1 with err set on an error.
 */
typedef int (*CondRegexMatcher) (const char *subject, size_t len,
								 const char *pattern, char *err, size_t errlen);
extern CondRegexMatcher cond_regex_matcher;

/*
 * How the validator checks a literal pattern's syntax once it passed the
 * length and cost limits: NULL = glibc's regcomp (as a POSIX ERE).  The
 * backend installs PostgreSQL's engine, the one that runs the pattern,
 * which heeds interrupts.  true when it compiles, else false with msg set.
 */
typedef bool (*CondRegexCompiles) (const char *pattern, char *msg, size_t msglen);
extern CondRegexCompiles cond_regex_compiles;

/* Evaluate: 1 true, 0 false, -1 error (err set). */
extern int	cond_eval(const cJSON *cond, const cJSON *ctx, char *err, size_t errlen);

#endif							/* FLOWDB_CONDITION_H */
