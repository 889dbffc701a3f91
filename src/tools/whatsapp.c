/*-------------------------------------------------------------------------
 *
 * whatsapp.c
 *	  WhatsApp messages through Twilio's Programmable Messaging API.
 *
 * One task, send_message:
 *
 *	  POST {base}/2010-04-01/Accounts/{account_sid}/Messages.json
 *	  Content-Type: application/x-www-form-urlencoded
 *	  Authorization: Basic base64(account_sid:auth_token)
 *	  I-Twilio-Idempotency-Token: <idempotency key>
 *	  To=whatsapp:+...&From=whatsapp:+...&Body=...&MediaUrl=...
 *
 * Twilio puts the account SID in the URL path; it is an identifier, not a
 * secret.  The only secret (auth_token) travels in the Authorization
 * header.  Without a credential (sandbox) the request keeps its exact shape
 * with the placeholder account "ACXXXXXXXX", Twilio's WhatsApp sandbox
 * sender and no Authorization header.
 *
 * The idempotency key goes in I-Twilio-Idempotency-Token (and the generic
 * Idempotency-Key).  Twilio documents that header on the webhooks it sends;
 * it does not promise that the Messages API de-duplicates on it, so the
 * worker should not count on it: a retry after a lost answer may send the
 * message twice.
 *
 * Phone numbers are normalised to "whatsapp:+<E.164 digits>": spaces,
 * dashes, dots and parentheses are removed, a leading "00" becomes "+",
 * and a number without a country code is refused rather than guessed.
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog.h"

#define WA_PREFIX "whatsapp:"
#define WA_PREFIX_LEN 9
#define WA_ADDR_LEN 64			/* "whatsapp:+" and at most 15 digits fit */
#define WA_SANDBOX_ACCOUNT "ACXXXXXXXX"
#define WA_SANDBOX_FROM "whatsapp:+14155238886"

/*
 * wa_normalise_address
 *		Turn a phone number such as "+91 98765-43210" or
 *		"whatsapp:0091 98765 43210" into "whatsapp:+919876543210".
 *		False with err when the result is not "+" and 7 to 15 digits.
 */
static bool
wa_normalise_address(const char *in, const char *what, char *out, size_t outlen,
					 char *err, size_t errlen)
{
	char		digits[WA_ADDR_LEN];
	size_t		n = 0;
	bool		plus = false;
	const char *p = in;

	if (strncasecmp(p, WA_PREFIX, WA_PREFIX_LEN) == 0)
		p += WA_PREFIX_LEN;
	for (; *p; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c == ' ' || c == '\t' || c == '-' || c == '.' || c == '(' || c == ')')
			continue;
		if (c == '+' && n == 0 && !plus)
		{
			plus = true;
			continue;
		}
		if (!isdigit(c) || n >= sizeof(digits) - 1)
		{
			fdb_fmt(err, errlen,
					"%s \"%.64s\" is not a phone number (use international format, e.g. +919876543210)",
					what, in);
			return false;
		}
		digits[n++] = (char) c;
	}
	digits[n] = '\0';

	/* international call prefix 00 means + */
	if (!plus && n > 2 && digits[0] == '0' && digits[1] == '0')
	{
		memmove(digits, digits + 2, n - 1);
		n -= 2;
		plus = true;
	}
	if (!plus || n < 7 || n > 15 || digits[0] == '0')
	{
		fdb_fmt(err, errlen,
				"%s \"%.64s\" must be in international format with country code, e.g. +919876543210",
				what, in);
		return false;
	}
	fdb_fmt(out, outlen, WA_PREFIX "+%s", digits);
	return true;
}

/*
 * wa_is_sid
 *		Does s look like a Twilio account SID ("AC" and letters/digits)?
 */
static bool
wa_is_sid(const char *s)
{
	size_t		n;

	if (strncmp(s, "AC", 2) != 0)
		return false;
	for (n = 2; s[n]; n++)
		if (!isalnum((unsigned char) s[n]) || n >= 64)
			return false;
	return n > 2;
}

/*
 * wa_sample_hex
 *		Fill out with ndigits lower-case hex digits derived deterministically
 *		from seed (FNV-1a, one 64-bit hash per 16 digits); NUL-terminated.
 */
