/*-------------------------------------------------------------------------
 *
 * api.c
 *	  SQL-callable C functions: blueprint validation, payload limits,
 *	  template rendering, condition evaluation and the tool catalog.
 *	  They are thin wrappers over the pure modules; all JSON crosses the
 *	  boundary as text (jsonb -> cJSON -> jsonb).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "flowdb.h"
#include "fjson.h"
#include "blueprint.h"
#include "catalog.h"
#include "condition.h"
#include "template.h"

/*
 * flowdb_parse_json_text
 *		Parse JSON text into a malloc'd cJSON tree; ERROR if it is not
 *		JSON (cannot happen for text that came out of jsonb).
 */
cJSON *
flowdb_parse_json_text(const char *text)
{
	cJSON	   *v = cJSON_Parse(text);

	/* text printed from jsonb is valid JSON: only the depth can fail */
	if (v == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("JSON value is nested too deeply"),
				 errdetail("flowdb accepts at most %d levels of nesting.", FLOWDB_MAX_JSON_DEPTH)));
	return v;
}

/*
 * flowdb_jsonb_to_cjson
 *		Convert a jsonb value to a malloc'd cJSON tree (caller deletes);
 *		54000 when nested deeper than FLOWDB_MAX_JSON_DEPTH.
 */
cJSON *
flowdb_jsonb_to_cjson(Jsonb *jb)
{
	char	   *text;
	cJSON	   *v;

	flowdb_check_json_depth(jb, "JSON value");
	text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	v = flowdb_parse_json_text(text);

	pfree(text);
	return v;
}

/*
 * flowdb_cjson_to_jsonb
 *		Convert a cJSON tree to a jsonb Datum (palloc'd).
 */
Datum
flowdb_cjson_to_jsonb(const cJSON *v)
{
	char	   *text = fdb_json_print(v);
	char	   *copy;

	if (text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while printing JSON")));
	copy = pstrdup(text);
	free(text);
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(copy));
}

/*
 * flowdb_cjson_to_jsonb_free
 *		Convert to jsonb and delete the cJSON tree (also on error).
 */
Datum
flowdb_cjson_to_jsonb_free(cJSON *v)
{
	char	   *text = fdb_json_print(v);
	char	   *copy = text ? pstrdup(text) : NULL;

	free(text);
	cJSON_Delete(v);
	if (copy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while printing JSON")));
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(copy));
}

/*
 * flowdb_check_json_depth
 *		Refuse JSON nested deeper than the engine can parse (54000).
 */
void
flowdb_check_json_depth(Jsonb *jb, const char *what)
{
	JsonbIterator *it = JsonbIteratorInit(&jb->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_ARRAY || tok == WJB_BEGIN_OBJECT)
		{
			if (++depth > FLOWDB_MAX_JSON_DEPTH)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("%s is nested too deeply", what),
						 errdetail("flowdb accepts at most %d levels of nesting.",
								   FLOWDB_MAX_JSON_DEPTH)));
		}
		else if (tok == WJB_END_ARRAY || tok == WJB_END_OBJECT)
			depth--;
	}
}

/*
 * check_json_limits
 *		Refuse a JSON value larger than limit bytes (stored size) or nested
 *		deeper than the engine parses (54000 both).
 */
static void
check_json_limits(Jsonb *jb, const char *what, int limit, const char *hint)
{
	Size		len = VARSIZE(jb);

	if (len > (Size) limit)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s is too large: %zu bytes", what, len),
				 errdetail("The limit is %d bytes.", limit),
				 errhint("%s", hint)));
	flowdb_check_json_depth(jb, what);
}

/*
 * collect_errors
 *		Validate a jsonb blueprint; fills errs (caller frees).
 */
static void
collect_errors(Jsonb *jb, FdbErrors *errs)
{
	cJSON	   *bp;

	check_json_limits(jb, "blueprint", flowdb_max_blueprint_bytes,
					  "Split the workflow, or raise flowdb.max_blueprint_bytes.");
	bp = flowdb_jsonb_to_cjson(jb);
	fdb_errors_init(errs);
	bp_validate(bp, errs);
	cJSON_Delete(bp);
}

FLOWDB_FUNCTION_INFO_V1(flowdb_blueprint_errors);

/*
 * flowdb_blueprint_errors
 *		text[] of every validation problem ("$.path: message"); empty when
 *		the blueprint is valid.
 */
Datum
flowdb_blueprint_errors(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	FdbErrors	errs;
	Datum	   *elems;
	ArrayType  *result;

	collect_errors(jb, &errs);
	elems = palloc(sizeof(Datum) * Max(errs.count, 1));
	for (int i = 0; i < errs.count; i++)
		elems[i] = CStringGetTextDatum(errs.items[i]);
	result = construct_array(elems, errs.count, TEXTOID, -1, false, TYPALIGN_INT);
	fdb_errors_free(&errs);
	PG_RETURN_ARRAYTYPE_P(result);
}

FLOWDB_FUNCTION_INFO_V1(flowdb_check_blueprint);

/*
 * flowdb_check_blueprint
 *		Raise invalid_parameter_value (22023) with every problem in the
 *		detail, one per line; return quietly when the blueprint is valid.
 */
