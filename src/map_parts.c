/*
 * map_parts.c
 *		A running map's items and results, stored apart from its run's
 *		state: which rows a commit adds to flowdb.map_parts, the state as
 *		it is written meanwhile, and the arrays rebuilt from the rows when
 *		the run is claimed again.  See map_parts.h.
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "fjson.h"
#include "map_parts.h"

#define APART_KEY "apart"

/*
 * running_map
 *		A node state's map while it runs: an object with an "items" and a
 *		"results" array (NULL otherwise: not a map, finished, or still
 *		stored apart).
 */
static cJSON *
running_map(const cJSON *ns)
{
	cJSON	   *m = cJSON_GetObjectItemCaseSensitive(ns, "map");

	if (!cJSON_IsObject(m) ||
		!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(m, "items")) ||
		!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(m, "results")))
		return NULL;
	return m;
}

/*
 * apart_instance
 *		The instance named by a marker {"apart": "<instance>"}, else NULL.
 */
static const char *
apart_instance(const cJSON *v)
{
	return cJSON_IsObject(v) ? fdb_json_str(v, APART_KEY) : NULL;
}

/*
 * map_parts_needed
 *		Does the state store a map's items apart (the rows must be read)?
 */
bool
map_parts_needed(const cJSON *state)
{
	const cJSON *ns;

	cJSON_ArrayForEach(ns, cJSON_GetObjectItemCaseSensitive(state, "nodes"))
	{
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(ns, "map");

		if (apart_instance(cJSON_GetObjectItemCaseSensitive(m, "items")) != NULL)
			return true;
	}
	return false;
}

/*
 * find_node
 *		The record of node_id, or NULL.
 */
static MapPartsNode *
find_node(MapParts *p, const char *node_id)
{
	for (int i = 0; i < p->nnodes; i++)
		if (strcmp(p->nodes[i].node_id, node_id) == 0)
			return &p->nodes[i];
	return NULL;
}

/*
 * init_node
 *		A new, empty record's set-up for a map of n items.
 */
static void
init_node(MapPartsNode *r, const char *instance, const cJSON *m, int n)
{
	r->instance = fdb_strdup(instance);
	r->map = m;
	r->items_saved = false;
	r->items_pending = false;
	r->nsaved = n;
	r->saved = calloc(n > 0 ? n : 1, 1);
	r->pending = malloc(sizeof(int) * (n > 0 ? n : 1));
	r->npending = 0;
	if (r->instance == NULL || r->saved == NULL || r->pending == NULL)
		abort();				/* out of memory: the worker's allocator aborts too */
}

/*
 * add_node
 *		A new, empty record for node_id.
 */
static MapPartsNode *
add_node(MapParts *p, const char *node_id)
{
	MapPartsNode *nodes = realloc(p->nodes, sizeof(MapPartsNode) * (p->nnodes + 1));
	MapPartsNode *r;

	if (nodes == NULL)
		abort();
	p->nodes = nodes;
	r = &p->nodes[p->nnodes++];
	memset(r, 0, sizeof(*r));
	r->node_id = fdb_strdup(node_id);
	if (r->node_id == NULL)
		abort();
	return r;
}

/*
 * free_node
 *		Free a record's memory (markers and detached arrays are never left
 *		over: attach runs after every detach).
 */
static void
free_node(MapPartsNode *r)
{
	free(r->node_id);
	free(r->instance);
	free(r->saved);
	free(r->pending);
}

/*
 * drop_node
 *		Remove record i (its map finished or went away).
 */
static void
drop_node(MapParts *p, int i)
{
	free_node(&p->nodes[i]);
	p->nodes[i] = p->nodes[--p->nnodes];
}

/*
 * add_row
 *		Append a row to this commit's rows; value is printed here.
 */
static void
add_row(MapParts *p, const MapPartsNode *r, int item, const cJSON *value)
{
	MapPartRow *row;

	if (p->nrows == p->caprows)
	{
		int			cap = p->caprows ? p->caprows * 2 : 16;
		MapPartRow *rows = realloc(p->rows, sizeof(MapPartRow) * cap);

		if (rows == NULL)
			abort();
		p->rows = rows;
		p->caprows = cap;
	}
	row = &p->rows[p->nrows++];
	row->node_id = fdb_strdup(r->node_id);
	row->instance = fdb_strdup(r->instance);
	row->item = item;
	row->value = fdb_json_print(value);
	if (row->node_id == NULL || row->instance == NULL || row->value == NULL)
		abort();
}

