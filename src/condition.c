/*-------------------------------------------------------------------------
 *
 * condition.c
 *	  Edge conditions as data: validation and evaluation (pure C).
 *
 * A condition is a leaf {"left", "op", "right"} or a combination
 * {"all": [...]}, {"any": [...]}, {"not": {...}}.  left and right are JSON
 * values whose strings may contain templates; they are rendered with
 * tmpl_render against the run context (a whole template keeps the
 * referenced value's type) before comparing.  See condition.h.
 *
 * Pure C: libc and cJSON only, malloc/free, no longjmp.
 *
 *-------------------------------------------------------------------------
 */
#include "condition.h"
#include "suggest.h"
#include "template.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deepest nesting of condition nodes (the root is level 1). */
#define COND_MAX_DEPTH 32

/* Deepest nesting of arrays/objects inside left/right that we scan. */
#define COND_MAX_VALUE_DEPTH 1100

/* Bounds on "matches" subjects (see condition.h). */
size_t		cond_max_subject = 0;
long		cond_regex_budget = -1;
CondRegexMatcher cond_regex_matcher = NULL;
CondRegexCompiles cond_regex_compiles = NULL;

/* Longest regular expression accepted by "matches". */
#define COND_MAX_REGEX_LEN 1024

/*
 * Cap on the product of nested {m,n} bounds in a regex, and on their sum
 * over the whole pattern: glibc expands bounded repetitions when compiling,
 * so "((a{99}){99}){99}" would take hundreds of MB.
 */
#define COND_MAX_REGEX_REPEAT 1000
#define COND_MAX_REGEX_EXPANSION 20000

/* Deepest parenthesis nesting accepted in a regex. */
#define COND_MAX_REGEX_GROUPS 64

/* Longest excerpt of user text or values quoted in messages. */
#define COND_SHOW_LEN 60

typedef enum CondOp
{
	OP_EQ,
	OP_NE,
	OP_GT,
	OP_GTE,
	OP_LT,
	OP_LTE,
	OP_CONTAINS,
	OP_STARTS_WITH,
	OP_ENDS_WITH,
	OP_IN,
	OP_EXISTS,
	OP_EMPTY,
	OP_MATCHES,
	OP_UNKNOWN
} CondOp;

static const char *const cond_op_names[] = {
	"eq", "ne", "gt", "gte", "lt", "lte", "contains", "starts_with",
	"ends_with", "in", "exists", "empty", "matches"
};

#define COND_NOPS ((int) (sizeof(cond_op_names) / sizeof(cond_op_names[0])))

/*
 * op_from_name
 *		Map an operator name to CondOp (OP_UNKNOWN when not known).
 */
static CondOp
op_from_name(const char *name)
{
	int			i;

	if (name == NULL)
		return OP_UNKNOWN;
	for (i = 0; i < (int) (sizeof(cond_op_names) / sizeof(cond_op_names[0])); i++)
	{
		if (strcmp(name, cond_op_names[i]) == 0)
			return (CondOp) i;
	}
	return OP_UNKNOWN;
}

/*
 * op_is_unary
 *		exists and empty take no "right".
 */
static bool
op_is_unary(CondOp op)
{
	return op == OP_EXISTS || op == OP_EMPTY;
}

/*
 * clip
 *		Copy at most COND_SHOW_LEN bytes of s into dst (cut on a UTF-8
 *		boundary, "..." appended when clipped).
 */
static void
clip(char *dst, size_t dstlen, const char *s)
{
	size_t		n;
	size_t		max = COND_SHOW_LEN;

	if (dstlen < 4)
	{
		if (dstlen > 0)
			dst[0] = '\0';
		return;
	}
	if (s == NULL)
		s = "";
	if (max > dstlen - 4)
		max = dstlen - 4;
	n = strlen(s);
	if (n <= max)
	{
		memcpy(dst, s, n + 1);
		return;
	}
	n = max;
	while (n > 0 && (((unsigned char) s[n]) & 0xC0) == 0x80)
		n--;
	memcpy(dst, s, n);
	memcpy(dst + n, "...", 4);
}

/*
 * show_value
 *		Compact JSON of v, clipped, for error messages.
 */
static void
show_value(const cJSON *v, char *dst, size_t dstlen)
{
	char	   *text = fdb_json_print(v);

	clip(dst, dstlen, text ? text : "?");
	free(text);
}

/*
 * is_ident_key
 *		Can key be written as ".key" in a JSON path?
 */
