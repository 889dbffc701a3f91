/*
 * fuzz_llm_answer.c: libFuzzer target for the parsers of model answers
 * (llm.draft_workflow and llm.parse_intent) and the base64 decoder of
 * llm.transcribe.
 *
 * The bytes are the message content of a chat completion: the draft
 * parser must give {blueprint, valid, problems} with valid only when
 * there is no problem; the intent parser must give an intent from the
 * list.  Must never crash, hang or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "tools/llm.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * run_parse
 *		Parse a 200 chat completion carrying content with task; returns
 *		the output (NULL unless TOOL_DONE).
 */
static cJSON *
run_parse(const char *task_name, const char *content)
{
	const ToolTask *task = catalog_task(catalog_service("llm"), task_name);
	cJSON	   *body = cJSON_Parse("{\"model\": \"m\", \"choices\": [{\"message\": {}}]}");
	cJSON	   *params = cJSON_Parse("{\"prompt\": \"p\", \"text\": \"t\"}");
	cJSON	   *state = cJSON_CreateObject();
	ToolContext ctx;
	HttpResponse resp;
	cJSON	   *out = NULL;
	char		err[FDB_ERRLEN];

	cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(
															 cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(body, "choices"), 0), "message"),
							"content", content);
	memset(&ctx, 0, sizeof(ctx));
	ctx.params = params;
	ctx.phase_state = state;
	memset(&resp, 0, sizeof(resp));
	resp.status = 200;
	resp.headers = cJSON_CreateObject();
	resp.body = fdb_json_print(body);
	resp.body_len = strlen(resp.body);
	resp.retry_after = -1;
	if (task->parse(&ctx, &resp, &out, err, sizeof(err)) != TOOL_DONE)
	{
		cJSON_Delete(out);
		out = NULL;
	}
	http_response_free(&resp);
	cJSON_Delete(body);
	cJSON_Delete(params);
	cJSON_Delete(state);
	return out;
}

/*
 * LLVMFuzzerTestOneInput
 *		Feed one input to every answer parser.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *content = malloc(size + 1);
	cJSON	   *out;
	size_t		n;
	unsigned char *bytes;

	if (content == NULL)
		return 0;
	memcpy(content, data, size);
	content[size] = '\0';

	out = run_parse("draft_workflow", content);
	if (out)
	{
		bool		valid = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(out, "valid"));
		int			nproblems = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(out, "problems"));

		if (valid != (nproblems == 0))
			abort();
		cJSON_Delete(out);
	}

	out = run_parse("parse_intent", content);
	if (out)
	{
		const char *intent = fdb_json_str(out, "intent");
		bool		known = false;

		for (int i = 0; intent && llm_intents[i]; i++)
			known |= strcmp(intent, llm_intents[i]) == 0;
		if (!known)
			abort();
		cJSON_Delete(out);
	}

	bytes = llm_base64_decode(content, &n);
	if (bytes && n > size)
		abort();
	free(bytes);
	free(content);
	return 0;
}
