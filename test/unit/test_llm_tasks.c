/*
 * test_llm_tasks.c: unit tests of the llm tasks behind flow_draft and
 * intent_parse (src/tools/llm_draft.c, llm_intent.c, llm_transcribe.c):
 * the schema and system prompt generated from the catalog, the requests
 * built (repair round, multipart upload) and the parsing of valid,
 * invalid, non-JSON, refused and rate-limited answers.
 */
#include "unit.h"
#include "catalog.h"
#include "tools/llm.h"

#include <strings.h>

/* A context with owned JSON pieces. */
typedef struct TCtx
{
	ToolContext ctx;
	cJSON	   *params;
	cJSON	   *cred;
} TCtx;

/*
 * tctx_init
 *		A context from single-quoted JSON params and credential (may be NULL).
 */
static void
tctx_init(TCtx *t, const char *params, const char *cred)
{
	memset(t, 0, sizeof(*t));
	t->params = unit_json_q(params, 1);
	t->cred = cred ? unit_json_q(cred, 1) : NULL;
	t->ctx.params = t->params;
	t->ctx.credential = t->cred;
	t->ctx.base_url = "http://127.0.0.1:9/v1";
	t->ctx.idempotency_key = "run-1/node-1/0";
	t->ctx.phase_state = cJSON_CreateObject();
}

/*
 * tctx_free
 *		Free what tctx_init made.
 */
static void
tctx_free(TCtx *t)
{
	cJSON_Delete(t->params);
	cJSON_Delete(t->cred);
	cJSON_Delete(t->ctx.phase_state);
}

/*
 * task_of
 *		The registered llm task (aborts when missing).
 */
static const ToolTask *
task_of(const char *name)
{
	const ToolTask *t = catalog_task(catalog_service("llm"), name);

	if (t == NULL)
	{
		fprintf(stderr, "task llm.%s not registered\n", name);
		abort();
	}
	return t;
}

/*
 * header
 *		Value of header name in req, or NULL.
 */
static const char *
header(const HttpRequest *req, const char *name)
{
	size_t		n = strlen(name);

	for (int i = 0; i < req->nheaders; i++)
	{
		if (strncasecmp(req->headers[i], name, n) == 0 && req->headers[i][n] == ':')
			return req->headers[i] + n + 2;
	}
	return NULL;
}

/*
 * answer
 *		Run task->parse on a 200 chat completion whose message content is
 *		content (JSON-escaped here).
 */
static ToolOutcome
answer(const ToolTask *task, TCtx *t, long status, const char *body_or_null,
	   const char *content, cJSON **out, char *err)
{
	HttpResponse resp;
	ToolOutcome o;
	char	   *body;

	if (body_or_null)
		body = fdb_strdup(body_or_null);
	else
	{
		cJSON	   *b = cJSON_Parse("{\"model\": \"gpt-test\", \"choices\": [{\"index\": 0,"
									" \"message\": {\"role\": \"assistant\"}, \"finish_reason\": \"stop\"}]}");
		cJSON	   *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(b, "choices"), 0);
		cJSON	   *m = cJSON_GetObjectItemCaseSensitive(first, "message");

		cJSON_AddStringToObject(m, "content", content);
		body = fdb_json_print(b);
		cJSON_Delete(b);
	}
	memset(&resp, 0, sizeof(resp));
	resp.status = status;
	resp.headers = cJSON_CreateObject();
	cJSON_AddStringToObject(resp.headers, "content-type", "application/json");
	resp.body = body;
	resp.body_len = strlen(body);
	resp.retry_after = -1;
	*out = NULL;
	err[0] = '\0';
	o = task->parse(&t->ctx, &resp, out, err, FDB_ERRLEN);
	http_response_free(&resp);
	return o;
}

/*
 * strict_ok
 *		Does every object schema under s list all its properties as
 *		required and forbid additional ones (OpenAI strict mode)?
 */
static bool
strict_ok(const cJSON *s)
{
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
	const cJSON *c;

	if (cJSON_IsObject(props))
	{
		const cJSON *req = cJSON_GetObjectItemCaseSensitive(s, "required");
		const cJSON *p;

		if (!cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(s, "additionalProperties")))
			return false;
		if (cJSON_GetArraySize(req) != cJSON_GetArraySize(props))
			return false;
		cJSON_ArrayForEach(p, props)
		{
			bool		found = false;
			const cJSON *r;

			cJSON_ArrayForEach(r, req)
				found |= cJSON_IsString(r) && strcmp(r->valuestring, p->string) == 0;
			if (!found)
				return false;
		}
	}
	cJSON_ArrayForEach(c, s)
	{
		if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && !strict_ok(c))
			return false;
	}
	return true;
}

