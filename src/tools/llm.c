/*-------------------------------------------------------------------------
 *
 * llm.c
 *	  Text completion and classification through an OpenAI-compatible
 *	  Chat Completions endpoint.
 *
 *	  POST {base}/chat/completions
 *	  Authorization: Bearer <api_key>	(left out when there is no key:
 *										 sandbox, or a local server)
 *
 * A local server that needs no key still needs a credential (an empty
 * object will do): without one the worker's automatic sandbox applies.
 *
 * The model is the "model" param, else ctx->settings' "model", else
 * LLM_DEFAULT_MODEL.  complete sends {model, messages, temperature?,
 * max_tokens?}; classify asks for a strict JSON schema
 * {label: one of labels, confidence: number} and checks the answer: a
 * label outside labels is TOOL_FAIL.  Some OpenAI-compatible servers do
 * not enforce schemas, so the parser also accepts the JSON wrapped in a
 * ```json fence and a label that differs only in case or surrounding
 * spaces (mapped back to the given label).
 *
 * HTTP 429 is TOOL_RETRY, except OpenAI's "insufficient_quota" (also sent
 * as 429), which no retry can fix: TOOL_FAIL.
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog.h"
#include "tools/llm.h"

#define LLM_MAX_LABELS 100
#define LLM_MAX_LABEL_LEN 200

/*
 * llm_model
 *		The model to use: param, else settings, else the default.
 */
const char *
llm_model(const ToolContext *ctx)
{
	const cJSON *v = tool_param(ctx, "model");
	const char *s;

	if (cJSON_IsString(v) && v->valuestring[0])
		return v->valuestring;
	s = ctx->settings ? fdb_json_str(ctx->settings, "model") : NULL;
	return (s && s[0]) ? s : LLM_DEFAULT_MODEL;
}

/*
 * llm_add_message
 *		Append {"role": role, "content": content} to a messages array.
 */
void
llm_add_message(cJSON *messages, const char *role, const char *content)
{
	cJSON	   *m = cJSON_CreateObject();

	cJSON_AddStringToObject(m, "role", role);
	cJSON_AddStringToObject(m, "content", content);
	cJSON_AddItemToArray(messages, m);
}

/*
 * llm_finish_request
 *		Install body (consumed), URL and headers in req.
 */
void
llm_finish_request(const ToolContext *ctx, HttpRequest *req, cJSON *body)
{
	req->url = fdb_asprintf("%s/chat/completions",
							tool_base_url(ctx, llm_service.default_base_url));
	tool_set_json_body(req, body);
	req->timeout_ms = LLM_TIMEOUT_MS;
	http_request_add_header(req, "Content-Type: application/json");
	http_request_add_header(req, "Accept: application/json");
	tool_bearer_header(req, ctx->credential ?
					   fdb_json_str(ctx->credential, "api_key") : NULL);
	tool_idempotency_header(ctx, req);
}

/*
 * llm_check_model
 *		A "model" param, when present, must be a string.
 */
bool
llm_check_model(const ToolContext *ctx, char *err, size_t errlen)
{
	const char *unused;

	return tool_param_string(ctx, "model", &unused, err, errlen);
}

/*
 * llm_complete_build
 *		Build a chat completion from prompt (+ system, temperature,
 *		max_tokens).
 */
static bool
llm_complete_build(ToolContext *ctx, HttpRequest *req, char *err, size_t errlen)
{
	const char *prompt;
	const char *system;
	const cJSON *temperature;
	const cJSON *max_tokens;
	cJSON	   *body;
	cJSON	   *messages;

	http_request_init(req, "POST");
	if (!tool_param_string(ctx, "prompt", &prompt, err, errlen) ||
		!tool_param_string(ctx, "system", &system, err, errlen) ||
		!llm_check_model(ctx, err, errlen) ||
		!tool_param_required("prompt", prompt != NULL, err, errlen) ||
		!tool_param_number(ctx, "temperature", 0, 2, false, &temperature,
						   err, errlen) ||
		!tool_param_number(ctx, "max_tokens", 1, 1000000, true, &max_tokens,
						   err, errlen))
		return false;

	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "model", llm_model(ctx));
	messages = cJSON_AddArrayToObject(body, "messages");
	if (system)
		llm_add_message(messages, "system", system);
	llm_add_message(messages, "user", prompt);
	if (temperature)
		cJSON_AddNumberToObject(body, "temperature", temperature->valuedouble);
	if (max_tokens)
		cJSON_AddNumberToObject(body, "max_tokens", max_tokens->valuedouble);
	llm_finish_request(ctx, req, body);
	return true;
}

