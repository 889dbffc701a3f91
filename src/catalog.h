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
	/* "One of" rules: groups of parameters of which at least one must be
	 * given, each a comma-separated list ("text,blocks"); NULL-terminated,
	 * NULL when none.  Checked at validation, listed in the catalog. */
	const char *const *one_of;
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
	const char *const *optional_credential_fields;	/* the subset that may be
													 * absent; NULL = none */
} ToolService;

/* registry, NULL-terminated (catalog.c) */
extern const ToolService *const fdb_services[];

/* ---- registry: one extern per service (src/tools/<name>.c) ---- */
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
/* Does the group ("a,b") hold no parameter that params gives (present and
 * not null, "" or [])?  A template counts as given. */
extern bool catalog_one_of_missing(const char *group, const cJSON *params);
/* Must a stored credential of svc have this field? */
extern bool catalog_credential_field_required(const ToolService *svc, const char *field);

/* Position of a service in fdb_services[] (-1 when not registered). */
extern int	catalog_service_index(const ToolService *svc);
extern bool catalog_service_has_credentials(const ToolService *svc);

/*
 * Parse "service=N, service=R/s, ..." (flowdb.service_limits): N requests
 * in flight into limits[], R requests per second into rates[] (may be
 * NULL), both indexed like fdb_services[] (0 = no limit).  False with err
 * on an unknown service, a bad number or bad syntax.  "" sets no limits.
 */
extern bool catalog_parse_limits(const char *spec, int *limits, double *rates,
								 int nlimits, char *err, size_t errlen);

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
 * else a string; a body that is not UTF-8 text comes back base64 (see
 * http_response_body_base64).  Never NULL. */
extern cJSON *http_response_body_json(const HttpResponse *resp);
/* Valid UTF-8 without NUL bytes? */
extern bool http_response_body_is_text(const HttpResponse *resp);
/* {"body_base64", "body_encoding": "base64"} for a body that is not text. */
extern cJSON *http_response_body_base64(const HttpResponse *resp);

/* ---- helpers for tools (catalog.c) ----
 *
 * Small pieces every provider tool in src/tools/ needs, so that each lives
 * once.  Error texts are part of the tools' behaviour: "param <name> must
 * be a string", "param <name> is required", "credential needs <field>".
 */
#include <stdint.h>

/* ctx->base_url, or default_url when the context has none (or ""). */
extern const char *tool_base_url(const ToolContext *ctx, const char *default_url);

/* The param called name, or NULL when absent or JSON null. */
extern const cJSON *tool_param(const ToolContext *ctx, const char *name);
/* An optional string param, borrowed (NULL when absent, null or "");
 * false with err when it has another type. */
extern bool tool_param_string(const ToolContext *ctx, const char *name,
							  const char **out, char *err, size_t errlen);
/* Like tool_param_string but malloc'd, and numbers are accepted as their
 * text when allow_number (a phone number rendered from a numeric field). */
extern bool tool_param_text(const ToolContext *ctx, const char *name,
							bool allow_number, char **out, char *err, size_t errlen);
/* An optional number param in [min, max] (whole: no fractional part),
 * borrowed (NULL when absent or null); false with err otherwise. */
extern bool tool_param_number(const ToolContext *ctx, const char *name,
							  double min, double max, bool whole,
							  const cJSON **out, char *err, size_t errlen);
/* present, or false with "param <name> is required" in err. */
extern bool tool_param_required(const char *name, bool present,
								char *err, size_t errlen);

/* Live mode: credential string fields name1 (and name2 unless NULL) into
 * *value1 (*value2), false with err when one is missing or "".  Sandbox (no
 * credential): the values are NULL and the result true. */
extern bool tool_credential_fields(const ToolContext *ctx,
								   const char *name1, const char **value1,
								   const char *name2, const char **value2,
								   char *err, size_t errlen);

/* Append "name=value" (value form-encoded) to a form body. */
extern void tool_form_add(FdbBuf *form, const char *name, const char *value);
/* Set the request body to the compact JSON text of body, then free body. */
extern void tool_set_json_body(HttpRequest *req, cJSON *body);
/* "Authorization: Bearer <token>", left out when token is NULL or "". */
extern void tool_bearer_header(HttpRequest *req, const char *token);
/* "Authorization: Basic base64(user:password)" (NULL counts as ""). */
extern void tool_basic_auth(HttpRequest *req, const char *user, const char *password);
/* "Idempotency-Key: <key>", left out when the context has no key (or ""). */
extern void tool_idempotency_header(const ToolContext *ctx, HttpRequest *req);

/* tool_classify_status of a response known to be an error: never TOOL_DONE
 * (a 2xx/3xx becomes TOOL_FAIL). */
extern ToolOutcome tool_error_outcome(long status);
/* err = "<who> HTTP <status>: <detail>", or with the first 200 bytes of the
 * body when detail is NULL. */
extern void tool_http_error(char *err, size_t errlen, const char *who,
							const HttpResponse *resp, const char *detail);
/* Case-insensitive (ASCII) substring test; a NULL hay contains nothing. */
extern bool tool_contains_ci(const char *hay, const char *needle);
/* obj[key] = value as a string, or null when value is NULL. */
extern void tool_add_string_or_null(cJSON *obj, const char *key, const char *value);

/*
 * Sandbox samples: ids that look like the provider's and stay the same for
 * the same idempotency key (so a retried step gets the same output).  The
 * hash is 64-bit FNV-1a.
 */
#define TOOL_HASH_INIT UINT64_C(14695981039346656037)
/* Continue the FNV-1a hash h over the bytes of s (NULL counts as ""). */
extern uint64_t tool_hash(uint64_t h, const char *s);
/* FNV-1a of salt (may be NULL) followed by the context's idempotency key. */
extern uint64_t tool_sample_hash(const ToolContext *ctx, const char *salt);
/* prefix and then n characters of alphabet, the base-strlen(alphabet)
 * digits of h (least significant first), into out (cut to outlen). */
extern void tool_hash_id(uint64_t h, const char *prefix, const char *alphabet,
						 int n, char *out, size_t outlen);
/* tool_hash_id of tool_sample_hash(ctx, salt). */
extern void tool_sample_id(const ToolContext *ctx, const char *salt,
						   const char *prefix, const char *alphabet, int n,
						   char *out, size_t outlen);
/* ---- end helpers for tools ---- */

#endif							/* FLOWDB_CATALOG_H */
