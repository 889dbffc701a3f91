/*
 * test_template.c
 *	  Unit tests of template.c: scanning, path parsing, lookup, rendering.
 *
 * JSON literals are written with single quotes and converted by JQ().
 */
#include "unit.h"
#include "template.h"

#define JQ(text) unit_json_q((text), 0)

static cJSON *ctx;

/*
 * same_json
 *		Is got deeply equal to the JSON (single-quoted) text want?
 */
static int
same_json(const cJSON *got, const char *want)
{
	cJSON	   *w = JQ(want);
	int			eq = got != NULL && w != NULL && cJSON_Compare(got, w, true);

	if (!eq)
	{
		char	   *g = got ? cJSON_PrintUnformatted(got) : NULL;

		fprintf(stderr, "  got %s, want %s\n", g ? g : "(null)", want);
		free(g);
	}
	cJSON_Delete(w);
	return eq;
}

/* Expressions collected by a scan. */
typedef struct Collected
{
	int			n;
	int			stop_after;
	char		exprs[8][64];
} Collected;

/*
 * collect
 *		tmpl_scan callback storing each expression.
 */
static bool
collect(const char *expr, size_t len, void *arg)
{
	Collected  *c = arg;

	if (c->n < 8)
		snprintf(c->exprs[c->n], sizeof(c->exprs[0]), "%.*s", (int) len, expr);
	c->n++;
	return c->stop_after == 0 || c->n < c->stop_after;
}

/*
 * render_text
 *		tmpl_render_string; the result printed as compact JSON, or
 *		"ERROR: <message>".
 */
static const char *
render_text(const char *s)
{
	static char out[1024];
	char		err[FDB_ERRLEN] = "";
	cJSON	   *v = tmpl_render_string(s, ctx, err, sizeof(err));

	if (v == NULL)
		snprintf(out, sizeof(out), "ERROR: %s", err);
	else
	{
		char	   *t = cJSON_PrintUnformatted(v);

		snprintf(out, sizeof(out), "%s", t);
		free(t);
		cJSON_Delete(v);
	}
	return out;
}

/*
 * lookup_text
 *		Parse and look up an expression; compact JSON of the result or
 *		"ERROR: <message>".
 */
static const char *
lookup_text(const char *expr)
{
	static char out[1024];
	char		err[FDB_ERRLEN] = "";
	TmplPath	p;
	const cJSON *v;

	if (!tmpl_parse_path(expr, strlen(expr), &p, err, sizeof(err)))
	{
		snprintf(out, sizeof(out), "PARSE: %s", err);
		return out;
	}
	v = tmpl_lookup(&p, ctx, err, sizeof(err));
	if (v == NULL)
		snprintf(out, sizeof(out), "ERROR: %s", err);
	else
	{
		char	   *t = cJSON_PrintUnformatted(v);

		snprintf(out, sizeof(out), "%s", t);
		free(t);
	}
	return out;
}

/*
 * parse_err
 *		The error of tmpl_parse_path on expr ("OK" when it parses).
 */
static const char *
parse_err(const char *expr)
{
	static char err[FDB_ERRLEN];
	TmplPath	p;

	if (tmpl_parse_path(expr, strlen(expr), &p, err, sizeof(err)))
		return "OK";
	return err;
}

TEST(test_has_template_and_roots)
{
	CHECK(tmpl_has_template("a {{ b }}"));
	CHECK(tmpl_has_template("{{"));
	CHECK(!tmpl_has_template("a { { b }}"));
	CHECK(!tmpl_has_template("plain"));
	CHECK(!tmpl_has_template(""));
	CHECK(!tmpl_has_template(NULL));

	CHECK(tmpl_root_known("trigger_data"));
	CHECK(tmpl_root_known("steps"));
	CHECK(tmpl_root_known("run"));
	CHECK(tmpl_root_known("workflow"));
	CHECK(!tmpl_root_known("trigger"));
	CHECK(!tmpl_root_known("Steps"));
	CHECK(!tmpl_root_known("steps "));
	CHECK(!tmpl_root_known(""));
	CHECK(!tmpl_root_known(NULL));
}

