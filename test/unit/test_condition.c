/*
 * test_condition.c
 *	  Unit tests of condition.c: validation and evaluation.
 *
 * JSON literals are written with single quotes and converted by JQ().
 */
#include "unit.h"
#include "condition.h"
#include "template.h"

#define JQ(text) unit_json_q((text), 0)

static cJSON *ctx;
static char last_err[FDB_ERRLEN];

/*
 * ev
 *		cond_eval of a single-quoted JSON condition against ctx; the error
 *		goes to last_err ("" when none).
 */
static int
ev(const char *cond_text)
{
	cJSON	   *c = JQ(cond_text);
	int			r;

	last_err[0] = '\0';
	if (c == NULL)
		return -2;
	r = cond_eval(c, ctx, last_err, sizeof(last_err));
	cJSON_Delete(c);
	return r;
}

/*
 * val_at
 *		cond_validate of a single-quoted JSON condition at path; all errors
 *		joined with " | " ("" when valid).
 */
static const char *
val_at(const char *cond_text, const char *path)
{
	static char out[4096];
	cJSON	   *c = JQ(cond_text);
	FdbErrors	errs;
	char	   *j;

	if (c == NULL)
		return "(bad test JSON)";
	fdb_errors_init(&errs);
	cond_validate(c, path, &errs);
	j = fdb_errors_join(&errs, " | ");
	snprintf(out, sizeof(out), "%s", j ? j : "(null)");
	free(j);
	fdb_errors_free(&errs);
	cJSON_Delete(c);
	return out;
}

/*
 * val
 *		val_at with the root path "$".
 */
static const char *
val(const char *cond_text)
{
	return val_at(cond_text, "$");
}

/*
 * nested_nots
 *		A condition of n "not" wrappers around a true leaf (malloc'd text).
 */
static char *
nested_nots(int n)
{
	FdbBuf		b;
	int			i;

	fdb_buf_init(&b);
	for (i = 0; i < n; i++)
		fdb_buf_puts(&b, "{'not':");
	fdb_buf_puts(&b, "{'left':1,'op':'eq','right':1}");
	for (i = 0; i < n; i++)
		fdb_buf_puts(&b, "}");
	return b.data;
}

TEST(test_validate_ok)
{
	CHECK_STR(val("{'left':'{{ trigger_data.amount }}','op':'gt','right':1000}"), "");
	CHECK_STR(val("{'left':'{{ steps.fetch.output.status }}','op':'eq','right':200}"), "");
	CHECK_STR(val("{'left':'{{ trigger_data.x }}','op':'exists'}"), "");
	CHECK_STR(val("{'left':'{{ trigger_data.x }}','op':'empty'}"), "");
	CHECK_STR(val("{'left':'','op':'empty'}"), "");
	CHECK_STR(val("{'left':'a','op':'in','right':['a','b','{{ run.id }}']}"), "");
	CHECK_STR(val("{'left':'a','op':'in','right':'{{ trigger_data.list }}'}"), "");
	CHECK_STR(val("{'left':'{{ trigger_data.name }}','op':'matches','right':'^A(d|b)a+$'}"), "");
	CHECK_STR(val("{'left':'x','op':'matches','right':'^{{ trigger_data.prefix }}'}"), "");
	CHECK_STR(val("{'all':[{'left':1,'op':'lt','right':2},"
				  "{'any':[{'not':{'left':'a','op':'contains','right':'b'}},"
				  "{'left':'a','op':'starts_with','right':'a'}]}]}"), "");
	CHECK_STR(val("{'left':{'k':['{{ workflow.name }}']},'op':'ne','right':null}"), "");
	CHECK_STR(val("{'op':'ends_with','right':'z','left':'xyz'}"), "");
	/* every operator is known */
	CHECK_STR(val("{'left':1,'op':'eq','right':1}"), "");
	CHECK_STR(val("{'left':1,'op':'ne','right':1}"), "");
	CHECK_STR(val("{'left':1,'op':'gt','right':1}"), "");
	CHECK_STR(val("{'left':1,'op':'gte','right':1}"), "");
	CHECK_STR(val("{'left':1,'op':'lt','right':1}"), "");
	CHECK_STR(val("{'left':1,'op':'lte','right':1}"), "");
	CHECK_STR(val("{'left':'a','op':'contains','right':'a'}"), "");
}

