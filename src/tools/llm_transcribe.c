/*-------------------------------------------------------------------------
 *
 * llm_transcribe.c
 *	  llm.transcribe: speech to text through a Whisper-compatible API.
 *
 *	  POST {base}/audio/transcriptions
 *	  Content-Type: multipart/form-data; boundary=...
 *	  parts: file (the audio), model, and language / prompt when given
 *
 * Blueprint params are JSON, so the audio travels base64-encoded in the
 * "audio" param (PostgreSQL's encode(..., 'base64') line breaks are
 * accepted) and is decoded while the body is built.  The boundary is
 * derived from the step's idempotency key, so a resent step sends the same
 * bytes.  The model is the "model" param (flowdb.transcription_model,
 * filled in by the SQL that builds the run), else whisper-1.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "tools/llm.h"

#define TRANSCRIBE_MAX_AUDIO (25 * 1024 * 1024)	/* Whisper's upload limit */

/*
 * b64_value
 *		Value of one base64 character, -1 when it is not one.
 */
static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/*
 * llm_base64_decode
 *		Decode standard or URL-safe base64, skipping whitespace; padding is
 *		optional.  malloc'd bytes and *len, or NULL when text is not base64.
 */
unsigned char *
llm_base64_decode(const char *text, size_t *len)
{
	size_t		n = strlen(text);
	unsigned char *out = malloc(n / 4 * 3 + 3);
	size_t		o = 0;
	unsigned int acc = 0;
	int			bits = 0;
	bool		pad = false;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
	{
		char		c = text[i];
		int			v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=')
		{
			pad = true;
			continue;
		}
		v = b64_value(c);
		if (v < 0 || pad)
		{
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned int) v;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			out[o++] = (unsigned char) ((acc >> bits) & 0xFF);
		}
	}
	if (bits >= 6)
	{
		/* a lone trailing character cannot encode a byte */
		free(out);
		return NULL;
	}
	*len = o;
	return out;
}

/*
 * part_header
 *		Append the header of one form-data part to body.
 */
static void
part_header(FdbBuf *body, const char *boundary, const char *name,
			const char *filename, const char *content_type)
{
	fdb_buf_printf(body, "--%s\r\nContent-Disposition: form-data; name=\"%s\"",
				   boundary, name);
	if (filename)
		fdb_buf_printf(body, "; filename=\"%s\"", filename);
	fdb_buf_puts(body, "\r\n");
	if (content_type)
		fdb_buf_printf(body, "Content-Type: %s\r\n", content_type);
	fdb_buf_puts(body, "\r\n");
}

/*
 * part_text
 *		Append one text field (skipped when value is NULL).
 */
static void
part_text(FdbBuf *body, const char *boundary, const char *name, const char *value)
{
	if (value == NULL)
		return;
	part_header(body, boundary, name, NULL, NULL);
	fdb_buf_puts(body, value);
	fdb_buf_puts(body, "\r\n");
}

/*
 * safe_token
 *		Is s safe inside a quoted header parameter or a header value (no
 *		quotes, CR, LF or control characters)?
 */
static bool
safe_token(const char *s)
{
	for (; *s; s++)
	{
		if ((unsigned char) *s < 0x20 || *s == '"' || *s == '\\' || *s == 0x7f)
			return false;
	}
	return true;
}

/*
 * llm_transcribe_build
 *		The multipart POST of the decoded audio.
 */
