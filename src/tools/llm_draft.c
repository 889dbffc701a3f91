/*-------------------------------------------------------------------------
 *
 * llm_draft.c
 *	  llm.draft_workflow: ask an OpenAI-compatible model for a blueprint.
 *
 * The request carries a strict json_schema (response_format) and a system
 * prompt, both generated from the catalog (catalog_to_json): services,
 * tasks, parameters, events, trigger types, node types and condition
 * operators.  Registering a tool changes both with no hand edit.
 *
 * Strict mode wants every property required and additionalProperties
 * false, so blueprint params (free-form per task) cannot be a plain
 * object.  The schema therefore has one action-node variant per task
 * (anyOf), whose params object lists exactly that task's parameters; an
 * optional parameter is nullable, and a parameter of type object, array or
 * any is sent as JSON text (a string) because strict schemas cannot leave
 * a value's shape open.  The same rules hold for the fields of the other
 * node types (set.values, wait_event.match).  llm_draft_to_blueprint
 * turns such an answer back into a blueprint: nulls dropped, JSON text
 * decoded, "version": 1 added.  Conditions are one comparison
 * {left, op, right}; all/any/not combinations are not offered to the model.
 *
 * Repair: with repair_of (the previous blueprint) and problems (its
 * validation errors, "path: message"), the request replays the exchange
 * and asks for a corrected blueprint.  The output is always
 * {blueprint, valid, problems, model, repaired}: an answer that is not a
 * valid blueprint is still a completed step (valid false), so the run can
 * go on to the repair round; only HTTP errors and refusals fail the step.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "blueprint.h"
#include "catalog.h"
#include "tools/llm.h"

#define DRAFT_MAX_PROMPT 20000		/* characters of user prompt sent */
#define DRAFT_MAX_PROBLEMS 50		/* problems sent back for repair */

/*
 * draft_type_is_json_text
 *		Is a catalog type one the schema carries as JSON text?
 */
static bool
draft_type_is_json_text(const char *type)
{
	return type == NULL || strcmp(type, "object") == 0 ||
		strcmp(type, "array") == 0 || strcmp(type, "any") == 0;
}

/*
 * draft_type_array
 *		A JSON Schema "type" array for a catalog parameter type: numbers,
 *		integers and booleans also take a string (a {{template}}), optional
 *		fields also take null.
 */
static cJSON *
draft_type_array(const char *type, bool required)
{
	cJSON	   *t = cJSON_CreateArray();

	if (type && (strcmp(type, "number") == 0 || strcmp(type, "integer") == 0 ||
				 strcmp(type, "boolean") == 0))
		cJSON_AddItemToArray(t, cJSON_CreateString(type));
	cJSON_AddItemToArray(t, cJSON_CreateString("string"));
	if (!required)
		cJSON_AddItemToArray(t, cJSON_CreateString("null"));
	return t;
}

/*
 * draft_field_schema
 *		Schema of one parameter or node field from its catalog entry
 *		{name, type, required, description}.
 */
static cJSON *
draft_field_schema(const cJSON *param)
{
	cJSON	   *s = cJSON_CreateObject();
	const char *type = fdb_json_str(param, "type");
	const char *desc = fdb_json_str(param, "description");
	bool		required = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(param, "required"));

	cJSON_AddItemToObject(s, "type", draft_type_array(type, required));
	if (draft_type_is_json_text(type))
	{
		char	   *d = fdb_asprintf("JSON text of the %s value. %s",
									 type ? type : "any", desc ? desc : "");

		cJSON_AddStringToObject(s, "description", d);
		free(d);
	}
	else if (desc && desc[0])
		cJSON_AddStringToObject(s, "description", desc);
	return s;
}

/*
 * draft_object
 *		A strict object schema: *props receives the properties object and
 *		*required the required array; the caller adds both in step.
 */
static cJSON *
draft_object(cJSON **props, cJSON **required)
{
	cJSON	   *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "type", "object");
	*props = cJSON_AddObjectToObject(o, "properties");
	*required = cJSON_AddArrayToObject(o, "required");
	cJSON_AddBoolToObject(o, "additionalProperties", false);
	return o;
}

/*
 * draft_add_prop
 *		props[name] = schema, and name required (strict mode).
 */
static void
draft_add_prop(cJSON *props, cJSON *required, const char *name, cJSON *schema)
{
	cJSON_AddItemToObject(props, name, schema);
	cJSON_AddItemToArray(required, cJSON_CreateString(name));
}