TEST(test_validate_leaf_errors)
{
	CHECK_STR(val_at("{'all':[{'left':1,'op':'bigger','right':2}]}", "$.edges[1].condition"),
			  "$.edges[1].condition.all[0].op: unknown operator \"bigger\" (expected eq, ne, gt, gte, lt,"
			  " lte, contains, starts_with, ends_with, in, exists, empty or matches)");
	CHECK_STR(val("{'left':1,'right':2}"), "$: missing \"op\"");
	CHECK_STR(val("{'op':'eq','right':2}"), "$: missing \"left\"");
	CHECK_STR(val("{'left':1,'op':'eq'}"), "$: missing \"right\" for operator \"eq\"");
	CHECK_STR(val("{'left':1,'op':7,'right':1}"), "$.op: must be a string");
	CHECK_STR(val("{'left':1,'op':'EQ','right':1}"), "$.op: unknown operator \"EQ\" (did you mean \"eq\"?)");
	CHECK_STR(val("{'left':'{{ trigger_data.x }}','op':'exists','right':true}"),
			  "$.right: operator \"exists\" takes no \"right\"");
	CHECK_STR(val("{'left':'{{ trigger_data.x }}','op':'empty','right':''}"),
			  "$.right: operator \"empty\" takes no \"right\"");
	CHECK_STR(val("{'left':'trigger_data.x','op':'exists'}"),
			  "$.left: operator \"exists\" needs a single template such as \"{{ trigger_data.x }}\"");
	CHECK_STR(val("{'left':'x{{ trigger_data.x }}','op':'exists'}"),
			  "$.left: operator \"exists\" needs a single template such as \"{{ trigger_data.x }}\"");
	CHECK_STR(val("{'left':5,'op':'exists'}"),
			  "$.left: operator \"exists\" needs a single template such as \"{{ trigger_data.x }}\"");
	CHECK_STR(val("{'left':'a','op':'in','right':'abc'}"),
			  "$.right: operator \"in\" needs an array or a single template");
	CHECK_STR(val("{'left':'a','op':'in','right':{'a':1}}"),
			  "$.right: operator \"in\" needs an array or a single template");
	CHECK_STR(val("{'left':'a','op':'matches','right':5}"),
			  "$.right: operator \"matches\" needs a string pattern");
	CHECK_CONTAINS(val("{'left':'a','op':'matches','right':'('}"),
				   "$.right: invalid regular expression \"(\": ");
	CHECK_CONTAINS(val("{'left':'a','op':'matches','right':'a{2,1}'}"),
				   "$.right: invalid regular expression \"a{2,1}\": ");
	/* hostile patterns are refused before glibc compiles them */
	CHECK_STR(val("{'left':'a','op':'matches','right':'(a*)\\\\1b'}"),
			  "$.right: back-references are not supported in regular expressions");
	CHECK_STR(val("{'left':'a','op':'matches','right':'((a{100}){100}){100}'}"),
			  "$.right: regular expression repeats too much (nested repetition counts may multiply to at most 1000)");
	CHECK_STR(val("{'left':'a','op':'matches','right':'(x|(a{50,})){50}'}"),
			  "$.right: regular expression repeats too much (nested repetition counts may multiply to at most 1000)");
	CHECK_STR(val("{'left':'a','op':'matches','right':'a{1001}'}"),
			  "$.right: regular expression repeats too much (nested repetition counts may multiply to at most 1000)");
	CHECK_STR(val("{'left':'a','op':'matches','right':'^A++++++++++++++++++++++++++++*d'}"),
			  "$.right: regular expression puts a repetition operator right after another (as in \"a**\" or \"a+*\"); use one, or a group such as \"(a*)?\"");
	/*
	 * glibc's regcomp explodes on copies of parts that can match nothing,
	 * uninterruptibly (the fuzzer's 158-byte pattern below: 46 s)
	 */
	CHECK_STR(val("{'left':'a','op':'matches','right':'a**'}"),
			  "$.right: regular expression puts a repetition operator right after another (as in \"a**\" or \"a+*\"); use one, or a group such as \"(a*)?\"");
	CHECK_STR(val("{'left':'a','op':'matches','right':'a*?" "?'}"),
			  "$.right: regular expression puts a repetition operator right after another (as in \"a**\" or \"a+*\"); use one, or a group such as \"(a*)?\"");
	CHECK_STR(val("{'left':'a','op':'matches','right':'\xf0*****************************************************************************************************************************+++++++\xff+++\xf0\xf0+++++++0+\xff\xff\xff++++b)a+ L+'}"),
			  "$.right: regular expression puts a repetition operator right after another (as in \"a**\" or \"a+*\"); use one, or a group such as \"(a*)?\"");
#define EMPTY_COPIES "$.right: regular expression repeats with + or {m,n} a part that can match nothing (as in \"(a?)+\"); repeat it with * instead, as in \"(a?)*\""
	CHECK_STR(val("{'left':'a','op':'matches','right':'(a?)+'}"), EMPTY_COPIES);
	CHECK_STR(val("{'left':'a','op':'matches','right':'((((((((a)?)?)?)?)+)+)+)+'}"), EMPTY_COPIES);
	CHECK_STR(val("{'left':'a','op':'matches','right':'(x|(a{0,3})){2}'}"), EMPTY_COPIES);
	CHECK_STR(val("{'left':'a','op':'matches','right':'(b|)+'}"), EMPTY_COPIES);
	CHECK_STR(val("{'left':'a','op':'matches','right':'x(^)+'}"), EMPTY_COPIES);
	CHECK_STR(val("{'left':'a','op':'matches','right':'(\\\\b){2,}'}"), EMPTY_COPIES);
	CHECK_STR(val("{'left':'a','op':'matches','right':'(a*b?)+'}"), EMPTY_COPIES);
	/* copies of parts that always match something stay allowed */
	CHECK_STR(val("{'left':'a','op':'matches','right':'^([a-z]+-?)+$'}"), "");
	CHECK_STR(val("{'left':'a','op':'matches','right':'((((a)?)?b)+)+'}"), "");
	CHECK_STR(val("{'left':'a','op':'matches','right':'(a*)*|(b?c){3}'}"), "");
	CHECK_STR(val("{'left':'a','op':'matches','right':'^Invoice .*? paid(x|y?z)+$'}"), "");
	CHECK_STR(val("{'left':'a','op':'matches','right':'((a+){300})+'}"),
			  "$.right: regular expression repeats too much (nested repetition counts may multiply to at most 1000)");
	CHECK_STR(val("{'left':'a','op':'matches','right':'^a+b+(c+)+d*?e??$'}"), "");
	CHECK_STR(val("{'left':'a','op':'matches','right':'a{1000}'}"), "");
	CHECK_STR(val("{'left':'a','op':'matches','right':'(a{30}b{2,}){30}'}"), "");
	CHECK_STR(val("{'left':'a','op':'matches','right':'[]{(\\\\1[:alpha:]]{3}x{2}'}"), "");
	CHECK_STR(val("{'left':'a','op':'matches','right':'\\\\{2}'}"), "");
	{
		char		buf[512];
		char	   *d;
		int			i;

		strcpy(buf, "{'left':'a','op':'matches','right':'");
		for (i = 0; i < 65; i++)
			strcat(buf, "(");
		strcat(buf, "a");
		for (i = 0; i < 65; i++)
			strcat(buf, ")");
		strcat(buf, "'}");
		CHECK_STR(val(buf), "$.right: regular expression nests groups more than 64 deep");
		d = strstr(buf, "((");
		memmove(d, d + 1, strlen(d));	/* 64 groups */
		d = strstr(buf, "))");
		memmove(d, d + 1, strlen(d));
		CHECK_STR(val(buf), "");
	}
	CHECK_STR(val("{'left':1,'op':'eq','right':1,'extra':true}"), "$: unknown key \"extra\" (expected all, any, not, left, op or right)");
	CHECK_STR(val("{'left':1,'op':'eq','right':1,'Op':'x'}"), "$: unknown key \"Op\" (did you mean \"op\"?)");

	/* several problems at once, each reported */
	CHECK_STR(val_at("{'left':'{{ nope.x }}','op':'nope','extra':1}", "$.c"),
			  "$.c: unknown key \"extra\" (expected all, any, not, left, op or right) | $.c.op: unknown operator \"nope\" (expected eq, ne, gt, gte, lt, lte, contains, starts_with, ends_with, in, exists, empty or matches) | "
			  "$.c.left: unknown template root \"nope\" (expected trigger_data, steps, run or workflow)");

	/* duplicate keys */
	{
		cJSON	   *c = cJSON_Parse("{\"left\":1,\"op\":\"eq\",\"op\":\"ne\",\"right\":1}");
		FdbErrors	errs;

		fdb_errors_init(&errs);
		cond_validate(c, "$", &errs);
		CHECK_INT(errs.count, 1);
		if (errs.count == 1)
			CHECK_STR(errs.items[0], "$: duplicate key \"op\"");
		fdb_errors_free(&errs);
		cJSON_Delete(c);
	}
}

