/*-------------------------------------------------------------------------
 *
 * blueprint.c
 *	  Blueprint (version 1) validation and graph queries (pure C).
 *
 * bp_validate reports every problem it finds, each as "$.json.path:
 * message", in document order: root fields, trigger, each node, each edge,
 * then cycles.  It never stops at the first problem (only a blueprint over
 * the size limits skips the per-node or per-edge checks), and it caps the
 * number of reported problems at BP_MAX_ERRORS so hostile input cannot
 * produce unbounded output.
 *
 * The checks run in two passes: a silent pass collects node ids and the
 * edges between known nodes (needed to decide whether a template's
 * steps.<id> refers to an ancestor), then a reporting pass walks the
 * document.
 *
 * Pure C: libc and cJSON only, malloc/free, no longjmp.
 *
 *-------------------------------------------------------------------------
 */
#include "blueprint.h"
#include "cron.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "condition.h"
#include "suggest.h"
#include "template.h"

#define BP_MAX_ERRORS		500		/* problems reported per call */
#define BP_PATH_LEN			512		/* JSON path buffers */
#define BP_MSG_LEN			1024	/* one formatted message */
#define BP_MAX_DEPTH		FDB_MAX_JSON_DEPTH	/* JSON nesting walked for templates */
#define BP_MAX_NAME_CHARS	200
#define BP_MAX_EVENT_LEN	200
#define BP_MAX_DELAY_SECONDS	2592000.0	/* 30 days */
#define BP_MAX_WAIT_SECONDS 31536000.0	/* 365 days */
#define BP_MAX_TIMEOUT_MS	300000
#define BP_SHOW				64		/* bytes of user text quoted in messages */
#define BP_MAX_MAP_CONCURRENCY	100
#define BP_MAX_TZ_LEN		64		/* time zone names */

bool		(*bp_timezone_hook) (const char *name, char *hint, size_t hintlen) = NULL;
cJSON	   *(*bp_table_shape_hook) (const char *table) = NULL;

/* Validation state shared by all checks of one bp_validate call. */
typedef struct BpState
{
	FdbErrors  *errs;
	int			start;			/* errs->count when the call started */
	bool		capped;			/* BP_MAX_ERRORS reached */
	int			nnodes;			/* entries in node[] */
	const cJSON *node[BP_MAX_NODES];
	const char *id[BP_MAX_NODES];	/* string id or NULL */
	int			nedges;			/* entries in efrom[]/eto[] */
	int			efrom[BP_MAX_EDGES];	/* node index, or -1 */
	int			eto[BP_MAX_EDGES];
	bool		edup[BP_MAX_EDGES];	/* same from/to as an earlier edge */
	bool		eelse[BP_MAX_EDGES];	/* a valid else edge */
	bool		graph_ok;		/* edges usable for ancestry and cycles */
	bool		in_map_do;		/* checking a map's "do": item, index known */
	const char *self_name;		/* the blueprint's name (calls to itself) */
	/* incoming edges of node n: in_from[in_start[n] .. in_start[n + 1]) */
	int			in_start[BP_MAX_NODES + 1];
	int			in_from[BP_MAX_EDGES];
	bool		anc_known[BP_MAX_NODES];
	/* what trigger_data is known to hold, when the trigger declares a
	 * sample payload; NULL = unknown (flow_run may pass anything) */
	const cJSON *trig_shape;
	const char *trig_shape_what;	/* "the trigger's sample" */
	cJSON	   *table_shape;	/* owned: a table trigger's columns */
	char		table_what[BP_MSG_LEN / 2];	/* "the columns of table x" */
	/* anc[n][a]: a is a strict ancestor of n */
	unsigned char anc[BP_MAX_NODES][BP_MAX_NODES];
} BpState;

/* What a template scan needs to know about where the string is. */
typedef struct TmplCheck
{
	BpState    *st;
	const char *path;			/* JSON path of the string */
	int			user;			/* node using the template, or -1 */
	int			edge;			/* edge whose condition it is, or -1 */
} TmplCheck;

/* Keys any object (root, trigger, node, edge, retry) may carry for UIs. */
static const char *const common_keys[] = {
	"description", "name", "position", "notes", "meta", NULL
};

static const char *const root_keys[] = {
	"version", "trigger", "nodes", "edges", "on_failure", NULL
};
static const char *const node_keys[] = {"id", "type", NULL};
static const char *const action_keys[] = {
	"service", "task", "params", "credential", "retry", "timeout_ms", NULL
};
static const char *const router_keys[] = {NULL};
static const char *const delay_keys[] = {"seconds", "until", NULL};
static const char *const wait_event_keys[] = {
	"event", "match", "timeout_seconds", NULL
};
static const char *const set_keys[] = {"values", NULL};
static const char *const call_keys[] = {"workflow", "payload", NULL};
static const char *const map_keys[] = {
	"items", "concurrency", "on_item_error", "do", NULL
};
static const char *const retry_keys[] = {"max_attempts", "backoff_ms", NULL};
static const char *const edge_keys[] = {"from", "to", "condition", "else", "on", NULL};
static const char *const on_failure_keys[] = {"workflow", NULL};

/*
 * bp_err
 *		Add one problem, unless BP_MAX_ERRORS were already added by this
 *		call (then a single "too many problems" note is added instead).
 */
static void
bp_err(BpState *st, const char *path, const char *fmt,...)
__attribute__((format(printf, 3, 4)));

static void
bp_err(BpState *st, const char *path, const char *fmt,...)
{
	char		msg[BP_MSG_LEN];
	va_list		ap;
	int			added = st->errs->count - st->start;

	if (st->capped)
		return;
	if (added >= BP_MAX_ERRORS)
	{
		st->capped = true;
		fdb_errors_add(st->errs, "$", "too many problems, stopped after %d",
					   BP_MAX_ERRORS);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fdb_errors_add(st->errs, path, "%s", msg);
}

/*
 * sub_path
 *		out = base + "." + key (the key clipped to BP_SHOW bytes).
 */
static void
sub_path(char *out, size_t outlen, const char *base, const char *key)
{
	snprintf(out, outlen, "%s.%.*s", base, BP_SHOW, key ? key : "");
}

/*
 * in_list
 *		Is s one of the NULL-terminated list?
 */
static bool
in_list(const char *s, const char *const *list)
{
	int			i;

	if (s == NULL)
		return false;
	for (i = 0; list[i] != NULL; i++)
	{
		if (strcmp(s, list[i]) == 0)
			return true;
	}
	return false;
}

/*
 * closest_key
 *		The field of the NULL-terminated lists a (and b, may be NULL) that
 *		key is a typo of, or NULL.
 */
static const char *
closest_key(const char *key, const char *const *a, const char *const *b)
{
	const char *choices[32];
	int			n = 0;

	for (int i = 0; a != NULL && a[i] != NULL && n < 32; i++)
		choices[n++] = a[i];
	for (int i = 0; b != NULL && b[i] != NULL && n < 32; i++)
		choices[n++] = b[i];
	return fdb_closest(key, choices, n);
}

/*
 * check_unknown_keys
 *		Report every key of obj that is neither in allowed nor a common key.
 *		extra_msg, when not NULL, is appended to the message.
 */
static void
check_unknown_keys(BpState *st, const cJSON *obj, const char *path,
				   const char *const *allowed, const char *const *allowed2,
				   const char *extra_msg)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, obj)
	{
		char		p[BP_PATH_LEN];
		const char *key = item->string ? item->string : "";
		const char *near;

		if (in_list(key, common_keys) || in_list(key, allowed) ||
			(allowed2 != NULL && in_list(key, allowed2)))
			continue;
		sub_path(p, sizeof(p), path, key);
		/* a typo of a field this object may have */
		near = closest_key(key, allowed, allowed2);
		if (near != NULL)
			bp_err(st, p, "unknown field \"%.*s\"%s (did you mean \"%s\"?)", BP_SHOW, key,
				   extra_msg ? extra_msg : "", near);
		else
			bp_err(st, p, "unknown field \"%.*s\"%s", BP_SHOW, key,
				   extra_msg ? extra_msg : "");
	}
}