/*
 * draft_const_string
 *		{"type": "string", "enum": [value]}.
 */
static cJSON *
draft_const_string(const char *value)
{
	cJSON	   *s = cJSON_CreateObject();
	cJSON	   *e;

	cJSON_AddStringToObject(s, "type", "string");
	e = cJSON_AddArrayToObject(s, "enum");
	cJSON_AddItemToArray(e, cJSON_CreateString(value));
	return s;
}

/*
 * draft_simple
 *		{"type": type} with a description.
 */
static cJSON *
draft_simple(const char *type, const char *description)
{
	cJSON	   *s = cJSON_CreateObject();

	cJSON_AddStringToObject(s, "type", type);
	if (description)
		cJSON_AddStringToObject(s, "description", description);
	return s;
}

/*
 * draft_node_start
 *		Node variant with id and type, ready for more properties.
 */
static cJSON *
draft_node_start(const char *type, cJSON **props, cJSON **required)
{
	cJSON	   *n = draft_object(props, required);

	draft_add_prop(*props, *required, "id",
				   draft_simple("string", "Unique node id: letters, digits, _ or -"));
	draft_add_prop(*props, *required, "type", draft_const_string(type));
	return n;
}

/*
 * draft_action_variants
 *		One action-node schema per task of every service into anyof.
 */
static void
draft_action_variants(const cJSON *catalog, cJSON *anyof)
{
	const cJSON *svc;

	cJSON_ArrayForEach(svc, cJSON_GetObjectItemCaseSensitive(catalog, "services"))
	{
		const char *sname = fdb_json_str(svc, "name");
		const cJSON *task;

		if (sname == NULL)
			continue;
		cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(svc, "tasks"))
		{
			const char *tname = fdb_json_str(task, "name");
			const cJSON *param;
			cJSON	   *props;
			cJSON	   *req;
			cJSON	   *pprops;
			cJSON	   *preq;
			cJSON	   *node;
			cJSON	   *params;
			char	   *desc;

			if (tname == NULL)
				continue;
			node = draft_node_start("action", &props, &req);
			desc = fdb_asprintf("%s.%s: %s", sname, tname,
								fdb_json_str(task, "description") ?
								fdb_json_str(task, "description") : "");
			cJSON_AddStringToObject(node, "description", desc);
			free(desc);
			draft_add_prop(props, req, "service", draft_const_string(sname));
			draft_add_prop(props, req, "task", draft_const_string(tname));
			params = draft_object(&pprops, &preq);
			cJSON_ArrayForEach(param, cJSON_GetObjectItemCaseSensitive(task, "params"))
			{
				const char *pname = fdb_json_str(param, "name");

				if (pname)
					draft_add_prop(pprops, preq, pname, draft_field_schema(param));
			}
			draft_add_prop(props, req, "params", params);
			cJSON_AddItemToArray(anyof, node);
		}
	}
}

/*
 * draft_other_variants
 *		One schema per non-action node type, its fields from the catalog.
 */
static void
draft_other_variants(const cJSON *catalog, cJSON *anyof)
{
	const cJSON *nt;

	cJSON_ArrayForEach(nt, cJSON_GetObjectItemCaseSensitive(catalog, "node_types"))
	{
		const char *type = fdb_json_str(nt, "type");
		const cJSON *field;
		cJSON	   *props;
		cJSON	   *req;
		cJSON	   *node;

		if (type == NULL || strcmp(type, "action") == 0)
			continue;
		node = draft_node_start(type, &props, &req);
		if (fdb_json_str(nt, "description"))
			cJSON_AddStringToObject(node, "description", fdb_json_str(nt, "description"));
		cJSON_ArrayForEach(field, cJSON_GetObjectItemCaseSensitive(nt, "fields"))
		{
			const char *fname = fdb_json_str(field, "name");

			if (fname)
				draft_add_prop(props, req, fname, draft_field_schema(field));
		}
		cJSON_AddItemToArray(anyof, node);
	}
}

/*
 * draft_edge_schema
 *		{from, to, condition: null | {left, op, right}, else: bool | null,
 *		on: "success" | "failure" | null}.
 */
