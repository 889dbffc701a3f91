/*-------------------------------------------------------------------------
 *
 * template.c
 *	  {{ root.path }} templates over a JSON context (pure C).
 *
 * Syntax: "{{" opens a template and the first following "}}" closes it
 * (except inside a quoted key, see below).  The expression between them,
 * with surrounding whitespace removed, is a path:
 *
 *		root ( "." key | "[" digits "]" | "[" '"' quoted-key '"' "]" )*
 *
 * root and key are [A-Za-z0-9_-]+; a quoted key may hold any bytes, with
 * \" and \\ as its only escapes.  A lone "}}" outside a template is
 * literal text.
 *
 * Rendering never re-scans text that came from the context: a value that
 * itself contains "{{" is copied verbatim.  That keeps data supplied by a
 * trigger from reaching into other parts of the context.
 *
 * Pure C: libc and cJSON only, malloc/free, no longjmp.
 *
 *-------------------------------------------------------------------------
 */
#include "template.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Maximum nesting of arrays/objects tmpl_render copies. */
#define TMPL_MAX_RENDER_DEPTH 1100

/* Longest expression text quoted back in an error message. */
#define TMPL_SHOW_LEN 80

/* Size of the buffers holding a path's display text. */
#define TMPL_PATHTEXT_LEN 160

/* Largest rendered value in bytes, 0 = no limit (see template.h). */
size_t		tmpl_max_bytes = 0;

/* One template located in a string. */
typedef struct TmplSpan
{
	size_t		open;			/* offset of "{{" */
	size_t		end;			/* offset just past "}}" */
	const char *expr;			/* trimmed expression */
	size_t		len;			/* its length */
} TmplSpan;

/*
 * is_space
 *		ASCII whitespace accepted around an expression.
 */
static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\f' || c == '\v';
}

/*
 * is_ident
 *		Characters allowed in a root or an unquoted key.
 */
static bool
is_ident(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9') || c == '_' || c == '-';
}

/*
 * utf8_cut
 *		Largest length <= max at which s (n bytes) can be cut without
 *		splitting a UTF-8 sequence.
 */
static size_t
utf8_cut(const char *s, size_t n, size_t max)
{
	size_t		cut;

	if (n <= max)
		return n;
	cut = max;
	while (cut > 0 && (((unsigned char) s[cut]) & 0xC0) == 0x80)
		cut--;
	return cut;
}

/*
 * show_text
 *		Copy at most TMPL_SHOW_LEN bytes of s into dst for an error
 *		message, adding "..." when it was clipped.
 */
static void
show_text(char *dst, size_t dstlen, const char *s, size_t n)
{
	size_t		max = TMPL_SHOW_LEN;
	size_t		cut;

	if (dstlen < 4)
	{
		if (dstlen > 0)
			dst[0] = '\0';
		return;
	}
	if (max > dstlen - 4)
		max = dstlen - 4;
	cut = utf8_cut(s, n, max);
	memcpy(dst, s, cut);
	if (cut < n)
	{
		memcpy(dst + cut, "...", 3);
		cut += 3;
	}
	dst[cut] = '\0';
}

/*
 * trim
 *		Narrow [*s, *s + *n) to exclude surrounding whitespace.
 */
static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && is_space((*s)[0]))
	{
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_space((*s)[*n - 1]))
		(*n)--;
}

/*
 * next_span
 *		Find the next template in s at or after *pos.  Returns 1 and fills
 *		span (advancing *pos past it), 0 when there is none, -1 with err on
 *		a syntax error.  A '"' right after '[' starts a quoted key in which
 *		"}}" does not close the template.
 */
