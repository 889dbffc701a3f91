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

/*
 * parse_field
 *		One comma-separated field into a bit set; *star tells whether it
 *		was a plain "*".
 */
static bool
parse_field(const char *s, size_t len, int lo, int hi, uint64_t *bits, bool *star)
{
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
 * cron_parse
 *		Parse "m h dom mon dow".
 */
bool
cron_parse(const char *expr, CronSpec *spec, char *err, size_t errlen)
{
	static const char *names[5] = {"minute", "hour", "day of month", "month", "day of week"};
	static const int lo[5] = {0, 0, 1, 1, 0};
	static const int hi[5] = {59, 23, 31, 12, 7};
	const char *p = expr;
	uint64_t	bits[5];
	bool		star[5];
	int			n = 0;

	memset(spec, 0, sizeof(*spec));
	if (expr == NULL)
	{
		snprintf(err, errlen, "cron expression is missing");
		return false;
	}
	while (*p)
	{
		const char *start;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (n == 5)
		{
			snprintf(err, errlen, "cron expression \"%s\" has more than 5 fields", expr);
			return false;
		}
		if (!parse_field(start, (size_t) (p - start), lo[n], hi[n], &bits[n], &star[n]))
		{
			snprintf(err, errlen, "cron expression \"%s\": invalid %s field \"%.*s\" (allowed %d-%d)",
					 expr, names[n], (int) (p - start), start, lo[n], hi[n]);
			return false;
		}
		n++;
	}
	if (n != 5)
	{
		snprintf(err, errlen, "cron expression \"%s\" needs 5 fields (minute hour day month weekday)",
				 expr);
		return false;
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