/*
 * llm_check_labels
 *		labels must be a non-empty array of distinct non-empty strings.
 */
static bool
llm_check_labels(const cJSON *labels, char *err, size_t errlen)
{
	const cJSON *a;
	const cJSON *b;
	int			n;

	if (!cJSON_IsArray(labels) || (n = cJSON_GetArraySize(labels)) == 0)
	{
		fdb_fmt(err, errlen, "param labels must be a non-empty array of strings");
		return false;
	}
	if (n > LLM_MAX_LABELS)
	{
		fdb_fmt(err, errlen, "param labels has more than %d labels", LLM_MAX_LABELS);
		return false;
	}
	cJSON_ArrayForEach(a, labels)
	{
		if (!cJSON_IsString(a) || a->valuestring[0] == '\0' ||
			strlen(a->valuestring) > LLM_MAX_LABEL_LEN)
		{
			fdb_fmt(err, errlen,
					"param labels must hold non-empty strings of at most %d bytes",
					LLM_MAX_LABEL_LEN);
			return false;
		}
		for (b = a->next; b; b = b->next)
			if (cJSON_IsString(b) && strcmp(a->valuestring, b->valuestring) == 0)
			{
				fdb_fmt(err, errlen, "param labels has \"%.64s\" twice",
						a->valuestring);
				return false;
			}
	}
	return true;
}

/*
 * llm_classify_build
 *		Build a classification request with a strict JSON-schema answer.
 */
static bool
llm_classify_build(ToolContext *ctx, HttpRequest *req, char *err, size_t errlen)
{
	const char *text;
	const char *instructions;
	const cJSON *labels = tool_param(ctx, "labels");
	cJSON	   *body;
	cJSON	   *messages;
	cJSON	   *format;
	cJSON	   *schema;
	cJSON	   *inner;
	cJSON	   *props;
	cJSON	   *label;
	cJSON	   *conf;
	cJSON	   *required;
	char	   *label_list;
	FdbBuf		sys;

	http_request_init(req, "POST");
	if (!tool_param_string(ctx, "text", &text, err, errlen) ||
		!tool_param_string(ctx, "instructions", &instructions, err, errlen) ||
		!llm_check_model(ctx, err, errlen) ||
		!tool_param_required("text", text != NULL, err, errlen) ||
		!llm_check_labels(labels, err, errlen))
		return false;

	label_list = fdb_json_print(labels);
	fdb_buf_init(&sys);
	fdb_buf_printf(&sys,
				   "You are a text classifier. Choose exactly one label from "
				   "this list: %s. Answer with JSON {\"label\": <one of the "
				   "labels, verbatim>, \"confidence\": <number from 0 to 1>}.",
				   label_list);
	if (instructions)
		fdb_buf_printf(&sys, "\n\nInstructions: %s", instructions);
	free(label_list);

	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "model", llm_model(ctx));
	messages = cJSON_AddArrayToObject(body, "messages");
	llm_add_message(messages, "system", sys.data);
	llm_add_message(messages, "user", text);
	fdb_buf_free(&sys);
	cJSON_AddNumberToObject(body, "temperature", 0);

	format = cJSON_AddObjectToObject(body, "response_format");
	cJSON_AddStringToObject(format, "type", "json_schema");
	schema = cJSON_AddObjectToObject(format, "json_schema");
	cJSON_AddStringToObject(schema, "name", "classification");
	cJSON_AddBoolToObject(schema, "strict", true);
	inner = cJSON_AddObjectToObject(schema, "schema");
	cJSON_AddStringToObject(inner, "type", "object");
	props = cJSON_AddObjectToObject(inner, "properties");
	label = cJSON_AddObjectToObject(props, "label");
	cJSON_AddStringToObject(label, "type", "string");
	cJSON_AddItemToObject(label, "enum", cJSON_Duplicate(labels, true));
	conf = cJSON_AddObjectToObject(props, "confidence");
	cJSON_AddStringToObject(conf, "type", "number");
	required = cJSON_AddArrayToObject(inner, "required");
	cJSON_AddItemToArray(required, cJSON_CreateString("label"));
	cJSON_AddItemToArray(required, cJSON_CreateString("confidence"));
	cJSON_AddBoolToObject(inner, "additionalProperties", false);

	llm_finish_request(ctx, req, body);
	return true;
}

