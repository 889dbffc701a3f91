/*
 * test_catalog.c: the tool registry, catalog JSON, HTTP helpers, the
 * "http" tool (build / parse / sample) and the helpers shared by tools.
 */
#include "unit.h"

#include <strings.h>

#include "catalog.h"

/*
 * parse_json
 *		cJSON_Parse that aborts the test run on bad fixture JSON.
 */
static cJSON *
parse_json(const char *text)
{
	cJSON	   *v = cJSON_Parse(text);

	if (v == NULL)
	{
		fprintf(stderr, "bad fixture JSON: %s\n", text);
		exit(2);
	}
	return v;
}

/*
 * header_value
 *		Value of the n-th (0-based) header called name in req, or NULL.
 */
static const char *
header_value(const HttpRequest *req, const char *name, int nth)
{
	size_t		len = strlen(name);
	int			i;

	for (i = 0; i < req->nheaders; i++)
	{
		const char *h = req->headers[i];

		if (strncasecmp(h, name, len) == 0 && h[len] == ':' && nth-- == 0)
			return h + len + (h[len + 1] == ' ' ? 2 : 1);
	}
	return NULL;
}

/*
 * header_count
 *		How many headers called name req has.
 */
static int
header_count(const HttpRequest *req, const char *name)
{
	int			n = 0;

	while (header_value(req, name, n) != NULL)
		n++;
	return n;
}

/*
 * http_task
 *		The http.request task.
 */
static const ToolTask *
http_task(void)
{
	return catalog_task(catalog_service("http"), "request");
}

/*
 * build
 *		Run http.request's build with params (JSON text) and key; returns
 *		build's result.  err receives the error.
 */
static bool
build(const char *params_json, const char *key, HttpRequest *req,
	  char *err, size_t errlen)
{
	cJSON	   *params = parse_json(params_json);
	cJSON	   *state = cJSON_CreateObject();
	ToolContext ctx;
	bool		ok;

	memset(&ctx, 0, sizeof(ctx));
	ctx.params = params;
	ctx.base_url = "";
	ctx.idempotency_key = key;
	ctx.phase_state = state;
	err[0] = '\0';
	memset(req, 0, sizeof(*req));
	ok = http_task()->build(&ctx, req, err, errlen);
	cJSON_Delete(params);
	cJSON_Delete(state);
	return ok;
}

/*
 * make_response
 *		A response with status, one content-type header (or none) and body.
 */
static void
make_response(HttpResponse *resp, long status, const char *ctype, const char *body)
{
	memset(resp, 0, sizeof(*resp));
	resp->status = status;
	resp->retry_after = -1;
	resp->headers = cJSON_CreateObject();
	if (ctype != NULL)
		cJSON_AddStringToObject(resp->headers, "content-type", ctype);
	if (body != NULL)
	{
		resp->body = fdb_strdup(body);
		resp->body_len = strlen(body);
	}
}

/*
 * parse
 *		Run http.request's parse on resp.
 */
static ToolOutcome
parse(const HttpResponse *resp, cJSON **out, char *err, size_t errlen)
{
	cJSON	   *state = cJSON_CreateObject();
	ToolContext ctx;
	ToolOutcome o;

	memset(&ctx, 0, sizeof(ctx));
	ctx.phase_state = state;
	err[0] = '\0';
	o = http_task()->parse(&ctx, resp, out, err, errlen);
	cJSON_Delete(state);
	return o;
}

TEST(test_registry)
{
	const ToolService *http = catalog_service("http");
	int			n = 0;

	CHECK(http != NULL);
	CHECK(http == &http_service);
	CHECK(catalog_service("smtp") == NULL);
	CHECK(catalog_service(NULL) == NULL);
	CHECK(catalog_service("") == NULL);
	CHECK(catalog_task(http, "request") != NULL);
	CHECK(catalog_task(http, "nope") == NULL);
	CHECK(catalog_task(NULL, "request") == NULL);
	CHECK(catalog_task(http, NULL) == NULL);
	CHECK_STR(catalog_task(http, "request")->name, "request");

	/* registry is NULL-terminated, every entry findable, names unique */
	while (fdb_services[n] != NULL)
	{
		CHECK(catalog_service(fdb_services[n]->name) == fdb_services[n]);
		CHECK(fdb_services[n]->tasks != NULL);
		CHECK(fdb_services[n]->events != NULL);
		CHECK(fdb_services[n]->credential_fields != NULL);
		n++;
	}
	CHECK(n >= 1);
}

TEST(test_param_types)
{
	cJSON	   *v = parse_json("[\"s\", 3, 3.5, true, {}, [], null, -0, 1e300]");

	CHECK_STR(param_type_name(PT_STRING), "string");
	CHECK_STR(param_type_name(PT_NUMBER), "number");
	CHECK_STR(param_type_name(PT_INTEGER), "integer");
	CHECK_STR(param_type_name(PT_BOOLEAN), "boolean");
	CHECK_STR(param_type_name(PT_OBJECT), "object");
	CHECK_STR(param_type_name(PT_ARRAY), "array");
	CHECK_STR(param_type_name(PT_ANY), "any");

	CHECK(param_type_matches(PT_STRING, cJSON_GetArrayItem(v, 0)));
	CHECK(!param_type_matches(PT_STRING, cJSON_GetArrayItem(v, 1)));
	CHECK(param_type_matches(PT_INTEGER, cJSON_GetArrayItem(v, 1)));
	CHECK(param_type_matches(PT_NUMBER, cJSON_GetArrayItem(v, 1)));
	CHECK(!param_type_matches(PT_INTEGER, cJSON_GetArrayItem(v, 2)));
	CHECK(param_type_matches(PT_NUMBER, cJSON_GetArrayItem(v, 2)));
	CHECK(param_type_matches(PT_BOOLEAN, cJSON_GetArrayItem(v, 3)));
	CHECK(!param_type_matches(PT_BOOLEAN, cJSON_GetArrayItem(v, 1)));
	CHECK(param_type_matches(PT_OBJECT, cJSON_GetArrayItem(v, 4)));
	CHECK(!param_type_matches(PT_OBJECT, cJSON_GetArrayItem(v, 5)));
	CHECK(param_type_matches(PT_ARRAY, cJSON_GetArrayItem(v, 5)));
	CHECK(param_type_matches(PT_ANY, cJSON_GetArrayItem(v, 6)));
	CHECK(!param_type_matches(PT_STRING, cJSON_GetArrayItem(v, 6)));
	CHECK(param_type_matches(PT_INTEGER, cJSON_GetArrayItem(v, 7)));
	CHECK(!param_type_matches(PT_INTEGER, cJSON_GetArrayItem(v, 8)));
	CHECK(!param_type_matches(PT_ANY, NULL));
	cJSON_Delete(v);
}

