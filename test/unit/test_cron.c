/*
 * test_cron.c: cron expression parsing and matching.
 */
#include "unit.h"
#include "cron.h"

/*
 * m
 *		Does the valid expression expr match the time?  An expression that
 *		does not parse is a failure of its own (so CHECK(!m(...)) cannot pass
 *		because of a parse error) and matches nothing.
 */
static bool
m(const char *expr, int mi, int h, int d, int mo, int wd)
{
	CronSpec	s;
	char		err[256];

	if (!cron_parse(expr, &s, err, sizeof(err)))
	{
		unit_failed++;
		fprintf(stderr, "FAIL %s:%d [%s]: \"%s\" does not parse: %s\n",
				__FILE__, __LINE__, unit_current, expr, err);
		return false;
	}
	return cron_matches(&s, mi, h, d, mo, wd);
}

static const char *
perr(const char *expr)
{
	static char err[256];
	CronSpec	s;

	err[0] = '\0';
	if (cron_parse(expr, &s, err, sizeof(err)))
		return "(parsed)";
	return err;
}

TEST(test_every_minute)
{
	CHECK(m("* * * * *", 0, 0, 1, 1, 0));
	CHECK(m("* * * * *", 59, 23, 31, 12, 6));
}

TEST(test_fixed_time)
{
	CHECK(m("30 9 * * *", 30, 9, 15, 6, 3));
	CHECK(!m("30 9 * * *", 31, 9, 15, 6, 3));
	CHECK(!m("30 9 * * *", 30, 10, 15, 6, 3));
}

TEST(test_steps_ranges_lists)
{
	CHECK(m("*/15 * * * *", 45, 1, 1, 1, 1));
	CHECK(!m("*/15 * * * *", 44, 1, 1, 1, 1));
	CHECK(m("0 9-17/2 * * *", 0, 11, 1, 1, 1));
	CHECK(!m("0 9-17/2 * * *", 0, 12, 1, 1, 1));
	CHECK(m("5,10,15 * * * *", 10, 0, 1, 1, 1));
	CHECK(!m("5,10,15 * * * *", 11, 0, 1, 1, 1));
	CHECK(m("5/20 * * * *", 45, 0, 1, 1, 1));
	CHECK(!m("5/20 * * * *", 40, 0, 1, 1, 1));
}

TEST(test_weekdays)
{
	/* Monday-Friday at 09:00 */
	CHECK(m("0 9 * * 1-5", 0, 9, 2, 3, 1));
	CHECK(!m("0 9 * * 1-5", 0, 9, 1, 3, 0));
	/* 7 is Sunday too */
	CHECK(m("0 9 * * 7", 0, 9, 1, 3, 0));
	/* dom and dow both restricted: either matches */
	CHECK(m("0 0 1 * 1", 0, 0, 1, 5, 4));
	CHECK(m("0 0 1 * 1", 0, 0, 9, 5, 1));
	CHECK(!m("0 0 1 * 1", 0, 0, 9, 5, 2));
	/* dom restricted, dow star: dom decides */
	CHECK(!m("0 0 1 * *", 0, 0, 2, 5, 1));
}

TEST(test_errors)
{
	CHECK_CONTAINS(perr("* * * *"), "expected 5 fields");
	CHECK_CONTAINS(perr("* * * * * *"), "got 6");
	CHECK_CONTAINS(perr("60 * * * *"), "invalid minute field \"60\" (values 0-59)");
	CHECK_CONTAINS(perr("* 24 * * *"), "invalid hour field");
	CHECK_CONTAINS(perr("* * 0 * *"), "invalid day-of-month field");
	CHECK_CONTAINS(perr("* * * 13 *"), "invalid month field");
	CHECK_CONTAINS(perr("* * * * 8"), "invalid day-of-week field");
	CHECK_CONTAINS(perr("5-1 * * * *"), "invalid minute field");
	CHECK_CONTAINS(perr("*/0 * * * *"), "invalid minute field");
	CHECK_CONTAINS(perr("a * * * *"), "invalid minute field");
	CHECK_CONTAINS(perr("1,,2 * * * *"), "invalid minute field");
	CHECK_CONTAINS(perr("1,2, * * * *"), "invalid minute field");
	CHECK_CONTAINS(perr(""), "expected 5 fields");
}

int
main(void)
{
	RUN(test_every_minute);
	RUN(test_fixed_time);
	RUN(test_steps_ranges_lists);
	RUN(test_weekdays);
	RUN(test_errors);
	return UNIT_SUMMARY();
}
