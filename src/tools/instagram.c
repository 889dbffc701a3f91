/*-------------------------------------------------------------------------
 *
 * instagram.c
 *	  Instagram photo publishing through the Graph API (two requests).
 *
 * publish_photo is one step made of two phases:
 *
 *	  phase 0: POST {base}/{ig_user_id}/media
 *			   image_url=...&caption=...		-> {"id": <container id>}
 *	  phase 1: POST {base}/{ig_user_id}/media_publish
 *			   creation_id=<container id>		-> {"id": <media id>}
 *
 * After phase 0 the parser stores {"container_id": "<id>"} in
 * ctx->phase_state and returns TOOL_NEXT; the worker must persist
 * phase_state (and the phase number) before sending phase 1, so that a
 * crash or a retry of phase 1 reuses the same container instead of making
 * a second one.  The Graph API refuses to publish a container twice: when
 * a retried phase 1 is answered with an error saying the container was
 * already published (the first attempt succeeded but its answer was lost),
 * the step is TOOL_DONE with {container_id, already_published: true}.
 * "Media ID is not available" (code 9007, subcode 2207027: the container
 * is still being processed) is TOOL_RETRY, so phase 1 is simply retried
 * with the same container.
 *
 * The access token travels only in "Authorization: Bearer" (never as the
 * access_token query/body field).  Sandbox mode (no credential) leaves the
 * header out and uses "IG_USER_ID" as the account placeholder.
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog.h"

#define IG_SANDBOX_USER "IG_USER_ID"
#define IG_MAX_CAPTION 2200		/* characters, Instagram's limit */

/*
 * ig_base_url
 *		The service base URL from the context, or the default.
 */
static const char *
ig_base_url(const ToolContext *ctx)
{
	return (ctx->base_url && ctx->base_url[0]) ? ctx->base_url :
		"https://graph.facebook.com/v19.0";
}

/*
 * ig_param_str
 *		An optional string param into *out (borrowed; NULL when absent, null
 *		or empty).  False with err when present with another type.
 */
static bool
ig_param_str(const ToolContext *ctx, const char *name, const char **out,
			 char *err, size_t errlen)
{
	const cJSON *v = ctx->params ?
		cJSON_GetObjectItemCaseSensitive(ctx->params, name) : NULL;

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v))
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
 * ig_sample_digits
 *		Write "17" followed by 15 decimal digits derived from the idempotency
 *		key and salt (FNV-1a): the shape of Instagram media/container ids.
 */
static void
ig_sample_digits(const ToolContext *ctx, const char *salt, char out[18])
{
	uint64_t	h = 14695981039346656037ULL;
	const char *s;
	int			i;

	for (s = salt; *s; s++)
		h = (h ^ (unsigned char) *s) * 1099511628211ULL;
	for (s = ctx->idempotency_key ? ctx->idempotency_key : ""; *s; s++)
		h = (h ^ (unsigned char) *s) * 1099511628211ULL;
	out[0] = '1';
	out[1] = '7';
	for (i = 2; i < 17; i++)
	{
		out[i] = (char) ('0' + h % 10);
		h /= 10;
	}
	out[17] = '\0';
}

/*
 * ig_user_id
 *		The IG user id: param, else credential, else the sandbox placeholder.
 *		NULL with err in live mode when neither gives one.
 */
static const char *
ig_user_id(const ToolContext *ctx, char *err, size_t errlen)
{
	const char *id;

	if (!ig_param_str(ctx, "ig_user_id", &id, err, errlen))
		return NULL;
	if (id == NULL && ctx->credential)
		id = fdb_json_str(ctx->credential, "ig_user_id");
	if (id && id[0])
	{
		size_t		n;

		/* numeric ids (or "me"): safe in the URL path without escaping */
		for (n = 0; id[n]; n++)
			if ((!isalnum((unsigned char) id[n]) && id[n] != '_') || n >= 64)
			{
				fdb_fmt(err, errlen, "ig_user_id \"%.64s\" must be the numeric account id",
						id);
				return NULL;
			}
		return id;
	}
	if (ctx->credential == NULL)
		return IG_SANDBOX_USER;
	fdb_fmt(err, errlen,
			"no Instagram account: set the credential field ig_user_id or the param ig_user_id");
	return NULL;
}

/*
 * ig_utf8_length
 *		Number of UTF-8 characters in s.
 */
static size_t
ig_utf8_length(const char *s)
{
	size_t		n = 0;

	for (; *s; s++)
		if (((unsigned char) *s & 0xC0) != 0x80)
			n++;
	return n;
}

/*
 * ig_form_add
 *		Append "name=value" (value form-encoded) to a form body.
 */