/*
 * is_integer
 *		A finite number without a fractional part.
 */
static bool
is_integer(const cJSON *v)
{
	return param_type_matches(PT_INTEGER, v);
}

/*
 * check_int_field
 *		obj.key, when present, must be an integer in [lo, hi]; required
 *		makes absence an error.
 */
static void
check_int_field(BpState *st, const cJSON *obj, const char *path,
				const char *key, bool required, long lo, long hi)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	char		p[BP_PATH_LEN];

	sub_path(p, sizeof(p), path, key);
	if (v == NULL)
	{
		if (required)
			bp_err(st, p, "required");
		return;
	}
	if (!is_integer(v))
	{
		bp_err(st, p, "expected integer, got %s", fdb_json_type_name(v));
		return;
	}
	if (v->valuedouble < (double) lo || v->valuedouble > (double) hi)
		bp_err(st, p, "must be between %ld and %ld", lo, hi);
}

/*
 * check_positive_field
 *		obj.key, when present, must be a number > 0 and <= max.
 */
static void
check_positive_field(BpState *st, const cJSON *obj, const char *path,
					 const char *key, double max)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	char		p[BP_PATH_LEN];

	if (v == NULL)
		return;
	sub_path(p, sizeof(p), path, key);
	if (!param_type_matches(PT_NUMBER, v))
	{
		bp_err(st, p, "expected number, got %s", fdb_json_type_name(v));
		return;
	}
	if (!(v->valuedouble > 0) || v->valuedouble > max)
		bp_err(st, p, "must be > 0 and <= %.0f", max);
}

/*
 * check_string_field
 *		obj.key must be a string when present (or when required); returns
 *		it, or NULL.
 */
static const char *
check_string_field(BpState *st, const cJSON *obj, const char *path,
				   const char *key, bool required)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	char		p[BP_PATH_LEN];

	sub_path(p, sizeof(p), path, key);
	if (v == NULL)
	{
		if (required)
			bp_err(st, p, "required");
		return NULL;
	}
	if (!cJSON_IsString(v) || v->valuestring == NULL)
	{
		bp_err(st, p, "expected string, got %s", fdb_json_type_name(v));
		return NULL;
	}
	return v->valuestring;
}

/*
 * utf8_chars
 *		Number of UTF-8 characters in s (bytes that are not continuations).
 */
static size_t
utf8_chars(const char *s)
{
	size_t		n = 0;

	for (; *s != '\0'; s++)
	{
		if (((unsigned char) *s & 0xC0) != 0x80)
			n++;
	}
	return n;
}

/*
 * valid_node_id
 *		[A-Za-z0-9_-]{1,BP_MAX_ID_LEN}
 */