static bool
is_ident_key(const char *key)
{
	const char *p;

	if (key == NULL || key[0] == '\0')
		return false;
	for (p = key; *p; p++)
	{
		char		c = *p;

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/*
 * path_key
 *		malloc'd "path.key" (or path["key"] for unusual keys).
 */
static char *
path_key(const char *path, const char *key)
{
	char		shown[COND_SHOW_LEN + 4];

	if (is_ident_key(key))
		return fdb_asprintf("%s.%s", path, key);
	clip(shown, sizeof(shown), key);
	return fdb_asprintf("%s[\"%s\"]", path, shown);
}

/*
 * path_index
 *		malloc'd "path[i]".
 */
static char *
path_index(const char *path, int i)
{
	return fdb_asprintf("%s[%d]", path, i);
}

/* State for the template checks run by tmpl_scan during validation. */
typedef struct TmplCheck
{
	const char *path;
	FdbErrors  *errs;
} TmplCheck;

/*
 * check_expr
 *		tmpl_scan callback: each expression must parse and use a known root.
 */
static bool
check_expr(const char *expr, size_t len, void *arg)
{
	TmplCheck  *tc = (TmplCheck *) arg;
	TmplPath	tp;
	char		err[FDB_ERRLEN];

	if (!tmpl_parse_path(expr, len, &tp, err, sizeof(err)))
		fdb_errors_add(tc->errs, tc->path, "%s", err);
	else if (!tmpl_root_known(tp.root))
	{
		static const char *const roots[] = {"trigger_data", "steps", "run", "workflow"};
		char		hint[128] = "";

		fdb_suggest(hint, sizeof(hint), tp.root, roots, 4, 4);
		fdb_errors_add(tc->errs, tc->path, "unknown template root \"%s\"%s",
					   tp.root, hint);
	}
	return true;
}

/*
 * check_templates
 *		Check template syntax and roots in every string inside value.
 */
static void
check_templates(const cJSON *value, const char *path, int depth,
				FdbErrors *errs)
{
	const cJSON *child;
	int			i = 0;

	if (depth > COND_MAX_VALUE_DEPTH)
	{
		fdb_errors_add(errs, path, "value nested too deeply");
		return;
	}
	if (cJSON_IsString(value))
	{
		TmplCheck	tc;
		char		err[FDB_ERRLEN];

		if (!tmpl_has_template(value->valuestring))
			return;
		tc.path = path;
		tc.errs = errs;
		if (!tmpl_scan(value->valuestring, check_expr, &tc, err, sizeof(err)))
			fdb_errors_add(errs, path, "%s", err);
		return;
	}
	if (!cJSON_IsArray(value) && !cJSON_IsObject(value))
		return;
	for (child = value->child; child != NULL; child = child->next, i++)
	{
		char	   *cpath;

		if (cJSON_IsObject(value))
			cpath = path_key(path, child->string ? child->string : "");
		else
			cpath = path_index(path, i);
		check_templates(child, cpath ? cpath : path, depth + 1, errs);
		free(cpath);
	}
}

/*
 * skip_bracket
 *		p points just past '[' of a bracket expression; return the position
 *		after its closing ']' (or the end of the string if unterminated,
 *		which regcomp then reports).
 */
static const char *
skip_bracket(const char *p)
{
	if (*p == '^')
		p++;
	if (*p == ']')
		p++;					/* a leading ']' is literal */
	while (*p != '\0' && *p != ']')
	{
		if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '='))
		{
			char		kind = p[1];

			p += 2;
			while (*p != '\0' && !(p[0] == kind && p[1] == ']'))
				p++;
			if (*p == '\0')
				return p;
			p += 2;
			continue;
		}
		p++;
	}
	return *p == ']' ? p + 1 : p;
}

/*
 * add_repeat
 *		Account for the previous atom being repeated bound times: glibc
 *		makes that many copies of it.  false when over the limits.
 */
static bool
add_repeat(long *atom_cost, long *group_cost, long *total, long bound)
{
	long		cost;

	if (*atom_cost <= 0)
		return true;			/* nothing to repeat; regcomp decides */
	cost = *atom_cost * bound;
	*total += cost;
	if (cost > COND_MAX_REGEX_REPEAT || *total > COND_MAX_REGEX_EXPANSION)
		return false;
	if (cost > *group_cost)
		*group_cost = cost;
	*atom_cost = cost;
	return true;
}

/* the messages of regex_cost_problem's refusals */
#define REGEX_TOO_MUCH "regular expression repeats too much (nested repetition counts may multiply to at most %d)"
#define REGEX_STACKED "regular expression puts a repetition operator right after another (as in \"a**\" or \"a+*\"); use one, or a group such as \"(a*)?\""
#define REGEX_EMPTY_COPIES "regular expression repeats with + or {m,n} a part that can match nothing (as in \"(a?)+\"); repeat it with * instead, as in \"(a?)*\""

