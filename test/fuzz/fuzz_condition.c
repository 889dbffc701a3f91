/*-------------------------------------------------------------------------
 *
 * fuzz_condition.c
 *	  libFuzzer target for condition.c.
 *
 * Input: "<condition JSON>\0<context JSON>" or just "<condition JSON>" (a
 * fixed context is used then).  The condition is validated and evaluated;
 * nothing may crash, leak or trip a sanitizer, and the result must be -1,
 * 0 or 1 with an error message exactly when it is -1.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "condition.h"

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cJSON *default_ctx;

/*
 * LLVMFuzzerInitialize
 *		Build the default context once.
 */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	default_ctx = cJSON_Parse(
		"{\"trigger_data\":{\"amount\":5000,\"price\":12.5,\"name\":\"Ada Lovelace\","
		"\"tags\":[\"x\",\"y\",{\"k\":1}],\"user\":{\"email\":\"a@b.c\"},\"none\":null,"
		"\"blank\":\"\",\"list\":[],\"vip\":true,\"re\":\"^A\",\"evil\":\"{{ run.secret }}\"},"
		"\"steps\":{\"fetch\":{\"output\":{\"status\":200}}},"
		"\"run\":{\"id\":\"r-1\",\"secret\":\"s\"},\"workflow\":{\"name\":\"wf\"}}");
	return 0;
}

/*
 * LLVMFuzzerTestOneInput
 *		One fuzz iteration.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t		clen = nul ? (size_t) (nul - data) : size;
	char	   *ctext;
	cJSON	   *cond;
	cJSON	   *own_ctx = NULL;
	const cJSON *ctx = default_ctx;
	FdbErrors	errs;
	char	   *joined;
	char		err[FDB_ERRLEN];
	int			r;

	ctext = malloc(clen + 1);
	if (ctext == NULL)
		return 0;
	memcpy(ctext, data, clen);
	ctext[clen] = '\0';
	cond = cJSON_Parse(ctext);
	free(ctext);

	if (nul != NULL)
	{
		size_t		xlen = size - clen - 1;
		char	   *xtext = malloc(xlen + 1);

		if (xtext == NULL)
		{
			cJSON_Delete(cond);
			return 0;
		}
		memcpy(xtext, nul + 1, xlen);
		xtext[xlen] = '\0';
		own_ctx = cJSON_Parse(xtext);
		free(xtext);
		ctx = own_ctx;
	}

	fdb_errors_init(&errs);
	cond_validate(cond, "$.edges[0].condition", &errs);
	joined = fdb_errors_join(&errs, "; ");
	free(joined);
	fdb_errors_free(&errs);

	err[0] = '\0';
	r = cond_eval(cond, ctx, err, sizeof(err));
	if (r < -1 || r > 1)
		abort();
	if (r == -1 && err[0] == '\0')
		abort();				/* every error must say why */

	cJSON_Delete(cond);
	cJSON_Delete(own_ctx);
	return 0;
}
