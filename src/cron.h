/*-------------------------------------------------------------------------
 *
 * cron.h
 *	  5-field cron expressions (minute hour day-of-month month day-of-week)
 *	  for schedule triggers (pure C).
 *
 * Fields accept "*", numbers, ranges "a-b", steps "*\/n" and "a-b/n", and
 * lists "a,b,c".  Day of week 0-7 (0 and 7 are Sunday).  When both
 * day-of-month and day-of-week are restricted, a day matches if either
 * does (classic cron).  The macros @hourly, @daily (@midnight), @weekly,
 * @monthly and @yearly (@annually) stand for their classic five fields.
 * This module matches wall-clock fields; the caller converts the instant to
 * the schedule's time zone first (UTC unless the schedule names one).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_CRON_H
#define FLOWDB_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct CronSpec
{
	uint64_t	minutes;		/* bit i = minute i */
	uint32_t	hours;
	uint32_t	days;			/* bit 1..31 */
	uint16_t	months;			/* bit 1..12 */
	uint8_t		weekdays;		/* bit 0..6 */
	bool		dom_star;
	bool		dow_star;
} CronSpec;

/* The five fields, in order, with their ranges. */
typedef struct CronField
{
	const char *name;			/* "minute", "hour", "day-of-month", ... */
	int			lo;
	int			hi;
} CronField;

extern const CronField cron_fields[5];

/* A macro and the five fields it stands for. */
typedef struct CronMacro
{
	const char *name;			/* "@daily" */
	const char *fields;			/* "0 0 * * *" */
} CronMacro;

/* NULL-terminated */
extern const CronMacro cron_macros[];

/* expr, or the fields of the macro it is; NULL for an unknown "@..." */
extern const char *cron_expand(const char *expr);

/* Parse one field (len bytes at s) of kind cron_fields[index] into a bit
 * set; false when it is not valid. */
extern bool cron_parse_field(const char *s, size_t len, int index, uint64_t *bits,
							 bool *star);

/* Split expr into its whitespace-separated fields; returns how many there
 * are (only the first 5 are stored). */
extern int	cron_split(const char *expr, const char *start[5], size_t len[5]);

/* Parse (a macro or five fields); false with err on bad syntax or range. */
extern bool cron_parse(const char *expr, CronSpec *spec, char *err, size_t errlen);

/* Does the spec match this wall-clock minute?  wday 0 = Sunday. */
extern bool cron_matches(const CronSpec *spec, int minute, int hour, int mday,
						 int month, int wday);

#endif							/* FLOWDB_CRON_H */