static bool
valid_node_id(const char *s)
{
	size_t		i;

	for (i = 0; s[i] != '\0'; i++)
	{
		char		c = s[i];

		if (i >= BP_MAX_ID_LEN)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return i > 0;
}

/*
 * valid_event_name
 *		[a-z0-9_]+(\.[a-z0-9_]+)+ , at most BP_MAX_EVENT_LEN bytes.
 */
static bool
valid_event_name(const char *s)
{
	size_t		i;
	size_t		seglen = 0;
	int			dots = 0;

	for (i = 0; s[i] != '\0'; i++)
	{
		char		c = s[i];

		if (i >= BP_MAX_EVENT_LEN)
			return false;
		if (c == '.')
		{
			if (seglen == 0)
				return false;
			dots++;
			seglen = 0;
		}
		else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')
			seglen++;
		else
			return false;
	}
	return dots > 0 && seglen > 0;
}

/*
 * parse_digits
 *		Parse exactly n ASCII digits at s into *out.
 */
static bool
parse_digits(const char *s, int n, int *out)
{
	int			v = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/*
 * valid_iso_timestamp
 *		YYYY-MM-DD(T| )HH:MM[:SS[(.|,)fraction]][Z|(+|-)HH[:]MM|(+|-)HH]
 *		with calendar-valid fields.
 */
static bool
valid_iso_timestamp(const char *s)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int			y,
				mo,
				d,
				h,
				mi,
				sec;
	const char *p;

	if (strlen(s) < 16)
		return false;
	if (!parse_digits(s, 4, &y) || s[4] != '-' ||
		!parse_digits(s + 5, 2, &mo) || s[7] != '-' ||
		!parse_digits(s + 8, 2, &d))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
		return false;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return false;
	if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
		return false;
	if (!parse_digits(s + 11, 2, &h) || s[13] != ':' ||
		!parse_digits(s + 14, 2, &mi) || h > 23 || mi > 59)
		return false;
	p = s + 16;
	if (*p == ':')
	{
		if (!parse_digits(p + 1, 2, &sec) || sec > 60)
			return false;
		p += 3;
		if (*p == '.' || *p == ',')
		{
			p++;
			if (*p < '0' || *p > '9')
				return false;
			while (*p >= '0' && *p <= '9')
				p++;
		}
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-')
	{
		int			th,
					tm = 0;

		if (!parse_digits(p + 1, 2, &th) || th > 23)
			return false;
		p += 3;
		if (*p == ':')
			p++;
		if (*p >= '0' && *p <= '9')
		{
			if (!parse_digits(p, 2, &tm) || tm > 59)
				return false;
			p += 2;
		}
	}
	return *p == '\0';
}

/*
 * check_cron
 *		Five whitespace-separated fields: minute hour day-of-month month
 *		day-of-week (parsed by cron.c, as the scheduler will).  Every bad
 *		field is reported.  A macro (@daily, ...) stands for its fields.
 */
static void
check_cron(BpState *st, const char *path, const char *cron)
{
	const char *start[5];
	size_t		len[5];
	const char *fields = cron_expand(cron);
	int			n;

	if (fields == NULL)
	{
		const char *names[16];
		int			nm = 0;
		const char *word = cron + strspn(cron, " \t");
		char		hint[BP_MSG_LEN / 2] = "";

		for (int i = 0; cron_macros[i].name != NULL && nm < 16; i++)
			names[nm++] = cron_macros[i].name;
		fdb_suggest(hint, sizeof(hint), word, names, nm, 16);
		bp_err(st, path, "unknown cron macro \"%.*s\"%s", BP_SHOW, word, hint);
		return;
	}
	n = cron_split(fields, start, len);

	if (n != 5)
	{
		bp_err(st, path,
			   "expected 5 fields (minute hour day-of-month month day-of-week), got %d",
			   n);
		return;
	}
	for (int i = 0; i < 5; i++)
	{
		uint64_t	bits;
		bool		star;

		if (!cron_parse_field(start[i], len[i], i, &bits, &star))
			bp_err(st, path, "invalid %s field \"%.*s\" (values %d-%d)",
				   cron_fields[i].name, (int) (len[i] > BP_SHOW ? BP_SHOW : len[i]),
				   start[i], cron_fields[i].lo, cron_fields[i].hi);
	}
}

/*
 * check_timezone
 *		A schedule's time zone: an IANA name ("Asia/Kolkata", "UTC").  The
 *		backend knows the zone database (bp_timezone_hook); without it
 *		only the spelling is checked.
 */
static void
check_timezone(BpState *st, const char *path, const char *tz)
{
	char		hint[BP_MSG_LEN / 2] = "";
	size_t		len = strlen(tz);

	if (len == 0 || len > BP_MAX_TZ_LEN)
	{
		bp_err(st, path, "must be a time zone name of 1 to %d characters, e.g. \"Asia/Kolkata\"",
			   BP_MAX_TZ_LEN);
		return;
	}
	for (size_t i = 0; i < len; i++)
	{
		char		c = tz[i];

		/* a name, never a path: letters first, no dots */
		if (i == 0 && !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
			c = '.';
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '/' || c == '_' || c == '-' || c == '+'))
		{
			bp_err(st, path, "invalid time zone name \"%.*s\" (an IANA name such as \"Asia/Kolkata\" or \"UTC\")",
				   BP_SHOW, tz);
			return;
		}
	}
	if (bp_timezone_hook != NULL && !bp_timezone_hook(tz, hint, sizeof(hint)))
		bp_err(st, path, "unknown time zone \"%.*s\"%s", BP_SHOW, tz, hint);
}

/*
 * node_index
 *		Index in the validation state of the first node whose id is id,
 *		or -1 (engine_find_node finds a node in a blueprint's JSON).
 */
static int
node_index(const BpState *st, const char *id)
{
	int			i;

	if (id == NULL)
		return -1;
	for (i = 0; i < st->nnodes; i++)
	{
		if (st->id[i] != NULL && strcmp(st->id[i], id) == 0)
			return i;
	}
	return -1;
}

/*
 * compute_ancestors
 *		Fill st->anc[n]: every node from which n is reachable through one
 *		or more edges (self loops ignored).
 */
static void
compute_ancestors(BpState *st, int n)
{
	int			queue[BP_MAX_NODES];
	int			head = 0;
	int			tail = 0;
	unsigned char *seen = st->anc[n];
	int			e;

	if (st->anc_known[n])
		return;
	st->anc_known[n] = true;
	memset(seen, 0, sizeof(st->anc[n]));
	queue[tail++] = n;
	while (head < tail)
	{
		int			cur = queue[head++];

		for (e = st->in_start[cur]; e < st->in_start[cur + 1]; e++)
		{
			int			from = st->in_from[e];

			if (from == cur || seen[from])
				continue;
			seen[from] = 1;
			if (from != n && tail < BP_MAX_NODES)
				queue[tail++] = from;
		}
	}
}

/*
 * is_ancestor
 *		Is a a strict ancestor of n?
 */
static bool
is_ancestor(BpState *st, int a, int n)
{
	compute_ancestors(st, n);
	return st->anc[n][a] != 0;
}

/*
 * check_trigger_path
 *		A trigger_data path, against what the trigger says its payload
 *		holds (st->trig_shape): the first key that is not there is an
 *		error naming the closest key or the keys there are.  Indexes step
 *		into an array's first item; below a scalar nothing is known.
 */
static void
check_trigger_path(BpState *st, const char *where, const TmplPath *path)
{
	const cJSON *cur = st->trig_shape;
	char		shown[BP_PATH_LEN];

	if (cur == NULL)
		return;
	snprintf(shown, sizeof(shown), "trigger_data");
	for (int i = 0; i < path->nsegments; i++)
	{
		const TmplSegment *seg = &path->segments[i];
		size_t		used = strlen(shown);

		if (seg->is_index)
		{
			if (!cJSON_IsArray(cur) || cJSON_GetArraySize(cur) == 0)
				return;
			cur = cJSON_GetArrayItem(cur, 0);
			snprintf(shown + used, sizeof(shown) - used, "[%ld]", seg->index);
			continue;
		}
		if (!cJSON_IsObject(cur))
			return;
		snprintf(shown + used, sizeof(shown) - used, ".%.*s", BP_SHOW, seg->key);
		if (!cJSON_HasObjectItem(cur, seg->key))
		{
			const char *keys[64];
			int			n = 0;
			const cJSON *k;
			char		hint[BP_MSG_LEN / 2] = "";

			cJSON_ArrayForEach(k, cur)
			{
				if (n < 64)
					keys[n++] = k->string;
			}
			fdb_suggest(hint, sizeof(hint), seg->key, keys, n, 20);
			bp_err(st, where, "%s is not in %s%s", shown, st->trig_shape_what,
				   n > 0 ? hint : " (it has no keys)");
			return;
		}
		cur = cJSON_GetObjectItemCaseSensitive(cur, seg->key);
	}
}

/*
 * check_expr
 *		tmpl_scan callback: check one expression's path, root and, for
 *		steps.<id>, that the node exists and has run before the user.
 *		Inside edge conditions cond_validate already reports syntax and
 *		roots, so only steps.<id> is checked there.
 */
static bool
check_expr(const char *expr, size_t len, void *arg)
{
	TmplCheck  *tc = (TmplCheck *) arg;
	BpState    *st = tc->st;
	bool		in_cond = tc->edge >= 0;
	TmplPath	path;
	char		err[FDB_ERRLEN];
	const char *ref;
	int			r;

	if (!tmpl_parse_path(expr, len, &path, err, sizeof(err)))
	{
		if (!in_cond)
			bp_err(st, tc->path, "%s", err);
		return true;
	}
	if (!in_cond && (strcmp(path.root, "item") == 0 || strcmp(path.root, "index") == 0))
	{
		if (!st->in_map_do)
			bp_err(st, tc->path,
				   "{{%s}} is only available inside the \"do\" of a map node",
				   path.root);
		else if (path.root[1] == 'n' && path.nsegments > 0)
			bp_err(st, tc->path, "index is a number: it has no fields");
		return true;
	}
	if (!tmpl_root_known(path.root))
	{
		static const char *const roots[] = {"trigger_data", "steps", "run", "workflow"};
		char		hint[128] = "";

		fdb_suggest(hint, sizeof(hint), path.root, roots, 4, 4);
		if (!in_cond)
			bp_err(st, tc->path, "unknown template root \"%s\"%s", path.root, hint);
		return true;
	}
	if (strcmp(path.root, "trigger_data") == 0)
	{
		check_trigger_path(st, tc->path, &path);
		return true;
	}
	if (strcmp(path.root, "steps") != 0 || path.nsegments == 0)
		return true;
	if (path.segments[0].is_index)
	{
		bp_err(st, tc->path, "steps must be followed by a node id (steps.<id>)");
		return true;
	}

	ref = path.segments[0].key;
	r = node_index(st, ref);
	if (r < 0)
	{
		const char *near = fdb_closest(ref, st->id, st->nnodes);

		if (near != NULL)
			bp_err(st, tc->path, "no node \"%.*s\" for steps.%.*s (did you mean steps.%s?)",
				   BP_SHOW, ref, BP_SHOW, ref, near);
		else
			bp_err(st, tc->path, "no node \"%.*s\" for steps.%.*s",
				   BP_SHOW, ref, BP_SHOW, ref);
		return true;
	}
	if (!st->graph_ok)
		return true;

	if (in_cond)
	{
		int			src = st->efrom[tc->edge];

		if (src >= 0 && r != src && !is_ancestor(st, r, src))
			bp_err(st, tc->path, "node \"%.*s\" cannot have run before edge %.*s -> %.*s",
				   BP_SHOW, ref, BP_SHOW, st->id[src] ? st->id[src] : "",
				   BP_SHOW, st->eto[tc->edge] >= 0 && st->id[st->eto[tc->edge]] ?
				   st->id[st->eto[tc->edge]] : "?");
	}
	else if (tc->user >= 0 && !is_ancestor(st, r, tc->user))
		bp_err(st, tc->path, "node \"%.*s\" cannot have run before \"%.*s\"",
			   BP_SHOW, ref, BP_SHOW,
			   st->id[tc->user] ? st->id[tc->user] : "?");
	return true;
}

/*
 * check_string_templates
 *		Check every template of one string (kept out of the recursive
 *		walker so its buffers are not on every level of the stack).
 */
static void
check_string_templates(BpState *st, const char *s, const char *path,
					   int user, int edge)
{
	TmplCheck	tc;
	char		err[FDB_ERRLEN];

	if (s == NULL || !tmpl_has_template(s))
		return;
	tc.st = st;
	tc.path = path;
	tc.user = user;
	tc.edge = edge;
	err[0] = '\0';
	if (!tmpl_scan(s, check_expr, &tc, err, sizeof(err)) && edge < 0)
		bp_err(st, path, "%s", err[0] ? err : "invalid template");
}

/*
 * check_templates_in
 *		Check every template in every string of v (recursively; object keys
 *		are not templates).  path is v's JSON path.  user is the node using
 *		the value, or edge the edge whose condition it is (else -1).
 */
static void
check_templates_in(BpState *st, const cJSON *v, const char *path,
				   int user, int edge, int depth)
{
	const cJSON *item;
	int			i = 0;

	if (v == NULL)
		return;
	if (depth > BP_MAX_DEPTH)
	{
		bp_err(st, path, "nested too deeply (max %d levels)", BP_MAX_DEPTH);
		return;
	}
	if (cJSON_IsString(v))
	{
		check_string_templates(st, v->valuestring, path, user, edge);
		return;
	}
	if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
		return;
	cJSON_ArrayForEach(item, v)
	{
		char		p[BP_PATH_LEN];

		if (cJSON_IsArray(v))
			snprintf(p, sizeof(p), "%s[%d]", path, i++);
		else
			sub_path(p, sizeof(p), path, item->string);
		check_templates_in(st, item, p, user, edge, depth + 1);
	}
}

/*
 * check_trigger
 *		type and its per-type fields.
 */
static void
check_trigger(BpState *st, const cJSON *trig)
{
	static const char *const types[] = {
		"manual", "event", "table", "webhook", "schedule", NULL
	};
	static const char *const event_keys[] = {"type", "event", "sample", NULL};
	static const char *const schedule_keys[] = {"type", "cron", "timezone", NULL};
	static const char *const table_keys[] = {"type", "table", "sample", NULL};
	static const char *const manual_keys[] = {"type", "sample", NULL};
	static const char *const any_keys[] = {
		"type", "event", "cron", "timezone", "table", "sample", NULL
	};
	const char *path = "$.trigger";
	const char *type;
	const char *const *allowed = any_keys;
	char		extra[96] = "";

	if (trig == NULL)
	{
		bp_err(st, path, "required");
		return;
	}
	if (!cJSON_IsObject(trig))
	{
		bp_err(st, path, "expected object, got %s", fdb_json_type_name(trig));
		return;
	}

	type = check_string_field(st, trig, path, "type", true);
	if (type != NULL && !in_list(type, types))
	{
		bp_err(st, "$.trigger.type",
			   "unknown trigger type \"%.*s\" (expected manual, event, table, webhook or schedule)",
			   BP_SHOW, type);
		type = NULL;
	}
	check_string_field(st, trig, path, "name", false);
	check_string_field(st, trig, path, "description", false);

	if (type != NULL)
	{
		snprintf(extra, sizeof(extra), " for trigger type \"%s\"", type);
		if (strcmp(type, "event") == 0 || strcmp(type, "webhook") == 0)
		{
			const char *ev = check_string_field(st, trig, path, "event", true);

			if (ev != NULL && !valid_event_name(ev))
				bp_err(st, "$.trigger.event",
					   "invalid event name \"%.*s\" (expected namespace.name, e.g. shop.order_paid)",
					   BP_SHOW, ev);
			allowed = event_keys;
		}
		else if (strcmp(type, "schedule") == 0)
		{
			const char *cron = check_string_field(st, trig, path, "cron", true);
			const char *tz = check_string_field(st, trig, path, "timezone", false);

			if (cron != NULL)
				check_cron(st, "$.trigger.cron", cron);
			if (tz != NULL)
				check_timezone(st, "$.trigger.timezone", tz);
			allowed = schedule_keys;
		}
		else if (strcmp(type, "table") == 0)
		{
			check_string_field(st, trig, path, "table", false);
			allowed = table_keys;
		}
		else
			allowed = manual_keys;
	}
	check_unknown_keys(st, trig, path, allowed, NULL, type ? extra : NULL);

	/* a declared sample payload: templates are checked against it */
	if (in_list("sample", allowed) && cJSON_HasObjectItem(trig, "sample"))
	{
		const cJSON *sample = cJSON_GetObjectItemCaseSensitive(trig, "sample");

		if (!cJSON_IsObject(sample))
			bp_err(st, "$.trigger.sample", "expected object (a sample payload), got %s",
				   fdb_json_type_name(sample));
		else
		{
			st->trig_shape = sample;
			st->trig_shape_what = "the trigger's sample";
		}
	}
	else if (type != NULL && strcmp(type, "table") == 0 && bp_table_shape_hook != NULL &&
			 cJSON_IsString(cJSON_GetObjectItemCaseSensitive(trig, "table")))
	{
		/* no sample: the table's columns are what trigger_data holds */
		const char *table = cJSON_GetObjectItemCaseSensitive(trig, "table")->valuestring;

		st->table_shape = bp_table_shape_hook(table);
		if (st->table_shape != NULL)
		{
			snprintf(st->table_what, sizeof(st->table_what),
					 "the columns of table %.*s", BP_SHOW, table);
			st->trig_shape = st->table_shape;
			st->trig_shape_what = st->table_what;
		}
	}
}

/*
 * check_action
 *		service/task from the catalog, params (required, unknown, literal
 *		types), credential, retry and timeout_ms.
 */
static void
check_action(BpState *st, int idx, const cJSON *node, const char *path)
{
	const ToolService *svc = NULL;
	const ToolTask *task = NULL;
	const char *sname;
	const char *tname;
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(node, "params");
	const cJSON *retry;
	const char *cred;
	char		ppath[BP_PATH_LEN];
	char		p[BP_PATH_LEN];

	sname = check_string_field(st, node, path, "service", true);
	if (sname != NULL)
	{
		svc = catalog_service(sname);
		if (svc == NULL)
		{
			const char *names[64];
			int			n = 0;
			char		hint[BP_MSG_LEN / 2] = "";

			for (int i = 0; fdb_services[i] != NULL && n < 64; i++)
				names[n++] = fdb_services[i]->name;
			fdb_suggest(hint, sizeof(hint), sname, names, n, 32);
			sub_path(p, sizeof(p), path, "service");
			bp_err(st, p, "unknown service \"%.*s\"%s", BP_SHOW, sname, hint);
		}
	}
	tname = check_string_field(st, node, path, "task", true);
	if (tname != NULL && svc != NULL)
	{
		task = catalog_task(svc, tname);
		if (task == NULL)
		{
			const char *names[64];
			int			n = 0;
			char		hint[BP_MSG_LEN / 2] = "";

			for (int i = 0; i < svc->ntasks && n < 64; i++)
				names[n++] = svc->tasks[i].name;
			fdb_suggest(hint, sizeof(hint), tname, names, n, 32);
			sub_path(p, sizeof(p), path, "task");
			bp_err(st, p, "unknown task \"%.*s\" for service \"%s\"%s",
				   BP_SHOW, tname, svc->name, hint);
		}
	}

	sub_path(ppath, sizeof(ppath), path, "params");
	if (params != NULL && !cJSON_IsObject(params))
	{
		bp_err(st, ppath, "expected object, got %s", fdb_json_type_name(params));
		params = NULL;
		task = NULL;			/* do not also report missing parameters */
	}

	if (task != NULL)
	{
		const cJSON *item;
		int			i;

		for (i = 0; i < task->nparams; i++)
		{
			const ToolParam *tp = &task->params[i];
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, tp->name);

			sub_path(p, sizeof(p), ppath, tp->name);
			if (v == NULL || cJSON_IsNull(v))
			{
				if (tp->required)
					bp_err(st, p, "missing required parameter \"%s\"", tp->name);
				continue;
			}
			if (cJSON_IsString(v) && tmpl_has_template(v->valuestring))
				continue;		/* typed at run time */
			if (!param_type_matches(tp->type, v))
				bp_err(st, p, "expected %s, got %s",
					   param_type_name(tp->type), fdb_json_type_name(v));
		}
		cJSON_ArrayForEach(item, params)
		{
			const char *key = item->string ? item->string : "";
			bool		known = false;

			for (i = 0; i < task->nparams && !known; i++)
				known = strcmp(task->params[i].name, key) == 0;
			if (known)
				continue;
			{
				const char *names[64];
				int			n = 0;
				char		hint[BP_MSG_LEN / 2] = "";

				for (i = 0; i < task->nparams && n < 64; i++)
					names[n++] = task->params[i].name;
				fdb_suggest(hint, sizeof(hint), key, names, n, 32);
				sub_path(p, sizeof(p), ppath, key);
				bp_err(st, p, "unknown parameter \"%.*s\" for %s.%s%s",
					   BP_SHOW, key, svc->name, task->name, hint);
			}
		}
	}
	/* "one of" rules (Slack text or blocks, ...) */
	if (task != NULL && task->one_of != NULL)
	{
		for (int g = 0; task->one_of[g] != NULL; g++)
		{
			char		names[BP_MSG_LEN / 2] = "";
			const char *q = task->one_of[g];

			if (!catalog_one_of_missing(q, params))
				continue;
			/* "a" or "b" (or "c") */
			while (*q)
			{
				size_t		len = strcspn(q, ",");
				size_t		used = strlen(names);
				bool		last = q[len] == '\0';

				snprintf(names + used, sizeof(names) - used, "%s\"%.*s\"",
						 used == 0 ? "" : (last ? " or " : ", "), (int) len, q);
				q += len;
				if (*q == ',')
					q++;
			}
			bp_err(st, ppath, "one of %s is required for %s.%s", names,
				   svc->name, task->name);
		}
	}
	if (params != NULL)
		check_templates_in(st, params, ppath, idx, -1, 0);

	cred = check_string_field(st, node, path, "credential", false);
	if (cred != NULL && cred[0] == '\0')
	{
		sub_path(p, sizeof(p), path, "credential");
		bp_err(st, p, "must not be empty");
	}

	retry = cJSON_GetObjectItemCaseSensitive(node, "retry");
	if (retry != NULL)
	{
		sub_path(p, sizeof(p), path, "retry");
		if (!cJSON_IsObject(retry))
			bp_err(st, p, "expected object, got %s", fdb_json_type_name(retry));
		else
		{
			check_int_field(st, retry, p, "max_attempts", true, 1, 10);
			check_int_field(st, retry, p, "backoff_ms", false, 10, 3600000);
			check_unknown_keys(st, retry, p, retry_keys, NULL, NULL);
		}
	}
	check_int_field(st, node, path, "timeout_ms", false, 1, BP_MAX_TIMEOUT_MS);
}

