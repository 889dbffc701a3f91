/*-------------------------------------------------------------------------
 *
 * http_tool.c
 *	  The "http" service: one generic "request" task to any http(s) URL.
 *
 * Params: method (GET POST PUT PATCH DELETE HEAD, default GET), url
 * (http:// or https://), headers (object of scalar values), body (object or
 * array -> JSON, string -> as-is), timeout_ms (1..300000).  The output is
 * {"status", "headers", "body"} with the body parsed as JSON when it is
 * JSON.  There is no base URL and no credential: URLs are absolute.
 *
 *-------------------------------------------------------------------------
 */
#include "catalog.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_TOOL_MAX_URL		8192
#define HTTP_TOOL_MAX_HNAME		256
#define HTTP_TOOL_MAX_HVALUE	8192
#define HTTP_TOOL_MAX_TIMEOUT	300000
#define HTTP_TOOL_ERR_BODY		200
/* leave room for Content-Type and Idempotency-Key */
#define HTTP_TOOL_MAX_USER_HEADERS (HTTP_MAX_HEADERS - 2)

static bool request_build(ToolContext *ctx, HttpRequest *req, char *err, size_t errlen);
static ToolOutcome request_parse(ToolContext *ctx, const HttpResponse *resp,
								 cJSON **output, char *err, size_t errlen);
static cJSON *request_sample(ToolContext *ctx);

static const ToolParam request_params[] = {
	{"method", PT_STRING, false,
	"HTTP method: GET (default), POST, PUT, PATCH, DELETE or HEAD."},
	{"url", PT_STRING, true, "Absolute URL starting with http:// or https://."},
	{"headers", PT_OBJECT, false,
	"Request headers as {\"Name\": \"value\"}.  An Idempotency-Key header is added unless given."},
	{"body", PT_ANY, false,
	"Request body: an object or array is sent as JSON (Content-Type: application/json), a string as-is (text/plain) unless Content-Type is set."},
	{"timeout_ms", PT_INTEGER, false, "Request timeout in milliseconds (1..300000)."},
};

static const ToolTask http_tasks[] = {
	{
		"request",
		"Send one HTTP request and return the response.",
		request_params,
		(int) (sizeof(request_params) / sizeof(request_params[0])),
		"{\"status\": integer, \"headers\": {lower-case name: value}, \"body\": parsed JSON, or a string when not JSON, or null when empty; a body that is not UTF-8 text comes as \"body\": null, \"body_base64\": string, \"body_encoding\": \"base64\"}",
		request_build,
		request_parse,
		request_sample
	},
};

static const char *const http_none[] = {NULL};

const ToolService http_service = {
	"http",
	"Generic HTTP client for any API without a dedicated tool.",
	"",
	http_tasks,
	(int) (sizeof(http_tasks) / sizeof(http_tasks[0])),
	http_none,
	http_none
};

static const char *const http_methods[] = {
	"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", NULL
};

/*
 * normalize_method
 *		Upper-case the method into out (16 bytes); false when it is not one
 *		of the supported methods.
 */
static bool
normalize_method(const char *m, char *out, size_t outlen)
{
	size_t		i;
	int			k;

	for (i = 0; m[i] != '\0'; i++)
	{
		if (i + 1 >= outlen)
			return false;
		out[i] = (char) toupper((unsigned char) m[i]);
	}
	out[i] = '\0';
	for (k = 0; http_methods[k] != NULL; k++)
	{
		if (strcmp(out, http_methods[k]) == 0)
			return true;
	}
	return false;
}

/*
 * has_prefix_ci
 *		Does s start with prefix (ASCII case-insensitive)?
 */
static bool
has_prefix_ci(const char *s, const char *prefix)
{
	size_t		i;

	for (i = 0; prefix[i] != '\0'; i++)
	{
		if (s[i] == '\0' ||
			tolower((unsigned char) s[i]) != tolower((unsigned char) prefix[i]))
			return false;
	}
	return true;
}

/*
 * is_token_char
 *		RFC 9110 tchar: allowed in header names.
 */
