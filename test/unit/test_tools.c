/*
 * test_tools.c: unit tests of the provider tools (src/tools/whatsapp.c,
 * razorpay.c, instagram.c, slack.c, llm.c): exact requests built in live
 * and sandbox mode, parsing of documented success and error bodies, and
 * the registry entries.
 */
#include "unit.h"
#include "catalog.h"

#include <math.h>
#include <strings.h>

#define TW_SID "AC0123456789abcdef0123456789abcdef"
#define TW_BASIC "QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjp0d19zZWNyZXRfdG9rZW4="
#define RZP_BASIC "cnpwX3Rlc3RfMURQNW1tT2xGNUc1YWc6cnpwX3NlY3JldF94eXo="

/* A context with owned JSON pieces. */
typedef struct TCtx
{
	ToolContext ctx;
	cJSON	   *params;
	cJSON	   *cred;
	cJSON	   *settings;
} TCtx;

/*
 * tctx_init
 *		Build a context from JSON texts (cred/settings may be NULL).
 */
static void
tctx_init(TCtx *t, const char *params, const char *cred, const char *base,
		  const char *key)
{
	memset(t, 0, sizeof(*t));
	t->params = cJSON_Parse(params ? params : "{}");
	if (t->params == NULL)
	{
		fprintf(stderr, "bad test params JSON: %s\n", params);
		abort();
	}
	t->cred = cred ? cJSON_Parse(cred) : NULL;
	t->ctx.params = t->params;
	t->ctx.credential = t->cred;
	t->ctx.base_url = base;
	t->ctx.idempotency_key = key;
	t->ctx.phase = 0;
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
	cJSON_Delete(t->settings);
	cJSON_Delete(t->ctx.phase_state);
}

/*
 * task_of
 *		Registered task service.task (aborts when missing).
 */
static const ToolTask *
task_of(const char *service, const char *task)
{
	const ToolTask *t = catalog_task(catalog_service(service), task);

	if (t == NULL)
	{
		fprintf(stderr, "task %s.%s not registered\n", service, task);
		abort();
	}
	return t;
}

/*
 * header
 *		Value of header name in req (case-insensitive name), or NULL.
 */
static const char *
header(const HttpRequest *req, const char *name)
{
	size_t		n = strlen(name);
	int			i;

	for (i = 0; i < req->nheaders; i++)
	{
		if (strncasecmp(req->headers[i], name, n) == 0 && req->headers[i][n] == ':')
			return req->headers[i] + n + 2;
	}
	return NULL;
}

/*
 * parse_body
 *		Run task->parse on a response with this status and JSON body.
 */
static ToolOutcome
parse_body(const ToolTask *task, TCtx *t, long status, const char *body,
		   cJSON **out, char *err)
{
	HttpResponse resp;
	ToolOutcome o;

	memset(&resp, 0, sizeof(resp));
	resp.status = status;
	resp.headers = cJSON_CreateObject();
	cJSON_AddStringToObject(resp.headers, "content-type", "application/json");
	resp.body = fdb_strdup(body);
	resp.body_len = strlen(body);
	resp.retry_after = -1;
	*out = NULL;
	err[0] = '\0';
	o = task->parse(&t->ctx, &resp, out, err, FDB_ERRLEN);
	http_response_free(&resp);
	return o;
}

/*
 * out_str / out_num
 *		Members of an output object for checks.
 */
static const char *
out_str(const cJSON *o, const char *key)
{
	const char *s = fdb_json_str(o, key);

	return s ? s : "(missing)";
}

static double
out_num(const cJSON *o, const char *key)
{
	double		d = -12345;

	fdb_json_num(o, key, &d);
	return d;
}

/* ---------------------------------------------------------------- whatsapp */

TEST(whatsapp_build_live)
{
	TCtx		t;
	HttpRequest req;
	char		err[FDB_ERRLEN] = "";

	tctx_init(&t, "{\"to\": \"+91 98765 43210\", \"body\": \"Hello there!\"}",
			  "{\"account_sid\": \"" TW_SID "\", \"auth_token\": \"tw_secret_token\","
			  " \"from\": \"+1 415-555-0100\"}",
			  "https://api.twilio.com", "run42-node7");
	CHECK(task_of("whatsapp", "send_message")->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.method, "POST");
	CHECK_STR(req.url, "https://api.twilio.com/2010-04-01/Accounts/" TW_SID "/Messages.json");
	CHECK_STR(req.body,
			  "To=whatsapp%3A%2B919876543210&From=whatsapp%3A%2B14155550100"
			  "&Body=Hello+there%21");
	CHECK_INT(req.body_len, strlen(req.body));
	CHECK_STR(header(&req, "Authorization"), "Basic " TW_BASIC);
	CHECK_STR(header(&req, "Content-Type"), "application/x-www-form-urlencoded");
	CHECK_STR(header(&req, "I-Twilio-Idempotency-Token"), "run42-node7");
	CHECK(strstr(req.url, "tw_secret_token") == NULL);
	CHECK(strstr(req.body, "tw_secret_token") == NULL);
	http_request_free(&req);
	tctx_free(&t);
}

TEST(whatsapp_build_sandbox_media)
{
	TCtx		t;
	HttpRequest req;
	char		err[FDB_ERRLEN] = "";

	tctx_init(&t, "{\"to\": \"whatsapp:0091 98765-43210\","
			  " \"media_url\": \"https://example.com/bill.pdf?id=7\"}",
			  NULL, "https://api.twilio.com", "k1");
	CHECK(task_of("whatsapp", "send_message")->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.url, "https://api.twilio.com/2010-04-01/Accounts/ACXXXXXXXX/Messages.json");
	CHECK_STR(req.body,
			  "To=whatsapp%3A%2B919876543210&From=whatsapp%3A%2B14155238886"
			  "&MediaUrl=https%3A%2F%2Fexample.com%2Fbill.pdf%3Fid%3D7");
	CHECK(header(&req, "Authorization") == NULL);
	http_request_free(&req);
	tctx_free(&t);

	/* from param overrides the credential; body and media together */
	tctx_init(&t, "{\"to\": \"+447911123456\", \"body\": \"Hi\", \"from\": \"whatsapp:+919000000001\","
			  " \"media_url\": \"https://x.io/a.jpg\"}",
			  "{\"account_sid\": \"" TW_SID "\", \"auth_token\": \"t\", \"from\": \"+14155550100\"}",
			  "http://127.0.0.1:9999", "k1");
	CHECK(task_of("whatsapp", "send_message")->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.url, "http://127.0.0.1:9999/2010-04-01/Accounts/" TW_SID "/Messages.json");
	CHECK_STR(req.body, "To=whatsapp%3A%2B447911123456&From=whatsapp%3A%2B919000000001"
			  "&Body=Hi&MediaUrl=https%3A%2F%2Fx.io%2Fa.jpg");
	http_request_free(&req);
	tctx_free(&t);
}

/*
 * wa_build_error
 *		Build send_message and return whether it failed; err receives why.
 */
static bool
wa_build_error(const char *params, const char *cred, char *err)
{
	TCtx		t;
	HttpRequest req;
	bool		ok;

	tctx_init(&t, params, cred, "https://api.twilio.com", "k");
	err[0] = '\0';
	ok = task_of("whatsapp", "send_message")->build(&t.ctx, &req, err, FDB_ERRLEN);
	http_request_free(&req);
	tctx_free(&t);
	return !ok;
}