static int
next_span(const char *s, size_t *pos, TmplSpan *span, char *err, size_t errlen)
{
	const char *open;
	const char *p;
	const char *expr;
	size_t		len;

	open = strstr(s + *pos, "{{");
	if (open == NULL)
		return 0;
	p = open + 2;
	for (;;)
	{
		if (*p == '\0')
		{
			fdb_fmt(err, errlen, "unclosed template at offset %zu",
					(size_t) (open - s));
			return -1;
		}
		if (*p == '"' && p > open + 2 && p[-1] == '[')
		{
			/* quoted key: skip to the closing quote */
			p++;
			while (*p != '\0' && *p != '"')
			{
				if (*p == '\\' && p[1] != '\0')
					p += 2;
				else
					p++;
			}
			if (*p == '\0')
			{
				fdb_fmt(err, errlen, "unclosed template at offset %zu",
						(size_t) (open - s));
				return -1;
			}
			p++;
			continue;
		}
		if (p[0] == '}' && p[1] == '}')
			break;
		p++;
	}
	expr = open + 2;
	len = (size_t) (p - expr);
	trim(&expr, &len);
	if (len == 0)
	{
		fdb_fmt(err, errlen, "empty template at offset %zu",
				(size_t) (open - s));
		return -1;
	}
	span->open = (size_t) (open - s);
	span->end = (size_t) (p + 2 - s);
	span->expr = expr;
	span->len = len;
	*pos = span->end;
	return 1;
}

/*
 * tmpl_scan
 *		Call cb for every template expression in s; false with err on a
 *		syntax error.  Stopping early (cb returning false) is a success.
 */
bool
tmpl_scan(const char *s, TmplExprCallback cb, void *arg,
		  char *err, size_t errlen)
{
	size_t		pos = 0;
	TmplSpan	span;
	int			rc;

	if (s == NULL)
		return true;
	while ((rc = next_span(s, &pos, &span, err, errlen)) == 1)
	{
		if (cb != NULL && !cb(span.expr, span.len, arg))
			return true;
	}
	return rc == 0;
}

/*
 * path_error
 *		Report a syntax error in expression expr at offset off.
 */
static bool
path_error(const char *expr, size_t len, size_t off, const char *what,
		   char *err, size_t errlen)
{
	char		shown[TMPL_SHOW_LEN + 4];

	show_text(shown, sizeof(shown), expr, len);
	fdb_fmt(err, errlen, "invalid template path \"%s\": %s at offset %zu",
			shown, what, off);
	return false;
}

/*
 * tmpl_parse_path
 *		Parse "root.key[0][\"quoted key\"]" into out.  The root is not
 *		checked against the known roots.
 */