/*
 * regex_cost_problem
 *		Refuse regex features that make glibc slow or memory hungry on
 *		hostile patterns: back-references (exponential matching), deeply
 *		nested groups, large nested {m,n} repetitions, a repetition
 *		operator right after another, and copies of a part that can match
 *		the empty string.  NULL when fine, else a malloc'd reason.  Syntax
 *		errors are left to regcomp.
 *
 *		glibc's regcomp makes copies for '+' (x+ is xx*) and {m,n}, and the
 *		closure it computes over copies of a part that can match nothing
 *		explodes: "(((a)?)?)?" and so on four deep, copied by seven nested
 *		"(...)+", took 2.4 s, eight deep over 30 s; "a" with 60 '?' then 7
 *		'+' over a minute; a 158-byte pattern the fuzzer found, 46 s.  None
 *		of it can be interrupted, and flow_validate is open to everyone.
 *		Such a repetition is never needed: x+ of an x that can match
 *		nothing is x*, and stacked operators ("a**") are undefined in POSIX
 *		EREs (one '?' after another operator is let through: other dialects
 *		spell a lazy repetition so, and glibc reads "a*?" as "(a*)?").
 *		Copies of parts that cannot match nothing stay cheap (60 optional
 *		groups inside nine nested "(...)+": 0.06 s), as does a loop around
 *		a loop ("(a*)*").
 */
static char *
regex_cost_problem(const char *pattern)
{
	long		group_cost[COND_MAX_REGEX_GROUPS + 1];
	bool		alt_empty[COND_MAX_REGEX_GROUPS + 1];	/* the group's current
														 * alternative can match
														 * nothing so far */
	bool		group_empty[COND_MAX_REGEX_GROUPS + 1];	/* an earlier
															 * alternative can */
	int			depth = 0;
	long		atom_cost = 0;	/* cost of the atom just parsed, 0 = none */
	bool		atom_empty = false; /* it can match nothing (with its
									 * repetitions so far) */
	bool		have_atom = false;	/* an atom not yet added to its
									 * alternative */
	long		total = 0;
	int			repeated = 0;	/* repetition operators in a row just before */
	const char *p = pattern;

	group_cost[0] = 1;
	alt_empty[0] = true;
	group_empty[0] = false;
	while (*p != '\0')
	{
		char		c = *p;
		bool		repetition = c == '*' || c == '?' || c == '+' ||
			(c == '{' && p[1] >= '0' && p[1] <= '9');

		/* one '?' may follow (other dialects' lazy "*?", "+?", "??") */
		if (repetition && repeated > 0 && !(c == '?' && repeated == 1))
			return fdb_strdup(REGEX_STACKED);
		repeated = repetition ? repeated + 1 : 0;
		if (!repetition && have_atom)
		{
			/* the atom before is complete: add it to its alternative */
			alt_empty[depth] = alt_empty[depth] && atom_empty;
			have_atom = false;
		}

		if (c == '\\')
		{
			if (p[1] >= '1' && p[1] <= '9')
				return fdb_strdup("back-references are not supported in regular expressions");
			/* \b \B \< \> \` \' match no character */
			atom_empty = p[1] != '\0' && strchr("bB<>`'", p[1]) != NULL;
			p += p[1] != '\0' ? 2 : 1;
			atom_cost = 1;
			have_atom = true;
		}
		else if (c == '[')
		{
			p = skip_bracket(p + 1);
			atom_cost = 1;
			atom_empty = false;
			have_atom = true;
		}
		else if (c == '(')
		{
			if (depth >= COND_MAX_REGEX_GROUPS)
				return fdb_asprintf("regular expression nests groups more than %d deep",
									COND_MAX_REGEX_GROUPS);
			group_cost[++depth] = 1;
			alt_empty[depth] = true;
			group_empty[depth] = false;
			atom_cost = 0;
			p++;
		}
		else if (c == ')' && depth > 0)
		{
			atom_empty = group_empty[depth] || alt_empty[depth];
			atom_cost = group_cost[depth--];
			if (atom_cost > group_cost[depth])
				group_cost[depth] = atom_cost;
			have_atom = true;
			p++;
		}
		else if (c == '|')
		{
			group_empty[depth] = group_empty[depth] || alt_empty[depth];
			alt_empty[depth] = true;
			atom_cost = 0;
			p++;
		}
		else if (c == '{' && p[1] >= '0' && p[1] <= '9')
		{
			long		lo = 0;
			long		hi = 0;
			long		bound;

			p++;
			while (*p >= '0' && *p <= '9')
			{
				if (lo <= 100000)
					lo = lo * 10 + (*p - '0');
				p++;
			}
			if (*p == ',')
			{
				p++;
				while (*p >= '0' && *p <= '9')
				{
					if (hi <= 100000)
						hi = hi * 10 + (*p - '0');
					p++;
				}
			}
			bound = lo > hi ? lo : hi;
			if (bound == 0)
				bound = 1;
			if (bound > 1 && have_atom && atom_empty)
				return fdb_strdup(REGEX_EMPTY_COPIES);
			if (!add_repeat(&atom_cost, &group_cost[depth], &total, bound))
				return fdb_asprintf(REGEX_TOO_MUCH, COND_MAX_REGEX_REPEAT);
			if (lo == 0)
				atom_empty = true;
			if (*p == '}')
				p++;
		}
		else if (c == '+')
		{
			/* glibc compiles x+ as xx*: nested '+' double the size */
			if (have_atom && atom_empty)
				return fdb_strdup(REGEX_EMPTY_COPIES);
			if (!add_repeat(&atom_cost, &group_cost[depth], &total, 2))
				return fdb_asprintf(REGEX_TOO_MUCH, COND_MAX_REGEX_REPEAT);
			p++;
		}
		else if (c == '*' || c == '?')
		{
			atom_empty = true;	/* no copies; applies to the same atom */
			p++;
		}
		else
		{
			/* ^ and $ match no character */
			atom_empty = c == '^' || c == '$';
			atom_cost = 1;
			have_atom = true;
			p++;
		}
	}
	return NULL;
}