/*
 * member
 *		obj[k1][k2][k3][k4], stopping at the first NULL key (NULL when a
 *		member is absent).
 */
static const cJSON *
member(const cJSON *obj, const char *k1, const char *k2, const char *k3,
	   const char *k4)
{
	const char *keys[4] = {k1, k2, k3, k4};

	for (int i = 0; i < 4 && keys[i] != NULL && obj != NULL; i++)
		obj = cJSON_GetObjectItemCaseSensitive(obj, keys[i]);
	return obj;
}

/*
 * find_variant
 *		The node variant of the schema for service.task, or NULL.
 */
static const cJSON *
find_variant(const cJSON *wrap, const char *service, const char *task)
{
	const cJSON *anyof = member(member(wrap, "schema", "properties", "nodes", "items"),
								"anyOf", NULL, NULL, NULL);
	const cJSON *v;

	cJSON_ArrayForEach(v, anyof)
	{
		const cJSON *s = cJSON_GetArrayItem(member(v, "properties", "service", "enum", NULL), 0);
		const cJSON *t = cJSON_GetArrayItem(member(v, "properties", "task", "enum", NULL), 0);

		if (cJSON_IsString(s) && cJSON_IsString(t) &&
			strcmp(s->valuestring, service) == 0 && strcmp(t->valuestring, task) == 0)
			return v;
	}
	return NULL;
}

TEST(schema_from_catalog)
{
	cJSON	   *catalog = catalog_to_json();
	cJSON	   *wrap = llm_draft_schema(catalog);
	const cJSON *v = find_variant(wrap, "whatsapp", "send_message");
	const cJSON *pprops = member(v, "properties", "params", "properties", NULL);
	char	   *text;

	CHECK_STR(fdb_json_str(wrap, "name"), "flowdb_blueprint");
	CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(wrap, "strict")));
	CHECK(strict_ok(wrap));
	CHECK(v != NULL);
	CHECK(find_variant(wrap, "slack", "post_message") != NULL);
	CHECK(find_variant(wrap, "acme", "ping") == NULL);
	/* required param: string only; optional: nullable; array: JSON text */
	text = fdb_json_print(cJSON_GetObjectItemCaseSensitive(pprops, "to"));
	CHECK_CONTAINS(text, "\"type\":[\"string\"]");
	free(text);
	text = fdb_json_print(cJSON_GetObjectItemCaseSensitive(pprops, "body"));
	CHECK_CONTAINS(text, "\"type\":[\"string\",\"null\"]");
	free(text);
	text = fdb_json_print(member(find_variant(wrap, "slack", "post_message"),
								 "properties", "params", "properties", "blocks"));
	CHECK_CONTAINS(text, "JSON text of the array value");
	free(text);
	/* trigger types, condition operators and other node types come along */
	text = fdb_json_print(wrap);
	CHECK_CONTAINS(text, "\"enum\":[\"manual\",\"event\",\"table\",\"webhook\",\"schedule\"]");
	CHECK_CONTAINS(text, "\"starts_with\"");
	CHECK_CONTAINS(text, "\"enum\":[\"wait_event\"]");
	CHECK_CONTAINS(text, "\"enum\":[\"router\"]");
	free(text);
	cJSON_Delete(wrap);
	cJSON_Delete(catalog);
}