/*
 * array_has
 *		Does the array of strings contain s?
 */
static bool
array_has(const cJSON *arr, const char *s)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, arr)
	{
		if (cJSON_IsString(item) && strcmp(item->valuestring, s) == 0)
			return true;
	}
	return false;
}

TEST(test_catalog_json)
{
	cJSON	   *cat = catalog_to_json();
	const cJSON *services = cJSON_GetObjectItemCaseSensitive(cat, "services");
	const cJSON *svc;
	const cJSON *http = NULL;
	const cJSON *task;
	const cJSON *param;
	const cJSON *nt;
	const cJSON *ops = cJSON_GetObjectItemCaseSensitive(cat, "condition_ops");
	const cJSON *tt = cJSON_GetObjectItemCaseSensitive(cat, "trigger_types");
	double		version = 0;
	bool		url_required = false;
	int			nservices = 0;
	int			i;

	CHECK(cJSON_IsObject(cat));
	CHECK(fdb_json_num(cat, "version", &version) && version == 1);
	CHECK(cJSON_IsArray(services));
	cJSON_ArrayForEach(svc, services)
	{
		nservices++;
		if (strcmp(fdb_json_str(svc, "name"), "http") == 0)
			http = svc;
	}
	for (i = 0; fdb_services[i] != NULL; i++)
		;
	CHECK_INT(nservices, i);
	CHECK(http != NULL);
	/* http takes full URLs: no base URL setting */
	CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(http, "base_url_setting")));
	CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(http, "default_base_url")));
	CHECK(fdb_json_str(http, "description") != NULL);
	CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(http, "credential_fields")));
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(http, "credential_fields")), 0);
	CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(http, "events")));
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(http, "events")), 0);

	task = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(http, "tasks"), 0);
	CHECK_STR(fdb_json_str(task, "name"), "request");
	CHECK(fdb_json_str(task, "description") != NULL);
	CHECK(fdb_json_str(task, "output") != NULL && fdb_json_str(task, "output")[0] != '\0');
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(task, "params")), 5);
	cJSON_ArrayForEach(param, cJSON_GetObjectItemCaseSensitive(task, "params"))
	{
		CHECK(fdb_json_str(param, "name") != NULL);
		CHECK(fdb_json_str(param, "type") != NULL);
		CHECK(fdb_json_str(param, "description") != NULL);
		CHECK(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(param, "required")));
		if (strcmp(fdb_json_str(param, "name"), "url") == 0)
		{
			url_required = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(param, "required"));
			CHECK_STR(fdb_json_str(param, "type"), "string");
		}
		if (strcmp(fdb_json_str(param, "name"), "timeout_ms") == 0)
			CHECK_STR(fdb_json_str(param, "type"), "integer");
	}
	CHECK(url_required);

	CHECK_INT(cJSON_GetArraySize(tt), 5);
	CHECK(array_has(tt, "manual") && array_has(tt, "event") && array_has(tt, "table") &&
		  array_has(tt, "webhook") && array_has(tt, "schedule"));

	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cat, "node_types")), 5);
	nt = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cat, "node_types"), 0);
	CHECK_STR(fdb_json_str(nt, "type"), "action");
	CHECK(fdb_json_str(nt, "description") != NULL);
	CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(nt, "fields")));
	CHECK_STR(fdb_json_str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(nt, "fields"), 0),
						   "name"), "service");
	CHECK_STR(fdb_json_str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cat, "node_types"), 1),
						   "type"), "router");
	CHECK_STR(fdb_json_str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cat, "node_types"), 4),
						   "type"), "set");

	CHECK_INT(cJSON_GetArraySize(ops), 13);
	CHECK(array_has(ops, "eq") && array_has(ops, "matches") && array_has(ops, "starts_with"));

	/* failure paths: the edge field "on" and the workflow field on_failure */
	{
		const cJSON *ef = cJSON_GetObjectItemCaseSensitive(cat, "edge_fields");
		const cJSON *wf = cJSON_GetObjectItemCaseSensitive(cat, "workflow_fields");

		CHECK_INT(cJSON_GetArraySize(ef), 5);
		CHECK_STR(fdb_json_str(cJSON_GetArrayItem(ef, 4), "name"), "on");
		CHECK_CONTAINS(fdb_json_str(cJSON_GetArrayItem(ef, 4), "description"), "\"failure\"");
		CHECK_INT(cJSON_GetArraySize(wf), 1);
		CHECK_STR(fdb_json_str(cJSON_GetArrayItem(wf, 0), "name"), "on_failure");
	}
	cJSON_Delete(cat);
}

TEST(test_classify_status)
{
	CHECK_INT(tool_classify_status(200), TOOL_DONE);
	CHECK_INT(tool_classify_status(204), TOOL_DONE);
	CHECK_INT(tool_classify_status(301), TOOL_DONE);
	CHECK_INT(tool_classify_status(399), TOOL_DONE);
	CHECK_INT(tool_classify_status(408), TOOL_RETRY);
	CHECK_INT(tool_classify_status(425), TOOL_RETRY);
	CHECK_INT(tool_classify_status(429), TOOL_RETRY);
	CHECK_INT(tool_classify_status(500), TOOL_RETRY);
	CHECK_INT(tool_classify_status(503), TOOL_RETRY);
	CHECK_INT(tool_classify_status(599), TOOL_RETRY);
	CHECK_INT(tool_classify_status(400), TOOL_FAIL);
	CHECK_INT(tool_classify_status(401), TOOL_FAIL);
	CHECK_INT(tool_classify_status(404), TOOL_FAIL);
	CHECK_INT(tool_classify_status(422), TOOL_FAIL);
	CHECK_INT(tool_classify_status(100), TOOL_FAIL);
	CHECK_INT(tool_classify_status(0), TOOL_FAIL);
	CHECK_INT(tool_classify_status(600), TOOL_FAIL);
}

