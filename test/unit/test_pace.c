/*
 * test_pace.c
 *	  Unit tests of pace.c: configured rates, 429 back-off with Retry-After,
 *	  recovery, independent keys, growth and sweeping of the table.
 */
#include "unit.h"
#include "pace.h"

/*
 * take_all
 *		How many requests key gets through from t0 to t1 when one is tried
 *		every ms.
 */
static int
take_all(Pace *p, const char *key, double base, double t0, double t1)
{
	int			n = 0;

	for (double t = t0; t < t1; t += 1)
		if (pace_take(p, key, base, t) == 0)
			n++;
	return n;
}

TEST(test_unpaced)
{
	Pace		p = {0};

	CHECK(pace_interval_of_rate(0) == 0);
	CHECK(pace_interval_of_rate(4) == 250);
	/* no rate and no 429: always free, no entry made */
	CHECK(pace_take(&p, "http/a/default", 0, 1000) == 0);
	CHECK(pace_take(&p, "http/a/default", 0, 1000) == 0);
	CHECK_INT(p.used, 0);
	pace_free(&p);
}

TEST(test_rate)
{
	Pace		p = {0};
	double		base = pace_interval_of_rate(2);	/* 500 ms */

	CHECK(pace_take(&p, "slack/a/default", base, 10000) == 0);
	CHECK(pace_take(&p, "slack/a/default", base, 10000) == 500);
	CHECK(pace_take(&p, "slack/a/default", base, 10200) == 300);
	CHECK(pace_take(&p, "slack/a/default", base, 10500) == 0);
	/* over 10 s: 20 requests, not more */
	CHECK_INT(take_all(&p, "slack/b/default", base, 0, 10000), 20);
	/* keys are independent: owner b's pace does not slow owner c */
	CHECK(pace_take(&p, "slack/c/default", base, 500) == 0);
	/* a lower setting applies at once */
	CHECK(pace_take(&p, "slack/a/default", 1000, 11000) == 0);
	CHECK(pace_take(&p, "slack/a/default", 1000, 11500) == 500);
	pace_free(&p);
}

TEST(test_429)
{
	Pace		p = {0};
	const char *k = "whatsapp/a/default";

	/* an unpaced key that gets a 429 is paced at 1 s, and Retry-After holds it */
	CHECK(pace_slow(&p, k, 0, 1000, 5000));
	CHECK(pace_interval(&p, k, 0) == PACE_FIRST_INTERVAL_MS);
	CHECK(pace_take(&p, k, 0, 1000) == 5000);
	CHECK(pace_take(&p, k, 0, 6000) == 0);
	CHECK(pace_take(&p, k, 0, 6500) == 500);
	/* each further 429 doubles the interval, up to the maximum */
	CHECK(pace_slow(&p, k, 0, 7000, -1));
	CHECK(pace_interval(&p, k, 0) == 2000);
	CHECK(pace_take(&p, k, 0, 8000) == 1000);
	for (int i = 0; i < 10; i++)
		CHECK(pace_slow(&p, k, 0, 9000, -1));
	CHECK(pace_interval(&p, k, 0) == PACE_MAX_INTERVAL_MS);
	/* other owners' credentials keep their pace */
	CHECK(pace_take(&p, "whatsapp/b/default", 0, 9000) == 0);
	CHECK(pace_interval(&p, "whatsapp/b/default", 0) == 0);
	/* successes speed back up, 10% each, until unpaced */
	pace_ok(&p, k, 0);
	CHECK(pace_interval(&p, k, 0) == PACE_MAX_INTERVAL_MS * 0.9);
	for (int i = 0; i < 200; i++)
		pace_ok(&p, k, 0);
	CHECK(pace_interval(&p, k, 0) == 0);
	pace_free(&p);
}

TEST(test_429_with_rate)
{
	Pace		p = {0};
	const char *k = "llm/a/default";

	/* a 429 doubles the configured interval; recovery stops at it */
	CHECK(pace_take(&p, k, 100, 0) == 0);
	CHECK(pace_slow(&p, k, 100, 50, 0));
	CHECK(pace_interval(&p, k, 100) == 200);
	CHECK(pace_take(&p, k, 100, 100) == 150);
	for (int i = 0; i < 50; i++)
		pace_ok(&p, k, 100);
	CHECK(pace_interval(&p, k, 100) == 100);
	/* a success on a key never seen does nothing */
	pace_ok(&p, "llm/z/default", 100);
	CHECK_INT(p.used, 1);
	pace_free(&p);
}

TEST(test_growth_and_sweep)
{
	Pace		p = {0};
	char		key[64];

	for (int i = 0; i < 1000; i++)
	{
		snprintf(key, sizeof(key), "slack/owner%d/default", i);
		CHECK(pace_take(&p, key, 100, 0) == 0);
	}
	CHECK_INT(p.used, 1000);
	CHECK(p.nslots >= 2000);
	/* every key is still found after the table grew */
	snprintf(key, sizeof(key), "slack/owner%d/default", 7);
	CHECK(pace_take(&p, key, 100, 50) == 50);
	/* owner 3 is slowed down; the rest go idle and are forgotten */
	snprintf(key, sizeof(key), "slack/owner%d/default", 3);
	CHECK(pace_slow(&p, key, 100, 0, -1));
	pace_sweep(&p, PACE_IDLE_MS + 1000);
	CHECK_INT(p.used, 1);
	CHECK(pace_interval(&p, key, 100) == 200);
	snprintf(key, sizeof(key), "slack/owner%d/default", 7);
	CHECK(pace_interval(&p, key, 100) == 100);
	pace_free(&p);
	pace_sweep(&p, 0);
	CHECK_INT(p.used, 0);
}

int
main(void)
{
	RUN(test_unpaced);
	RUN(test_rate);
	RUN(test_429);
	RUN(test_429_with_rate);
	RUN(test_growth_and_sweep);
	return UNIT_SUMMARY();
}
