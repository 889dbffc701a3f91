/*
 * test_map_parts.c: a running map's items and results stored apart
 * (src/map_parts.c): the rows each commit adds, the state written
 * meanwhile, and the arrays rebuilt from the rows after a crash.
 */
#include "unit.h"
#include "fjson.h"
#include "map_parts.h"

/* a run state with one map node "m" over n items, results set for done[] */
static cJSON *
map_state(int n, const int *done, int ndone)
{
	cJSON	   *state = cJSON_CreateObject();
	cJSON	   *nodes = cJSON_AddObjectToObject(state, "nodes");
	cJSON	   *ns = cJSON_AddObjectToObject(nodes, "m");
	cJSON	   *m = cJSON_AddObjectToObject(ns, "map");
	cJSON	   *items = cJSON_AddArrayToObject(m, "items");
	cJSON	   *results;

	cJSON_AddStringToObject(ns, "status", "running");
	for (int i = 0; i < n; i++)
	{
		cJSON	   *it = cJSON_CreateObject();

		cJSON_AddNumberToObject(it, "phone", 9000 + i);
		cJSON_AddItemToArray(items, it);
	}
	cJSON_AddNumberToObject(m, "next", ndone);
	results = cJSON_AddArrayToObject(m, "results");
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(results, cJSON_CreateNull());
	cJSON_AddObjectToObject(m, "active");
	for (int i = 0; i < ndone; i++)
	{
		cJSON	   *r = cJSON_CreateObject();

		cJSON_AddNumberToObject(r, "status", 200);
		cJSON_AddNumberToObject(r, "i", done[i]);
		cJSON_ReplaceItemInArray(results, done[i], r);
	}
	return state;
}

/* result i of the state's map */
static cJSON *
result_of(cJSON *state, int i)
{
	cJSON	   *m = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(state, "nodes"), "m"), "map");

	return cJSON_GetArrayItem(cJSON_GetObjectItem(m, "results"), i);
}

/* set result i of the state's map to {"status": 200, "i": i} */
static void
finish_item(cJSON *state, int i)
{
	cJSON	   *m = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(state, "nodes"), "m"), "map");
	cJSON	   *r = cJSON_CreateObject();

	cJSON_AddNumberToObject(r, "status", 200);
	cJSON_AddNumberToObject(r, "i", i);
	cJSON_ReplaceItemInArray(cJSON_GetObjectItem(m, "results"), i, r);
}

/* the state as the commit writes it (detach, print, attach) */
static char *
written_state(MapParts *p, cJSON *state)
{
	char	   *text;

	map_parts_detach(p);
	text = fdb_json_print(state);
	map_parts_attach(p);
	return text;
}

/* a copy of this commit's rows, as the table would return them */
static MapPartRow *
copy_rows(const MapParts *p, MapPartRow *into, int *n)
{
	for (int i = 0; i < p->nrows; i++)
	{
		into[*n].node_id = strdup(p->rows[i].node_id);
		into[*n].instance = strdup(p->rows[i].instance);
		into[*n].item = p->rows[i].item;
		into[*n].value = strdup(p->rows[i].value);
		(*n)++;
	}
	return into;
}

static void
free_table(MapPartRow *rows, int n)
{
	for (int i = 0; i < n; i++)
	{
		free(rows[i].node_id);
		free(rows[i].instance);
		free(rows[i].value);
	}
}