TEST(test_validate_templates)
{
	CHECK_STR(val("{'left':'{{ trigger_data.x','op':'eq','right':1}"),
			  "$.left: unclosed template at offset 0");
	CHECK_STR(val("{'left':1,'op':'eq','right':'a {{ }}'}"),
			  "$.right: empty template at offset 2");
	CHECK_STR(val("{'left':'{{ foo.bar }}','op':'eq','right':1}"),
			  "$.left: unknown template root \"foo\" (expected trigger_data, steps, run or workflow)");
	CHECK_STR(val("{'left':1,'op':'eq','right':'{{ trigger_data..x }}'}"),
			  "$.right: invalid template path \"trigger_data..x\": expected a key after \".\" at offset 13");
	CHECK_STR(val("{'left':'a','op':'in','right':['ok','{{ bogus.x }}']}"),
			  "$.right[1]: unknown template root \"bogus\" (expected trigger_data, steps, run or workflow)");
	CHECK_STR(val("{'left':{'a b':{'c':'{{ x }}'}},'op':'eq','right':1}"),
			  "$.left[\"a b\"].c: unknown template root \"x\" (expected trigger_data, steps, run or workflow)");
	/* a template regex is checked for template syntax only */
	CHECK_STR(val("{'left':'a','op':'matches','right':'({{ run.x'}"),
			  "$.right: unclosed template at offset 1");
	/* exists with a broken template reports the syntax problem once */
	CHECK_STR(val("{'left':'{{ trigger_data. }}','op':'exists'}"),
			  "$.left: invalid template path \"trigger_data.\": expected a key after \".\" at offset 13");
	/* several templates in one string */
	CHECK_STR(val("{'left':'{{ a.x }} {{ run.id }} {{ b.y }}','op':'eq','right':1}"),
			  "$.left: unknown template root \"a\" (expected trigger_data, steps, run or workflow) | "
			  "$.left: unknown template root \"b\" (expected trigger_data, steps, run or workflow)");
}