static cJSON *
draft_edge_schema(const cJSON *catalog)
{
	cJSON	   *props;
	cJSON	   *req;
	cJSON	   *edge = draft_object(&props, &req);
	cJSON	   *cprops;
	cJSON	   *creq;
	cJSON	   *cond = draft_object(&cprops, &creq);
	cJSON	   *op = draft_simple("string", NULL);
	cJSON	   *right = cJSON_CreateObject();
	cJSON	   *anyof;
	cJSON	   *t;

	draft_add_prop(props, req, "from", draft_simple("string", "Id of the node before"));
	draft_add_prop(props, req, "to", draft_simple("string", "Id of the node after"));

	draft_add_prop(cprops, creq, "left",
				   draft_simple("string", "Usually a template, e.g. {{trigger_data.amount}}"));
	cJSON_AddItemToObject(op, "enum",
						  cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(catalog, "condition_ops"),
										  true));
	draft_add_prop(cprops, creq, "op", op);
	t = cJSON_AddArrayToObject(right, "type");
	cJSON_AddItemToArray(t, cJSON_CreateString("string"));
	cJSON_AddItemToArray(t, cJSON_CreateString("number"));
	cJSON_AddItemToArray(t, cJSON_CreateString("boolean"));
	cJSON_AddItemToArray(t, cJSON_CreateString("null"));
	draft_add_prop(cprops, creq, "right", right);

	anyof = cJSON_CreateArray();
	cJSON_AddItemToArray(anyof, cond);
	cJSON_AddItemToArray(anyof, draft_simple("null", NULL));
	t = cJSON_CreateObject();
	cJSON_AddItemToObject(t, "anyOf", anyof);
	cJSON_AddStringToObject(t, "description",
							"Take this edge only when the comparison holds; null for always");
	draft_add_prop(props, req, "condition", t);

	t = cJSON_CreateObject();
	anyof = cJSON_AddArrayToObject(t, "type");
	cJSON_AddItemToArray(anyof, cJSON_CreateString("boolean"));
	cJSON_AddItemToArray(anyof, cJSON_CreateString("null"));
	cJSON_AddStringToObject(t, "description",
							"true: taken when no conditional sibling edge matched");
	draft_add_prop(props, req, "else", t);

	t = cJSON_CreateObject();
	anyof = cJSON_AddArrayToObject(t, "type");
	cJSON_AddItemToArray(anyof, cJSON_CreateString("string"));
	cJSON_AddItemToArray(anyof, cJSON_CreateString("null"));
	anyof = cJSON_AddArrayToObject(t, "enum");
	cJSON_AddItemToArray(anyof, cJSON_CreateString("success"));
	cJSON_AddItemToArray(anyof, cJSON_CreateString("failure"));
	cJSON_AddItemToArray(anyof, cJSON_CreateNull());
	cJSON_AddStringToObject(t, "description",
							"failure: taken only when the source node fails (then condition and else are null)");
	draft_add_prop(props, req, "on", t);
	return edge;
}

/*
 * draft_trigger_schema
 *		{type: one of the trigger types, event, cron, table (nullable)}.
 */
static cJSON *
draft_trigger_schema(const cJSON *catalog)
{
	cJSON	   *props;
	cJSON	   *req;
	cJSON	   *trig = draft_object(&props, &req);
	cJSON	   *type = draft_simple("string", NULL);
	static const char *const fields[][2] = {
		{"event", "Event name (namespace.name) for event and webhook triggers"},
		{"cron", "5-field cron expression (UTC) for schedule triggers"},
		{"table", "Table name for table triggers"},
	};

	cJSON_AddItemToObject(type, "enum",
						  cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(catalog, "trigger_types"),
										  true));
	draft_add_prop(props, req, "type", type);
	for (int i = 0; i < 3; i++)
	{
		cJSON	   *f = cJSON_CreateObject();
		cJSON	   *t = cJSON_AddArrayToObject(f, "type");

		cJSON_AddItemToArray(t, cJSON_CreateString("string"));
		cJSON_AddItemToArray(t, cJSON_CreateString("null"));
		cJSON_AddStringToObject(f, "description", fields[i][1]);
		draft_add_prop(props, req, fields[i][0], f);
	}
	return trig;
}

/*
 * llm_draft_schema
 *		The strict json_schema object sent as response_format.json_schema
 *		{name, strict, schema}.
 */
