/*
 * test_suggest.c
 *	  Unit tests of suggest.c: edit distance (with transpositions and its
 *	  bound), the closest choice within a typo budget, and the hint text.
 */
#include "unit.h"

#include "suggest.h"

static const char *const services[] = {"http", "whatsapp", "razorpay", "instagram", "slack", "llm"};

TEST(test_distance)
{
	CHECK_INT(fdb_edit_distance("slack", "slack", 3), 0);
	CHECK_INT(fdb_edit_distance("slak", "slack", 3), 1);	/* deletion */
	CHECK_INT(fdb_edit_distance("slackk", "slack", 3), 1);	/* insertion */
	CHECK_INT(fdb_edit_distance("slick", "slack", 3), 1);	/* substitution */
	CHECK_INT(fdb_edit_distance("salck", "slack", 3), 1);	/* transposition */
	CHECK_INT(fdb_edit_distance("SLACK", "slack", 3), 0);	/* ASCII case folded */
	CHECK_INT(fdb_edit_distance("", "abc", 3), 3);
	CHECK_INT(fdb_edit_distance("kitten", "sitting", 5), 3);
	/* bounded: anything past max is max + 1 */
	CHECK_INT(fdb_edit_distance("kitten", "sitting", 2), 3);
	CHECK_INT(fdb_edit_distance("a", "abcdefgh", 2), 3);
	CHECK(fdb_edit_distance("abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnop",
							"abc", 3) > 3);
}

TEST(test_closest)
{
	CHECK_STR(fdb_closest("slak", services, 6), "slack");
	CHECK_STR(fdb_closest("whatsap", services, 6), "whatsapp");
	CHECK_STR(fdb_closest("razorpy", services, 6), "razorpay");
	CHECK_STR(fdb_closest("instagarm", services, 6), "instagram");
	CHECK(fdb_closest("email", services, 6) == NULL);
	/* a short word never "matches" by replacing all of it */
	CHECK(fdb_closest("ab", (const char *const[]) {"xy"}, 1) == NULL);
	CHECK(fdb_closest("a", (const char *const[]) {"b"}, 1) == NULL);
	CHECK(fdb_closest("", services, 6) == NULL);
	CHECK(fdb_closest(NULL, services, 6) == NULL);
	/* ties go to the first choice; closer wins over earlier */
	CHECK_STR(fdb_closest("nme", (const char *const[]) {"name", "nmea"}, 2), "name");
	CHECK_STR(fdb_closest("amount", (const char *const[]) {"amounts", "amount"}, 2), "amount");
	/* NULL entries are skipped */
	CHECK_STR(fdb_closest("nme", (const char *const[]) {NULL, "name"}, 2), "name");
}

TEST(test_hint)
{
	char		buf[256];

	strcpy(buf, "unknown service \"slak\"");
	fdb_suggest(buf, sizeof(buf), "slak", services, 6, 20);
	CHECK_STR(buf, "unknown service \"slak\" (did you mean \"slack\"?)");

	buf[0] = '\0';
	fdb_suggest(buf, sizeof(buf), "email", services, 6, 20);
	CHECK_STR(buf, " (expected http, whatsapp, razorpay, instagram, slack or llm)");

	buf[0] = '\0';
	fdb_suggest(buf, sizeof(buf), "email", services, 6, 3);
	CHECK_STR(buf, " (expected http, whatsapp, razorpay, ...)");

	buf[0] = '\0';
	fdb_suggest(buf, sizeof(buf), "x", (const char *const[]) {"only"}, 1, 20);
	CHECK_STR(buf, " (expected only)");

	buf[0] = '\0';
	fdb_suggest(buf, sizeof(buf), "x", NULL, 0, 20);
	CHECK_STR(buf, "");

	/* never past the buffer */
	{
		char		small[16] = "0123456789";

		fdb_suggest(small, sizeof(small), "email", services, 6, 20);
		CHECK_INT(strlen(small), 15);
	}
}

int
main(void)
{
	RUN(test_distance);
	RUN(test_closest);
	RUN(test_hint);
	return UNIT_SUMMARY();
}
