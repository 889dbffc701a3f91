/*-------------------------------------------------------------------------
 *
 * service_limits.c
 *	  Parse per-service limits ("whatsapp=4, slack=1/s"), the format of
 *	  flowdb.service_limits (pure C; the GUC check hook calls it).
 *
 *-------------------------------------------------------------------------
 */
#include "catalog.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * catalog_parse_limits
 *		Per-service limits: "whatsapp=4, slack=1, slack=1/s": N requests in
 *		flight, or R requests per second ("R/s", R may have decimals).
 */
bool
catalog_parse_limits(const char *spec, int *limits, double *rates, int nlimits,
					 char *err, size_t errlen)
{
	const char *p = spec ? spec : "";

	for (int i = 0; i < nlimits; i++)
	{
		limits[i] = 0;
		if (rates)
			rates[i] = 0;
	}
	for (;;)
	{
		char		name[64];
		size_t		n = 0;
		double		v = 0;
		char	   *end;
		const char *value;
		const ToolService *svc;
		int			idx;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return true;
		while ((isalnum((unsigned char) *p) || *p == '_') && n < sizeof(name) - 1)
			name[n++] = *p++;
		name[n] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (n == 0 || *p != '=')
		{
			fdb_fmt(err, errlen, "expected service=N or service=R/s at \"%.32s\"", p);
			return false;
		}
		p++;
		svc = catalog_service(name);
		idx = svc ? catalog_service_index(svc) : -1;
		if (idx < 0 || idx >= nlimits)
		{
			fdb_fmt(err, errlen, "unknown service \"%s\"", name);
			return false;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		value = p;
		if (!isdigit((unsigned char) *p))
			end = (char *) p;
		else
			v = strtod(p, &end);
		if (end != p && end[0] == '/' && end[1] == 's')
		{
			if (v < 0.001 || v > 100000)
			{
				fdb_fmt(err, errlen, "rate for %s must be from 0.001/s to 100000/s", name);
				return false;
			}
			if (rates)
				rates[idx] = v;
			end += 2;
		}
		else
		{
			if (end == p || v != (double) (long) v || v < 1 || v > 100000)
			{
				fdb_fmt(err, errlen, "limit for %s must be a number from 1 to 100000, or a rate like 5/s", name);
				return false;
			}
			limits[idx] = (int) v;
		}
		p = end;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '\0' && *p != ',')
		{
			fdb_fmt(err, errlen, "expected \",\" after %s=%.*s", name, (int) (end - value), value);
			return false;
		}
	}
}
