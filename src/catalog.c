/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  The tool registry and helpers shared by every tool (pure C).
 *
 * fdb_services[] is the single list of services.  Everything that needs to
 * know which tools exist (blueprint validation, the catalog JSON given to
 * the LLM and the docs, the worker) goes through the functions here.
 *
 * The request/response helpers below own all memory of HttpRequest and
 * HttpResponse: tools never free those fields themselves.  The "helpers
 * for tools" at the end are the pieces the provider tools in src/tools/
 * have in common (params, credentials, auth headers, error texts, sandbox
 * ids).
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

/* ---- registry: one line per service ---- */
const ToolService *const fdb_services[] = {
	&http_service,
	&whatsapp_service,
	&razorpay_service,
	&instagram_service,
	&slack_service,
	&llm_service,
	NULL
};
/* ---- end registry ---- */

/*
 * Node types of blueprint v1 and their fields, for catalog_to_json.  These
 * mirror the rules enforced by bp_validate (blueprint.c).
 */
typedef struct NodeTypeDoc
{
	const char *type;
	const char *description;
	const ToolParam *fields;
	int			nfields;
} NodeTypeDoc;

static const ToolParam action_fields[] = {
	{"service", PT_STRING, true, "Service name from the catalog, e.g. \"http\"."},
	{"task", PT_STRING, true, "Task name of that service, e.g. \"request\"."},
	{"params", PT_OBJECT, false,
	"Task parameters; string values may contain {{ templates }}.  Required unless the task has no required parameters."},
	{"credential", PT_STRING, false, "Name of the stored credential to use (omit for sandbox)."},
	{"retry", PT_OBJECT, false,
	"{\"max_attempts\": integer 1..10, \"backoff_ms\"?: integer 10..3600000}."},
	{"timeout_ms", PT_INTEGER, false, "Per-request timeout, 1..300000 ms."},
};

static const ToolParam delay_fields[] = {
	{"seconds", PT_NUMBER, false,
	"Wait this many seconds (> 0, at most 2592000).  Exactly one of seconds/until."},
	{"until", PT_STRING, false,
	"Wait until this ISO 8601 timestamp (or a template yielding one).  Exactly one of seconds/until."},
};

static const ToolParam wait_event_fields[] = {
	{"event", PT_STRING, true, "Event name to wait for (namespace.name)."},
	{"match", PT_OBJECT, false,
	"Fields the event data must equal; values may contain {{ templates }}."},
	{"timeout_seconds", PT_NUMBER, false,
	"Give up after this many seconds (> 0, at most 31536000)."},
};

static const ToolParam set_fields[] = {
	{"values", PT_OBJECT, true,
	"Object to compute; values may contain {{ templates }}.  Becomes the step output."},
};

static const NodeTypeDoc node_types[] = {
	{"action", "Run one task of a tool service.", action_fields,
	(int) (sizeof(action_fields) / sizeof(action_fields[0]))},
	{"router", "Do nothing; branch through the conditions of its outgoing edges.", NULL, 0},
	{"delay", "Pause the run for a duration or until a timestamp.", delay_fields,
	(int) (sizeof(delay_fields) / sizeof(delay_fields[0]))},
	{"wait_event", "Pause the run until a matching event arrives.", wait_event_fields,
	(int) (sizeof(wait_event_fields) / sizeof(wait_event_fields[0]))},
	{"set", "Compute values from templates (a step without side effects).", set_fields,
	(int) (sizeof(set_fields) / sizeof(set_fields[0]))},
};

static const char *const trigger_types[] = {
	"manual", "event", "table", "webhook", "schedule", NULL
};

static const char *const condition_ops[] = {
	"eq", "ne", "gt", "gte", "lt", "lte", "contains", "starts_with",
	"ends_with", "in", "exists", "empty", "matches", NULL
};

/*
 * catalog_service
 *		The registered service called name, or NULL.
 */
const ToolService *
catalog_service(const char *name)
{
	int			i;

	if (name == NULL)
		return NULL;
	for (i = 0; fdb_services[i] != NULL; i++)
	{
		if (strcmp(fdb_services[i]->name, name) == 0)
			return fdb_services[i];
	}
	return NULL;
}

/*
 * catalog_task
 *		The task called name of service svc, or NULL.
 */