TEST(schema_follows_new_service)
{
	cJSON	   *catalog = catalog_to_json();
	cJSON	   *acme = unit_json_q("{'name': 'acme', 'description': 'Acme CRM',"
								   " 'events': ['acme.lead.created'], 'tasks': [{'name': 'ping',"
								   " 'description': 'Ping a lead', 'output': '{ok}', 'params': ["
								   "{'name': 'target', 'type': 'string', 'required': true, 'description': 'Lead id'},"
								   "{'name': 'count', 'type': 'integer', 'required': false, 'description': 'Times'}]}]}", 1);
	cJSON	   *wrap;
	char	   *prompt;
	const cJSON *v;
	char	   *text;

	cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(catalog, "services"), acme);
	wrap = llm_draft_schema(catalog);
	prompt = llm_draft_system_prompt(catalog);
	v = find_variant(wrap, "acme", "ping");
	CHECK(v != NULL);
	CHECK(strict_ok(wrap));
	text = fdb_json_print(v);
	CHECK_CONTAINS(text, "\"target\":{\"type\":[\"string\"],\"description\":\"Lead id\"}");
	CHECK_CONTAINS(text, "\"count\":{\"type\":[\"integer\",\"string\",\"null\"]");
	free(text);
	CHECK_CONTAINS(prompt, "task acme.ping: Ping a lead");
	CHECK_CONTAINS(prompt, "- target (string, required): Lead id");
	CHECK_CONTAINS(prompt, "events: acme.lead.created");
	free(prompt);
	cJSON_Delete(wrap);
	cJSON_Delete(catalog);

	/* the real prompt has no acme, but every registered service */
	catalog = catalog_to_json();
	prompt = llm_draft_system_prompt(catalog);
	CHECK(strstr(prompt, "acme") == NULL);
	CHECK_CONTAINS(prompt, "task razorpay.");
	CHECK_CONTAINS(prompt, "events: razorpay.payment.captured");
	free(prompt);
	cJSON_Delete(catalog);
}