TEST(test_scan)
{
	Collected	c;
	char		err[FDB_ERRLEN];

	memset(&c, 0, sizeof(c));
	CHECK(tmpl_scan("a {{ x.y }} b {{z}} c", collect, &c, err, sizeof(err)));
	CHECK_INT(c.n, 2);
	CHECK_STR(c.exprs[0], "x.y");
	CHECK_STR(c.exprs[1], "z");

	/* whitespace of every kind is trimmed */
	memset(&c, 0, sizeof(c));
	CHECK(tmpl_scan("{{\n\t run.id \r\n}}", collect, &c, err, sizeof(err)));
	CHECK_INT(c.n, 1);
	CHECK_STR(c.exprs[0], "run.id");

	/* no templates; stray closing braces are literal */
	memset(&c, 0, sizeof(c));
	CHECK(tmpl_scan("nothing }} here {", collect, &c, err, sizeof(err)));
	CHECK_INT(c.n, 0);
	CHECK(tmpl_scan(NULL, collect, &c, err, sizeof(err)));

	memset(&c, 0, sizeof(c));
	CHECK(tmpl_scan("}} {{a}}}", collect, &c, err, sizeof(err)));
	CHECK_INT(c.n, 1);
	CHECK_STR(c.exprs[0], "a");

	/* a quoted key may hold "}}" */
	memset(&c, 0, sizeof(c));
	CHECK(tmpl_scan("{{ a[\"}}\"] }} tail", collect, &c, err, sizeof(err)));
	CHECK_INT(c.n, 1);
	CHECK_STR(c.exprs[0], "a[\"}}\"]");

	/* the callback can stop the scan */
	memset(&c, 0, sizeof(c));
	c.stop_after = 1;
	CHECK(tmpl_scan("{{a}} {{b}} {{c}}", collect, &c, err, sizeof(err)));
	CHECK_INT(c.n, 1);

	/* a NULL callback just checks syntax */
	CHECK(tmpl_scan("{{a}} {{b}}", NULL, NULL, err, sizeof(err)));

	/* syntax errors */
	memset(&c, 0, sizeof(c));
	CHECK(!tmpl_scan("hi {{ x", collect, &c, err, sizeof(err)));
	CHECK_STR(err, "unclosed template at offset 3");
	CHECK(!tmpl_scan("{{a}} and {{ b }", collect, &c, err, sizeof(err)));
	CHECK_STR(err, "unclosed template at offset 10");
	CHECK(!tmpl_scan("{{", NULL, NULL, err, sizeof(err)));
	CHECK_STR(err, "unclosed template at offset 0");
	CHECK(!tmpl_scan("{{ a[\"}} }}", NULL, NULL, err, sizeof(err)));
	CHECK_STR(err, "unclosed template at offset 0");
	CHECK(!tmpl_scan("x{{}}", NULL, NULL, err, sizeof(err)));
	CHECK_STR(err, "empty template at offset 1");
	CHECK(!tmpl_scan("{{ \t }}", NULL, NULL, err, sizeof(err)));
	CHECK_STR(err, "empty template at offset 0");
	/* a NULL error buffer is allowed */
	CHECK(!tmpl_scan("{{", NULL, NULL, NULL, 0));
}

