/*-------------------------------------------------------------------------
 *
 * fjson.c
 *	  Small helpers shared by flowdb's pure modules: error lists, growable
 *	  buffers, formatted strings and JSON/text conversions.
 *
 * Pure C: libc and cJSON only, malloc/free, no longjmp.
 *
 * Out-of-memory policy: functions returning a malloc'd pointer return NULL
 * when allocation fails.  An FdbBuf that fails to grow frees its data and
 * enters a "failed" state (data == NULL, cap == SIZE_MAX) in which further
 * appends are ignored; callers see data == NULL.  fdb_errors_add never
 * silently drops a problem: if it cannot allocate the message it stores a
 * static "out of memory" marker instead (or aborts if even the item array
 * cannot grow, since losing a validation error would be unsafe).
 *
 *-------------------------------------------------------------------------
 */
#include "fjson.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Marker stored in an FdbErrors list when a message could not be built. */
static char fdb_oom_marker[] = "out of memory";

static char *fdb_vasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/*
 * fdb_vasprintf
 *		malloc'd vprintf; NULL on allocation or format failure.
 */
static char *
fdb_vasprintf(const char *fmt, va_list ap)
{
	va_list		ap2;
	int			n;
	char	   *out;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return NULL;
	out = malloc((size_t) n + 1);
	if (out == NULL)
		return NULL;
	if (vsnprintf(out, (size_t) n + 1, fmt, ap) < 0)
	{
		free(out);
		return NULL;
	}
	return out;
}

/*
 * fdb_errors_init
 *		Prepare an empty error list.
 */
void
fdb_errors_init(FdbErrors *e)
{
	e->count = 0;
	e->cap = 0;
	e->items = NULL;
}

/*
 * fdb_errors_add
 *		Append "path: message" (or just "message" when path is NULL or
 *		empty) to the list.
 */
void
fdb_errors_add(FdbErrors *e, const char *path, const char *fmt,...)
{
	va_list		ap;
	char	   *msg;
	char	   *item;

	if (e->count >= e->cap)
	{
		int			ncap = e->cap > 0 ? e->cap * 2 : 8;
		char	  **nitems;

		if (ncap <= e->cap)
			abort();			/* int overflow: absurd number of errors */
		nitems = realloc(e->items, (size_t) ncap * sizeof(char *));
		if (nitems == NULL)
			abort();			/* cannot record the problem: fail hard */
		e->items = nitems;
		e->cap = ncap;
	}

	va_start(ap, fmt);
	msg = fdb_vasprintf(fmt, ap);
	va_end(ap);

	if (msg == NULL)
		item = NULL;
	else if (path != NULL && path[0] != '\0')
	{
		item = fdb_asprintf("%s: %s", path, msg);
		free(msg);
	}
	else
		item = msg;

	e->items[e->count++] = item ? item : fdb_oom_marker;
}

/*
 * fdb_errors_free
 *		Release every message and the list itself; the list is left empty
 *		and reusable.
 */
void
fdb_errors_free(FdbErrors *e)
{
	int			i;

	for (i = 0; i < e->count; i++)
	{
		if (e->items[i] != fdb_oom_marker)
			free(e->items[i]);
	}
	free(e->items);
	fdb_errors_init(e);
}

/*
 * fdb_errors_join
 *		All messages joined with sep, malloc'd ("" when empty).
 */
char *
fdb_errors_join(const FdbErrors *e, const char *sep)
{
	FdbBuf		b;
	int			i;

	if (sep == NULL)
		sep = "";
	fdb_buf_init(&b);
	for (i = 0; i < e->count; i++)
	{
		if (i > 0)
			fdb_buf_puts(&b, sep);
		fdb_buf_puts(&b, e->items[i]);
	}
	if (b.data == NULL && b.cap == 0)
		return fdb_strdup("");
	return b.data;
}

/*
 * fdb_fmt
 *		snprintf into buf (len bytes, always NUL-terminated when len > 0).
 */
char *
fdb_fmt(char *buf, size_t len, const char *fmt,...)
{
	va_list		ap;

	if (buf == NULL || len == 0)
		return buf;
	va_start(ap, fmt);
	if (vsnprintf(buf, len, fmt, ap) < 0)
		buf[0] = '\0';
	va_end(ap);
	return buf;
}