TEST(test_validate_combinators)
{
	char	   *deep;
	const char *r;

	CHECK_STR(val("{'all':[]}"), "$.all: must be a non-empty array of conditions");
	CHECK_STR(val("{'any':{}}"), "$.any: must be a non-empty array of conditions");
	CHECK_STR(val("{'all':'x'}"), "$.all: must be a non-empty array of conditions");
	CHECK_STR(val("{'not':[1]}"), "$.not: must be an object");
	CHECK_STR(val("{'not':{}}"),
			  "$.not: condition needs \"op\" or one of \"all\", \"any\", \"not\"");
	CHECK_STR(val("{'all':[1, {'left':1,'op':'eq','right':1}, 'x']}"),
			  "$.all[0]: must be an object | $.all[2]: must be an object");
	CHECK_STR(val("{'all':[{'left':1,'op':'eq','right':1}],'op':'eq'}"),
			  "$: cannot mix \"all\" with \"op\"");
	CHECK_STR(val("{'not':{'left':1,'op':'eq','right':1},'left':1}"),
			  "$: cannot mix \"not\" with \"left\"");
	CHECK_STR(val("{'left':1,'any':[{'left':1,'op':'eq','right':1}],'op':'eq','right':2}"),
			  "$: cannot mix \"any\" with \"op\"");
	CHECK_STR(val("{'all':[{'left':1,'op':'eq','right':1}],'any':[{'left':1,'op':'eq','right':1}]}"),
			  "$: a condition may have only one of \"all\", \"any\", \"not\"");
	CHECK_STR(val("{}"), "$: condition needs \"op\" or one of \"all\", \"any\", \"not\"");
	CHECK_STR(val("[]"), "$: must be an object");
	CHECK_STR(val("'eq'"), "$: must be an object");
	CHECK_STR(val("{'all':[{'any':[{'not':{'left':1,'op':'eq'}}]}]}"),
			  "$.all[0].any[0].not: missing \"right\" for operator \"eq\"");
	CHECK_STR(val("{'any':[{'left':1,'op':'eq','right':1},{'left':'{{ x.y }}','op':'gt','right':1}]}"),
			  "$.any[1].left: unknown template root \"x\" (expected trigger_data, steps, run or workflow)");

	/* NULL path defaults to "$" */
	{
		cJSON	   *c = JQ("{'left':1}");
		FdbErrors	errs;

		fdb_errors_init(&errs);
		cond_validate(c, NULL, &errs);
		CHECK_INT(errs.count, 1);
		if (errs.count == 1)
			CHECK_STR(errs.items[0], "$: missing \"op\"");
		fdb_errors_free(&errs);
		cond_validate(c, "$", NULL);	/* no crash without a list */
		cJSON_Delete(c);
	}

	/* nesting: 32 levels are fine, 33 are not */
	deep = nested_nots(31);
	CHECK_STR(val(deep), "");
	free(deep);
	deep = nested_nots(32);
	r = val(deep);
	CHECK_CONTAINS(r, ".not.not.not: condition nested too deeply");
	CHECK(strchr(r, '|') == NULL);	/* reported once */
	free(deep);
}

TEST(test_eval_eq_ne)
{
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'eq','right':5000}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'eq','right':4999}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'ne','right':1}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'ne','right':5000.0}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'eq','right':'Ada Lovelace'}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'eq','right':'ada lovelace'}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.vip }}','op':'eq','right':true}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.vip }}','op':'eq','right':false}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.vip }}','op':'eq','right':'true'}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.none }}','op':'eq','right':null}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.none }}','op':'eq','right':0}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.none }}','op':'ne','right':''}"), 1);
	CHECK_STR(last_err, "");
	/* deep equality of objects and arrays */
	CHECK_INT(ev("{'left':'{{ trigger_data.user }}','op':'eq','right':{'email':'ada@example.com','id':7}}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.user }}','op':'eq','right':{'id':7,'email':'ada@example.com'}}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.user }}','op':'eq','right':{'email':'ada@example.com'}}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.user }}','op':'eq','right':{'EMAIL':'ada@example.com','id':7}}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.tags }}','op':'eq','right':['x','y',{'k':1}]}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.tags }}','op':'eq','right':['y','x',{'k':1}]}"), 0);
	/* rendered templates on both sides; interpolation gives strings */
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'eq','right':'{{ trigger_data.amount }}'}"), 1);
	CHECK_INT(ev("{'left':'x{{ trigger_data.amount }}','op':'eq','right':'x5000'}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.code }}','op':'eq','right':'5000'}"), 1);
	/* number vs string is an error, not "not equal" */
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'eq','right':'5000'}"), -1);
	CHECK_STR(last_err, "cannot compare number with string using \"eq\" (left 5000, right \"5000\")");
	CHECK_INT(ev("{'left':'{{ trigger_data.code }}','op':'ne','right':5000}"), -1);
	CHECK_STR(last_err, "cannot compare string with number using \"ne\" (left \"5000\", right 5000)");
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }} ','op':'eq','right':5000}"), -1);
	CHECK_STR(last_err, "cannot compare string with number using \"eq\" (left \"5000 \", right 5000)");
}