Datum
flowdb_check_blueprint(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	FdbErrors	errs;
	char	   *joined;
	char	   *detail;
	int			n;

	collect_errors(jb, &errs);
	if (errs.count == 0)
	{
		fdb_errors_free(&errs);
		PG_RETURN_VOID();
	}
	n = errs.count;
	joined = fdb_errors_join(&errs, "\n");
	detail = pstrdup(joined);
	free(joined);
	fdb_errors_free(&errs);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg_plural("invalid blueprint: %d problem",
						   "invalid blueprint: %d problems", n, n),
			 errdetail_internal("%s", detail),
			 errhint("See docs/blueprint.md for the format, or call flow_validate().")));
	PG_RETURN_VOID();
}

FLOWDB_FUNCTION_INFO_V1(flowdb_check_payload);

/*
 * flowdb_check_payload
 *		Refuse a payload larger than flowdb.max_payload_bytes (54000), or
 *		one that is not a JSON object (22023: templates read it as
 *		trigger_data.<key>, so it is refused when queued, not at run time).
 */
Datum
flowdb_check_payload(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);

	check_json_limits(jb, "payload", flowdb_max_payload_bytes,
					  "Send a reference to the data instead, or raise flowdb.max_payload_bytes.");
	if (JB_ROOT_IS_SCALAR(jb) || !JB_ROOT_IS_OBJECT(jb))
	{
		JsonbValue	v;
		const char *type = "array";

		if (JB_ROOT_IS_SCALAR(jb) && JsonbExtractScalar(&jb->root, &v))
			type = JsonbTypeName(&v);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("payload must be a JSON object, not %s", type),
				 errhint("Wrap the value in an object, e.g. {\"items\": [...]}: templates read it as {{trigger_data.<key>}}.")));
	}
	PG_RETURN_VOID();
}

FLOWDB_FUNCTION_INFO_V1(flowdb_render);

/*
 * flowdb_render
 *		Render the templates in a JSON value against a context object;
 *		a missing path raises 22023 naming it.
 */
Datum
flowdb_render(PG_FUNCTION_ARGS)
{
	cJSON	   *value = flowdb_jsonb_to_cjson(PG_GETARG_JSONB_P(0));
	cJSON	   *ctx = flowdb_jsonb_to_cjson(PG_GETARG_JSONB_P(1));
	char		err[FDB_ERRLEN];
	cJSON	   *out;
	Datum		result;

	err[0] = '\0';
	out = tmpl_render(value, ctx, err, sizeof(err));
	cJSON_Delete(value);
	cJSON_Delete(ctx);
	if (out == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("template error: %s", err)));
	result = flowdb_cjson_to_jsonb_free(out);
	PG_RETURN_DATUM(result);
}

FLOWDB_FUNCTION_INFO_V1(flowdb_eval_condition);

/*
 * flowdb_eval_condition
 *		Validate and evaluate a condition against a context object.
 */
Datum
flowdb_eval_condition(PG_FUNCTION_ARGS)
{
	cJSON	   *cond = flowdb_jsonb_to_cjson(PG_GETARG_JSONB_P(0));
	cJSON	   *ctx;
	FdbErrors	errs;
	char		err[FDB_ERRLEN];
	int			r;

	fdb_errors_init(&errs);
	cond_validate(cond, "$", &errs);
	if (errs.count > 0)
	{
		char	   *joined = fdb_errors_join(&errs, "\n");
		char	   *detail = pstrdup(joined);

		free(joined);
		fdb_errors_free(&errs);
		cJSON_Delete(cond);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid condition"),
				 errdetail_internal("%s", detail)));
	}
	fdb_errors_free(&errs);

	ctx = flowdb_jsonb_to_cjson(PG_GETARG_JSONB_P(1));
	err[0] = '\0';
	r = cond_eval(cond, ctx, err, sizeof(err));
	cJSON_Delete(cond);
	cJSON_Delete(ctx);
	if (r < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("condition error: %s", err)));
	PG_RETURN_BOOL(r == 1);
}

FLOWDB_FUNCTION_INFO_V1(flowdb_catalog);

/*
 * flowdb_catalog
 *		The tool catalog as jsonb (services, tasks, params, events, node
 *		types, condition operators).
 */
Datum
flowdb_catalog(PG_FUNCTION_ARGS)
{
	cJSON	   *cat = catalog_to_json();
	Datum		result;

	result = flowdb_cjson_to_jsonb_free(cat);
	PG_RETURN_DATUM(result);
}

FLOWDB_FUNCTION_INFO_V1(flowdb_credential_missing);

/*
 * flowdb_credential_missing
 *		The required credential fields of a service (registry order) that
 *		a secret object lacks; NULL for an unknown service.
 */
Datum
flowdb_credential_missing(PG_FUNCTION_ARGS)
{
	char	   *service = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Jsonb	   *secret = PG_GETARG_JSONB_P(1);
	const ToolService *svc = catalog_service(service);
	Datum	   *elems;
	int			n = 0;

	if (svc == NULL)
		PG_RETURN_NULL();
	elems = palloc(sizeof(Datum) * 16);
	for (int i = 0; svc->credential_fields && svc->credential_fields[i] && n < 16; i++)
	{
		const char *f = svc->credential_fields[i];
		JsonbValue	key;

		if (!catalog_credential_field_required(svc, f))
			continue;
		key.type = jbvString;
		key.val.string.val = (char *) f;
		key.val.string.len = strlen(f);
		if (!JB_ROOT_IS_OBJECT(secret) ||
			findJsonbValueFromContainer(&secret->root, JB_FOBJECT, &key) == NULL)
			elems[n++] = CStringGetTextDatum(f);
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}