/*
 * regex_limits_problem
 *		NULL when pattern is within the length and cost limits, else a
 *		malloc'd reason.
 */
static char *
regex_limits_problem(const char *pattern)
{
	if (strlen(pattern) > COND_MAX_REGEX_LEN)
		return fdb_asprintf("regular expression longer than %d bytes",
							COND_MAX_REGEX_LEN);
	return regex_cost_problem(pattern);
}

/*
 * regex_problem
 *		NULL when pattern is within the limits and compiles (as a POSIX ERE
 *		with glibc, or with cond_regex_compiles), else a malloc'd reason.
 */
static char *
regex_problem(const char *pattern)
{
	regex_t		re;
	int			rc;
	char		msg[256];
	char	   *problem;

	problem = regex_limits_problem(pattern);
	if (problem != NULL)
		return problem;
	if (cond_regex_compiles != NULL)
		rc = cond_regex_compiles(pattern, msg, sizeof(msg)) ? 0 : 1;
	else
	{
		rc = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB);
		if (rc != 0)
			regerror(rc, &re, msg, sizeof(msg));
		else
			regfree(&re);
	}
	if (rc != 0)
	{
		char		shown[COND_SHOW_LEN + 4];

		clip(shown, sizeof(shown), pattern);
		return fdb_asprintf("invalid regular expression \"%s\": %s",
							shown, msg);
	}
	return NULL;
}

static void validate_node(const cJSON *cond, const char *path, int depth,
						  FdbErrors *errs);

/*
 * validate_list
 *		"all"/"any": a non-empty array of conditions.
 */
static void
validate_list(const cJSON *list, const char *path, int depth, FdbErrors *errs)
{
	const cJSON *child;
	int			i = 0;

	if (!cJSON_IsArray(list) || list->child == NULL)
	{
		fdb_errors_add(errs, path, "must be a non-empty array of conditions");
		return;
	}
	for (child = list->child; child != NULL; child = child->next, i++)
	{
		char	   *cpath = path_index(path, i);

		validate_node(child, cpath ? cpath : path, depth + 1, errs);
		free(cpath);
	}
}

/*
 * validate_leaf
 *		Shape of a {"left", "op", "right"} node.
 */
