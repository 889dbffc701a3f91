/*-------------------------------------------------------------------------
 *
 * slack.c
 *	  Post Slack messages with the Web API's chat.postMessage.
 *
 *	  POST {base}/chat.postMessage
 *	  Content-Type: application/json; charset=utf-8
 *	  Authorization: Bearer <bot_token>
 *	  {"channel": ..., "text": ..., "blocks": [...], "thread_ts": "..."}
 *
 * Slack answers HTTP 200 for most failures, with {"ok": false, "error":
 * "<code>"}.  "ratelimited" (and Slack's transient internal_error,
 * fatal_error, service_unavailable, request_timeout) are TOOL_RETRY; any
 * other code (channel_not_found, not_in_channel, invalid_auth, ...) is
 * TOOL_FAIL with the code in err.  HTTP 429 is TOOL_RETRY; the worker
 * honours Retry-After.
 *
 * The bot token travels only in the Authorization header; sandbox mode (no
 * credential) leaves it out.  Slack has no idempotency key for posting:
 * the Idempotency-Key header is sent but ignored, so a retry after a lost
 * answer can post twice.
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <string.h>

#include "catalog.h"

#define SLACK_MAX_BLOCKS 50		/* Slack's limit per message */

/*
 * slack_blocks
 *		The blocks param as a new array in *out (NULL when absent).  Accepts
 *		an array, a JSON text of one, or Block Kit Builder's {"blocks": [...]}.
 */
static bool
slack_blocks(const ToolContext *ctx, cJSON **out, char *err, size_t errlen)
{
	const cJSON *v = tool_param(ctx, "blocks");
	cJSON	   *parsed = NULL;
	const cJSON *arr = v;

	*out = NULL;
	if (v == NULL || (cJSON_IsString(v) && v->valuestring[0] == '\0'))
		return true;
	if (cJSON_IsString(v))
		arr = parsed = cJSON_Parse(v->valuestring);
	if (cJSON_IsObject(arr))
		arr = cJSON_GetObjectItemCaseSensitive(arr, "blocks");
	if (!cJSON_IsArray(arr))
	{
		fdb_fmt(err, errlen, "param blocks must be an array of Block Kit blocks");
		cJSON_Delete(parsed);
		return false;
	}
	if (cJSON_GetArraySize(arr) > SLACK_MAX_BLOCKS)
	{
		fdb_fmt(err, errlen, "param blocks has more than %d blocks", SLACK_MAX_BLOCKS);
		cJSON_Delete(parsed);
		return false;
	}
	*out = cJSON_Duplicate(arr, true);
	cJSON_Delete(parsed);
	return true;
}

/*
 * slack_post_build
 *		Build the chat.postMessage request.
 */
static bool
slack_post_build(ToolContext *ctx, HttpRequest *req, char *err, size_t errlen)
{
	const char *channel;
	const char *text;
	const char *thread_ts;
	const char *token;
	cJSON	   *blocks = NULL;
	cJSON	   *body;

	http_request_init(req, "POST");
	if (cJSON_IsNumber(tool_param(ctx, "thread_ts")))
	{
		/* a double cannot hold "1700000000.000100" exactly */
		fdb_fmt(err, errlen,
				"param thread_ts must be a string like \"1700000000.000100\"");
		return false;
	}
	if (!tool_param_string(ctx, "channel", &channel, err, errlen) ||
		!tool_param_string(ctx, "text", &text, err, errlen) ||
		!tool_param_string(ctx, "thread_ts", &thread_ts, err, errlen) ||
		!tool_param_required("channel", channel != NULL, err, errlen) ||
		!tool_credential_fields(ctx, "bot_token", &token, NULL, NULL, err, errlen) ||
		!slack_blocks(ctx, &blocks, err, errlen))
		return false;
	if (text == NULL && (blocks == NULL || cJSON_GetArraySize(blocks) == 0))
	{
		fdb_fmt(err, errlen, "param text is required unless blocks are given");
		cJSON_Delete(blocks);
		return false;
	}

	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "channel", channel);
	if (text)
		cJSON_AddStringToObject(body, "text", text);
	if (blocks)
		cJSON_AddItemToObject(body, "blocks", blocks);
	if (thread_ts)
		cJSON_AddStringToObject(body, "thread_ts", thread_ts);

	req->url = fdb_asprintf("%s/chat.postMessage",
							tool_base_url(ctx, slack_service.default_base_url));
	tool_set_json_body(req, body);
	http_request_add_header(req, "Content-Type: application/json; charset=utf-8");
	http_request_add_header(req, "Accept: application/json");
	tool_bearer_header(req, token);
	tool_idempotency_header(ctx, req);
	return true;
}

/*
 * slack_error_retryable
 *		Is this Slack error code transient?
 */
