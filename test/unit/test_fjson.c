/*
 * test_fjson.c
 *	  Unit tests of fjson.c: error lists, buffers, JSON text, urlencode and
 *	  base64.
 */
#include "unit.h"
#include "fjson.h"

#include <math.h>

/*
 * text_of
 *		fdb_json_to_text of a parsed JSON literal, into a static buffer.
 */
static const char *
text_of(const char *json)
{
	static char out[256];
	cJSON	   *v = cJSON_Parse(json);
	char	   *t;

	if (v == NULL)
		return "(parse error)";
	t = fdb_json_to_text(v);
	snprintf(out, sizeof(out), "%s", t ? t : "(null)");
	free(t);
	cJSON_Delete(v);
	return out;
}

/*
 * text_num
 *		fdb_json_to_text of a number created directly.
 */
static const char *
text_num(double d)
{
	static char out[64];
	cJSON	   *v = cJSON_CreateNumber(d);
	char	   *t = fdb_json_to_text(v);

	snprintf(out, sizeof(out), "%s", t ? t : "(null)");
	free(t);
	cJSON_Delete(v);
	return out;
}

/*
 * url
 *		fdb_urlencode into a static buffer.
 */
static const char *
url(const char *s)
{
	static char out[256];
	char	   *t = fdb_urlencode(s);

	snprintf(out, sizeof(out), "%s", t ? t : "(null)");
	free(t);
	return out;
}

/*
 * b64
 *		fdb_base64 of a byte string into a static buffer.
 */
static const char *
b64(const void *data, size_t len)
{
	static char out[256];
	char	   *t = fdb_base64((const unsigned char *) data, len);

	snprintf(out, sizeof(out), "%s", t ? t : "(null)");
	free(t);
	return out;
}

TEST(test_errors)
{
	FdbErrors	e;
	char	   *j;
	int			i;

	fdb_errors_init(&e);
	CHECK_INT(e.count, 0);
	j = fdb_errors_join(&e, "; ");
	CHECK_STR(j, "");
	free(j);

	fdb_errors_add(&e, "$.nodes[0].id", "must be a string, got %s", "number");
	fdb_errors_add(&e, NULL, "plain %d", 42);
	fdb_errors_add(&e, "", "no path");
	CHECK_INT(e.count, 3);
	CHECK_STR(e.items[0], "$.nodes[0].id: must be a string, got number");
	CHECK_STR(e.items[1], "plain 42");
	CHECK_STR(e.items[2], "no path");
	j = fdb_errors_join(&e, "; ");
	CHECK_STR(j, "$.nodes[0].id: must be a string, got number; plain 42; no path");
	free(j);
	j = fdb_errors_join(&e, NULL);
	CHECK_STR(j, "$.nodes[0].id: must be a string, got numberplain 42no path");
	free(j);
	fdb_errors_free(&e);
	CHECK_INT(e.count, 0);
	CHECK(e.items == NULL);

	/* growth past the initial capacity */
	for (i = 0; i < 100; i++)
		fdb_errors_add(&e, "$", "error %d", i);
	CHECK_INT(e.count, 100);
	CHECK_STR(e.items[0], "$: error 0");
	CHECK_STR(e.items[99], "$: error 99");
	fdb_errors_free(&e);

	/* one empty message still joins */
	fdb_errors_add(&e, NULL, "%s", "");
	j = fdb_errors_join(&e, ",");
	CHECK_STR(j, "");
	free(j);
	fdb_errors_free(&e);
}

TEST(test_fmt_and_strings)
{
	char		buf[8];
	char	   *s;

	CHECK_STR(fdb_fmt(buf, sizeof(buf), "%s", "abcdefghij"), "abcdefg");
	CHECK_STR(fdb_fmt(buf, sizeof(buf), "%d-%d", 1, 2), "1-2");
	CHECK(fdb_fmt(buf, 0, "%s", "x") == buf);

	s = fdb_asprintf("%s=%d", "answer", 42);
	CHECK_STR(s, "answer=42");
	free(s);
	s = fdb_asprintf("%s", "");
	CHECK_STR(s, "");
	free(s);

	s = fdb_strdup("hello");
	CHECK_STR(s, "hello");
	free(s);
	CHECK(fdb_strdup(NULL) == NULL);
}