/*
 * llm_error
 *		Classify a failed response and describe it in err.  Understands
 *		OpenAI's {error: {message, type, code}} and the {error: "..."},
 *		{detail: "..."} and {message: "..."} shapes of compatible servers.
 */
ToolOutcome
llm_error(const HttpResponse *resp, const cJSON *body, char *err, size_t errlen)
{
	ToolOutcome outcome = tool_error_outcome(resp->status);
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(body, "error");
	const char *msg = NULL;
	const char *code = NULL;
	const char *type = NULL;

	if (cJSON_IsObject(error))
	{
		msg = fdb_json_str(error, "message");
		code = fdb_json_str(error, "code");
		type = fdb_json_str(error, "type");
	}
	else if (cJSON_IsString(error))
		msg = error->valuestring;
	if (msg == NULL)
		msg = fdb_json_str(body, "detail");
	if (msg == NULL)
		msg = fdb_json_str(body, "message");

	if (msg)
		fdb_fmt(err, errlen, "LLM HTTP %ld%s%s: %s", resp->status,
				code ? " " : "", code ? code : "", msg);
	else
		tool_http_error(err, errlen, "LLM", resp, NULL);

	/* out of credit is answered with 429 too, but waiting cannot fix it */
	if ((code && strcmp(code, "insufficient_quota") == 0) ||
		(type && strcmp(type, "insufficient_quota") == 0))
		outcome = TOOL_FAIL;
	return outcome;
}

/*
 * llm_message
 *		For a 2xx answer: the first choice's message (borrowed from body) and
 *		its content and finish_reason.  TOOL_FAIL with err when there is no
 *		usable content (no choices, a refusal, a non-string content).
 */
ToolOutcome
llm_message(const HttpResponse *resp, const cJSON *body, const char **content,
			const char **finish_reason, char *err, size_t errlen)
{
	const cJSON *choices = cJSON_GetObjectItemCaseSensitive(body, "choices");
	const cJSON *first = cJSON_GetArrayItem(choices, 0);
	const cJSON *message = cJSON_GetObjectItemCaseSensitive(first, "message");
	const char *refusal = fdb_json_str(message, "refusal");

	*content = fdb_json_str(message, "content");
	*finish_reason = fdb_json_str(first, "finish_reason");
	if (refusal && refusal[0])
	{
		fdb_fmt(err, errlen, "LLM refused: %s", refusal);
		return TOOL_FAIL;
	}
	if (!cJSON_IsObject(message) || *content == NULL)
	{
		fdb_fmt(err, errlen, "LLM HTTP %ld: response has no message content: %.200s",
				resp->status, resp->body ? resp->body : "");
		return TOOL_FAIL;
	}
	return TOOL_DONE;
}

/*
 * llm_answer
 *		The message of a chat completion: the error class of a failed
 *		status, else what llm_message finds in the body.
 */
ToolOutcome
llm_answer(const HttpResponse *resp, const cJSON *body, const char **content,
		   const char **finish, char *err, size_t errlen)
{
	if (tool_classify_status(resp->status) != TOOL_DONE)
		return llm_error(resp, body, err, errlen);
	return llm_message(resp, body, content, finish, err, errlen);
}

/*
 * llm_complete_parse
 *		Output {text, model, usage, finish_reason}.
 */
static ToolOutcome
llm_complete_parse(ToolContext *ctx, const HttpResponse *resp, cJSON **output,
				   char *err, size_t errlen)
{
	cJSON	   *body = http_response_body_json(resp);
	const char *content;
	const char *finish;
	ToolOutcome outcome;

	if ((outcome = llm_answer(resp, body, &content, &finish, err, errlen)) == TOOL_DONE)
	{
		const char *model = fdb_json_str(body, "model");
		const cJSON *usage = cJSON_GetObjectItemCaseSensitive(body, "usage");
		cJSON	   *out = cJSON_CreateObject();

		cJSON_AddStringToObject(out, "text", content);
		cJSON_AddStringToObject(out, "model", model ? model : llm_model(ctx));
		cJSON_AddItemToObject(out, "usage", cJSON_IsObject(usage) ?
							  cJSON_Duplicate(usage, true) : cJSON_CreateNull());
		tool_add_string_or_null(out, "finish_reason", finish);
		*output = out;
	}
	cJSON_Delete(body);
	return outcome;
}

