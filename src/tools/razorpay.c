/*-------------------------------------------------------------------------
 *
 * razorpay.c
 *	  Razorpay payment links, invoices and payment look-ups.
 *
 *	  create_payment_link	POST {base}/v1/payment_links	(JSON)
 *	  create_invoice		POST {base}/v1/invoices			(JSON)
 *	  fetch_payment			GET  {base}/v1/payments/{id}
 *
 * Authentication is HTTP Basic base64(key_id:key_secret) in the
 * Authorization header (the only place a secret goes); in sandbox mode
 * (no credential) the header is left out and the request keeps its shape.
 * Razorpay does not document an idempotency header: POSTs still carry
 * "Idempotency-Key" (harmless, useful to proxies) but a retried POST may
 * create a second link or invoice; reference_id (unique per account) is the
 * provider's own guard against duplicate payment links.
 *
 * Amounts: users give major units (rupees), as a JSON number or a plain
 * decimal string ("499.50").  Razorpay wants an integer count of the
 * currency's smallest unit (paise for INR).  Numbers are first printed with
 * 15 significant digits, which undoes binary floating error (0.1 + 0.2
 * prints as "0.3", 1.005 as "1.005"), then the decimal text is converted
 * exactly, rounding half away from zero.  The currency's exponent follows
 * ISO 4217 (2 by default, 0 for JPY and similar, 3 for KWD and similar).
 * Amounts must be > 0 and at most 1e9 major units.
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"

#define RZP_MAX_MAJOR INT64_C(1000000000)	/* largest amount, major units */
#define RZP_MAX_QUANTITY 1000000

/*
 * rzp_base_url
 *		The service base URL from the context, or the default.
 */
static const char *
rzp_base_url(const ToolContext *ctx)
{
	return tool_base_url(ctx, razorpay_service.default_base_url);
}

/*
 * rzp_currency_exponent
 *		Number of decimal places of a currency's smallest unit (ISO 4217).
 */
static int
rzp_currency_exponent(const char *currency)
{
	static const char *const zero[] = {
		"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
		"UGX", "VND", "VUV", "XAF", "XOF", "XPF", NULL
	};
	static const char *const three[] = {
		"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND", NULL
	};
	int			i;

	for (i = 0; zero[i]; i++)
		if (strcmp(currency, zero[i]) == 0)
			return 0;
	for (i = 0; three[i]; i++)
		if (strcmp(currency, three[i]) == 0)
			return 3;
	return 2;
}

/*
 * rzp_currency
 *		The currency param upper-cased into out (default "INR"); false with
 *		err unless it is three letters.
 */
static bool
rzp_currency(const ToolContext *ctx, char out[4], char *err, size_t errlen)
{
	const cJSON *v = tool_param(ctx, "currency");
	const char *s;
	int			i;

	if (v == NULL || (cJSON_IsString(v) && v->valuestring[0] == '\0'))
	{
		memcpy(out, "INR", 4);
		return true;
	}
	s = cJSON_IsString(v) ? v->valuestring : "";
	for (i = 0; i < 3; i++)
	{
		if (!isalpha((unsigned char) s[i]))
			break;
		out[i] = (char) toupper((unsigned char) s[i]);
	}
	if (i != 3 || s[3] != '\0')
	{
		fdb_fmt(err, errlen, "param currency must be a 3-letter code such as \"INR\"");
		return false;
	}
	out[3] = '\0';
	return true;
}

/*
 * rzp_pow10
 *		10 to the power e (0..3).
 */
static int64_t
rzp_pow10(int e)
{
	int64_t		r = 1;

	while (e-- > 0)
		r *= 10;
	return r;
}

/*
 * rzp_decimal_to_minor
 *		Convert decimal text ("499.5", " 1000 ") in major units to an exact
 *		count of minor units, rounding half away from zero.  False with err
 *		for malformed text, amounts <= 0, amounts that round to zero and
 *		amounts above RZP_MAX_MAJOR.
 */