const ToolTask *
catalog_task(const ToolService *svc, const char *name)
{
	int			i;

	if (svc == NULL || name == NULL)
		return NULL;
	for (i = 0; i < svc->ntasks; i++)
	{
		if (strcmp(svc->tasks[i].name, name) == 0)
			return &svc->tasks[i];
	}
	return NULL;
}

/*
 * param_type_name
 *		The name of a parameter type as used in the catalog and errors.
 */
const char *
param_type_name(ParamType t)
{
	switch (t)
	{
		case PT_STRING:
			return "string";
		case PT_NUMBER:
			return "number";
		case PT_INTEGER:
			return "integer";
		case PT_BOOLEAN:
			return "boolean";
		case PT_OBJECT:
			return "object";
		case PT_ARRAY:
			return "array";
		case PT_ANY:
			return "any";
	}
	return "any";
}

/*
 * param_type_matches
 *		Does v have type t?  PT_INTEGER is a finite number without a
 *		fractional part; PT_ANY matches every value (including null).
 */
bool
param_type_matches(ParamType t, const cJSON *v)
{
	if (v == NULL)
		return false;
	switch (t)
	{
		case PT_STRING:
			return cJSON_IsString(v) && v->valuestring != NULL;
		case PT_NUMBER:
			return cJSON_IsNumber(v) && isfinite(v->valuedouble);
		case PT_INTEGER:
			return cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
				v->valuedouble >= -9007199254740992.0 &&
				v->valuedouble <= 9007199254740992.0 &&
				v->valuedouble == (double) (long long) v->valuedouble;
		case PT_BOOLEAN:
			return cJSON_IsBool(v);
		case PT_OBJECT:
			return cJSON_IsObject(v);
		case PT_ARRAY:
			return cJSON_IsArray(v);
		case PT_ANY:
			return true;
	}
	return false;
}

/*
 * add_string_list
 *		Add key: [strings...] to obj from a NULL-terminated list (NULL list
 *		gives []).
 */
static void
add_string_list(cJSON *obj, const char *key, const char *const *list)
{
	cJSON	   *arr = cJSON_AddArrayToObject(obj, key);
	int			i;

	if (arr == NULL || list == NULL)
		return;
	for (i = 0; list[i] != NULL; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(list[i]));
}

/*
 * params_to_json
 *		[{"name","type","required","description"}...] for a parameter list.
 */
static cJSON *
params_to_json(const ToolParam *params, int nparams)
{
	cJSON	   *arr = cJSON_CreateArray();
	int			i;

	for (i = 0; i < nparams; i++)
	{
		cJSON	   *p = cJSON_CreateObject();

		cJSON_AddStringToObject(p, "name", params[i].name);
		cJSON_AddStringToObject(p, "type", param_type_name(params[i].type));
		cJSON_AddBoolToObject(p, "required", params[i].required);
		cJSON_AddStringToObject(p, "description",
								params[i].description ? params[i].description : "");
		cJSON_AddItemToArray(arr, p);
	}
	return arr;
}

/*
 * one_of_to_json
 *		[["text", "blocks"], ...] for a task's "one of" groups.
 */
static cJSON *
one_of_to_json(const char *const *groups)
{
	cJSON	   *arr = cJSON_CreateArray();

	for (int i = 0; groups != NULL && groups[i] != NULL; i++)
	{
		cJSON	   *g = cJSON_CreateArray();
		const char *p = groups[i];

		while (*p)
		{
			size_t		len = strcspn(p, ",");
			char		name[128];

			snprintf(name, sizeof(name), "%.*s", (int) len, p);
			cJSON_AddItemToArray(g, cJSON_CreateString(name));
			p += len;
			if (*p == ',')
				p++;
		}
		cJSON_AddItemToArray(arr, g);
	}
	return arr;
}

/*
 * catalog_one_of_missing
 *		True when no parameter of the group is given in params.
 */
bool
catalog_one_of_missing(const char *group, const cJSON *params)
{
	const char *p = group;

	while (p && *p)
	{
		size_t		len = strcspn(p, ",");
		char		name[128];
		const cJSON *v;

		snprintf(name, sizeof(name), "%.*s", (int) len, p);
		v = cJSON_GetObjectItemCaseSensitive(params, name);
		if (v != NULL && !cJSON_IsNull(v) &&
			!(cJSON_IsString(v) && v->valuestring[0] == '\0') &&
			!(cJSON_IsArray(v) && cJSON_GetArraySize(v) == 0))
			return false;
		p += len;
		if (*p == ',')
			p++;
	}
	return true;
}