TEST(test_request_helpers)
{
	HttpRequest req;
	int			i;

	http_request_init(&req, "post");
	CHECK_STR(req.method, "POST");
	CHECK(req.url == NULL && req.body == NULL && req.nheaders == 0 && req.timeout_ms == 0);
	http_request_add_header(&req, "X-N: %d", 7);
	CHECK_STR(req.headers[0], "X-N: 7");
	for (i = 0; i < HTTP_MAX_HEADERS + 5; i++)
		http_request_add_header(&req, "X-%d: v", i);
	CHECK_INT(req.nheaders, HTTP_MAX_HEADERS);
	http_request_set_body(&req, "abc", 3);
	http_request_set_body(&req, "de\0f", 4);
	CHECK_INT(req.body_len, 4);
	CHECK(memcmp(req.body, "de\0f", 5) == 0);
	req.url = fdb_strdup("http://x");
	http_request_free(&req);
	CHECK(req.url == NULL && req.body == NULL && req.nheaders == 0);
	http_request_free(&req);	/* twice is safe */

	http_request_init(&req, "AVERYLONGMETHODNAMEINDEED");
	CHECK_INT(strlen(req.method), sizeof(req.method) - 1);
	http_request_free(&req);
}

TEST(test_body_json)
{
	HttpResponse resp;
	cJSON	   *v;

	/* content-type says JSON */
	make_response(&resp, 200, "application/json; charset=utf-8", "{\"a\": [1, 2]}");
	v = http_response_body_json(&resp);
	CHECK(cJSON_IsObject(v));
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(v, "a")), 2);
	cJSON_Delete(v);
	http_response_free(&resp);

	/* vendor JSON type, scalar */
	make_response(&resp, 200, "application/vnd.api+JSON", "42");
	v = http_response_body_json(&resp);
	CHECK(cJSON_IsNumber(v) && v->valuedouble == 42);
	cJSON_Delete(v);
	http_response_free(&resp);

	/* sniffed: no content-type, leading whitespace */
	make_response(&resp, 200, NULL, " \n [true]\n");
	v = http_response_body_json(&resp);
	CHECK(cJSON_IsArray(v));
	cJSON_Delete(v);
	http_response_free(&resp);

	/* text/plain that merely looks like an object but is not valid */
	make_response(&resp, 200, "text/plain", "{not json");
	v = http_response_body_json(&resp);
	CHECK(cJSON_IsString(v));
	CHECK_STR(cJSON_GetStringValue(v), "{not json");
	cJSON_Delete(v);
	http_response_free(&resp);

	/* trailing garbage is not JSON */
	make_response(&resp, 200, "application/json", "{} x");
	v = http_response_body_json(&resp);
	CHECK_STR(cJSON_GetStringValue(v), "{} x");
	cJSON_Delete(v);
	http_response_free(&resp);

	/* plain text stays text even when it parses as a number */
	make_response(&resp, 200, "text/plain", "123");
	v = http_response_body_json(&resp);
	CHECK_STR(cJSON_GetStringValue(v), "123");
	cJSON_Delete(v);
	http_response_free(&resp);

	/* empty body -> null */
	make_response(&resp, 204, "application/json", NULL);
	v = http_response_body_json(&resp);
	CHECK(cJSON_IsNull(v));
	cJSON_Delete(v);
	http_response_free(&resp);
	CHECK(resp.body == NULL && resp.headers == NULL);

	v = http_response_body_json(NULL);
	CHECK(cJSON_IsNull(v));
	cJSON_Delete(v);
}

/*
 * set_body
 *		Give resp a copy of n raw bytes as its body (test helper).
 */
static void
set_body(HttpResponse *resp, const char *bytes, size_t n)
{
	free(resp->body);
	resp->body = malloc(n + 1);
	memcpy(resp->body, bytes, n);
	resp->body[n] = '\0';
	resp->body_len = n;
}

TEST(test_body_binary)
{
	HttpResponse resp;
	cJSON	   *v;
	cJSON	   *out = NULL;
	char		err[256];
	static const struct
	{
		const char *bytes;
		size_t		n;
		bool		text;
	}			cases[] = {
		{"plain", 5, true},
		{"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, true},
		{"\xef\xbf\xbf", 3, true},	/* U+FFFF */
		{"\xf4\x8f\xbf\xbf", 4, true},	/* U+10FFFF */
		{"a\0b", 3, false},		/* NUL */
		{"\x80", 1, false},		/* lone continuation */
		{"\xc3", 1, false},		/* truncated */
		{"\xc0\xaf", 2, false},	/* overlong "/" */
		{"\xe0\x80\xaf", 3, false},	/* overlong */
		{"\xf0\x80\x80\xaf", 4, false},	/* overlong */
		{"\xed\xa0\x80", 3, false},	/* surrogate U+D800 */
		{"\xf4\x90\x80\x80", 4, false},	/* above U+10FFFF */
		{"\xff\xfe", 2, false},
		{"\x89PNG\r\n\x1a\n", 8, false},
		{"\xe2\x82", 2, false},	/* cut sequence */
		{"ok\xe2\x28\xa1", 5, false},	/* bad continuation */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		make_response(&resp, 200, "text/plain", NULL);
		set_body(&resp, cases[i].bytes, cases[i].n);
		CHECK_INT(http_response_body_is_text(&resp), cases[i].text);
		v = http_response_body_json(&resp);
		if (cases[i].text)
			CHECK(cJSON_IsString(v));
		else
		{
			CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "body_encoding")), "base64");
			CHECK(cJSON_IsString(cJSON_GetObjectItem(v, "body_base64")));
		}
		cJSON_Delete(v);
		http_response_free(&resp);
	}

	/* the exact encoding; JSON content-type does not matter */
	make_response(&resp, 200, "application/json", NULL);
	set_body(&resp, "{\"a\":\"\xff\"}", 9);
	v = http_response_body_json(&resp);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v, "body_base64")), "eyJhIjoi/yJ9");
	cJSON_Delete(v);

	/* the http tool: body null, body_base64 and body_encoding beside it */
	CHECK_INT(parse(&resp, &out, err, sizeof(err)), TOOL_DONE);
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(out, "body")));
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(out, "body_base64")), "eyJhIjoi/yJ9");
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(out, "body_encoding")), "base64");
	cJSON_Delete(out);
	http_response_free(&resp);

	/* text bodies get no encoding flag */
	make_response(&resp, 200, "text/plain", "hello");
	CHECK_INT(parse(&resp, &out, err, sizeof(err)), TOOL_DONE);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(out, "body")), "hello");
	CHECK(cJSON_GetObjectItem(out, "body_encoding") == NULL);
	cJSON_Delete(out);
	http_response_free(&resp);
}