TEST(test_eval_ordering)
{
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'gt','right':1000}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'gt','right':5000}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'gte','right':5000}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'gte','right':5000.5}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'lt','right':5000.5}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'lt','right':5000}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'lte','right':5000}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'lte','right':4999}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.price }}','op':'gt','right':12}"), 1);
	CHECK_INT(ev("{'left':-1,'op':'lt','right':0}"), 1);
	/* strings compare bytewise */
	CHECK_INT(ev("{'left':'b','op':'gt','right':'a'}"), 1);
	CHECK_INT(ev("{'left':'abc','op':'lt','right':'abd'}"), 1);
	CHECK_INT(ev("{'left':'abc','op':'gte','right':'abc'}"), 1);
	CHECK_INT(ev("{'left':'B','op':'gt','right':'a'}"), 0);
	CHECK_INT(ev("{'left':'10','op':'lt','right':'9'}"), 1);
	/* mismatched types */
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'gt','right':'abc'}"), -1);
	CHECK_STR(last_err, "cannot compare number with string using \"gt\" (left 5000, right \"abc\")");
	CHECK_INT(ev("{'left':'{{ trigger_data.vip }}','op':'lte','right':1}"), -1);
	CHECK_STR(last_err, "cannot compare boolean with number using \"lte\" (left true, right 1)");
	CHECK_INT(ev("{'left':'{{ trigger_data.none }}','op':'lt','right':1}"), -1);
	CHECK_STR(last_err, "cannot compare null with number using \"lt\" (left null, right 1)");
	CHECK_INT(ev("{'left':'{{ trigger_data.tags }}','op':'gte','right':{'a':1}}"), -1);
	CHECK_STR(last_err,
			  "cannot compare array with object using \"gte\" (left [\"x\",\"y\",{\"k\":1}], right {\"a\":1})");
	/* long values are clipped in messages */
	CHECK_INT(ev("{'left':'{{ trigger_data.long }}','op':'gt','right':1}"), -1);
	CHECK_STR(last_err,
			  "cannot compare string with number using \"gt\" (left "
			  "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa..., right 1)");
}

TEST(test_eval_contains)
{
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'contains','right':'Love'}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'contains','right':'Byron'}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'contains','right':''}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.tags }}','op':'contains','right':'y'}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.tags }}','op':'contains','right':{'k':1}}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.tags }}','op':'contains','right':{'k':2}}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.tags }}','op':'contains','right':'z'}"), 0);
	CHECK_INT(ev("{'left':[1,2,3],'op':'contains','right':2}"), 1);
	CHECK_INT(ev("{'left':[1,2,3],'op':'contains','right':'2'}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.user }}','op':'contains','right':'email'}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.user }}','op':'contains','right':'phone'}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.user }}','op':'contains','right':'Email'}"), 0);
	CHECK_STR(last_err, "");
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'contains','right':5}"), -1);
	CHECK_STR(last_err, "cannot compare number with number using \"contains\" (left 5000, right 5)");
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'contains','right':5}"), -1);
	CHECK_STR(last_err, "cannot compare string with number using \"contains\" (left \"Ada Lovelace\", right 5)");
	CHECK_INT(ev("{'left':'{{ trigger_data.user }}','op':'contains','right':['email']}"), -1);
	CHECK_CONTAINS(last_err, "cannot compare object with array using \"contains\"");
	CHECK_INT(ev("{'left':null,'op':'contains','right':'x'}"), -1);
	CHECK_STR(last_err, "cannot compare null with string using \"contains\" (left null, right \"x\")");
}

TEST(test_eval_starts_ends)
{
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'starts_with','right':'Ada'}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'starts_with','right':'Lovelace'}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'starts_with','right':''}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'ends_with','right':'lace'}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'ends_with','right':'Ada'}"), 0);
	CHECK_INT(ev("{'left':'ab','op':'ends_with','right':'xab'}"), 0);
	CHECK_INT(ev("{'left':'ab','op':'starts_with','right':'abc'}"), 0);
	CHECK_INT(ev("{'left':'ab','op':'ends_with','right':'ab'}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'starts_with','right':'5'}"), -1);
	CHECK_STR(last_err, "cannot compare number with string using \"starts_with\" (left 5000, right \"5\")");
	CHECK_INT(ev("{'left':'x','op':'ends_with','right':null}"), -1);
	CHECK_STR(last_err, "cannot compare string with null using \"ends_with\" (left \"x\", right null)");
	/* interpolation turns the number into text */
	CHECK_INT(ev("{'left':'#{{ trigger_data.amount }}','op':'ends_with','right':'000'}"), 1);
}

TEST(test_eval_in)
{
	CHECK_INT(ev("{'left':'y','op':'in','right':'{{ trigger_data.tags }}'}"), 1);
	CHECK_INT(ev("{'left':{'k':1},'op':'in','right':'{{ trigger_data.tags }}'}"), 1);
	CHECK_INT(ev("{'left':'q','op':'in','right':['a','b']}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'in','right':[1,5000]}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'in','right':['5000']}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'in','right':['x','{{ trigger_data.name }}']}"), 1);
	CHECK_INT(ev("{'left':'a','op':'in','right':'{{ trigger_data.list }}'}"), 0);
	CHECK_STR(last_err, "");
	CHECK_INT(ev("{'left':'Ada','op':'in','right':'{{ trigger_data.name }}'}"), -1);
	CHECK_STR(last_err, "operator \"in\" needs an array on the right, got string (right \"Ada Lovelace\")");
	CHECK_INT(ev("{'left':'email','op':'in','right':'{{ trigger_data.user }}'}"), -1);
	CHECK_CONTAINS(last_err, "operator \"in\" needs an array on the right, got object");
}