TEST(test_buf)
{
	FdbBuf		b;
	int			i;
	char		expect[2000];

	fdb_buf_init(&b);
	CHECK(b.data == NULL);
	CHECK_INT(b.len, 0);
	fdb_buf_append(&b, "abc", 2);
	CHECK_STR(b.data, "ab");
	CHECK_INT(b.len, 2);
	fdb_buf_puts(&b, "cd");
	fdb_buf_puts(&b, NULL);
	CHECK_STR(b.data, "abcd");
	fdb_buf_printf(&b, "[%d|%s]", 7, "x");
	CHECK_STR(b.data, "abcd[7|x]");
	CHECK_INT(b.len, 9);
	fdb_buf_free(&b);
	CHECK(b.data == NULL);
	CHECK_INT(b.len, 0);

	/* growth across many reallocations, embedded NUL via append */
	expect[0] = '\0';
	for (i = 0; i < 300; i++)
	{
		fdb_buf_printf(&b, "%d,", i % 10);
		snprintf(expect + strlen(expect), sizeof(expect) - strlen(expect),
				 "%d,", i % 10);
	}
	CHECK_INT(b.len, 600);
	CHECK_STR(b.data, expect);
	fdb_buf_append(&b, "x\0y", 3);
	CHECK_INT(b.len, 603);
	CHECK(b.data[600] == 'x' && b.data[601] == '\0' && b.data[602] == 'y' &&
		  b.data[603] == '\0');
	fdb_buf_free(&b);

	/* a long printf in one go */
	fdb_buf_printf(&b, "%0500d", 5);
	CHECK_INT(b.len, 500);
	CHECK(b.data[0] == '0' && b.data[499] == '5');
	fdb_buf_free(&b);

	/* an empty append still yields a valid string */
	fdb_buf_append(&b, "", 0);
	CHECK_STR(b.data, "");
	fdb_buf_free(&b);
}

TEST(test_json_accessors)
{
	cJSON	   *o = cJSON_Parse("{\"s\":\"str\",\"n\":12.5,\"i\":3,\"b\":true,\"S\":\"upper\"}");
	double		d = -1;

	CHECK_STR(fdb_json_str(o, "s"), "str");
	CHECK_STR(fdb_json_str(o, "S"), "upper");
	CHECK(fdb_json_str(o, "n") == NULL);
	CHECK(fdb_json_str(o, "missing") == NULL);
	CHECK(fdb_json_str(NULL, "s") == NULL);
	CHECK(fdb_json_num(o, "n", &d));
	CHECK(d == 12.5);
	CHECK(fdb_json_num(o, "i", &d));
	CHECK(d == 3);
	CHECK(!fdb_json_num(o, "s", &d));
	CHECK(!fdb_json_num(o, "b", &d));
	CHECK(!fdb_json_num(o, "missing", &d));
	CHECK(d == 3);
	CHECK(fdb_json_num(o, "i", NULL));
	/* not an object */
	CHECK(fdb_json_str(o->child, "s") == NULL);
	CHECK(!fdb_json_num(o->child, "n", &d));
	cJSON_Delete(o);
}