TEST(test_parse_path)
{
	TmplPath	p;
	char		err[FDB_ERRLEN];
	const char *e;
	char		longkey[200];
	char		expr[400];
	int			i;

	e = "trigger_data";
	CHECK(tmpl_parse_path(e, strlen(e), &p, err, sizeof(err)));
	CHECK_STR(p.root, "trigger_data");
	CHECK_INT(p.nsegments, 0);

	e = "  trigger_data.items[3].id  ";
	CHECK(tmpl_parse_path(e, strlen(e), &p, err, sizeof(err)));
	CHECK_STR(p.root, "trigger_data");
	CHECK_INT(p.nsegments, 3);
	CHECK(!p.segments[0].is_index);
	CHECK_STR(p.segments[0].key, "items");
	CHECK(p.segments[1].is_index);
	CHECK_INT(p.segments[1].index, 3);
	CHECK(!p.segments[2].is_index);
	CHECK_STR(p.segments[2].key, "id");

	e = "steps.my-step_2.output[0][12]";
	CHECK(tmpl_parse_path(e, strlen(e), &p, err, sizeof(err)));
	CHECK_STR(p.root, "steps");
	CHECK_INT(p.nsegments, 4);
	CHECK_STR(p.segments[0].key, "my-step_2");
	CHECK_INT(p.segments[3].index, 12);

	e = "trigger_data[\"with space\"].k[\"q\\\"x\\\\y\"][\"\"]";
	CHECK(tmpl_parse_path(e, strlen(e), &p, err, sizeof(err)));
	CHECK_INT(p.nsegments, 4);
	CHECK_STR(p.segments[0].key, "with space");
	CHECK(!p.segments[0].is_index);
	CHECK_STR(p.segments[1].key, "k");
	CHECK_STR(p.segments[2].key, "q\"x\\y");
	CHECK_STR(p.segments[3].key, "");

	/* only len bytes are read */
	e = "run.id.more";
	CHECK(tmpl_parse_path(e, 6, &p, err, sizeof(err)));
	CHECK_STR(p.root, "run");
	CHECK_INT(p.nsegments, 1);
	CHECK_STR(p.segments[0].key, "id");

	/* unknown roots parse (tmpl_root_known is separate) */
	CHECK_STR(parse_err("whatever.x"), "OK");
	CHECK_STR(parse_err("a[0]"), "OK");
	CHECK_STR(parse_err("a[2147483647]"), "OK");

	/* errors */
	CHECK_STR(parse_err(""), "empty template expression");
	CHECK_STR(parse_err("   "), "empty template expression");
	CHECK_STR(parse_err("trigger_data..x"),
			  "invalid template path \"trigger_data..x\": expected a key after \".\" at offset 13");
	CHECK_STR(parse_err("trigger_data."),
			  "invalid template path \"trigger_data.\": expected a key after \".\" at offset 13");
	CHECK_STR(parse_err(".a"),
			  "invalid template path \".a\": expected a root name at offset 0");
	CHECK_STR(parse_err("a b"),
			  "invalid template path \"a b\": expected \".\" or \"[\" at offset 1");
	CHECK_STR(parse_err("a[-1]"),
			  "invalid template path \"a[-1]\": expected an index or a quoted key after \"[\" at offset 2");
	CHECK_STR(parse_err("a[1"),
			  "invalid template path \"a[1\": expected \"]\" at offset 3");
	CHECK_STR(parse_err("a[1x]"),
			  "invalid template path \"a[1x]\": expected \"]\" at offset 3");
	CHECK_STR(parse_err("a[]"),
			  "invalid template path \"a[]\": expected an index or a quoted key after \"[\" at offset 2");
	CHECK_STR(parse_err("a[2147483648]"),
			  "invalid template path \"a[2147483648]\": index too large at offset 2");
	CHECK_STR(parse_err("a[\"x"),
			  "invalid template path \"a[\"x\": unterminated quoted key at offset 2");
	CHECK_STR(parse_err("a[\"x\"."),
			  "invalid template path \"a[\"x\".\": expected \"]\" at offset 5");
	CHECK_CONTAINS(parse_err("a[\"x\\n\"]"), "invalid escape in quoted key");
	CHECK_STR(parse_err("a.b c"),
			  "invalid template path \"a.b c\": expected \".\" or \"[\" at offset 3");
	CHECK_STR(parse_err("a{b}"),
			  "invalid template path \"a{b}\": expected \".\" or \"[\" at offset 1");

	/* limits: root 31 bytes, key 127 bytes, 32 segments */
	CHECK_STR(parse_err("abcdefghijabcdefghijabcdefghija"), "OK");
	CHECK_STR(parse_err("abcdefghijabcdefghijabcdefghijab"),
			  "invalid template path \"abcdefghijabcdefghijabcdefghijab\": root name too long at offset 0");
	memset(longkey, 'k', 127);
	longkey[127] = '\0';
	snprintf(expr, sizeof(expr), "r.%s", longkey);
	CHECK_STR(parse_err(expr), "OK");
	snprintf(expr, sizeof(expr), "r[\"%s\"]", longkey);
	CHECK_STR(parse_err(expr), "OK");
	snprintf(expr, sizeof(expr), "r.%sk", longkey);
	CHECK_CONTAINS(parse_err(expr), "key too long at offset 2");
	CHECK_CONTAINS(parse_err(expr), "...\"");	/* long text is clipped */
	snprintf(expr, sizeof(expr), "r[\"%sk\"]", longkey);
	CHECK_CONTAINS(parse_err(expr), "key too long at offset 2");

	strcpy(expr, "r");
	for (i = 0; i < 32; i++)
		strcat(expr, "[0]");
	CHECK_STR(parse_err(expr), "OK");
	strcat(expr, ".x");
	CHECK_CONTAINS(parse_err(expr), "too many path segments (max 32) at offset 97");

	/* NUL bytes inside the given length are rejected */
	CHECK(!tmpl_parse_path("a[\"x\0y\"]", 8, &p, err, sizeof(err)));
	CHECK_CONTAINS(err, "NUL byte in key");
	CHECK(!tmpl_parse_path("a\0b", 3, &p, err, sizeof(err)));
	/* NULL error buffer */
	CHECK(!tmpl_parse_path("..", 2, &p, NULL, 0));
}