/*
 * llm_parse_json_answer
 *		Parse the JSON object in content, tolerating a ```json fence or text
 *		around it.  NULL when there is none.
 */
cJSON *
llm_parse_json_answer(const char *content)
{
	const char *start = strchr(content, '{');
	const char *end = strrchr(content, '}');
	cJSON	   *v = cJSON_Parse(content);

	if (cJSON_IsObject(v))
		return v;
	cJSON_Delete(v);
	if (start == NULL || end == NULL || end < start)
		return NULL;
	v = cJSON_ParseWithLength(start, (size_t) (end - start + 1));
	if (cJSON_IsObject(v))
		return v;
	cJSON_Delete(v);
	return NULL;
}

/*
 * llm_match_label
 *		The element of labels equal to answer, else one equal ignoring case
 *		and surrounding whitespace; NULL when none.
 */
static const char *
llm_match_label(const cJSON *labels, const char *answer)
{
	const cJSON *l;
	size_t		len;

	cJSON_ArrayForEach(l, labels)
	{
		if (cJSON_IsString(l) && strcmp(l->valuestring, answer) == 0)
			return l->valuestring;
	}
	while (isspace((unsigned char) *answer))
		answer++;
	len = strlen(answer);
	while (len > 0 && isspace((unsigned char) answer[len - 1]))
		len--;
	cJSON_ArrayForEach(l, labels)
	{
		if (cJSON_IsString(l) && strlen(l->valuestring) == len &&
			strncasecmp(l->valuestring, answer, len) == 0)
			return l->valuestring;
	}
	return NULL;
}

/*
 * llm_classify_parse
 *		Output {label, confidence}; a label outside labels is TOOL_FAIL.
 *		confidence is clamped to [0, 1], null when the model gave none.
 */
static ToolOutcome
llm_classify_parse(ToolContext *ctx, const HttpResponse *resp, cJSON **output,
				   char *err, size_t errlen)
{
	cJSON	   *body = http_response_body_json(resp);
	const cJSON *labels = tool_param(ctx, "labels");
	const char *content;
	const char *finish;
	ToolOutcome outcome;
	cJSON	   *answer = NULL;

	if ((outcome = llm_answer(resp, body, &content, &finish, err, errlen)) == TOOL_DONE)
	{
		const char *label;
		const char *match = NULL;
		double		confidence;

		answer = llm_parse_json_answer(content);
		label = fdb_json_str(answer, "label");
		if (label)
			match = llm_match_label(labels, label);

		if (answer == NULL)
		{
			fdb_fmt(err, errlen, "LLM answer is not JSON%s: %.200s",
					(finish && strcmp(finish, "length") == 0) ? " (truncated)" : "",
					content);
			outcome = TOOL_FAIL;
		}
		else if (label == NULL)
		{
			fdb_fmt(err, errlen, "LLM answer has no label: %.200s", content);
			outcome = TOOL_FAIL;
		}
		else if (match == NULL)
		{
			fdb_fmt(err, errlen, "LLM label \"%.100s\" is not one of the labels",
					label);
			outcome = TOOL_FAIL;
		}
		else
		{
			cJSON	   *out = cJSON_CreateObject();

			cJSON_AddStringToObject(out, "label", match);
			if (fdb_json_num(answer, "confidence", &confidence))
				cJSON_AddNumberToObject(out, "confidence",
										confidence < 0 ? 0 : confidence > 1 ? 1 : confidence);
			else
				cJSON_AddNullToObject(out, "confidence");
			*output = out;
		}
	}
	cJSON_Delete(answer);
	cJSON_Delete(body);
	return outcome;
}

/*
 * llm_complete_sample
 *		Sandbox completion: "[sandbox] " and the start of the prompt.
 */