/*
 * fdb_asprintf
 *		malloc'd printf; NULL on failure.
 */
char *
fdb_asprintf(const char *fmt,...)
{
	va_list		ap;
	char	   *out;

	va_start(ap, fmt);
	out = fdb_vasprintf(fmt, ap);
	va_end(ap);
	return out;
}

/*
 * fdb_strdup
 *		malloc'd copy of s (NULL stays NULL).
 */
char *
fdb_strdup(const char *s)
{
	size_t		n;
	char	   *out;

	if (s == NULL)
		return NULL;
	n = strlen(s);
	out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	memcpy(out, s, n + 1);
	return out;
}

/*
 * fdb_buf_init
 *		Prepare an empty buffer (data stays NULL until the first append).
 */
void
fdb_buf_init(FdbBuf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

/*
 * fdb_buf_fail
 *		Put the buffer into the failed state after an allocation failure.
 */
static void
fdb_buf_fail(FdbBuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = SIZE_MAX;
}

/*
 * fdb_buf_reserve
 *		Make room for n more bytes plus a terminating NUL.  false when the
 *		buffer is (or just became) failed.
 */
static bool
fdb_buf_reserve(FdbBuf *b, size_t n)
{
	size_t		need;
	size_t		ncap;
	char	   *ndata;

	if (b->cap == SIZE_MAX && b->data == NULL)
		return false;
	if (n > SIZE_MAX - 1 - b->len)
	{
		fdb_buf_fail(b);
		return false;
	}
	need = b->len + n + 1;
	if (need <= b->cap)
		return true;
	ncap = b->cap > 0 ? b->cap : 64;
	while (ncap < need)
	{
		if (ncap > SIZE_MAX / 2)
		{
			ncap = need;
			break;
		}
		ncap *= 2;
	}
	ndata = realloc(b->data, ncap);
	if (ndata == NULL)
	{
		fdb_buf_fail(b);
		return false;
	}
	b->data = ndata;
	b->cap = ncap;
	return true;
}

/*
 * fdb_buf_append
 *		Append n bytes of s; the data stays NUL-terminated.
 */
void
fdb_buf_append(FdbBuf *b, const char *s, size_t n)
{
	if (!fdb_buf_reserve(b, n))
		return;
	if (n > 0)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/*
 * fdb_buf_puts
 *		Append a NUL-terminated string (NULL appends nothing).
 */
void
fdb_buf_puts(FdbBuf *b, const char *s)
{
	if (s == NULL)
		s = "";
	fdb_buf_append(b, s, strlen(s));
}

/*
 * fdb_buf_printf
 *		Append printf output.
 */
void
fdb_buf_printf(FdbBuf *b, const char *fmt,...)
{
	va_list		ap;
	va_list		ap2;
	int			n;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n >= 0 && fdb_buf_reserve(b, (size_t) n))
	{
		if (vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap) == n)
			b->len += (size_t) n;
		b->data[b->len] = '\0';
	}
	va_end(ap);
}

/*
 * fdb_buf_free
 *		Release the buffer's memory and reset it.
 */
void
fdb_buf_free(FdbBuf *b)
{
	free(b->data);
	fdb_buf_init(b);
}

/*
 * fdb_json_type_name
 *		JSON type of v as a bare noun for messages ("expected object, got
 *		string"): "nothing" for a missing value.
 */
const char *
fdb_json_type_name(const cJSON *v)
{
	if (v == NULL)
		return "nothing";
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsBool(v))
		return "boolean";
	if (cJSON_IsNumber(v))
		return "number";
	if (cJSON_IsString(v))
		return "string";
	if (cJSON_IsArray(v))
		return "array";
	if (cJSON_IsObject(v))
		return "object";
	return "invalid value";
}

/*
 * fdb_json_str
 *		obj[key] when obj is an object and that member is a string, else
 *		NULL.  Keys are matched case-sensitively.
 */