static bool
rzp_decimal_to_minor(const char *text, const char *name, int exponent,
					 const char *currency, int64_t *minor,
					 char *err, size_t errlen)
{
	const char *p = text;
	int64_t		whole = 0;
	int64_t		frac = 0;
	int64_t		scale = rzp_pow10(exponent);
	int64_t		total;
	int			ndigits = 0;
	int			fdigits = 0;
	int			round_digit = 0;
	bool		nonzero = false;
	bool		too_big = false;

	while (isspace((unsigned char) *p))
		p++;
	if (*p == '-')
	{
		fdb_fmt(err, errlen, "param %s must be greater than zero (got %.40s)",
				name, text);
		return false;
	}
	if (*p == '+')
		p++;
	for (; isdigit((unsigned char) *p); p++, ndigits++)
	{
		if (*p != '0')
			nonzero = true;
		if (whole > RZP_MAX_MAJOR)
			too_big = true;
		else
			whole = whole * 10 + (*p - '0');
	}
	if (*p == '.')
	{
		for (p++; isdigit((unsigned char) *p); p++, ndigits++)
		{
			if (*p != '0')
				nonzero = true;
			if (fdigits < exponent)
			{
				frac = frac * 10 + (*p - '0');
				fdigits++;
			}
			else if (fdigits == exponent)
			{
				round_digit = *p - '0';
				fdigits++;		/* later digits cannot change the rounding */
			}
		}
	}
	while (isspace((unsigned char) *p))
		p++;
	if (*p != '\0' || ndigits == 0)
	{
		fdb_fmt(err, errlen,
				"param %s must be an amount in %s like 499.50 (got \"%.40s\")",
				name, currency, text);
		return false;
	}
	if (!nonzero)
	{
		fdb_fmt(err, errlen, "param %s must be greater than zero (got %.40s)",
				name, text);
		return false;
	}
	for (; fdigits < exponent; fdigits++)
		frac *= 10;
	if (too_big || whole > RZP_MAX_MAJOR)
		total = RZP_MAX_MAJOR * scale + 1;
	else
		total = whole * scale + frac + (round_digit >= 5 ? 1 : 0);

	if (total > RZP_MAX_MAJOR * scale)
	{
		fdb_fmt(err, errlen, "param %s exceeds the maximum of %lld %s",
				name, (long long) RZP_MAX_MAJOR, currency);
		return false;
	}
	if (total <= 0)
	{
		fdb_fmt(err, errlen,
				"param %s (%.40s) is smaller than the smallest unit of %s",
				name, text, currency);
		return false;
	}
	*minor = total;
	return true;
}

/*
 * rzp_amount
 *		Read the amount param named name (number or decimal string, major
 *		units) as minor units of currency.  False with err when it is
 *		missing or invalid.
 */
static bool
rzp_amount(const ToolContext *ctx, const char *name, const char *currency,
		   int64_t *minor, char *err, size_t errlen)
{
	const cJSON *v = tool_param(ctx, name);
	int			exponent = rzp_currency_exponent(currency);
	char		text[64];

	if (!tool_param_required(name, v != NULL, err, errlen))
		return false;
	if (cJSON_IsString(v))
		return rzp_decimal_to_minor(v->valuestring, name, exponent, currency,
									minor, err, errlen);
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
	{
		fdb_fmt(err, errlen, "param %s must be a number", name);
		return false;
	}
	if (v->valuedouble <= 0)
	{
		fdb_fmt(err, errlen, "param %s must be greater than zero (got %g)",
				name, v->valuedouble);
		return false;
	}
	if (v->valuedouble > (double) RZP_MAX_MAJOR)
	{
		fdb_fmt(err, errlen, "param %s exceeds the maximum of %lld %s",
				name, (long long) RZP_MAX_MAJOR, currency);
		return false;
	}
	if (v->valuedouble < 1e-4)
	{
		/* below half of any smallest unit; %g would switch to exponents */
		fdb_fmt(err, errlen, "param %s (%g) is smaller than the smallest unit of %s",
				name, v->valuedouble, currency);
		return false;
	}
	/* 15 significant digits: exact decimal text, no binary noise */
	snprintf(text, sizeof(text), "%.15g", v->valuedouble);
	return rzp_decimal_to_minor(text, name, exponent, currency, minor,
								err, errlen);
}

/*
 * rzp_major
 *		Minor units back to major units (for amount_rupees).
 */