TEST(test_json_to_text)
{
	char	   *t;

	CHECK_STR(text_of("\"plain text\""), "plain text");
	CHECK_STR(text_of("\"say \\\"hi\\\"\""), "say \"hi\"");
	CHECK_STR(text_of("5000"), "5000");
	CHECK_STR(text_of("12.5"), "12.5");
	CHECK_STR(text_of("-3"), "-3");
	CHECK_STR(text_of("0"), "0");
	CHECK_STR(text_of("-0"), "0");
	CHECK_STR(text_of("5000.0"), "5000");
	CHECK_STR(text_of("0.1"), "0.1");
	CHECK_STR(text_of("1.5e-7"), "1.5e-07");
	CHECK_STR(text_of("123456789012345"), "123456789012345");
	CHECK_STR(text_of("-999999999999999"), "-999999999999999");
	CHECK_STR(text_of("1e15"), "1000000000000000");
	CHECK_STR(text_of("9007199254740993"), "9007199254740992");	/* nearest double, exact */
	CHECK_STR(text_of("1e20"), "1e+20");
	CHECK_STR(text_of("3.14159"), "3.14159");
	CHECK_STR(text_num(0.1 + 0.2), "0.30000000000000004");
	CHECK_STR(text_num(1.0 / 3.0), "0.33333333333333331");
	CHECK_STR(text_num(-2.5), "-2.5");
	CHECK_STR(text_num(INFINITY), "Infinity");
	CHECK_STR(text_of("true"), "true");
	CHECK_STR(text_of("false"), "false");
	CHECK_STR(text_of("null"), "");
	CHECK_STR(text_of("[1, \"a\", null, true]"), "[1,\"a\",null,true]");
	CHECK_STR(text_of("{ \"a\" : 1, \"b\" : [ true, 12.5 ], \"c\": {} }"),
			  "{\"a\":1,\"b\":[true,12.5],\"c\":{}}");
	CHECK_STR(text_of("[]"), "[]");
	CHECK_STR(text_of("\"\""), "");

	t = fdb_json_to_text(NULL);
	CHECK_STR(t, "");
	free(t);
}

/*
 * printed
 *		fdb_json_print of v (deleted afterwards), in a static buffer.
 */
static const char *
printed(cJSON *v)
{
	static char buf[1024];
	char	   *t = fdb_json_print(v);

	snprintf(buf, sizeof(buf), "%s", t ? t : "(NULL)");
	free(t);
	cJSON_Delete(v);
	return buf;
}

TEST(test_json_print)
{
	const char *raw = "\"a\\b\nc\rd\te\x01" "f\x1f\"\"\u00e9\u20b9 500\\";
	cJSON	   *back;

	CHECK_STR(printed(cJSON_Parse("{\"k\": [1, 2, {\"x\": \"y\\n\"}], \"n\": null}")),
			  "{\"k\":[1,2,{\"x\":\"y\\n\"}],\"n\":null}");
	CHECK_STR(printed(cJSON_CreateString("quoted")), "\"quoted\"");
	CHECK_STR(printed(NULL), "null");
	CHECK_STR(printed(cJSON_CreateString("")), "\"\"");

	/* escapes at the start, between plain runs, back to back and at the
	 * end; UTF-8 kept as is; and the text reads back as the same string */
	CHECK_STR(printed(cJSON_CreateString(raw)),
			  "\"\\\"a\\\\b\\nc\\rd\\te\\u0001f\\u001f\\\"\\\"\u00e9\u20b9 500\\\\\"");
	back = cJSON_Parse(printed(cJSON_CreateString(raw)));
	CHECK(cJSON_IsString(back) && strcmp(back->valuestring, raw) == 0);
	cJSON_Delete(back);

	/* numbers: integers digit by digit (no "-0"), others %.15g or %.17g */
	CHECK_STR(printed(cJSON_Parse("[-0.0, -12, 0, 1e17, 1e18, 0.1, 1.5e-7, -2.5, 123456789.125, "
								  "-999999999999999999, 1.7976931348623157e308, 3.141592653589793, "
								  "true, false, null]")),
			  "[0,-12,0,100000000000000000,1e+18,0.1,1.5e-07,-2.5,123456789.125,"
			  "-1e+18,1.7976931348623157e+308,3.1415926535897931,true,false,null]");
	CHECK_STR(printed(cJSON_CreateNumber(NAN)), "null");
}

