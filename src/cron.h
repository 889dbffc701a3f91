/*-------------------------------------------------------------------------
 *
 * cron.h
 *	  5-field cron expressions (minute hour day-of-month month day-of-week)
 *	  for schedule triggers (pure C).
 *
 * Fields accept "*", numbers, ranges "a-b", steps "*\/n" and "a-b/n", and
 * lists "a,b,c".  Day of week 0-7 (0 and 7 are Sunday).  When both
 * day-of-month and day-of-week are restricted, a day matches if either
 * does (classic cron).  Times are evaluated in UTC.
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

/* Parse; false with err on bad syntax or range. */
extern bool cron_parse(const char *expr, CronSpec *spec, char *err, size_t errlen);

/* Does the spec match this UTC minute?  wday 0 = Sunday. */
extern bool cron_matches(const CronSpec *spec, int minute, int hour, int mday,
						 int month, int wday);

#endif							/* FLOWDB_CRON_H */