static double
rzp_major(double minor, const char *currency)
{
	return minor / (double) rzp_pow10(rzp_currency_exponent(currency));
}

/*
 * rzp_check_credential
 *		In live mode the credential must hold key_id and key_secret.
 */
static bool
rzp_check_credential(const ToolContext *ctx, char *err, size_t errlen)
{
	const char *id;
	const char *secret;

	return tool_credential_fields(ctx, "key_id", &id, "key_secret", &secret,
								  err, errlen);
}

/*
 * rzp_add_headers
 *		Authorization (live mode only), Accept and, for POSTs, the JSON
 *		content type and the Idempotency-Key.
 */
static void
rzp_add_headers(const ToolContext *ctx, HttpRequest *req, bool json_body)
{
	if (json_body)
		http_request_add_header(req, "Content-Type: application/json");
	http_request_add_header(req, "Accept: application/json");
	if (ctx->credential)
		tool_basic_auth(req, fdb_json_str(ctx->credential, "key_id"),
						fdb_json_str(ctx->credential, "key_secret"));
	if (json_body)
		tool_idempotency_header(ctx, req);
}

/*
 * rzp_customer
 *		A {name, contact, email} object from the given texts, NULL when all
 *		are NULL.
 */
static cJSON *
rzp_customer(const char *name, const char *contact, const char *email)
{
	cJSON	   *c;

	if (!name && !contact && !email)
		return NULL;
	c = cJSON_CreateObject();
	if (name)
		cJSON_AddStringToObject(c, "name", name);
	if (contact)
		cJSON_AddStringToObject(c, "contact", contact);
	if (email)
		cJSON_AddStringToObject(c, "email", email);
	return c;
}

/*
 * rzp_link_build
 *		Build POST /v1/payment_links.
 */
static bool
rzp_link_build(ToolContext *ctx, HttpRequest *req, char *err, size_t errlen)
{
	char		currency[4];
	int64_t		minor;
	char	   *description = NULL;
	char	   *name = NULL;
	char	   *contact = NULL;
	char	   *email = NULL;
	char	   *reference = NULL;
	bool		ok = false;

	http_request_init(req, "POST");
	if (!rzp_currency(ctx, currency, err, errlen) ||
		!rzp_amount(ctx, "amount", currency, &minor, err, errlen) ||
		!tool_param_text(ctx, "description", false, &description, err, errlen) ||
		!tool_param_text(ctx, "customer_name", false, &name, err, errlen) ||
		!tool_param_text(ctx, "customer_contact", true, &contact, err, errlen) ||
		!tool_param_text(ctx, "customer_email", false, &email, err, errlen) ||
		!tool_param_text(ctx, "reference_id", true, &reference, err, errlen) ||
		!rzp_check_credential(ctx, err, errlen))
		goto done;
	if (reference && strlen(reference) > 40)
	{
		fdb_fmt(err, errlen, "param reference_id must be at most 40 characters");
		goto done;
	}

	{
		cJSON	   *body = cJSON_CreateObject();
		cJSON	   *customer = rzp_customer(name, contact, email);

		cJSON_AddNumberToObject(body, "amount", (double) minor);
		cJSON_AddStringToObject(body, "currency", currency);
		if (description)
			cJSON_AddStringToObject(body, "description", description);
		if (reference)
			cJSON_AddStringToObject(body, "reference_id", reference);
		if (customer)
			cJSON_AddItemToObject(body, "customer", customer);
		if (contact || email)
		{
			cJSON	   *notify = cJSON_AddObjectToObject(body, "notify");

			cJSON_AddBoolToObject(notify, "sms", contact != NULL);
			cJSON_AddBoolToObject(notify, "email", email != NULL);
		}
		req->url = fdb_asprintf("%s/v1/payment_links", rzp_base_url(ctx));
		tool_set_json_body(req, body);
	}
	rzp_add_headers(ctx, req, true);
	ok = true;

done:
	free(description);
	free(name);
	free(contact);
	free(email);
	free(reference);
	return ok;
}

/*
 * rzp_invoice_build
 *		Build POST /v1/invoices with a single line item.
 */