TEST(whatsapp_build_errors)
{
	char		err[FDB_ERRLEN];

	CHECK(wa_build_error("{\"body\": \"x\"}", NULL, err));
	CHECK_CONTAINS(err, "param to is required");
	CHECK(wa_build_error("{\"to\": \"+919876543210\"}", NULL, err));
	CHECK_CONTAINS(err, "body is required unless media_url");
	CHECK(wa_build_error("{\"to\": \"98765 43210\", \"body\": \"x\"}", NULL, err));
	CHECK_CONTAINS(err, "international format");
	CHECK(wa_build_error("{\"to\": 919876543210, \"body\": \"x\"}", NULL, err));
	CHECK_CONTAINS(err, "international format");
	CHECK(wa_build_error("{\"to\": \"+91 abc\", \"body\": \"x\"}", NULL, err));
	CHECK_CONTAINS(err, "is not a phone number");
	CHECK(wa_build_error("{\"to\": \"+1234567890123456\", \"body\": \"x\"}", NULL, err));
	CHECK(wa_build_error("{\"to\": \"+919876543210\", \"body\": [1]}", NULL, err));
	CHECK_CONTAINS(err, "param body must be a string");
	CHECK(wa_build_error("{\"to\": \"+919876543210\", \"body\": \"x\"}",
						 "{\"account_sid\": \"" TW_SID "\"}", err));
	CHECK_CONTAINS(err, "auth_token");
	CHECK(wa_build_error("{\"to\": \"+919876543210\", \"body\": \"x\"}",
						 "{\"account_sid\": \"AC1/../x\", \"auth_token\": \"t\", \"from\": \"+14155550100\"}",
						 err));
	CHECK_CONTAINS(err, "account_sid");
	CHECK(wa_build_error("{\"to\": \"+919876543210\", \"body\": \"x\"}",
						 "{\"account_sid\": \"" TW_SID "\", \"auth_token\": \"t\"}", err));
	CHECK_CONTAINS(err, "no sender");
}