bool
tmpl_parse_path(const char *expr, size_t len, TmplPath *out,
				char *err, size_t errlen)
{
	const char *s = expr;
	size_t		n = len;
	size_t		i = 0;
	size_t		start;

	if (out == NULL)
		return false;
	memset(out, 0, sizeof(*out));
	if (s == NULL)
		n = 0;
	trim(&s, &n);
	if (n == 0)
	{
		fdb_fmt(err, errlen, "empty template expression");
		return false;
	}

	/* root */
	while (i < n && is_ident(s[i]))
		i++;
	if (i == 0)
		return path_error(s, n, 0, "expected a root name", err, errlen);
	if (i >= sizeof(out->root))
		return path_error(s, n, 0, "root name too long", err, errlen);
	memcpy(out->root, s, i);
	out->root[i] = '\0';

	/* selectors */
	while (i < n)
	{
		TmplSegment *seg;

		if (out->nsegments >= TMPL_MAX_SEGMENTS)
			return path_error(s, n, i, "too many path segments (max 32)",
							  err, errlen);
		seg = &out->segments[out->nsegments];

		if (s[i] == '.')
		{
			i++;
			start = i;
			while (i < n && is_ident(s[i]))
				i++;
			if (i == start)
				return path_error(s, n, start, "expected a key after \".\"",
								  err, errlen);
			if (i - start >= sizeof(seg->key))
				return path_error(s, n, start, "key too long", err, errlen);
			seg->is_index = false;
			memcpy(seg->key, s + start, i - start);
			seg->key[i - start] = '\0';
		}
		else if (s[i] == '[')
		{
			i++;
			if (i < n && s[i] >= '0' && s[i] <= '9')
			{
				long		v = 0;

				start = i;
				while (i < n && s[i] >= '0' && s[i] <= '9')
				{
					if (v > (INT_MAX - (s[i] - '0')) / 10)
						return path_error(s, n, start, "index too large",
										  err, errlen);
					v = v * 10 + (s[i] - '0');
					i++;
				}
				if (i >= n || s[i] != ']')
					return path_error(s, n, i, "expected \"]\"", err, errlen);
				i++;
				seg->is_index = true;
				seg->index = v;
			}
			else if (i < n && s[i] == '"')
			{
				size_t		k = 0;

				start = i;
				i++;
				while (i < n && s[i] != '"')
				{
					char		c = s[i];

					if (c == '\0')
						return path_error(s, n, i, "NUL byte in key",
										  err, errlen);
					if (c == '\\')
					{
						if (i + 1 < n && (s[i + 1] == '"' || s[i + 1] == '\\'))
						{
							c = s[i + 1];
							i++;
						}
						else
							return path_error(s, n, i,
											  "invalid escape in quoted key (only \\\" and \\\\)",
											  err, errlen);
					}
					if (k + 1 >= sizeof(seg->key))
						return path_error(s, n, start, "key too long",
										  err, errlen);
					seg->key[k++] = c;
					i++;
				}
				if (i >= n)
					return path_error(s, n, start, "unterminated quoted key",
									  err, errlen);
				i++;			/* closing quote */
				if (i >= n || s[i] != ']')
					return path_error(s, n, i, "expected \"]\"", err, errlen);
				i++;
				seg->is_index = false;
				seg->key[k] = '\0';
			}
			else
				return path_error(s, n, i,
								  "expected an index or a quoted key after \"[\"",
								  err, errlen);
		}
		else
			return path_error(s, n, i, "expected \".\" or \"[\"", err, errlen);
		out->nsegments++;
	}
	return true;
}

/*
 * tmpl_root_known
 *		true for the roots the run context provides.
 */
bool
tmpl_root_known(const char *root)
{
	if (root == NULL)
		return false;
	return strcmp(root, "trigger_data") == 0 ||
		strcmp(root, "steps") == 0 ||
		strcmp(root, "run") == 0 ||
		strcmp(root, "workflow") == 0;
}

/*
 * tmpl_has_template
 *		Does s contain "{{" ?
 */
bool
tmpl_has_template(const char *s)
{
	return s != NULL && strstr(s, "{{") != NULL;
}

/*
 * TextOut: a bounded text builder for messages (clips with "...").
 */
typedef struct TextOut
{
	char	   *buf;
	size_t		cap;
	size_t		len;
	bool		clipped;
} TextOut;

/*
 * text_add
 *		Append n bytes, clipping at a UTF-8 boundary when full.
 */
static void
text_add(TextOut *t, const char *s, size_t n)
{
	size_t		room;
	size_t		cut;

	if (t->clipped || t->cap < 4)
		return;
	room = t->cap - 4 - t->len;	/* keep space for "..." and NUL */
	cut = utf8_cut(s, n, room);
	memcpy(t->buf + t->len, s, cut);
	t->len += cut;
	if (cut < n)
	{
		memcpy(t->buf + t->len, "...", 3);
		t->len += 3;
		t->clipped = true;
	}
	t->buf[t->len] = '\0';
}

/*
 * path_text
 *		Display text of the root and the first upto segments, as a user
 *		would write it: root.key[3]["odd key"].
 */