/*
 * service_to_json
 *		One service of the catalog as JSON.
 */
static cJSON *
service_to_json(const ToolService *svc)
{
	cJSON	   *s = cJSON_CreateObject();
	cJSON	   *tasks;
	char		setting[128];
	int			i;

	cJSON_AddStringToObject(s, "name", svc->name);
	cJSON_AddStringToObject(s, "description", svc->description ? svc->description : "");
	/* services without a fixed API (http) take full URLs: no setting */
	if (svc->default_base_url && svc->default_base_url[0])
	{
		snprintf(setting, sizeof(setting), "flowdb.%s_base_url", svc->name);
		cJSON_AddStringToObject(s, "base_url_setting", setting);
		cJSON_AddStringToObject(s, "default_base_url", svc->default_base_url);
	}
	else
	{
		cJSON_AddNullToObject(s, "base_url_setting");
		cJSON_AddNullToObject(s, "default_base_url");
	}
	add_string_list(s, "credential_fields", svc->credential_fields);

	tasks = cJSON_AddArrayToObject(s, "tasks");
	for (i = 0; tasks != NULL && i < svc->ntasks; i++)
	{
		const ToolTask *task = &svc->tasks[i];
		cJSON	   *t = cJSON_CreateObject();

		cJSON_AddStringToObject(t, "name", task->name);
		cJSON_AddStringToObject(t, "description", task->description ? task->description : "");
		cJSON_AddItemToObject(t, "params", params_to_json(task->params, task->nparams));
		cJSON_AddItemToObject(t, "one_of", one_of_to_json(task->one_of));
		cJSON_AddStringToObject(t, "output",
								task->output_description ? task->output_description : "");
		cJSON_AddItemToArray(tasks, t);
	}
	add_string_list(s, "events", svc->events);
	return s;
}

/*
 * catalog_to_json
 *		The whole catalog: services with tasks and events, trigger types,
 *		node types with their fields and condition operators.  Caller
 *		cJSON_Delete()s the result.
 */
cJSON *
catalog_to_json(void)
{
	cJSON	   *root = cJSON_CreateObject();
	cJSON	   *services;
	cJSON	   *nodes;
	int			i;

	if (root == NULL)
		return NULL;
	cJSON_AddNumberToObject(root, "version", 1);

	services = cJSON_AddArrayToObject(root, "services");
	for (i = 0; services != NULL && fdb_services[i] != NULL; i++)
		cJSON_AddItemToArray(services, service_to_json(fdb_services[i]));

	add_string_list(root, "trigger_types", trigger_types);

	nodes = cJSON_AddArrayToObject(root, "node_types");
	for (i = 0; nodes != NULL && i < (int) (sizeof(node_types) / sizeof(node_types[0])); i++)
	{
		cJSON	   *n = cJSON_CreateObject();

		cJSON_AddStringToObject(n, "type", node_types[i].type);
		cJSON_AddStringToObject(n, "description", node_types[i].description);
		cJSON_AddItemToObject(n, "fields",
							  params_to_json(node_types[i].fields, node_types[i].nfields));
		cJSON_AddItemToArray(nodes, n);
	}

	add_string_list(root, "condition_ops", condition_ops);
	return root;
}

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
 * tool_classify_status
 *		Default outcome of an HTTP status: 2xx and 3xx done; 408, 425, 429
 *		and 5xx retry; everything else (including 0 and 1xx) fail.
 */
ToolOutcome
tool_classify_status(long status)
{
	if (status >= 200 && status < 400)
		return TOOL_DONE;
	if (status == 408 || status == 425 || status == 429 ||
		(status >= 500 && status < 600))
		return TOOL_RETRY;
	return TOOL_FAIL;
}

/*
 * tool_contains_ci
 *		Case-insensitive substring test (ASCII); a NULL hay contains nothing.
 */