TEST(draft_build)
{
	const ToolTask *task = task_of("draft_workflow");
	TCtx		t;
	HttpRequest req;
	char		err[FDB_ERRLEN] = "";
	cJSON	   *body;
	const cJSON *msgs;

	tctx_init(&t, "{'prompt': 'When a payment is captured, thank the customer on WhatsApp'}",
			  "{'api_key': 'sk-secret'}");
	CHECK(task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.method, "POST");
	CHECK_STR(req.url, "http://127.0.0.1:9/v1/chat/completions");
	CHECK_STR(header(&req, "Authorization"), "Bearer sk-secret");
	CHECK_STR(header(&req, "Content-Type"), "application/json");
	body = cJSON_Parse(req.body);
	CHECK_STR(fdb_json_str(body, "model"), LLM_DEFAULT_MODEL);
	msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");
	CHECK_INT(cJSON_GetArraySize(msgs), 2);
	CHECK_STR(fdb_json_str(cJSON_GetArrayItem(msgs, 0), "role"), "system");
	CHECK_CONTAINS(fdb_json_str(cJSON_GetArrayItem(msgs, 0), "content"), "task whatsapp.send_message");
	CHECK_CONTAINS(fdb_json_str(cJSON_GetArrayItem(msgs, 1), "content"), "thank the customer");
	CHECK_STR(fdb_json_str(cJSON_GetObjectItemCaseSensitive(body, "response_format"), "type"),
			  "json_schema");
	CHECK(cJSON_IsTrue(member(body, "response_format", "json_schema", "strict", NULL)));
	cJSON_Delete(body);
	http_request_free(&req);
	tctx_free(&t);

	/* repair round: previous answer as the assistant, problems as the user */
	tctx_init(&t, "{'prompt': 'p', 'model': 'gpt-x', 'repair_of': {'name': 'n'},"
			  " 'problems': ['$.nodes[0].service: unknown service \\\"gmail\\\"']}", NULL);
	CHECK(task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK(header(&req, "Authorization") == NULL);
	body = cJSON_Parse(req.body);
	CHECK_STR(fdb_json_str(body, "model"), "gpt-x");
	msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");
	CHECK_INT(cJSON_GetArraySize(msgs), 4);
	CHECK_STR(fdb_json_str(cJSON_GetArrayItem(msgs, 2), "role"), "assistant");
	CHECK_STR(fdb_json_str(cJSON_GetArrayItem(msgs, 2), "content"), "{\"name\":\"n\"}");
	CHECK_CONTAINS(fdb_json_str(cJSON_GetArrayItem(msgs, 3), "content"),
				   "- $.nodes[0].service: unknown service \"gmail\"");
	cJSON_Delete(body);
	http_request_free(&req);
	tctx_free(&t);

	/* bad params */
	tctx_init(&t, "{'repair_of': {}}", NULL);
	CHECK(!task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(err, "param prompt is required");
	http_request_free(&req);
	tctx_free(&t);
	tctx_init(&t, "{'prompt': 'p', 'problems': 'x'}", NULL);
	CHECK(!task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(err, "param problems must be an array");
	http_request_free(&req);
	tctx_free(&t);
}

#define GOOD_ANSWER \
	"{'name': 'Thank payers', 'trigger': {'type': 'event', 'event': 'razorpay.payment.captured'," \
	" 'cron': null, 'table': null}, 'nodes': [{'id': 'thank', 'type': 'action', 'service': 'whatsapp'," \
	" 'task': 'send_message', 'params': {'to': '{{trigger_data.contact}}', 'body': 'Thanks!'," \
	" 'media_url': null, 'from': null}}, {'id': 'team', 'type': 'action', 'service': 'slack'," \
	" 'task': 'post_message', 'params': {'channel': '#sales', 'text': 'Paid', 'blocks': '[]'," \
	" 'thread_ts': null}}], 'edges': [{'from': 'thank', 'to': 'team', 'condition': null, 'else': null}]}"

/*
 * q2json
 *		Single-quoted test JSON text to real JSON text (malloc'd).
 */
static char *
q2json(const char *q)
{
	char	   *s = fdb_strdup(q);

	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	return s;
}

TEST(draft_parse)
{
	const ToolTask *task = task_of("draft_workflow");
	TCtx		t;
	cJSON	   *out;
	char		err[FDB_ERRLEN];
	char	   *good = q2json(GOOD_ANSWER);
	const cJSON *bp;
	char	   *text;

	tctx_init(&t, "{'prompt': 'p'}", NULL);
	CHECK_INT(answer(task, &t, 200, NULL, good, &out, err), TOOL_DONE);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(out, "valid")));
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(out, "problems")), 0);
	CHECK_STR(fdb_json_str(out, "model"), "gpt-test");
	CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(out, "repaired")));
	bp = cJSON_GetObjectItemCaseSensitive(out, "blueprint");
	text = fdb_json_print(bp);
	/* nulls dropped, JSON text decoded, version added */
	CHECK_CONTAINS(text, "\"trigger\":{\"type\":\"event\",\"event\":\"razorpay.payment.captured\"}");
	CHECK_CONTAINS(text, "\"params\":{\"to\":\"{{trigger_data.contact}}\",\"body\":\"Thanks!\"}");
	CHECK_CONTAINS(text, "\"blocks\":[]");
	CHECK_CONTAINS(text, "\"edges\":[{\"from\":\"thank\",\"to\":\"team\"}]");
	CHECK_CONTAINS(text, "\"version\":1");
	free(text);
	cJSON_Delete(out);

	/* a fenced answer from a lax server works too */
	text = fdb_asprintf("```json\n%s\n```", good);
	CHECK_INT(answer(task, &t, 200, NULL, text, &out, err), TOOL_DONE);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(out, "valid")));
	free(text);
	cJSON_Delete(out);
	free(good);

	/* invalid: an unknown service, an edge to nowhere */
	good = q2json("{'name': 'x', 'trigger': {'type': 'manual', 'event': null, 'cron': null, 'table': null},"
				  " 'nodes': [{'id': 'a', 'type': 'action', 'service': 'gmail', 'task': 'send', 'params': {}}],"
				  " 'edges': [{'from': 'a', 'to': 'zz', 'condition': null, 'else': null}]}");
	CHECK_INT(answer(task, &t, 200, NULL, good, &out, err), TOOL_DONE);
	CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(out, "valid")));
	text = fdb_json_print(cJSON_GetObjectItemCaseSensitive(out, "problems"));
	CHECK_CONTAINS(text, "$.nodes[0].service: ");
	CHECK_CONTAINS(text, "$.edges[0].to: ");
	free(text);
	CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(out, "blueprint")));
	cJSON_Delete(out);
	free(good);

	/* not JSON: a completed step with a problem, so the repair can run */
	CHECK_INT(answer(task, &t, 200, NULL, "Sure! Here is your workflow.", &out, err), TOOL_DONE);
	CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(out, "valid")));
	CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(out, "blueprint")));
	CHECK_STR(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(out, "problems"), 0)->valuestring,
			  "$: the answer is not a JSON object");
	cJSON_Delete(out);

	/* refusal and errors fail or retry the step */
	CHECK_INT(answer(task, &t, 200,
					 "{\"choices\": [{\"message\": {\"role\": \"assistant\", \"content\": null,"
					 " \"refusal\": \"I cannot help with that.\"}}]}", NULL, &out, err), TOOL_FAIL);
	CHECK_CONTAINS(err, "LLM refused: I cannot help");
	CHECK(out == NULL);
	CHECK_INT(answer(task, &t, 429, "{\"error\": {\"message\": \"Rate limit\", \"code\": \"rate_limit_exceeded\"}}",
					 NULL, &out, err), TOOL_RETRY);
	CHECK_INT(answer(task, &t, 401, "{\"error\": {\"message\": \"bad key\"}}", NULL, &out, err), TOOL_FAIL);
	tctx_free(&t);

	/* sandbox: never valid */
	tctx_init(&t, "{'prompt': 'p'}", NULL);
	out = task->sample(&t.ctx);
	CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(out, "valid")));
	CHECK_CONTAINS(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(out, "problems"), 0)->valuestring,
				   "sandbox");
	cJSON_Delete(out);
	tctx_free(&t);
}