static void
path_text(const TmplPath *p, int upto, char *buf, size_t cap)
{
	TextOut		t;
	int			i;

	t.buf = buf;
	t.cap = cap;
	t.len = 0;
	t.clipped = false;
	if (cap > 0)
		buf[0] = '\0';
	text_add(&t, p->root, strnlen(p->root, sizeof(p->root)));
	for (i = 0; i < upto && i < p->nsegments && i < TMPL_MAX_SEGMENTS; i++)
	{
		const TmplSegment *seg = &p->segments[i];
		size_t		klen = strnlen(seg->key, sizeof(seg->key));
		bool		plain = klen > 0;
		size_t		j;

		if (seg->is_index)
		{
			char		num[32];

			snprintf(num, sizeof(num), "[%ld]", seg->index);
			text_add(&t, num, strlen(num));
			continue;
		}
		for (j = 0; j < klen && plain; j++)
			plain = is_ident(seg->key[j]);
		if (plain)
		{
			text_add(&t, ".", 1);
			text_add(&t, seg->key, klen);
			continue;
		}
		text_add(&t, "[\"", 2);
		for (j = 0; j < klen; j++)
		{
			if (seg->key[j] == '"' || seg->key[j] == '\\')
				text_add(&t, "\\", 1);
			text_add(&t, &seg->key[j], 1);
		}
		text_add(&t, "\"]", 2);
	}
}

/*
 * json_type_name
 *		Human name of a JSON value's type.
 */
static const char *
json_type_name(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsArray(v))
		return "an array";
	if (cJSON_IsObject(v))
		return "an object";
	return "not a JSON value";
}

/*
 * tmpl_lookup
 *		Walk path through ctx; NULL with err naming the path and the
 *		segment that is missing.
 */
const cJSON *
tmpl_lookup(const TmplPath *path, const cJSON *ctx, char *err, size_t errlen)
{
	char		full[TMPL_PATHTEXT_LEN];
	char		where[TMPL_PATHTEXT_LEN];
	const cJSON *cur;
	int			i;

	if (path == NULL)
	{
		fdb_fmt(err, errlen, "no template path");
		return NULL;
	}
	cur = cJSON_IsObject(ctx) ?
		cJSON_GetObjectItemCaseSensitive(ctx, path->root) : NULL;
	if (cur == NULL)
	{
		path_text(path, path->nsegments, full, sizeof(full));
		path_text(path, 0, where, sizeof(where));
		fdb_fmt(err, errlen, "path %s not found (no \"%s\" in context)",
				full, where);
		return NULL;
	}
	for (i = 0; i < path->nsegments && i < TMPL_MAX_SEGMENTS; i++)
	{
		const TmplSegment *seg = &path->segments[i];
		const cJSON *next = NULL;

		if (seg->is_index)
		{
			if (cJSON_IsArray(cur))
			{
				int			size = cJSON_GetArraySize(cur);

				if (seg->index >= 0 && seg->index < size)
					next = cJSON_GetArrayItem(cur, (int) seg->index);
				if (next == NULL)
				{
					path_text(path, path->nsegments, full, sizeof(full));
					path_text(path, i, where, sizeof(where));
					fdb_fmt(err, errlen,
							"path %s not found (%s has %d element%s)",
							full, where, size, size == 1 ? "" : "s");
					return NULL;
				}
			}
			else
			{
				path_text(path, path->nsegments, full, sizeof(full));
				path_text(path, i, where, sizeof(where));
				fdb_fmt(err, errlen, "path %s not found (%s is %s, not an array)",
						full, where, json_type_name(cur));
				return NULL;
			}
		}
		else
		{
			if (cJSON_IsObject(cur))
			{
				next = cJSON_GetObjectItemCaseSensitive(cur, seg->key);
				if (next == NULL)
				{
					char		keyshown[TMPL_SHOW_LEN + 4];

					path_text(path, path->nsegments, full, sizeof(full));
					path_text(path, i, where, sizeof(where));
					show_text(keyshown, sizeof(keyshown), seg->key,
							  strnlen(seg->key, sizeof(seg->key)));
					fdb_fmt(err, errlen,
							"path %s not found (no key \"%s\" in %s)",
							full, keyshown, where);
					return NULL;
				}
			}
			else
			{
				path_text(path, path->nsegments, full, sizeof(full));
				path_text(path, i, where, sizeof(where));
				fdb_fmt(err, errlen, "path %s not found (%s is %s, not an object)",
						full, where, json_type_name(cur));
				return NULL;
			}
		}
		cur = next;
	}
	return cur;
}

/*
 * detach_name
 *		Drop the member name a duplicated value inherited from its parent.
 */