const char *
fdb_json_str(const cJSON *obj, const char *key)
{
	const cJSON *v;

	if (obj == NULL || key == NULL || !cJSON_IsObject(obj))
		return NULL;
	v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return NULL;
	return v->valuestring;
}

/*
 * fdb_json_num
 *		Store obj[key] in *out when it is a number; false otherwise.
 */
bool
fdb_json_num(const cJSON *obj, const char *key, double *out)
{
	const cJSON *v;

	if (obj == NULL || key == NULL || !cJSON_IsObject(obj))
		return false;
	v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!cJSON_IsNumber(v))
		return false;
	if (out)
		*out = v->valuedouble;
	return true;
}

/*
 * number_format
 *		The text fdb_number_text returns, into buf (64 bytes): integers
 *		(|v| < 1e18) without a fraction, digit by digit; otherwise %.15g if
 *		it round-trips, else %.17g; NaN and infinities by name.  Returns
 *		its length.
 */
static size_t
number_format(char *buf, double v)
{
	if (isfinite(v) && fabs(v) < 1e18 && v == (double) (long long) v)
	{
		long long	i = (long long) v;	/* -0.0 becomes 0 */
		unsigned long long u = i < 0 ? 0 - (unsigned long long) i : (unsigned long long) i;
		char		tmp[24];
		size_t		n = 0;
		size_t		len = 0;

		do
		{
			tmp[n++] = (char) ('0' + u % 10);
			u /= 10;
		} while (u > 0);
		if (i < 0)
			buf[len++] = '-';
		while (n > 0)
			buf[len++] = tmp[--n];
		buf[len] = '\0';
		return len;
	}
	if (!isfinite(v))
	{
		/* JSON has no NaN/Infinity; cJSON prints them as null */
		strcpy(buf, isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity"));
		return strlen(buf);
	}
	fdb_fmt(buf, 64, "%.15g", v);
	if (strtod(buf, NULL) != v)
		fdb_fmt(buf, 64, "%.17g", v);
	return strlen(buf);
}

/*
 * fdb_number_text
 *		Shortest text for a double (number_format), malloc'd.
 */
static char *
fdb_number_text(double v)
{
	char		buf[64];

	number_format(buf, v);
	return fdb_strdup(buf);
}

/*
 * fdb_json_to_text
 *		Text form of a value for interpolation into a string (malloc'd).
 */
char *
fdb_json_to_text(const cJSON *v)
{
	if (v == NULL)
		return fdb_strdup("");
	if (cJSON_IsString(v))
		return fdb_strdup(v->valuestring ? v->valuestring : "");
	if (cJSON_IsNumber(v))
		return fdb_number_text(v->valuedouble);
	if (cJSON_IsTrue(v))
		return fdb_strdup("true");
	if (cJSON_IsFalse(v))
		return fdb_strdup("false");
	if (cJSON_IsNull(v))
		return fdb_strdup("");
	if (cJSON_IsRaw(v))
		return fdb_strdup(v->valuestring ? v->valuestring : "");
	if (cJSON_IsArray(v) || cJSON_IsObject(v))
		return fdb_json_print(v);
	return fdb_strdup("");
}

/*
 * print_string
 *		A JSON string literal: quotes, backslashes and control characters
 *		escaped, everything else (UTF-8 included) as is.
 */
static void
print_string(FdbBuf *b, const char *str)
{
	const unsigned char *p = (const unsigned char *) (str ? str : "");
	const unsigned char *plain = p;	/* start of the bytes kept as is */

	fdb_buf_append(b, "\"", 1);
	for (; *p; p++)
	{
		if (*p >= 0x20 && *p != '"' && *p != '\\')
			continue;
		/* the plain bytes before this one in one append, then its escape */
		fdb_buf_append(b, (const char *) plain, p - plain);
		plain = p + 1;
		switch (*p)
		{
			case '"':
				fdb_buf_append(b, "\\\"", 2);
				break;
			case '\\':
				fdb_buf_append(b, "\\\\", 2);
				break;
			case '\n':
				fdb_buf_append(b, "\\n", 2);
				break;
			case '\r':
				fdb_buf_append(b, "\\r", 2);
				break;
			case '\t':
				fdb_buf_append(b, "\\t", 2);
				break;
			default:
				fdb_buf_printf(b, "\\u%04x", *p);
		}
	}
	fdb_buf_append(b, (const char *) plain, p - plain);
	fdb_buf_append(b, "\"", 1);
}

static void print_value(FdbBuf *b, const cJSON *v);

/*
 * print_members
 *		An array's elements or an object's members (with their keys)
 *		between brackets[0] and brackets[1], comma-separated.
 */
static void
print_members(FdbBuf *b, const cJSON *v, const char *brackets)
{
	bool		first = true;

	fdb_buf_append(b, brackets, 1);
	for (const cJSON *c = v->child; c != NULL; c = c->next)
	{
		if (!first)
			fdb_buf_append(b, ",", 1);
		first = false;
		if (brackets[0] == '{')
		{
			print_string(b, c->string);
			fdb_buf_append(b, ":", 1);
		}
		print_value(b, c);
	}
	fdb_buf_append(b, brackets + 1, 1);
}

/*
 * print_value
 *		Append compact JSON of v.  Numbers use the shortest text that reads
 *		back as the same double (cJSON's printer rounds large integers).
 */
static void
print_value(FdbBuf *b, const cJSON *v)
{
	char		num[64];

	/* a switch on the type bits: cJSON_IsX are calls into the library */
	switch (v == NULL ? cJSON_NULL : (v->type & 0xFF))
	{
		case cJSON_False:
			fdb_buf_append(b, "false", 5);
			break;
		case cJSON_True:
			fdb_buf_append(b, "true", 4);
			break;
		case cJSON_Number:
			if (isfinite(v->valuedouble))
				fdb_buf_append(b, num, number_format(num, v->valuedouble));
			else
				fdb_buf_append(b, "null", 4);
			break;
		case cJSON_String:
			print_string(b, v->valuestring);
			break;
		case cJSON_Raw:
			fdb_buf_puts(b, v->valuestring ? v->valuestring : "null");
			break;
		case cJSON_Array:
			print_members(b, v, "[]");
			break;
		case cJSON_Object:
			print_members(b, v, "{}");
			break;
		default:				/* null, invalid */
			fdb_buf_append(b, "null", 4);
	}
}

/*
 * fdb_json_print
 *		Compact JSON text of v (malloc'd; NULL when out of memory).
 */
char *
fdb_json_print(const cJSON *v)
{
	FdbBuf		b;

	fdb_buf_init(&b);
	print_value(&b, v);
	if (b.data == NULL)
		return NULL;
	return b.data;
}

/*
 * fdb_urlencode
 *		application/x-www-form-urlencoded encoding: A-Z a-z 0-9 - . _ ~
 *		are kept, space becomes '+', every other byte becomes %XX
 *		(uppercase hex).
 */
char *
fdb_urlencode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t		n;
	size_t		i;
	char	   *out;
	char	   *o;

	if (s == NULL)
		s = "";
	n = strlen(s);
	if (n > (SIZE_MAX - 1) / 3)
		return NULL;
	out = malloc(n * 3 + 1);
	if (out == NULL)
		return NULL;
	o = out;
	for (i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			(c >= '0' && c <= '9') ||
			c == '-' || c == '.' || c == '_' || c == '~')
			*o++ = (char) c;
		else if (c == ' ')
			*o++ = '+';
		else
		{
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 0x0F];
		}
	}
	*o = '\0';
	return out;
}