TEST(test_http_build_json_body)
{
	HttpRequest req;
	char		err[FDB_ERRLEN];
	bool		ok;

	ok = build("{\"method\": \"post\", \"url\": \"https://api.example.com/v1/x?q=1\","
			   " \"headers\": {\"X-Trace\": \"t1\", \"X-Count\": 3},"
			   " \"body\": {\"a\": 1, \"b\": [true]}, \"timeout_ms\": 1500}",
			   "run-1:node-a", &req, err, sizeof(err));
	CHECK(ok);
	CHECK_STR(err, "");
	CHECK_STR(req.method, "POST");
	CHECK_STR(req.url, "https://api.example.com/v1/x?q=1");
	CHECK_STR(req.body, "{\"a\":1,\"b\":[true]}");
	CHECK_INT(req.body_len, strlen("{\"a\":1,\"b\":[true]}"));
	CHECK_INT(req.timeout_ms, 1500);
	CHECK_STR(header_value(&req, "X-Trace", 0), "t1");
	CHECK_STR(header_value(&req, "X-Count", 0), "3");
	CHECK_STR(header_value(&req, "Content-Type", 0), "application/json");
	CHECK_STR(header_value(&req, "Idempotency-Key", 0), "run-1:node-a");
	CHECK_INT(header_count(&req, "Idempotency-Key"), 1);
	http_request_free(&req);

	/* an array body is JSON too; default method GET */
	ok = build("{\"url\": \"http://h/\", \"body\": [1, \"x\"]}", NULL, &req, err, sizeof(err));
	CHECK(ok);
	CHECK_STR(req.method, "GET");
	CHECK_STR(req.body, "[1,\"x\"]");
	CHECK_STR(header_value(&req, "Content-Type", 0), "application/json");
	CHECK_INT(header_count(&req, "Idempotency-Key"), 0);	/* no key given */
	CHECK_INT(req.timeout_ms, 0);
	http_request_free(&req);
}

TEST(test_http_build_text_body)
{
	HttpRequest req;
	char		err[FDB_ERRLEN];

	CHECK(build("{\"method\": \"PUT\", \"url\": \"http://h/t\", \"body\": \"hello\\nworld\"}",
				"k1", &req, err, sizeof(err)));
	CHECK_STR(req.method, "PUT");
	CHECK_STR(req.body, "hello\nworld");
	CHECK_STR(header_value(&req, "Content-Type", 0), "text/plain");
	CHECK_STR(header_value(&req, "Idempotency-Key", 0), "k1");
	http_request_free(&req);

	/* user Content-Type wins (any case), and is not duplicated */
	CHECK(build("{\"method\": \"POST\", \"url\": \"http://h/t\", \"body\": \"a=1&b=2\","
				" \"headers\": {\"content-type\": \"application/x-www-form-urlencoded\"}}",
				"k1", &req, err, sizeof(err)));
	CHECK_INT(header_count(&req, "Content-Type"), 1);
	CHECK_STR(header_value(&req, "Content-Type", 0), "application/x-www-form-urlencoded");
	CHECK_STR(req.body, "a=1&b=2");
	http_request_free(&req);

	/* no body: no Content-Type, no body */
	CHECK(build("{\"method\": \"DELETE\", \"url\": \"http://h/t/1\", \"body\": null}",
				"k1", &req, err, sizeof(err)));
	CHECK(req.body == NULL);
	CHECK_INT(header_count(&req, "Content-Type"), 0);
	http_request_free(&req);
}

TEST(test_http_idempotency_key)
{
	HttpRequest req;
	char		err[FDB_ERRLEN];

	/* the user's own key (any case) is kept and ours not added */
	CHECK(build("{\"url\": \"http://h/\", \"headers\": {\"idempotency-key\": \"mine\"}}",
				"ours", &req, err, sizeof(err)));
	CHECK_INT(header_count(&req, "Idempotency-Key"), 1);
	CHECK_STR(header_value(&req, "Idempotency-Key", 0), "mine");
	http_request_free(&req);

	CHECK(build("{\"url\": \"http://h/\"}", "ours", &req, err, sizeof(err)));
	CHECK_STR(header_value(&req, "Idempotency-Key", 0), "ours");
	http_request_free(&req);
}

TEST(test_http_build_errors)
{
	HttpRequest req;
	char		err[FDB_ERRLEN];

	/* header injection through a value */
	CHECK(!build("{\"url\": \"http://h/\", \"headers\": {\"X-A\": \"v\\r\\nX-Evil: 1\"}}",
				 "k", &req, err, sizeof(err)));
	CHECK_CONTAINS(err, "header \"X-A\" must not contain CR, LF");
	CHECK(req.nheaders == 0 && req.url == NULL);
	http_request_free(&req);

	CHECK(!build("{\"url\": \"http://h/\", \"headers\": {\"X-A\": \"v\\nX-Evil: 1\"}}",
				 "k", &req, err, sizeof(err)));
	CHECK_CONTAINS(err, "must not contain CR, LF");
	http_request_free(&req);

	/* ... and through a name */
	CHECK(!build("{\"url\": \"http://h/\", \"headers\": {\"X-A: 1\\r\\nX-B\": \"v\"}}",
				 "k", &req, err, sizeof(err)));
	CHECK_CONTAINS(err, "invalid header name");
	http_request_free(&req);

	CHECK(!build("{\"url\": \"http://h/\", \"headers\": {\"\": \"v\"}}", "k", &req, err, sizeof(err)));
	CHECK_CONTAINS(err, "invalid header name \"\"");
	http_request_free(&req);

	/* ... and through the idempotency key */
	CHECK(!build("{\"url\": \"http://h/\"}", "k\r\nX: y", &req, err, sizeof(err)));
	CHECK_CONTAINS(err, "idempotency key");
	http_request_free(&req);

	CHECK(!build("{\"url\": \"http://h/\", \"headers\": {\"X-A\": {\"o\": 1}}}",
				 "k", &req, err, sizeof(err)));
	CHECK_STR(err, "header \"X-A\" must be a string");
	http_request_free(&req);

	CHECK(!build("{\"url\": \"http://h/\", \"headers\": [\"X-A: b\"]}", "k", &req, err, sizeof(err)));
	CHECK_STR(err, "headers must be an object of strings");
	http_request_free(&req);

	CHECK(!build("{\"url\": \"http://h/\", \"method\": \"TRACE\"}", "k", &req, err, sizeof(err)));
	CHECK_STR(err, "method must be one of GET, POST, PUT, PATCH, DELETE, HEAD (got \"TRACE\")");
	http_request_free(&req);

	CHECK(!build("{\"url\": \"http://h/\", \"method\": 1}", "k", &req, err, sizeof(err)));
	CHECK_STR(err, "method must be a string");
	http_request_free(&req);

	CHECK(!build("{}", "k", &req, err, sizeof(err)));
	CHECK_STR(err, "url is required");
	http_request_free(&req);

	CHECK(!build("{\"url\": 5}", "k", &req, err, sizeof(err)));
	CHECK_STR(err, "url must be a string");
	http_request_free(&req);

	CHECK(!build("{\"url\": \"ftp://h/x\"}", "k", &req, err, sizeof(err)));
	CHECK_STR(err, "url must start with http:// or https:// (got \"ftp://h/x\")");
	http_request_free(&req);

	CHECK(!build("{\"url\": \"http://h/x y\"}", "k", &req, err, sizeof(err)));
	CHECK_STR(err, "url must not contain spaces or control characters");
	http_request_free(&req);

	CHECK(!build("{\"url\": \"http://h/\", \"timeout_ms\": 0}", "k", &req, err, sizeof(err)));
	CHECK_STR(err, "timeout_ms must be an integer between 1 and 300000");
	http_request_free(&req);

	CHECK(!build("{\"url\": \"http://h/\", \"timeout_ms\": 300001}", "k", &req, err, sizeof(err)));
	CHECK_STR(err, "timeout_ms must be an integer between 1 and 300000");
	http_request_free(&req);

	CHECK(!build("{\"url\": \"http://h/\", \"timeout_ms\": 1.5}", "k", &req, err, sizeof(err)));
	CHECK_CONTAINS(err, "timeout_ms must be an integer");
	http_request_free(&req);
}