static void
wa_sample_hex(const char *seed, char *out, size_t ndigits)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t	h = 0;
	size_t		i;

	for (i = 0; i < ndigits; i++)
	{
		if (i % 16 == 0)
			h = tool_hash(TOOL_HASH_INIT ^ (uint64_t) (i / 16 + 1), seed);
		out[i] = hex[(h >> (60 - 4 * (i % 16))) & 0xF];
	}
	out[ndigits] = '\0';
}

/*
 * wa_send_build
 *		Build the Messages.json request for send_message.
 */
static bool
wa_send_build(ToolContext *ctx, HttpRequest *req, char *err, size_t errlen)
{
	char	   *to_raw = NULL;
	char	   *from_raw = NULL;
	char	   *body = NULL;
	char	   *media = NULL;
	const char *sid;
	const char *token;
	const char *from_src;
	char		to[WA_ADDR_LEN];
	char		from[WA_ADDR_LEN];
	bool		ok = false;

	http_request_init(req, "POST");

	if (!tool_param_text(ctx, "to", true, &to_raw, err, errlen) ||
		!tool_param_text(ctx, "from", true, &from_raw, err, errlen) ||
		!tool_param_text(ctx, "body", true, &body, err, errlen) ||
		!tool_param_text(ctx, "media_url", false, &media, err, errlen) ||
		!tool_param_required("to", to_raw != NULL, err, errlen))
		goto done;
	if (body == NULL && media == NULL)
	{
		fdb_fmt(err, errlen, "param body is required unless media_url is given");
		goto done;
	}
	if (!wa_normalise_address(to_raw, "to", to, sizeof(to), err, errlen) ||
		!tool_credential_fields(ctx, "account_sid", &sid, "auth_token", &token,
								err, errlen))
		goto done;
	if (sid == NULL)
		sid = WA_SANDBOX_ACCOUNT;
	else if (!wa_is_sid(sid))
	{
		fdb_fmt(err, errlen,
				"credential account_sid must look like \"AC\" followed by letters and digits");
		goto done;
	}

	/* sender: param override, else credential, else the sandbox number */
	from_src = from_raw ? from_raw :
		(ctx->credential ? fdb_json_str(ctx->credential, "from") : NULL);
	if (from_src && from_src[0])
	{
		if (!wa_normalise_address(from_src, "from", from, sizeof(from), err, errlen))
			goto done;
	}
	else if (ctx->credential == NULL)
		fdb_fmt(from, sizeof(from), "%s", WA_SANDBOX_FROM);
	else
	{
		fdb_fmt(err, errlen,
				"no sender: set the credential field from or the param from");
		goto done;
	}

	{
		FdbBuf		form;

		/* the SID is checked to be alphanumeric: safe in a path as it is */
		req->url = fdb_asprintf("%s/2010-04-01/Accounts/%s/Messages.json",
								tool_base_url(ctx, whatsapp_service.default_base_url),
								sid);

		fdb_buf_init(&form);
		tool_form_add(&form, "To", to);
		tool_form_add(&form, "From", from);
		if (body)
			tool_form_add(&form, "Body", body);
		if (media)
			tool_form_add(&form, "MediaUrl", media);
		http_request_set_body(req, form.data, form.len);
		fdb_buf_free(&form);
	}

	http_request_add_header(req, "Content-Type: application/x-www-form-urlencoded");
	http_request_add_header(req, "Accept: application/json");
	if (token)
		tool_basic_auth(req, sid, token);
	if (ctx->idempotency_key && ctx->idempotency_key[0])
		http_request_add_header(req, "I-Twilio-Idempotency-Token: %s",
								ctx->idempotency_key);
	tool_idempotency_header(ctx, req);
	ok = true;

done:
	free(to_raw);
	free(from_raw);
	free(body);
	free(media);
	return ok;
}

/*
 * wa_error_text
 *		Describe a failed Twilio response: "Twilio error 21211: message" from
 *		the documented {code, message} body, else the HTTP status and the
 *		start of the body.
 */
static void
wa_error_text(const HttpResponse *resp, const cJSON *body, char *err, size_t errlen)
{
	const char *msg = fdb_json_str(body, "message");
	double		code;

	if (msg && fdb_json_num(body, "code", &code))
		fdb_fmt(err, errlen, "Twilio error %.0f: %s", code, msg);
	else
		tool_http_error(err, errlen, "Twilio", resp, msg);
}