/*
 * check_delay
 *		Exactly one of seconds (0 < s <= 30 days) or until (ISO 8601
 *		timestamp or a template).
 */
static void
check_delay(BpState *st, int idx, const cJSON *node, const char *path)
{
	const cJSON *secs = cJSON_GetObjectItemCaseSensitive(node, "seconds");
	const cJSON *until = cJSON_GetObjectItemCaseSensitive(node, "until");
	char		p[BP_PATH_LEN];

	if ((secs == NULL) == (until == NULL))
		bp_err(st, path, "delay needs exactly one of \"seconds\" or \"until\"");
	check_positive_field(st, node, path, "seconds", BP_MAX_DELAY_SECONDS);
	if (until != NULL)
	{
		sub_path(p, sizeof(p), path, "until");
		if (!cJSON_IsString(until) || until->valuestring == NULL)
			bp_err(st, p, "expected string, got %s", fdb_json_type_name(until));
		else if (tmpl_has_template(until->valuestring))
			check_templates_in(st, until, p, idx, -1, 0);
		else if (!valid_iso_timestamp(until->valuestring))
			bp_err(st, p,
				   "expected an ISO 8601 timestamp (e.g. 2030-01-31T09:00:00Z) or a template, got \"%.*s\"",
				   BP_SHOW, until->valuestring);
	}
}

