/*-------------------------------------------------------------------------
 *
 * table_shape.c
 *	  What a table trigger's payload holds: the columns of the table a
 *	  blueprint's trigger names (bp_table_shape_hook), so that validation
 *	  can say "did you mean" for {{trigger_data.<column>}} typos.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "blueprint.h"
#include "flowdb.h"

/*
 * plain_identifier
 *		True when s[0..len) is an unquoted SQL identifier.  Anything else
 *		(quotes, spaces, dots in the wrong place) is left unknown rather than
 *		parsed, so that validation never raises on a strange name.
 */
static bool
plain_identifier(const char *s, size_t len)
{
	if (len == 0 || len >= NAMEDATALEN)
		return false;
	if (!(isalpha((unsigned char) s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(isalnum((unsigned char) s[i]) || s[i] == '_' || s[i] == '$'))
			return false;
	return true;
}

/*
 * flowdb_table_shape
 *		bp_table_shape_hook: an object with one null member per column of
 *		the table ("orders" is public.orders, "shop.orders" names its schema),
 *		the shape of to_jsonb(NEW) that flow_trigger passes as trigger_data;
 *		NULL when the table does not exist (yet) or the name is unusual.
 */
cJSON *
flowdb_table_shape(const char *table)
{
	const char *dot = strchr(table, '.');
	char		schema[NAMEDATALEN] = "public";
	const char *rel = table;
	Oid			nsp;
	Oid			relid;
	HeapTuple	tup;
	int			natts;
	cJSON	   *shape;

	if (dot != NULL)
	{
		if (!plain_identifier(table, dot - table))
			return NULL;
		memcpy(schema, table, dot - table);
		schema[dot - table] = '\0';
		rel = dot + 1;
	}
	if (!plain_identifier(rel, strlen(rel)))
		return NULL;
	nsp = get_namespace_oid(schema, true);
	if (!OidIsValid(nsp))
		return NULL;
	relid = get_relname_relid(rel, nsp);
	if (!OidIsValid(relid))
		return NULL;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		return NULL;
	natts = ((Form_pg_class) GETSTRUCT(tup))->relnatts;
	ReleaseSysCache(tup);

	shape = cJSON_CreateObject();
	if (shape == NULL)
		return NULL;
	for (int attnum = 1; attnum <= natts; attnum++)
	{
		HeapTuple	atup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid),
										   Int16GetDatum(attnum));
		Form_pg_attribute att;

		if (!HeapTupleIsValid(atup))
			continue;
		att = (Form_pg_attribute) GETSTRUCT(atup);
		if (!att->attisdropped)
			cJSON_AddItemToObject(shape, NameStr(att->attname), cJSON_CreateNull());
		ReleaseSysCache(atup);
	}
	return shape;
}