TEST(test_http_too_many_headers)
{
	HttpRequest req;
	char		err[FDB_ERRLEN];
	char		json[4096];
	size_t		used;
	int			i;

	used = (size_t) snprintf(json, sizeof(json), "{\"url\": \"http://h/\", \"headers\": {");
	for (i = 0; i < HTTP_MAX_HEADERS; i++)
		used += (size_t) snprintf(json + used, sizeof(json) - used, "%s\"X-%d\": \"v\"",
								  i ? ", " : "", i);
	snprintf(json + used, sizeof(json) - used, "}}");
	CHECK(!build(json, "k", &req, err, sizeof(err)));
	CHECK_CONTAINS(err, "too many headers");
	http_request_free(&req);
}

TEST(test_http_parse)
{
	HttpResponse resp;
	cJSON	   *out = NULL;
	char		err[FDB_ERRLEN];
	char		big[1000];
	const cJSON *headers;

	/* 200 with a JSON body */
	make_response(&resp, 200, "application/json", "{\"id\": 7, \"ok\": true}");
	cJSON_AddStringToObject(resp.headers, "X-Request-ID", "abc");
	CHECK_INT(parse(&resp, &out, err, sizeof(err)), TOOL_DONE);
	CHECK(out != NULL);
	CHECK_INT((long) cJSON_GetObjectItemCaseSensitive(out, "status")->valuedouble, 200);
	headers = cJSON_GetObjectItemCaseSensitive(out, "headers");
	CHECK_STR(fdb_json_str(headers, "content-type"), "application/json");
	CHECK_STR(fdb_json_str(headers, "x-request-id"), "abc");
	CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(out, "body"), "ok")));
	CHECK_INT((long) cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(out, "body"), "id")->valuedouble, 7);
	cJSON_Delete(out);
	http_response_free(&resp);

	/* 201 text body */
	make_response(&resp, 201, "text/html", "<p>ok</p>");
	CHECK_INT(parse(&resp, &out, err, sizeof(err)), TOOL_DONE);
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(out, "body")), "<p>ok</p>");
	cJSON_Delete(out);
	http_response_free(&resp);

	/* 404 -> fail */
	make_response(&resp, 404, "text/plain", "no such thing\n");
	out = (cJSON *) 1;
	CHECK_INT(parse(&resp, &out, err, sizeof(err)), TOOL_FAIL);
	CHECK(out == NULL);
	CHECK_STR(err, "HTTP 404 Not Found: no such thing");
	http_response_free(&resp);

	/* 503 -> retry; 429 -> retry */
	make_response(&resp, 503, NULL, "{\"error\":\"busy\"}");
	CHECK_INT(parse(&resp, &out, err, sizeof(err)), TOOL_RETRY);
	CHECK_STR(err, "HTTP 503 Service Unavailable: {\"error\":\"busy\"}");
	http_response_free(&resp);

	make_response(&resp, 429, NULL, NULL);
	CHECK_INT(parse(&resp, &out, err, sizeof(err)), TOOL_RETRY);
	CHECK_STR(err, "HTTP 429 Too Many Requests");
	http_response_free(&resp);

	/* unknown status text, body cut at 200 bytes */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	make_response(&resp, 418, NULL, big);
	CHECK_INT(parse(&resp, &out, err, sizeof(err)), TOOL_FAIL);
	CHECK_INT(strlen(err), strlen("HTTP 418: ") + 200);
	CHECK(strncmp(err, "HTTP 418: xxx", 13) == 0);
	http_response_free(&resp);

	/* the cut never splits a UTF-8 character */
	memset(big, 'x', 199);
	strcpy(big + 199, "\xc3\xa9tail");
	make_response(&resp, 400, NULL, big);
	CHECK_INT(parse(&resp, &out, err, sizeof(err)), TOOL_FAIL);
	CHECK_INT(strlen(err), strlen("HTTP 400 Bad Request: ") + 199);
	http_response_free(&resp);
}

TEST(test_http_sample)
{
	cJSON	   *params = parse_json("{\"method\": \"patch\", \"url\": \"https://h/x\","
									" \"headers\": {\"A\": \"b\"}, \"body\": {\"k\": 1}}");
	cJSON	   *state = cJSON_CreateObject();
	ToolContext ctx;
	cJSON	   *s;
	const cJSON *echo;

	memset(&ctx, 0, sizeof(ctx));
	ctx.params = params;
	ctx.phase_state = state;
	s = http_task()->sample(&ctx);
	CHECK(s != NULL);
	CHECK_INT((long) cJSON_GetObjectItemCaseSensitive(s, "status")->valuedouble, 200);
	CHECK_STR(fdb_json_str(cJSON_GetObjectItemCaseSensitive(s, "headers"), "content-type"),
			  "application/json");
	CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(s, "body"), "sandbox")));
	echo = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s, "body"), "echo");
	CHECK_STR(fdb_json_str(echo, "method"), "PATCH");
	CHECK_STR(fdb_json_str(echo, "url"), "https://h/x");
	CHECK_STR(fdb_json_str(cJSON_GetObjectItemCaseSensitive(echo, "headers"), "A"), "b");
	CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(echo, "body")));
	cJSON_Delete(s);

	/* never NULL, even without params */
	ctx.params = NULL;
	s = http_task()->sample(&ctx);
	CHECK(s != NULL);
	CHECK_STR(fdb_json_str(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(s, "body"), "echo"), "method"), "GET");
	cJSON_Delete(s);
	cJSON_Delete(params);
	cJSON_Delete(state);
}