/*
 * check_wait_event
 *		event (namespace.name), optional match object and timeout_seconds.
 */
static void
check_wait_event(BpState *st, int idx, const cJSON *node, const char *path)
{
	const cJSON *match = cJSON_GetObjectItemCaseSensitive(node, "match");
	const char *ev;
	char		p[BP_PATH_LEN];

	ev = check_string_field(st, node, path, "event", true);
	if (ev != NULL && !valid_event_name(ev))
	{
		sub_path(p, sizeof(p), path, "event");
		bp_err(st, p,
			   "invalid event name \"%.*s\" (expected namespace.name, e.g. shop.order_paid)",
			   BP_SHOW, ev);
	}
	if (match != NULL)
	{
		sub_path(p, sizeof(p), path, "match");
		if (!cJSON_IsObject(match))
			bp_err(st, p, "expected object, got %s", fdb_json_type_name(match));
		else
			check_templates_in(st, match, p, idx, -1, 0);
	}
	check_positive_field(st, node, path, "timeout_seconds", BP_MAX_WAIT_SECONDS);
}

/*
 * check_set
 *		values: an object whose strings may hold templates.
 */
static void
check_set(BpState *st, int idx, const cJSON *node, const char *path)
{
	const cJSON *values = cJSON_GetObjectItemCaseSensitive(node, "values");
	char		p[BP_PATH_LEN];

	sub_path(p, sizeof(p), path, "values");
	if (values == NULL)
		bp_err(st, p, "required");
	else if (!cJSON_IsObject(values))
		bp_err(st, p, "expected object, got %s", fdb_json_type_name(values));
	else
		check_templates_in(st, values, p, idx, -1, 0);
}