TEST(test_lookup)
{
	CHECK_STR(lookup_text("trigger_data.amount"), "5000");
	CHECK_STR(lookup_text("trigger_data.items[1].id"), "\"b2\"");
	CHECK_STR(lookup_text("trigger_data.user"),
			  "{\"email\":\"ada@example.com\",\"tags\":[\"x\",\"y\"]}");
	CHECK_STR(lookup_text("trigger_data[\"with space\"].k"), "\"v\"");
	CHECK_STR(lookup_text("trigger_data[\"quote\\\"key\"]"), "1");
	CHECK_STR(lookup_text("steps.my-step.output.n"), "1");
	CHECK_STR(lookup_text("trigger_data.none"), "null");
	CHECK_STR(lookup_text("run"), "{\"id\":\"r-1\",\"secret\":\"s3cr3t\"}");

	/* missing paths name the full path and what is missing */
	CHECK_STR(lookup_text("trigger_data.items[3].id"),
			  "ERROR: path trigger_data.items[3].id not found (trigger_data.items has 2 elements)");
	CHECK_STR(lookup_text("trigger_data.items[2]"),
			  "ERROR: path trigger_data.items[2] not found (trigger_data.items has 2 elements)");
	CHECK_STR(lookup_text("trigger_data.one[1]"),
			  "ERROR: path trigger_data.one[1] not found (trigger_data.one has 1 element)");
	CHECK_STR(lookup_text("trigger_data.user.emial"),
			  "ERROR: path trigger_data.user.emial not found (no key \"emial\" in trigger_data.user)");
	CHECK_STR(lookup_text("trigger_data.name.first"),
			  "ERROR: path trigger_data.name.first not found (trigger_data.name is a string, not an object)");
	CHECK_STR(lookup_text("trigger_data.amount[0]"),
			  "ERROR: path trigger_data.amount[0] not found (trigger_data.amount is a number, not an array)");
	CHECK_STR(lookup_text("trigger_data.items.id"),
			  "ERROR: path trigger_data.items.id not found (trigger_data.items is an array, not an object)");
	CHECK_STR(lookup_text("trigger_data.none.x"),
			  "ERROR: path trigger_data.none.x not found (trigger_data.none is null, not an object)");
	CHECK_STR(lookup_text("trigger_data.user[0]"),
			  "ERROR: path trigger_data.user[0] not found (trigger_data.user is an object, not an array)");
	CHECK_STR(lookup_text("nosuch.bar"),
			  "ERROR: path nosuch.bar not found (no \"nosuch\" in context)");
	CHECK_STR(lookup_text("trigger_data[\"with space\"].z"),
			  "ERROR: path trigger_data[\"with space\"].z not found (no key \"z\" in trigger_data[\"with space\"])");
	CHECK_STR(lookup_text("trigger_data[\"a\\\"b\"]"),
			  "ERROR: path trigger_data[\"a\\\"b\"] not found (no key \"a\"b\" in trigger_data)");
	/* case-sensitive keys */
	CHECK_STR(lookup_text("trigger_data.Amount"),
			  "ERROR: path trigger_data.Amount not found (no key \"Amount\" in trigger_data)");

	/* no context at all */
	{
		TmplPath	p;
		char		err[FDB_ERRLEN];

		CHECK(tmpl_parse_path("run.id", 6, &p, err, sizeof(err)));
		CHECK(tmpl_lookup(&p, NULL, err, sizeof(err)) == NULL);
		CHECK_STR(err, "path run.id not found (no \"run\" in context)");
		CHECK(tmpl_lookup(&p, NULL, NULL, 0) == NULL);
		CHECK(tmpl_lookup(NULL, ctx, err, sizeof(err)) == NULL);
	}
}

