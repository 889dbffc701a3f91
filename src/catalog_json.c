/*-------------------------------------------------------------------------
 *
 * catalog_json.c
 *	  The catalog as JSON (catalog_to_json): node types, trigger types,
 *	  condition operators, edge and workflow-level fields (failure paths)
 *	  and every registered service with its tasks and
 *	  parameters, for the LLM prompt, flowdb.catalog() and the docs.
 *
 *-------------------------------------------------------------------------
 */
#include "catalog.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/*
 * Node types of blueprint v1 and their fields, for catalog_to_json.  These
 * mirror the rules enforced by bp_validate (blueprint.c).
 */
typedef struct NodeTypeDoc
{
	const char *type;
	const char *description;
	const ToolParam *fields;
	int			nfields;
} NodeTypeDoc;

static const ToolParam action_fields[] = {
	{"service", PT_STRING, true, "Service name from the catalog, e.g. \"http\"."},
	{"task", PT_STRING, true, "Task name of that service, e.g. \"request\"."},
	{"params", PT_OBJECT, false,
	"Task parameters; string values may contain {{ templates }}.  Required unless the task has no required parameters."},
	{"credential", PT_STRING, false, "Name of the stored credential to use (omit for sandbox)."},
	{"retry", PT_OBJECT, false,
	"{\"max_attempts\": integer 1..10, \"backoff_ms\"?: integer 10..3600000}."},
	{"timeout_ms", PT_INTEGER, false, "Per-request timeout, 1..300000 ms."},
};

static const ToolParam delay_fields[] = {
	{"seconds", PT_NUMBER, false,
	"Wait this many seconds (> 0, at most 2592000).  Exactly one of seconds/until."},
	{"until", PT_STRING, false,
	"Wait until this ISO 8601 timestamp (or a template yielding one).  Exactly one of seconds/until."},
};

static const ToolParam wait_event_fields[] = {
	{"event", PT_STRING, true, "Event name to wait for (namespace.name)."},
	{"match", PT_OBJECT, false,
	"Fields the event data must equal; values may contain {{ templates }}."},
	{"timeout_seconds", PT_NUMBER, false,
	"Give up after this many seconds (> 0, at most 31536000)."},
};

static const ToolParam set_fields[] = {
	{"values", PT_OBJECT, true,
	"Object to compute; values may contain {{ templates }}.  Becomes the step output."},
};

static const NodeTypeDoc node_types[] = {
	{"action", "Run one task of a tool service.", action_fields,
	(int) (sizeof(action_fields) / sizeof(action_fields[0]))},
	{"router", "Do nothing; branch through the conditions of its outgoing edges.", NULL, 0},
	{"delay", "Pause the run for a duration or until a timestamp.", delay_fields,
	(int) (sizeof(delay_fields) / sizeof(delay_fields[0]))},
	{"wait_event", "Pause the run until a matching event arrives.", wait_event_fields,
	(int) (sizeof(wait_event_fields) / sizeof(wait_event_fields[0]))},
	{"set", "Compute values from templates (a step without side effects).", set_fields,
	(int) (sizeof(set_fields) / sizeof(set_fields[0]))},
};

static const char *const trigger_types[] = {
	"manual", "event", "table", "webhook", "schedule", NULL
};

/* Edge fields and workflow-level fields, for catalog_to_json (bp_validate). */
static const ToolParam edge_fields[] = {
	{"from", PT_STRING, true, "Id of the source node."},
	{"to", PT_STRING, true, "Id of the target node."},
	{"condition", PT_OBJECT, false,
	"Take the edge only when this condition holds (not on failure edges)."},
	{"else", PT_BOOLEAN, false,
	"true: taken when no conditional sibling edge was taken (not on failure edges)."},
	{"on", PT_STRING, false,
	"\"success\" (default) or \"failure\": a failure edge is taken only when the source node fails after its retries; the run then goes on, and {{steps.<source>.error}} holds the error."},
};

static const ToolParam workflow_fields[] = {
	{"on_failure", PT_OBJECT, false,
	"{\"workflow\": \"<id or name>\"}: when a run fails, start that saved workflow of the same owner with trigger_data {run_id, workflow, workflow_id, node, error}."},
};

static const char *const condition_ops[] = {
	"eq", "ne", "gt", "gte", "lt", "lte", "contains", "starts_with",
	"ends_with", "in", "exists", "empty", "matches", NULL
};

/*
 * add_string_list
 *		Add key: [strings...] to obj from a NULL-terminated list (NULL list
 *		gives []).
 */