/*
 * check_call
 *		workflow: the id or name of a saved workflow of the same owner
 *		(resolved when the node runs), not this blueprint's own name;
 *		payload: an optional object whose strings may hold templates.
 */
static void
check_call(BpState *st, int idx, const cJSON *node, const char *path,
		   const char *self)
{
	const cJSON *payload = cJSON_GetObjectItemCaseSensitive(node, "payload");
	const char *wf = check_string_field(st, node, path, "workflow", true);
	char		p[BP_PATH_LEN];

	sub_path(p, sizeof(p), path, "workflow");
	if (wf != NULL && (wf[0] == '\0' || utf8_chars(wf) > BP_MAX_NAME_CHARS))
		bp_err(st, p, "must be 1 to %d characters (a workflow id or name)",
			   BP_MAX_NAME_CHARS);
	else if (wf != NULL && tmpl_has_template(wf))
		bp_err(st, p, "must be a workflow id or name, not a template");
	else if (wf != NULL && self != NULL && strcmp(wf, self) == 0)
		bp_err(st, p, "a workflow cannot call itself (\"%.*s\")", BP_SHOW, wf);
	sub_path(p, sizeof(p), path, "payload");
	if (payload != NULL && !cJSON_IsObject(payload))
		bp_err(st, p, "expected object, got %s", fdb_json_type_name(payload));
	else if (payload != NULL)
		check_templates_in(st, payload, p, idx, -1, 0);
}

/*
 * check_map
 *		items (an array, or a string with templates that renders to one),
 *		concurrency 1..BP_MAX_MAP_CONCURRENCY, on_item_error fail|continue
 *		and do: an action (service, task, params, credential, retry,
 *		timeout_ms) in which {{item}} and {{index}} are known.
 */
static void
check_map(BpState *st, int idx, const cJSON *node, const char *path)
{
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(node, "items");
	const cJSON *act = cJSON_GetObjectItemCaseSensitive(node, "do");
	const char *policy;
	char		p[BP_PATH_LEN];

	sub_path(p, sizeof(p), path, "items");
	if (items == NULL)
		bp_err(st, p, "required");
	else if (cJSON_IsString(items) && items->valuestring != NULL &&
			 tmpl_has_template(items->valuestring))
		check_templates_in(st, items, p, idx, -1, 0);
	else if (cJSON_IsArray(items))
		check_templates_in(st, items, p, idx, -1, 0);
	else
		bp_err(st, p,
			   "expected an array or a template such as \"{{steps.fetch.output.body.items}}\", got %s",
			   fdb_json_type_name(items));

	check_int_field(st, node, path, "concurrency", false, 1, BP_MAX_MAP_CONCURRENCY);
	policy = check_string_field(st, node, path, "on_item_error", false);
	if (policy != NULL && strcmp(policy, "fail") != 0 && strcmp(policy, "continue") != 0)
	{
		sub_path(p, sizeof(p), path, "on_item_error");
		bp_err(st, p, "expected \"fail\" or \"continue\", got \"%.*s\"", BP_SHOW, policy);
	}

	sub_path(p, sizeof(p), path, "do");
	if (act == NULL)
		bp_err(st, p, "required");
	else if (!cJSON_IsObject(act))
		bp_err(st, p, "expected object, got %s", fdb_json_type_name(act));
	else if (cJSON_HasObjectItem(act, "workflow"))
	{
		/* a child run of a saved workflow per item, the item as trigger_data */
		static const char *const wf_keys[] = {"workflow", NULL};

		check_call(st, idx, act, p, st->self_name);
		check_unknown_keys(st, act, p, wf_keys, NULL,
						   " (a sub-workflow \"do\" takes only \"workflow\": the item is its trigger_data)");
	}
	else
	{
		st->in_map_do = true;
		check_action(st, idx, act, p);
		st->in_map_do = false;
		check_unknown_keys(st, act, p, action_keys, NULL, NULL);
	}
}

/*
 * check_node
 *		One node: id, type, common fields, then the per-type checks.
 */
static void
check_node(BpState *st, int idx, const cJSON *node)
{
	static const char *const types[] = {
		"action", "router", "delay", "wait_event", "set", "map", "call", NULL
	};
	char		path[BP_PATH_LEN];
	char		p[BP_PATH_LEN];
	const char *id;
	const char *type;

	snprintf(path, sizeof(path), "$.nodes[%d]", idx);
	if (!cJSON_IsObject(node))
	{
		bp_err(st, path, "expected object, got %s", fdb_json_type_name(node));
		return;
	}

	id = check_string_field(st, node, path, "id", true);
	if (id != NULL)
	{
		int			first = node_index(st, id);

		sub_path(p, sizeof(p), path, "id");
		if (!valid_node_id(id))
			bp_err(st, p, "invalid id \"%.*s%s\" (use 1-%d characters A-Z a-z 0-9 _ -)",
				   BP_SHOW, id, strlen(id) > BP_SHOW ? "..." : "", BP_MAX_ID_LEN);
		else if (first >= 0 && first != idx)
			bp_err(st, p, "duplicate id \"%s\" (also $.nodes[%d])", id, first);
	}

	type = check_string_field(st, node, path, "type", true);
	if (type != NULL && !in_list(type, types))
	{
		sub_path(p, sizeof(p), path, "type");
		bp_err(st, p,
			   "unknown node type \"%.*s\" (expected action, router, delay, wait_event, set, map or call)",
			   BP_SHOW, type);
		type = NULL;
	}
	check_string_field(st, node, path, "name", false);
	check_string_field(st, node, path, "description", false);

	if (type == NULL)
		return;					/* cannot tell which other keys are valid */

	if (strcmp(type, "action") == 0)
	{
		check_action(st, idx, node, path);
		check_unknown_keys(st, node, path, node_keys, action_keys, NULL);
	}
	else if (strcmp(type, "router") == 0)
		check_unknown_keys(st, node, path, node_keys, router_keys, NULL);
	else if (strcmp(type, "delay") == 0)
	{
		check_delay(st, idx, node, path);
		check_unknown_keys(st, node, path, node_keys, delay_keys, NULL);
	}
	else if (strcmp(type, "wait_event") == 0)
	{
		check_wait_event(st, idx, node, path);
		check_unknown_keys(st, node, path, node_keys, wait_event_keys, NULL);
	}
	else if (strcmp(type, "call") == 0)
	{
		check_call(st, idx, node, path, st->self_name);
		check_unknown_keys(st, node, path, node_keys, call_keys, NULL);
	}
	else if (strcmp(type, "map") == 0)
	{
		check_map(st, idx, node, path);
		check_unknown_keys(st, node, path, node_keys, map_keys, NULL);
	}
	else
	{
		check_set(st, idx, node, path);
		check_unknown_keys(st, node, path, node_keys, set_keys, NULL);
	}
}