TEST(test_parse_whole)
{
	TmplPath	p;
	char		err[FDB_ERRLEN];

	CHECK_INT(tmpl_parse_whole("{{a}}", &p, err, sizeof(err)), 1);
	CHECK_STR(p.root, "a");
	CHECK_INT(tmpl_parse_whole("{{  trigger_data.items[0].id \n}}", &p, err, sizeof(err)), 1);
	CHECK_STR(p.root, "trigger_data");
	CHECK_INT(p.nsegments, 3);
	CHECK_INT(tmpl_parse_whole(" {{a}}", &p, err, sizeof(err)), 0);
	CHECK_INT(tmpl_parse_whole("{{a}} ", &p, err, sizeof(err)), 0);
	CHECK_INT(tmpl_parse_whole("{{a}}{{b}}", &p, err, sizeof(err)), 0);
	CHECK_INT(tmpl_parse_whole("{{a}} }}", &p, err, sizeof(err)), 0);
	CHECK_INT(tmpl_parse_whole("{{a}}x", &p, err, sizeof(err)), 0);
	CHECK_INT(tmpl_parse_whole("plain", &p, err, sizeof(err)), 0);
	CHECK_INT(tmpl_parse_whole("", &p, err, sizeof(err)), 0);
	CHECK_INT(tmpl_parse_whole(NULL, &p, err, sizeof(err)), 0);
	CHECK_INT(tmpl_parse_whole("{{ a[\"}}\"] }}", &p, err, sizeof(err)), 1);
	CHECK_STR(p.segments[0].key, "}}");
	CHECK_INT(tmpl_parse_whole("{{ a..b }}", &p, err, sizeof(err)), -1);
	CHECK_CONTAINS(err, "expected a key after \".\"");
	CHECK_INT(tmpl_parse_whole("{{ a", &p, err, sizeof(err)), -1);
	CHECK_STR(err, "unclosed template at offset 0");
	CHECK_INT(tmpl_parse_whole("{{}}", &p, err, sizeof(err)), -1);
	CHECK_STR(err, "empty template at offset 0");
}

TEST(test_render_whole_keeps_type)
{
	char		err[FDB_ERRLEN];
	cJSON	   *v;

	/* number */
	v = tmpl_render_string("{{ trigger_data.amount }}", ctx, err, sizeof(err));
	CHECK(cJSON_IsNumber(v));
	CHECK(v && v->valuedouble == 5000);
	CHECK(v && v->string == NULL);
	cJSON_Delete(v);
	v = tmpl_render_string("{{trigger_data.price}}", ctx, err, sizeof(err));
	CHECK(cJSON_IsNumber(v));
	CHECK(v && v->valuedouble == 12.5);
	cJSON_Delete(v);

	/* boolean, null, string */
	CHECK_STR(render_text("{{ trigger_data.vip }}"), "true");
	CHECK_STR(render_text("{{ trigger_data.off }}"), "false");
	CHECK_STR(render_text("{{ trigger_data.none }}"), "null");
	CHECK_STR(render_text("{{ trigger_data.name }}"), "\"Ada\"");
	CHECK_STR(render_text("{{ trigger_data.empty }}"), "\"\"");

	/* object and array: deep copies */
	v = tmpl_render_string("{{ trigger_data.user }}", ctx, err, sizeof(err));
	CHECK(cJSON_IsObject(v));
	CHECK(same_json(v, "{'email':'ada@example.com','tags':['x','y']}"));
	CHECK(v != cJSON_GetObjectItem(cJSON_GetObjectItem(ctx, "trigger_data"), "user"));
	CHECK(v && v->string == NULL);
	cJSON_Delete(v);
	CHECK_STR(render_text("{{ trigger_data.items }}"), "[{\"id\":\"a1\"},{\"id\":\"b2\"}]");
	CHECK_STR(render_text("{{ steps.fetch.output.body }}"), "{\"ok\":true}");
	CHECK_STR(render_text("{{\tsteps.fetch.output.status }}"), "200");

	/* index and quoted keys */
	CHECK_STR(render_text("{{ trigger_data.items[1].id }}"), "\"b2\"");
	CHECK_STR(render_text("{{ trigger_data.user.tags[0] }}"), "\"x\"");
	CHECK_STR(render_text("{{ trigger_data[\"with space\"].k }}"), "\"v\"");
	CHECK_STR(render_text("{{ trigger_data[\"with space\"] }}"), "{\"k\":\"v\"}");
	CHECK_STR(render_text("{{ trigger_data[\"quote\\\"key\"] }}"), "1");
	CHECK_STR(render_text("{{ trigger_data[\"curly}}key\"] }}"), "\"braces\"");
}