cJSON *
llm_draft_schema(const cJSON *catalog)
{
	cJSON	   *wrap = cJSON_CreateObject();
	cJSON	   *props;
	cJSON	   *req;
	cJSON	   *root = draft_object(&props, &req);
	cJSON	   *nodes = cJSON_CreateObject();
	cJSON	   *items;
	cJSON	   *edges = cJSON_CreateObject();

	cJSON_AddStringToObject(wrap, "name", "flowdb_blueprint");
	cJSON_AddBoolToObject(wrap, "strict", true);

	draft_add_prop(props, req, "name",
				   draft_simple("string", "Short name of the workflow"));
	draft_add_prop(props, req, "trigger", draft_trigger_schema(catalog));

	cJSON_AddStringToObject(nodes, "type", "array");
	items = cJSON_AddObjectToObject(nodes, "items");
	{
		cJSON	   *anyof = cJSON_AddArrayToObject(items, "anyOf");

		draft_action_variants(catalog, anyof);
		draft_other_variants(catalog, anyof);
	}
	draft_add_prop(props, req, "nodes", nodes);

	cJSON_AddStringToObject(edges, "type", "array");
	cJSON_AddItemToObject(edges, "items", draft_edge_schema(catalog));
	draft_add_prop(props, req, "edges", edges);

	cJSON_AddItemToObject(wrap, "schema", root);
	return wrap;
}

/*
 * draft_prompt_params
 *		Append "    - name (type, required): description" lines.
 */
static void
draft_prompt_params(FdbBuf *b, const cJSON *params)
{
	const cJSON *p;

	cJSON_ArrayForEach(p, params)
	{
		const char *type = fdb_json_str(p, "type");

		fdb_buf_printf(b, "    - %s (%s%s%s): %s\n",
					   fdb_json_str(p, "name") ? fdb_json_str(p, "name") : "?",
					   type ? type : "any",
					   draft_type_is_json_text(type) ? ", as JSON text" : "",
					   cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "required")) ?
					   ", required" : ", optional: null when unused",
					   fdb_json_str(p, "description") ? fdb_json_str(p, "description") : "");
	}
}

/*
 * draft_prompt_list
 *		Append the strings of arr joined by ", ".
 */
static void
draft_prompt_list(FdbBuf *b, const cJSON *arr)
{
	const cJSON *v;
	bool		first = true;

	cJSON_ArrayForEach(v, arr)
	{
		if (!cJSON_IsString(v))
			continue;
		fdb_buf_printf(b, "%s%s", first ? "" : ", ", v->valuestring);
		first = false;
	}
	if (first)
		fdb_buf_puts(b, "(none)");
}

/*
 * llm_draft_system_prompt
 *		Instructions plus the whole catalog in words.
 */
