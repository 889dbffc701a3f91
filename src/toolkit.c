/*-------------------------------------------------------------------------
 *
 * toolkit.c
 *	  Helpers the provider tools in src/tools/ have in common (pure C):
 *	  params, credentials, auth headers, error texts, sandbox ids.
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
