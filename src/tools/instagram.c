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
#include <string.h>

#include "catalog.h"

#define IG_SANDBOX_USER "IG_USER_ID"
#define IG_MAX_CAPTION 2200		/* characters, Instagram's limit */

/*
 * ig_sample_digits
 *		Write "17" followed by 15 decimal digits derived from the idempotency
 *		key and salt: the shape of Instagram media/container ids.
 */
static void
ig_sample_digits(const ToolContext *ctx, const char *salt, char out[18])
{
	tool_sample_id(ctx, salt, "17", "0123456789", 15, out, 18);
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

	if (!tool_param_string(ctx, "ig_user_id", &id, err, errlen))
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
 * ig_publish_build
 *		Phase 0: create the media container; phase 1: publish it.
 */
static bool
ig_publish_build(ToolContext *ctx, HttpRequest *req, char *err, size_t errlen)
{
	const char *image_url;
	const char *caption;
	const char *user;
	const char *token;
	char		sample_container[18];
	FdbBuf		form;

	http_request_init(req, "POST");
	if (!tool_param_string(ctx, "image_url", &image_url, err, errlen) ||
		!tool_param_string(ctx, "caption", &caption, err, errlen) ||
		!tool_param_required("image_url", image_url != NULL, err, errlen))
		return false;
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
	if ((user = ig_user_id(ctx, err, errlen)) == NULL ||
		!tool_credential_fields(ctx, "access_token", &token, NULL, NULL,
								err, errlen))
		return false;

	fdb_buf_init(&form);
	if (ctx->phase == 0)
	{
		tool_form_add(&form, "image_url", image_url);
		if (caption)
			tool_form_add(&form, "caption", caption);
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
		tool_form_add(&form, "creation_id", container);
	}
	else
	{
		fdb_fmt(err, errlen, "publish_photo has no phase %d", ctx->phase);
		fdb_buf_free(&form);
		return false;
	}

	req->url = fdb_asprintf("%s/%s/%s",
							tool_base_url(ctx, instagram_service.default_base_url), user,
							ctx->phase == 0 ? "media" : "media_publish");
	http_request_set_body(req, form.data, form.len);
	fdb_buf_free(&form);

	http_request_add_header(req, "Content-Type: application/x-www-form-urlencoded");
	http_request_add_header(req, "Accept: application/json");
	tool_bearer_header(req, token);
	tool_idempotency_header(ctx, req);
	return true;
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
	ToolOutcome outcome = tool_error_outcome(resp->status);
	const char *msg = NULL;
	const char *user_msg = NULL;
	double		code = 0;
	double		subcode = 0;

	*already_published = false;
	if (!cJSON_IsObject(error))
	{
		tool_http_error(err, errlen, "Graph", resp, NULL);
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

	if (tool_contains_ci(msg, "already published") ||
		tool_contains_ci(msg, "already been published") ||
		tool_contains_ci(user_msg, "already published") ||
		tool_contains_ci(user_msg, "already been published"))
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
		tool_http_error(err, errlen, "Graph", resp, "response has no id");
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
		tool_add_string_or_null(out, "container_id", container);
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

static const char *const ig_optional_credential_fields[] = {
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
	ig_credential_fields,
	ig_optional_credential_fields
};