static void
validate_leaf(const cJSON *cond, const char *path, FdbErrors *errs)
{
	const cJSON *opv = cJSON_GetObjectItemCaseSensitive(cond, "op");
	const cJSON *left = cJSON_GetObjectItemCaseSensitive(cond, "left");
	const cJSON *right = cJSON_GetObjectItemCaseSensitive(cond, "right");
	CondOp		op = OP_UNKNOWN;
	char	   *opath = path_key(path, "op");
	char	   *lpath = path_key(path, "left");
	char	   *rpath = path_key(path, "right");
	const char *op_path = opath ? opath : path;
	const char *left_path = lpath ? lpath : path;
	const char *right_path = rpath ? rpath : path;
	char		shown[COND_SHOW_LEN + 4];
	TmplPath	tp;

	if (opv == NULL)
		fdb_errors_add(errs, path, "missing \"op\"");
	else if (!cJSON_IsString(opv) || opv->valuestring == NULL)
		fdb_errors_add(errs, op_path, "must be a string");
	else
	{
		op = op_from_name(opv->valuestring);
		if (op == OP_UNKNOWN)
		{
			char		hint[256] = "";

			clip(shown, sizeof(shown), opv->valuestring);
			fdb_suggest(hint, sizeof(hint), opv->valuestring, cond_op_names,
						COND_NOPS, COND_NOPS);
			fdb_errors_add(errs, op_path, "unknown operator \"%s\"%s", shown, hint);
		}
	}

	if (left == NULL)
		fdb_errors_add(errs, path, "missing \"left\"");
	else
		check_templates(left, left_path, 0, errs);

	if (right != NULL)
		check_templates(right, right_path, 0, errs);

	if (op != OP_UNKNOWN)
	{
		const char *name = cond_op_names[op];

		if (op_is_unary(op) && right != NULL)
			fdb_errors_add(errs, right_path,
						   "operator \"%s\" takes no \"right\"", name);
		else if (!op_is_unary(op) && right == NULL)
			fdb_errors_add(errs, path,
						   "missing \"right\" for operator \"%s\"", name);
	}

	if (op == OP_EXISTS && left != NULL)
	{
		if (!cJSON_IsString(left) ||
			tmpl_parse_whole(left->valuestring, &tp, NULL, 0) == 0)
			fdb_errors_add(errs, left_path,
						   "operator \"exists\" needs a single template such as \"{{ trigger_data.x }}\"");
	}

	if (op == OP_IN && right != NULL)
	{
		if (!cJSON_IsArray(right) &&
			(!cJSON_IsString(right) ||
			 tmpl_parse_whole(right->valuestring, &tp, NULL, 0) == 0))
			fdb_errors_add(errs, right_path,
						   "operator \"in\" needs an array or a single template");
	}

	if (op == OP_MATCHES && right != NULL)
	{
		if (!cJSON_IsString(right) || right->valuestring == NULL)
			fdb_errors_add(errs, right_path,
						   "operator \"matches\" needs a string pattern");
		else if (!tmpl_has_template(right->valuestring))
		{
			char	   *problem = regex_problem(right->valuestring);

			if (problem != NULL)
			{
				fdb_errors_add(errs, right_path, "%s", problem);
				free(problem);
			}
		}
	}

	free(opath);
	free(lpath);
	free(rpath);
}

/*
 * validate_node
 *		Check one condition node and everything under it.
 */
static void
validate_node(const cJSON *cond, const char *path, int depth, FdbErrors *errs)
{
	static const char *const known[] = {"all", "any", "not", "left", "op", "right"};
	const cJSON *child;
	const char *comb = NULL;
	const char *leafkey = NULL;
	int			ncomb = 0;
	char		shown[COND_SHOW_LEN + 4];

	if (depth > COND_MAX_DEPTH)
	{
		fdb_errors_add(errs, path, "condition nested too deeply");
		return;
	}
	if (!cJSON_IsObject(cond))
	{
		fdb_errors_add(errs, path, "must be an object");
		return;
	}

	/* unknown and duplicate keys; which kind of node this is */
	for (child = cond->child; child != NULL; child = child->next)
	{
		const char *key = child->string ? child->string : "";
		const cJSON *prev;
		bool		is_known = false;
		bool		dup = false;
		int			k;

		for (k = 0; k < (int) (sizeof(known) / sizeof(known[0])); k++)
		{
			if (strcmp(key, known[k]) == 0)
			{
				is_known = true;
				break;
			}
		}
		clip(shown, sizeof(shown), key);
		if (!is_known)
		{
			char		hint[128] = "";

			fdb_suggest(hint, sizeof(hint), key, known,
						(int) (sizeof(known) / sizeof(known[0])), 6);
			fdb_errors_add(errs, path, "unknown key \"%s\"%s", shown, hint);
			continue;
		}
		for (prev = cond->child; prev != child; prev = prev->next)
		{
			if (prev->string && strcmp(prev->string, key) == 0)
				dup = true;
		}
		if (dup)
		{
			fdb_errors_add(errs, path, "duplicate key \"%s\"", shown);
			continue;
		}
		if (k < 3)
		{
			ncomb++;
			if (comb == NULL)
				comb = known[k];
		}
		else if (leafkey == NULL || k == 4)
			leafkey = known[k];	/* prefer naming "op" */
	}

	if (ncomb > 1)
		fdb_errors_add(errs, path,
					   "a condition may have only one of \"all\", \"any\", \"not\"");
	if (ncomb > 0 && leafkey != NULL)
		fdb_errors_add(errs, path, "cannot mix \"%s\" with \"%s\"",
					   comb, leafkey);
	if (ncomb == 0 && leafkey == NULL)
	{
		fdb_errors_add(errs, path,
					   "condition needs \"op\" or one of \"all\", \"any\", \"not\"");
		return;
	}

	if (ncomb == 0)
	{
		validate_leaf(cond, path, errs);
		return;
	}

	for (child = cond->child; child != NULL; child = child->next)
	{
		const char *key = child->string ? child->string : "";
		char	   *cpath;

		if (strcmp(key, "all") != 0 && strcmp(key, "any") != 0 &&
			strcmp(key, "not") != 0)
			continue;
		if (cJSON_GetObjectItemCaseSensitive(cond, key) != child)
			continue;			/* duplicate, already reported */
		cpath = path_key(path, key);
		if (key[0] == 'n')
			validate_node(child, cpath ? cpath : path, depth + 1, errs);
		else
			validate_list(child, cpath ? cpath : path, depth, errs);
		free(cpath);
	}
}

