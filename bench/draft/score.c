/*
 * score.c: accuracy and speed of the offline drafter (src/draft.c) on the
 * labelled prompts in bench/draft (dev.jsonl, heldout.jsonl).
 *
 * Each line: {"id", "prompt", "services": [...], "trigger": {"type",
 * "event"? | "cron"? | "table"?}, "condition": null | {"op", "value"}}.
 * For each file it prints service precision/recall/F1 (micro, over the
 * set of services of the draft's action steps), trigger accuracy (type and
 * event / cron / table), condition accuracy (op and value, or none on
 * both sides), how many drafts failed bp_validate (must be 0) and the
 * drafting time per prompt.
 *
 *	score [-v] [--min-f1 X] [--min-trigger X] [--min-condition X] file...
 *
 * With floors, exits 1 when any file is below one of them (CI).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "blueprint.h"
#include "draft.h"

typedef struct Totals
{
	int			n;
	int			tp;
	int			fp;
	int			fn;
	int			trig_ok;
	int			cond_ok;
	int			invalid;
	double		ms;
} Totals;

static int	verbose = 0;

/*
 * read_file
 *		Whole file as a NUL-terminated malloc'd string (NULL on error).
 */
static char *
read_file(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	char	   *buf;
	long		n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t) n + 1);
	if (buf && fread(buf, 1, (size_t) n, f) != (size_t) n)
	{
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[n] = '\0';
	fclose(f);
	return buf;
}

/*
 * has_service
 *		Is name in the JSON array of strings?
 */
static int
has_service(const cJSON *arr, const char *name)
{
	const cJSON *s;

	cJSON_ArrayForEach(s, arr)
		if (cJSON_IsString(s) && strcmp(s->valuestring, name) == 0)
		return 1;
	return 0;
}

/*
 * str_eq
 *		Both strings present and equal (NULL == NULL counts as equal).
 */
static int
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/*
 * trigger_ok
 *		Does the draft's trigger match the label?
 */
static int
trigger_ok(const cJSON *got, const cJSON *want)
{
	const char *type = fdb_json_str(want, "type");

	if (!str_eq(fdb_json_str(got, "type"), type))
		return 0;
	if (fdb_json_str(want, "event") && !str_eq(fdb_json_str(got, "event"), fdb_json_str(want, "event")))
		return 0;
	if (fdb_json_str(want, "cron") && !str_eq(fdb_json_str(got, "cron"), fdb_json_str(want, "cron")))
		return 0;
	if (fdb_json_str(want, "table") && !str_eq(fdb_json_str(got, "table"), fdb_json_str(want, "table")))
		return 0;
	return 1;
}

/*
 * draft_condition
 *		The condition of the first conditional edge of the blueprint (NULL
 *		when there is none).
 */
static const cJSON *
draft_condition(const cJSON *bp)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItem(bp, "edges"))
	{
		const cJSON *c = cJSON_GetObjectItem(e, "condition");

		if (c)
			return c;
	}
	return NULL;
}

/*
 * condition_ok
 *		Does the draft's condition match the label (op and value)?
 */
static int
condition_ok(const cJSON *got, const cJSON *want)
{
	const cJSON *v;
	const cJSON *r;

	if (want == NULL || cJSON_IsNull(want))
		return got == NULL;
	if (got == NULL || !str_eq(fdb_json_str(got, "op"), fdb_json_str(want, "op")))
		return 0;
	v = cJSON_GetObjectItem(want, "value");
	r = cJSON_GetObjectItem(got, "right");
	if (cJSON_IsNumber(v))
		return cJSON_IsNumber(r) && fabs(r->valuedouble - v->valuedouble) < 1e-6;
	return cJSON_IsString(v) && cJSON_IsString(r) && strcasecmp(v->valuestring, r->valuestring) == 0;
}

/*
 * score_one
 *		Draft one labelled prompt and add it to the totals.
 */