char *
llm_draft_system_prompt(const cJSON *catalog)
{
	FdbBuf		b;
	const cJSON *svc;
	const cJSON *nt;

	fdb_buf_init(&b);
	fdb_buf_puts(&b,
				 "You turn a small business owner's description of an automation into a "
				 "flowdb workflow blueprint.  Answer with the JSON object the schema "
				 "describes and nothing else.\n"
				 "Rules:\n"
				 "- Use only the services, tasks and parameters listed below; when the user "
				 "names an app that is not listed, leave it out.\n"
				 "- trigger.type is one of: ");
	draft_prompt_list(&b, cJSON_GetObjectItemCaseSensitive(catalog, "trigger_types"));
	fdb_buf_puts(&b,
				 ".  Set event for event/webhook triggers, cron for schedule, table for "
				 "table; the unused ones are null.\n"
				 "- Node ids are short and unique (letters, digits, _ or -).  Edges "
				 "{from, to} order the nodes; a router node branches through edge "
				 "conditions {left, op, right}; an edge with else true is taken when no "
				 "conditional sibling matched; condition and else are null otherwise.  An "
				 "edge with on \"failure\" is taken only when its source node fails (\"on "
				 "failure, tell me\"): the run goes on and {{steps.<node id>.error}} holds "
				 "the error; on is null otherwise.\n"
				 "- Condition operators: ");
	draft_prompt_list(&b, cJSON_GetObjectItemCaseSensitive(catalog, "condition_ops"));
	fdb_buf_puts(&b,
				 ".\n"
				 "- Parameter values may use templates: {{trigger_data.<field>}} for the "
				 "trigger's data and {{steps.<node id>.output.<field>}} for the output of an "
				 "earlier node.  A value that is exactly one template keeps its JSON type.\n"
				 "- Optional parameters you do not need are null.  Parameters and fields "
				 "of type object, array or any are given as JSON text (a string holding "
				 "JSON, e.g. \"{\\\"k\\\": 1}\").\n\n"
				 "Services and tasks:\n");

	cJSON_ArrayForEach(svc, cJSON_GetObjectItemCaseSensitive(catalog, "services"))
	{
		const cJSON *task;
		const cJSON *events = cJSON_GetObjectItemCaseSensitive(svc, "events");

		fdb_buf_printf(&b, "* %s: %s\n",
					   fdb_json_str(svc, "name") ? fdb_json_str(svc, "name") : "?",
					   fdb_json_str(svc, "description") ? fdb_json_str(svc, "description") : "");
		cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(svc, "tasks"))
		{
			fdb_buf_printf(&b, "  task %s.%s: %s; output %s\n",
						   fdb_json_str(svc, "name") ? fdb_json_str(svc, "name") : "?",
						   fdb_json_str(task, "name") ? fdb_json_str(task, "name") : "?",
						   fdb_json_str(task, "description") ?
						   fdb_json_str(task, "description") : "",
						   fdb_json_str(task, "output") ? fdb_json_str(task, "output") : "");
			draft_prompt_params(&b, cJSON_GetObjectItemCaseSensitive(task, "params"));
		}
		if (cJSON_GetArraySize(events) > 0)
		{
			fdb_buf_puts(&b, "  events: ");
			draft_prompt_list(&b, events);
			fdb_buf_puts(&b, "\n");
		}
	}
	fdb_buf_puts(&b, "\nNode types:\n");
	cJSON_ArrayForEach(nt, cJSON_GetObjectItemCaseSensitive(catalog, "node_types"))
	{
		const char *type = fdb_json_str(nt, "type");

		if (type == NULL || strcmp(type, "action") == 0)
			continue;
		fdb_buf_printf(&b, "* %s: %s\n", type,
					   fdb_json_str(nt, "description") ? fdb_json_str(nt, "description") : "");
		draft_prompt_params(&b, cJSON_GetObjectItemCaseSensitive(nt, "fields"));
	}
	fdb_buf_puts(&b, "* action: one task of a service (service, task, params as listed above).\n");
	return b.data ? b.data : fdb_strdup("");
}

/*
 * draft_find
 *		The element of arr whose "name" (or "type") is name, else NULL.
 */
static const cJSON *
draft_find(const cJSON *arr, const char *key, const char *name)
{
	const cJSON *v;

	if (name == NULL)
		return NULL;
	cJSON_ArrayForEach(v, arr)
	{
		const char *n = fdb_json_str(v, key);

		if (n && strcmp(n, name) == 0)
			return v;
	}
	return NULL;
}

/*
 * draft_decode_fields
 *		In obj: drop null members; decode the JSON text of fields whose
 *		catalog type is object/array/any (a string that does not parse is
 *		kept, so validation names it).
 */
static void
draft_decode_fields(cJSON *obj, const cJSON *fields)
{
	cJSON	   *m = obj ? obj->child : NULL;

	while (m)
	{
		cJSON	   *next = m->next;
		const cJSON *f = draft_find(fields, "name", m->string);

		if (cJSON_IsNull(m))
			cJSON_DeleteItemFromObjectCaseSensitive(obj, m->string);
		else if (f && cJSON_IsString(m) &&
				 draft_type_is_json_text(fdb_json_str(f, "type")))
		{
			cJSON	   *v = cJSON_Parse(m->valuestring);

			if (v)
				cJSON_ReplaceItemInObjectCaseSensitive(obj, m->string, v);
		}
		m = next;
	}
}

/*
 * draft_drop_nulls
 *		Remove the null members of an object.
 */
static void
draft_drop_nulls(cJSON *obj)
{
	cJSON	   *m = cJSON_IsObject(obj) ? obj->child : NULL;

	while (m)
	{
		cJSON	   *next = m->next;

		if (cJSON_IsNull(m))
			cJSON_DeleteItemFromObjectCaseSensitive(obj, m->string);
		m = next;
	}
}

/*
 * llm_draft_to_blueprint
 *		The blueprint an answer in the schema's shape stands for.
 */
