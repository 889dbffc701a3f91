/*-------------------------------------------------------------------------
 *
 * catalog.h
 *	  The tool registry: services, their tasks, parameters and events.
 *
 * A tool is a service with tasks.  A task is pure code: build() turns
 * rendered params + credential into an HttpRequest; parse() turns the
 * HttpResponse into an output object or an error class.  The worker does
 * all HTTP.  The registry (catalog.c, fdb_services[]) is the single source
 * for validation, the LLM prompt, the offline drafter and the docs.
 *
 * Adding a tool: one file in src/tools/ defining a ToolService, plus one
 * line in fdb_services[] in catalog.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_CATALOG_H
#define FLOWDB_CATALOG_H

#include "fjson.h"

typedef enum ParamType
{
	PT_STRING,
	PT_NUMBER,
	PT_INTEGER,
	PT_BOOLEAN,
	PT_OBJECT,
	PT_ARRAY,
	PT_ANY
} ParamType;

typedef struct ToolParam
{
	const char *name;
	ParamType	type;
	bool		required;
	const char *description;
} ToolParam;

/* One HTTP request a task wants sent.  All strings malloc'd. */
#define HTTP_MAX_HEADERS 32
typedef struct HttpRequest
{
	char		method[16];
	char	   *url;
	int			nheaders;
	char	   *headers[HTTP_MAX_HEADERS];	/* "Name: value" */
	char	   *body;			/* may be NULL */
	size_t		body_len;
	long		timeout_ms;		/* 0 = use default */
} HttpRequest;

/* What came back (filled by http.c).  status 0 = transport failure. */
typedef struct HttpResponse
{
	long		status;
	bool		timed_out;
	bool		permanent;		/* transport error retrying cannot fix
								 * (private address refused, body too
								 * large) */
	char		error[256];		/* transport error text, "" if none */
	cJSON	   *headers;		/* object, lower-case names -> string */
	char	   *body;			/* NUL-terminated */
	size_t		body_len;
	double		retry_after;	/* seconds from Retry-After, -1 if none */
	double		elapsed_ms;
} HttpResponse;

typedef enum ToolOutcome
{
	TOOL_DONE,					/* *output set: the step succeeded */
	TOOL_RETRY,					/* retryable error (429, 5xx, ratelimited) */
	TOOL_FAIL,					/* permanent error */
	TOOL_NEXT					/* send another request (multi-request step) */
} ToolOutcome;

typedef struct ToolContext
{
	const cJSON *params;		/* rendered params (object) */
	const cJSON *credential;	/* secret object, or NULL (sandbox) */
	const char *base_url;		/* service base URL, no trailing slash */
	const char *idempotency_key;	/* stable per run + node */
	const cJSON *settings;		/* service settings from GUCs, e.g. {"model":
								 * "gpt-4o-mini"} for llm; may be NULL */
	int			phase;			/* 0 for the first request of a step */
	cJSON	   *phase_state;	/* object persisted between phases (task may
								 * add keys); never NULL */
} ToolContext;

typedef struct ToolTask
{
	const char *name;
	const char *description;
	const ToolParam *params;
	int			nparams;
	const char *output_description;
	/* Build request for ctx->phase; false with err on bad params. */
	bool		(*build) (ToolContext *ctx, HttpRequest *req, char *err, size_t errlen);
	/* Classify a response (status > 0).  On TOOL_DONE set *output. */
	ToolOutcome (*parse) (ToolContext *ctx, const HttpResponse *resp,
						  cJSON **output, char *err, size_t errlen);
	/* Sandbox: a realistic output in the provider's shape (never NULL). */
	cJSON	   *(*sample) (ToolContext *ctx);
} ToolTask;

typedef struct ToolService
{
	const char *name;
	const char *description;
	const char *default_base_url;
	const ToolTask *tasks;
	int			ntasks;
	const char *const *events;	/* trigger event names, NULL-terminated */
	const char *const *credential_fields;	/* NULL-terminated */
} ToolService;

/* registry, NULL-terminated (catalog.c) */
extern const ToolService *const fdb_services[];

/* ---- registry: one extern per service (src/tools/<name>_tool.c) ---- */
extern const ToolService http_service;
extern const ToolService whatsapp_service;
extern const ToolService razorpay_service;
extern const ToolService instagram_service;
extern const ToolService slack_service;
extern const ToolService llm_service;
/* ---- end registry ---- */

extern const ToolService *catalog_service(const char *name);
extern const ToolTask *catalog_task(const ToolService *svc, const char *name);
extern const char *param_type_name(ParamType t);
/* Does v have type t?  (PT_INTEGER: a number with no fractional part) */
extern bool param_type_matches(ParamType t, const cJSON *v);
/* The whole catalog as JSON (see docs/sql.md). */
extern cJSON *catalog_to_json(void);

/* Request/response helpers shared by tools (catalog.c) */
extern void http_request_init(HttpRequest *req, const char *method);
extern void http_request_add_header(HttpRequest *req, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern void http_request_set_body(HttpRequest *req, const char *body, size_t len);
extern void http_request_free(HttpRequest *req);
extern void http_response_free(HttpResponse *resp);
/* Default classification: 2xx/3xx done, 408/425/429/5xx retry, other fail. */
extern ToolOutcome tool_classify_status(long status);
/* Parse body as JSON when content-type is JSON (or it looks like JSON),
 * else a string.  Never NULL. */
extern cJSON *http_response_body_json(const HttpResponse *resp);

#endif							/* FLOWDB_CATALOG_H */
