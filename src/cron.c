/*-------------------------------------------------------------------------
 *
 * cron.c
 *	  Parse and match 5-field cron expressions (see cron.h).
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cron.h"

/*
 * parse_number
 *		Decimal number at *p within [lo, hi]; advances *p.
 */
static bool
parse_number(const char **p, int lo, int hi, int *out)
{
	long		v = 0;
	int			digits = 0;

	while (isdigit((unsigned char) **p) && digits < 4)
	{
		v = v * 10 + (**p - '0');
		(*p)++;
		digits++;
	}
	if (digits == 0 || isdigit((unsigned char) **p) || v < lo || v > hi)
		return false;
	*out = (int) v;
	return true;
}

const CronField cron_fields[5] = {
	{"minute", 0, 59},
	{"hour", 0, 23},
	{"day-of-month", 1, 31},
	{"month", 1, 12},
	{"day-of-week", 0, 7},
};

/*
 * cron_parse_field
 *		One comma-separated field into a bit set; *star tells whether it
 *		was a plain "*".
 */
bool
cron_parse_field(const char *s, size_t len, int index, uint64_t *bits, bool *star)
{
	int			lo = cron_fields[index].lo;
	int			hi = cron_fields[index].hi;
	char		buf[128];
	char	   *save = NULL;
	char	   *item;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	*bits = 0;
	*star = (strcmp(buf, "*") == 0);
	if (buf[0] == ',' || buf[len - 1] == ',' || strstr(buf, ",,") != NULL)
		return false;
	for (item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save))
	{
		const char *p = item;
		int			a = lo;
		int			b = hi;
		int			step = 1;

		if (*p == '*')
			p++;
		else
		{
			if (!parse_number(&p, lo, hi, &a))
				return false;
			b = a;
			if (*p == '-')
			{
				p++;
				if (!parse_number(&p, lo, hi, &b) || b < a)
					return false;
			}
		}
		if (*p == '/')
		{
			p++;
			if (!parse_number(&p, 1, hi - lo + 1, &step))
				return false;
			if (b == a && item[0] != '*')
				b = hi;			/* "5/15" means 5-max/15 */
		}
		if (*p != '\0')
			return false;
		for (int v = a; v <= b; v += step)
			*bits |= (uint64_t) 1 << v;
	}
	return *bits != 0;
}

/*
 * cron_split
 *		Fields of a cron expression, split on spaces and tabs.
 */
int
cron_split(const char *expr, const char *start[5], size_t len[5])
{
	const char *p = expr;
	int			n = 0;

	while (p && *p)
	{
		const char *q;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		q = p;
		while (*q && *q != ' ' && *q != '\t')
			q++;
		if (n < 5)
		{
			start[n] = p;
			len[n] = (size_t) (q - p);
		}
		n++;
		p = q;
	}
	return n;
}

/* the macros and what they stand for */
const CronMacro cron_macros[] = {
	{"@yearly", "0 0 1 1 *"},
	{"@annually", "0 0 1 1 *"},
	{"@monthly", "0 0 1 * *"},
	{"@weekly", "0 0 * * 0"},
	{"@daily", "0 0 * * *"},
	{"@midnight", "0 0 * * *"},
	{"@hourly", "0 * * * *"},
	{NULL, NULL}
};

/*
 * cron_expand
 *		expr itself, or the five fields a macro stands for (surrounding
 *		spaces and tabs ignored, case-insensitive); NULL for an unknown
 *		macro (anything starting with "@").
 */
const char *
cron_expand(const char *expr)
{
	const char *p = expr;
	size_t		len;

	if (expr == NULL)
		return NULL;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '@')
		return expr;
	len = strcspn(p, " \t");
	for (const char *q = p + len; *q; q++)
		if (*q != ' ' && *q != '\t')
			return NULL;		/* "@daily 5": not a macro */
	for (int i = 0; cron_macros[i].name != NULL; i++)
		if (strlen(cron_macros[i].name) == len &&
			strncasecmp(cron_macros[i].name, p, len) == 0)
			return cron_macros[i].fields;
	return NULL;
}

/*
 * cron_parse
 *		Parse "m h dom mon dow" or a macro; the first bad field is reported.
 */
bool
cron_parse(const char *expr, CronSpec *spec, char *err, size_t errlen)
{
	const char *start[5];
	size_t		len[5];
	uint64_t	bits[5];
	bool		star[5];
	int			n;
	const char *fields = cron_expand(expr);

	memset(spec, 0, sizeof(*spec));
	if (fields == NULL)
	{
		snprintf(err, errlen,
				 "unknown macro \"%.32s\" (expected @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually)",
				 expr + strspn(expr, " \t"));
		return false;
	}
	expr = fields;
	n = cron_split(expr, start, len);
	if (n != 5)
	{
		snprintf(err, errlen,
				 "expected 5 fields (minute hour day-of-month month day-of-week), got %d", n);
		return false;
	}
	for (int i = 0; i < 5; i++)
	{
		if (!cron_parse_field(start[i], len[i], i, &bits[i], &star[i]))
		{
			snprintf(err, errlen, "invalid %s field \"%.*s\" (values %d-%d)",
					 cron_fields[i].name, (int) (len[i] > 64 ? 64 : len[i]), start[i],
					 cron_fields[i].lo, cron_fields[i].hi);
			return false;
		}
	}
	spec->minutes = bits[0];
	spec->hours = (uint32_t) bits[1];
	spec->days = (uint32_t) bits[2];
	spec->months = (uint16_t) bits[3];
	spec->weekdays = (uint8_t) ((bits[4] | (bits[4] >> 7)) & 0x7f);	/* 7 = Sunday */
	spec->dom_star = star[2];
	spec->dow_star = star[4];
	return true;
}

/*
 * cron_matches
 *		Classic cron day rule: restricted dom and dow match either way.
 */
bool
cron_matches(const CronSpec *spec, int minute, int hour, int mday, int month, int wday)
{
	bool		dom = (spec->days >> mday) & 1;
	bool		dow = (spec->weekdays >> wday) & 1;
	bool		day;

	if (!((spec->minutes >> minute) & 1) || !((spec->hours >> hour) & 1) ||
		!((spec->months >> month) & 1))
		return false;
	if (spec->dom_star || spec->dow_star)
		day = dom && dow;
	else
		day = dom || dow;
	return day;
}