cJSON *
llm_draft_to_blueprint(const cJSON *answer, char *err, size_t errlen)
{
	cJSON	   *catalog;
	cJSON	   *bp;
	cJSON	   *node;
	cJSON	   *edge;

	if (!cJSON_IsObject(answer))
	{
		fdb_fmt(err, errlen, "the answer is not a JSON object");
		return NULL;
	}
	catalog = catalog_to_json();
	bp = cJSON_Duplicate(answer, true);
	cJSON_DeleteItemFromObjectCaseSensitive(bp, "version");
	cJSON_AddNumberToObject(bp, "version", 1);
	draft_drop_nulls(cJSON_GetObjectItemCaseSensitive(bp, "trigger"));

	cJSON_ArrayForEach(node, cJSON_GetObjectItemCaseSensitive(bp, "nodes"))
	{
		const char *type = fdb_json_str(node, "type");

		if (!cJSON_IsObject(node))
			continue;
		draft_drop_nulls(node);
		if (type && strcmp(type, "action") == 0)
		{
			const cJSON *svc = draft_find(cJSON_GetObjectItemCaseSensitive(catalog, "services"),
										  "name", fdb_json_str(node, "service"));
			const cJSON *task = draft_find(cJSON_GetObjectItemCaseSensitive(svc, "tasks"),
										   "name", fdb_json_str(node, "task"));
			cJSON	   *params = cJSON_GetObjectItemCaseSensitive(node, "params");

			if (cJSON_IsObject(params))
				draft_decode_fields(params,
									cJSON_GetObjectItemCaseSensitive(task, "params"));
		}
		else if (type)
		{
			const cJSON *nt = draft_find(cJSON_GetObjectItemCaseSensitive(catalog, "node_types"),
										 "type", type);

			draft_decode_fields(node, cJSON_GetObjectItemCaseSensitive(nt, "fields"));
		}
	}
	cJSON_ArrayForEach(edge, cJSON_GetObjectItemCaseSensitive(bp, "edges"))
	{
		draft_drop_nulls(edge);
		draft_drop_nulls(cJSON_GetObjectItemCaseSensitive(edge, "condition"));
		if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(edge, "else")))
			cJSON_DeleteItemFromObjectCaseSensitive(edge, "else");
	}
	cJSON_Delete(catalog);
	return bp;
}

/*
 * draft_repair_message
 *		The user message of the repair round: the problems, one a line.
 */
static char *
draft_repair_message(const cJSON *problems)
{
	FdbBuf		b;
	const cJSON *p;
	int			n = 0;

	fdb_buf_init(&b);
	fdb_buf_puts(&b, "That blueprint is not valid.  Problems (JSON path: message):\n");
	cJSON_ArrayForEach(p, problems)
	{
		if (!cJSON_IsString(p) || n++ >= DRAFT_MAX_PROBLEMS)
			continue;
		fdb_buf_printf(&b, "- %s\n", p->valuestring);
	}
	fdb_buf_puts(&b, "Answer with the whole corrected blueprint.");
	return b.data ? b.data : fdb_strdup("");
}

/*
 * llm_draft_build
 *		The chat completion request: generated system prompt, the user's
 *		description, and for a repair the previous answer and its problems.
 */
bool
llm_draft_build(ToolContext *ctx, HttpRequest *req, char *err, size_t errlen)
{
	const char *prompt;
	const cJSON *repair_of = tool_param(ctx, "repair_of");
	const cJSON *problems = tool_param(ctx, "problems");
	cJSON	   *catalog;
	cJSON	   *body;
	cJSON	   *messages;
	cJSON	   *format;
	char	   *system;

	http_request_init(req, "POST");
	if (!tool_param_string(ctx, "prompt", &prompt, err, errlen) ||
		!llm_check_model(ctx, err, errlen) ||
		!tool_param_required("prompt", prompt != NULL, err, errlen))
		return false;
	if (strlen(prompt) > DRAFT_MAX_PROMPT)
	{
		fdb_fmt(err, errlen, "param prompt is longer than %d characters", DRAFT_MAX_PROMPT);
		return false;
	}
	if (problems && !cJSON_IsArray(problems))
	{
		fdb_fmt(err, errlen, "param problems must be an array");
		return false;
	}
	if (repair_of && !cJSON_IsObject(repair_of))
	{
		fdb_fmt(err, errlen, "param repair_of must be an object");
		return false;
	}

	catalog = catalog_to_json();
	system = llm_draft_system_prompt(catalog);
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "model", llm_model(ctx));
	messages = cJSON_AddArrayToObject(body, "messages");
	llm_add_message(messages, "system", system);
	llm_add_message(messages, "user", prompt);
	if (repair_of)
	{
		char	   *prev = fdb_json_print(repair_of);
		char	   *fix = draft_repair_message(problems);

		llm_add_message(messages, "assistant", prev ? prev : "{}");
		llm_add_message(messages, "user", fix);
		free(prev);
		free(fix);
	}
	cJSON_AddNumberToObject(body, "temperature", 0);
	format = cJSON_AddObjectToObject(body, "response_format");
	cJSON_AddStringToObject(format, "type", "json_schema");
	cJSON_AddItemToObject(format, "json_schema", llm_draft_schema(catalog));
	free(system);
	cJSON_Delete(catalog);
	llm_finish_request(ctx, req, body);
	return true;
}