/*
 * cond_validate
 *		Add every shape problem of cond to errs (see condition.h).
 */
void
cond_validate(const cJSON *cond, const char *path, FdbErrors *errs)
{
	if (errs == NULL)
		return;
	validate_node(cond, path ? path : "$", 1, errs);
}

/*
 * type_error
 *		"cannot compare <type> with <type> using "op" (left .., right ..)"
 */
static int
type_error(CondOp op, const cJSON *l, const cJSON *r, char *err, size_t errlen)
{
	char		ls[COND_SHOW_LEN + 4];
	char		rs[COND_SHOW_LEN + 4];

	show_value(l, ls, sizeof(ls));
	show_value(r, rs, sizeof(rs));
	fdb_fmt(err, errlen, "cannot compare %s with %s using \"%s\" (left %s, right %s)",
			fdb_json_type_name(l), fdb_json_type_name(r), cond_op_names[op], ls, rs);
	return -1;
}

/*
 * json_equal
 *		Deep, case-sensitive equality of two JSON values.
 */
static bool
json_equal(const cJSON *a, const cJSON *b)
{
	return cJSON_Compare(a, b, true) ? true : false;
}

/*
 * array_has
 *		Is v (deeply) equal to an element of arr?
 */
static bool
array_has(const cJSON *arr, const cJSON *v)
{
	const cJSON *e;

	for (e = arr->child; e != NULL; e = e->next)
	{
		if (json_equal(e, v))
			return true;
	}
	return false;
}

/*
 * is_empty_value
 *		null, "", [] and {} are empty.
 */
static bool
is_empty_value(const cJSON *v)
{
	if (v == NULL || cJSON_IsNull(v))
		return true;
	if (cJSON_IsString(v))
		return v->valuestring == NULL || v->valuestring[0] == '\0';
	if (cJSON_IsArray(v) || cJSON_IsObject(v))
		return v->child == NULL;
	return false;
}

/*
 * eval_matches
 *		Does regex pattern (POSIX ERE) match somewhere in subject?
 */
static int
eval_matches(const char *subject, const char *pattern, char *err, size_t errlen)
{
	regex_t		re;
	int			rc;
	char	   *problem;
	size_t		len = strlen(subject);

	if (cond_max_subject > 0 && len > cond_max_subject)
	{
		fdb_fmt(err, errlen,
				"operator \"matches\": the string is %zu bytes long, the limit is %zu "
				"(flowdb.max_regex_subject)", len, cond_max_subject);
		return -1;
	}
	if (cond_regex_budget >= 0)
	{
		if ((long) len > cond_regex_budget)
		{
			fdb_fmt(err, errlen,
					"operator \"matches\": too much text matched against regular "
					"expressions in one step");
			return -1;
		}
		cond_regex_budget -= (long) len;
	}

	/*
	 * With a matcher installed (the backend: PostgreSQL's engine, which
	 * reports a pattern it refuses), glibc never compiles a pattern at run
	 * time: one a template made from a run's data reaches the worker, and
	 * glibc's regcomp cannot be interrupted.
	 */
	problem = cond_regex_matcher != NULL ? regex_limits_problem(pattern) :
		regex_problem(pattern);
	if (problem != NULL)
	{
		fdb_fmt(err, errlen, "%s", problem);
		free(problem);
		return -1;
	}
	if (cond_regex_matcher != NULL)
		return cond_regex_matcher(subject, len, pattern, err, errlen);
	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
	{
		fdb_fmt(err, errlen, "invalid regular expression");
		return -1;
	}
	rc = regexec(&re, subject, 0, NULL, 0);
	regfree(&re);
	if (rc == 0)
		return 1;
	if (rc == REG_NOMATCH)
		return 0;
	fdb_fmt(err, errlen, "regular expression could not be evaluated");
	return -1;
}