static bool
is_token_char(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/*
 * check_header_name
 *		A non-empty token of at most HTTP_TOOL_MAX_HNAME bytes.
 */
static bool
check_header_name(const char *name)
{
	size_t		i;

	for (i = 0; name[i] != '\0'; i++)
	{
		if (i >= HTTP_TOOL_MAX_HNAME || !is_token_char((unsigned char) name[i]))
			return false;
	}
	return i > 0;
}

/*
 * check_header_value
 *		No CR, LF or other control characters (tab allowed): these would let
 *		a value inject extra headers.
 */
static bool
check_header_value(const char *value)
{
	size_t		i;

	for (i = 0; value[i] != '\0'; i++)
	{
		unsigned char c = (unsigned char) value[i];

		if (i >= HTTP_TOOL_MAX_HVALUE)
			return false;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/*
 * header_text
 *		Text of a header value (strings, numbers, booleans); malloc'd, or
 *		NULL for other JSON types.
 */
static char *
header_text(const cJSON *v)
{
	if (cJSON_IsString(v) && v->valuestring != NULL)
		return fdb_strdup(v->valuestring);
	if (cJSON_IsNumber(v) || cJSON_IsBool(v))
		return fdb_json_to_text(v);
	return NULL;
}

/*
 * request_build
 *		Validate params and fill req (which is (re)initialised here; on
 *		failure it is left empty, so http_request_free is always safe).
 */
static bool
request_build(ToolContext *ctx, HttpRequest *req, char *err, size_t errlen)
{
	const cJSON *method_v = tool_param(ctx, "method");
	const cJSON *url_v = tool_param(ctx, "url");
	const cJSON *headers_v = tool_param(ctx, "headers");
	const cJSON *body_v = tool_param(ctx, "body");
	const cJSON *timeout_v = tool_param(ctx, "timeout_ms");
	const cJSON *h;
	char		method[16];
	const char *url;
	bool		has_ctype = false;
	bool		has_idem = false;
	long		timeout_ms = 0;
	size_t		i;
	int			nuser = 0;

	http_request_init(req, "GET");

	/* method */
	if (method_v == NULL)
		snprintf(method, sizeof(method), "GET");
	else if (!cJSON_IsString(method_v) || method_v->valuestring == NULL)
	{
		snprintf(err, errlen, "method must be a string");
		return false;
	}
	else if (!normalize_method(method_v->valuestring, method, sizeof(method)))
	{
		snprintf(err, errlen,
				 "method must be one of GET, POST, PUT, PATCH, DELETE, HEAD (got \"%.32s\")",
				 method_v->valuestring);
		return false;
	}

	/* url */
	if (url_v == NULL)
	{
		snprintf(err, errlen, "url is required");
		return false;
	}
	if (!cJSON_IsString(url_v) || url_v->valuestring == NULL)
	{
		snprintf(err, errlen, "url must be a string");
		return false;
	}
	url = url_v->valuestring;
	if (!has_prefix_ci(url, "http://") && !has_prefix_ci(url, "https://"))
	{
		snprintf(err, errlen, "url must start with http:// or https:// (got \"%.100s\")", url);
		return false;
	}
	for (i = 0; url[i] != '\0'; i++)
	{
		unsigned char c = (unsigned char) url[i];

		if (i >= HTTP_TOOL_MAX_URL)
		{
			snprintf(err, errlen, "url is longer than %d bytes", HTTP_TOOL_MAX_URL);
			return false;
		}
		if (c <= 0x20 || c == 0x7f)
		{
			snprintf(err, errlen, "url must not contain spaces or control characters");
			return false;
		}
	}

	/* headers: validate all before building anything */
	if (headers_v != NULL && !cJSON_IsObject(headers_v))
	{
		snprintf(err, errlen, "headers must be an object of strings");
		return false;
	}
	cJSON_ArrayForEach(h, headers_v)
	{
		const char *name = h->string ? h->string : "";

		if (++nuser > HTTP_TOOL_MAX_USER_HEADERS)
		{
			snprintf(err, errlen, "too many headers (max %d)", HTTP_TOOL_MAX_USER_HEADERS);
			return false;
		}
		if (!check_header_name(name))
		{
			snprintf(err, errlen, "invalid header name \"%.64s\"", name);
			return false;
		}
		if (cJSON_IsNull(h))
			continue;			/* null: header omitted */
		if (!cJSON_IsString(h) && !cJSON_IsNumber(h) && !cJSON_IsBool(h))
		{
			snprintf(err, errlen, "header \"%.64s\" must be a string", name);
			return false;
		}
		if (cJSON_IsString(h) && (h->valuestring == NULL || !check_header_value(h->valuestring)))
		{
			snprintf(err, errlen,
					 "header \"%.64s\" must not contain CR, LF or control characters (or exceed %d bytes)",
					 name, HTTP_TOOL_MAX_HVALUE);
			return false;
		}
		if (strcasecmp(name, "Content-Type") == 0)
			has_ctype = true;
		if (strcasecmp(name, "Idempotency-Key") == 0)
			has_idem = true;
	}

	/* timeout_ms */
	if (timeout_v != NULL)
	{
		if (!param_type_matches(PT_INTEGER, timeout_v) ||
			timeout_v->valuedouble < 1 || timeout_v->valuedouble > HTTP_TOOL_MAX_TIMEOUT)
		{
			snprintf(err, errlen, "timeout_ms must be an integer between 1 and %d",
					 HTTP_TOOL_MAX_TIMEOUT);
			return false;
		}
		timeout_ms = (long) timeout_v->valuedouble;
	}

	if (ctx->idempotency_key != NULL && !has_idem &&
		!check_header_value(ctx->idempotency_key))
	{
		snprintf(err, errlen, "idempotency key must not contain control characters");
		return false;
	}

	/* everything is valid: build */
	http_request_init(req, method);
	req->url = fdb_strdup(url);
	req->timeout_ms = timeout_ms;
	cJSON_ArrayForEach(h, headers_v)
	{
		char	   *text;

		if (cJSON_IsNull(h))
			continue;
		text = header_text(h);
		if (text != NULL)
			http_request_add_header(req, "%s: %s", h->string, text);
		free(text);
	}

	if (body_v != NULL)
	{
		if (cJSON_IsString(body_v) && body_v->valuestring != NULL)
		{
			http_request_set_body(req, body_v->valuestring, strlen(body_v->valuestring));
			if (!has_ctype)
				http_request_add_header(req, "Content-Type: text/plain");
		}
		else
		{
			char	   *json = fdb_json_print(body_v);

			if (json == NULL)
			{
				http_request_free(req);
				snprintf(err, errlen, "could not serialise body");
				return false;
			}
			http_request_set_body(req, json, strlen(json));
			free(json);
			if (!has_ctype)
				http_request_add_header(req, "Content-Type: application/json");
		}
	}

	if (ctx->idempotency_key != NULL && !has_idem)
		http_request_add_header(req, "Idempotency-Key: %s", ctx->idempotency_key);

	return true;
}

/*
 * status_text
 *		Reason phrase of common HTTP statuses, or "".
 */
static const char *
status_text(long status)
{
	switch (status)
	{
		case 300:
			return "Multiple Choices";
		case 301:
			return "Moved Permanently";
		case 302:
			return "Found";
		case 304:
			return "Not Modified";
		case 400:
			return "Bad Request";
		case 401:
			return "Unauthorized";
		case 402:
			return "Payment Required";
		case 403:
			return "Forbidden";
		case 404:
			return "Not Found";
		case 405:
			return "Method Not Allowed";
		case 406:
			return "Not Acceptable";
		case 408:
			return "Request Timeout";
		case 409:
			return "Conflict";
		case 410:
			return "Gone";
		case 413:
			return "Content Too Large";
		case 415:
			return "Unsupported Media Type";
		case 422:
			return "Unprocessable Content";
		case 425:
			return "Too Early";
		case 429:
			return "Too Many Requests";
		case 500:
			return "Internal Server Error";
		case 501:
			return "Not Implemented";
		case 502:
			return "Bad Gateway";
		case 503:
			return "Service Unavailable";
		case 504:
			return "Gateway Timeout";
	}
	return "";
}

/*
 * body_excerpt
 *		Copy at most max bytes of the body into out (size outlen), cut on a
 *		UTF-8 character boundary, control characters turned into spaces and
 *		surrounding whitespace trimmed.
 */
static void
body_excerpt(const HttpResponse *resp, size_t max, char *out, size_t outlen)
{
	size_t		n = 0;
	size_t		i;

	out[0] = '\0';
	if (resp->body == NULL || outlen == 0)
		return;
	n = resp->body_len;
	if (n > max)
	{
		n = max;
		/* do not split a multi-byte character */
		while (n > 0 && ((unsigned char) resp->body[n] & 0xC0) == 0x80)
			n--;
	}
	if (n > outlen - 1)
		n = outlen - 1;
	for (i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) resp->body[i];

		out[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char) c;
	}
	out[n] = '\0';

	/* trim */
	while (n > 0 && out[n - 1] == ' ')
		out[--n] = '\0';
	for (i = 0; out[i] == ' '; i++)
		;
	if (i > 0)
		memmove(out, out + i, n - i + 1);
}

/*
 * lower_headers
 *		A copy of a headers object with lower-case names and string values.
 */
static cJSON *
lower_headers(const cJSON *headers)
{
	cJSON	   *out = cJSON_CreateObject();
	const cJSON *h;

	cJSON_ArrayForEach(h, headers)
	{
		char		name[HTTP_TOOL_MAX_HNAME + 1];
		size_t		i;
		char	   *text;

		if (h->string == NULL)
			continue;
		for (i = 0; i < sizeof(name) - 1 && h->string[i] != '\0'; i++)
			name[i] = (char) tolower((unsigned char) h->string[i]);
		name[i] = '\0';
		text = header_text(h);
		if (text == NULL)
			continue;
		cJSON_DeleteItemFromObjectCaseSensitive(out, name);
		cJSON_AddStringToObject(out, name, text);
		free(text);
	}
	return out;
}

/*
 * request_parse
 *		Output {"status", "headers", "body"} on 2xx/3xx; otherwise retry or
 *		fail with "HTTP <status> <text>: <start of body>".
 */
static ToolOutcome
request_parse(ToolContext *ctx, const HttpResponse *resp,
			  cJSON **output, char *err, size_t errlen)
{
	ToolOutcome outcome = tool_classify_status(resp->status);
	cJSON	   *out;

	*output = NULL;
	if (outcome != TOOL_DONE)
	{
		char		excerpt[HTTP_TOOL_ERR_BODY + 1];
		const char *text = status_text(resp->status);

		body_excerpt(resp, HTTP_TOOL_ERR_BODY, excerpt, sizeof(excerpt));
		snprintf(err, errlen, "HTTP %ld%s%s%s%s", resp->status,
				 text[0] ? " " : "", text,
				 excerpt[0] ? ": " : "", excerpt);
		return outcome;
	}

	out = cJSON_CreateObject();
	cJSON_AddNumberToObject(out, "status", (double) resp->status);
	cJSON_AddItemToObject(out, "headers", lower_headers(resp->headers));
	if (http_response_body_is_text(resp))
		cJSON_AddItemToObject(out, "body", http_response_body_json(resp));
	else
	{
		/* binary: never raw, base64 beside a null body */
		cJSON	   *b64 = http_response_body_base64(resp);

		cJSON_AddNullToObject(out, "body");
		cJSON_AddItemToObject(out, "body_base64",
							  cJSON_DetachItemFromObjectCaseSensitive(b64, "body_base64"));
		cJSON_AddItemToObject(out, "body_encoding",
							  cJSON_DetachItemFromObjectCaseSensitive(b64, "body_encoding"));
		cJSON_Delete(b64);
	}
	*output = out;
	return TOOL_DONE;
}

/*
 * request_sample
 *		Sandbox output: a 200 echoing what would have been sent.
 */
static cJSON *
request_sample(ToolContext *ctx)
{
	const cJSON *method_v = tool_param(ctx, "method");
	const cJSON *url_v = tool_param(ctx, "url");
	const cJSON *headers_v = tool_param(ctx, "headers");
	const cJSON *body_v = tool_param(ctx, "body");
	cJSON	   *out = cJSON_CreateObject();
	cJSON	   *headers;
	cJSON	   *body;
	cJSON	   *echo;
	char		method[16];

	if (!cJSON_IsString(method_v) || method_v->valuestring == NULL ||
		!normalize_method(method_v->valuestring, method, sizeof(method)))
		snprintf(method, sizeof(method), "GET");

	cJSON_AddNumberToObject(out, "status", 200);
	headers = cJSON_AddObjectToObject(out, "headers");
	cJSON_AddStringToObject(headers, "content-type", "application/json");
	body = cJSON_AddObjectToObject(out, "body");
	cJSON_AddBoolToObject(body, "sandbox", true);
	echo = cJSON_AddObjectToObject(body, "echo");
	cJSON_AddStringToObject(echo, "method", method);
	if (cJSON_IsString(url_v))
		cJSON_AddStringToObject(echo, "url", url_v->valuestring);
	else
		cJSON_AddNullToObject(echo, "url");
	if (cJSON_IsObject(headers_v))
		cJSON_AddItemToObject(echo, "headers", cJSON_Duplicate(headers_v, true));
	else
		cJSON_AddObjectToObject(echo, "headers");
	if (body_v != NULL)
		cJSON_AddItemToObject(echo, "body", cJSON_Duplicate(body_v, true));
	else
		cJSON_AddNullToObject(echo, "body");
	return out;
}
