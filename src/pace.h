/*-------------------------------------------------------------------------
 *
 * pace.h
 *	  Request pacing per key (service/owner/credential) for the worker
 *	  (pure C).
 *
 * A key's pace is the least time between two of its requests.  It starts
 * at the service's configured rate (flowdb.service_limits "slack=1/s":
 * 1000 ms; no rate: no pacing), doubles at every 429 (at most
 * PACE_MAX_INTERVAL_MS; a 429 on an unpaced key starts at
 * PACE_FIRST_INTERVAL_MS) with the provider's Retry-After honoured, and
 * shrinks by 10% at every success until it is back at the configured
 * rate.  Times are milliseconds on any monotonic clock.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_PACE_H
#define FLOWDB_PACE_H

#include <stdbool.h>
#include <stddef.h>

#define PACE_FIRST_INTERVAL_MS 1000.0
#define PACE_MAX_INTERVAL_MS 60000.0
#define PACE_IDLE_MS 60000.0	/* entries back at their rate and idle this
								 * long are forgotten by pace_sweep */

typedef struct PaceEntry
{
	char	   *key;			/* NULL: free slot */
	double		base_ms;		/* interval of the configured rate (0: none) */
	double		interval_ms;	/* current interval (>= base_ms) */
	double		next_ms;		/* earliest time of the next request */
} PaceEntry;

typedef struct Pace
{
	PaceEntry  *slots;
	size_t		nslots;			/* power of two, or 0 */
	size_t		used;
} Pace;

/* interval of a rate in requests per second (0 or less: none) */
extern double pace_interval_of_rate(double per_second);

/*
 * May a request for key go at now?  0 when it may (the key's next slot is
 * then taken), else how many ms until it may.  base_ms is the configured
 * interval of the key's service.  False only when out of memory.
 */
extern double pace_take(Pace *p, const char *key, double base_ms, double now);

/* A 429 for key: slow down, and wait at least retry_after_ms (< 0: none). */
extern bool pace_slow(Pace *p, const char *key, double base_ms, double now,
					  double retry_after_ms);

/* A success for key: speed back up towards the configured rate. */
extern void pace_ok(Pace *p, const char *key, double base_ms);

/* The current interval of key (base_ms when it has no entry). */
extern double pace_interval(const Pace *p, const char *key, double base_ms);

/* Forget entries back at their rate and idle since now - PACE_IDLE_MS. */
extern void pace_sweep(Pace *p, double now);

extern void pace_free(Pace *p);

#endif							/* FLOWDB_PACE_H */