/*
 * compare_values
 *		Apply a binary operator to rendered left and right.
 */
static int
compare_values(CondOp op, const cJSON *l, const cJSON *r,
			   char *err, size_t errlen)
{
	switch (op)
	{
		case OP_EQ:
		case OP_NE:
			{
				bool		eq;

				if ((cJSON_IsNumber(l) && cJSON_IsString(r)) ||
					(cJSON_IsString(l) && cJSON_IsNumber(r)))
					return type_error(op, l, r, err, errlen);
				eq = json_equal(l, r);
				return (op == OP_EQ) == eq ? 1 : 0;
			}

		case OP_GT:
		case OP_GTE:
		case OP_LT:
		case OP_LTE:
			{
				int			c;

				if (cJSON_IsNumber(l) && cJSON_IsNumber(r))
				{
					double		a = l->valuedouble;
					double		b = r->valuedouble;

					c = a < b ? -1 : (a > b ? 1 : 0);
				}
				else if (cJSON_IsString(l) && cJSON_IsString(r))
					c = strcmp(l->valuestring, r->valuestring);
				else
					return type_error(op, l, r, err, errlen);
				if (op == OP_GT)
					return c > 0;
				if (op == OP_GTE)
					return c >= 0;
				if (op == OP_LT)
					return c < 0;
				return c <= 0;
			}

		case OP_CONTAINS:
			if (cJSON_IsString(l) && cJSON_IsString(r))
				return strstr(l->valuestring, r->valuestring) != NULL;
			if (cJSON_IsArray(l))
				return array_has(l, r);
			if (cJSON_IsObject(l) && cJSON_IsString(r))
				return cJSON_GetObjectItemCaseSensitive(l, r->valuestring) != NULL;
			return type_error(op, l, r, err, errlen);

		case OP_STARTS_WITH:
		case OP_ENDS_WITH:
			{
				size_t		ln;
				size_t		rn;

				if (!cJSON_IsString(l) || !cJSON_IsString(r))
					return type_error(op, l, r, err, errlen);
				ln = strlen(l->valuestring);
				rn = strlen(r->valuestring);
				if (rn > ln)
					return 0;
				if (op == OP_STARTS_WITH)
					return memcmp(l->valuestring, r->valuestring, rn) == 0;
				return memcmp(l->valuestring + ln - rn, r->valuestring, rn) == 0;
			}

		case OP_IN:
			if (!cJSON_IsArray(r))
			{
				char		rs[COND_SHOW_LEN + 4];

				show_value(r, rs, sizeof(rs));
				fdb_fmt(err, errlen,
						"operator \"in\" needs an array on the right, got %s (right %s)",
						fdb_json_type_name(r), rs);
				return -1;
			}
			return array_has(r, l);

		case OP_MATCHES:
			if (!cJSON_IsString(l) || !cJSON_IsString(r))
				return type_error(op, l, r, err, errlen);
			return eval_matches(l->valuestring, r->valuestring, err, errlen);

		default:
			fdb_fmt(err, errlen, "unsupported operator");
			return -1;
	}
}

/*
 * eval_leaf
 *		Evaluate {"left", "op", "right"}.
 */