static bool
rzp_invoice_build(ToolContext *ctx, HttpRequest *req, char *err, size_t errlen)
{
	char		currency[4];
	int64_t		minor;
	double		quantity = 1;
	const cJSON *qv;
	char	   *name = NULL;
	char	   *contact = NULL;
	char	   *email = NULL;
	char	   *item = NULL;
	char	   *description = NULL;
	bool		ok = false;

	http_request_init(req, "POST");
	if (!tool_param_text(ctx, "customer_name", false, &name, err, errlen) ||
		!rzp_currency(ctx, currency, err, errlen) ||
		!rzp_amount(ctx, "amount", currency, &minor, err, errlen) ||
		!tool_param_text(ctx, "item_name", false, &item, err, errlen) ||
		!tool_param_text(ctx, "description", false, &description, err, errlen) ||
		!tool_param_text(ctx, "customer_contact", true, &contact, err, errlen) ||
		!tool_param_text(ctx, "customer_email", false, &email, err, errlen) ||
		!rzp_check_credential(ctx, err, errlen) ||
		!tool_param_required("customer_name", name != NULL, err, errlen) ||
		!tool_param_number(ctx, "quantity", 1, RZP_MAX_QUANTITY, true, &qv,
						   err, errlen))
		goto done;
	if (qv)
		quantity = qv->valuedouble;

	{
		cJSON	   *body = cJSON_CreateObject();
		cJSON	   *items;
		cJSON	   *line = cJSON_CreateObject();

		cJSON_AddStringToObject(body, "type", "invoice");
		if (description)
			cJSON_AddStringToObject(body, "description", description);
		cJSON_AddStringToObject(body, "currency", currency);
		cJSON_AddItemToObject(body, "customer", rzp_customer(name, contact, email));
		items = cJSON_AddArrayToObject(body, "line_items");
		cJSON_AddStringToObject(line, "name", item ? item : "Services");
		cJSON_AddNumberToObject(line, "amount", (double) minor);
		cJSON_AddStringToObject(line, "currency", currency);
		cJSON_AddNumberToObject(line, "quantity", quantity);
		cJSON_AddItemToArray(items, line);
		req->url = fdb_asprintf("%s/v1/invoices", rzp_base_url(ctx));
		tool_set_json_body(req, body);
	}
	rzp_add_headers(ctx, req, true);
	ok = true;

done:
	free(name);
	free(contact);
	free(email);
	free(item);
	free(description);
	return ok;
}

/*
 * rzp_path_escape
 *		Percent-escape s for one URL path segment (malloc'd): like
 *		fdb_urlencode but a space is %20, since '+' is literal in a path.
 */
static char *
rzp_path_escape(const char *s)
{
	char	   *form = fdb_urlencode(s);
	FdbBuf		out;
	const char *p;

	fdb_buf_init(&out);
	for (p = form; *p; p++)
	{
		if (*p == '+')
			fdb_buf_puts(&out, "%20");
		else
			fdb_buf_append(&out, p, 1);
	}
	free(form);
	if (out.data == NULL)
		return fdb_strdup("");
	return out.data;
}

/*
 * rzp_payment_build
 *		Build GET /v1/payments/{payment_id} (id percent-escaped).
 */
static bool
rzp_payment_build(ToolContext *ctx, HttpRequest *req, char *err, size_t errlen)
{
	char	   *id = NULL;
	char	   *enc;

	http_request_init(req, "GET");
	if (!tool_param_text(ctx, "payment_id", false, &id, err, errlen) ||
		!rzp_check_credential(ctx, err, errlen) ||
		!tool_param_required("payment_id", id != NULL, err, errlen))
	{
		free(id);
		return false;
	}
	enc = rzp_path_escape(id);
	req->url = fdb_asprintf("%s/v1/payments/%s", rzp_base_url(ctx), enc);
	free(enc);
	free(id);
	rzp_add_headers(ctx, req, false);
	return true;
}

/*
 * rzp_response
 *		Classify a Razorpay response.  On TOOL_DONE returns the parsed body
 *		(which has a string "id"; caller deletes it); otherwise NULL with err
 *		set from the documented {error: {code, description, field}} shape.
 */