/*
 * draft_output
 *		{blueprint, valid, problems, model, repaired}; takes bp and
 *		problems.
 */
static cJSON *
draft_output(const ToolContext *ctx, cJSON *bp, cJSON *problems, const char *model)
{
	cJSON	   *out = cJSON_CreateObject();

	cJSON_AddItemToObject(out, "blueprint", bp ? bp : cJSON_CreateNull());
	cJSON_AddBoolToObject(out, "valid", bp != NULL && cJSON_GetArraySize(problems) == 0);
	cJSON_AddItemToObject(out, "problems", problems);
	cJSON_AddStringToObject(out, "model", model ? model : llm_model(ctx));
	cJSON_AddBoolToObject(out, "repaired", tool_param(ctx, "repair_of") != NULL);
	return out;
}

/*
 * llm_draft_parse
 *		Extract the blueprint from the answer and validate it.
 */
ToolOutcome
llm_draft_parse(ToolContext *ctx, const HttpResponse *resp, cJSON **output,
				char *err, size_t errlen)
{
	cJSON	   *body = http_response_body_json(resp);
	const char *content;
	const char *finish;
	ToolOutcome outcome;

	if ((outcome = llm_answer(resp, body, &content, &finish, err, errlen)) == TOOL_DONE)
	{
		cJSON	   *answer = llm_parse_json_answer(content);
		cJSON	   *problems = cJSON_CreateArray();
		cJSON	   *bp = NULL;
		char		msg[FDB_ERRLEN];
		bool		cut = finish && strcmp(finish, "length") == 0;

		if (answer == NULL)
			cJSON_AddItemToArray(problems, cJSON_CreateString(cut ?
															  "$: the answer was cut off before the JSON ended" :
															  "$: the answer is not a JSON object"));
		else if ((bp = llm_draft_to_blueprint(answer, msg, sizeof(msg))) == NULL)
			cJSON_AddItemToArray(problems, cJSON_CreateString(msg));
		else
		{
			FdbErrors	errs;

			fdb_errors_init(&errs);
			if (!bp_validate(bp, &errs))
			{
				for (int i = 0; i < errs.count; i++)
					cJSON_AddItemToArray(problems, cJSON_CreateString(errs.items[i]));
				if (errs.count == 0)
					cJSON_AddItemToArray(problems, cJSON_CreateString("$: invalid blueprint"));
			}
			fdb_errors_free(&errs);
		}
		cJSON_Delete(answer);
		*output = draft_output(ctx, bp, problems, fdb_json_str(body, "model"));
	}
	cJSON_Delete(body);
	return outcome;
}

/*
 * llm_draft_sample
 *		Sandbox: nothing drafted, said as a problem (never a ready draft).
 */
cJSON *
llm_draft_sample(ToolContext *ctx)
{
	cJSON	   *problems = cJSON_CreateArray();

	cJSON_AddItemToArray(problems,
						 cJSON_CreateString("$: sandbox: no request was sent to the model, "
											"so nothing was drafted"));
	return draft_output(ctx, NULL, problems, NULL);
}

const ToolParam llm_draft_params[LLM_DRAFT_NPARAMS] = {
	{"prompt", PT_STRING, true, "What the workflow should do, in plain language"},
	{"repair_of", PT_OBJECT, false,
	"A previous draft's blueprint to correct (the repair round)"},
	{"problems", PT_ARRAY, false,
	"Validation problems of repair_of (\"path: message\" strings)"},
	{"model", PT_STRING, false, "Model name, overriding the configured default"},
};