/*
 * check_edge_end
 *		edge.from / edge.to: a string naming an existing node.
 */
static void
check_edge_end(BpState *st, const cJSON *edge, const char *path, const char *key)
{
	const char *id = check_string_field(st, edge, path, key, true);
	char		p[BP_PATH_LEN];

	if (id != NULL && node_index(st, id) < 0)
	{
		sub_path(p, sizeof(p), path, key);
		bp_err(st, p, "no node \"%.*s\"", BP_SHOW, id);
	}
}

/*
 * check_edge
 *		from/to, self loops, duplicates, condition and else.
 */
static void
check_edge(BpState *st, int e, const cJSON *edge)
{
	char		path[BP_PATH_LEN];
	char		p[BP_PATH_LEN];
	const cJSON *cond;
	const cJSON *els;
	const char *on;
	int			from = st->efrom[e];
	int			to = st->eto[e];
	int			k;

	snprintf(path, sizeof(path), "$.edges[%d]", e);
	if (!cJSON_IsObject(edge))
	{
		bp_err(st, path, "expected object, got %s", fdb_json_type_name(edge));
		return;
	}
	check_edge_end(st, edge, path, "from");
	check_edge_end(st, edge, path, "to");
	check_string_field(st, edge, path, "name", false);
	check_string_field(st, edge, path, "description", false);

	if (from >= 0 && from == to)
		bp_err(st, path, "self loop on node \"%s\"", st->id[from]);
	else if (from >= 0 && to >= 0)
	{
		for (k = 0; k < e; k++)
		{
			if (st->efrom[k] == from && st->eto[k] == to)
			{
				bp_err(st, path, "duplicate edge %s -> %s (also $.edges[%d])",
					   st->id[from], st->id[to], k);
				break;
			}
		}
	}

	cond = cJSON_GetObjectItemCaseSensitive(edge, "condition");
	els = cJSON_GetObjectItemCaseSensitive(edge, "else");
	on = check_string_field(st, edge, path, "on", false);
	if (on != NULL)
	{
		sub_path(p, sizeof(p), path, "on");
		if (strcmp(on, "success") != 0 && strcmp(on, "failure") != 0)
			bp_err(st, p, "expected \"success\" or \"failure\", got \"%.*s\"", BP_SHOW, on);
		else if (strcmp(on, "failure") == 0)
		{
			/* a failure path is unconditional: branch after it with a router */
			if (cond != NULL)
			{
				sub_path(p, sizeof(p), path, "condition");
				bp_err(st, p, "a failure edge (\"on\": \"failure\") cannot have a condition");
			}
			if (els != NULL)
			{
				sub_path(p, sizeof(p), path, "else");
				bp_err(st, p, "a failure edge (\"on\": \"failure\") cannot be an else edge");
			}
		}
	}
	if (cond != NULL)
	{
		sub_path(p, sizeof(p), path, "condition");
		cond_validate(cond, p, st->errs);
		check_templates_in(st, cond, p, -1, e, 0);
	}
	if (els != NULL)
	{
		sub_path(p, sizeof(p), path, "else");
		if (!cJSON_IsTrue(els))
			bp_err(st, p, "must be true (omit it for a normal edge)");
		else if (cond != NULL)
			bp_err(st, path, "an edge cannot have both \"condition\" and \"else\"");
		else if (from >= 0)
		{
			for (k = 0; k < e; k++)
			{
				if (st->eelse[k] && st->efrom[k] == from)
				{
					bp_err(st, p, "node \"%s\" already has an else edge ($.edges[%d])",
						   st->id[from], k);
					break;
				}
			}
		}
	}
	check_unknown_keys(st, edge, path, edge_keys, NULL, NULL);
}

/*
 * report_cycle
 *		Report the cycle stack[from..top] -> stack[from] as
 *		"cycle a -> b -> a" (long cycles are elided in the middle).
 */
static void
report_cycle(BpState *st, const int *stack, int from, int top)
{
	char		text[BP_MSG_LEN - 64];
	size_t		used = 0;
	int			i;

	text[0] = '\0';
	for (i = from; i <= top + 1; i++)
	{
		int			n = i <= top ? stack[i] : stack[from];
		int			w;

		/* keep room for one more id plus the " -> ... -> first" tail */
		if (used + 2 * (BP_MAX_ID_LEN + 16) >= sizeof(text))
		{
			w = snprintf(text + used, sizeof(text) - used, " -> ... -> %s",
						 st->id[stack[from]]);
			if (w > 0)
				used += (size_t) w;
			break;
		}
		w = snprintf(text + used, sizeof(text) - used, "%s%s",
					 i > from ? " -> " : "", st->id[n]);
		if (w > 0)
			used += (size_t) w;
		if (used >= sizeof(text))
			break;
	}
	bp_err(st, "$.edges", "cycle %s", text);
}

/*
 * check_cycles
 *		Depth-first search over the (unique, non-self-loop) edges; every back
 *		edge found reports the cycle it closes.
 */
static void
check_cycles(BpState *st)
{
	unsigned char color[BP_MAX_NODES];	/* 0 new, 1 on stack, 2 done */
	int			stack[BP_MAX_NODES];
	int			next_edge[BP_MAX_NODES];	/* per stack level */
	int			depth_of[BP_MAX_NODES];
	int			root;

	memset(color, 0, sizeof(color));
	for (root = 0; root < st->nnodes; root++)
	{
		int			top = 0;

		if (color[root] != 0 || st->id[root] == NULL)
			continue;
		stack[0] = root;
		next_edge[0] = 0;
		depth_of[root] = 0;
		color[root] = 1;
		while (top >= 0)
		{
			int			u = stack[top];
			int			e;

			for (e = next_edge[top]; e < st->nedges; e++)
			{
				if (st->efrom[e] == u && st->eto[e] >= 0 &&
					st->eto[e] != u && !st->edup[e])
					break;
			}
			if (e >= st->nedges)
			{
				color[u] = 2;
				top--;
				continue;
			}
			next_edge[top] = e + 1;
			{
				int			v = st->eto[e];

				if (color[v] == 1)
					report_cycle(st, stack, depth_of[v], top);
				else if (color[v] == 0 && top + 1 < BP_MAX_NODES)
				{
					top++;
					stack[top] = v;
					next_edge[top] = 0;
					depth_of[v] = top;
					color[v] = 1;
				}
			}
		}
	}
}

/*
 * collect_graph
 *		Silent first pass: node ids, and for each edge the indexes of its
 *		ends (-1 when unknown), duplicates and valid else edges.
 */
