/*-------------------------------------------------------------------------
 *
 * llm.h
 *	  Pieces shared by the llm service's task files: llm.c (complete,
 *	  classify), llm_draft.c (draft_workflow), llm_intent.c (parse_intent)
 *	  and llm_transcribe.c (transcribe).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_TOOLS_LLM_H
#define FLOWDB_TOOLS_LLM_H

#include "catalog.h"

#define LLM_DEFAULT_MODEL "gpt-4o-mini"
#define LLM_DEFAULT_TRANSCRIPTION_MODEL "whisper-1"
#define LLM_TIMEOUT_MS 120000	/* completions can be slow */

/* ---- llm.c ---- */
extern const char *llm_model(const ToolContext *ctx);
extern void llm_add_message(cJSON *messages, const char *role, const char *content);
extern void llm_finish_request(const ToolContext *ctx, HttpRequest *req, cJSON *body);
extern bool llm_check_model(const ToolContext *ctx, char *err, size_t errlen);
extern ToolOutcome llm_error(const HttpResponse *resp, const cJSON *body,
							 char *err, size_t errlen);
extern ToolOutcome llm_message(const HttpResponse *resp, const cJSON *body,
							   const char **content, const char **finish_reason,
							   char *err, size_t errlen);
extern ToolOutcome llm_answer(const HttpResponse *resp, const cJSON *body,
							  const char **content, const char **finish,
							  char *err, size_t errlen);
extern cJSON *llm_parse_json_answer(const char *content);

/* ---- llm_draft.c: blueprints drafted by the model ---- */

/* The strict json_schema of a drafted blueprint, from a catalog as
 * catalog_to_json() returns it. */
extern cJSON *llm_draft_schema(const cJSON *catalog);
/* The system prompt describing that catalog (malloc'd). */
extern char *llm_draft_system_prompt(const cJSON *catalog);
/* Turn a schema-shaped answer into a blueprint (params decoded, nulls
 * dropped, version 1).  NULL with err when answer is not an object. */
extern cJSON *llm_draft_to_blueprint(const cJSON *answer, char *err, size_t errlen);

extern bool llm_draft_build(ToolContext *ctx, HttpRequest *req, char *err, size_t errlen);
extern ToolOutcome llm_draft_parse(ToolContext *ctx, const HttpResponse *resp,
								   cJSON **output, char *err, size_t errlen);
extern cJSON *llm_draft_sample(ToolContext *ctx);
#define LLM_DRAFT_NPARAMS 4
extern const ToolParam llm_draft_params[LLM_DRAFT_NPARAMS];

/* ---- llm_intent.c: commands understood by the model ---- */
extern const char *const llm_intents[];
extern cJSON *llm_intent_schema(void);
extern bool llm_intent_build(ToolContext *ctx, HttpRequest *req, char *err, size_t errlen);
extern ToolOutcome llm_intent_parse(ToolContext *ctx, const HttpResponse *resp,
									cJSON **output, char *err, size_t errlen);
extern cJSON *llm_intent_sample(ToolContext *ctx);
#define LLM_INTENT_NPARAMS 3
extern const ToolParam llm_intent_params[LLM_INTENT_NPARAMS];

/* ---- llm_transcribe.c: Whisper-compatible speech to text ---- */
extern unsigned char *llm_base64_decode(const char *text, size_t *len);
extern bool llm_transcribe_build(ToolContext *ctx, HttpRequest *req, char *err, size_t errlen);
extern ToolOutcome llm_transcribe_parse(ToolContext *ctx, const HttpResponse *resp,
										cJSON **output, char *err, size_t errlen);
extern cJSON *llm_transcribe_sample(ToolContext *ctx);
#define LLM_TRANSCRIBE_NPARAMS 6
extern const ToolParam llm_transcribe_params[LLM_TRANSCRIBE_NPARAMS];

#endif							/* FLOWDB_TOOLS_LLM_H */
