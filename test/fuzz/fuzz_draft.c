/*
 * fuzz_draft.c: libFuzzer target for the offline drafter (draft_offline).
 *
 * Any bytes are a prompt.  The draft must always come back with a
 * "warnings" array and a blueprint that bp_validate accepts; anything else
 * (and any crash, hang or leak) is a finding.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -I src \
 *		test/fuzz/fuzz_draft.c <pure sources> -lcjson
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blueprint.h"
#include "draft.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * LLVMFuzzerTestOneInput
 *		Draft one input and validate the blueprint.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON	   *out = draft_offline((const char *) data, size);
	FdbErrors	errs;

	if (out == NULL)
		abort();
	if (!cJSON_IsArray(cJSON_GetObjectItem(out, "warnings")))
		abort();
	fdb_errors_init(&errs);
	if (!bp_validate(cJSON_GetObjectItem(out, "blueprint"), &errs))
		abort();
	fdb_errors_free(&errs);
	cJSON_Delete(out);
	return 0;
}