static bool
slack_error_retryable(const char *code)
{
	static const char *const transient[] = {
		"ratelimited", "rate_limited", "internal_error", "fatal_error",
		"service_unavailable", "request_timeout", NULL
	};
	int			i;

	for (i = 0; transient[i]; i++)
		if (strcmp(code, transient[i]) == 0)
			return true;
	return false;
}

/*
 * slack_post_parse
 *		Classify the answer; output {ok, channel, ts}.
 */
static ToolOutcome
slack_post_parse(ToolContext *ctx, const HttpResponse *resp, cJSON **output,
				 char *err, size_t errlen)
{
	cJSON	   *body = http_response_body_json(resp);
	ToolOutcome outcome = tool_classify_status(resp->status);
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(body, "ok");
	const char *code = fdb_json_str(body, "error");

	if (outcome == TOOL_DONE && cJSON_IsTrue(ok))
	{
		cJSON	   *out = cJSON_CreateObject();

		cJSON_AddBoolToObject(out, "ok", true);
		tool_add_string_or_null(out, "channel", fdb_json_str(body, "channel"));
		tool_add_string_or_null(out, "ts", fdb_json_str(body, "ts"));
		*output = out;
	}
	else
	{
		outcome = tool_error_outcome(resp->status);
		if (code == NULL)
			tool_http_error(err, errlen, "Slack", resp, NULL);
		else
		{
			fdb_fmt(err, errlen, "Slack error: %s", code);
			if (slack_error_retryable(code))
				outcome = TOOL_RETRY;
		}
	}
	cJSON_Delete(body);
	return outcome;
}

/*
 * slack_post_sample
 *		Sandbox output: the channel (a made-up id when given a name) and a
 *		message ts such as "1700123456.000789" derived from the key.
 */
static cJSON *
slack_post_sample(ToolContext *ctx)
{
	const cJSON *ch = tool_param(ctx, "channel");
	const char *channel = cJSON_IsString(ch) ? ch->valuestring : "";
	uint64_t	h = tool_sample_hash(ctx, NULL);
	const char *s;
	char		id[12];
	char		ts[32];
	bool		is_id = strlen(channel) >= 9 && strchr("CGD", channel[0]) != NULL;
	cJSON	   *out = cJSON_CreateObject();

	for (s = channel; is_id && *s; s++)
		if (!isupper((unsigned char) *s) && !isdigit((unsigned char) *s))
			is_id = false;
	fdb_fmt(ts, sizeof(ts), "%llu.%06llu",
			(unsigned long long) (1700000000 + h % 1000000),
			(unsigned long long) ((h / 1000000) % 1000000));
	tool_hash_id(tool_hash(TOOL_HASH_INIT, channel), "C",
				 "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", 10, id, sizeof(id));

	cJSON_AddBoolToObject(out, "ok", true);
	cJSON_AddStringToObject(out, "channel", is_id ? channel : id);
	cJSON_AddStringToObject(out, "ts", ts);
	return out;
}

static const ToolParam slack_post_params[] = {
	{"channel", PT_STRING, true,
	"Channel id (e.g. \"C0123456789\") or name (\"#sales\"); the bot must be a member"},
	{"text", PT_STRING, false,
	"Message text (mrkdwn); required unless blocks are given, and used as "
	"the notification fallback when they are"},
	{"blocks", PT_ARRAY, false, "Block Kit blocks (array)"},
	{"thread_ts", PT_STRING, false,
	"ts of the parent message to reply in its thread, e.g. \"1700000000.000100\""},
};

/* a message has text, blocks or both */
static const char *const slack_post_one_of[] = {"text,blocks", NULL};

static const ToolTask slack_tasks[] = {
	{
		"post_message",
		"Post a message to a Slack channel or thread",
		slack_post_params,
		(int) (sizeof(slack_post_params) / sizeof(slack_post_params[0])),
		"{ok: true, channel: channel id, ts: message timestamp (use as thread_ts)}",
		slack_post_build,
		slack_post_parse,
		slack_post_sample,
		slack_post_one_of
	},
};

static const char *const slack_events[] = {
	"slack.message",
	"slack.app_mention",
	"slack.reaction_added",
	NULL
};

static const char *const slack_credential_fields[] = {
	"bot_token",
	"team_id",
	"api_app_id",
	"signing_secret",
	NULL
};

/* the webhook fields: slack_webhook routes by team_id (or api_app_id), verifies with signing_secret */
static const char *const slack_optional_credential_fields[] = {
	"team_id",
	"api_app_id",
	"signing_secret",
	NULL
};

const ToolService slack_service = {
	"slack",
	"Slack: post messages as a bot",
	"https://slack.com/api",
	slack_tasks,
	(int) (sizeof(slack_tasks) / sizeof(slack_tasks[0])),
	slack_events,
	slack_credential_fields,
	slack_optional_credential_fields
};
