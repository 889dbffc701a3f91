/*-------------------------------------------------------------------------
 *
 * draft_sql.c
 *	  flowdb.draft_offline(prompt text): the offline drafter (draft.c) as a
 *	  SQL function.  Thin glue: checks the prompt, drafts, returns jsonb.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "flowdb.h"
#include "blueprint.h"
#include "draft.h"

FLOWDB_FUNCTION_INFO_V1(flowdb_draft_offline);

/*
 * flowdb_draft_offline
 *		{"blueprint": ..., "warnings": [...]} for a prompt.  An empty or
 *		blank prompt, or one longer than DRAFT_MAX_INPUT bytes, is refused
 *		with 22023 (the drafter itself never fails on its input).  The
 *		blueprint is validated here, so callers need not check it again.
 */
Datum
flowdb_draft_offline(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);
	int			i;
	cJSON	   *out;
	FdbErrors	errs;

	for (i = 0; i < len && isspace((unsigned char) s[i]); i++)
		;
	if (i == len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("prompt must not be empty"),
				 errhint("Describe the workflow, e.g. \"When a payment is captured, thank the customer on WhatsApp\".")));
	if (len > DRAFT_MAX_INPUT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("prompt is too long: %d bytes", len),
				 errdetail("The limit is %d bytes.", DRAFT_MAX_INPUT),
				 errhint("Describe one workflow at a time.")));

	out = draft_offline(s, (size_t) len);
	if (out == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while drafting a workflow")));

	/* the drafter promises a valid blueprint: never hand out another */
	fdb_errors_init(&errs);
	if (!bp_validate(cJSON_GetObjectItem(out, "blueprint"), &errs))
	{
		char	   *joined = fdb_errors_join(&errs, "\n");
		char	   *detail = pstrdup(joined ? joined : "");

		free(joined);
		fdb_errors_free(&errs);
		cJSON_Delete(out);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("the offline drafter produced an invalid blueprint"),
				 errdetail("%s", detail)));
	}
	fdb_errors_free(&errs);
	PG_RETURN_DATUM(flowdb_cjson_to_jsonb_free(out));
}