static void
collect_graph(BpState *st, const cJSON *nodes, const cJSON *edges)
{
	const cJSON *item;
	int			e;

	cJSON_ArrayForEach(item, nodes)
	{
		const char *id = fdb_json_str(item, "id");

		if (st->nnodes >= BP_MAX_NODES)
			break;
		st->node[st->nnodes] = item;
		st->id[st->nnodes] = (id != NULL && valid_node_id(id)) ? id : NULL;
		st->nnodes++;
	}

	cJSON_ArrayForEach(item, edges)
	{
		if (st->nedges >= BP_MAX_EDGES)
			break;
		e = st->nedges++;
		st->efrom[e] = node_index(st, fdb_json_str(item, "from"));
		st->eto[e] = node_index(st, fdb_json_str(item, "to"));
		st->edup[e] = false;
		st->eelse[e] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "else")) &&
			cJSON_GetObjectItemCaseSensitive(item, "condition") == NULL &&
			cJSON_GetObjectItemCaseSensitive(item, "on") == NULL;
		if (st->efrom[e] >= 0 && st->eto[e] >= 0)
		{
			int			k;

			for (k = 0; k < e; k++)
			{
				if (st->efrom[k] == st->efrom[e] && st->eto[k] == st->eto[e])
				{
					st->edup[e] = true;
					break;
				}
			}
		}
	}
}

/*
 * index_incoming
 *		Build st->in_start/in_from (incoming edges per node, counting sort)
 *		from the edges whose both ends are known.
 */
static void
index_incoming(BpState *st)
{
	int			fill[BP_MAX_NODES];
	int			e;
	int			n;

	memset(st->in_start, 0, sizeof(st->in_start));
	for (e = 0; e < st->nedges; e++)
	{
		if (st->efrom[e] >= 0 && st->eto[e] >= 0)
			st->in_start[st->eto[e] + 1]++;
	}
	for (n = 0; n < st->nnodes; n++)
	{
		st->in_start[n + 1] += st->in_start[n];
		fill[n] = st->in_start[n];
	}
	for (e = 0; e < st->nedges; e++)
	{
		if (st->efrom[e] >= 0 && st->eto[e] >= 0)
			st->in_from[fill[st->eto[e]]++] = st->efrom[e];
	}
}

/*
 * check_on_failure
 *		$.on_failure: {"workflow": "<id or name>"}, the workflow whose run
 *		starts when a run of this one fails.  Whether it exists is checked
 *		in SQL when the workflow is saved (flowdb.check_on_failure).
 */
static void
check_on_failure(BpState *st, const cJSON *of)
{
	const char *wf;

	if (of == NULL)
		return;
	if (!cJSON_IsObject(of))
	{
		bp_err(st, "$.on_failure", "expected object, got %s", fdb_json_type_name(of));
		return;
	}
	wf = check_string_field(st, of, "$.on_failure", "workflow", true);
	if (wf != NULL)
	{
		size_t		n = utf8_chars(wf);

		if (n < 1 || n > BP_MAX_NAME_CHARS)
			bp_err(st, "$.on_failure.workflow",
				   "must be a workflow id or name of 1 to %d characters", BP_MAX_NAME_CHARS);
	}
	check_unknown_keys(st, of, "$.on_failure", on_failure_keys, NULL, NULL);
}

/*
 * bp_validate
 *		Validate a parsed blueprint; every problem is added to errs.  True
 *		when nothing was added.
 */
bool
bp_validate(const cJSON *bp, FdbErrors *errs)
{
	BpState    *st;
	const cJSON *version;
	const cJSON *nodes;
	const cJSON *edges;
	const cJSON *item;
	const char *name;
	int			nnodes = 0;
	int			nedges = 0;
	bool		nodes_ok = false;
	bool		edges_ok = false;
	int			before = errs->count;
	int			i;

	if (!cJSON_IsObject(bp))
	{
		fdb_errors_add(errs, "$", "expected object, got %s", fdb_json_type_name(bp));
		return false;
	}

	st = calloc(1, sizeof(BpState));
	if (st == NULL)
	{
		fdb_errors_add(errs, "$", "out of memory");
		return false;
	}
	st->errs = errs;
	st->start = errs->count;

	/* version */
	version = cJSON_GetObjectItemCaseSensitive(bp, "version");
	if (version == NULL)
		bp_err(st, "$.version", "required");
	else if (!cJSON_IsNumber(version))
		bp_err(st, "$.version", "expected integer, got %s", fdb_json_type_name(version));
	else if (version->valuedouble != 1)
		bp_err(st, "$.version", "unsupported version %g, expected 1",
			   version->valuedouble);

	/* name, description */
	name = check_string_field(st, bp, "$", "name", true);
	if (name != NULL)
	{
		size_t		n = utf8_chars(name);

		if (n < 1 || n > BP_MAX_NAME_CHARS)
			bp_err(st, "$.name", "must be 1 to %d characters", BP_MAX_NAME_CHARS);
	}
	check_string_field(st, bp, "$", "description", false);
	st->self_name = name;

	check_trigger(st, cJSON_GetObjectItemCaseSensitive(bp, "trigger"));

	/* sizes, then the silent pass over the graph */
	nodes = cJSON_GetObjectItemCaseSensitive(bp, "nodes");
	if (nodes == NULL)
		bp_err(st, "$.nodes", "required");
	else if (!cJSON_IsArray(nodes))
		bp_err(st, "$.nodes", "expected array, got %s", fdb_json_type_name(nodes));
	else if ((nnodes = cJSON_GetArraySize(nodes)) == 0)
		bp_err(st, "$.nodes", "must not be empty");
	else if (nnodes > BP_MAX_NODES)
		bp_err(st, "$.nodes", "too many nodes (%d, max %d)", nnodes, BP_MAX_NODES);
	else
		nodes_ok = true;

	edges = cJSON_GetObjectItemCaseSensitive(bp, "edges");
	if (edges != NULL && !cJSON_IsArray(edges))
		bp_err(st, "$.edges", "expected array, got %s", fdb_json_type_name(edges));
	else if (edges != NULL && (nedges = cJSON_GetArraySize(edges)) > BP_MAX_EDGES)
		bp_err(st, "$.edges", "too many edges (%d, max %d)", nedges, BP_MAX_EDGES);
	else
		edges_ok = true;

	if (nodes_ok)
	{
		collect_graph(st, nodes, edges_ok ? edges : NULL);
		index_incoming(st);
		st->graph_ok = edges_ok;

		i = 0;
		cJSON_ArrayForEach(item, nodes)
			check_node(st, i++, item);

		if (edges_ok)
		{
			i = 0;
			cJSON_ArrayForEach(item, edges)
				check_edge(st, i++, item);
			check_cycles(st);
		}
	}

	check_on_failure(st, cJSON_GetObjectItemCaseSensitive(bp, "on_failure"));
	check_unknown_keys(st, bp, "$", root_keys, NULL, NULL);

	cJSON_Delete(st->table_shape);
	free(st);
	return errs->count == before;
}

/*
 * bp_node
 *		The first node whose "id" is id, or NULL.
 */
const cJSON *
bp_node(const cJSON *bp, const char *id)
{
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(bp, "nodes");
	const cJSON *node;

	if (id == NULL || !cJSON_IsArray(nodes))
		return NULL;
	cJSON_ArrayForEach(node, nodes)
	{
		const char *nid = fdb_json_str(node, "id");

		if (nid != NULL && strcmp(nid, id) == 0)
			return node;
	}
	return NULL;
}

/*
 * bp_node_count
 *		Number of entries in "nodes" (0 when it is not an array).
 */
int
bp_node_count(const cJSON *bp)
{
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(bp, "nodes");

	if (!cJSON_IsArray(nodes))
		return 0;
	return cJSON_GetArraySize(nodes);
}