static void
score_one(const cJSON *item, Totals *t)
{
	const char *prompt = fdb_json_str(item, "prompt");
	const cJSON *want_svcs = cJSON_GetObjectItem(item, "services");
	cJSON	   *out;
	const cJSON *bp;
	const cJSON *node;
	cJSON	   *got_svcs = cJSON_CreateArray();
	const cJSON *s;
	FdbErrors	errs;
	int			tok;
	int			cok;
	int			sok = 1;

	if (prompt == NULL)
		return;
	out = draft_offline(prompt, strlen(prompt));
	bp = cJSON_GetObjectItem(out, "blueprint");
	fdb_errors_init(&errs);
	if (!bp_validate(bp, &errs))
	{
		char	   *j = fdb_errors_join(&errs, "; ");

		t->invalid++;
		fprintf(stderr, "INVALID %s: %s\n", fdb_json_str(item, "id"), j);
		free(j);
	}
	fdb_errors_free(&errs);
	cJSON_ArrayForEach(node, cJSON_GetObjectItem(bp, "nodes"))
	{
		const char *svc = fdb_json_str(node, "service");

		if (svc && !has_service(got_svcs, svc))
			cJSON_AddItemToArray(got_svcs, cJSON_CreateString(svc));
	}
	cJSON_ArrayForEach(s, got_svcs)
	{
		if (has_service(want_svcs, s->valuestring))
			t->tp++;
		else
		{
			t->fp++;
			sok = 0;
		}
	}
	cJSON_ArrayForEach(s, want_svcs)
		if (!has_service(got_svcs, s->valuestring))
	{
		t->fn++;
		sok = 0;
	}
	tok = trigger_ok(cJSON_GetObjectItem(bp, "trigger"), cJSON_GetObjectItem(item, "trigger"));
	cok = condition_ok(draft_condition(bp), cJSON_GetObjectItem(item, "condition"));
	t->trig_ok += tok;
	t->cond_ok += cok;
	t->n++;
	if (verbose && (!tok || !cok || !sok))
	{
		char	   *g = cJSON_PrintUnformatted(got_svcs);
		char	   *tr = cJSON_PrintUnformatted(cJSON_GetObjectItem(bp, "trigger"));
		char	   *c = cJSON_PrintUnformatted(draft_condition(bp));
		char	   *w = cJSON_PrintUnformatted(cJSON_GetObjectItem(item, "condition"));

		printf("MISS %s%s%s%s\n  %s\n  services %s, trigger %s, condition %s (want %s)\n",
			   fdb_json_str(item, "id"), sok ? "" : " services", tok ? "" : " trigger",
			   cok ? "" : " condition", prompt, g, tr, c ? c : "null", w);
		free(g);
		free(tr);
		free(c);
		free(w);
	}
	cJSON_Delete(got_svcs);
	cJSON_Delete(out);
}

/*
 * time_file
 *		CPU milliseconds per prompt (process CPU time, so a busy machine
 *		does not inflate it) over enough repetitions to take ~0.2 s.
 */
static double
time_file(cJSON *const *items, int n)
{
	struct timespec a;
	struct timespec b;
	int			reps = 0;
	double		el = 0;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	while (el < 0.2 || reps < 3)
	{
		int			i;

		for (i = 0; i < n; i++)
		{
			const char *p = fdb_json_str(items[i], "prompt");

			if (p)
				cJSON_Delete(draft_offline(p, strlen(p)));
		}
		reps++;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
		el = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	}
	return el * 1000.0 / ((double) reps * (n > 0 ? n : 1));
}

/*
 * main
 *		Score every file given; check the floors.
 */
int
main(int argc, char **argv)
{
	double		min_f1 = -1;
	double		min_trig = -1;
	double		min_cond = -1;
	int			failed = 0;
	int			files = 0;
	int			i;

	for (i = 1; i < argc; i++)
	{
		Totals		t;
		char	   *text;
		char	   *line;
		char	   *save = NULL;
		cJSON	   *items[4096];
		int			n = 0;
		int			k;
		double		p,
					r,
					f1;

		if (strcmp(argv[i], "-v") == 0)
		{
			verbose = 1;
			continue;
		}
		if (i + 1 < argc && strcmp(argv[i], "--min-f1") == 0)
		{
			min_f1 = atof(argv[++i]);
			continue;
		}
		if (i + 1 < argc && strcmp(argv[i], "--min-trigger") == 0)
		{
			min_trig = atof(argv[++i]);
			continue;
		}
		if (i + 1 < argc && strcmp(argv[i], "--min-condition") == 0)
		{
			min_cond = atof(argv[++i]);
			continue;
		}
		files++;
		text = read_file(argv[i]);
		if (text == NULL)
		{
			fprintf(stderr, "cannot read %s\n", argv[i]);
			return 2;
		}
		memset(&t, 0, sizeof(t));
		for (line = strtok_r(text, "\n", &save); line && n < 4096; line = strtok_r(NULL, "\n", &save))
		{
			cJSON	   *item = cJSON_Parse(line);

			if (item == NULL)
			{
				fprintf(stderr, "%s: bad JSON line: %.60s\n", argv[i], line);
				return 2;
			}
			items[n++] = item;
			score_one(item, &t);
		}
		t.ms = time_file(items, n);
		p = t.tp + t.fp ? (double) t.tp / (t.tp + t.fp) : 1;
		r = t.tp + t.fn ? (double) t.tp / (t.tp + t.fn) : 1;
		f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
		printf("%s: %d prompts  services P %.3f R %.3f F1 %.3f  trigger %.3f  condition %.3f  "
			   "invalid %d  %.3f CPU ms/prompt\n",
			   argv[i], t.n, p, r, f1, t.n ? (double) t.trig_ok / t.n : 0,
			   t.n ? (double) t.cond_ok / t.n : 0, t.invalid, t.ms);
		if (t.invalid > 0 || (min_f1 >= 0 && f1 < min_f1) ||
			(min_trig >= 0 && t.n && (double) t.trig_ok / t.n < min_trig) ||
			(min_cond >= 0 && t.n && (double) t.cond_ok / t.n < min_cond))
		{
			printf("%s: BELOW FLOOR (F1 >= %.2f, trigger >= %.2f, condition >= %.2f, invalid = 0)\n",
				   argv[i], min_f1, min_trig, min_cond);
			failed++;
		}
		for (k = 0; k < n; k++)
			cJSON_Delete(items[k]);
		free(text);
	}
	if (min_f1 >= 0 || min_trig >= 0 || min_cond >= 0)
		printf("score: %d passed, %d failed\n", files - failed, failed);
	return failed ? 1 : 0;
}