TEST(intent)
{
	const ToolTask *task = task_of("parse_intent");
	TCtx		t;
	HttpRequest req;
	char		err[FDB_ERRLEN] = "";
	cJSON	   *body;
	cJSON	   *out;
	char	   *text;

	tctx_init(&t, "{'text': 'Ravi ko 500 ka invoice bhejo'}", "{'api_key': 'sk-1'}");
	CHECK(task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.url, "http://127.0.0.1:9/v1/chat/completions");
	body = cJSON_Parse(req.body);
	text = fdb_json_print(cJSON_GetObjectItemCaseSensitive(body, "response_format"));
	CHECK_CONTAINS(text, "\"name\":\"flowdb_intent\"");
	CHECK_CONTAINS(text, "\"CREATE_INVOICE\"");
	CHECK_CONTAINS(text, "\"UNKNOWN\"");
	free(text);
	CHECK(strict_ok(cJSON_GetObjectItemCaseSensitive(body, "response_format")));
	cJSON_Delete(body);
	http_request_free(&req);

	CHECK_INT(answer(task, &t, 200, NULL,
					 "{\"intent\": \"CREATE_INVOICE\", \"entities\": {\"name\": \"Ravi\", \"amount\": 500,"
					 " \"phone\": null, \"evil\": \"x\", \"currency\": 5}, \"confidence\": 1.7}", &out, err),
			  TOOL_DONE);
	text = fdb_json_print(out);
	CHECK_STR(text, "{\"intent\":\"CREATE_INVOICE\",\"entities\":{\"name\":\"Ravi\",\"amount\":500},"
			  "\"confidence\":1,\"model\":\"gpt-test\"}");
	free(text);
	cJSON_Delete(out);

	/* an intent the model made up: UNKNOWN, confidence 0 */
	CHECK_INT(answer(task, &t, 200, NULL,
					 "{\"intent\": \"TRANSFER_ALL_MONEY\", \"entities\": {}, \"confidence\": 0.99}", &out, err),
			  TOOL_DONE);
	CHECK_STR(fdb_json_str(out, "intent"), "UNKNOWN");
	CHECK(cJSON_GetObjectItemCaseSensitive(out, "confidence")->valuedouble == 0);
	cJSON_Delete(out);
	CHECK_INT(answer(task, &t, 200, NULL, "no idea", &out, err), TOOL_DONE);
	CHECK_STR(fdb_json_str(out, "intent"), "UNKNOWN");
	cJSON_Delete(out);
	CHECK_INT(answer(task, &t, 503, "{\"detail\": \"busy\"}", NULL, &out, err), TOOL_RETRY);
	tctx_free(&t);

	tctx_init(&t, "{'context': 'x'}", NULL);
	CHECK(!task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(err, "param text is required");
	http_request_free(&req);
	tctx_free(&t);
}

TEST(base64)
{
	size_t		n = 0;
	unsigned char *b = llm_base64_decode("UklG\nRgAB/w==", &n);

	CHECK(b != NULL);
	CHECK_INT(n, 7);
	CHECK(b && memcmp(b, "RIFF\0\1\377", 7) == 0);
	free(b);
	b = llm_base64_decode("UklGRg", &n);	/* no padding */
	CHECK(b && n == 4 && memcmp(b, "RIFF", 4) == 0);
	free(b);
	CHECK(llm_base64_decode("UklG*Rg==", &n) == NULL);
	CHECK(llm_base64_decode("UklGR", &n) == NULL);
	CHECK(llm_base64_decode("Ug==Ug", &n) == NULL);
}

/*
 * memfind
 *		Is needle (n bytes) inside hay (len bytes)?
 */
static bool
memfind(const char *hay, size_t len, const char *needle, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return true;
	return false;
}

TEST(transcribe)
{
	const ToolTask *task = task_of("transcribe");
	TCtx		t;
	HttpRequest req;
	char		err[FDB_ERRLEN] = "";
	const char *ct;
	char		part[256];
	cJSON	   *out;

	/* "RIFF\0\1\377" */
	tctx_init(&t, "{'audio': 'UklGRgAB/w==', 'model': 'whisper-large', 'language': 'hi'}",
			  "{'api_key': 'sk-9'}");
	CHECK(task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.url, "http://127.0.0.1:9/v1/audio/transcriptions");
	CHECK_STR(header(&req, "Authorization"), "Bearer sk-9");
	ct = header(&req, "Content-Type");
	CHECK(ct && strncmp(ct, "multipart/form-data; boundary=flowdb-", 37) == 0);
	snprintf(part, sizeof(part), "--%s\r\nContent-Disposition: form-data; name=\"file\";"
			 " filename=\"audio.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF",
			 ct ? ct + 30 : "");
	CHECK(memfind(req.body, req.body_len, part, strlen(part)));
	CHECK(memfind(req.body, req.body_len, "RIFF\0\1\377\r\n", 9));
	CHECK(memfind(req.body, req.body_len, "name=\"model\"\r\n\r\nwhisper-large\r\n", 31));
	CHECK(memfind(req.body, req.body_len, "name=\"language\"\r\n\r\nhi\r\n", 23));
	snprintf(part, sizeof(part), "\r\n--%s--\r\n", ct ? ct + 30 : "");
	CHECK(req.body_len > strlen(part) &&
		  memcmp(req.body + req.body_len - strlen(part), part, strlen(part)) == 0);
	http_request_free(&req);

	/* the same step builds the same bytes (resent after a crash) */
	{
		HttpRequest again;
		HttpRequest first;

		CHECK(task->build(&t.ctx, &first, err, sizeof(err)));
		CHECK(task->build(&t.ctx, &again, err, sizeof(err)));
		CHECK(first.body_len == again.body_len &&
			  memcmp(first.body, again.body, first.body_len) == 0);
		http_request_free(&first);
		http_request_free(&again);
	}

	CHECK_INT(answer(task, &t, 200, "{\"text\": \"Ravi ko 500 ka invoice bhejo\", \"language\": \"hindi\"}",
					 NULL, &out, err), TOOL_DONE);
	CHECK_STR(fdb_json_str(out, "text"), "Ravi ko 500 ka invoice bhejo");
	CHECK_STR(fdb_json_str(out, "model"), "whisper-large");
	CHECK_STR(fdb_json_str(out, "language"), "hindi");
	cJSON_Delete(out);
	CHECK_INT(answer(task, &t, 200, "{\"segments\": []}", NULL, &out, err), TOOL_FAIL);
	CHECK_CONTAINS(err, "response has no text");
	CHECK_INT(answer(task, &t, 429, "{\"error\": {\"message\": \"slow down\"}}", NULL, &out, err),
			  TOOL_RETRY);
	tctx_free(&t);

	tctx_init(&t, "{'audio': 'not base64!'}", NULL);
	CHECK(!task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(err, "param audio must be non-empty base64");
	http_request_free(&req);
	tctx_free(&t);
	tctx_init(&t, "{'audio': 'UklGRg==', 'filename': 'a\\\"b.wav'}", NULL);
	CHECK(!task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_CONTAINS(err, "must not contain quotes");
	http_request_free(&req);
	tctx_free(&t);

	tctx_init(&t, "{'audio': 'UklGRg=='}", NULL);
	out = task->sample(&t.ctx);
	CHECK_STR(fdb_json_str(out, "text"), "");
	CHECK_STR(fdb_json_str(out, "model"), LLM_DEFAULT_TRANSCRIPTION_MODEL);
	cJSON_Delete(out);
	tctx_free(&t);
}

int
main(void)
{
	RUN(schema_from_catalog);
	RUN(schema_follows_new_service);
	RUN(draft_build);
	RUN(draft_parse);
	RUN(intent);
	RUN(base64);
	RUN(transcribe);
	return UNIT_SUMMARY();
}
