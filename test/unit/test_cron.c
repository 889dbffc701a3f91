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

/*
 * test_macros
 *		Each macro matches exactly what its five fields match, on the
 *		minutes that tell them apart; spelling and spacing are lenient,
 *		anything else starting with "@" is refused.
 */
TEST(test_macros)
{
	/* @hourly: minute 0 of every hour */
	CHECK(m("@hourly", 0, 13, 7, 5, 3));
	CHECK(!m("@hourly", 1, 13, 7, 5, 3));
	/* @daily and @midnight: 00:00 */
	CHECK(m("@daily", 0, 0, 7, 5, 3));
	CHECK(!m("@daily", 0, 1, 7, 5, 3));
	CHECK(m("@midnight", 0, 0, 31, 12, 0));
	/* @weekly: Sunday 00:00 */
	CHECK(m("@weekly", 0, 0, 7, 5, 0));
	CHECK(!m("@weekly", 0, 0, 8, 5, 1));
	/* @monthly: the 1st at 00:00, whatever the weekday */
	CHECK(m("@monthly", 0, 0, 1, 5, 4));
	CHECK(!m("@monthly", 0, 0, 2, 5, 5));
	/* @yearly and @annually: January 1st 00:00 */
	CHECK(m("@yearly", 0, 0, 1, 1, 4));
	CHECK(!m("@yearly", 0, 0, 1, 2, 0));
	CHECK(m("@annually", 0, 0, 1, 1, 2));
	/* case and surrounding blanks do not matter */
	CHECK(m(" @DAILY\t", 0, 0, 3, 3, 3));
	CHECK_STR(cron_expand("@Weekly"), "0 0 * * 0");
	CHECK_STR(cron_expand("0 9 * * *"), "0 9 * * *");
	/* every macro expands to a valid expression */
	for (int i = 0; cron_macros[i].name != NULL; i++)
		CHECK_STR(perr(cron_macros[i].name), "(parsed)");
	/* unknown or decorated macros */
	CHECK(cron_expand("@daly") == NULL);
	CHECK(cron_expand("@daily 5") == NULL);
	CHECK(cron_expand("@") == NULL);
	CHECK_CONTAINS(perr("@daly"), "unknown macro \"@daly\"");
	CHECK_CONTAINS(perr("@reboot"), "expected @hourly, @daily");
	CHECK_CONTAINS(perr("@daily 5"), "unknown macro");
}

int
main(void)
{
	RUN(test_every_minute);
	RUN(test_fixed_time);
	RUN(test_steps_ranges_lists);
	RUN(test_weekdays);
	RUN(test_errors);
	RUN(test_macros);
	return UNIT_SUMMARY();
}
