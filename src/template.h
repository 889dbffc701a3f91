/*-------------------------------------------------------------------------
 *
 * template.h
 *	  {{ root.path }} templates over a JSON context (pure C).
 *
 * The context is a JSON object whose keys are the roots: trigger_data,
 * steps, run, workflow.  A path is root followed by any number of ".key"
 * or "[index]" selectors; keys are [A-Za-z0-9_-]+ ; whitespace inside the
 * braces is ignored.  A string value that is exactly one template keeps the
 * referenced value's JSON type; templates embedded in longer strings are
 * interpolated as text (see fdb_json_to_text).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_TEMPLATE_H
#define FLOWDB_TEMPLATE_H

#include "fjson.h"

#define TMPL_MAX_SEGMENTS 32

/*
 * Largest rendered value, in bytes of its (approximate) JSON text; 0 means
 * no limit.  tmpl_render and tmpl_render_string check it before copying
 * each piece, so an oversized result is refused ("rendered value larger
 * than N bytes") before it is built.  The backend sets it from
 * flowdb.max_value_bytes.
 */
extern size_t tmpl_max_bytes;

typedef struct TmplSegment
{
	bool		is_index;
	long		index;			/* when is_index */
	char		key[128];		/* when !is_index */
} TmplSegment;

typedef struct TmplPath
{
	char		root[32];
	int			nsegments;
	TmplSegment segments[TMPL_MAX_SEGMENTS];
} TmplPath;

/* Callback for each {{ expr }} found; expr is not NUL-terminated.  Return
 * false to stop the scan. */
typedef bool (*TmplExprCallback) (const char *expr, size_t len, void *arg);

/*
 * Scan s for templates, calling cb for each expression (trimmed).  Returns
 * false with err set on a syntax error (e.g. "{{" without "}}").
 */
extern bool tmpl_scan(const char *s, TmplExprCallback cb, void *arg,
					  char *err, size_t errlen);

/* Parse one expression into a path; false with err on bad syntax. Does not
 * check that the root is known. */
extern bool tmpl_parse_path(const char *expr, size_t len, TmplPath *out,
							char *err, size_t errlen);

/* true when root is one of trigger_data, steps, run, workflow */
extern bool tmpl_root_known(const char *root);

/* Does s contain at least one "{{" ? */
extern bool tmpl_has_template(const char *s);

/*
 * Resolve a path against ctx.  Returns a borrowed pointer, or NULL with err
 * naming the missing path (e.g. "path trigger_data.items[3] not found").
 */
extern const cJSON *tmpl_lookup(const TmplPath *path, const cJSON *ctx,
								char *err, size_t errlen);

/*
 * Render a JSON value: a deep copy in which every string containing
 * templates is replaced (whole template -> referenced value's type,
 * embedded -> text).  Object keys are not rendered.  NULL with err on a
 * syntax error or missing path.  Caller cJSON_Delete()s the result.
 */
extern cJSON *tmpl_render(const cJSON *value, const cJSON *ctx,
						  char *err, size_t errlen);

/* Render a single string (same rules); NULL with err on error. */
extern cJSON *tmpl_render_string(const char *s, const cJSON *ctx,
								 char *err, size_t errlen);

/*
 * Is s exactly one template ("{{" first, "}}" last, a single expression)?
 * Returns 1 and fills *out when it is, 0 when it is not (other templates
 * in s are not checked), -1 with err on a syntax error in that template.
 */
extern int	tmpl_parse_whole(const char *s, TmplPath *out,
							 char *err, size_t errlen);

#endif							/* FLOWDB_TEMPLATE_H */