/*
 * free_rows
 *		Forget this commit's rows.
 */
static void
free_rows(MapParts *p)
{
	for (int i = 0; i < p->nrows; i++)
	{
		free(p->rows[i].node_id);
		free(p->rows[i].instance);
		free(p->rows[i].value);
	}
	p->nrows = 0;
}

/*
 * map_parts_restore
 *		The run was claimed with a state that stores maps apart: put the
 *		arrays rebuilt from its rows (all of the run's rows, any order)
 *		back into the state, and remember them as written.  False, with
 *		err set, when a map's items row is missing or a row does not parse:
 *		the caller fails the run.
 */
bool
map_parts_restore(MapParts *p, cJSON *state, const MapPartRow *rows, int nrows,
				  char *err, size_t errlen)
{
	cJSON	   *ns;

	p->rows_exist = nrows > 0;
	cJSON_ArrayForEach(ns, cJSON_GetObjectItemCaseSensitive(state, "nodes"))
	{
		cJSON	   *m = cJSON_GetObjectItemCaseSensitive(ns, "map");
		const char *inst = apart_instance(cJSON_GetObjectItemCaseSensitive(m, "items"));
		cJSON	   *items = NULL;
		cJSON	   *results;
		MapPartsNode *r;
		int			n;

		if (inst == NULL)
			continue;
		for (int i = 0; i < nrows && items == NULL; i++)
			if (rows[i].item == MAP_PARTS_ITEMS && strcmp(rows[i].node_id, ns->string) == 0 &&
				strcmp(rows[i].instance, inst) == 0)
				items = cJSON_Parse(rows[i].value);
		if (!cJSON_IsArray(items))
		{
			cJSON_Delete(items);
			snprintf(err, errlen, "map node \"%s\": its items (instance %s) are missing from flowdb.map_parts",
					 ns->string, inst);
			return false;
		}
		n = cJSON_GetArraySize(items);
		r = add_node(p, ns->string);
		init_node(r, inst, m, n);
		r->items_saved = true;
		results = cJSON_CreateArray();
		for (int i = 0; i < n; i++)
			cJSON_AddItemToArray(results, cJSON_CreateNull());
		for (int i = 0; i < nrows; i++)
		{
			cJSON	   *v;

			if (rows[i].item < 0 || rows[i].item >= n ||
				strcmp(rows[i].node_id, ns->string) != 0 || strcmp(rows[i].instance, inst) != 0)
				continue;
			v = cJSON_Parse(rows[i].value);
			if (v == NULL)
			{
				cJSON_Delete(items);
				cJSON_Delete(results);
				snprintf(err, errlen, "map node \"%s\": the result of item %d does not parse",
						 ns->string, rows[i].item);
				return false;
			}
			cJSON_ReplaceItemInArray(results, rows[i].item, v);
			r->saved[rows[i].item] = 1;
		}
		cJSON_ReplaceItemInObjectCaseSensitive(m, "items", items);
		cJSON_ReplaceItemInObjectCaseSensitive(m, "results", results);
	}
	return true;
}

/*
 * map_parts_collect
 *		This commit's rows for a run with the given state: for every map
 *		that runs, its items once and each result not written yet.  A map
 *		started since the last commit (or over again) gets a new instance
 *		named after the claim's token.  finishing: the run ends with this
 *		commit, its state is written whole and its rows deleted (no rows,
 *		and detach does nothing).
 */