TEST(test_eval_exists_empty)
{
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'exists'}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.none }}','op':'exists'}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.nope }}','op':'exists'}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.tags[5] }}','op':'exists'}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.tags[2].k }}','op':'exists'}"), 1);
	CHECK_INT(ev("{'left':'{{ steps.nope.output }}','op':'exists'}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.name.first }}','op':'exists'}"), 0);
	CHECK_INT(ev("{'left':'{{ unknownroot.x }}','op':'exists'}"), 0);
	CHECK_STR(last_err, "");
	CHECK_INT(ev("{'left':'trigger_data.amount','op':'exists'}"), -1);
	CHECK_STR(last_err,
			  "operator \"exists\" needs a single template such as \"{{ trigger_data.x }}\"");
	CHECK_INT(ev("{'left':'x{{ trigger_data.amount }}','op':'exists'}"), -1);
	CHECK_INT(ev("{'left':5,'op':'exists'}"), -1);
	CHECK_INT(ev("{'left':'{{ trigger_data. }}','op':'exists'}"), -1);
	CHECK_STR(last_err,
			  "invalid template path \"trigger_data.\": expected a key after \".\" at offset 13");

	CHECK_INT(ev("{'left':'{{ trigger_data.none }}','op':'empty'}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.blank }}','op':'empty'}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.list }}','op':'empty'}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.obj }}','op':'empty'}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.nope }}','op':'empty'}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'empty'}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.zero }}','op':'empty'}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.off }}','op':'empty'}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.tags }}','op':'empty'}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.user }}','op':'empty'}"), 0);
	CHECK_INT(ev("{'left':'','op':'empty'}"), 1);
	CHECK_INT(ev("{'left':[],'op':'empty'}"), 1);
	CHECK_INT(ev("{'left':null,'op':'empty'}"), 1);
	CHECK_INT(ev("{'left':'x','op':'empty'}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.blank }}{{ trigger_data.none }}','op':'empty'}"), 1);
	CHECK_STR(last_err, "");
	/* only a whole template may be missing */
	CHECK_INT(ev("{'left':'x{{ trigger_data.nope }}','op':'empty'}"), -1);
	CHECK_STR(last_err, "path trigger_data.nope not found (no key \"nope\" in trigger_data)");
}

TEST(test_eval_matches)
{
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'matches','right':'^Ada'}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'matches','right':'^Lovelace'}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'matches','right':'L(o|a)ve(lace)?$'}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'matches','right':'^[a-z ]+$'}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.user.email }}','op':'matches','right':'^[^@]+@example\\\\.com$'}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'matches','right':'{{ trigger_data.re }}'}"), 1);
	CHECK_INT(ev("{'left':'order-{{ trigger_data.amount }}','op':'matches','right':'^order-[0-9]{4}$'}"), 1);
	CHECK_STR(last_err, "");
	CHECK_INT(ev("{'left':'abc','op':'matches','right':'('}"), -1);
	CHECK_CONTAINS(last_err, "invalid regular expression \"(\": ");
	CHECK_INT(ev("{'left':'{{ trigger_data.amount }}','op':'matches','right':'5'}"), -1);
	CHECK_STR(last_err, "cannot compare number with string using \"matches\" (left 5000, right \"5\")");
	CHECK_INT(ev("{'left':'aaaaaaaaaaaaaaaaaaaaaaaa','op':'matches','right':'(.*)*\\\\1\\\\1x'}"), -1);
	CHECK_STR(last_err, "back-references are not supported in regular expressions");
	CHECK_INT(ev("{'left':'aaaa','op':'matches','right':'^(a{2}){2}$'}"), 1);
	CHECK_INT(ev("{'left':'a{2}','op':'matches','right':'^a\\\\{2}$'}"), 1);
	CHECK_INT(ev("{'left':'a','op':'matches','right':1}"), -1);
	CHECK_STR(last_err, "cannot compare string with number using \"matches\" (left \"a\", right 1)");
}

/*
 * test_eval_matches_bounds: a subject longer than cond_max_subject and a
 * spent cond_regex_budget are evaluation errors, decided before glibc's
 * matcher runs; the pathological pattern on a long subject returns fast.
 */