bool
llm_transcribe_build(ToolContext *ctx, HttpRequest *req, char *err, size_t errlen)
{
	const char *audio;
	const char *filename;
	const char *content_type;
	const char *language;
	const char *prompt;
	const char *model;
	unsigned char *bytes;
	size_t		nbytes;
	char		boundary[64];
	FdbBuf		body;

	http_request_init(req, "POST");
	if (!tool_param_string(ctx, "audio", &audio, err, errlen) ||
		!tool_param_string(ctx, "filename", &filename, err, errlen) ||
		!tool_param_string(ctx, "content_type", &content_type, err, errlen) ||
		!tool_param_string(ctx, "language", &language, err, errlen) ||
		!tool_param_string(ctx, "prompt", &prompt, err, errlen) ||
		!tool_param_string(ctx, "model", &model, err, errlen) ||
		!tool_param_required("audio", audio != NULL, err, errlen))
		return false;
	if (filename == NULL)
		filename = "audio.wav";
	if (content_type == NULL)
		content_type = "audio/wav";
	if (model == NULL)
		model = LLM_DEFAULT_TRANSCRIPTION_MODEL;
	if (!safe_token(filename) || !safe_token(content_type))
	{
		fdb_fmt(err, errlen, "params filename and content_type must not contain quotes or control characters");
		return false;
	}
	if (strlen(audio) / 4 * 3 > TRANSCRIBE_MAX_AUDIO + 3)
	{
		fdb_fmt(err, errlen, "param audio is larger than %d bytes", TRANSCRIBE_MAX_AUDIO);
		return false;
	}
	bytes = llm_base64_decode(audio, &nbytes);
	if (bytes == NULL || nbytes == 0)
	{
		free(bytes);
		fdb_fmt(err, errlen, "param audio must be non-empty base64");
		return false;
	}

	tool_sample_id(ctx, "multipart", "flowdb-", "0123456789abcdefghijklmnopqrstuvwxyz",
				   24, boundary, sizeof(boundary));
	fdb_buf_init(&body);
	part_text(&body, boundary, "model", model);
	part_text(&body, boundary, "language", language);
	part_text(&body, boundary, "prompt", prompt);
	part_text(&body, boundary, "response_format", "json");
	part_header(&body, boundary, "file", filename, content_type);
	fdb_buf_append(&body, (const char *) bytes, nbytes);
	fdb_buf_printf(&body, "\r\n--%s--\r\n", boundary);
	free(bytes);
	if (body.data == NULL)
	{
		fdb_fmt(err, errlen, "out of memory building the audio upload");
		return false;
	}

	req->url = fdb_asprintf("%s/audio/transcriptions",
							tool_base_url(ctx, llm_service.default_base_url));
	http_request_set_body(req, body.data, body.len);
	fdb_buf_free(&body);
	req->timeout_ms = LLM_TIMEOUT_MS;
	http_request_add_header(req, "Content-Type: multipart/form-data; boundary=%s", boundary);
	http_request_add_header(req, "Accept: application/json");
	tool_bearer_header(req, ctx->credential ?
					   fdb_json_str(ctx->credential, "api_key") : NULL);
	return true;
}

/*
 * llm_transcribe_parse
 *		Output {text, model, language}: from {"text": ...} JSON, or the body
 *		itself when the server answered plain text.
 */
ToolOutcome
llm_transcribe_parse(ToolContext *ctx, const HttpResponse *resp, cJSON **output,
					 char *err, size_t errlen)
{
	cJSON	   *body = http_response_body_json(resp);
	ToolOutcome outcome;
	const char *model;

	if (tool_classify_status(resp->status) != TOOL_DONE)
		outcome = llm_error(resp, body, err, errlen);
	else
	{
		const char *text = cJSON_IsString(body) ? body->valuestring :
			fdb_json_str(body, "text");

		if (text == NULL)
		{
			fdb_fmt(err, errlen, "transcription HTTP %ld: response has no text: %.200s",
					resp->status, resp->body ? resp->body : "");
			outcome = TOOL_FAIL;
		}
		else
		{
			cJSON	   *out = cJSON_CreateObject();

			cJSON_AddStringToObject(out, "text", text);
			model = fdb_json_str(ctx->params, "model");
			cJSON_AddStringToObject(out, "model",
									model ? model : LLM_DEFAULT_TRANSCRIPTION_MODEL);
			tool_add_string_or_null(out, "language", fdb_json_str(body, "language"));
			*output = out;
			outcome = TOOL_DONE;
		}
	}
	cJSON_Delete(body);
	return outcome;
}

/*
 * llm_transcribe_sample
 *		Sandbox: an empty transcript (nothing was heard, nothing acted on).
 */
cJSON *
llm_transcribe_sample(ToolContext *ctx)
{
	cJSON	   *out = cJSON_CreateObject();
	const char *model = fdb_json_str(ctx->params, "model");

	cJSON_AddStringToObject(out, "text", "");
	cJSON_AddStringToObject(out, "model", model ? model : LLM_DEFAULT_TRANSCRIPTION_MODEL);
	cJSON_AddNullToObject(out, "language");
	return out;
}

const ToolParam llm_transcribe_params[LLM_TRANSCRIBE_NPARAMS] = {
	{"audio", PT_STRING, true, "The audio file, base64-encoded (WAV, MP3, OGG, ...)"},
	{"filename", PT_STRING, false, "File name sent with the audio (default audio.wav)"},
	{"content_type", PT_STRING, false, "MIME type of the audio (default audio/wav)"},
	{"language", PT_STRING, false, "ISO-639-1 language hint, e.g. en or hi"},
	{"prompt", PT_STRING, false, "Words to expect (names, products)"},
	{"model", PT_STRING, false, "Transcription model (default whisper-1)"},
};