void
map_parts_collect(MapParts *p, const cJSON *state, const char *token, bool finishing)
{
	const cJSON *ns;

	free_rows(p);
	p->clear = finishing && p->rows_exist;
	/* maps that finished (or are gone): their rows stay until the run ends */
	for (int i = p->nnodes - 1; i >= 0; i--)
	{
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(state, "nodes"),
														   p->nodes[i].node_id);

		if (finishing || running_map(n) != p->nodes[i].map)
			drop_node(p, i);
	}
	if (finishing)
		return;
	cJSON_ArrayForEach(ns, cJSON_GetObjectItemCaseSensitive(state, "nodes"))
	{
		const cJSON *m = running_map(ns);
		const cJSON *items;
		const cJSON *res;
		MapPartsNode *r;
		int			i;

		if (m == NULL)
			continue;
		items = cJSON_GetObjectItemCaseSensitive(m, "items");
		r = find_node(p, ns->string);
		if (r == NULL)
		{
			char	   *inst = fdb_asprintf("%s.%d", token, ++p->instances);

			if (inst == NULL)
				abort();
			r = add_node(p, ns->string);
			init_node(r, inst, m, cJSON_GetArraySize(items));
			free(inst);
		}
		r->npending = 0;
		r->items_pending = !r->items_saved;
		if (r->items_pending)
			add_row(p, r, MAP_PARTS_ITEMS, items);
		i = 0;
		cJSON_ArrayForEach(res, cJSON_GetObjectItemCaseSensitive(m, "results"))
		{
			if (i < r->nsaved && !r->saved[i] && !cJSON_IsNull(res))
			{
				add_row(p, r, i, res);
				r->pending[r->npending++] = i;
			}
			i++;
		}
	}
}

/*
 * map_parts_detach
 *		Before the state is printed: put a marker in place of the arrays of
 *		every map collected (map_parts_attach puts them back).
 */
void
map_parts_detach(MapParts *p)
{
	for (int i = 0; i < p->nnodes; i++)
	{
		MapPartsNode *r = &p->nodes[i];
		cJSON	   *m = (cJSON *) r->map;

		r->items = cJSON_DetachItemFromObjectCaseSensitive(m, "items");
		r->results = cJSON_DetachItemFromObjectCaseSensitive(m, "results");
		r->items_marker = cJSON_CreateObject();
		r->results_marker = cJSON_CreateObject();
		if (r->items_marker == NULL || r->results_marker == NULL ||
			cJSON_AddStringToObject(r->items_marker, APART_KEY, r->instance) == NULL ||
			cJSON_AddStringToObject(r->results_marker, APART_KEY, r->instance) == NULL)
			abort();
		cJSON_AddItemToObject(m, "items", r->items_marker);
		cJSON_AddItemToObject(m, "results", r->results_marker);
	}
}

/*
 * map_parts_attach
 *		After the state was printed: the arrays back in place of the
 *		markers (the same cJSON items: pointers into them stay valid).
 */
void
map_parts_attach(MapParts *p)
{
	for (int i = 0; i < p->nnodes; i++)
	{
		MapPartsNode *r = &p->nodes[i];
		cJSON	   *m = (cJSON *) r->map;

		if (r->items_marker == NULL)
			continue;
		cJSON_Delete(cJSON_DetachItemViaPointer(m, r->items_marker));
		cJSON_Delete(cJSON_DetachItemViaPointer(m, r->results_marker));
		cJSON_AddItemToObject(m, "items", r->items);
		cJSON_AddItemToObject(m, "results", r->results);
		r->items = r->results = r->items_marker = r->results_marker = NULL;
	}
}

/*
 * map_parts_written
 *		After the commit: written, its rows are in the table (and a
 *		finishing run's are gone); otherwise they will be collected again.
 */
void
map_parts_written(MapParts *p, bool written)
{
	for (int i = 0; i < p->nnodes; i++)
	{
		MapPartsNode *r = &p->nodes[i];

		if (written)
		{
			if (r->items_pending)
				r->items_saved = true;
			for (int j = 0; j < r->npending; j++)
				r->saved[r->pending[j]] = 1;
		}
		r->items_pending = false;
		r->npending = 0;
	}
	if (written && p->nrows > 0)
		p->rows_exist = true;
	if (written && p->clear)
		p->rows_exist = false;
	p->clear = false;
	free_rows(p);
}

/*
 * map_parts_free
 *		Free everything (p is left empty).
 */
void
map_parts_free(MapParts *p)
{
	free_rows(p);
	free(p->rows);
	for (int i = 0; i < p->nnodes; i++)
		free_node(&p->nodes[i]);
	free(p->nodes);
	memset(p, 0, sizeof(*p));
}