TEST(test_render_interpolation)
{
	CHECK_STR(render_text("no templates here"), "\"no templates here\"");
	CHECK_STR(render_text(""), "\"\"");
	CHECK_STR(render_text("Total: {{ trigger_data.amount }} USD"), "\"Total: 5000 USD\"");
	CHECK_STR(render_text("{{trigger_data.price}}x"), "\"12.5x\"");
	CHECK_STR(render_text(" {{ trigger_data.amount }}"), "\" 5000\"");
	CHECK_STR(render_text("{{ trigger_data.amount }} "), "\"5000 \"");
	CHECK_STR(render_text("{{trigger_data.amount}}{{trigger_data.name}}"), "\"5000Ada\"");
	CHECK_STR(render_text("vip={{ trigger_data.vip }}, off={{trigger_data.off}}"),
			  "\"vip=true, off=false\"");
	CHECK_STR(render_text("n=[{{ trigger_data.none }}]"), "\"n=[]\"");
	CHECK_STR(render_text("u={{ trigger_data.user }}"),
			  "\"u={\\\"email\\\":\\\"ada@example.com\\\",\\\"tags\\\":[\\\"x\\\",\\\"y\\\"]}\"");
	CHECK_STR(render_text("tags: {{ trigger_data.user.tags }}"),
			  "\"tags: [\\\"x\\\",\\\"y\\\"]\"");
	CHECK_STR(render_text("Hi {{ trigger_data.name }} ({{ trigger_data.user.email }})"),
			  "\"Hi Ada (ada@example.com)\"");
	CHECK_STR(render_text("big {{ trigger_data.big }} small {{ trigger_data.small }}"),
			  "\"big 1e+20 small 0.001\"");
	CHECK_STR(render_text("}} literal {{ run.id }} }}"), "\"}} literal r-1 }}\"");
	CHECK_STR(render_text("{ {{ run.id }} }"), "\"{ r-1 }\"");
	CHECK_STR(render_text("k={{ trigger_data[\"with space\"].k }}!"), "\"k=v!\"");
}

TEST(test_render_errors)
{
	CHECK_STR(render_text("a {{ b"), "ERROR: unclosed template at offset 2");
	CHECK_STR(render_text("{{ trigger_data.amount }} {{"), "ERROR: unclosed template at offset 26");
	CHECK_STR(render_text("{{ trigger_data.amount"), "ERROR: unclosed template at offset 0");
	CHECK_STR(render_text("x {{ }} y"), "ERROR: empty template at offset 2");
	CHECK_STR(render_text("{{}}"), "ERROR: empty template at offset 0");
	CHECK_STR(render_text("{{ trigger_data.nope }}"),
			  "ERROR: path trigger_data.nope not found (no key \"nope\" in trigger_data)");
	CHECK_STR(render_text("id: {{ trigger_data.items[3].id }}"),
			  "ERROR: path trigger_data.items[3].id not found (trigger_data.items has 2 elements)");
	CHECK_STR(render_text("{{ run.id }} and {{ trigger_data..x }}"),
			  "ERROR: invalid template path \"trigger_data..x\": expected a key after \".\" at offset 13");
	CHECK_STR(render_text("{{ bogus }}"), "ERROR: path bogus not found (no \"bogus\" in context)");
	{
		char		err[FDB_ERRLEN];

		CHECK(tmpl_render_string(NULL, ctx, err, sizeof(err)) == NULL);
		CHECK(tmpl_render_string("{{ x", ctx, NULL, 0) == NULL);
		CHECK(tmpl_render(NULL, ctx, err, sizeof(err)) == NULL);
	}
}

TEST(test_no_rerender)
{
	char		err[FDB_ERRLEN];
	cJSON	   *in;
	cJSON	   *out;

	/* data containing "{{" is copied verbatim, never rendered again */
	CHECK_STR(render_text("{{ trigger_data.evil }}"), "\"{{ run.secret }}\"");
	CHECK_STR(render_text("x {{ trigger_data.evil }} y"), "\"x {{ run.secret }} y\"");
	CHECK_STR(render_text("{{ trigger_data.evil_obj }}"),
			  "{\"note\":\"{{ run.secret }}\",\"bad\":\"{{ unclosed\"}");
	CHECK_STR(render_text("{{ trigger_data.evil_bad }}"), "\"{{ unclosed\"");
	CHECK_STR(render_text("<{{ trigger_data.evil_bad }}>"), "\"<{{ unclosed>\"");
	/* a value that completes a template with the text that follows */
	CHECK_STR(render_text("{{ trigger_data.half }} run.secret }}"),
			  "\"{{ run.secret }}\"");

	in = JQ("{'a':'{{ trigger_data.evil }}','b':['{{ trigger_data.evil_obj }}']}");
	out = tmpl_render(in, ctx, err, sizeof(err));
	CHECK(same_json(out, "{'a':'{{ run.secret }}','b':[{'note':'{{ run.secret }}','bad':'{{ unclosed'}]}"));
	cJSON_Delete(out);
	cJSON_Delete(in);
}

