/*
 * fuzz_blueprint.c: libFuzzer target for bp_validate.
 *
 * Bytes are parsed with cJSON_ParseWithLength; whatever parses is
 * validated, the problems are joined (exercising every message) and all
 * memory is released.  Must never crash, hang or leak.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -I src \
 *		test/fuzz/fuzz_blueprint.c <pure sources> -lcjson
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blueprint.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * LLVMFuzzerTestOneInput
 *		Validate one input as a blueprint.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON	   *bp;
	FdbErrors	errs;
	char	   *joined;
	bool		ok;

	bp = cJSON_ParseWithLength((const char *) data, size);
	if (bp == NULL)
		return 0;

	fdb_errors_init(&errs);
	ok = bp_validate(bp, &errs);
	/* the result must agree with the problem list */
	if (ok != (errs.count == 0))
		abort();
	joined = fdb_errors_join(&errs, "\n");
	free(joined);
	fdb_errors_free(&errs);

	if (bp_node_count(bp) > 0)
	{
		const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(bp, "nodes"), 0);
		const char *id = fdb_json_str(first, "id");

		if (id != NULL && bp_node(bp, id) == NULL)
			abort();
	}
	cJSON_Delete(bp);
	return 0;
}
