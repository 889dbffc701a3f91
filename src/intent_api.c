/*-------------------------------------------------------------------------
 *
 * intent_api.c
 *	  SQL entry point of the offline intent parser:
 *	  flowdb.intent_analyze(text) returns jsonb.
 *
 * The parsing itself is pure C (intent.c); this file only converts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "flowdb.h"
#include "intent.h"

FLOWDB_FUNCTION_INFO_V1(flowdb_intent_analyze);

/*
 * flowdb_intent_analyze
 *		intent_analyze(text) -> {"intent", "entities", "confidence"}.  Only
 *		the first INTENT_MAX_INPUT bytes are read; callers that accept user
 *		text refuse longer input first (intent_parse does).
 */
Datum
flowdb_intent_analyze(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char	   *s = text_to_cstring(t);
	cJSON	   *r = intent_analyze(s);

	pfree(s);
	if (r == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while analysing the text")));
	PG_RETURN_DATUM(flowdb_cjson_to_jsonb_free(r));
}