TEST(test_render_value)
{
	char		err[FDB_ERRLEN];
	cJSON	   *in;
	cJSON	   *out;
	char	   *before;
	char	   *after;

	in = JQ("{'amount':'{{ trigger_data.amount }}',"
				 "'list':['{{ run.id }}', 3, true, null, {'c':'x{{ workflow.name }}'}],"
				 "'{{ key }}':'k', 'nested':{'deep':{'user':'{{ trigger_data.user }}'}},"
				 "'msg':'Paid {{ trigger_data.price }}', 'n':1.5, 'f':false, 'z':null, 'e':[], 'o':{}}");
	before = cJSON_PrintUnformatted(in);
	out = tmpl_render(in, ctx, err, sizeof(err));
	CHECK(out != NULL);
	CHECK(same_json(out,
					"{'amount':5000,"
					"'list':['r-1', 3, true, null, {'c':'xwf'}],"
					"'{{ key }}':'k', 'nested':{'deep':{'user':{'email':'ada@example.com','tags':['x','y']}}},"
					"'msg':'Paid 12.5', 'n':1.5, 'f':false, 'z':null, 'e':[], 'o':{}}"));
	/* key order is kept */
	after = cJSON_PrintUnformatted(out);
	CHECK_STR(after,
			  "{\"amount\":5000,\"list\":[\"r-1\",3,true,null,{\"c\":\"xwf\"}],"
			  "\"{{ key }}\":\"k\",\"nested\":{\"deep\":{\"user\":{\"email\":\"ada@example.com\",\"tags\":[\"x\",\"y\"]}}},"
			  "\"msg\":\"Paid 12.5\",\"n\":1.5,\"f\":false,\"z\":null,\"e\":[],\"o\":{}}");
	free(after);
	cJSON_Delete(out);
	/* the input is untouched */
	after = cJSON_PrintUnformatted(in);
	CHECK_STR(after, before);
	free(after);
	free(before);
	cJSON_Delete(in);

	/* scalars */
	in = cJSON_CreateNumber(7);
	out = tmpl_render(in, ctx, err, sizeof(err));
	CHECK(cJSON_IsNumber(out) && out->valuedouble == 7);
	cJSON_Delete(out);
	cJSON_Delete(in);
	in = cJSON_CreateString("{{ run.id }}");
	out = tmpl_render(in, ctx, err, sizeof(err));
	CHECK(cJSON_IsString(out) && strcmp(out->valuestring, "r-1") == 0);
	cJSON_Delete(out);
	cJSON_Delete(in);

	/* an error deep inside frees everything and reports */
	in = JQ("{'a':[1,{'b':'ok {{ run.id }}'},{'c':'{{ steps.missing.output }}'}]}");
	err[0] = '\0';
	CHECK(tmpl_render(in, ctx, err, sizeof(err)) == NULL);
	CHECK_STR(err, "path steps.missing.output not found (no key \"missing\" in steps)");
	cJSON_Delete(in);

	/* duplicate keys survive */
	in = cJSON_Parse("{\"a\":\"{{ run.id }}\",\"a\":2}");
	out = tmpl_render(in, ctx, err, sizeof(err));
	after = cJSON_PrintUnformatted(out);
	CHECK_STR(after, "{\"a\":\"r-1\",\"a\":2}");
	free(after);
	cJSON_Delete(out);
	cJSON_Delete(in);
}

TEST(test_render_deep)
{
	char		err[FDB_ERRLEN];
	cJSON	   *root = cJSON_CreateArray();
	cJSON	   *cur = root;
	cJSON	   *out;
	int			i;

	/* 900 levels render; 1200 levels are refused, not a stack overflow */
	for (i = 0; i < 900; i++)
	{
		cJSON	   *n = cJSON_CreateArray();

		cJSON_AddItemToArray(cur, n);
		cur = n;
	}
	cJSON_AddItemToArray(cur, cJSON_CreateString("{{ run.id }}"));
	out = tmpl_render(root, ctx, err, sizeof(err));
	CHECK(out != NULL);
	cJSON_Delete(out);
	for (i = 0; i < 300; i++)
	{
		cJSON	   *n = cJSON_CreateArray();

		cJSON_AddItemToArray(cur, n);
		cur = n;
	}
	out = tmpl_render(root, ctx, err, sizeof(err));
	CHECK(out == NULL);
	CHECK_STR(err, "value nested too deeply");
	cJSON_Delete(root);
}

/*
 * test_render_cap: tmpl_max_bytes refuses a rendered value larger than the
 * cap (interpolated, whole-template copies and whole objects) and leaves
 * values under it alone.
 */