static void
ig_form_add(FdbBuf *form, const char *name, const char *value)
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
 * ig_publish_build
 *		Phase 0: create the media container; phase 1: publish it.
 */
static bool
ig_publish_build(ToolContext *ctx, HttpRequest *req, char *err, size_t errlen)
{
	const char *image_url;
	const char *caption;
	const char *user;
	const char *token = NULL;
	char		sample_container[18];
	FdbBuf		form;

	http_request_init(req, "POST");
	if (!ig_param_str(ctx, "image_url", &image_url, err, errlen) ||
		!ig_param_str(ctx, "caption", &caption, err, errlen))
		return false;
	if (image_url == NULL)
	{
		fdb_fmt(err, errlen, "param image_url is required");
		return false;
	}
	if (strncmp(image_url, "https://", 8) != 0 && strncmp(image_url, "http://", 7) != 0)
	{
		fdb_fmt(err, errlen, "param image_url must be a public http(s) URL");
		return false;
	}
	if (caption && ig_utf8_length(caption) > IG_MAX_CAPTION)
	{
		fdb_fmt(err, errlen, "param caption is longer than %d characters",
				IG_MAX_CAPTION);
		return false;
	}
	if ((user = ig_user_id(ctx, err, errlen)) == NULL)
		return false;
	if (ctx->credential)
	{
		token = fdb_json_str(ctx->credential, "access_token");
		if (token == NULL || token[0] == '\0')
		{
			fdb_fmt(err, errlen, "credential needs access_token");
			return false;
		}
	}

	fdb_buf_init(&form);
	if (ctx->phase == 0)
	{
		ig_form_add(&form, "image_url", image_url);
		if (caption)
			ig_form_add(&form, "caption", caption);
	}
	else if (ctx->phase == 1)
	{
		const char *container = fdb_json_str(ctx->phase_state, "container_id");

		if (container == NULL || container[0] == '\0')
		{
			if (ctx->credential)
			{
				fdb_fmt(err, errlen, "phase 1 needs container_id in phase_state");
				fdb_buf_free(&form);
				return false;
			}
			/* sandbox: the container the sample would have created */
			ig_sample_digits(ctx, "container", sample_container);
			container = sample_container;
		}
		ig_form_add(&form, "creation_id", container);
	}
	else
	{
		fdb_fmt(err, errlen, "publish_photo has no phase %d", ctx->phase);
		fdb_buf_free(&form);
		return false;
	}

	req->url = fdb_asprintf("%s/%s/%s", ig_base_url(ctx), user,
							ctx->phase == 0 ? "media" : "media_publish");
	http_request_set_body(req, form.data, form.len);
	fdb_buf_free(&form);

	http_request_add_header(req, "Content-Type: application/x-www-form-urlencoded");
	http_request_add_header(req, "Accept: application/json");
	if (token)
		http_request_add_header(req, "Authorization: Bearer %s", token);
	if (ctx->idempotency_key && ctx->idempotency_key[0])
		http_request_add_header(req, "Idempotency-Key: %s", ctx->idempotency_key);
	return true;
}

/*
 * ig_contains_ci
 *		Case-insensitive substring test (NULL haystack: false).
 */
static bool
ig_contains_ci(const char *hay, const char *needle)
{
	size_t		n = strlen(needle);

	if (hay == NULL)
		return false;
	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	return false;
}

/*
 * ig_graph_error
 *		Classify a failed Graph response and describe it in err from the
 *		documented {error: {message, code, error_subcode, is_transient,
 *		error_user_msg}} shape.  *already_published tells whether the error
 *		says the container was already published.
 */
static ToolOutcome
ig_graph_error(const HttpResponse *resp, const cJSON *body,
			   bool *already_published, char *err, size_t errlen)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(body, "error");
	ToolOutcome outcome = tool_classify_status(resp->status);
	const char *msg = NULL;
	const char *user_msg = NULL;
	double		code = 0;
	double		subcode = 0;

	*already_published = false;
	if (outcome == TOOL_DONE)
		outcome = TOOL_FAIL;
	if (!cJSON_IsObject(error))
	{
		fdb_fmt(err, errlen, "Graph HTTP %ld: %.200s", resp->status,
				resp->body ? resp->body : "");
		return outcome;
	}
	msg = fdb_json_str(error, "message");
	user_msg = fdb_json_str(error, "error_user_msg");
	fdb_json_num(error, "code", &code);
	fdb_json_num(error, "error_subcode", &subcode);

	if (subcode != 0)
		fdb_fmt(err, errlen, "Graph error %.0f/%.0f: %s%s%s", code, subcode,
				msg ? msg : "unknown error",
				user_msg ? " - " : "", user_msg ? user_msg : "");
	else
		fdb_fmt(err, errlen, "Graph error %.0f: %s%s%s", code,
				msg ? msg : "unknown error",
				user_msg ? " - " : "", user_msg ? user_msg : "");

	if (ig_contains_ci(msg, "already published") ||
		ig_contains_ci(msg, "already been published") ||
		ig_contains_ci(user_msg, "already published") ||
		ig_contains_ci(user_msg, "already been published"))
	{
		*already_published = true;
		return TOOL_FAIL;
	}

	/* transient: rate limits, temporary outages, media still processing */
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(error, "is_transient")) ||
		code == 1 || code == 2 || code == 4 || code == 17 || code == 32 ||
		code == 341 || code == 613 || code == 9007 ||
		subcode == 2207001 || subcode == 2207003 || subcode == 2207027)
		return TOOL_RETRY;
	return outcome;
}

