/*-------------------------------------------------------------------------
 *
 * fuzz_intent.c
 *	  libFuzzer target for intent.c: any bytes are one utterance.  The
 *	  result must be an object with a known intent, an entities object and
 *	  a confidence in [0, 1]; nothing may crash, leak or trip a sanitizer.
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "intent.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * LLVMFuzzerTestOneInput
 *		Analyse the input as a NUL-terminated string and check the shape.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size + 1);
	cJSON	   *r;
	cJSON	   *intent;
	cJSON	   *conf;
	bool		known = false;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	r = intent_analyze(text);
	free(text);
	if (r == NULL)
		return 0;
	intent = cJSON_GetObjectItem(r, "intent");
	conf = cJSON_GetObjectItem(r, "confidence");
	if (!cJSON_IsString(intent) || !cJSON_IsObject(cJSON_GetObjectItem(r, "entities")) ||
		!cJSON_IsNumber(conf) || conf->valuedouble < 0 || conf->valuedouble > 1)
		abort();
	for (int i = 0; intent_names[i]; i++)
		if (strcmp(intent_names[i], intent->valuestring) == 0)
			known = true;
	if (!known)
		abort();
	cJSON_Delete(r);
	return 0;
}