static int
eval_leaf(const cJSON *cond, const cJSON *ctx, char *err, size_t errlen)
{
	const char *opname = fdb_json_str(cond, "op");
	const cJSON *left = cJSON_GetObjectItemCaseSensitive(cond, "left");
	const cJSON *right = cJSON_GetObjectItemCaseSensitive(cond, "right");
	CondOp		op;
	cJSON	   *l;
	cJSON	   *r;
	int			result;

	if (opname == NULL)
	{
		fdb_fmt(err, errlen, "condition has no \"op\" string");
		return -1;
	}
	op = op_from_name(opname);
	if (op == OP_UNKNOWN)
	{
		char		shown[COND_SHOW_LEN + 4];
		char		hint[256] = "";

		clip(shown, sizeof(shown), opname);
		fdb_suggest(hint, sizeof(hint), opname, cond_op_names, COND_NOPS, COND_NOPS);
		fdb_fmt(err, errlen, "unknown operator \"%s\"%s", shown, hint);
		return -1;
	}
	if (left == NULL)
	{
		fdb_fmt(err, errlen, "condition has no \"left\"");
		return -1;
	}
	if (!op_is_unary(op) && right == NULL)
	{
		fdb_fmt(err, errlen, "operator \"%s\" needs \"right\"", opname);
		return -1;
	}

	if (op == OP_EXISTS || op == OP_EMPTY)
	{
		TmplPath	tp;
		int			whole = 0;

		if (cJSON_IsString(left))
		{
			whole = tmpl_parse_whole(left->valuestring, &tp, err, errlen);
			if (whole < 0)
				return -1;
		}
		if (whole == 1)
		{
			char		lerr[FDB_ERRLEN];
			const cJSON *v = tmpl_lookup(&tp, ctx, lerr, sizeof(lerr));

			if (op == OP_EXISTS)
				return v != NULL;
			return is_empty_value(v);
		}
		if (op == OP_EXISTS)
		{
			fdb_fmt(err, errlen,
					"operator \"exists\" needs a single template such as \"{{ trigger_data.x }}\"");
			return -1;
		}
		l = tmpl_render(left, ctx, err, errlen);
		if (l == NULL)
			return -1;
		result = is_empty_value(l);
		cJSON_Delete(l);
		return result;
	}

	l = tmpl_render(left, ctx, err, errlen);
	if (l == NULL)
		return -1;
	r = tmpl_render(right, ctx, err, errlen);
	if (r == NULL)
	{
		cJSON_Delete(l);
		return -1;
	}
	result = compare_values(op, l, r, err, errlen);
	cJSON_Delete(l);
	cJSON_Delete(r);
	return result;
}

/*
 * eval_node
 *		Evaluate one node; depth counts nodes from the root (1).
 */
static int
eval_node(const cJSON *cond, const cJSON *ctx, int depth,
		  char *err, size_t errlen)
{
	const cJSON *all;
	const cJSON *any;
	const cJSON *notv;
	const cJSON *child;
	int			ncomb;

	if (depth > COND_MAX_DEPTH)
	{
		fdb_fmt(err, errlen, "condition nested too deeply");
		return -1;
	}
	if (!cJSON_IsObject(cond))
	{
		fdb_fmt(err, errlen, "condition must be an object");
		return -1;
	}
	all = cJSON_GetObjectItemCaseSensitive(cond, "all");
	any = cJSON_GetObjectItemCaseSensitive(cond, "any");
	notv = cJSON_GetObjectItemCaseSensitive(cond, "not");
	ncomb = (all != NULL) + (any != NULL) + (notv != NULL);
	if (ncomb == 0)
		return eval_leaf(cond, ctx, err, errlen);
	if (ncomb > 1)
	{
		fdb_fmt(err, errlen,
				"a condition may have only one of \"all\", \"any\", \"not\"");
		return -1;
	}
	if (cJSON_GetObjectItemCaseSensitive(cond, "op") != NULL ||
		cJSON_GetObjectItemCaseSensitive(cond, "left") != NULL ||
		cJSON_GetObjectItemCaseSensitive(cond, "right") != NULL)
	{
		fdb_fmt(err, errlen, "cannot mix \"%s\" with \"op\"/\"left\"/\"right\"",
				all ? "all" : (any ? "any" : "not"));
		return -1;
	}
	if (notv != NULL)
	{
		int			r = eval_node(notv, ctx, depth + 1, err, errlen);

		return r < 0 ? -1 : !r;
	}
	if (all != NULL)
	{
		if (!cJSON_IsArray(all) || all->child == NULL)
		{
			fdb_fmt(err, errlen, "\"all\" must be a non-empty array of conditions");
			return -1;
		}
		for (child = all->child; child != NULL; child = child->next)
		{
			int			r = eval_node(child, ctx, depth + 1, err, errlen);

			if (r <= 0)
				return r;
		}
		return 1;
	}
	if (!cJSON_IsArray(any) || any->child == NULL)
	{
		fdb_fmt(err, errlen, "\"any\" must be a non-empty array of conditions");
		return -1;
	}
	for (child = any->child; child != NULL; child = child->next)
	{
		int			r = eval_node(child, ctx, depth + 1, err, errlen);

		if (r != 0)
			return r;
	}
	return 0;
}

/*
 * cond_eval
 *		1 true, 0 false, -1 error with err set.
 */
int
cond_eval(const cJSON *cond, const cJSON *ctx, char *err, size_t errlen)
{
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	return eval_node(cond, ctx, 1, err, errlen);
}
