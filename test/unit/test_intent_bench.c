/*
 * test_intent_bench.c: the labelled utterances of bench/intent (short form
 * of bench/intent/score.py) with floors, so a parser change that loses
 * accuracy or starts taking wrong actions fails the unit suite.
 */
#include <ctype.h>

#include "unit.h"
#include "intent.h"

#define BENCH_FILE "../../bench/intent/utterances.jsonl"

/* Floors over the whole labelled set (dev + held-out). */
#define FLOOR_INTENT_ACCURACY 0.93
#define FLOOR_ENTITY_F1 0.90
#define FLOOR_OOS_REJECTION 0.97
#define MAX_FALSE_ACTIONS 1

static const char *const actions[] = {
	"CREATE_INVOICE", "CREATE_PAYMENT_LINK", "SEND_MESSAGE", "POST_TO_INSTAGRAM",
	"NOTIFY_SLACK", "RUN_WORKFLOW", "CREATE_WORKFLOW", "CHECK_PAYMENT", NULL
};
static const char *const scored[] = {
	"name", "phone", "email", "amount", "message", "caption", "image_url", "channel",
	"payment_id", "workflow", "run_id", NULL
};

/*
 * in_list
 *		Is s one of the NULL-terminated list?
 */
static int
in_list(const char *s, const char *const *list)
{
	for (int i = 0; list[i]; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

/*
 * norm
 *		Comparable form of an entity value: numbers to two decimals,
 *		strings lower-cased with runs of spaces folded, "mr. " dropped and
 *		trailing punctuation cut (as score.py does).
 */
static void
norm(const cJSON *v, char *out, size_t len)
{
	size_t		n = 0;
	const char *s;

	if (cJSON_IsNumber(v))
	{
		snprintf(out, len, "%.2f", v->valuedouble);
		return;
	}
	s = cJSON_IsString(v) ? v->valuestring : "";
	if (strncasecmp(s, "mr. ", 4) == 0)
		s += 4;
	while (*s && isspace((unsigned char) *s))
		s++;
	for (; *s && n + 1 < len; s++)
	{
		if (isspace((unsigned char) *s))
		{
			if (n > 0 && out[n - 1] != ' ')
				out[n++] = ' ';
			continue;
		}
		out[n++] = (char) tolower((unsigned char) *s);
	}
	while (n > 0 && strchr(" .?!", out[n - 1]))
		n--;
	out[n] = '\0';
}

TEST(test_labelled_set)
{
	FILE	   *f = fopen(BENCH_FILE, "r");
	char		line[8192];
	int			n = 0,
				ok = 0,
				oos = 0,
				oos_ok = 0,
				false_actions = 0,
				tp = 0,
				fp = 0,
				fn = 0;
	double		prec,
				rec,
				f1;

	CHECK(f != NULL);
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f))
	{
		cJSON	   *row = cJSON_Parse(line);
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(row, "text"));
		const char *gold = cJSON_GetStringValue(cJSON_GetObjectItem(row, "intent"));
		cJSON	   *gent = cJSON_GetObjectItem(row, "entities");
		cJSON	   *r;
		const char *got;
		cJSON	   *pent;

		if (row == NULL || text == NULL || gold == NULL)
		{
			CHECK(!"bad line in " BENCH_FILE);
			cJSON_Delete(row);
			continue;
		}
		r = intent_analyze(text);
		got = cJSON_GetStringValue(cJSON_GetObjectItem(r, "intent"));
		pent = cJSON_GetObjectItem(r, "entities");
		n++;
		ok += strcmp(got, gold) == 0;
		if (strcmp(gold, "UNKNOWN") == 0)
		{
			oos++;
			oos_ok += strcmp(got, "UNKNOWN") == 0;
		}
		if (in_list(got, actions) && strcmp(got, gold) != 0)
		{
			false_actions++;
			fprintf(stderr, "false action: \"%s\" -> %s (want %s)\n", text, got, gold);
		}
		for (int i = 0; scored[i]; i++)
		{
			cJSON	   *g = cJSON_GetObjectItem(gent, scored[i]);
			cJSON	   *p = strcmp(got, gold) == 0 ? cJSON_GetObjectItem(pent, scored[i]) : NULL;
			char		a[512],
						b[512];

			if (g)
				norm(g, a, sizeof(a));
			if (p)
				norm(p, b, sizeof(b));
			if (p && g && strcmp(a, b) == 0)
				tp++;
			else
			{
				if (p)
					fp++;
				if (g)
					fn++;
			}
		}
		cJSON_Delete(r);
		cJSON_Delete(row);
	}
	fclose(f);
	prec = tp + fp ? (double) tp / (tp + fp) : 1;
	rec = tp + fn ? (double) tp / (tp + fn) : 1;
	f1 = prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0;
	fprintf(stderr, "intent bench: %d utterances, intent accuracy %.3f, entity F1 %.3f, "
			"out-of-scope rejection %.3f, false actions %d\n",
			n, (double) ok / n, f1, oos ? (double) oos_ok / oos : 1.0, false_actions);
	CHECK(n >= 200);
	CHECK((double) ok / n >= FLOOR_INTENT_ACCURACY);
	CHECK(f1 >= FLOOR_ENTITY_F1);
	CHECK(oos > 0 && (double) oos_ok / oos >= FLOOR_OOS_REJECTION);
	CHECK(false_actions <= MAX_FALSE_ACTIONS);
}

int
main(void)
{
	RUN(test_labelled_set);
	return UNIT_SUMMARY();
}