TEST(test_eval_matches_bounds)
{
	cJSON	   *c;
	cJSON	   *big = cJSON_CreateObject();
	cJSON	   *td;
	char	   *s = malloc(40001);
	int			r;

	memset(s, 'a', 40000);
	s[40000] = '\0';
	td = cJSON_AddObjectToObject(big, "trigger_data");
	cJSON_AddStringToObject(td, "s", s);
	c = unit_json_q("{'left':'{{ trigger_data.s }}','op':'matches','right':'(a|aa)*c'}", 1);

	cond_max_subject = 10000;
	r = cond_eval(c, big, last_err, sizeof(last_err));
	CHECK_INT(r, -1);
	CHECK_STR(last_err, "operator \"matches\": the string is 40000 bytes long, the limit is 10000 (flowdb.max_regex_subject)");

	/* the budget: 20 bytes allow "Ada Lovelace" (12) once, not twice */
	cond_max_subject = 0;
	cond_regex_budget = 20;
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'matches','right':'^Ada'}"), 1);
	CHECK_INT(cond_regex_budget, 8);
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'matches','right':'^Ada'}"), -1);
	CHECK_STR(last_err, "operator \"matches\": too much text matched against regular expressions in one step");
	cond_regex_budget = -1;
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'matches','right':'^Ada'}"), 1);

	cJSON_Delete(c);
	cJSON_Delete(big);
	free(s);
}

/* a matcher standing in for the backend's: records what it was given */
static char seen_subject[64];
static char seen_pattern[64];

static int
fake_matcher(const char *subject, size_t len, const char *pattern,
			 char *err, size_t errlen)
{
	snprintf(seen_subject, sizeof(seen_subject), "%.*s", (int) len, subject);
	snprintf(seen_pattern, sizeof(seen_pattern), "%s", pattern);
	if (strcmp(pattern, "boom") == 0)
	{
		snprintf(err, errlen, "matcher said no");
		return -1;
	}
	return strstr(subject, "Ada") != NULL;
}

/*
 * test_eval_matches_hook: cond_regex_matcher replaces glibc (regcomp and
 * regexec) after the limits; its errors become condition errors.
 */
TEST(test_eval_matches_hook)
{
	cond_regex_matcher = fake_matcher;
	seen_subject[0] = '\0';
	CHECK_INT(ev("{'left':'{{ trigger_data.name }}','op':'matches','right':'^A'}"), 1);
	CHECK_STR(seen_subject, "Ada Lovelace");
	CHECK_STR(seen_pattern, "^A");
	CHECK_INT(ev("{'left':'Bob','op':'matches','right':'x'}"), 0);
	CHECK_INT(ev("{'left':'Bob','op':'matches','right':'boom'}"), -1);
	CHECK_CONTAINS(last_err, "matcher said no");
	/* the limits still come first: the matcher never sees a hostile pattern */
	seen_pattern[0] = '\0';
	CHECK_INT(ev("{'left':'Bob','op':'matches','right':'(a?)+'}"), -1);
	CHECK_CONTAINS(last_err, "a part that can match nothing");
	CHECK_INT(ev("{'left':'Bob','op':'matches','right':'(a)\\\\1'}"), -1);
	CHECK_CONTAINS(last_err, "back-references are not supported");
	CHECK_STR(seen_pattern, "");
	/* its syntax is the matcher's to judge: glibc compiles nothing */
	CHECK_INT(ev("{'left':'Bob','op':'matches','right':'('}"), 0);
	CHECK_STR(seen_pattern, "(");
	cond_regex_matcher = NULL;
}

TEST(test_eval_combinators)
{
	const char *T = "{'left':1,'op':'eq','right':1}";
	const char *F = "{'left':1,'op':'eq','right':2}";
	const char *E = "{'left':1,'op':'gt','right':'x'}";
	char		buf[512];
	char	   *deep;

#define COMBO(fmt, ...) (snprintf(buf, sizeof(buf), fmt, __VA_ARGS__), ev(buf))
	CHECK_INT(COMBO("{'all':[%s,%s]}", T, T), 1);
	CHECK_INT(COMBO("{'all':[%s,%s]}", T, F), 0);
	CHECK_INT(COMBO("{'all':[%s]}", F), 0);
	CHECK_INT(COMBO("{'any':[%s,%s]}", F, T), 1);
	CHECK_INT(COMBO("{'any':[%s,%s]}", F, F), 0);
	CHECK_INT(COMBO("{'not':%s}", T), 0);
	CHECK_INT(COMBO("{'not':%s}", F), 1);
	CHECK_INT(COMBO("{'all':[{'any':[%s,%s]},{'not':%s}]}", F, T, F), 1);
	CHECK_INT(COMBO("{'any':[{'all':[%s,%s]},{'not':{'not':%s}}]}", T, F, F), 0);
	/* short-circuit: an error after the deciding child is not reached */
	CHECK_INT(COMBO("{'all':[%s,%s]}", F, E), 0);
	CHECK_INT(COMBO("{'any':[%s,%s]}", T, E), 1);
	CHECK_STR(last_err, "");
	/* errors propagate through every combinator */
	CHECK_INT(COMBO("{'all':[%s,%s]}", T, E), -1);
	CHECK_STR(last_err, "cannot compare number with string using \"gt\" (left 1, right \"x\")");
	CHECK_INT(COMBO("{'any':[%s,%s]}", F, E), -1);
	CHECK_INT(COMBO("{'not':%s}", E), -1);
	CHECK_INT(COMBO("{'not':{'all':[%s,%s]}}", T, E), -1);
#undef COMBO

	/* malformed nodes */
	CHECK_INT(ev("{'all':[]}"), -1);
	CHECK_STR(last_err, "\"all\" must be a non-empty array of conditions");
	CHECK_INT(ev("{'any':5}"), -1);
	CHECK_STR(last_err, "\"any\" must be a non-empty array of conditions");
	CHECK_INT(ev("{'not':[]}"), -1);
	CHECK_STR(last_err, "condition must be an object");
	CHECK_INT(ev("{'all':[{'left':1,'op':'eq','right':1}],'op':'eq'}"), -1);
	CHECK_STR(last_err, "cannot mix \"all\" with \"op\"/\"left\"/\"right\"");
	CHECK_INT(ev("{'all':[{'left':1,'op':'eq','right':1}],'not':{'left':1,'op':'eq','right':1}}"), -1);
	CHECK_STR(last_err, "a condition may have only one of \"all\", \"any\", \"not\"");
	CHECK_INT(ev("{'left':1,'op':'bigger','right':2}"), -1);
	CHECK_STR(last_err, "unknown operator \"bigger\" (expected eq, ne, gt, gte, lt, lte, contains, starts_with, ends_with, in, exists, empty or matches)");
	CHECK_INT(ev("{'left':1,'right':2}"), -1);
	CHECK_STR(last_err, "condition has no \"op\" string");
	CHECK_INT(ev("{'op':'eq','right':2}"), -1);
	CHECK_STR(last_err, "condition has no \"left\"");
	CHECK_INT(ev("{'left':1,'op':'eq'}"), -1);
	CHECK_STR(last_err, "operator \"eq\" needs \"right\"");
	CHECK_INT(ev("[1]"), -1);
	CHECK_STR(last_err, "condition must be an object");
	CHECK(cond_eval(NULL, ctx, last_err, sizeof(last_err)) == -1);
	CHECK(cond_eval(NULL, ctx, NULL, 0) == -1);

	/* nesting: 32 levels evaluate, 33 are refused */
	deep = nested_nots(31);
	CHECK_INT(ev(deep), 0);		/* 31 nots around true */
	free(deep);
	deep = nested_nots(30);
	CHECK_INT(ev(deep), 1);
	free(deep);
	deep = nested_nots(32);
	CHECK_INT(ev(deep), -1);
	CHECK_STR(last_err, "condition nested too deeply");
	free(deep);
}