/*
 * wa_send_parse
 *		Classify the Messages.json response; output {sid, status, to}.
 */
static ToolOutcome
wa_send_parse(ToolContext *ctx, const HttpResponse *resp, cJSON **output,
			  char *err, size_t errlen)
{
	cJSON	   *body = http_response_body_json(resp);
	ToolOutcome outcome = tool_classify_status(resp->status);

	if (outcome == TOOL_DONE)
	{
		const char *sid = fdb_json_str(body, "sid");

		if (sid == NULL)
		{
			tool_http_error(err, errlen, "Twilio", resp, "response has no message sid");
			outcome = TOOL_FAIL;
		}
		else
		{
			const char *status = fdb_json_str(body, "status");
			cJSON	   *out = cJSON_CreateObject();

			cJSON_AddStringToObject(out, "sid", sid);
			cJSON_AddStringToObject(out, "status", status ? status : "queued");
			tool_add_string_or_null(out, "to", fdb_json_str(body, "to"));
			*output = out;
		}
	}
	else
		wa_error_text(resp, body, err, errlen);

	cJSON_Delete(body);
	return outcome;
}

/*
 * wa_send_sample
 *		A Twilio-shaped sandbox output whose sid ("SM" + 32 hex digits) is
 *		derived from the idempotency key.
 */
static cJSON *
wa_send_sample(ToolContext *ctx)
{
	char		hex[33];
	char		sid[40];
	char		to[WA_ADDR_LEN];
	char		err[FDB_ERRLEN];
	char	   *to_raw = NULL;
	cJSON	   *out = cJSON_CreateObject();

	wa_sample_hex(ctx->idempotency_key, hex, 32);
	fdb_fmt(sid, sizeof(sid), "SM%s", hex);
	cJSON_AddStringToObject(out, "sid", sid);
	cJSON_AddStringToObject(out, "status", "queued");

	if (tool_param_text(ctx, "to", true, &to_raw, err, sizeof(err)) && to_raw &&
		wa_normalise_address(to_raw, "to", to, sizeof(to), err, sizeof(err)))
		cJSON_AddStringToObject(out, "to", to);
	else
		cJSON_AddStringToObject(out, "to", to_raw ? to_raw : WA_PREFIX "+910000000000");
	free(to_raw);
	return out;
}

static const ToolParam wa_send_params[] = {
	{"to", PT_STRING, true,
	"Recipient phone number in international format, e.g. \"+91 98765 43210\"; "
	"spaces and dashes are removed and the \"whatsapp:\" prefix is added"},
	{"body", PT_STRING, false,
	"Message text (required unless media_url is given)"},
	{"media_url", PT_STRING, false,
	"Public URL of an image, PDF or other media to attach"},
	{"from", PT_STRING, false,
	"Sender WhatsApp number, overriding the credential's from"},
};

/* a message has text, media or both */
static const char *const wa_send_one_of[] = {"body,media_url", NULL};

static const ToolTask wa_tasks[] = {
	{
		"send_message",
		"Send a WhatsApp message (text and/or media) through Twilio",
		wa_send_params,
		(int) (sizeof(wa_send_params) / sizeof(wa_send_params[0])),
		"{sid: Twilio message SID \"SM...\", status: e.g. \"queued\", "
		"to: \"whatsapp:+919876543210\"}",
		wa_send_build,
		wa_send_parse,
		wa_send_sample,
		wa_send_one_of
	},
};

static const char *const wa_events[] = {
	"whatsapp.message.received",
	NULL
};

static const char *const wa_credential_fields[] = {
	"account_sid",
	"auth_token",
	"from",
	NULL
};

static const char *const wa_optional_credential_fields[] = {
	"from",
	NULL
};

const ToolService whatsapp_service = {
	"whatsapp",
	"WhatsApp Business messaging through Twilio",
	"https://api.twilio.com",
	wa_tasks,
	(int) (sizeof(wa_tasks) / sizeof(wa_tasks[0])),
	wa_events,
	wa_credential_fields,
	wa_optional_credential_fields
};