static cJSON *
rzp_response(const HttpResponse *resp, ToolOutcome *outcome,
			 char *err, size_t errlen)
{
	cJSON	   *body = http_response_body_json(resp);
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(body, "error");

	*outcome = tool_classify_status(resp->status);
	if (*outcome == TOOL_DONE)
	{
		if (fdb_json_str(body, "id"))
			return body;
		tool_http_error(err, errlen, "Razorpay", resp, "response has no id");
		*outcome = TOOL_FAIL;
	}
	else if (cJSON_IsObject(error) && fdb_json_str(error, "description"))
	{
		const char *code = fdb_json_str(error, "code");
		const char *field = fdb_json_str(error, "field");

		if (field && field[0])
			fdb_fmt(err, errlen, "Razorpay %s: %s (field %s)",
					code ? code : "error", fdb_json_str(error, "description"), field);
		else
			fdb_fmt(err, errlen, "Razorpay %s: %s",
					code ? code : "error", fdb_json_str(error, "description"));
	}
	else
		tool_http_error(err, errlen, "Razorpay", resp, NULL);
	cJSON_Delete(body);
	return NULL;
}

/*
 * rzp_parse_output
 *		Classify a response with rzp_response and on TOOL_DONE output the
 *		fields named in keys (NULL-terminated), in that order: copies of the
 *		body's fields (null when absent), except "currency" (default "INR")
 *		and "amount_rupees" (amount in major units of that currency).
 */
static ToolOutcome
rzp_parse_output(const HttpResponse *resp, const char *const *keys,
				 cJSON **output, char *err, size_t errlen)
{
	ToolOutcome outcome;
	cJSON	   *body = rzp_response(resp, &outcome, err, errlen);
	const char *currency;
	cJSON	   *out;
	int			i;

	if (body == NULL)
		return outcome;
	currency = fdb_json_str(body, "currency");
	if (currency == NULL)
		currency = "INR";
	out = cJSON_CreateObject();
	for (i = 0; keys[i]; i++)
	{
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, keys[i]);
		double		amount;

		if (strcmp(keys[i], "currency") == 0)
			cJSON_AddStringToObject(out, "currency", currency);
		else if (strcmp(keys[i], "amount_rupees") != 0)
			cJSON_AddItemToObject(out, keys[i],
								  v ? cJSON_Duplicate(v, true) : cJSON_CreateNull());
		else if (fdb_json_num(body, "amount", &amount))
			cJSON_AddNumberToObject(out, "amount_rupees", rzp_major(amount, currency));
		else
			cJSON_AddNullToObject(out, "amount_rupees");
	}
	*output = out;
	cJSON_Delete(body);
	return outcome;
}

/*
 * rzp_link_parse
 *		Output {id, short_url, status, amount, amount_rupees, currency}.
 */
static ToolOutcome
rzp_link_parse(ToolContext *ctx, const HttpResponse *resp, cJSON **output,
			   char *err, size_t errlen)
{
	static const char *const keys[] = {
		"id", "short_url", "status", "amount", "amount_rupees", "currency", NULL
	};

	return rzp_parse_output(resp, keys, output, err, errlen);
}

/*
 * rzp_invoice_parse
 *		Output {id, short_url, status, amount, currency}.
 */
static ToolOutcome
rzp_invoice_parse(ToolContext *ctx, const HttpResponse *resp, cJSON **output,
				  char *err, size_t errlen)
{
	static const char *const keys[] = {
		"id", "short_url", "status", "amount", "currency", NULL
	};

	return rzp_parse_output(resp, keys, output, err, errlen);
}

/*
 * rzp_payment_parse
 *		Output {id, status, amount, amount_rupees, currency, method, email,
 *		contact}.
 */
static ToolOutcome
rzp_payment_parse(ToolContext *ctx, const HttpResponse *resp, cJSON **output,
				  char *err, size_t errlen)
{
	static const char *const keys[] = {
		"id", "status", "amount", "amount_rupees", "currency", "method",
		"email", "contact", NULL
	};

	return rzp_parse_output(resp, keys, output, err, errlen);
}

/*
 * rzp_sample_id
 *		Write prefix followed by n base62 characters derived from the
 *		idempotency key and salt (FNV-1a), like Razorpay's 14-character ids.
 */
