/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  The tool registry (pure C): fdb_services[] is the single list of
 *	  services, and every part that needs to know which tools exist
 *	  (blueprint validation, the catalog JSON, the worker, the credential
 *	  functions) looks them up here.
 *
 *	  Beside it, one job each: catalog_json.c (the catalog as JSON for
 *	  the LLM and the docs), httpmsg.c (HttpRequest/HttpResponse builders),
 *	  toolkit.c (helpers the provider tools in src/tools/ share),
 *	  service_limits.c (parsing flowdb.service_limits).
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

/* ---- registry: one line per service ---- */
const ToolService *const fdb_services[] = {
	&http_service,
	&whatsapp_service,
	&razorpay_service,
	&instagram_service,
	&slack_service,
	&llm_service,
	NULL
};
/* ---- end registry ---- */

/*
 * catalog_service
 *		The registered service called name, or NULL.
 */
const ToolService *
catalog_service(const char *name)
{
	int			i;

	if (name == NULL)
		return NULL;
	for (i = 0; fdb_services[i] != NULL; i++)
	{
		if (strcmp(fdb_services[i]->name, name) == 0)
			return fdb_services[i];
	}
	return NULL;
}

/*
 * catalog_task
 *		The task called name of service svc, or NULL.
 */
const ToolTask *
catalog_task(const ToolService *svc, const char *name)
{
	int			i;

	if (svc == NULL || name == NULL)
		return NULL;
	for (i = 0; i < svc->ntasks; i++)
	{
		if (strcmp(svc->tasks[i].name, name) == 0)
			return &svc->tasks[i];
	}
	return NULL;
}

/*
 * param_type_name
 *		The name of a parameter type as used in the catalog and errors.
 */
const char *
param_type_name(ParamType t)
{
	switch (t)
	{
		case PT_STRING:
			return "string";
		case PT_NUMBER:
			return "number";
		case PT_INTEGER:
			return "integer";
		case PT_BOOLEAN:
			return "boolean";
		case PT_OBJECT:
			return "object";
		case PT_ARRAY:
			return "array";
		case PT_ANY:
			return "any";
	}
	return "any";
}

/*
 * param_type_matches
 *		Does v have type t?  PT_INTEGER is a finite number without a
 *		fractional part; PT_ANY matches every value (including null).
 */
bool
param_type_matches(ParamType t, const cJSON *v)
{
	if (v == NULL)
		return false;
	switch (t)
	{
		case PT_STRING:
			return cJSON_IsString(v) && v->valuestring != NULL;
		case PT_NUMBER:
			return cJSON_IsNumber(v) && isfinite(v->valuedouble);
		case PT_INTEGER:
			return cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
				v->valuedouble >= -9007199254740992.0 &&
				v->valuedouble <= 9007199254740992.0 &&
				v->valuedouble == (double) (long long) v->valuedouble;
		case PT_BOOLEAN:
			return cJSON_IsBool(v);
		case PT_OBJECT:
			return cJSON_IsObject(v);
		case PT_ARRAY:
			return cJSON_IsArray(v);
		case PT_ANY:
			return true;
	}
	return false;
}

/*
 * catalog_one_of_missing
 *		True when no parameter of the group ("a,b") is given in params:
 *		present and not null, "" or [] (a template counts as given).
 */
bool
catalog_one_of_missing(const char *group, const cJSON *params)
{
	const char *p = group;

	while (p && *p)
	{
		size_t		len = strcspn(p, ",");
		char		name[128];
		const cJSON *v;

		snprintf(name, sizeof(name), "%.*s", (int) len, p);
		v = cJSON_GetObjectItemCaseSensitive(params, name);
		if (v != NULL && !cJSON_IsNull(v) &&
			!(cJSON_IsString(v) && v->valuestring[0] == '\0') &&
			!(cJSON_IsArray(v) && cJSON_GetArraySize(v) == 0))
			return false;
		p += len;
		if (*p == ',')
			p++;
	}
	return true;
}

/*
 * catalog_service_has_credentials
 *		Does the service declare credential fields?
 */
bool
catalog_service_has_credentials(const ToolService *svc)
{
	return svc->credential_fields != NULL && svc->credential_fields[0] != NULL;
}

/*
 * catalog_service_index
 *		Position of svc in the registry, or -1.
 */
int
catalog_service_index(const ToolService *svc)
{
	for (int i = 0; fdb_services[i] != NULL; i++)
		if (fdb_services[i] == svc)
			return i;
	return -1;
}

/*
 * catalog_credential_field_required
 *		A declared credential field that is not listed as optional.
 */
bool
catalog_credential_field_required(const ToolService *svc, const char *field)
{
	bool		declared = false;

	for (int i = 0; svc->credential_fields && svc->credential_fields[i]; i++)
		if (strcmp(svc->credential_fields[i], field) == 0)
			declared = true;
	for (int i = 0; svc->optional_credential_fields && svc->optional_credential_fields[i]; i++)
		if (strcmp(svc->optional_credential_fields[i], field) == 0)
			return false;
	return declared;
}
