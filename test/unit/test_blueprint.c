/*
 * test_blueprint.c: bp_validate (every kind of problem, with its exact
 * message), bp_node and bp_node_count.
 *
 * Fixtures are written with single quotes for readability; JQ() turns them
 * into double quotes before parsing (so fixtures contain no apostrophes).
 */
#include "unit.h"

#include "blueprint.h"
#include "cron.h"

#define JQ(text) unit_json_q((text), 1)

/*
 * dump_errors
 *		Print all problems (to explain a failing check).
 */
static void
dump_errors(const FdbErrors *e)
{
	int			i;

	for (i = 0; i < e->count; i++)
		fprintf(stderr, "    [%d] %s\n", i, e->items[i]);
}

/*
 * has_error
 *		Is msg exactly one of the problems?
 */
static bool
has_error(const FdbErrors *e, const char *msg)
{
	int			i;

	for (i = 0; i < e->count; i++)
		if (strcmp(e->items[i], msg) == 0)
			return true;
	return false;
}

/*
 * has_error_prefix
 *		Does one of the problems start with prefix?
 */
static bool
has_error_prefix(const FdbErrors *e, const char *prefix)
{
	int			i;

	for (i = 0; i < e->count; i++)
		if (strncmp(e->items[i], prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

/*
 * expect_valid
 *		The fixture validates without problems.
 */
static void
expect_valid_at(const char *text, int line)
{
	cJSON	   *bp = JQ(text);
	FdbErrors	e;
	bool		ok;

	fdb_errors_init(&e);
	ok = bp_validate(bp, &e);
	if (ok && e.count == 0)
		unit_passed++;
	else
	{
		unit_failed++;
		fprintf(stderr, "FAIL %s:%d [%s]: expected valid, got %d problem(s)\n",
				__FILE__, line, unit_current, e.count);
		dump_errors(&e);
	}
	fdb_errors_free(&e);
	cJSON_Delete(bp);
}
#define expect_valid(text) expect_valid_at((text), __LINE__)

/*
 * expect_errors
 *		The fixture yields exactly the n listed problems (any order).
 */
static void
expect_errors_at(const char *text, int line, int n, const char *const *msgs)
{
	cJSON	   *bp = JQ(text);
	FdbErrors	e;
	bool		ok;
	bool		good;
	int			i;

	fdb_errors_init(&e);
	ok = bp_validate(bp, &e);
	good = !ok && e.count == n;
	for (i = 0; i < n; i++)
	{
		if (!has_error(&e, msgs[i]))
		{
			fprintf(stderr, "  missing: %s\n", msgs[i]);
			good = false;
		}
	}
	if (good)
		unit_passed++;
	else
	{
		unit_failed++;
		fprintf(stderr, "FAIL %s:%d [%s]: expected %d problem(s), got %d:\n",
				__FILE__, line, unit_current, n, e.count);
		dump_errors(&e);
	}
	fdb_errors_free(&e);
	cJSON_Delete(bp);
}
#define expect_errors(text, ...) do { \
	const char *const m_[] = {__VA_ARGS__}; \
	expect_errors_at((text), __LINE__, (int) (sizeof(m_) / sizeof(m_[0])), m_); \
} while (0)

/* Fixture pieces: a valid head (version, name, trigger). */
#define HEAD "'version': 1, 'name': 'w', 'trigger': {'type': 'manual'}, "
/* A valid node usable as a graph anchor. */
#define ROUTER(id) "{'id': '" id "', 'type': 'router'}"
#define HTTP_NODE(id) "{'id': '" id "', 'type': 'action', 'service': 'http', " \
	"'task': 'request', 'params': {'url': 'https://x.test/'}}"

static const char *const valid_bp =
"{'version': 1, 'name': 'Order follow-up', 'description': 'demo',"
" 'meta': {'author': 'me'}, 'notes': 'anything',"
" 'trigger': {'type': 'event', 'event': 'shop.order_paid', 'description': 'paid'},"
" 'nodes': ["
"  {'id': 'fetch', 'type': 'action', 'name': 'Fetch order', 'service': 'http', 'task': 'request',"
"   'params': {'method': 'POST', 'url': 'https://api.example.com/orders/{{trigger_data.order_id}}',"
"              'headers': {'X-Run': '{{ run.id }}'},"
"              'body': {'first': '{{trigger_data.items[0].name}}', 'wf': '{{workflow.name}}'},"
"              'timeout_ms': '{{trigger_data.timeout}}'},"
"   'retry': {'max_attempts': 3, 'backoff_ms': 500}, 'timeout_ms': 10000,"
"   'position': {'x': 10, 'y': 20}},"
"  {'id': 'route', 'type': 'router', 'name': 'Big order?'},"
"  {'id': 'big', 'type': 'set', 'values': {'total': '{{steps.fetch.body.total}}', 'label': 'big',"
"   'list': [1, '{{steps.route}}']}},"
"  {'id': 'pause', 'type': 'delay', 'seconds': 3600},"
"  {'id': 'small', 'type': 'wait_event', 'event': 'shop.order_shipped',"
"   'match': {'order_id': '{{trigger_data.order_id}}'}, 'timeout_seconds': 86400},"
"  {'id': 'notify', 'type': 'action', 'service': 'http', 'task': 'request', 'credential': 'hooks',"
"   'params': {'url': 'https://hooks.example.com/x',"
"              'body': 'Total {{steps.fetch.body.total}} ({{steps.big.label}})'}},"
"  {'id': 'later', 'type': 'delay', 'until': '2030-01-31T09:00:00Z'},"
"  {'id': 'later2', 'type': 'delay', 'until': '{{steps.notify.body.when}}'}"
" ],"
" 'edges': ["
"  {'from': 'fetch', 'to': 'route'},"
"  {'from': 'route', 'to': 'big', 'name': 'yes',"
"   'condition': {'left': '{{steps.fetch.body.total}}', 'op': 'gt', 'right': 100}},"
"  {'from': 'route', 'to': 'small', 'else': true},"
"  {'from': 'big', 'to': 'pause'},"
"  {'from': 'pause', 'to': 'notify'},"
"  {'from': 'notify', 'to': 'later'},"
"  {'from': 'notify', 'to': 'later2',"
"   'condition': {'all': [{'left': '{{steps.notify.status}}', 'op': 'eq', 'right': 200},"
"                         {'left': '{{steps.fetch.body.total}}', 'op': 'exists'}]}}"
" ]}";

TEST(test_valid_example)
{
	cJSON	   *bp = JQ(valid_bp);
	FdbErrors	e;

	fdb_errors_init(&e);
	CHECK(bp_validate(bp, &e));
	CHECK_INT(e.count, 0);
	if (e.count != 0)
		dump_errors(&e);

	/* a problem list that already holds items: true when nothing added */
	fdb_errors_add(&e, "$.x", "earlier");
	CHECK(bp_validate(bp, &e));
	CHECK_INT(e.count, 1);

	CHECK_INT(bp_node_count(bp), 8);
	CHECK(bp_node(bp, "route") == cJSON_GetArrayItem(cJSON_GetObjectItem(bp, "nodes"), 1));
	CHECK_STR(fdb_json_str(bp_node(bp, "later"), "type"), "delay");
	CHECK(bp_node(bp, "nope") == NULL);
	CHECK(bp_node(bp, NULL) == NULL);
	CHECK(bp_node(NULL, "route") == NULL);
	CHECK_INT(bp_node_count(NULL), 0);
	fdb_errors_free(&e);
	cJSON_Delete(bp);
}

TEST(test_valid_triggers)
{
	expect_valid("{" HEAD "'nodes': [" ROUTER("a") "]}");
	expect_valid("{'version': 1, 'name': 'w', 'trigger': {'type': 'webhook', 'event': 'stripe.charge_ok'},"
				 " 'nodes': [" ROUTER("a") "], 'edges': []}");
	expect_valid("{'version': 1, 'name': 'w', 'trigger': {'type': 'table', 'table': 'public.orders'},"
				 " 'nodes': [" ROUTER("a") "]}");
	expect_valid("{'version': 1, 'name': 'w', 'trigger': {'type': 'table'}, 'nodes': [" ROUTER("a") "]}");
	expect_valid("{'version': 1, 'name': 'w', 'trigger': {'type': 'schedule', 'cron': '*/15 9-17 * * 1-5'},"
				 " 'nodes': [" ROUTER("a") "]}");
	expect_valid("{'version': 1, 'name': 'w', 'trigger': {'type': 'schedule', 'cron': ' 0  0 1,15 * 0,7 '},"
				 " 'nodes': [" ROUTER("a") "]}");
	expect_valid("{'version': 1, 'name': 'w', 'trigger': {'type': 'schedule', 'cron': '5 4\\t* 1-12/2 *'},"
				 " 'nodes': [" ROUTER("a") "]}");
	expect_valid("{'version': 1, 'name': 'w', 'trigger': {'type': 'schedule', 'cron': '0-59/1 23 31 12 7'},"
				 " 'nodes': [" ROUTER("a") "]}");
	expect_valid("{'version': 1, 'name': 'w', 'trigger': {'type': 'event', 'event': 'a.b.c_1'},"
				 " 'nodes': [" ROUTER("a") "]}");
}

TEST(test_valid_misc)
{
	/* delay until forms */
	expect_valid("{" HEAD "'nodes': [{'id': 'd', 'type': 'delay', 'until': '2024-02-29T00:00:00.123+05:30'}]}");
	expect_valid("{" HEAD "'nodes': [{'id': 'd', 'type': 'delay', 'until': '2030-12-31 23:59'}]}");
	expect_valid("{" HEAD "'nodes': [{'id': 'd', 'type': 'delay', 'until': '2030-01-01T00:00:00-0800'}]}");
	expect_valid("{" HEAD "'nodes': [{'id': 'd', 'type': 'delay', 'seconds': 0.5}]}");
	/* params may be omitted when the task has no required parameter?  http
	 * requires url, so use an all-template params object instead */
	expect_valid("{" HEAD "'nodes': [{'id': 'a', 'type': 'action', 'service': 'http', 'task': 'request',"
				 " 'params': {'url': '{{trigger_data.url}}', 'headers': '{{trigger_data.h}}',"
				 " 'body': null, 'method': 'GET'}}]}");
	/* UI keys everywhere */
	expect_valid("{" HEAD "'position': 1, 'nodes': [{'id': 'A-b_9', 'type': 'router', 'notes': 'n',"
				 " 'meta': {}, 'position': [1, 2], 'description': 'd', 'name': 'n'}, " ROUTER("b") "],"
				 " 'edges': [{'from': 'A-b_9', 'to': 'b', 'name': 'e', 'description': 'd', 'notes': 1,"
				 " 'meta': null, 'position': {}}]}");
	/* diamond: not a cycle; steps of both branches visible at the join */
	expect_valid("{" HEAD "'nodes': [" ROUTER("a") ", " ROUTER("b") ", " ROUTER("c") ","
				 " {'id': 'd', 'type': 'set', 'values': {'x': '{{steps.b}} {{steps.c}} {{steps.a.x}}'}}],"
				 " 'edges': [{'from': 'a', 'to': 'b'}, {'from': 'a', 'to': 'c'},"
				 " {'from': 'b', 'to': 'd'}, {'from': 'c', 'to': 'd'}]}");
	/* an edge condition may use its source node */
	expect_valid("{" HEAD "'nodes': [" HTTP_NODE("a") ", " ROUTER("b") "],"
				 " 'edges': [{'from': 'a', 'to': 'b',"
				 " 'condition': {'left': '{{steps.a.status}}', 'op': 'eq', 'right': 200}}]}");
	/* name of exactly 200 characters (multi-byte) */
	{
		char		buf[2048];
		char		name[500];
		int			i;

		name[0] = '\0';
		for (i = 0; i < 200; i++)
			strcat(name, "\xc3\xa9");
		snprintf(buf, sizeof(buf), "{'version': 1, 'name': '%s', 'trigger': {'type': 'manual'},"
				 " 'nodes': [" ROUTER("a") "]}", name);
		expect_valid(buf);
	}
}

TEST(test_root_errors)
{
	cJSON	   *v = JQ("[1]");
	FdbErrors	e;

	fdb_errors_init(&e);
	CHECK(!bp_validate(v, &e));
	CHECK_INT(e.count, 1);
	CHECK_STR(e.items[0], "$: expected object, got array");
	fdb_errors_free(&e);
	CHECK(!bp_validate(NULL, &e));
	CHECK_STR(e.items[0], "$: expected object, got nothing");
	fdb_errors_free(&e);
	cJSON_Delete(v);

	expect_errors("{}", "$.version: required", "$.name: required", "$.trigger: required",
				  "$.nodes: required");
	expect_errors("{'version': 2, 'name': 'w', 'trigger': {'type': 'manual'}, 'nodes': [" ROUTER("a") "]}",
				  "$.version: unsupported version 2, expected 1");
	expect_errors("{'version': '1', 'name': 'w', 'trigger': {'type': 'manual'}, 'nodes': [" ROUTER("a") "]}",
				  "$.version: expected integer, got string");
	expect_errors("{'version': 1, 'name': 7, 'trigger': {'type': 'manual'}, 'nodes': [" ROUTER("a") "]}",
				  "$.name: expected string, got number");
	expect_errors("{'version': 1, 'name': '', 'trigger': {'type': 'manual'}, 'nodes': [" ROUTER("a") "]}",
				  "$.name: must be 1 to 200 characters");
	expect_errors("{" HEAD "'description': [], 'nodes': [" ROUTER("a") "]}",
				  "$.description: expected string, got array");
	expect_errors("{" HEAD "'nodes': [" ROUTER("a") "], 'extra': 1, 'steps': {}}",
				  "$.extra: unknown field \"extra\"", "$.steps: unknown field \"steps\"");
	{
		char		buf[1024];
		char		name[202];

		memset(name, 'n', 201);
		name[201] = '\0';
		snprintf(buf, sizeof(buf), "{'version': 1, 'name': '%s', 'trigger': {'type': 'manual'},"
				 " 'nodes': [" ROUTER("a") "]}", name);
		expect_errors(buf, "$.name: must be 1 to 200 characters");
	}
}

TEST(test_trigger_errors)
{
#define T(trig) "{'version': 1, 'name': 'w', 'trigger': " trig ", 'nodes': [" ROUTER("a") "]}"
	expect_errors(T("[]"), "$.trigger: expected object, got array");
	expect_errors(T("{}"), "$.trigger.type: required");
	expect_errors(T("{'type': 'cron'}"),
				  "$.trigger.type: unknown trigger type \"cron\" (expected manual, event, table, webhook or schedule)");
	expect_errors(T("{'type': 'event'}"), "$.trigger.event: required");
	expect_errors(T("{'type': 'webhook'}"), "$.trigger.event: required");
	expect_errors(T("{'type': 'event', 'event': 3}"), "$.trigger.event: expected string, got number");
	expect_errors(T("{'type': 'event', 'event': 'OrderPaid'}"),
				  "$.trigger.event: invalid event name \"OrderPaid\" (expected namespace.name, e.g. shop.order_paid)");
	expect_errors(T("{'type': 'event', 'event': 'shop.'}"),
				  "$.trigger.event: invalid event name \"shop.\" (expected namespace.name, e.g. shop.order_paid)");
	expect_errors(T("{'type': 'event', 'event': 'shop..x'}"),
				  "$.trigger.event: invalid event name \"shop..x\" (expected namespace.name, e.g. shop.order_paid)");
	expect_errors(T("{'type': 'manual', 'cron': '* * * * *'}"),
				  "$.trigger.cron: unknown field \"cron\" for trigger type \"manual\"");
	expect_errors(T("{'type': 'event', 'event': 'a.b', 'table': 't'}"),
				  "$.trigger.table: unknown field \"table\" for trigger type \"event\"");
	expect_errors(T("{'type': 'table', 'table': 1}"), "$.trigger.table: expected string, got number");
	expect_errors(T("{'type': 'schedule'}"), "$.trigger.cron: required");
	expect_errors(T("{'type': 'schedule', 'cron': '* * * *'}"),
				  "$.trigger.cron: expected 5 fields (minute hour day-of-month month day-of-week), got 4");
	expect_errors(T("{'type': 'schedule', 'cron': '@daily'}"),
				  "$.trigger.cron: expected 5 fields (minute hour day-of-month month day-of-week), got 1");
	expect_errors(T("{'type': 'schedule', 'cron': '60 24 0 13 8'}"),
				  "$.trigger.cron: invalid minute field \"60\" (values 0-59)",
				  "$.trigger.cron: invalid hour field \"24\" (values 0-23)",
				  "$.trigger.cron: invalid day-of-month field \"0\" (values 1-31)",
				  "$.trigger.cron: invalid month field \"13\" (values 1-12)",
				  "$.trigger.cron: invalid day-of-week field \"8\" (values 0-7)");
	/* "5/2" in the month field means 5-12/2, as the scheduler reads it */
	expect_errors(T("{'type': 'schedule', 'cron': '*/0 5-1 1,,2 5/2 MON'}"),
				  "$.trigger.cron: invalid minute field \"*/0\" (values 0-59)",
				  "$.trigger.cron: invalid hour field \"5-1\" (values 0-23)",
				  "$.trigger.cron: invalid day-of-month field \"1,,2\" (values 1-31)",
				  "$.trigger.cron: invalid day-of-week field \"MON\" (values 0-7)");
	expect_errors(T("{'type': 'schedule', 'cron': '1, * * * -1'}"),
				  "$.trigger.cron: invalid minute field \"1,\" (values 0-59)",
				  "$.trigger.cron: invalid day-of-week field \"-1\" (values 0-7)");
#undef T
}

TEST(test_nodes_errors)
{
	char	   *big;
	size_t		used;
	int			i;

	expect_errors("{" HEAD "'nodes': {}}", "$.nodes: expected array, got object");
	expect_errors("{" HEAD "'nodes': []}", "$.nodes: must not be empty");
	expect_errors("{" HEAD "'nodes': [1, " ROUTER("a") "]}", "$.nodes[0]: expected object, got number");
	expect_errors("{" HEAD "'nodes': [{'type': 'router'}]}", "$.nodes[0].id: required");
	expect_errors("{" HEAD "'nodes': [{'id': 'a b', 'type': 'router'}]}",
				  "$.nodes[0].id: invalid id \"a b\" (use 1-64 characters A-Z a-z 0-9 _ -)");
	expect_errors("{" HEAD "'nodes': [{'id': '', 'type': 'router'}]}",
				  "$.nodes[0].id: invalid id \"\" (use 1-64 characters A-Z a-z 0-9 _ -)");
	expect_errors("{" HEAD "'nodes': [{'id': "
				  "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'type': 'router'}]}",
				  "$.nodes[0].id: invalid id "
				  "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" "
				  "(use 1-64 characters A-Z a-z 0-9 _ -)");
	expect_errors("{" HEAD "'nodes': [{'id': 1, 'type': 'router'}]}",
				  "$.nodes[0].id: expected string, got number");
	expect_errors("{" HEAD "'nodes': [" ROUTER("a") ", " ROUTER("b") ", " ROUTER("a") "]}",
				  "$.nodes[2].id: duplicate id \"a\" (also $.nodes[0])");
	expect_errors("{" HEAD "'nodes': [{'id': 'a'}]}", "$.nodes[0].type: required");
	expect_errors("{" HEAD "'nodes': [{'id': 'a', 'type': 'email', 'to': 'x'}]}",
				  "$.nodes[0].type: unknown node type \"email\" (expected action, router, delay, wait_event or set)");
	expect_errors("{" HEAD "'nodes': [{'id': 'a', 'type': 'router', 'name': 1}]}",
				  "$.nodes[0].name: expected string, got number");
	expect_errors("{" HEAD "'nodes': [{'id': 'a', 'type': 'router', 'seconds': 5, 'next': 'b'}]}",
				  "$.nodes[0].seconds: unknown field \"seconds\"",
				  "$.nodes[0].next: unknown field \"next\"");

	/* too many nodes: one problem, per-node checks skipped */
	big = malloc(64 * 1024);
	used = (size_t) snprintf(big, 64 * 1024, "{" HEAD "'nodes': [");
	for (i = 0; i <= BP_MAX_NODES; i++)
		used += (size_t) snprintf(big + used, 64 * 1024 - used, "%s{'id': 'n%d', 'type': 'router'}",
								  i ? ", " : "", i);
	snprintf(big + used, 64 * 1024 - used, "]}");
	expect_errors(big, "$.nodes: too many nodes (201, max 200)");
	free(big);
}

TEST(test_action_errors)
{
#define N(node) "{" HEAD "'nodes': [" ROUTER("a") ", " node "]}"
	expect_errors(N("{'id': 'b', 'type': 'action'}"),
				  "$.nodes[1].service: required", "$.nodes[1].task: required");
	expect_errors(N("{'id': 'b', 'type': 'action', 'service': 'smtp', 'task': 'send'}"),
				  "$.nodes[1].service: unknown service \"smtp\"");
	expect_errors(N("{'id': 'b', 'type': 'action', 'service': 'http', 'task': 'x', 'params': {}}"),
				  "$.nodes[1].task: unknown task \"x\" for service \"http\"");
	expect_errors(N("{'id': 'b', 'type': 'action', 'service': 'http', 'task': 'request'}"),
				  "$.nodes[1].params.url: missing required parameter \"url\"");
	expect_errors(N("{'id': 'b', 'type': 'action', 'service': 'http', 'task': 'request',"
					" 'params': {'method': 'GET', 'url': null}}"),
				  "$.nodes[1].params.url: missing required parameter \"url\"");
	expect_errors(N("{'id': 'b', 'type': 'action', 'service': 'http', 'task': 'request', 'params': []}"),
				  "$.nodes[1].params: expected object, got array");
	expect_errors(N("{'id': 'b', 'type': 'action', 'service': 'http', 'task': 'request',"
					" 'params': {'url': 'http://x/', 'timeout_ms': '5000', 'headers': 'h',"
					" 'method': 1, 'foo': 1}}"),
				  "$.nodes[1].params.timeout_ms: expected integer, got string",
				  "$.nodes[1].params.headers: expected object, got string",
				  "$.nodes[1].params.method: expected string, got number",
				  "$.nodes[1].params.foo: unknown parameter \"foo\" for http.request");
	expect_errors(N("{'id': 'b', 'type': 'action', 'service': 'http', 'task': 'request',"
					" 'params': {'url': 'http://x/', 'timeout_ms': 1.5}}"),
				  "$.nodes[1].params.timeout_ms: expected integer, got number");
	expect_errors(N("{'id': 'b', 'type': 'action', 'service': 'http', 'task': 'request',"
					" 'params': {'url': 'http://x/'}, 'credential': 5}"),
				  "$.nodes[1].credential: expected string, got number");
	expect_errors(N("{'id': 'b', 'type': 'action', 'service': 'http', 'task': 'request',"
					" 'params': {'url': 'http://x/'}, 'credential': ''}"),
				  "$.nodes[1].credential: must not be empty");
	expect_errors(N("{'id': 'b', 'type': 'action', 'service': 'http', 'task': 'request',"
					" 'params': {'url': 'http://x/'}, 'retry': 3}"),
				  "$.nodes[1].retry: expected object, got number");
	expect_errors(N("{'id': 'b', 'type': 'action', 'service': 'http', 'task': 'request',"
					" 'params': {'url': 'http://x/'}, 'retry': {'backoff_ms': 5, 'jitter': true}}"),
				  "$.nodes[1].retry.max_attempts: required",
				  "$.nodes[1].retry.backoff_ms: must be between 10 and 3600000",
				  "$.nodes[1].retry.jitter: unknown field \"jitter\"");
	expect_errors(N("{'id': 'b', 'type': 'action', 'service': 'http', 'task': 'request',"
					" 'params': {'url': 'http://x/'}, 'retry': {'max_attempts': 11}}"),
				  "$.nodes[1].retry.max_attempts: must be between 1 and 10");
	expect_errors(N("{'id': 'b', 'type': 'action', 'service': 'http', 'task': 'request',"
					" 'params': {'url': 'http://x/'}, 'retry': {'max_attempts': 2.5}}"),
				  "$.nodes[1].retry.max_attempts: expected integer, got number");
	expect_errors(N("{'id': 'b', 'type': 'action', 'service': 'http', 'task': 'request',"
					" 'params': {'url': 'http://x/'}, 'timeout_ms': 0}"),
				  "$.nodes[1].timeout_ms: must be between 1 and 300000");
	expect_errors(N("{'id': 'b', 'type': 'action', 'service': 'http', 'task': 'request',"
					" 'params': {'url': 'http://x/'}, 'timeout_ms': 300001, 'seconds': 1}"),
				  "$.nodes[1].timeout_ms: must be between 1 and 300000",
				  "$.nodes[1].seconds: unknown field \"seconds\"");
#undef N
}

TEST(test_delay_wait_set_errors)
{
#define N(node) "{" HEAD "'nodes': [" node "]}"
	expect_errors(N("{'id': 'd', 'type': 'delay'}"),
				  "$.nodes[0]: delay needs exactly one of \"seconds\" or \"until\"");
	expect_errors(N("{'id': 'd', 'type': 'delay', 'seconds': 1, 'until': '2030-01-01T00:00:00Z'}"),
				  "$.nodes[0]: delay needs exactly one of \"seconds\" or \"until\"");
	expect_errors(N("{'id': 'd', 'type': 'delay', 'seconds': 0}"),
				  "$.nodes[0].seconds: must be > 0 and <= 2592000");
	expect_errors(N("{'id': 'd', 'type': 'delay', 'seconds': 2592001}"),
				  "$.nodes[0].seconds: must be > 0 and <= 2592000");
	expect_errors(N("{'id': 'd', 'type': 'delay', 'seconds': '60'}"),
				  "$.nodes[0].seconds: expected number, got string");
	expect_errors(N("{'id': 'd', 'type': 'delay', 'until': 5}"),
				  "$.nodes[0].until: expected string, got number");
	expect_errors(N("{'id': 'd', 'type': 'delay', 'until': 'tomorrow'}"),
				  "$.nodes[0].until: expected an ISO 8601 timestamp (e.g. 2030-01-31T09:00:00Z) or a template, got \"tomorrow\"");
	expect_errors(N("{'id': 'd', 'type': 'delay', 'until': '2023-02-29T00:00:00Z'}"),
				  "$.nodes[0].until: expected an ISO 8601 timestamp (e.g. 2030-01-31T09:00:00Z) or a template, got \"2023-02-29T00:00:00Z\"");
	expect_errors(N("{'id': 'd', 'type': 'delay', 'until': '2030-01-01T24:00:00Z'}"),
				  "$.nodes[0].until: expected an ISO 8601 timestamp (e.g. 2030-01-31T09:00:00Z) or a template, got \"2030-01-01T24:00:00Z\"");
	expect_errors(N("{'id': 'd', 'type': 'delay', 'until': '2030-01-01T10:00:00Zjunk'}"),
				  "$.nodes[0].until: expected an ISO 8601 timestamp (e.g. 2030-01-31T09:00:00Z) or a template, got \"2030-01-01T10:00:00Zjunk\"");

	expect_errors(N("{'id': 'w', 'type': 'wait_event'}"), "$.nodes[0].event: required");
	expect_errors(N("{'id': 'w', 'type': 'wait_event', 'event': 'paid', 'match': [],"
					" 'timeout_seconds': 0}"),
				  "$.nodes[0].event: invalid event name \"paid\" (expected namespace.name, e.g. shop.order_paid)",
				  "$.nodes[0].match: expected object, got array",
				  "$.nodes[0].timeout_seconds: must be > 0 and <= 31536000");
	expect_errors(N("{'id': 'w', 'type': 'wait_event', 'event': 'a.b', 'timeout_seconds': 31536001}"),
				  "$.nodes[0].timeout_seconds: must be > 0 and <= 31536000");
	expect_errors(N("{'id': 'w', 'type': 'wait_event', 'event': 'a.b', 'timeout_seconds': true}"),
				  "$.nodes[0].timeout_seconds: expected number, got boolean");

	expect_errors(N("{'id': 's', 'type': 'set'}"), "$.nodes[0].values: required");
	expect_errors(N("{'id': 's', 'type': 'set', 'values': 'x'}"),
				  "$.nodes[0].values: expected object, got string");
	expect_errors(N("{'id': 's', 'type': 'set', 'values': {}, 'params': {}}"),
				  "$.nodes[0].params: unknown field \"params\"");
#undef N
}

TEST(test_edge_errors)
{
#define G(edges) "{" HEAD "'nodes': [" ROUTER("a") ", " ROUTER("b") ", " ROUTER("c") "], 'edges': " edges "}"
	expect_errors(G("{}"), "$.edges: expected array, got object");
	expect_errors(G("[5]"), "$.edges[0]: expected object, got number");
	expect_errors(G("[{}]"), "$.edges[0].from: required", "$.edges[0].to: required");
	expect_errors(G("[{'from': 'a', 'to': 'x'}]"), "$.edges[0].to: no node \"x\"");
	expect_errors(G("[{'from': 'y', 'to': 1}]"),
				  "$.edges[0].from: no node \"y\"", "$.edges[0].to: expected string, got number");
	expect_errors(G("[{'from': 'a', 'to': 'a'}]"), "$.edges[0]: self loop on node \"a\"");
	expect_errors(G("[{'from': 'a', 'to': 'b'}, {'from': 'a', 'to': 'c'}, {'from': 'a', 'to': 'b'}]"),
				  "$.edges[2]: duplicate edge a -> b (also $.edges[0])");
	expect_errors(G("[{'from': 'a', 'to': 'b', 'else': false}]"),
				  "$.edges[0].else: must be true (omit it for a normal edge)");
	expect_errors(G("[{'from': 'a', 'to': 'b', 'else': true,"
					" 'condition': {'left': 1, 'op': 'eq', 'right': 1}}]"),
				  "$.edges[0]: an edge cannot have both \"condition\" and \"else\"");
	expect_errors(G("[{'from': 'a', 'to': 'b', 'else': true}, {'from': 'a', 'to': 'c', 'else': true}]"),
				  "$.edges[1].else: node \"a\" already has an else edge ($.edges[0])");
	expect_errors(G("[{'from': 'a', 'to': 'b', 'label': 'x', 'id': 'e1'}]"),
				  "$.edges[0].label: unknown field \"label\"", "$.edges[0].id: unknown field \"id\"");
	expect_errors(G("[{'from': 'a', 'to': 'b'}, {'from': 'b', 'to': 'a'}]"),
				  "$.edges: cycle a -> b -> a");
	expect_errors(G("[{'from': 'a', 'to': 'b'}, {'from': 'b', 'to': 'c'}, {'from': 'c', 'to': 'a'}]"),
				  "$.edges: cycle a -> b -> c -> a");
	/* a cycle not reachable from the first node, plus a self loop */
	expect_errors(G("[{'from': 'b', 'to': 'c'}, {'from': 'c', 'to': 'b'}, {'from': 'a', 'to': 'a'}]"),
				  "$.edges[2]: self loop on node \"a\"", "$.edges: cycle b -> c -> b");
#undef G
}

TEST(test_condition_errors)
{
	cJSON	   *bp = JQ("{" HEAD "'nodes': [" ROUTER("a") ", " ROUTER("b") "],"
					   " 'edges': [{'from': 'a', 'to': 'b', 'condition': {'left': 1, 'op': 'like'}}]}");
	FdbErrors	e;

	/* shape problems come from cond_validate, under the edge's path */
	fdb_errors_init(&e);
	CHECK(!bp_validate(bp, &e));
	CHECK(e.count >= 1);
	CHECK(has_error_prefix(&e, "$.edges[0].condition"));
	fdb_errors_free(&e);
	cJSON_Delete(bp);

	bp = JQ("{" HEAD "'nodes': [" ROUTER("a") ", " ROUTER("b") "],"
		   " 'edges': [{'from': 'a', 'to': 'b', 'condition': 'yes'}]}");
	CHECK(!bp_validate(bp, &e));
	CHECK(has_error_prefix(&e, "$.edges[0].condition: "));
	fdb_errors_free(&e);
	cJSON_Delete(bp);
}

TEST(test_template_errors)
{
#define N2(node) "{" HEAD "'nodes': [" ROUTER("a") ", " node "], 'edges': [{'from': 'a', 'to': 'b'}]}"
	cJSON	   *bp;
	FdbErrors	e;

	/* syntax error: message from template.c, under the string's path */
	bp = JQ(N2("{'id': 'b', 'type': 'set', 'values': {'x': 'hi {{trigger_data.name'}}"));
	fdb_errors_init(&e);
	CHECK(!bp_validate(bp, &e));
	CHECK_INT(e.count, 1);
	CHECK(has_error_prefix(&e, "$.nodes[1].values.x: "));
	fdb_errors_free(&e);
	cJSON_Delete(bp);

	bp = JQ(N2("{'id': 'b', 'type': 'set', 'values': {'x': '{{ trigger_data..x }}'}}"));
	CHECK(!bp_validate(bp, &e));
	CHECK_INT(e.count, 1);
	CHECK(has_error_prefix(&e, "$.nodes[1].values.x: "));
	fdb_errors_free(&e);
	cJSON_Delete(bp);

	expect_errors(N2("{'id': 'b', 'type': 'action', 'service': 'http', 'task': 'request',"
					 " 'params': {'url': 'http://x/', 'body': 'Hi {{foo.bar}} {{trigger_data.x}} {{env}}'}}"),
				  "$.nodes[1].params.body: unknown template root \"foo\" (expected trigger_data, steps, run or workflow)",
				  "$.nodes[1].params.body: unknown template root \"env\" (expected trigger_data, steps, run or workflow)");
	/* b uses c, which only runs after b */
	expect_errors("{" HEAD "'nodes': [" ROUTER("a") ", "
				  "{'id': 'b', 'type': 'set', 'values': {'x': '{{steps.c.y}}'}}, " ROUTER("c") "],"
				  " 'edges': [{'from': 'a', 'to': 'b'}, {'from': 'b', 'to': 'c'}]}",
				  "$.nodes[1].values.x: node \"c\" cannot have run before \"b\"");
	/* a node cannot use itself, nor a sibling branch */
	expect_errors("{" HEAD "'nodes': [" ROUTER("a") ", "
				  "{'id': 'b', 'type': 'set', 'values': {'x': ['{{steps.b}}', '{{steps.c}}']}}, " ROUTER("c") "],"
				  " 'edges': [{'from': 'a', 'to': 'b'}, {'from': 'a', 'to': 'c'}]}",
				  "$.nodes[1].values.x[0]: node \"b\" cannot have run before \"b\"",
				  "$.nodes[1].values.x[1]: node \"c\" cannot have run before \"b\"");
	expect_errors(N2("{'id': 'b', 'type': 'set', 'values': {'x': '{{steps.zz.out}}', 'y': '{{steps[0]}}'}}"),
				  "$.nodes[1].values.x: no node \"zz\" for steps.zz",
				  "$.nodes[1].values.y: steps must be followed by a node id (steps.<id>)");
	/* delay until and wait_event match are checked too */
	expect_errors(N2("{'id': 'b', 'type': 'delay', 'until': '{{steps.c.when}}'}, " ROUTER("c")),
				  "$.nodes[1].until: node \"c\" cannot have run before \"b\"");
	expect_errors(N2("{'id': 'b', 'type': 'wait_event', 'event': 'a.b',"
					 " 'match': {'k': {'deep': '{{bad.root}}'}}}"),
				  "$.nodes[1].match.k.deep: unknown template root \"bad\" (expected trigger_data, steps, run or workflow)");
	/* edge conditions: the source and its ancestors only */
	expect_errors("{" HEAD "'nodes': [" ROUTER("a") ", " ROUTER("b") ", " ROUTER("c") "],"
				  " 'edges': [{'from': 'a', 'to': 'b'},"
				  " {'from': 'b', 'to': 'c', 'condition': {'left': '{{steps.a.x}}', 'op': 'eq', 'right': '{{steps.c.y}}'}}]}",
				  "$.edges[1].condition.right: node \"c\" cannot have run before edge b -> c");
	expect_errors("{" HEAD "'nodes': [" ROUTER("a") ", " ROUTER("b") "],"
				  " 'edges': [{'from': 'a', 'to': 'b', 'condition': {'not': {'left': '{{steps.nobody}}', 'op': 'exists'}}}]}",
				  "$.edges[0].condition.not.left: no node \"nobody\" for steps.nobody");
#undef N2
}

TEST(test_many_errors)
{
	/* every problem is reported, not just the first */
	expect_errors("{'version': 3, 'name': '', 'trigger': {'type': 'schedule', 'cron': '* * *'},"
				  " 'bogus': true,"
				  " 'nodes': ["
				  "  {'id': 'a', 'type': 'action', 'service': 'smtp', 'task': 'send'},"
				  "  {'id': 'b', 'type': 'action', 'service': 'http', 'task': 'request',"
				  "   'params': {'timeout_ms': 'soon', 'body': '{{steps.c.x}} {{nope}}'}, 'retry': {'max_attempts': 0}},"
				  "  {'id': 'c', 'type': 'delay', 'seconds': -1},"
				  "  {'id': 'a', 'type': 'teleport'}"
				  " ],"
				  " 'edges': [{'from': 'a', 'to': 'b'}, {'from': 'b', 'to': 'c'}, {'from': 'c', 'to': 'a'},"
				  "           {'from': 'c', 'to': 'ghost'}, {'from': 'b', 'to': 'b'}]}",
				  "$.version: unsupported version 3, expected 1",
				  "$.name: must be 1 to 200 characters",
				  "$.trigger.cron: expected 5 fields (minute hour day-of-month month day-of-week), got 3",
				  "$.bogus: unknown field \"bogus\"",
				  "$.nodes[0].service: unknown service \"smtp\"",
				  "$.nodes[1].params.url: missing required parameter \"url\"",
				  "$.nodes[1].params.timeout_ms: expected integer, got string",
				  "$.nodes[1].params.body: unknown template root \"nope\" (expected trigger_data, steps, run or workflow)",
				  "$.nodes[1].retry.max_attempts: must be between 1 and 10",
				  "$.nodes[2].seconds: must be > 0 and <= 2592000",
				  "$.nodes[3].id: duplicate id \"a\" (also $.nodes[0])",
				  "$.nodes[3].type: unknown node type \"teleport\" (expected action, router, delay, wait_event or set)",
				  "$.edges[3].to: no node \"ghost\"",
				  "$.edges[4]: self loop on node \"b\"",
				  "$.edges: cycle a -> b -> c -> a");
}

TEST(test_error_cap)
{
	/* 200 nodes with 3 problems each: capped at 500 + one note */
	char	   *big = malloc(128 * 1024);
	size_t		used;
	cJSON	   *bp;
	FdbErrors	e;
	int			i;

	used = (size_t) snprintf(big, 128 * 1024, "{" HEAD "'nodes': [");
	for (i = 0; i < BP_MAX_NODES; i++)
		used += (size_t) snprintf(big + used, 128 * 1024 - used,
								  "%s{'id': 'n%d', 'type': 'router', 'x': 1, 'y': 2, 'z': 3}",
								  i ? ", " : "", i);
	snprintf(big + used, 128 * 1024 - used, "]}");
	bp = JQ(big);
	fdb_errors_init(&e);
	CHECK(!bp_validate(bp, &e));
	CHECK_INT(e.count, 501);
	CHECK_STR(e.items[500], "$: too many problems, stopped after 500");
	CHECK_STR(e.items[0], "$.nodes[0].x: unknown field \"x\"");
	fdb_errors_free(&e);
	cJSON_Delete(bp);
	free(big);
}

TEST(test_long_chain)
{
	/* 200 nodes in a chain: the last may use the first; deep graph is fine */
	char	   *big = malloc(128 * 1024);
	size_t		used;
	int			i;

	used = (size_t) snprintf(big, 128 * 1024, "{" HEAD "'nodes': [");
	for (i = 0; i < BP_MAX_NODES - 1; i++)
		used += (size_t) snprintf(big + used, 128 * 1024 - used,
								  "{'id': 'n%d', 'type': 'router'}, ", i);
	used += (size_t) snprintf(big + used, 128 * 1024 - used,
							  "{'id': 'last', 'type': 'set', 'values': {'v': '{{steps.n0}}'}}], 'edges': [");
	for (i = 0; i < BP_MAX_NODES - 2; i++)
		used += (size_t) snprintf(big + used, 128 * 1024 - used,
								  "{'from': 'n%d', 'to': 'n%d'}, ", i, i + 1);
	snprintf(big + used, 128 * 1024 - used, "{'from': 'n%d', 'to': 'last'}]}", BP_MAX_NODES - 2);
	expect_valid(big);

	/* closing the chain into a ring: one cycle, shown elided */
	{
		cJSON	   *bp = JQ(big);
		cJSON	   *edge = JQ("{'from': 'last', 'to': 'n0'}");
		FdbErrors	e;

		cJSON_AddItemToArray(cJSON_GetObjectItem(bp, "edges"), edge);
		fdb_errors_init(&e);
		CHECK(!bp_validate(bp, &e));
		CHECK_INT(e.count, 1);
		CHECK_CONTAINS(e.items[0], "$.edges: cycle n0 -> n1 -> n2 -> ");
		CHECK_CONTAINS(e.items[0], " -> ... -> n0");
		fdb_errors_free(&e);
		cJSON_Delete(bp);
	}
	free(big);
}

TEST(test_deep_nesting)
{
	/* built in memory (the parser would refuse this depth) */
	cJSON	   *bp = JQ("{" HEAD "'nodes': [{'id': 's', 'type': 'set', 'values': {}}]}");
	cJSON	   *values = cJSON_GetObjectItem(bp_node(bp, "s"), "values");
	cJSON	   *inner = cJSON_CreateString("{{steps.s}}");
	FdbErrors	e;
	int			i;

	for (i = 0; i < 1100; i++)
	{
		cJSON	   *arr = cJSON_CreateArray();

		cJSON_AddItemToArray(arr, inner);
		inner = arr;
	}
	cJSON_AddItemToObject(values, "deep", inner);
	fdb_errors_init(&e);
	CHECK(!bp_validate(bp, &e));
	CHECK_INT(e.count, 1);
	CHECK_CONTAINS(e.items[0], "$.nodes[0].values.deep[0][0][0]");
	CHECK_CONTAINS(e.items[0], ": nested too deeply (max 990 levels)");
	fdb_errors_free(&e);
	cJSON_Delete(bp);
}

TEST(test_cron_agrees_with_scheduler)
{
	/*
	 * bp_validate and the scheduler (cron.c) agree on every expression: each
	 * is either valid for both or rejected by both.
	 */
	static const struct
	{
		const char *expr;
		bool		valid;
	}			exprs[] = {
		{"*/15 9-17 * * 1-5", true}, {"0 0 1,15 * 0,7", true}, {"5 4 * 1-12/2 *", true},
		{"0-59/1 23 31 12 7", true}, {"*/60 * * * *", true}, {"0-0 0 1 1 0", true},
		{"00 01 * * *", true}, {"* * 31 2 *", true}, {"0,30 */2 1-7 * 1", true},
		{"5/2 * * * *", true},
		{"60 * * * *", false}, {"* 24 * * *", false}, {"* * 0 * *", false},
		{"* * * 13 *", false}, {"* * * * 8", false}, {"*/0 * * * *", false},
		{"5-1 * * * *", false}, {"1,,2 * * * *", false}, {"MON * * * *", false},
		{"1, * * * *", false}, {"* * * *", false}, {"* * * * * *", false},
		{"", false}, {"@daily", false}, {"1-5/0 * * * *", false}, {"-1 * * * *", false},
	};

	for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++)
	{
		char		buf[512];
		cJSON	   *bp;
		FdbErrors	e;
		CronSpec	spec;
		char		err[256];
		bool		bp_ok;
		bool		cron_ok;

		snprintf(buf, sizeof(buf), "{'version': 1, 'name': 'w', 'trigger': {'type': 'schedule',"
				 " 'cron': '%s'}, 'nodes': [" ROUTER("a") "]}", exprs[i].expr);
		bp = JQ(buf);
		fdb_errors_init(&e);
		bp_ok = bp_validate(bp, &e);
		cron_ok = cron_parse(exprs[i].expr, &spec, err, sizeof(err));
		if (bp_ok != exprs[i].valid || cron_ok != exprs[i].valid)
			fprintf(stderr, "  cron \"%s\": blueprint %s, cron_parse %s (want %s)\n",
					exprs[i].expr, bp_ok ? "valid" : "invalid",
					cron_ok ? "ok" : err, exprs[i].valid ? "valid" : "invalid");
		CHECK(bp_ok == exprs[i].valid);
		CHECK(cron_ok == exprs[i].valid);
		fdb_errors_free(&e);
		cJSON_Delete(bp);
	}
}


TEST(test_failure_paths)
{
#define G(edges) "{" HEAD "'nodes': [" HTTP_NODE("a") ", " ROUTER("b") ", " \
	"{'id': 'c', 'type': 'set', 'values': {'why': '{{steps.a.error}}'}}], 'edges': " edges "}"
	expect_valid(G("[{'from': 'a', 'to': 'b', 'on': 'success'}, {'from': 'a', 'to': 'c', 'on': 'failure'}]"));
	expect_valid(G("[{'from': 'a', 'to': 'b', 'condition': {'left': 1, 'op': 'eq', 'right': 1}},"
				   " {'from': 'a', 'to': 'c', 'on': 'failure'}]"));
	expect_errors(G("[{'from': 'a', 'to': 'c', 'on': 'error'}]"),
				  "$.edges[0].on: expected \"success\" or \"failure\", got \"error\"");
	expect_errors(G("[{'from': 'a', 'to': 'c', 'on': true}]"),
				  "$.edges[0].on: expected string, got boolean");
	expect_errors(G("[{'from': 'a', 'to': 'c', 'on': 'failure',"
					" 'condition': {'left': 1, 'op': 'eq', 'right': 1}}]"),
				  "$.edges[0].condition: a failure edge (\"on\": \"failure\") cannot have a condition");
	expect_errors(G("[{'from': 'a', 'to': 'c', 'on': 'failure', 'else': true}]"),
				  "$.edges[0].else: a failure edge (\"on\": \"failure\") cannot be an else edge");
	/* a failure edge and a plain edge to the same node are duplicates */
	expect_errors(G("[{'from': 'a', 'to': 'c'}, {'from': 'a', 'to': 'c', 'on': 'failure'}]"),
				  "$.edges[1]: duplicate edge a -> c (also $.edges[0])");
	/* the failed node must be an ancestor to read its error */
	expect_errors(G("[]"), "$.nodes[2].values.why: node \"a\" cannot have run before \"c\"");
	/* failure edges take part in cycles */
	expect_errors(G("[{'from': 'a', 'to': 'c', 'on': 'failure'}, {'from': 'a', 'to': 'b', 'on': 'failure'},"
					" {'from': 'b', 'to': 'a'}]"),
				  "$.edges: cycle a -> b -> a");
#undef G
	expect_valid("{" HEAD "'on_failure': {'workflow': 'notify-owner'}, 'nodes': [" ROUTER("a") "]}");
	expect_errors("{" HEAD "'on_failure': 'notify-owner', 'nodes': [" ROUTER("a") "]}",
				  "$.on_failure: expected object, got string");
	expect_errors("{" HEAD "'on_failure': {}, 'nodes': [" ROUTER("a") "]}",
				  "$.on_failure.workflow: required");
	expect_errors("{" HEAD "'on_failure': {'workflow': '', 'run': 1}, 'nodes': [" ROUTER("a") "]}",
				  "$.on_failure.workflow: must be a workflow id or name of 1 to 200 characters",
				  "$.on_failure.run: unknown field \"run\"");
}

int
main(void)
{
	RUN(test_valid_example);
	RUN(test_valid_triggers);
	RUN(test_valid_misc);
	RUN(test_root_errors);
	RUN(test_trigger_errors);
	RUN(test_nodes_errors);
	RUN(test_action_errors);
	RUN(test_delay_wait_set_errors);
	RUN(test_edge_errors);
	RUN(test_condition_errors);
	RUN(test_template_errors);
	RUN(test_many_errors);
	RUN(test_error_cap);
	RUN(test_long_chain);
	RUN(test_deep_nesting);
	RUN(test_cron_agrees_with_scheduler);
	RUN(test_failure_paths);
	return UNIT_SUMMARY();
}