bool
tool_contains_ci(const char *hay, const char *needle)
{
	size_t		n = strlen(needle);
	const char *p;

	if (hay == NULL)
		return false;
	for (p = hay; *p != '\0'; p++)
	{
		size_t		i;

		for (i = 0; i < n; i++)
		{
			if (p[i] == '\0' ||
				tolower((unsigned char) p[i]) != tolower((unsigned char) needle[i]))
				break;
		}
		if (i == n)
			return true;
	}
	return false;
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


/* ---- helpers for tools ---- */

/*
 * tool_base_url
 *		The service base URL from the context, or default_url when the
 *		context has none.
 */
const char *
tool_base_url(const ToolContext *ctx, const char *default_url)
{
	return (ctx->base_url && ctx->base_url[0]) ? ctx->base_url : default_url;
}

/*
 * tool_param
 *		The param called name, or NULL when absent or JSON null.
 */
const cJSON *
tool_param(const ToolContext *ctx, const char *name)
{
	const cJSON *v;

	if (ctx == NULL || !cJSON_IsObject(ctx->params))
		return NULL;
	v = cJSON_GetObjectItemCaseSensitive(ctx->params, name);
	return (v && !cJSON_IsNull(v)) ? v : NULL;
}

/*
 * tool_param_string
 *		An optional string param into *out (borrowed; NULL when absent, null
 *		or empty).  False with err when present with another type.
 */
bool
tool_param_string(const ToolContext *ctx, const char *name, const char **out,
				  char *err, size_t errlen)
{
	const cJSON *v = tool_param(ctx, name);

	*out = NULL;
	if (v == NULL)
		return true;
	if (!cJSON_IsString(v))
	{
		fdb_fmt(err, errlen, "param %s must be a string", name);
		return false;
	}
	if (v->valuestring[0])
		*out = v->valuestring;
	return true;
}

/*
 * tool_param_text
 *		An optional string param as malloc'd text in *out (NULL when absent,
 *		null or empty).  Numbers are accepted as their text when
 *		allow_number.  False with err for any other type.
 */
bool
tool_param_text(const ToolContext *ctx, const char *name, bool allow_number,
				char **out, char *err, size_t errlen)
{
	const cJSON *v = tool_param(ctx, name);

	*out = NULL;
	if (v == NULL)
		return true;
	if (!cJSON_IsString(v) && !(allow_number && cJSON_IsNumber(v)))
	{
		fdb_fmt(err, errlen, "param %s must be a string", name);
		return false;
	}
	*out = fdb_json_to_text(v);
	if (*out && (*out)[0] == '\0')
	{
		free(*out);
		*out = NULL;
	}
	return true;
}

/*
 * tool_param_number
 *		An optional number param into *out (borrowed; NULL when absent or
 *		null).  False with err unless it is a number from min to max, and a
 *		whole one when whole.
 */
bool
tool_param_number(const ToolContext *ctx, const char *name, double min,
				  double max, bool whole, const cJSON **out,
				  char *err, size_t errlen)
{
	const cJSON *v = tool_param(ctx, name);

	*out = NULL;
	if (v == NULL)
		return true;
	if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > max ||
		(whole && v->valuedouble != floor(v->valuedouble)))
	{
		fdb_fmt(err, errlen, "param %s must be a %s from %.15g to %.15g", name,
				whole ? "whole number" : "number", min, max);
		return false;
	}
	*out = v;
	return true;
}

/*
 * tool_param_required
 *		True when present; otherwise false with "param <name> is required".
 *		Tools call it after reading all their params, so that a param of the
 *		wrong type is reported before a missing one.
 */
bool
tool_param_required(const char *name, bool present, char *err, size_t errlen)
{
	if (present)
		return true;
	fdb_fmt(err, errlen, "param %s is required", name);
	return false;
}

/*
 * tool_credential_fields
 *		In live mode, the credential's string fields name1 and (unless NULL)
 *		name2 into *value1 and *value2; false with "credential needs ..."
 *		when one is missing or empty.  In sandbox mode (no credential) the
 *		values are NULL and the result is true.
 */
bool
tool_credential_fields(const ToolContext *ctx,
					   const char *name1, const char **value1,
					   const char *name2, const char **value2,
					   char *err, size_t errlen)
{
	*value1 = NULL;
	if (name2)
		*value2 = NULL;
	if (ctx->credential == NULL)
		return true;
	*value1 = fdb_json_str(ctx->credential, name1);
	if (name2)
		*value2 = fdb_json_str(ctx->credential, name2);
	if (*value1 == NULL || (*value1)[0] == '\0' ||
		(name2 && (*value2 == NULL || (*value2)[0] == '\0')))
	{
		if (name2)
			fdb_fmt(err, errlen, "credential needs %s and %s", name1, name2);
		else
			fdb_fmt(err, errlen, "credential needs %s", name1);
		return false;
	}
	return true;
}