TEST(first_commit_writes_items_and_done_results)
{
	int			done[] = {0, 2};
	cJSON	   *state = map_state(4, done, 2);
	MapParts	p = {0};
	char	   *text;

	CHECK(!map_parts_needed(state));
	map_parts_collect(&p, state, "tok", false);
	CHECK_INT(p.nrows, 3);
	CHECK_INT(p.rows[0].item, MAP_PARTS_ITEMS);
	CHECK_STR(p.rows[0].instance, "tok.1");
	CHECK_STR(p.rows[0].node_id, "m");
	CHECK_STR(p.rows[0].value, "[{\"phone\":9000},{\"phone\":9001},{\"phone\":9002},{\"phone\":9003}]");
	CHECK_INT(p.rows[1].item, 0);
	CHECK_STR(p.rows[1].value, "{\"status\":200,\"i\":0}");
	CHECK_INT(p.rows[2].item, 2);
	CHECK(!p.clear);

	text = written_state(&p, state);
	CHECK_STR(text, "{\"nodes\":{\"m\":{\"map\":{\"next\":2,\"active\":{},"
			  "\"items\":{\"apart\":\"tok.1\"},\"results\":{\"apart\":\"tok.1\"}},\"status\":\"running\"}}}");
	free(text);
	/* attached again: the engine's arrays are whole */
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetObjectItem(cJSON_GetObjectItem(state, "nodes"), "m"), "map"), "items")), 4);
	CHECK_INT((int) cJSON_GetNumberValue(cJSON_GetObjectItem(result_of(state, 2), "i")), 2);

	map_parts_written(&p, true);
	CHECK_INT(p.nrows, 0);
	CHECK(p.rows_exist);
	map_parts_free(&p);
	cJSON_Delete(state);
}

TEST(later_commits_write_only_new_results)
{
	int			done[] = {1};
	cJSON	   *state = map_state(3, done, 1);
	MapParts	p = {0};

	map_parts_collect(&p, state, "tok", false);
	map_parts_written(&p, true);
	finish_item(state, 0);
	map_parts_collect(&p, state, "tok", false);
	CHECK_INT(p.nrows, 1);
	CHECK_INT(p.rows[0].item, 0);
	CHECK_STR(p.rows[0].instance, "tok.1");
	/* not written (a client held the row): collected again next time */
	map_parts_written(&p, false);
	finish_item(state, 2);
	map_parts_collect(&p, state, "tok", false);
	CHECK_INT(p.nrows, 2);
	CHECK_INT(p.rows[0].item, 0);
	CHECK_INT(p.rows[1].item, 2);
	map_parts_written(&p, true);
	map_parts_collect(&p, state, "tok", false);
	CHECK_INT(p.nrows, 0);
	map_parts_free(&p);
	cJSON_Delete(state);
}

TEST(finishing_run_is_written_whole_and_clears_rows)
{
	int			done[] = {0, 1};
	cJSON	   *state = map_state(2, done, 2);
	MapParts	p = {0};
	char	   *text;
	char	   *whole = fdb_json_print(state);

	map_parts_collect(&p, state, "tok", false);
	map_parts_written(&p, true);
	map_parts_collect(&p, state, "tok", true);
	CHECK_INT(p.nrows, 0);
	CHECK(p.clear);
	text = written_state(&p, state);
	CHECK_STR(text, whole);
	free(text);
	map_parts_written(&p, true);
	CHECK(!p.rows_exist);
	CHECK(!p.clear);
	free(whole);
	map_parts_free(&p);
	cJSON_Delete(state);
}

TEST(run_without_rows_clears_nothing)
{
	int			done[] = {0};
	cJSON	   *state = map_state(1, done, 1);
	MapParts	p = {0};

	map_parts_collect(&p, state, "tok", true);
	CHECK(!p.clear);
	CHECK_INT(p.nrows, 0);
	map_parts_free(&p);
	cJSON_Delete(state);
}