static void
detach_name(cJSON *v)
{
	if (v == NULL || v->string == NULL)
		return;
	if (!(v->type & cJSON_StringIsConst))
		cJSON_free(v->string);
	v->string = NULL;
	v->type &= ~cJSON_StringIsConst;
}

/*
 * tmpl_parse_whole
 *		1 with *out filled when s is exactly one template, 0 when it is
 *		not, -1 with err on a syntax error in its first template.
 */
int
tmpl_parse_whole(const char *s, TmplPath *out, char *err, size_t errlen)
{
	size_t		pos = 0;
	TmplSpan	span;
	int			rc;

	if (s == NULL || s[0] != '{' || s[1] != '{')
		return 0;
	rc = next_span(s, &pos, &span, err, errlen);
	if (rc < 0)
		return -1;
	if (rc == 0 || span.open != 0 || s[span.end] != '\0')
		return 0;
	if (!tmpl_parse_path(span.expr, span.len, out, err, errlen))
		return -1;
	return 1;
}

/*
 * lookup_expr
 *		Parse an expression and resolve it; NULL with err on failure.
 */
static const cJSON *
lookup_expr(const char *expr, size_t len, const cJSON *ctx,
			char *err, size_t errlen)
{
	TmplPath	path;

	if (!tmpl_parse_path(expr, len, &path, err, errlen))
		return NULL;
	return tmpl_lookup(&path, ctx, err, errlen);
}

/*
 * over_budget
 *		Add n bytes to the rendered total *used; true (with err set) when
 *		that passes tmpl_max_bytes.
 */
static bool
over_budget(size_t *used, size_t n, char *err, size_t errlen)
{
	if (tmpl_max_bytes == 0)
		return false;
	if (n > tmpl_max_bytes || *used > tmpl_max_bytes - n)
	{
		fdb_fmt(err, errlen, "rendered value larger than %zu bytes", tmpl_max_bytes);
		return true;
	}
	*used += n;
	return false;
}

/*
 * value_size
 *		Approximate JSON size of v, counting no further than just past the
 *		cap (0 when there is no cap: nothing needs counting).
 */
static size_t
value_size(const cJSON *v)
{
	if (tmpl_max_bytes == 0)
		return 0;
	return fdb_json_size(v, tmpl_max_bytes);
}

/*
 * render_string
 *		Worker of tmpl_render_string; *used is the running size of the
 *		whole rendered value, checked against tmpl_max_bytes before each
 *		piece is copied, so an oversized result is never built.
 */
static cJSON *
render_string(const char *s, const cJSON *ctx, size_t *used,
			  char *err, size_t errlen)
{
	TmplPath	path;
	int			whole;
	FdbBuf		b;
	size_t		pos = 0;
	size_t		lit = 0;
	TmplSpan	span;
	int			rc;
	cJSON	   *out;

	if (s == NULL)
	{
		fdb_fmt(err, errlen, "no string to render");
		return NULL;
	}
	if (!tmpl_has_template(s))
	{
		if (over_budget(used, strlen(s), err, errlen))
			return NULL;
		out = cJSON_CreateString(s);
		if (out == NULL)
			fdb_fmt(err, errlen, "out of memory");
		return out;
	}

	whole = tmpl_parse_whole(s, &path, err, errlen);
	if (whole < 0)
		return NULL;
	if (whole == 1)
	{
		const cJSON *v = tmpl_lookup(&path, ctx, err, errlen);

		if (v == NULL)
			return NULL;
		if (over_budget(used, value_size(v), err, errlen))
			return NULL;
		out = cJSON_Duplicate(v, true);
		if (out == NULL)
		{
			fdb_fmt(err, errlen, "out of memory");
			return NULL;
		}
		detach_name(out);
		return out;
	}

	fdb_buf_init(&b);
	while ((rc = next_span(s, &pos, &span, err, errlen)) == 1)
	{
		const cJSON *v;
		char	   *text;

		if (over_budget(used, span.open - lit, err, errlen))
		{
			fdb_buf_free(&b);
			return NULL;
		}
		fdb_buf_append(&b, s + lit, span.open - lit);
		v = lookup_expr(span.expr, span.len, ctx, err, errlen);
		if (v == NULL || over_budget(used, value_size(v), err, errlen))
		{
			fdb_buf_free(&b);
			return NULL;
		}
		text = fdb_json_to_text(v);
		if (text == NULL)
		{
			fdb_buf_free(&b);
			fdb_fmt(err, errlen, "out of memory");
			return NULL;
		}
		fdb_buf_puts(&b, text);
		free(text);
		lit = span.end;
	}
	if (rc < 0 || over_budget(used, strlen(s + lit), err, errlen))
	{
		fdb_buf_free(&b);
		return NULL;
	}
	fdb_buf_puts(&b, s + lit);
	if (b.data == NULL)
	{
		fdb_buf_free(&b);
		fdb_fmt(err, errlen, "out of memory");
		return NULL;
	}
	out = cJSON_CreateString(b.data);
	fdb_buf_free(&b);
	if (out == NULL)
		fdb_fmt(err, errlen, "out of memory");
	return out;
}