/*
 * tool_form_add
 *		Append "name=value" (value form-encoded) to a form body.
 */
void
tool_form_add(FdbBuf *form, const char *name, const char *value)
{
	char	   *enc = fdb_urlencode(value);

	if (form->len > 0)
		fdb_buf_puts(form, "&");
	fdb_buf_puts(form, name);
	fdb_buf_puts(form, "=");
	fdb_buf_puts(form, enc);
	free(enc);
}

/*
 * tool_set_json_body
 *		Set the request body to the compact JSON text of body; body is
 *		freed.
 */
void
tool_set_json_body(HttpRequest *req, cJSON *body)
{
	char	   *text = fdb_json_print(body);

	cJSON_Delete(body);
	http_request_set_body(req, text, text ? strlen(text) : 0);
	free(text);
}

/*
 * tool_bearer_header
 *		Add "Authorization: Bearer <token>" unless token is NULL or empty
 *		(sandbox mode, or a server that needs no key).
 */
void
tool_bearer_header(HttpRequest *req, const char *token)
{
	if (token && token[0])
		http_request_add_header(req, "Authorization: Bearer %s", token);
}

/*
 * tool_basic_auth
 *		Add "Authorization: Basic base64(user:password)"; NULL counts as "".
 */
void
tool_basic_auth(HttpRequest *req, const char *user, const char *password)
{
	char	   *pair = fdb_asprintf("%s:%s", user ? user : "", password ? password : "");
	char	   *b64 = pair ? fdb_base64((const unsigned char *) pair, strlen(pair)) : NULL;

	if (b64)
		http_request_add_header(req, "Authorization: Basic %s", b64);
	free(b64);
	free(pair);
}

/*
 * tool_idempotency_header
 *		Add "Idempotency-Key: <key>" when the context has a non-empty key.
 */
void
tool_idempotency_header(const ToolContext *ctx, HttpRequest *req)
{
	if (ctx->idempotency_key && ctx->idempotency_key[0])
		http_request_add_header(req, "Idempotency-Key: %s", ctx->idempotency_key);
}

/*
 * tool_error_outcome
 *		The outcome of a response already known to be an error: as
 *		tool_classify_status, but a 2xx/3xx (an error inside a success
 *		status) is TOOL_FAIL.
 */
ToolOutcome
tool_error_outcome(long status)
{
	ToolOutcome outcome = tool_classify_status(status);

	return outcome == TOOL_DONE ? TOOL_FAIL : outcome;
}

/*
 * tool_http_error
 *		err = "<who> HTTP <status>: <detail>", or the first 200 bytes of the
 *		body in place of detail when it is NULL.
 */
void
tool_http_error(char *err, size_t errlen, const char *who,
				const HttpResponse *resp, const char *detail)
{
	if (detail)
		fdb_fmt(err, errlen, "%s HTTP %ld: %s", who, resp->status, detail);
	else
		fdb_fmt(err, errlen, "%s HTTP %ld: %.200s", who, resp->status,
				resp->body ? resp->body : "");
}

/*
 * tool_add_string_or_null
 *		Add key to obj: value as a string, or null when value is NULL.
 */
void
tool_add_string_or_null(cJSON *obj, const char *key, const char *value)
{
	if (value)
		cJSON_AddStringToObject(obj, key, value);
	else
		cJSON_AddNullToObject(obj, key);
}

/*
 * tool_hash
 *		Continue the 64-bit FNV-1a hash h over the bytes of s (NULL counts as
 *		""); start from TOOL_HASH_INIT.
 */
uint64_t
tool_hash(uint64_t h, const char *s)
{
	for (; s && *s; s++)
		h = (h ^ (unsigned char) *s) * UINT64_C(1099511628211);
	return h;
}

/*
 * tool_sample_hash
 *		FNV-1a of salt (NULL: none) followed by the idempotency key: the seed
 *		of a sandbox id, the same on every retry of the step.
 */
uint64_t
tool_sample_hash(const ToolContext *ctx, const char *salt)
{
	return tool_hash(tool_hash(TOOL_HASH_INIT, salt), ctx->idempotency_key);
}

