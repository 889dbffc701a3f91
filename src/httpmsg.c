/*-------------------------------------------------------------------------
 *
 * httpmsg.c
 *	  HttpRequest and HttpResponse builders and readers (pure C).  These
 *	  own all memory of the two structs: tools never free their fields
 *	  themselves.
 *
 *-------------------------------------------------------------------------
 */
#include "catalog.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * http_request_init
 *		Reset req to an empty request with the given method (upper-cased,
 *		truncated to fit).
 */
void
http_request_init(HttpRequest *req, const char *method)
{
	size_t		i;

	memset(req, 0, sizeof(*req));
	if (method == NULL)
		method = "GET";
	for (i = 0; i < sizeof(req->method) - 1 && method[i] != '\0'; i++)
		req->method[i] = (char) toupper((unsigned char) method[i]);
	req->method[i] = '\0';
}

/*
 * http_request_add_header
 *		Append a "Name: value" header (printf-style).  Silently ignored when
 *		the request already has HTTP_MAX_HEADERS headers; tools that add
 *		user-supplied headers check the count first.
 */
void
http_request_add_header(HttpRequest *req, const char *fmt,...)
{
	va_list		ap;
	int			n;
	char	   *s;

	if (req->nheaders < 0 || req->nheaders >= HTTP_MAX_HEADERS)
		return;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;

	s = malloc((size_t) n + 1);
	if (s == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(s, (size_t) n + 1, fmt, ap);
	va_end(ap);

	req->headers[req->nheaders++] = s;
}

/*
 * http_request_set_body
 *		Replace the body with a copy of len bytes (NUL-terminated copy);
 *		body NULL clears it.
 */
void
http_request_set_body(HttpRequest *req, const char *body, size_t len)
{
	free(req->body);
	req->body = NULL;
	req->body_len = 0;
	if (body == NULL)
		return;

	req->body = malloc(len + 1);
	if (req->body == NULL)
		return;
	memcpy(req->body, body, len);
	req->body[len] = '\0';
	req->body_len = len;
}

/*
 * http_request_free
 *		Free everything a request owns and reset it to empty (method kept).
 */
void
http_request_free(HttpRequest *req)
{
	int			i;

	if (req == NULL)
		return;
	free(req->url);
	req->url = NULL;
	for (i = 0; i < req->nheaders && i < HTTP_MAX_HEADERS; i++)
	{
		free(req->headers[i]);
		req->headers[i] = NULL;
	}
	req->nheaders = 0;
	free(req->body);
	req->body = NULL;
	req->body_len = 0;
}

/*
 * http_response_free
 *		Free everything a response owns (headers object and body).
 */
void
http_response_free(HttpResponse *resp)
{
	if (resp == NULL)
		return;
	cJSON_Delete(resp->headers);
	resp->headers = NULL;
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
}

/*
 * parse_json_exact
 *		Parse exactly len bytes as one JSON value (only whitespace may follow
 *		it), or NULL.
 */
static cJSON *
parse_json_exact(const char *s, size_t len)
{
	const char *end = NULL;
	cJSON	   *v = cJSON_ParseWithLengthOpts(s, len, &end, false);

	if (v == NULL)
		return NULL;
	if (end == NULL || end < s || end > s + len)
	{
		cJSON_Delete(v);
		return NULL;
	}
	for (; end < s + len; end++)
	{
		if (!isspace((unsigned char) *end))
		{
			cJSON_Delete(v);
			return NULL;
		}
	}
	return v;
}

/*
 * http_response_body_is_text
 *		Is the body valid UTF-8 without NUL bytes (so it can be kept as
 *		JSON text)?  Overlong forms, surrogates and code points above
 *		U+10FFFF are invalid.  An absent body counts as text.
 */
bool
http_response_body_is_text(const HttpResponse *resp)
{
	const unsigned char *s;
	size_t		n;
	size_t		i = 0;

	if (resp == NULL || resp->body == NULL)
		return true;
	s = (const unsigned char *) resp->body;
	n = resp->body_len;
	while (i < n)
	{
		unsigned char c = s[i];
		size_t		len;
		unsigned long cp;

		if (c == 0)
			return false;
		if (c < 0x80)
		{
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			len = 2, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			len = 3, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			len = 4, cp = c & 0x07;
		else
			return false;
		if (i + len > n)
			return false;
		for (size_t k = 1; k < len; k++)
		{
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
			(cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
			return false;
		i += len;
	}
	return true;
}

/*
 * http_response_body_base64
 *		{"body_base64": "...", "body_encoding": "base64"}: how a body that
 *		is not text is kept.
 */
cJSON *
http_response_body_base64(const HttpResponse *resp)
{
	cJSON	   *out = cJSON_CreateObject();
	char	   *b64 = fdb_base64((const unsigned char *) resp->body, resp->body_len);

	if (b64 == NULL)
	{
		cJSON_Delete(out);
		return cJSON_CreateNull();
	}
	cJSON_AddStringToObject(out, "body_base64", b64);
	cJSON_AddStringToObject(out, "body_encoding", "base64");
	free(b64);
	return out;
}

/*
 * http_response_body_json
 *		The body as JSON when the content-type mentions "json" or the body
 *		starts with { or [ (after whitespace) and parses; otherwise the body
 *		as a JSON string; an empty body is null.  A body that is not valid
 *		UTF-8 (or holds NUL bytes) is never kept raw: it becomes
 *		http_response_body_base64's object.  Never NULL except on OOM.
 */
cJSON *
http_response_body_json(const HttpResponse *resp)
{
	const char *ctype = NULL;
	const cJSON *h;
	size_t		i;
	char	   *copy;
	cJSON	   *str;

	if (resp == NULL || resp->body == NULL || resp->body_len == 0)
		return cJSON_CreateNull();
	if (!http_response_body_is_text(resp))
		return http_response_body_base64(resp);

	h = cJSON_GetObjectItemCaseSensitive(resp->headers, "content-type");
	if (cJSON_IsString(h))
		ctype = h->valuestring;

	for (i = 0; i < resp->body_len && isspace((unsigned char) resp->body[i]); i++)
		;

	if (i < resp->body_len &&
		((ctype != NULL && tool_contains_ci(ctype, "json")) ||
		 resp->body[i] == '{' || resp->body[i] == '['))
	{
		cJSON	   *v = parse_json_exact(resp->body, resp->body_len);

		if (v != NULL)
			return v;
	}

	/* Not JSON: the body as text (valid UTF-8 without NUL, see above). */
	copy = malloc(resp->body_len + 1);
	if (copy == NULL)
		return cJSON_CreateNull();
	memcpy(copy, resp->body, resp->body_len);
	copy[resp->body_len] = '\0';
	str = cJSON_CreateString(copy);
	free(copy);
	return str;
}