/*
 * ig_publish_parse
 *		Phase 0: remember the container and ask for phase 1 (TOOL_NEXT).
 *		Phase 1: output {id, container_id}.
 */
static ToolOutcome
ig_publish_parse(ToolContext *ctx, const HttpResponse *resp, cJSON **output,
				 char *err, size_t errlen)
{
	cJSON	   *body = http_response_body_json(resp);
	const char *id = fdb_json_str(body, "id");
	const char *container = fdb_json_str(ctx->phase_state, "container_id");
	ToolOutcome outcome;
	bool		already = false;

	if (tool_classify_status(resp->status) != TOOL_DONE)
	{
		outcome = ig_graph_error(resp, body, &already, err, errlen);
		if (already && ctx->phase == 1 && container)
		{
			cJSON	   *out = cJSON_CreateObject();

			cJSON_AddStringToObject(out, "container_id", container);
			cJSON_AddBoolToObject(out, "already_published", true);
			*output = out;
			err[0] = '\0';
			outcome = TOOL_DONE;
		}
	}
	else if (id == NULL || id[0] == '\0')
	{
		fdb_fmt(err, errlen, "Graph HTTP %ld: response has no id", resp->status);
		outcome = TOOL_FAIL;
	}
	else if (ctx->phase == 0)
	{
		cJSON_DeleteItemFromObjectCaseSensitive(ctx->phase_state, "container_id");
		cJSON_AddStringToObject(ctx->phase_state, "container_id", id);
		outcome = TOOL_NEXT;
	}
	else
	{
		cJSON	   *out = cJSON_CreateObject();

		cJSON_AddStringToObject(out, "id", id);
		if (container)
			cJSON_AddStringToObject(out, "container_id", container);
		else
			cJSON_AddNullToObject(out, "container_id");
		*output = out;
		outcome = TOOL_DONE;
	}
	cJSON_Delete(body);
	return outcome;
}

/*
 * ig_publish_sample
 *		Sandbox output {id, container_id} with Instagram-shaped numeric ids.
 */
static cJSON *
ig_publish_sample(ToolContext *ctx)
{
	char		id[18];
	char		container[18];
	cJSON	   *out = cJSON_CreateObject();

	ig_sample_digits(ctx, "media", id);
	ig_sample_digits(ctx, "container", container);
	cJSON_AddStringToObject(out, "id", id);
	cJSON_AddStringToObject(out, "container_id", container);
	return out;
}

static const ToolParam ig_publish_params[] = {
	{"image_url", PT_STRING, true,
	"Public https URL of a JPEG image (Instagram downloads it)"},
	{"caption", PT_STRING, false,
	"Post caption with hashtags/mentions, at most 2200 characters"},
	{"ig_user_id", PT_STRING, false,
	"Instagram professional account id, overriding the credential's"},
};

static const ToolTask ig_tasks[] = {
	{
		"publish_photo",
		"Publish a photo post to an Instagram professional account",
		ig_publish_params,
		(int) (sizeof(ig_publish_params) / sizeof(ig_publish_params[0])),
		"{id: published media id, container_id} (or {container_id, "
		"already_published: true} when a retry finds it already published)",
		ig_publish_build,
		ig_publish_parse,
		ig_publish_sample
	},
};

static const char *const ig_events[] = {
	"instagram.comment.created",
	NULL
};

static const char *const ig_credential_fields[] = {
	"access_token",
	"ig_user_id",
	NULL
};

const ToolService instagram_service = {
	"instagram",
	"Instagram professional accounts: publish photo posts (Graph API)",
	"https://graph.facebook.com/v19.0",
	ig_tasks,
	(int) (sizeof(ig_tasks) / sizeof(ig_tasks[0])),
	ig_events,
	ig_credential_fields
};