TEST(test_eval_missing_and_security)
{
	CHECK_INT(ev("{'left':'{{ trigger_data.nope }}','op':'eq','right':1}"), -1);
	CHECK_STR(last_err, "path trigger_data.nope not found (no key \"nope\" in trigger_data)");
	CHECK_INT(ev("{'left':1,'op':'eq','right':'{{ steps.fetch.output.items[3] }}'}"), -1);
	CHECK_STR(last_err, "path steps.fetch.output.items[3] not found (steps.fetch.output.items has 1 element)");
	CHECK_INT(ev("{'left':'{{ trigger_data.amount','op':'eq','right':1}"), -1);
	CHECK_STR(last_err, "unclosed template at offset 0");

	/* data containing a template is compared as text, never rendered */
	CHECK_INT(ev("{'left':'{{ trigger_data.evil }}','op':'eq','right':'s3cr3t'}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.evil }}','op':'contains','right':'run.secret'}"), 1);
	CHECK_INT(ev("{'left':'{{ trigger_data.evil }}','op':'contains','right':'s3cr3t'}"), 0);
	CHECK_INT(ev("{'left':'{{ trigger_data.evil }}','op':'matches','right':'^[{][{] run'}"), 1);
	/* a regex from data is used as a regex, but its text is not rendered */
	CHECK_INT(ev("{'left':'{{ run.secret }}','op':'matches','right':'{{ trigger_data.evil }}'}"), -1);
	CHECK_CONTAINS(last_err, "invalid regular expression \"{{ run.secret }}\"");
}

int
main(void)
{
	ctx = JQ("{"
				  "'trigger_data': {'amount': 5000, 'price': 12.5, 'name': 'Ada Lovelace',"
				  "  'vip': true, 'off': false, 'none': null, 'blank': '', 'zero': 0,"
				  "  'list': [], 'obj': {}, 'code': '5000', 're': '^Ada',"
				  "  'tags': ['x', 'y', {'k': 1}],"
				  "  'user': {'email': 'ada@example.com', 'id': 7},"
				  "  'evil': '{{ run.secret }}',"
				  "  'long': 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'},"
				  "'steps': {'fetch': {'output': {'status': 200, 'items': [1]}}},"
				  "'run': {'id': 'r-1', 'secret': 's3cr3t'},"
				  "'workflow': {'name': 'wf'}"
				  "}");
	if (ctx == NULL)
		return 2;

	RUN(test_validate_ok);
	RUN(test_validate_leaf_errors);
	RUN(test_validate_templates);
	RUN(test_validate_combinators);
	RUN(test_eval_eq_ne);
	RUN(test_eval_ordering);
	RUN(test_eval_contains);
	RUN(test_eval_starts_ends);
	RUN(test_eval_in);
	RUN(test_eval_exists_empty);
	RUN(test_eval_matches);
	RUN(test_eval_matches_bounds);
	RUN(test_eval_matches_hook);
	RUN(test_eval_combinators);
	RUN(test_eval_missing_and_security);
	cJSON_Delete(ctx);
	return UNIT_SUMMARY();
}