/*
 * fdb_base64
 *		RFC 4648 base64 (standard alphabet, '=' padding), malloc'd.
 */
char *
fdb_base64(const unsigned char *data, size_t len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t		outlen;
	size_t		i;
	char	   *out;
	char	   *o;

	if (data == NULL)
		len = 0;
	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NULL;
	outlen = (len + 2) / 3 * 4;
	out = malloc(outlen + 1);
	if (out == NULL)
		return NULL;
	o = out;
	for (i = 0; i + 2 < len; i += 3)
	{
		unsigned long v = ((unsigned long) data[i] << 16) |
			((unsigned long) data[i + 1] << 8) | data[i + 2];

		*o++ = alphabet[(v >> 18) & 0x3F];
		*o++ = alphabet[(v >> 12) & 0x3F];
		*o++ = alphabet[(v >> 6) & 0x3F];
		*o++ = alphabet[v & 0x3F];
	}
	if (len - i == 1)
	{
		unsigned long v = (unsigned long) data[i] << 16;

		*o++ = alphabet[(v >> 18) & 0x3F];
		*o++ = alphabet[(v >> 12) & 0x3F];
		*o++ = '=';
		*o++ = '=';
	}
	else if (len - i == 2)
	{
		unsigned long v = ((unsigned long) data[i] << 16) |
			((unsigned long) data[i + 1] << 8);

		*o++ = alphabet[(v >> 18) & 0x3F];
		*o++ = alphabet[(v >> 12) & 0x3F];
		*o++ = alphabet[(v >> 6) & 0x3F];
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

/*
 * scrub_one
 *		Replace every occurrence of secret in *text (malloc'd) with
 *		"[redacted]"; *text is reallocated when anything was replaced.
 */
static void
scrub_one(char **text, const char *secret)
{
	size_t		slen = strlen(secret);
	const char *p;
	FdbBuf		b;

	if (*text == NULL || slen < 4 || strstr(*text, secret) == NULL)
		return;
	fdb_buf_init(&b);
	p = *text;
	for (;;)
	{
		const char *hit = strstr(p, secret);

		if (hit == NULL)
		{
			fdb_buf_puts(&b, p);
			break;
		}
		fdb_buf_append(&b, p, (size_t) (hit - p));
		fdb_buf_puts(&b, "[redacted]");
		p = hit + slen;
	}
	if (b.data != NULL)
	{
		free(*text);
		*text = b.data;
	}
}

/*
 * scrub_walk
 *		Apply scrub_one for every string (of 4 bytes or more) in secret.
 */
static void
scrub_walk(char **text, const cJSON *secret)
{
	const cJSON *c;

	if (secret == NULL)
		return;
	if (cJSON_IsString(secret) && secret->valuestring)
		scrub_one(text, secret->valuestring);
	cJSON_ArrayForEach(c, secret)
		scrub_walk(text, c);
}

/*
 * fdb_scrub_text
 *		A malloc'd copy of text in which every string value of secret
 *		(a credential) is replaced by "[redacted]": providers sometimes
 *		quote the key they were given in their error messages.
 */
char *
fdb_scrub_text(const cJSON *secret, const char *text)
{
	char	   *out = fdb_strdup(text ? text : "");

	scrub_walk(&out, secret);
	return out;
}

/*
 * fdb_scrub_json
 *		Scrub every string (and object key is left alone) of v in place.
 */
void
fdb_scrub_json(const cJSON *secret, cJSON *v)
{
	cJSON	   *c;

	if (v == NULL || secret == NULL)
		return;
	if (cJSON_IsString(v) && v->valuestring)
	{
		char	   *s = fdb_scrub_text(secret, v->valuestring);

		if (s && strcmp(s, v->valuestring) != 0)
			cJSON_SetValuestring(v, s);
		free(s);
		return;
	}
	cJSON_ArrayForEach(c, v)
		fdb_scrub_json(secret, c);
}

/*
 * fdb_json_size
 *		Approximate length of v's compact JSON text (string escapes are
 *		not counted), found by walking the tree without allocating; stops
 *		once the count passes stop.  Recursion depth is the value's depth
 *		(bounded by the parser's and the renderer's nesting limits).
 */
size_t
fdb_json_size(const cJSON *v, size_t stop)
{
	size_t		n = 0;
	const cJSON *c;

	if (v == NULL)
		return 0;
	if (cJSON_IsString(v) || cJSON_IsRaw(v))
		return (v->valuestring ? strlen(v->valuestring) : 0) + 2;
	if (cJSON_IsNumber(v))
		return 24;
	if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
		return 5;				/* true, false, null */
	n = 2;
	for (c = v->child; c != NULL && n <= stop; c = c->next)
	{
		if (c->string != NULL && cJSON_IsObject(v))
			n += strlen(c->string) + 3;	/* "key": */
		n += fdb_json_size(c, stop - (n < stop ? n : stop)) + 1;
	}
	return n;
}