static void
add_string_list(cJSON *obj, const char *key, const char *const *list)
{
	cJSON	   *arr = cJSON_AddArrayToObject(obj, key);
	int			i;

	if (arr == NULL || list == NULL)
		return;
	for (i = 0; list[i] != NULL; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(list[i]));
}

/*
 * params_to_json
 *		[{"name","type","required","description"}...] for a parameter list.
 */
static cJSON *
params_to_json(const ToolParam *params, int nparams)
{
	cJSON	   *arr = cJSON_CreateArray();
	int			i;

	for (i = 0; i < nparams; i++)
	{
		cJSON	   *p = cJSON_CreateObject();

		cJSON_AddStringToObject(p, "name", params[i].name);
		cJSON_AddStringToObject(p, "type", param_type_name(params[i].type));
		cJSON_AddBoolToObject(p, "required", params[i].required);
		cJSON_AddStringToObject(p, "description",
								params[i].description ? params[i].description : "");
		cJSON_AddItemToArray(arr, p);
	}
	return arr;
}

/*
 * service_to_json
 *		One service of the catalog as JSON.
 */
static cJSON *
service_to_json(const ToolService *svc)
{
	cJSON	   *s = cJSON_CreateObject();
	cJSON	   *tasks;
	char		setting[128];
	int			i;

	cJSON_AddStringToObject(s, "name", svc->name);
	cJSON_AddStringToObject(s, "description", svc->description ? svc->description : "");
	/* services without a fixed API (http) take full URLs: no setting */
	if (svc->default_base_url && svc->default_base_url[0])
	{
		snprintf(setting, sizeof(setting), "flowdb.%s_base_url", svc->name);
		cJSON_AddStringToObject(s, "base_url_setting", setting);
		cJSON_AddStringToObject(s, "default_base_url", svc->default_base_url);
	}
	else
	{
		cJSON_AddNullToObject(s, "base_url_setting");
		cJSON_AddNullToObject(s, "default_base_url");
	}
	add_string_list(s, "credential_fields", svc->credential_fields);

	tasks = cJSON_AddArrayToObject(s, "tasks");
	for (i = 0; tasks != NULL && i < svc->ntasks; i++)
	{
		const ToolTask *task = &svc->tasks[i];
		cJSON	   *t = cJSON_CreateObject();

		cJSON_AddStringToObject(t, "name", task->name);
		cJSON_AddStringToObject(t, "description", task->description ? task->description : "");
		cJSON_AddItemToObject(t, "params", params_to_json(task->params, task->nparams));
		cJSON_AddStringToObject(t, "output",
								task->output_description ? task->output_description : "");
		cJSON_AddItemToArray(tasks, t);
	}
	add_string_list(s, "events", svc->events);
	return s;
}

/*
 * catalog_to_json
 *		The whole catalog: services with tasks and events, trigger types,
 *		node types with their fields, condition operators, edge fields and
 *		workflow-level fields (on_failure).  Caller
 *		cJSON_Delete()s the result.
 */
cJSON *
catalog_to_json(void)
{
	cJSON	   *root = cJSON_CreateObject();
	cJSON	   *services;
	cJSON	   *nodes;
	int			i;

	if (root == NULL)
		return NULL;
	cJSON_AddNumberToObject(root, "version", 1);

	services = cJSON_AddArrayToObject(root, "services");
	for (i = 0; services != NULL && fdb_services[i] != NULL; i++)
		cJSON_AddItemToArray(services, service_to_json(fdb_services[i]));

	add_string_list(root, "trigger_types", trigger_types);

	nodes = cJSON_AddArrayToObject(root, "node_types");
	for (i = 0; nodes != NULL && i < (int) (sizeof(node_types) / sizeof(node_types[0])); i++)
	{
		cJSON	   *n = cJSON_CreateObject();

		cJSON_AddStringToObject(n, "type", node_types[i].type);
		cJSON_AddStringToObject(n, "description", node_types[i].description);
		cJSON_AddItemToObject(n, "fields",
							  params_to_json(node_types[i].fields, node_types[i].nfields));
		cJSON_AddItemToArray(nodes, n);
	}

	add_string_list(root, "condition_ops", condition_ops);
	cJSON_AddItemToObject(root, "edge_fields",
						  params_to_json(edge_fields,
										 (int) (sizeof(edge_fields) / sizeof(edge_fields[0]))));
	cJSON_AddItemToObject(root, "workflow_fields",
						  params_to_json(workflow_fields,
										 (int) (sizeof(workflow_fields) / sizeof(workflow_fields[0]))));
	return root;
}