static void
rzp_sample_id(const ToolContext *ctx, const char *salt, const char *prefix,
			  int n, char *out, size_t outlen)
{
	static const char alphabet[] =
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	uint64_t	h = tool_sample_hash(ctx, salt);
	size_t		len = strlen(prefix);
	int			i;

	fdb_fmt(out, outlen, "%s", prefix);
	for (i = 0; i < n && len + i + 1 < outlen; i++)
	{
		out[len + i] = alphabet[h % 62];
		h = (h / 62) ^ ((h * 1099511628211ULL) << 7);
	}
	out[len + i] = '\0';
}

/*
 * rzp_sample_document
 *		Sandbox payment link or invoice: an id prefix + 14 characters and an
 *		rzp.io short URL (both derived from salt), status, amount in minor
 *		units (the amount param times quantity, 100 when it is invalid),
 *		amount_rupees when with_major, and currency.
 */
static cJSON *
rzp_sample_document(ToolContext *ctx, const char *salt, const char *prefix,
					const char *status, double quantity, bool with_major)
{
	char		err[FDB_ERRLEN];
	char		currency[4];
	char		id[32];
	char		code[16];
	char	   *url_salt = fdb_asprintf("%s_url", salt);
	char	   *url;
	int64_t		minor;
	cJSON	   *out = cJSON_CreateObject();

	if (!rzp_currency(ctx, currency, err, sizeof(err)))
		memcpy(currency, "INR", 4);
	if (!rzp_amount(ctx, "amount", currency, &minor, err, sizeof(err)))
		minor = 100;
	rzp_sample_id(ctx, salt, prefix, 14, id, sizeof(id));
	rzp_sample_id(ctx, url_salt, "", 7, code, sizeof(code));
	url = fdb_asprintf("https://rzp.io/i/%s", code);
	cJSON_AddStringToObject(out, "id", id);
	cJSON_AddStringToObject(out, "short_url", url);
	cJSON_AddStringToObject(out, "status", status);
	cJSON_AddNumberToObject(out, "amount", (double) minor * quantity);
	if (with_major)
		cJSON_AddNumberToObject(out, "amount_rupees", rzp_major((double) minor, currency));
	cJSON_AddStringToObject(out, "currency", currency);
	free(url);
	free(url_salt);
	return out;
}

/*
 * rzp_link_sample
 *		Sandbox payment link: plink_... with an rzp.io short URL.
 */
static cJSON *
rzp_link_sample(ToolContext *ctx)
{
	return rzp_sample_document(ctx, "payment_link", "plink_", "created", 1, true);
}

/*
 * rzp_invoice_sample
 *		Sandbox invoice: inv_..., status "issued", amount = price * quantity.
 */
static cJSON *
rzp_invoice_sample(ToolContext *ctx)
{
	const cJSON *qv = tool_param(ctx, "quantity");
	double		quantity = 1;

	if (cJSON_IsNumber(qv) && qv->valuedouble >= 1 &&
		qv->valuedouble <= RZP_MAX_QUANTITY)
		quantity = floor(qv->valuedouble);
	return rzp_sample_document(ctx, "invoice", "inv_", "issued", quantity, false);
}

/*
 * rzp_payment_sample
 *		Sandbox captured UPI payment of Rs 499.50.
 */
static cJSON *
rzp_payment_sample(ToolContext *ctx)
{
	const cJSON *pid = tool_param(ctx, "payment_id");
	char		id[32];
	cJSON	   *out = cJSON_CreateObject();

	if (cJSON_IsString(pid) && pid->valuestring[0])
		cJSON_AddStringToObject(out, "id", pid->valuestring);
	else
	{
		rzp_sample_id(ctx, "payment", "pay_", 14, id, sizeof(id));
		cJSON_AddStringToObject(out, "id", id);
	}
	cJSON_AddStringToObject(out, "status", "captured");
	cJSON_AddNumberToObject(out, "amount", 49950);
	cJSON_AddNumberToObject(out, "amount_rupees", 499.5);
	cJSON_AddStringToObject(out, "currency", "INR");
	cJSON_AddStringToObject(out, "method", "upi");
	cJSON_AddStringToObject(out, "email", "customer@example.com");
	cJSON_AddStringToObject(out, "contact", "+919000090000");
	return out;
}