TEST(whatsapp_numeric_to)
{
	TCtx		t;
	HttpRequest req;
	char		err[FDB_ERRLEN] = "";

	tctx_init(&t, "{\"to\": \"00919876543210\", \"body\": \"a+b\"}", NULL, "https://api.twilio.com", "k");
	CHECK(task_of("whatsapp", "send_message")->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_CONTAINS(req.body, "To=whatsapp%3A%2B919876543210&");
	CHECK_CONTAINS(req.body, "&Body=a%2Bb");
	http_request_free(&req);
	tctx_free(&t);
}

TEST(whatsapp_parse)
{
	const ToolTask *task = task_of("whatsapp", "send_message");
	TCtx		t;
	cJSON	   *out;
	char		err[FDB_ERRLEN];

	tctx_init(&t, "{}", NULL, "https://api.twilio.com", "k");
	CHECK_INT(parse_body(task, &t, 201,
						 "{\"sid\": \"SM0123456789abcdef0123456789abcdef\", \"status\": \"queued\","
						 " \"to\": \"whatsapp:+919876543210\", \"from\": \"whatsapp:+14155238886\","
						 " \"body\": \"Hello\", \"num_segments\": \"1\"}", &out, err), TOOL_DONE);
	CHECK_STR(out_str(out, "sid"), "SM0123456789abcdef0123456789abcdef");
	CHECK_STR(out_str(out, "status"), "queued");
	CHECK_STR(out_str(out, "to"), "whatsapp:+919876543210");
	CHECK_INT(cJSON_GetArraySize(out), 3);
	cJSON_Delete(out);

	CHECK_INT(parse_body(task, &t, 400,
						 "{\"code\": 21211, \"message\": \"The 'To' number is not a valid phone number.\","
						 " \"more_info\": \"https://www.twilio.com/docs/errors/21211\", \"status\": 400}",
						 &out, err), TOOL_FAIL);
	CHECK_STR(err, "Twilio error 21211: The 'To' number is not a valid phone number.");
	CHECK(out == NULL);

	CHECK_INT(parse_body(task, &t, 401, "{\"code\": 20003, \"message\": \"Authenticate\", \"status\": 401}",
						 &out, err), TOOL_FAIL);
	CHECK_STR(err, "Twilio error 20003: Authenticate");
	CHECK_INT(parse_body(task, &t, 429, "{\"code\": 20429, \"message\": \"Too Many Requests\"}",
						 &out, err), TOOL_RETRY);
	CHECK_CONTAINS(err, "Too Many Requests");
	CHECK_INT(parse_body(task, &t, 503, "<html>unavailable</html>", &out, err), TOOL_RETRY);
	CHECK_CONTAINS(err, "503");
	CHECK_INT(parse_body(task, &t, 201, "{\"status\": \"queued\"}", &out, err), TOOL_FAIL);
	CHECK(out == NULL);
	tctx_free(&t);
}

TEST(whatsapp_sample)
{
	const ToolTask *task = task_of("whatsapp", "send_message");
	TCtx		t;
	cJSON	   *a;
	cJSON	   *b;
	const char *sid;
	size_t		i;
	bool		hex = true;

	tctx_init(&t, "{\"to\": \"+91 98765 43210\", \"body\": \"x\"}", NULL, "https://api.twilio.com", "run1-n1");
	a = task->sample(&t.ctx);
	b = task->sample(&t.ctx);
	sid = out_str(a, "sid");
	CHECK_INT(strlen(sid), 34);
	CHECK(strncmp(sid, "SM", 2) == 0);
	for (i = 2; i < strlen(sid); i++)
		if (!strchr("0123456789abcdef", sid[i]))
			hex = false;
	CHECK(hex);
	CHECK_STR(out_str(b, "sid"), sid);
	CHECK_STR(out_str(a, "status"), "queued");
	CHECK_STR(out_str(a, "to"), "whatsapp:+919876543210");
	cJSON_Delete(b);
	t.ctx.idempotency_key = "run2-n1";
	b = task->sample(&t.ctx);
	CHECK(strcmp(out_str(b, "sid"), sid) != 0);
	cJSON_Delete(a);
	cJSON_Delete(b);
	tctx_free(&t);
}

/* ---------------------------------------------------------------- razorpay */

/*
 * rzp_link_amount
 *		Build create_payment_link with this amount JSON (and currency, may be
 *		NULL); return the body's "amount" or -1 with err on failure.
 */
static double
rzp_link_amount(const char *amount_json, const char *currency, char *err)
{
	char		params[256];
	TCtx		t;
	HttpRequest req;
	double		result = -1;

	if (currency)
		snprintf(params, sizeof(params), "{\"amount\": %s, \"currency\": \"%s\"}",
				 amount_json, currency);
	else
		snprintf(params, sizeof(params), "{\"amount\": %s}", amount_json);
	tctx_init(&t, params, NULL, "https://api.razorpay.com", "k");
	err[0] = '\0';
	if (task_of("razorpay", "create_payment_link")->build(&t.ctx, &req, err, FDB_ERRLEN))
	{
		cJSON	   *body = cJSON_Parse(req.body);

		fdb_json_num(body, "amount", &result);
		cJSON_Delete(body);
	}
	http_request_free(&req);
	tctx_free(&t);
	return result;
}

/*
 * rzp_link_amount_double
 *		Same with a C double (to test binary floating error).
 */
static double
rzp_link_amount_double(double amount, char *err)
{
	TCtx		t;
	HttpRequest req;
	double		result = -1;

	tctx_init(&t, "{}", NULL, "https://api.razorpay.com", "k");
	cJSON_AddNumberToObject(t.params, "amount", amount);
	err[0] = '\0';
	if (task_of("razorpay", "create_payment_link")->build(&t.ctx, &req, err, FDB_ERRLEN))
	{
		cJSON	   *body = cJSON_Parse(req.body);

		fdb_json_num(body, "amount", &result);
		cJSON_Delete(body);
	}
	http_request_free(&req);
	tctx_free(&t);
	return result;
}

TEST(razorpay_paise)
{
	char		err[FDB_ERRLEN];

	CHECK_INT(rzp_link_amount("499.5", NULL, err), 49950);
	CHECK_INT(rzp_link_amount("499", NULL, err), 49900);
	CHECK_INT(rzp_link_amount("19.99", NULL, err), 1999);
	CHECK_INT(rzp_link_amount("\"499.50\"", NULL, err), 49950);
	CHECK_INT(rzp_link_amount("\" 1000 \"", NULL, err), 100000);
	CHECK_INT(rzp_link_amount("0.005", NULL, err), 1);	/* half away from zero */
	CHECK_INT(rzp_link_amount("0.015", NULL, err), 2);
	CHECK_INT(rzp_link_amount("\"2.675\"", NULL, err), 268);
	CHECK_INT(rzp_link_amount("2.675", NULL, err), 268);	/* 2.67499999... in binary */
	CHECK_INT(rzp_link_amount("\"0.0049999\"", NULL, err), -1);
	CHECK_CONTAINS(err, "smaller than the smallest unit");
	CHECK_INT(rzp_link_amount_double(0.1 + 0.2, err), 30);
	CHECK_INT(rzp_link_amount_double(1.005, err), 101);
	CHECK_INT(rzp_link_amount_double(0.07 * 100 / 100, err), 7);
	CHECK_INT(rzp_link_amount_double(1.1 * 3, err), 330);
	CHECK_INT(rzp_link_amount("1e9", NULL, err), 100000000000LL);
	CHECK_INT(rzp_link_amount("999999999.99", NULL, err), 99999999999LL);
	CHECK_INT(rzp_link_amount("1000000000.01", NULL, err), -1);
	CHECK_CONTAINS(err, "exceeds the maximum");
	CHECK_INT(rzp_link_amount("\"1000000000.005\"", NULL, err), -1);
	CHECK_CONTAINS(err, "exceeds the maximum");
	CHECK_INT(rzp_link_amount("\"99999999999999999999999\"", NULL, err), -1);
	CHECK_CONTAINS(err, "exceeds the maximum");
	CHECK_INT(rzp_link_amount("1e300", NULL, err), -1);
	CHECK_CONTAINS(err, "exceeds the maximum");
	CHECK_INT(rzp_link_amount("0", NULL, err), -1);
	CHECK_CONTAINS(err, "must be greater than zero");
	CHECK_INT(rzp_link_amount("-5", NULL, err), -1);
	CHECK_CONTAINS(err, "must be greater than zero");
	CHECK_INT(rzp_link_amount("\"-5\"", NULL, err), -1);
	CHECK_CONTAINS(err, "must be greater than zero");
	CHECK_INT(rzp_link_amount("\"0.00\"", NULL, err), -1);
	CHECK_CONTAINS(err, "must be greater than zero");
	CHECK_INT(rzp_link_amount("0.004", NULL, err), -1);
	CHECK_CONTAINS(err, "smaller than the smallest unit");
	CHECK_INT(rzp_link_amount("1e-9", NULL, err), -1);
	CHECK_CONTAINS(err, "smaller than the smallest unit");
	CHECK_INT(rzp_link_amount("\"1e3\"", NULL, err), -1);
	CHECK_CONTAINS(err, "like 499.50");
	CHECK_INT(rzp_link_amount("\"1,499\"", NULL, err), -1);
	CHECK_INT(rzp_link_amount("\"\"", NULL, err), -1);
	CHECK_INT(rzp_link_amount("\".\"", NULL, err), -1);
	CHECK_INT(rzp_link_amount("true", NULL, err), -1);
	CHECK_CONTAINS(err, "must be a number");
	CHECK_INT(rzp_link_amount("null", NULL, err), -1);
	CHECK_CONTAINS(err, "amount is required");
	/* other currencies use their own smallest unit */
	CHECK_INT(rzp_link_amount("1000", "JPY", err), 1000);
	CHECK_INT(rzp_link_amount("10.5", "usd", err), 1050);
	CHECK_INT(rzp_link_amount("1.2345", "KWD", err), 1235);
	CHECK_INT(rzp_link_amount("10", "RUPEES", err), -1);
	CHECK_CONTAINS(err, "3-letter code");
}

TEST(razorpay_link_build)
{
	TCtx		t;
	HttpRequest req;
	char		err[FDB_ERRLEN] = "";

	tctx_init(&t, "{\"amount\": 499.5, \"description\": \"Order #42\", \"customer_name\": \"Asha\","
			  " \"customer_contact\": \"+919876543210\", \"customer_email\": \"asha@example.com\","
			  " \"reference_id\": \"ORD-42\"}",
			  "{\"key_id\": \"rzp_test_1DP5mmOlF5G5ag\", \"key_secret\": \"rzp_secret_xyz\"}",
			  "https://api.razorpay.com", "run9-pay");
	CHECK(task_of("razorpay", "create_payment_link")->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.method, "POST");
	CHECK_STR(req.url, "https://api.razorpay.com/v1/payment_links");
	CHECK_STR(req.body,
			  "{\"amount\":49950,\"currency\":\"INR\",\"description\":\"Order #42\","
			  "\"reference_id\":\"ORD-42\",\"customer\":{\"name\":\"Asha\","
			  "\"contact\":\"+919876543210\",\"email\":\"asha@example.com\"},"
			  "\"notify\":{\"sms\":true,\"email\":true}}");
	CHECK_STR(header(&req, "Authorization"), "Basic " RZP_BASIC);
	CHECK_STR(header(&req, "Content-Type"), "application/json");
	CHECK_STR(header(&req, "Idempotency-Key"), "run9-pay");
	CHECK(strstr(req.body, "rzp_secret_xyz") == NULL);
	http_request_free(&req);
	tctx_free(&t);

	/* sandbox, only an email: notify.sms false; no Authorization */
	tctx_init(&t, "{\"amount\": 1, \"customer_email\": \"a@b.in\"}", NULL,
			  "https://api.razorpay.com", "k");
	CHECK(task_of("razorpay", "create_payment_link")->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.body, "{\"amount\":100,\"currency\":\"INR\",\"customer\":{\"email\":\"a@b.in\"},"
			  "\"notify\":{\"sms\":false,\"email\":true}}");
	CHECK(header(&req, "Authorization") == NULL);
	http_request_free(&req);
	tctx_free(&t);

	/* neither contact nor email: no customer, no notify */
	tctx_init(&t, "{\"amount\": \"250\", \"currency\": \"INR\"}", NULL, "https://api.razorpay.com", "k");
	CHECK(task_of("razorpay", "create_payment_link")->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.body, "{\"amount\":25000,\"currency\":\"INR\"}");
	http_request_free(&req);
	tctx_free(&t);

	/* live with an incomplete credential */
	tctx_init(&t, "{\"amount\": 10}", "{\"key_id\": \"rzp_test_x\"}", "https://api.razorpay.com", "k");
	CHECK(!task_of("razorpay", "create_payment_link")->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_CONTAINS(err, "key_secret");
	http_request_free(&req);
	tctx_free(&t);

	tctx_init(&t, "{\"amount\": 10, \"reference_id\": \"0123456789012345678901234567890123456789X\"}",
			  NULL, "https://api.razorpay.com", "k");
	CHECK(!task_of("razorpay", "create_payment_link")->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_CONTAINS(err, "at most 40");
	http_request_free(&req);
	tctx_free(&t);
}

TEST(razorpay_invoice_build)
{
	TCtx		t;
	HttpRequest req;
	char		err[FDB_ERRLEN] = "";

	tctx_init(&t, "{\"customer_name\": \"Asha Traders\", \"amount\": 1500, \"quantity\": 2,"
			  " \"description\": \"March retainer\", \"customer_email\": \"asha@example.com\"}",
			  "{\"key_id\": \"rzp_test_1DP5mmOlF5G5ag\", \"key_secret\": \"rzp_secret_xyz\"}",
			  "https://api.razorpay.com", "k");
	CHECK(task_of("razorpay", "create_invoice")->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.url, "https://api.razorpay.com/v1/invoices");
	CHECK_STR(req.body,
			  "{\"type\":\"invoice\",\"description\":\"March retainer\",\"currency\":\"INR\","
			  "\"customer\":{\"name\":\"Asha Traders\",\"email\":\"asha@example.com\"},"
			  "\"line_items\":[{\"name\":\"Services\",\"amount\":150000,\"currency\":\"INR\","
			  "\"quantity\":2}]}");
	CHECK_STR(header(&req, "Authorization"), "Basic " RZP_BASIC);
	http_request_free(&req);
	tctx_free(&t);

	tctx_init(&t, "{\"customer_name\": \"A\", \"amount\": 99.99, \"item_name\": \"Haircut\","
			  " \"customer_contact\": \"9876543210\"}", NULL, "https://api.razorpay.com", "k");
	CHECK(task_of("razorpay", "create_invoice")->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.body,
			  "{\"type\":\"invoice\",\"currency\":\"INR\",\"customer\":{\"name\":\"A\","
			  "\"contact\":\"9876543210\"},\"line_items\":[{\"name\":\"Haircut\",\"amount\":9999,"
			  "\"currency\":\"INR\",\"quantity\":1}]}");
	CHECK(header(&req, "Authorization") == NULL);
	http_request_free(&req);
	tctx_free(&t);

	tctx_init(&t, "{\"amount\": 10}", NULL, "https://api.razorpay.com", "k");
	CHECK(!task_of("razorpay", "create_invoice")->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_CONTAINS(err, "customer_name is required");
	http_request_free(&req);
	tctx_free(&t);

	tctx_init(&t, "{\"customer_name\": \"A\", \"amount\": 10, \"quantity\": 1.5}", NULL,
			  "https://api.razorpay.com", "k");
	CHECK(!task_of("razorpay", "create_invoice")->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_CONTAINS(err, "quantity must be a whole number");
	http_request_free(&req);
	tctx_free(&t);

	tctx_init(&t, "{\"customer_name\": \"A\", \"amount\": -10}", NULL, "https://api.razorpay.com", "k");
	CHECK(!task_of("razorpay", "create_invoice")->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_CONTAINS(err, "greater than zero");
	http_request_free(&req);
	tctx_free(&t);
}

TEST(razorpay_fetch_build)
{
	TCtx		t;
	HttpRequest req;
	char		err[FDB_ERRLEN] = "";

	tctx_init(&t, "{\"payment_id\": \"pay_29QQoUBi66xm2f\"}",
			  "{\"key_id\": \"rzp_test_1DP5mmOlF5G5ag\", \"key_secret\": \"rzp_secret_xyz\"}",
			  "https://api.razorpay.com", "k");
	CHECK(task_of("razorpay", "fetch_payment")->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.method, "GET");
	CHECK_STR(req.url, "https://api.razorpay.com/v1/payments/pay_29QQoUBi66xm2f");
	CHECK(req.body == NULL);
	CHECK(header(&req, "Content-Type") == NULL);
	CHECK_STR(header(&req, "Authorization"), "Basic " RZP_BASIC);
	http_request_free(&req);
	tctx_free(&t);

	tctx_init(&t, "{\"payment_id\": \"pay 1/../x?y\"}", NULL, "https://api.razorpay.com", "k");
	CHECK(task_of("razorpay", "fetch_payment")->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.url, "https://api.razorpay.com/v1/payments/pay%201%2F..%2Fx%3Fy");
	http_request_free(&req);
	tctx_free(&t);

	tctx_init(&t, "{}", NULL, "https://api.razorpay.com", "k");
	CHECK(!task_of("razorpay", "fetch_payment")->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_CONTAINS(err, "payment_id is required");
	http_request_free(&req);
	tctx_free(&t);
}

TEST(razorpay_parse)
{
	TCtx		t;
	cJSON	   *out;
	char		err[FDB_ERRLEN];

	tctx_init(&t, "{}", NULL, "https://api.razorpay.com", "k");
	CHECK_INT(parse_body(task_of("razorpay", "create_payment_link"), &t, 200,
						 "{\"accept_partial\": false, \"amount\": 49950, \"amount_paid\": 0,"
						 " \"currency\": \"INR\", \"id\": \"plink_ExjpAUN3gVHrPJ\","
						 " \"reference_id\": \"ORD-42\", \"short_url\": \"https://rzp.io/i/nxrHnLJ\","
						 " \"status\": \"created\", \"upi_link\": false}", &out, err), TOOL_DONE);
	CHECK_STR(out_str(out, "id"), "plink_ExjpAUN3gVHrPJ");
	CHECK_STR(out_str(out, "short_url"), "https://rzp.io/i/nxrHnLJ");
	CHECK_STR(out_str(out, "status"), "created");
	CHECK_INT(out_num(out, "amount"), 49950);
	CHECK(out_num(out, "amount_rupees") == 499.5);
	cJSON_Delete(out);

	CHECK_INT(parse_body(task_of("razorpay", "create_payment_link"), &t, 400,
						 "{\"error\": {\"code\": \"BAD_REQUEST_ERROR\","
						 " \"description\": \"The amount must be atleast INR 1.00\","
						 " \"source\": \"business\", \"step\": \"payment_initiation\","
						 " \"reason\": \"input_validation_failed\", \"metadata\": {},"
						 " \"field\": \"amount\"}}", &out, err), TOOL_FAIL);
	CHECK_STR(err, "Razorpay BAD_REQUEST_ERROR: The amount must be atleast INR 1.00 (field amount)");
	CHECK(out == NULL);
	CHECK_INT(parse_body(task_of("razorpay", "create_invoice"), &t, 401,
						 "{\"error\": {\"code\": \"BAD_REQUEST_ERROR\", \"description\": \"Authentication failed\"}}",
						 &out, err), TOOL_FAIL);
	CHECK_STR(err, "Razorpay BAD_REQUEST_ERROR: Authentication failed");
	CHECK_INT(parse_body(task_of("razorpay", "fetch_payment"), &t, 500,
						 "{\"error\": {\"code\": \"SERVER_ERROR\", \"description\": \"We are facing some trouble\"}}",
						 &out, err), TOOL_RETRY);
	CHECK_CONTAINS(err, "SERVER_ERROR");
	CHECK_INT(parse_body(task_of("razorpay", "fetch_payment"), &t, 429, "Too many requests", &out, err),
			  TOOL_RETRY);
	CHECK_INT(parse_body(task_of("razorpay", "create_invoice"), &t, 200, "{\"entity\": \"invoice\"}",
						 &out, err), TOOL_FAIL);
	CHECK_CONTAINS(err, "no id");

	CHECK_INT(parse_body(task_of("razorpay", "create_invoice"), &t, 200,
						 "{\"id\": \"inv_DAweOiQ7amIUVd\", \"entity\": \"invoice\", \"status\": \"issued\","
						 " \"amount\": 300000, \"currency\": \"INR\","
						 " \"short_url\": \"https://rzp.io/i/2wxV8Xs\"}", &out, err), TOOL_DONE);
	CHECK_STR(out_str(out, "id"), "inv_DAweOiQ7amIUVd");
	CHECK_STR(out_str(out, "status"), "issued");
	CHECK_STR(out_str(out, "short_url"), "https://rzp.io/i/2wxV8Xs");
	CHECK_INT(out_num(out, "amount"), 300000);
	cJSON_Delete(out);

	CHECK_INT(parse_body(task_of("razorpay", "fetch_payment"), &t, 200,
						 "{\"id\": \"pay_29QQoUBi66xm2f\", \"entity\": \"payment\", \"amount\": 1999,"
						 " \"currency\": \"INR\", \"status\": \"captured\", \"method\": \"upi\","
						 " \"email\": \"gaurav.kumar@example.com\", \"contact\": \"+919000090000\","
						 " \"vpa\": \"gaurav.kumar@exampleupi\", \"fee\": 40}", &out, err), TOOL_DONE);
	CHECK_STR(out_str(out, "id"), "pay_29QQoUBi66xm2f");
	CHECK_STR(out_str(out, "status"), "captured");
	CHECK_STR(out_str(out, "method"), "upi");
	CHECK_STR(out_str(out, "email"), "gaurav.kumar@example.com");
	CHECK_STR(out_str(out, "contact"), "+919000090000");
	CHECK_INT(out_num(out, "amount"), 1999);
	CHECK(fabs(out_num(out, "amount_rupees") - 19.99) < 1e-9);
	CHECK(cJSON_GetObjectItemCaseSensitive(out, "vpa") == NULL);
	cJSON_Delete(out);
	tctx_free(&t);
}

TEST(razorpay_samples)
{
	TCtx		t;
	cJSON	   *out;

	tctx_init(&t, "{\"amount\": 499.5, \"customer_name\": \"A\", \"quantity\": 3}", NULL,
			  "https://api.razorpay.com", "run3-n2");
	out = task_of("razorpay", "create_payment_link")->sample(&t.ctx);
	CHECK(strncmp(out_str(out, "id"), "plink_", 6) == 0);
	CHECK_INT(strlen(out_str(out, "id")), 20);
	CHECK(strncmp(out_str(out, "short_url"), "https://rzp.io/i/", 17) == 0);
	CHECK_STR(out_str(out, "status"), "created");
	CHECK_INT(out_num(out, "amount"), 49950);
	CHECK(out_num(out, "amount_rupees") == 499.5);
	cJSON_Delete(out);

	out = task_of("razorpay", "create_invoice")->sample(&t.ctx);
	CHECK(strncmp(out_str(out, "id"), "inv_", 4) == 0);
	CHECK_STR(out_str(out, "status"), "issued");
	CHECK_INT(out_num(out, "amount"), 149850);
	cJSON_Delete(out);

	out = task_of("razorpay", "fetch_payment")->sample(&t.ctx);
	CHECK(strncmp(out_str(out, "id"), "pay_", 4) == 0);
	CHECK_STR(out_str(out, "status"), "captured");
	cJSON_Delete(out);
	tctx_free(&t);
}

/* --------------------------------------------------------------- instagram */

TEST(instagram_phase_flow)
{
	const ToolTask *task = task_of("instagram", "publish_photo");
	TCtx		t;
	HttpRequest req;
	cJSON	   *out;
	char		err[FDB_ERRLEN] = "";

	tctx_init(&t, "{\"image_url\": \"https://cdn.example.com/p.jpg\", \"caption\": \"New arrivals #sale\"}",
			  "{\"access_token\": \"EAAGsecret\", \"ig_user_id\": \"17841400000000001\"}",
			  "https://graph.facebook.com/v19.0", "run5-post");

	/* phase 0: create the container */
	CHECK(task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.method, "POST");
	CHECK_STR(req.url, "https://graph.facebook.com/v19.0/17841400000000001/media");
	CHECK_STR(req.body, "image_url=https%3A%2F%2Fcdn.example.com%2Fp.jpg&caption=New+arrivals+%23sale");
	CHECK_STR(header(&req, "Authorization"), "Bearer EAAGsecret");
	CHECK_STR(header(&req, "Content-Type"), "application/x-www-form-urlencoded");
	CHECK(strstr(req.url, "EAAGsecret") == NULL && strstr(req.body, "EAAGsecret") == NULL);
	http_request_free(&req);
	CHECK_INT(parse_body(task, &t, 200, "{\"id\": \"17889455560051444\"}", &out, err), TOOL_NEXT);
	CHECK(out == NULL);
	CHECK_STR(fdb_json_str(t.ctx.phase_state, "container_id"), "17889455560051444");

	/* phase 1: publish it */
	t.ctx.phase = 1;
	CHECK(task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.url, "https://graph.facebook.com/v19.0/17841400000000001/media_publish");
	CHECK_STR(req.body, "creation_id=17889455560051444");
	CHECK_STR(header(&req, "Authorization"), "Bearer EAAGsecret");
	http_request_free(&req);

	/* not processed yet: retry phase 1 with the same container */
	CHECK_INT(parse_body(task, &t, 400,
						 "{\"error\": {\"message\": \"Media ID is not available\", \"type\": \"OAuthException\","
						 " \"code\": 9007, \"error_subcode\": 2207027, \"fbtrace_id\": \"AbC\"}}",
						 &out, err), TOOL_RETRY);
	CHECK_CONTAINS(err, "Media ID is not available");
	CHECK(out == NULL);
	CHECK_STR(fdb_json_str(t.ctx.phase_state, "container_id"), "17889455560051444");

	CHECK_INT(parse_body(task, &t, 200, "{\"id\": \"17920238422030506\"}", &out, err), TOOL_DONE);
	CHECK_STR(out_str(out, "id"), "17920238422030506");
	CHECK_STR(out_str(out, "container_id"), "17889455560051444");
	cJSON_Delete(out);

	/* a retried publish whose first attempt went through */
	CHECK_INT(parse_body(task, &t, 400,
						 "{\"error\": {\"message\": \"The media has already been published\","
						 " \"type\": \"OAuthException\", \"code\": 100}}", &out, err), TOOL_DONE);
	CHECK_STR(out_str(out, "container_id"), "17889455560051444");
	CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(out, "already_published")));
	CHECK(cJSON_GetObjectItemCaseSensitive(out, "id") == NULL);
	cJSON_Delete(out);
	tctx_free(&t);
}

TEST(instagram_errors)
{
	const ToolTask *task = task_of("instagram", "publish_photo");
	TCtx		t;
	HttpRequest req;
	cJSON	   *out;
	char		err[FDB_ERRLEN] = "";

	tctx_init(&t, "{\"image_url\": \"https://x.io/a.jpg\"}",
			  "{\"access_token\": \"tok\", \"ig_user_id\": \"1784\"}", "https://graph.facebook.com/v19.0", "k");
	CHECK_INT(parse_body(task, &t, 400,
						 "{\"error\": {\"message\": \"Invalid OAuth access token - Cannot parse access token\","
						 " \"type\": \"OAuthException\", \"code\": 190, \"fbtrace_id\": \"AbC\"}}",
						 &out, err), TOOL_FAIL);
	CHECK_STR(err, "Graph error 190: Invalid OAuth access token - Cannot parse access token");
	CHECK_INT(parse_body(task, &t, 400,
						 "{\"error\": {\"message\": \"The image size is too large.\", \"type\": \"OAuthException\","
						 " \"code\": 36000, \"error_subcode\": 2207004, \"is_transient\": false,"
						 " \"error_user_msg\": \"The image is too large to download. It should be less than 8 MiB.\"}}",
						 &out, err), TOOL_FAIL);
	CHECK_CONTAINS(err, "Graph error 36000/2207004: The image size is too large.");
	CHECK_CONTAINS(err, "less than 8 MiB");
	CHECK_INT(parse_body(task, &t, 400,
						 "{\"error\": {\"message\": \"Application request limit reached\", \"code\": 4}}",
						 &out, err), TOOL_RETRY);
	CHECK_INT(parse_body(task, &t, 500, "{\"error\": {\"message\": \"An unexpected error has occurred.\","
						 " \"code\": 2, \"is_transient\": true}}", &out, err), TOOL_RETRY);
	/* "already published" in phase 0 is not a success */
	CHECK_INT(parse_body(task, &t, 400, "{\"error\": {\"message\": \"already published\", \"code\": 100}}",
						 &out, err), TOOL_FAIL);
	CHECK(out == NULL);
	CHECK_INT(parse_body(task, &t, 200, "{}", &out, err), TOOL_FAIL);
	CHECK_INT(cJSON_GetArraySize(t.ctx.phase_state), 0);

	/* phase 1 without a container in live mode */
	t.ctx.phase = 1;
	CHECK(!task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_CONTAINS(err, "container_id");
	http_request_free(&req);
	t.ctx.phase = 2;
	CHECK(!task->build(&t.ctx, &req, err, sizeof(err)));
	http_request_free(&req);
	tctx_free(&t);

	tctx_init(&t, "{\"image_url\": \"ftp://x.io/a.jpg\"}", NULL, "https://graph.facebook.com/v19.0", "k");
	CHECK(!task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_CONTAINS(err, "http(s) URL");
	http_request_free(&req);
	tctx_free(&t);

	tctx_init(&t, "{\"caption\": \"x\"}", NULL, "https://graph.facebook.com/v19.0", "k");
	CHECK(!task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_CONTAINS(err, "image_url is required");
	http_request_free(&req);
	tctx_free(&t);

	tctx_init(&t, "{\"image_url\": \"https://x.io/a.jpg\"}", "{\"access_token\": \"tok\"}",
			  "https://graph.facebook.com/v19.0", "k");
	CHECK(!task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_CONTAINS(err, "ig_user_id");
	http_request_free(&req);
	tctx_free(&t);

	tctx_init(&t, "{\"image_url\": \"https://x.io/a.jpg\", \"ig_user_id\": \"../me\"}", NULL,
			  "https://graph.facebook.com/v19.0", "k");
	CHECK(!task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_CONTAINS(err, "numeric account id");
	http_request_free(&req);
	tctx_free(&t);
}

TEST(instagram_sandbox)
{
	const ToolTask *task = task_of("instagram", "publish_photo");
	TCtx		t;
	HttpRequest req;
	cJSON	   *sample;
	char	   *want;
	char		err[FDB_ERRLEN] = "";

	tctx_init(&t, "{\"image_url\": \"https://x.io/a.jpg\"}", NULL, "https://graph.facebook.com/v19.0", "run7-ig");
	CHECK(task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.url, "https://graph.facebook.com/v19.0/IG_USER_ID/media");
	CHECK_STR(req.body, "image_url=https%3A%2F%2Fx.io%2Fa.jpg");
	CHECK(header(&req, "Authorization") == NULL);
	http_request_free(&req);

	sample = task->sample(&t.ctx);
	CHECK_INT(strlen(out_str(sample, "id")), 17);
	CHECK_INT(strlen(out_str(sample, "container_id")), 17);
	CHECK(strcmp(out_str(sample, "id"), out_str(sample, "container_id")) != 0);

	/* sandbox phase 1 publishes the sample's container */
	t.ctx.phase = 1;
	CHECK(task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.url, "https://graph.facebook.com/v19.0/IG_USER_ID/media_publish");
	want = fdb_asprintf("creation_id=%s", out_str(sample, "container_id"));
	CHECK_STR(req.body, want);
	free(want);
	http_request_free(&req);
	cJSON_Delete(sample);
	tctx_free(&t);

	/* ig_user_id param overrides the credential */
	tctx_init(&t, "{\"image_url\": \"https://x.io/a.jpg\", \"ig_user_id\": \"17841499999999999\"}",
			  "{\"access_token\": \"tok\", \"ig_user_id\": \"1784\"}", "https://graph.facebook.com/v19.0", "k");
	CHECK(task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.url, "https://graph.facebook.com/v19.0/17841499999999999/media");
	http_request_free(&req);
	tctx_free(&t);
}

/* ------------------------------------------------------------------- slack */

TEST(slack_build)
{
	const ToolTask *task = task_of("slack", "post_message");
	TCtx		t;
	HttpRequest req;
	char		err[FDB_ERRLEN] = "";

	tctx_init(&t, "{\"channel\": \"C0123456789\", \"text\": \"New order #42\","
			  " \"thread_ts\": \"1700000000.000100\"}",
			  "{\"bot_token\": \"xoxb-1-secret\"}", "https://slack.com/api", "k");
	CHECK(task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.method, "POST");
	CHECK_STR(req.url, "https://slack.com/api/chat.postMessage");
	CHECK_STR(req.body, "{\"channel\":\"C0123456789\",\"text\":\"New order #42\","
			  "\"thread_ts\":\"1700000000.000100\"}");
	CHECK_STR(header(&req, "Authorization"), "Bearer xoxb-1-secret");
	CHECK_STR(header(&req, "Content-Type"), "application/json; charset=utf-8");
	CHECK(strstr(req.body, "xoxb") == NULL);
	http_request_free(&req);
	tctx_free(&t);

	/* blocks only, given as an array; sandbox */
	tctx_init(&t, "{\"channel\": \"#sales\", \"blocks\": [{\"type\": \"section\","
			  " \"text\": {\"type\": \"mrkdwn\", \"text\": \"*Hi*\"}}]}", NULL, "https://slack.com/api", "k");
	CHECK(task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.body, "{\"channel\":\"#sales\",\"blocks\":[{\"type\":\"section\","
			  "\"text\":{\"type\":\"mrkdwn\",\"text\":\"*Hi*\"}}]}");
	CHECK(header(&req, "Authorization") == NULL);
	http_request_free(&req);
	tctx_free(&t);

	/* blocks as JSON text (Block Kit Builder's {"blocks": [...]}) */
	tctx_init(&t, "{\"channel\": \"C1\", \"text\": \"fallback\","
			  " \"blocks\": \"{\\\"blocks\\\": [{\\\"type\\\": \\\"divider\\\"}]}\"}",
			  NULL, "https://slack.com/api", "k");
	CHECK(task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.body, "{\"channel\":\"C1\",\"text\":\"fallback\",\"blocks\":[{\"type\":\"divider\"}]}");
	http_request_free(&req);
	tctx_free(&t);
}

/*
 * slack_build_fails
 *		Does post_message refuse these params?  err receives why.
 */
static bool
slack_build_fails(const char *params, const char *cred, char *err)
{
	TCtx		t;
	HttpRequest req;
	bool		ok;

	tctx_init(&t, params, cred, "https://slack.com/api", "k");
	err[0] = '\0';
	ok = task_of("slack", "post_message")->build(&t.ctx, &req, err, FDB_ERRLEN);
	http_request_free(&req);
	tctx_free(&t);
	return !ok;
}

TEST(slack_build_errors)
{
	char		err[FDB_ERRLEN];

	CHECK(slack_build_fails("{\"text\": \"x\"}", NULL, err));
	CHECK_CONTAINS(err, "channel is required");
	CHECK(slack_build_fails("{\"channel\": \"C1\"}", NULL, err));
	CHECK_CONTAINS(err, "text is required unless blocks");
	CHECK(slack_build_fails("{\"channel\": \"C1\", \"blocks\": []}", NULL, err));
	CHECK(slack_build_fails("{\"channel\": \"C1\", \"blocks\": \"not json\"}", NULL, err));
	CHECK_CONTAINS(err, "blocks must be an array");
	CHECK(slack_build_fails("{\"channel\": \"C1\", \"text\": \"x\", \"thread_ts\": 1700000000.0001}",
							NULL, err));
	CHECK_CONTAINS(err, "thread_ts must be a string");
	CHECK(slack_build_fails("{\"channel\": \"C1\", \"text\": \"x\"}", "{}", err));
	CHECK_CONTAINS(err, "bot_token");
}

TEST(slack_parse)
{
	const ToolTask *task = task_of("slack", "post_message");
	TCtx		t;
	cJSON	   *out;
	char		err[FDB_ERRLEN];

	tctx_init(&t, "{}", NULL, "https://slack.com/api", "k");
	CHECK_INT(parse_body(task, &t, 200,
						 "{\"ok\": true, \"channel\": \"C0123456789\", \"ts\": \"1503435956.000247\","
						 " \"message\": {\"text\": \"Here's a message for you\", \"type\": \"message\"}}",
						 &out, err), TOOL_DONE);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(out, "ok")));
	CHECK_STR(out_str(out, "channel"), "C0123456789");
	CHECK_STR(out_str(out, "ts"), "1503435956.000247");
	CHECK(cJSON_GetObjectItemCaseSensitive(out, "message") == NULL);
	cJSON_Delete(out);

	CHECK_INT(parse_body(task, &t, 200, "{\"ok\": false, \"error\": \"channel_not_found\"}", &out, err),
			  TOOL_FAIL);
	CHECK_CONTAINS(err, "channel_not_found");
	CHECK(out == NULL);
	CHECK_INT(parse_body(task, &t, 200, "{\"ok\": false, \"error\": \"not_in_channel\"}", &out, err),
			  TOOL_FAIL);
	CHECK_CONTAINS(err, "not_in_channel");
	CHECK_INT(parse_body(task, &t, 200, "{\"ok\": false, \"error\": \"invalid_auth\"}", &out, err),
			  TOOL_FAIL);
	CHECK_INT(parse_body(task, &t, 200, "{\"ok\": false, \"error\": \"ratelimited\"}", &out, err),
			  TOOL_RETRY);
	CHECK_CONTAINS(err, "ratelimited");
	CHECK_INT(parse_body(task, &t, 429, "{\"ok\": false, \"error\": \"ratelimited\"}", &out, err),
			  TOOL_RETRY);
	CHECK_INT(parse_body(task, &t, 429, "", &out, err), TOOL_RETRY);
	CHECK_INT(parse_body(task, &t, 200, "{\"ok\": false, \"error\": \"internal_error\"}", &out, err),
			  TOOL_RETRY);
	CHECK_INT(parse_body(task, &t, 502, "Bad Gateway", &out, err), TOOL_RETRY);
	CHECK_INT(parse_body(task, &t, 200, "ok", &out, err), TOOL_FAIL);
	CHECK(out == NULL);
	tctx_free(&t);
}

TEST(slack_sample)
{
	const ToolTask *task = task_of("slack", "post_message");
	TCtx		t;
	cJSON	   *out;
	const char *ts;

	tctx_init(&t, "{\"channel\": \"#sales\", \"text\": \"x\"}", NULL, "https://slack.com/api", "run1");
	out = task->sample(&t.ctx);
	ts = out_str(out, "ts");
	CHECK_INT(strlen(ts), 17);
	CHECK(ts[10] == '.');
	CHECK(strncmp(ts, "170", 3) == 0);
	CHECK(out_str(out, "channel")[0] == 'C');
	CHECK_INT(strlen(out_str(out, "channel")), 11);
	cJSON_Delete(out);
	tctx_free(&t);

	tctx_init(&t, "{\"channel\": \"C0123456789\", \"text\": \"x\"}", NULL, "https://slack.com/api", "run1");
	out = task->sample(&t.ctx);
	CHECK_STR(out_str(out, "channel"), "C0123456789");
	cJSON_Delete(out);
	tctx_free(&t);
}

/* --------------------------------------------------------------------- llm */

TEST(llm_complete_build)
{
	const ToolTask *task = task_of("llm", "complete");
	TCtx		t;
	HttpRequest req;
	char		err[FDB_ERRLEN] = "";

	tctx_init(&t, "{\"prompt\": \"Draft a thank-you note\", \"system\": \"Be brief\","
			  " \"temperature\": 0.2, \"max_tokens\": 100}",
			  "{\"api_key\": \"sk-test-123\"}", "https://api.openai.com/v1", "k");
	CHECK(task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.method, "POST");
	CHECK_STR(req.url, "https://api.openai.com/v1/chat/completions");
	CHECK_STR(req.body,
			  "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief\"},"
			  "{\"role\":\"user\",\"content\":\"Draft a thank-you note\"}],\"temperature\":0.2,"
			  "\"max_tokens\":100}");
	CHECK_STR(header(&req, "Authorization"), "Bearer sk-test-123");
	CHECK_STR(header(&req, "Content-Type"), "application/json");
	CHECK(req.timeout_ms > 0);
	CHECK(strstr(req.body, "sk-test") == NULL);
	http_request_free(&req);

	/* settings choose the model; a param overrides them */
	t.settings = cJSON_Parse("{\"model\": \"llama3.1:8b\"}");
	t.ctx.settings = t.settings;
	CHECK(task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_CONTAINS(req.body, "\"model\":\"llama3.1:8b\"");
	http_request_free(&req);
	cJSON_AddStringToObject(t.params, "model", "gpt-4.1");
	CHECK(task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_CONTAINS(req.body, "{\"model\":\"gpt-4.1\",");
	http_request_free(&req);
	tctx_free(&t);

	/* local server: a credential without api_key; and sandbox */
	tctx_init(&t, "{\"prompt\": \"hi\"}", "{}", "http://localhost:11434/v1", "k");
	CHECK(task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.url, "http://localhost:11434/v1/chat/completions");
	CHECK_STR(req.body, "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
	CHECK(header(&req, "Authorization") == NULL);
	http_request_free(&req);
	t.ctx.credential = NULL;
	CHECK(task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK(header(&req, "Authorization") == NULL);
	http_request_free(&req);
	tctx_free(&t);
}

TEST(llm_build_errors)
{
	const ToolTask *task = task_of("llm", "complete");
	const ToolTask *classify = task_of("llm", "classify");
	static const struct
	{
		const char *params;
		const char *want;
	}			cases[] = {
		{"{}", "prompt is required"},
		{"{\"prompt\": \"x\", \"temperature\": 3}", "temperature"},
		{"{\"prompt\": \"x\", \"temperature\": \"hot\"}", "temperature"},
		{"{\"prompt\": \"x\", \"max_tokens\": 1.5}", "max_tokens"},
		{"{\"prompt\": \"x\", \"max_tokens\": 0}", "max_tokens"},
		{"{\"prompt\": \"x\", \"model\": 4}", "model must be a string"},
		{"{\"text\": \"x\"}", "labels"},
		{"{\"text\": \"x\", \"labels\": []}", "labels"},
		{"{\"text\": \"x\", \"labels\": [\"a\", 2]}", "labels"},
		{"{\"text\": \"x\", \"labels\": [\"a\", \"\"]}", "labels"},
		{"{\"text\": \"x\", \"labels\": [\"a\", \"b\", \"a\"]}", "twice"},
		{"{\"labels\": [\"a\"]}", "text is required"},
	};
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		TCtx		t;
		HttpRequest req;
		char		err[FDB_ERRLEN] = "";
		const ToolTask *which = i < 6 ? task : classify;

		tctx_init(&t, cases[i].params, NULL, "https://api.openai.com/v1", "k");
		CHECK(!which->build(&t.ctx, &req, err, sizeof(err)));
		CHECK_CONTAINS(err, cases[i].want);
		http_request_free(&req);
		tctx_free(&t);
	}
}

TEST(llm_classify_build)
{
	const ToolTask *task = task_of("llm", "classify");
	TCtx		t;
	HttpRequest req;
	cJSON	   *body;
	cJSON	   *want;
	char		err[FDB_ERRLEN] = "";

	tctx_init(&t, "{\"text\": \"My order hasn't arrived\", \"labels\": [\"sales\", \"support\", \"spam\"],"
			  " \"instructions\": \"Delivery problems are support\"}",
			  "{\"api_key\": \"sk-x\"}", "https://api.openai.com/v1", "k");
	CHECK(task->build(&t.ctx, &req, err, sizeof(err)));
	CHECK_STR(req.url, "https://api.openai.com/v1/chat/completions");
	body = cJSON_Parse(req.body);
	want = cJSON_Parse("{\"type\": \"json_schema\", \"json_schema\": {\"name\": \"classification\","
					   " \"strict\": true, \"schema\": {\"type\": \"object\", \"properties\":"
					   " {\"label\": {\"type\": \"string\", \"enum\": [\"sales\", \"support\", \"spam\"]},"
					   " \"confidence\": {\"type\": \"number\"}}, \"required\": [\"label\", \"confidence\"],"
					   " \"additionalProperties\": false}}}");
	CHECK(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(body, "response_format"), want, true));
	CHECK_STR(fdb_json_str(body, "model"), "gpt-4o-mini");
	{
		const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");

		CHECK_INT(cJSON_GetArraySize(msgs), 2);
		CHECK_STR(fdb_json_str(cJSON_GetArrayItem(msgs, 0), "role"), "system");
		CHECK_CONTAINS(fdb_json_str(cJSON_GetArrayItem(msgs, 0), "content"),
					   "[\"sales\",\"support\",\"spam\"]");
		CHECK_CONTAINS(fdb_json_str(cJSON_GetArrayItem(msgs, 0), "content"),
					   "Delivery problems are support");
		CHECK_STR(fdb_json_str(cJSON_GetArrayItem(msgs, 1), "content"), "My order hasn't arrived");
	}
	cJSON_Delete(want);
	cJSON_Delete(body);
	http_request_free(&req);
	tctx_free(&t);
}

TEST(llm_complete_parse)
{
	const ToolTask *task = task_of("llm", "complete");
	TCtx		t;
	cJSON	   *out;
	char		err[FDB_ERRLEN];

	tctx_init(&t, "{\"prompt\": \"hi\"}", NULL, "https://api.openai.com/v1", "k");
	CHECK_INT(parse_body(task, &t, 200,
						 "{\"id\": \"chatcmpl-abc\", \"object\": \"chat.completion\", \"created\": 1700000000,"
						 " \"model\": \"gpt-4o-mini-2024-07-18\", \"choices\": [{\"index\": 0, \"message\":"
						 " {\"role\": \"assistant\", \"content\": \"Thank you!\", \"refusal\": null},"
						 " \"finish_reason\": \"stop\"}], \"usage\": {\"prompt_tokens\": 9,"
						 " \"completion_tokens\": 3, \"total_tokens\": 12}}", &out, err), TOOL_DONE);
	CHECK_STR(out_str(out, "text"), "Thank you!");
	CHECK_STR(out_str(out, "model"), "gpt-4o-mini-2024-07-18");
	CHECK_INT(out_num(cJSON_GetObjectItemCaseSensitive(out, "usage"), "total_tokens"), 12);
	CHECK_STR(out_str(out, "finish_reason"), "stop");
	cJSON_Delete(out);

	CHECK_INT(parse_body(task, &t, 429,
						 "{\"error\": {\"message\": \"Rate limit reached for gpt-4o-mini on requests per min (RPM):"
						 " Limit 3, Used 3, Requested 1.\", \"type\": \"requests\", \"param\": null,"
						 " \"code\": \"rate_limit_exceeded\"}}", &out, err), TOOL_RETRY);
	CHECK_CONTAINS(err, "Rate limit reached");
	CHECK(out == NULL);
	CHECK_INT(parse_body(task, &t, 429,
						 "{\"error\": {\"message\": \"You exceeded your current quota, please check your plan"
						 " and billing details.\", \"type\": \"insufficient_quota\", \"param\": null,"
						 " \"code\": \"insufficient_quota\"}}", &out, err), TOOL_FAIL);
	CHECK_CONTAINS(err, "exceeded your current quota");
	CHECK_INT(parse_body(task, &t, 401,
						 "{\"error\": {\"message\": \"Incorrect API key provided: sk-x.\","
						 " \"type\": \"invalid_request_error\", \"param\": null, \"code\": \"invalid_api_key\"}}",
						 &out, err), TOOL_FAIL);
	CHECK_STR(err, "LLM HTTP 401 invalid_api_key: Incorrect API key provided: sk-x.");
	CHECK_INT(parse_body(task, &t, 404, "{\"error\": \"model 'llama9' not found\"}", &out, err), TOOL_FAIL);
	CHECK_CONTAINS(err, "model 'llama9' not found");
	CHECK_INT(parse_body(task, &t, 503, "{\"detail\": \"overloaded\"}", &out, err), TOOL_RETRY);
	CHECK_CONTAINS(err, "overloaded");
	CHECK_INT(parse_body(task, &t, 200, "{\"choices\": []}", &out, err), TOOL_FAIL);
	CHECK(out == NULL);
	CHECK_INT(parse_body(task, &t, 200,
						 "{\"choices\": [{\"message\": {\"role\": \"assistant\", \"content\": null,"
						 " \"refusal\": \"I can't help with that.\"}}]}", &out, err), TOOL_FAIL);
	CHECK_CONTAINS(err, "refused");
	tctx_free(&t);
}

/*
 * classify_content
 *		Parse a classify answer whose message content is content (a C
 *		string, JSON-escaped here).
 */
static ToolOutcome
classify_content(TCtx *t, const char *content, cJSON **out, char *err)
{
	cJSON	   *resp = cJSON_Parse("{\"model\": \"gpt-4o-mini\", \"choices\": [{\"index\": 0,"
								   " \"message\": {\"role\": \"assistant\"}, \"finish_reason\": \"stop\"}]}");
	cJSON	   *msg = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(
																	 cJSON_GetObjectItemCaseSensitive(resp, "choices"), 0), "message");
	char	   *text;
	ToolOutcome o;

	cJSON_AddStringToObject(msg, "content", content);
	text = fdb_json_print(resp);
	o = parse_body(task_of("llm", "classify"), t, 200, text, out, err);
	free(text);
	cJSON_Delete(resp);
	return o;
}

TEST(llm_classify_parse)
{
	TCtx		t;
	cJSON	   *out;
	char		err[FDB_ERRLEN];

	tctx_init(&t, "{\"text\": \"x\", \"labels\": [\"sales\", \"support\", \"spam\"]}", NULL,
			  "https://api.openai.com/v1", "k");
	CHECK_INT(classify_content(&t, "{\"label\":\"support\",\"confidence\":0.92}", &out, err), TOOL_DONE);
	CHECK_STR(out_str(out, "label"), "support");
	CHECK(out_num(out, "confidence") == 0.92);
	CHECK_INT(cJSON_GetArraySize(out), 2);
	cJSON_Delete(out);

	/* lenient with local models: fence, case, spaces, confidence out of range */
	CHECK_INT(classify_content(&t, "```json\n{\"label\": \" Spam \", \"confidence\": 7}\n```", &out, err),
			  TOOL_DONE);
	CHECK_STR(out_str(out, "label"), "spam");
	CHECK(out_num(out, "confidence") == 1);
	cJSON_Delete(out);
	CHECK_INT(classify_content(&t, "{\"label\": \"sales\"}", &out, err), TOOL_DONE);
	CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(out, "confidence")));
	cJSON_Delete(out);

	CHECK_INT(classify_content(&t, "{\"label\":\"billing\",\"confidence\":0.8}", &out, err), TOOL_FAIL);
	CHECK_CONTAINS(err, "\"billing\" is not one of the labels");
	CHECK(out == NULL);
	CHECK_INT(classify_content(&t, "support", &out, err), TOOL_FAIL);
	CHECK_CONTAINS(err, "not JSON");
	CHECK_INT(classify_content(&t, "{\"confidence\": 0.5}", &out, err), TOOL_FAIL);
	CHECK_CONTAINS(err, "no label");
	CHECK_INT(classify_content(&t, "{\"label\": 3}", &out, err), TOOL_FAIL);
	tctx_free(&t);
}

TEST(llm_samples)
{
	TCtx		t;
	cJSON	   *out;

	tctx_init(&t, "{\"prompt\": \"Write a haiku\", \"text\": \"x\", \"labels\": [\"hot\", \"cold\"]}",
			  NULL, "https://api.openai.com/v1", "k");
	out = task_of("llm", "complete")->sample(&t.ctx);
	CHECK(strncmp(out_str(out, "text"), "[sandbox] ", 10) == 0);
	CHECK_CONTAINS(out_str(out, "text"), "Write a haiku");
	CHECK_STR(out_str(out, "model"), "gpt-4o-mini");
	CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(out, "usage")));
	cJSON_Delete(out);
	out = task_of("llm", "classify")->sample(&t.ctx);
	CHECK_STR(out_str(out, "label"), "hot");
	CHECK(out_num(out, "confidence") == 1);
	cJSON_Delete(out);
	tctx_free(&t);
}

/* ---------------------------------------------------------------- registry */

TEST(registry)
{
	static const char *const names[] = {"whatsapp", "razorpay", "instagram", "slack", "llm"};
	size_t		i;
	cJSON	   *catalog;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
	{
		const ToolService *svc = catalog_service(names[i]);
		size_t		n = strlen(names[i]);
		int			j;

		CHECK(svc != NULL);
		if (svc == NULL)
			continue;
		CHECK(svc->description && svc->description[0]);
		CHECK(strncmp(svc->default_base_url, "https://", 8) == 0);
		CHECK(svc->default_base_url[strlen(svc->default_base_url) - 1] != '/');
		CHECK(svc->credential_fields && svc->credential_fields[0]);
		CHECK(svc->events != NULL);
		for (j = 0; svc->events[j]; j++)
			CHECK(strncmp(svc->events[j], names[i], n) == 0 && svc->events[j][n] == '.');
		CHECK(svc->ntasks > 0);
		for (j = 0; j < svc->ntasks; j++)
		{
			const ToolTask *task = &svc->tasks[j];
			TCtx		t;
			cJSON	   *sample;
			int			k;

			CHECK(task->build && task->parse && task->sample);
			CHECK(task->description && task->output_description);
			for (k = 0; k < task->nparams; k++)
				CHECK(task->params[k].name && task->params[k].description);
			/* a sample never fails, even without params */
			tctx_init(&t, "{}", NULL, svc->default_base_url, NULL);
			sample = task->sample(&t.ctx);
			CHECK(cJSON_IsObject(sample));
			cJSON_Delete(sample);
			tctx_free(&t);
		}
	}
	catalog = catalog_to_json();
	CHECK(catalog != NULL);
	cJSON_Delete(catalog);
}

int
main(void)
{
	RUN(whatsapp_build_live);
	RUN(whatsapp_build_sandbox_media);
	RUN(whatsapp_build_errors);
	RUN(whatsapp_numeric_to);
	RUN(whatsapp_parse);
	RUN(whatsapp_sample);
	RUN(razorpay_paise);
	RUN(razorpay_link_build);
	RUN(razorpay_invoice_build);
	RUN(razorpay_fetch_build);
	RUN(razorpay_parse);
	RUN(razorpay_samples);
	RUN(instagram_phase_flow);
	RUN(instagram_errors);
	RUN(instagram_sandbox);
	RUN(slack_build);
	RUN(slack_build_errors);
	RUN(slack_parse);
	RUN(slack_sample);
	RUN(llm_complete_build);
	RUN(llm_build_errors);
	RUN(llm_classify_build);
	RUN(llm_complete_parse);
	RUN(llm_classify_parse);
	RUN(llm_samples);
	RUN(registry);
	return UNIT_SUMMARY();
}