/*
 * tmpl_render_string
 *		Render one string: unchanged without templates, the referenced
 *		value (deep copy, same JSON type) when it is a whole template,
 *		otherwise a string with each template replaced by its text.
 *		Substituted text is never scanned again.
 */
cJSON *
tmpl_render_string(const char *s, const cJSON *ctx, char *err, size_t errlen)
{
	size_t		used = 0;

	return render_string(s, ctx, &used, err, errlen);
}

/*
 * render_value
 *		Recursive worker of tmpl_render.
 */
static cJSON *
render_value(const cJSON *value, const cJSON *ctx, int depth, size_t *used,
			 char *err, size_t errlen)
{
	cJSON	   *out;
	const cJSON *child;

	if (depth > TMPL_MAX_RENDER_DEPTH)
	{
		fdb_fmt(err, errlen, "value nested too deeply");
		return NULL;
	}
	if (cJSON_IsString(value))
		return render_string(value->valuestring ? value->valuestring : "",
							 ctx, used, err, errlen);
	if (cJSON_IsArray(value) || cJSON_IsObject(value))
	{
		bool		is_obj = cJSON_IsObject(value);

		out = is_obj ? cJSON_CreateObject() : cJSON_CreateArray();
		if (out == NULL)
		{
			fdb_fmt(err, errlen, "out of memory");
			return NULL;
		}
		for (child = value->child; child != NULL; child = child->next)
		{
			cJSON	   *r;
			bool		ok;

			if (child->string != NULL &&
				over_budget(used, strlen(child->string) + 3, err, errlen))
			{
				cJSON_Delete(out);
				return NULL;
			}
			r = render_value(child, ctx, depth + 1, used, err, errlen);

			if (r == NULL)
			{
				cJSON_Delete(out);
				return NULL;
			}
			if (is_obj)
				ok = cJSON_AddItemToObject(out,
										   child->string ? child->string : "",
										   r);
			else
				ok = cJSON_AddItemToArray(out, r);
			if (!ok)
			{
				cJSON_Delete(r);
				cJSON_Delete(out);
				fdb_fmt(err, errlen, "out of memory");
				return NULL;
			}
		}
		return out;
	}
	if (value == NULL || cJSON_IsInvalid(value))
	{
		fdb_fmt(err, errlen, "no value to render");
		return NULL;
	}
	/* number, boolean, null, raw */
	if (over_budget(used, value_size(value), err, errlen))
		return NULL;
	out = cJSON_Duplicate(value, false);
	if (out == NULL)
	{
		fdb_fmt(err, errlen, "out of memory");
		return NULL;
	}
	detach_name(out);
	return out;
}

/*
 * tmpl_render
 *		Deep copy of value with every string rendered (object keys are
 *		kept as they are).
 */
cJSON *
tmpl_render(const cJSON *value, const cJSON *ctx, char *err, size_t errlen)
{
	size_t		used = 0;

	return render_value(value, ctx, 0, &used, err, errlen);
}