static const ToolParam rzp_link_params[] = {
	{"amount", PT_NUMBER, true,
	"Amount in rupees (major units), e.g. 499.5; converted to paise"},
	{"currency", PT_STRING, false, "ISO currency code, default \"INR\""},
	{"description", PT_STRING, false, "What the payment is for"},
	{"customer_name", PT_STRING, false, "Customer's name"},
	{"customer_contact", PT_STRING, false,
	"Customer's phone number; Razorpay sends the link by SMS"},
	{"customer_email", PT_STRING, false,
	"Customer's email; Razorpay sends the link by email"},
	{"reference_id", PT_STRING, false,
	"Your unique reference (e.g. order number), at most 40 characters"},
};

static const ToolParam rzp_invoice_params[] = {
	{"customer_name", PT_STRING, true, "Customer's name"},
	{"amount", PT_NUMBER, true,
	"Price of one unit in rupees (major units), e.g. 1499.99"},
	{"item_name", PT_STRING, false, "Line item name, default \"Services\""},
	{"quantity", PT_INTEGER, false, "Number of units, default 1"},
	{"description", PT_STRING, false, "Invoice description"},
	{"currency", PT_STRING, false, "ISO currency code, default \"INR\""},
	{"customer_contact", PT_STRING, false, "Customer's phone number"},
	{"customer_email", PT_STRING, false, "Customer's email"},
};

static const ToolParam rzp_payment_params[] = {
	{"payment_id", PT_STRING, true, "Razorpay payment id, e.g. \"pay_29QQoUBi66xm2f\""},
};

static const ToolTask rzp_tasks[] = {
	{
		"create_payment_link",
		"Create a Razorpay payment link (optionally sent to the customer by SMS/email)",
		rzp_link_params,
		(int) (sizeof(rzp_link_params) / sizeof(rzp_link_params[0])),
		"{id: \"plink_...\", short_url: \"https://rzp.io/i/...\", status: \"created\", "
		"amount: paise (integer), amount_rupees: number, currency}",
		rzp_link_build,
		rzp_link_parse,
		rzp_link_sample
	},
	{
		"create_invoice",
		"Create and issue a Razorpay invoice with one line item",
		rzp_invoice_params,
		(int) (sizeof(rzp_invoice_params) / sizeof(rzp_invoice_params[0])),
		"{id: \"inv_...\", short_url: \"https://rzp.io/i/...\", status: \"issued\", "
		"amount: total in paise, currency}",
		rzp_invoice_build,
		rzp_invoice_parse,
		rzp_invoice_sample
	},
	{
		"fetch_payment",
		"Look up a Razorpay payment by id",
		rzp_payment_params,
		(int) (sizeof(rzp_payment_params) / sizeof(rzp_payment_params[0])),
		"{id, status: e.g. \"captured\", amount: paise, amount_rupees, currency, "
		"method: e.g. \"upi\", email, contact}",
		rzp_payment_build,
		rzp_payment_parse,
		rzp_payment_sample
	},
};

static const char *const rzp_events[] = {
	"razorpay.payment.captured",
	"razorpay.payment.failed",
	"razorpay.payment_link.paid",
	"razorpay.invoice.paid",
	"razorpay.order.paid",
	"razorpay.refund.created",
	NULL
};

static const char *const rzp_credential_fields[] = {
	"key_id",
	"key_secret",
	"account_id",
	"webhook_secret",
	NULL
};

/* the webhook fields: razorpay_webhook routes by account_id, verifies with webhook_secret */
static const char *const rzp_optional_credential_fields[] = {
	"account_id",
	"webhook_secret",
	NULL
};

const ToolService razorpay_service = {
	"razorpay",
	"Razorpay payments (India): payment links, invoices, payment look-ups",
	"https://api.razorpay.com",
	rzp_tasks,
	(int) (sizeof(rzp_tasks) / sizeof(rzp_tasks[0])),
	rzp_events,
	rzp_credential_fields,
	rzp_optional_credential_fields
};