TEST(restore_rebuilds_the_arrays_after_a_crash)
{
	int			done[] = {0, 3};
	cJSON	   *state = map_state(5, done, 2);
	MapParts	p = {0};
	MapParts	q = {0};
	MapPartRow	table[16];
	int			n = 0;
	char	   *text;
	cJSON	   *loaded;
	char		err[256];
	char	   *before = fdb_json_print(state);
	char	   *after;

	map_parts_collect(&p, state, "tok", false);
	copy_rows(&p, table, &n);
	text = written_state(&p, state);
	map_parts_written(&p, true);
	/* a stale row of an earlier start of the map is never read */
	table[n].node_id = strdup("m");
	table[n].instance = strdup("old.1");
	table[n].item = 1;
	table[n].value = strdup("{\"stale\":true}");
	n++;

	loaded = cJSON_Parse(text);
	CHECK(map_parts_needed(loaded));
	CHECK(map_parts_restore(&q, loaded, table, n, err, sizeof(err)));
	after = fdb_json_print(loaded);
	/* the same arrays (keys "items" and "results" move to the end) */
	CHECK(cJSON_Compare(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetObjectItem(loaded, "nodes"), "m"), "map"), "results"),
						cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetObjectItem(state, "nodes"), "m"), "map"), "results"), true));
	CHECK(cJSON_IsNull(result_of(loaded, 1)));
	CHECK(!map_parts_needed(loaded));
	CHECK(q.rows_exist);
	/* nothing restored is written again; a new result is, same instance */
	map_parts_collect(&q, loaded, "tok2", false);
	CHECK_INT(q.nrows, 0);
	finish_item(loaded, 4);
	map_parts_collect(&q, loaded, "tok2", false);
	CHECK_INT(q.nrows, 1);
	CHECK_INT(q.rows[0].item, 4);
	CHECK_STR(q.rows[0].instance, "tok.1");
	map_parts_written(&q, true);

	free(before);
	free(after);
	free(text);
	free_table(table, n);
	map_parts_free(&p);
	map_parts_free(&q);
	cJSON_Delete(state);
	cJSON_Delete(loaded);
}

TEST(restore_without_the_items_row_fails_clearly)
{
	cJSON	   *state = cJSON_Parse("{\"nodes\":{\"m\":{\"map\":{\"items\":{\"apart\":\"t.1\"},"
									"\"results\":{\"apart\":\"t.1\"}}}}}");
	MapPartRow	row = {"m", "t.1", 0, "{\"ok\":1}"};
	MapPartRow	bad[2] = {{"m", "t.1", MAP_PARTS_ITEMS, "[1,2]"}, {"m", "t.1", 1, "{nope"}};
	MapParts	p = {0};
	char		err[256];

	CHECK(!map_parts_restore(&p, state, &row, 1, err, sizeof(err)));
	CHECK_STR(err, "map node \"m\": its items (instance t.1) are missing from flowdb.map_parts");
	map_parts_free(&p);
	CHECK(!map_parts_restore(&p, state, bad, 2, err, sizeof(err)));
	CHECK_STR(err, "map node \"m\": the result of item 1 does not parse");
	map_parts_free(&p);
	cJSON_Delete(state);
}

TEST(a_new_start_of_the_map_gets_a_new_instance)
{
	int			done[] = {0};
	cJSON	   *state = map_state(2, done, 1);
	cJSON	   *ns = cJSON_GetObjectItem(cJSON_GetObjectItem(state, "nodes"), "m");
	MapParts	p = {0};

	map_parts_collect(&p, state, "tok", false);
	map_parts_written(&p, true);
	/* the map finished: its record goes, its rows stay until the run ends */
	cJSON_DeleteItemFromObject(ns, "map");
	map_parts_collect(&p, state, "tok", false);
	CHECK_INT(p.nrows, 0);
	CHECK_INT(p.nnodes, 0);
	CHECK(p.rows_exist);
	map_parts_written(&p, true);
	cJSON_Delete(state);
	state = map_state(2, done, 1);
	map_parts_collect(&p, state, "tok", false);
	CHECK_INT(p.nrows, 2);
	CHECK_STR(p.rows[0].instance, "tok.2");
	map_parts_written(&p, true);
	map_parts_free(&p);
	cJSON_Delete(state);
}

int
main(void)
{
	RUN(first_commit_writes_items_and_done_results);
	RUN(later_commits_write_only_new_results);
	RUN(finishing_run_is_written_whole_and_clears_rows);
	RUN(run_without_rows_clears_nothing);
	RUN(restore_rebuilds_the_arrays_after_a_crash);
	RUN(restore_without_the_items_row_fails_clearly);
	RUN(a_new_start_of_the_map_gets_a_new_instance);
	return UNIT_SUMMARY();
}