static cJSON *
llm_complete_sample(ToolContext *ctx)
{
	const cJSON *p = tool_param(ctx, "prompt");
	char	   *text;
	cJSON	   *out = cJSON_CreateObject();
	cJSON	   *usage;

	text = fdb_asprintf("[sandbox] reply to: %.80s",
						cJSON_IsString(p) ? p->valuestring : "");
	cJSON_AddStringToObject(out, "text", text);
	free(text);
	cJSON_AddStringToObject(out, "model", llm_model(ctx));
	usage = cJSON_AddObjectToObject(out, "usage");
	cJSON_AddNumberToObject(usage, "prompt_tokens", 0);
	cJSON_AddNumberToObject(usage, "completion_tokens", 0);
	cJSON_AddNumberToObject(usage, "total_tokens", 0);
	cJSON_AddStringToObject(out, "finish_reason", "stop");
	return out;
}

/*
 * llm_classify_sample
 *		Sandbox classification: the first label, confidence 1.
 */
static cJSON *
llm_classify_sample(ToolContext *ctx)
{
	const cJSON *first = cJSON_GetArrayItem(tool_param(ctx, "labels"), 0);
	cJSON	   *out = cJSON_CreateObject();

	cJSON_AddStringToObject(out, "label",
							cJSON_IsString(first) ? first->valuestring : "");
	cJSON_AddNumberToObject(out, "confidence", 1);
	return out;
}

static const ToolParam llm_complete_params[] = {
	{"prompt", PT_STRING, true, "The user message to answer"},
	{"system", PT_STRING, false, "System instructions (tone, role, format)"},
	{"temperature", PT_NUMBER, false, "Sampling temperature 0-2 (lower = more focused)"},
	{"max_tokens", PT_INTEGER, false, "Upper bound on the reply length in tokens"},
	{"model", PT_STRING, false, "Model name, overriding the configured default"},
};

static const ToolParam llm_classify_params[] = {
	{"text", PT_STRING, true, "The text to classify"},
	{"labels", PT_ARRAY, true,
	"Allowed labels (array of strings), e.g. [\"sales\", \"support\", \"spam\"]"},
	{"instructions", PT_STRING, false, "Extra guidance on how to pick a label"},
	{"model", PT_STRING, false, "Model name, overriding the configured default"},
};

static const ToolTask llm_tasks[] = {
	{
		"complete",
		"Generate text with a language model (draft replies, summaries, extraction)",
		llm_complete_params,
		(int) (sizeof(llm_complete_params) / sizeof(llm_complete_params[0])),
		"{text, model, usage: {prompt_tokens, completion_tokens, total_tokens}, "
		"finish_reason}",
		llm_complete_build,
		llm_complete_parse,
		llm_complete_sample
	},
	{
		"classify",
		"Classify text into exactly one of the given labels",
		llm_classify_params,
		(int) (sizeof(llm_classify_params) / sizeof(llm_classify_params[0])),
		"{label: one of labels, confidence: number 0-1}",
		llm_classify_build,
		llm_classify_parse,
		llm_classify_sample
	},
	{
		"draft_workflow",
		"Draft a workflow blueprint from a plain-language description (flow_draft)",
		llm_draft_params, LLM_DRAFT_NPARAMS,
		"{blueprint: object or null, valid: boolean, problems: [\"path: message\"], "
		"model, repaired: boolean}",
		llm_draft_build,
		llm_draft_parse,
		llm_draft_sample
	},
	{
		"parse_intent",
		"Understand a shop owner's command: intent, entities and confidence (intent_parse)",
		llm_intent_params, LLM_INTENT_NPARAMS,
		"{intent, entities: {contact, phone, amount, ...}, confidence: number 0-1, model}",
		llm_intent_build,
		llm_intent_parse,
		llm_intent_sample
	},
	{
		"transcribe",
		"Transcribe speech (base64 audio) with a Whisper-compatible API",
		llm_transcribe_params, LLM_TRANSCRIBE_NPARAMS,
		"{text, model, language}",
		llm_transcribe_build,
		llm_transcribe_parse,
		llm_transcribe_sample
	},
};

static const char *const llm_events[] = {
	NULL
};

static const char *const llm_credential_fields[] = {
	"api_key",
	NULL
};

static const char *const llm_optional_credential_fields[] = {
	"api_key",
	NULL
};

const ToolService llm_service = {
	"llm",
	"Language model (OpenAI-compatible): complete, classify, draft workflows, parse commands, transcribe speech",
	"https://api.openai.com/v1",
	llm_tasks,
	(int) (sizeof(llm_tasks) / sizeof(llm_tasks[0])),
	llm_events,
	llm_credential_fields,
	llm_optional_credential_fields
};