/* ---------------------------------------------------- helpers for tools */

/*
 * helper_ctx
 *		A context over params (JSON text, or NULL for none), credential
 *		(JSON text or NULL: sandbox), base URL and idempotency key.  The
 *		caller frees ctx->params and ctx->credential (casts: test-owned).
 */
static void
helper_ctx(ToolContext *ctx, const char *params, const char *cred,
		   const char *base, const char *key)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->params = params ? parse_json(params) : NULL;
	ctx->credential = cred ? parse_json(cred) : NULL;
	ctx->base_url = base;
	ctx->idempotency_key = key;
}

/*
 * helper_ctx_free
 *		Free what helper_ctx parsed.
 */
static void
helper_ctx_free(ToolContext *ctx)
{
	cJSON_Delete((cJSON *) ctx->params);
	cJSON_Delete((cJSON *) ctx->credential);
}

TEST(test_tool_params)
{
	ToolContext ctx;
	char		err[FDB_ERRLEN];
	const char *s;
	char	   *text;
	const cJSON *v;

	helper_ctx(&ctx, "{\"s\": \"abc\", \"e\": \"\", \"n\": null, \"i\": 42, \"f\": 1.5,"
			   " \"o\": {}, \"b\": true}", NULL, NULL, NULL);

	/* tool_base_url */
	CHECK_STR(tool_base_url(&ctx, "https://def"), "https://def");
	ctx.base_url = "";
	CHECK_STR(tool_base_url(&ctx, "https://def"), "https://def");
	ctx.base_url = "http://mock:1";
	CHECK_STR(tool_base_url(&ctx, "https://def"), "http://mock:1");

	/* tool_param: JSON null is absent */
	CHECK(tool_param(&ctx, "s") == cJSON_GetObjectItemCaseSensitive(ctx.params, "s"));
	CHECK(tool_param(&ctx, "n") == NULL);
	CHECK(tool_param(&ctx, "missing") == NULL);
	CHECK(tool_param(NULL, "s") == NULL);

	/* tool_param_string: borrowed; absent, null and "" are NULL */
	CHECK(tool_param_string(&ctx, "s", &s, err, sizeof(err)));
	CHECK(s == cJSON_GetObjectItemCaseSensitive(ctx.params, "s")->valuestring);
	CHECK(tool_param_string(&ctx, "e", &s, err, sizeof(err)) && s == NULL);
	CHECK(tool_param_string(&ctx, "n", &s, err, sizeof(err)) && s == NULL);
	CHECK(tool_param_string(&ctx, "missing", &s, err, sizeof(err)) && s == NULL);
	err[0] = '\0';
	CHECK(!tool_param_string(&ctx, "i", &s, err, sizeof(err)));
	CHECK(s == NULL);
	CHECK_STR(err, "param i must be a string");
	CHECK(!tool_param_string(&ctx, "o", &s, err, sizeof(err)));
	CHECK_STR(err, "param o must be a string");

	/* tool_param_text: malloc'd; numbers only when allowed */
	CHECK(tool_param_text(&ctx, "s", false, &text, err, sizeof(err)));
	CHECK_STR(text, "abc");
	CHECK(text != cJSON_GetObjectItemCaseSensitive(ctx.params, "s")->valuestring);
	free(text);
	CHECK(tool_param_text(&ctx, "i", true, &text, err, sizeof(err)));
	CHECK_STR(text, "42");
	free(text);
	CHECK(tool_param_text(&ctx, "f", true, &text, err, sizeof(err)));
	CHECK_STR(text, "1.5");
	free(text);
	CHECK(tool_param_text(&ctx, "e", true, &text, err, sizeof(err)) && text == NULL);
	CHECK(tool_param_text(&ctx, "n", true, &text, err, sizeof(err)) && text == NULL);
	CHECK(!tool_param_text(&ctx, "i", false, &text, err, sizeof(err)) && text == NULL);
	CHECK_STR(err, "param i must be a string");
	CHECK(!tool_param_text(&ctx, "b", true, &text, err, sizeof(err)) && text == NULL);
	CHECK_STR(err, "param b must be a string");

	/* tool_param_number: range and whole numbers */
	CHECK(tool_param_number(&ctx, "f", 0, 2, false, &v, err, sizeof(err)));
	CHECK(v == cJSON_GetObjectItemCaseSensitive(ctx.params, "f"));
	CHECK(tool_param_number(&ctx, "missing", 0, 2, false, &v, err, sizeof(err)) && v == NULL);
	CHECK(tool_param_number(&ctx, "n", 0, 2, true, &v, err, sizeof(err)) && v == NULL);
	CHECK(tool_param_number(&ctx, "i", 1, 1000000, true, &v, err, sizeof(err)) && v != NULL);
	CHECK(tool_param_number(&ctx, "i", 42, 42, true, &v, err, sizeof(err)) && v != NULL);
	CHECK(!tool_param_number(&ctx, "i", 0, 2, false, &v, err, sizeof(err)) && v == NULL);
	CHECK_STR(err, "param i must be a number from 0 to 2");
	CHECK(!tool_param_number(&ctx, "f", 1, 1000000, true, &v, err, sizeof(err)) && v == NULL);
	CHECK_STR(err, "param f must be a whole number from 1 to 1000000");
	CHECK(!tool_param_number(&ctx, "s", 0, 2.5, false, &v, err, sizeof(err)));
	CHECK_STR(err, "param s must be a number from 0 to 2.5");

	/* tool_param_required */
	strcpy(err, "untouched");
	CHECK(tool_param_required("x", true, err, sizeof(err)));
	CHECK_STR(err, "untouched");
	CHECK(!tool_param_required("image_url", false, err, sizeof(err)));
	CHECK_STR(err, "param image_url is required");
	helper_ctx_free(&ctx);

	/* params that are not an object have no members */
	helper_ctx(&ctx, "[\"s\"]", NULL, NULL, NULL);
	CHECK(tool_param(&ctx, "s") == NULL);
	CHECK(tool_param_string(&ctx, "s", &s, err, sizeof(err)) && s == NULL);
	helper_ctx_free(&ctx);
}