/*
 * tool_hash_id
 *		Write prefix followed by n characters of alphabet into out (size
 *		outlen, always NUL-terminated, cut to fit): the digits of h in base
 *		strlen(alphabet), least significant first.
 */
void
tool_hash_id(uint64_t h, const char *prefix, const char *alphabet, int n,
			 char *out, size_t outlen)
{
	uint64_t	base = strlen(alphabet);
	size_t		len;
	int			i;

	if (outlen == 0)
		return;
	fdb_fmt(out, outlen, "%s", prefix);
	len = strlen(out);
	for (i = 0; i < n && len + 1 < outlen; i++)
	{
		out[len++] = alphabet[h % base];
		h /= base;
	}
	out[len] = '\0';
}

/*
 * tool_sample_id
 *		A sandbox id: prefix and n characters of alphabet derived from salt
 *		and the idempotency key (see tool_hash_id).
 */
void
tool_sample_id(const ToolContext *ctx, const char *salt, const char *prefix,
			   const char *alphabet, int n, char *out, size_t outlen)
{
	tool_hash_id(tool_sample_hash(ctx, salt), prefix, alphabet, n, out, outlen);
}

/* ---- end helpers for tools ---- */

/*
 * catalog_service_index
 *		Position of svc in the registry, or -1.
 */
int
catalog_service_index(const ToolService *svc)
{
	for (int i = 0; fdb_services[i] != NULL; i++)
		if (fdb_services[i] == svc)
			return i;
	return -1;
}

/*
 * catalog_parse_limits
 *		Per-service limits: "whatsapp=4, slack=1, slack=1/s": N requests in
 *		flight, or R requests per second ("R/s", R may have decimals).
 */
bool
catalog_parse_limits(const char *spec, int *limits, double *rates, int nlimits,
					 char *err, size_t errlen)
{
	const char *p = spec ? spec : "";

	for (int i = 0; i < nlimits; i++)
	{
		limits[i] = 0;
		if (rates)
			rates[i] = 0;
	}
	for (;;)
	{
		char		name[64];
		size_t		n = 0;
		double		v = 0;
		char	   *end;
		const char *value;
		const ToolService *svc;
		int			idx;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return true;
		while ((isalnum((unsigned char) *p) || *p == '_') && n < sizeof(name) - 1)
			name[n++] = *p++;
		name[n] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (n == 0 || *p != '=')
		{
			fdb_fmt(err, errlen, "expected service=N or service=R/s at \"%.32s\"", p);
			return false;
		}
		p++;
		svc = catalog_service(name);
		idx = svc ? catalog_service_index(svc) : -1;
		if (idx < 0 || idx >= nlimits)
		{
			fdb_fmt(err, errlen, "unknown service \"%s\"", name);
			return false;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		value = p;
		if (!isdigit((unsigned char) *p))
			end = (char *) p;
		else
			v = strtod(p, &end);
		if (end != p && end[0] == '/' && end[1] == 's')
		{
			if (v < 0.001 || v > 100000)
			{
				fdb_fmt(err, errlen, "rate for %s must be from 0.001/s to 100000/s", name);
				return false;
			}
			if (rates)
				rates[idx] = v;
			end += 2;
		}
		else
		{
			if (end == p || v != (double) (long) v || v < 1 || v > 100000)
			{
				fdb_fmt(err, errlen, "limit for %s must be a number from 1 to 100000, or a rate like 5/s", name);
				return false;
			}
			limits[idx] = (int) v;
		}
		p = end;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '\0' && *p != ',')
		{
			fdb_fmt(err, errlen, "expected \",\" after %s=%.*s", name, (int) (end - value), value);
			return false;
		}
	}
}

/*
 * catalog_credential_field_required
 *		A declared credential field that is not listed as optional.
 */
bool
catalog_credential_field_required(const ToolService *svc, const char *field)
{
	bool		declared = false;

	for (int i = 0; svc->credential_fields && svc->credential_fields[i]; i++)
		if (strcmp(svc->credential_fields[i], field) == 0)
			declared = true;
	for (int i = 0; svc->optional_credential_fields && svc->optional_credential_fields[i]; i++)
		if (strcmp(svc->optional_credential_fields[i], field) == 0)
			return false;
	return declared;
}