TEST(test_render_cap)
{
	char		err[FDB_ERRLEN];
	cJSON	   *big = cJSON_CreateObject();
	cJSON	   *v;
	cJSON	   *tpl;
	char	   *s = malloc(3001);
	char	   *many;

	memset(s, 'x', 3000);
	s[3000] = '\0';
	cJSON_AddStringToObject(big, "v", s);
	cJSON_AddItemToObject(big, "trigger_data", cJSON_Duplicate(cJSON_GetObjectItem(big, "v"), 1));
	tmpl_max_bytes = 10000;

	/* 3 copies: 9000 bytes, under the cap */
	v = tmpl_render_string("{{v}}{{v}}{{v}}", big, err, sizeof(err));
	CHECK(v != NULL && strlen(v->valuestring) == 9000);
	cJSON_Delete(v);

	/* 4 copies: refused before the fourth is appended */
	err[0] = '\0';
	v = tmpl_render_string("{{v}}{{v}}{{v}}{{v}}", big, err, sizeof(err));
	CHECK(v == NULL);
	CHECK_STR(err, "rendered value larger than 10000 bytes");

	/* whole-template copies count too, summed over an object */
	tpl = unit_json_q("{'a': '{{v}}', 'b': '{{v}}', 'c': ['{{v}}', '{{v}}']}", 1);
	err[0] = '\0';
	v = tmpl_render(tpl, big, err, sizeof(err));
	CHECK(v == NULL);
	CHECK_STR(err, "rendered value larger than 10000 bytes");
	cJSON_Delete(tpl);

	/* a literal string over the cap is refused as well */
	many = malloc(20001);
	memset(many, 'y', 20000);
	many[20000] = '\0';
	err[0] = '\0';
	v = tmpl_render_string(many, big, err, sizeof(err));
	CHECK(v == NULL);
	CHECK_STR(err, "rendered value larger than 10000 bytes");

	/* no cap: the same renders */
	tmpl_max_bytes = 0;
	v = tmpl_render_string("{{v}}{{v}}{{v}}{{v}}", big, err, sizeof(err));
	CHECK(v != NULL && strlen(v->valuestring) == 12000);
	cJSON_Delete(v);

	free(many);
	free(s);
	cJSON_Delete(big);
}

/*
 * test_json_size: fdb_json_size is close to the printed size and stops
 * counting early.
 */
TEST(test_json_size)
{
	cJSON	   *v = unit_json_q("{'a': 'hello', 'b': [1, true, null, {'c': 'd'}]}", 1);
	char	   *printed = fdb_json_print(v);
	size_t		n = fdb_json_size(v, (size_t) -1);

	CHECK(n >= strlen(printed));
	CHECK(n <= strlen(printed) + 100);
	CHECK(fdb_json_size(v, 3) > 3);
	CHECK(fdb_json_size(v, 3) < n);
	CHECK_INT(fdb_json_size(NULL, 10), 0);
	free(printed);
	cJSON_Delete(v);
}

int
main(void)
{
	ctx = JQ("{"
				  "'trigger_data': {'amount': 5000, 'price': 12.5, 'name': 'Ada',"
				  "  'vip': true, 'off': false, 'none': null, 'empty': '',"
				  "  'big': 1e20, 'small': 0.001,"
				  "  'items': [{'id': 'a1'}, {'id': 'b2'}], 'one': [1],"
				  "  'user': {'email': 'ada@example.com', 'tags': ['x', 'y']},"
				  "  'with space': {'k': 'v'}, 'quote\\'key': 1, 'curly}}key': 'braces',"
				  "  'evil': '{{ run.secret }}', 'evil_bad': '{{ unclosed', 'half': '{{',"
				  "  'evil_obj': {'note': '{{ run.secret }}', 'bad': '{{ unclosed'}},"
				  "'steps': {'fetch': {'output': {'status': 200, 'body': {'ok': true}}},"
				  "  'my-step': {'output': {'n': 1}}},"
				  "'run': {'id': 'r-1', 'secret': 's3cr3t'},"
				  "'workflow': {'name': 'wf'}"
				  "}");
	if (ctx == NULL)
		return 2;

	RUN(test_has_template_and_roots);
	RUN(test_scan);
	RUN(test_parse_path);
	RUN(test_lookup);
	RUN(test_parse_whole);
	RUN(test_render_whole_keeps_type);
	RUN(test_render_interpolation);
	RUN(test_render_errors);
	RUN(test_no_rerender);
	RUN(test_render_value);
	RUN(test_render_deep);
	RUN(test_render_cap);
	RUN(test_json_size);
	cJSON_Delete(ctx);
	return UNIT_SUMMARY();
}