TEST(test_tool_credential)
{
	ToolContext ctx;
	char		err[FDB_ERRLEN];
	const char *a = "x";
	const char *b = "x";

	/* sandbox: no credential, NULL values, no error */
	helper_ctx(&ctx, NULL, NULL, NULL, NULL);
	CHECK(tool_credential_fields(&ctx, "a", &a, "b", &b, err, sizeof(err)));
	CHECK(a == NULL && b == NULL);
	a = "x";
	CHECK(tool_credential_fields(&ctx, "a", &a, NULL, NULL, err, sizeof(err)) && a == NULL);
	helper_ctx_free(&ctx);

	helper_ctx(&ctx, NULL, "{\"a\": \"ka\", \"b\": \"kb\", \"e\": \"\", \"n\": 5}", NULL, NULL);
	CHECK(tool_credential_fields(&ctx, "a", &a, "b", &b, err, sizeof(err)));
	CHECK_STR(a, "ka");
	CHECK_STR(b, "kb");
	CHECK(tool_credential_fields(&ctx, "b", &b, NULL, NULL, err, sizeof(err)));
	CHECK_STR(b, "kb");
	CHECK(!tool_credential_fields(&ctx, "e", &a, NULL, NULL, err, sizeof(err)));
	CHECK_STR(err, "credential needs e");
	CHECK(!tool_credential_fields(&ctx, "n", &a, NULL, NULL, err, sizeof(err)));
	CHECK_STR(err, "credential needs n");
	CHECK(!tool_credential_fields(&ctx, "a", &a, "missing", &b, err, sizeof(err)));
	CHECK_STR(err, "credential needs a and missing");
	CHECK(!tool_credential_fields(&ctx, "missing", &a, "b", &b, err, sizeof(err)));
	CHECK_STR(err, "credential needs missing and b");
	helper_ctx_free(&ctx);
}

TEST(test_tool_request_helpers)
{
	ToolContext ctx;
	HttpRequest req;
	FdbBuf		form;
	cJSON	   *body = parse_json("{\"k\": [1, \"a b\"], \"t\": true}");

	/* form bodies */
	fdb_buf_init(&form);
	tool_form_add(&form, "To", "whatsapp:+91");
	tool_form_add(&form, "Body", "a b&c=d");
	CHECK_STR(form.data, "To=whatsapp%3A%2B91&Body=a+b%26c%3Dd");
	fdb_buf_free(&form);

	/* JSON body (consumed) */
	http_request_init(&req, "POST");
	tool_set_json_body(&req, body);
	CHECK_STR(req.body, "{\"k\":[1,\"a b\"],\"t\":true}");
	CHECK_INT(req.body_len, strlen(req.body));

	/* auth and idempotency headers */
	tool_bearer_header(&req, NULL);
	tool_bearer_header(&req, "");
	CHECK_INT(req.nheaders, 0);
	tool_bearer_header(&req, "sk-1");
	CHECK_STR(req.headers[0], "Authorization: Bearer sk-1");
	tool_basic_auth(&req, "Aladdin", "open sesame");
	CHECK_STR(req.headers[1], "Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
	tool_basic_auth(&req, NULL, NULL);
	CHECK_STR(req.headers[2], "Authorization: Basic Og==");

	helper_ctx(&ctx, NULL, NULL, NULL, NULL);
	tool_idempotency_header(&ctx, &req);
	ctx.idempotency_key = "";
	tool_idempotency_header(&ctx, &req);
	CHECK_INT(req.nheaders, 3);
	ctx.idempotency_key = "run1-node2";
	tool_idempotency_header(&ctx, &req);
	CHECK_INT(req.nheaders, 4);
	CHECK_STR(req.headers[3], "Idempotency-Key: run1-node2");
	http_request_free(&req);
}

TEST(test_tool_response_helpers)
{
	HttpResponse resp;
	char		err[FDB_ERRLEN];
	char		big[300];
	cJSON	   *obj = cJSON_CreateObject();

	/* an error never counts as done */
	CHECK_INT(tool_error_outcome(200), TOOL_FAIL);
	CHECK_INT(tool_error_outcome(302), TOOL_FAIL);
	CHECK_INT(tool_error_outcome(404), TOOL_FAIL);
	CHECK_INT(tool_error_outcome(429), TOOL_RETRY);
	CHECK_INT(tool_error_outcome(503), TOOL_RETRY);

	/* error texts */
	make_response(&resp, 404, NULL, "{\"error\": \"gone\"}");
	tool_http_error(err, sizeof(err), "Acme", &resp, "response has no id");
	CHECK_STR(err, "Acme HTTP 404: response has no id");
	tool_http_error(err, sizeof(err), "Acme", &resp, NULL);
	CHECK_STR(err, "Acme HTTP 404: {\"error\": \"gone\"}");
	http_response_free(&resp);
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	make_response(&resp, 500, NULL, big);
	tool_http_error(err, sizeof(err), "Acme", &resp, NULL);
	CHECK_INT(strlen(err), strlen("Acme HTTP 500: ") + 200);
	http_response_free(&resp);
	make_response(&resp, 502, NULL, NULL);
	tool_http_error(err, sizeof(err), "Acme", &resp, NULL);
	CHECK_STR(err, "Acme HTTP 502: ");
	http_response_free(&resp);

	/* substring test */
	CHECK(tool_contains_ci("The media was ALREADY Published.", "already published"));
	CHECK(!tool_contains_ci("already publish", "already published"));
	CHECK(!tool_contains_ci(NULL, "x"));
	CHECK(tool_contains_ci("x", ""));
	CHECK(!tool_contains_ci("", "x"));

	/* string or null */
	tool_add_string_or_null(obj, "a", "v");
	tool_add_string_or_null(obj, "b", NULL);
	CHECK_STR(fdb_json_str(obj, "a"), "v");
	CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(obj, "b")));
	cJSON_Delete(obj);
}