TEST(test_urlencode)
{
	CHECK_STR(url(""), "");
	CHECK_STR(url(NULL), "");
	CHECK_STR(url("abcXYZ019"), "abcXYZ019");
	CHECK_STR(url("a-b.c_d~e"), "a-b.c_d~e");
	CHECK_STR(url("Hello World"), "Hello+World");
	CHECK_STR(url("a&b=c/d?e"), "a%26b%3Dc%2Fd%3Fe");
	CHECK_STR(url("1+1=2"), "1%2B1%3D2");
	CHECK_STR(url("100%"), "100%25");
	CHECK_STR(url("*'()!"), "%2A%27%28%29%21");
	CHECK_STR(url("caf\xc3\xa9"), "caf%C3%A9");
	CHECK_STR(url("line\nbreak\ttab"), "line%0Abreak%09tab");
	CHECK_STR(url("\x7f\xff"), "%7F%FF");
	CHECK_STR(url("  "), "++");
	CHECK_STR(url("user@example.com"), "user%40example.com");
}

TEST(test_base64)
{
	static const unsigned char bin1[] = {0xff, 0xfe, 0x00};
	static const unsigned char bin2[] = {0xfb, 0xff};
	static const unsigned char zeros[] = {0, 0, 0, 0};

	/* RFC 4648 section 10 test vectors */
	CHECK_STR(b64("", 0), "");
	CHECK_STR(b64("f", 1), "Zg==");
	CHECK_STR(b64("fo", 2), "Zm8=");
	CHECK_STR(b64("foo", 3), "Zm9v");
	CHECK_STR(b64("foob", 4), "Zm9vYg==");
	CHECK_STR(b64("fooba", 5), "Zm9vYmE=");
	CHECK_STR(b64("foobar", 6), "Zm9vYmFy");
	/* binary, the '+' and '/' characters, embedded NULs */
	CHECK_STR(b64(bin1, sizeof(bin1)), "//4A");
	CHECK_STR(b64(bin2, sizeof(bin2)), "+/8=");
	CHECK_STR(b64(zeros, sizeof(zeros)), "AAAAAA==");
	/* HTTP basic auth style */
	CHECK_STR(b64("user:pass", 9), "dXNlcjpwYXNz");
	CHECK_STR(b64(NULL, 5), "");
}

TEST(test_scrub)
{
	cJSON	   *secret = cJSON_Parse("{\"api_key\": \"sk-leakyKEY77\", \"nested\": {\"t\": \"tok_abcdef\"}, \"short\": \"ab\", \"n\": 5}");
	char	   *s = fdb_scrub_text(secret, "Incorrect API key provided: sk-leakyKEY77. Also tok_abcdef and sk-leakyKEY77 again; ab stays");
	cJSON	   *out = cJSON_Parse("{\"msg\": \"key sk-leakyKEY77\", \"list\": [\"tok_abcdef\", 1], \"sk-leakyKEY77\": \"keys are left\"}");
	char	   *printed;

	CHECK_STR(s, "Incorrect API key provided: [redacted]. Also [redacted] and [redacted] again; ab stays");
	free(s);
	s = fdb_scrub_text(NULL, "no secret");
	CHECK_STR(s, "no secret");
	free(s);
	fdb_scrub_json(secret, out);
	printed = fdb_json_print(out);
	CHECK_STR(printed, "{\"msg\":\"key [redacted]\",\"list\":[\"[redacted]\",1],\"sk-leakyKEY77\":\"keys are left\"}");
	free(printed);
	cJSON_Delete(out);
	cJSON_Delete(secret);
}

int
main(void)
{
	RUN(test_scrub);
	RUN(test_errors);
	RUN(test_fmt_and_strings);
	RUN(test_buf);
	RUN(test_json_accessors);
	RUN(test_json_to_text);
	RUN(test_json_print);
	RUN(test_urlencode);
	RUN(test_base64);
	return UNIT_SUMMARY();
}