TEST(test_tool_sample_ids)
{
	ToolContext ctx;
	char		a[32];
	char		b[32];
	char		small[6];

	/* 64-bit FNV-1a test vectors; NULL is "", hashing continues */
	CHECK(tool_hash(TOOL_HASH_INIT, "") == UINT64_C(0xcbf29ce484222325));
	CHECK(tool_hash(TOOL_HASH_INIT, NULL) == TOOL_HASH_INIT);
	CHECK(tool_hash(TOOL_HASH_INIT, "a") == UINT64_C(0xaf63dc4c8601ec8c));
	CHECK(tool_hash(TOOL_HASH_INIT, "foobar") == UINT64_C(0x85944171f73967e8));
	CHECK(tool_hash(tool_hash(TOOL_HASH_INIT, "foo"), "bar") ==
		  UINT64_C(0x85944171f73967e8));

	/* the sample hash is salt then idempotency key */
	helper_ctx(&ctx, NULL, NULL, NULL, "bar");
	CHECK(tool_sample_hash(&ctx, "foo") == UINT64_C(0x85944171f73967e8));
	CHECK(tool_sample_hash(&ctx, NULL) == tool_hash(TOOL_HASH_INIT, "bar"));
	ctx.idempotency_key = NULL;
	CHECK(tool_sample_hash(&ctx, "foobar") == UINT64_C(0x85944171f73967e8));

	/* digits of h, least significant first, after the prefix */
	tool_hash_id(12345, "id_", "0123456789", 5, a, sizeof(a));
	CHECK_STR(a, "id_54321");
	tool_hash_id(7, "", "0123456789", 3, a, sizeof(a));
	CHECK_STR(a, "700");
	tool_hash_id(35, "C", "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", 2, a, sizeof(a));
	CHECK_STR(a, "CZ0");
	tool_hash_id(12345, "id_", "0123456789", 5, small, sizeof(small));
	CHECK_STR(small, "id_54");
	tool_hash_id(12345, "abcdefgh", "0123456789", 5, small, sizeof(small));
	CHECK_STR(small, "abcde");

	/* sample ids: same key, same id; another salt or key, another id */
	ctx.idempotency_key = "run1-node2";
	tool_sample_id(&ctx, "media", "17", "0123456789", 15, a, sizeof(a));
	CHECK_INT(strlen(a), 17);
	CHECK(strncmp(a, "17", 2) == 0 && strspn(a, "0123456789") == 17);
	tool_sample_id(&ctx, "media", "17", "0123456789", 15, b, sizeof(b));
	CHECK_STR(a, b);
	tool_hash_id(tool_sample_hash(&ctx, "media"), "17", "0123456789", 15, b, sizeof(b));
	CHECK_STR(a, b);
	tool_sample_id(&ctx, "container", "17", "0123456789", 15, b, sizeof(b));
	CHECK(strcmp(a, b) != 0);
	ctx.idempotency_key = "run1-node3";
	tool_sample_id(&ctx, "media", "17", "0123456789", 15, b, sizeof(b));
	CHECK(strcmp(a, b) != 0);
	helper_ctx_free(&ctx);
}

TEST(test_parse_limits)
{
	double		rates[16];
	int			limits[16];
	char		err[256];
	int			wa = catalog_service_index(catalog_service("whatsapp"));
	int			sl = catalog_service_index(catalog_service("slack"));

	CHECK(wa >= 0 && sl >= 0);
	CHECK(catalog_parse_limits("whatsapp=4, slack = 1", limits, rates, 16, err, sizeof(err)));
	CHECK_INT(limits[wa], 4);
	CHECK_INT(limits[sl], 1);
	CHECK_INT(limits[catalog_service_index(catalog_service("http"))], 0);
	CHECK(rates[wa] == 0 && rates[sl] == 0);
	CHECK(catalog_parse_limits("", limits, rates, 16, err, sizeof(err)));
	CHECK_INT(limits[wa], 0);
	CHECK(catalog_parse_limits(NULL, limits, NULL, 16, err, sizeof(err)));
	CHECK(!catalog_parse_limits("smtp=3", limits, rates, 16, err, sizeof(err)));
	CHECK_STR(err, "unknown service \"smtp\"");
	CHECK(!catalog_parse_limits("slack=0", limits, rates, 16, err, sizeof(err)));
	CHECK_STR(err, "limit for slack must be a number from 1 to 100000, or a rate like 5/s");
	CHECK(!catalog_parse_limits("slack=1.5", limits, rates, 16, err, sizeof(err)));
	CHECK_CONTAINS(err, "limit for slack must be a number");
	CHECK(!catalog_parse_limits("slack", limits, rates, 16, err, sizeof(err)));
	CHECK_CONTAINS(err, "expected service=N");
	CHECK(!catalog_parse_limits("slack=2 whatsapp=1", limits, rates, 16, err, sizeof(err)));
	CHECK_STR(err, "expected \",\" after slack=2");
	/* rates: requests per second, next to or instead of in-flight caps */
	CHECK(catalog_parse_limits("slack=1/s, whatsapp=4, whatsapp = 0.5/s", limits, rates, 16,
							   err, sizeof(err)));
	CHECK(rates[sl] == 1.0);
	CHECK(rates[wa] == 0.5);
	CHECK_INT(limits[wa], 4);
	CHECK_INT(limits[sl], 0);
	CHECK(!catalog_parse_limits("slack=0/s", limits, rates, 16, err, sizeof(err)));
	CHECK_STR(err, "rate for slack must be from 0.001/s to 100000/s");
	CHECK(!catalog_parse_limits("slack=1/m", limits, rates, 16, err, sizeof(err)));
	CHECK_STR(err, "expected \",\" after slack=1");
	CHECK(!catalog_parse_limits("slack=-1/s", limits, rates, 16, err, sizeof(err)));
	CHECK_CONTAINS(err, "limit for slack must be a number");
	CHECK(!catalog_parse_limits("slack=2/s x", limits, rates, 16, err, sizeof(err)));
	CHECK_STR(err, "expected \",\" after slack=2/s");
}

TEST(test_credential_required)
{
	const ToolService *wa = catalog_service("whatsapp");
	const ToolService *llm = catalog_service("llm");
	const ToolService *rzp = catalog_service("razorpay");

	CHECK(catalog_credential_field_required(wa, "account_sid"));
	CHECK(catalog_credential_field_required(wa, "auth_token"));
	CHECK(!catalog_credential_field_required(wa, "from"));
	CHECK(!catalog_credential_field_required(llm, "api_key"));
	CHECK(catalog_credential_field_required(rzp, "key_secret"));
	CHECK(!catalog_credential_field_required(rzp, "password"));	/* not declared */
	CHECK(!catalog_credential_field_required(catalog_service("instagram"), "ig_user_id"));
	CHECK(catalog_credential_field_required(catalog_service("instagram"), "access_token"));
}

int
main(void)
{
	RUN(test_credential_required);
	RUN(test_parse_limits);
	RUN(test_registry);
	RUN(test_param_types);
	RUN(test_catalog_json);
	RUN(test_classify_status);
	RUN(test_request_helpers);
	RUN(test_body_json);
	RUN(test_body_binary);
	RUN(test_http_build_json_body);
	RUN(test_http_build_text_body);
	RUN(test_http_idempotency_key);
	RUN(test_http_build_errors);
	RUN(test_http_too_many_headers);
	RUN(test_http_parse);
	RUN(test_http_sample);
	RUN(test_tool_params);
	RUN(test_tool_credential);
	RUN(test_tool_request_helpers);
	RUN(test_tool_response_helpers);
	RUN(test_tool_sample_ids);
	return UNIT_SUMMARY();
}
