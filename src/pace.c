/*-------------------------------------------------------------------------
 *
 * pace.c
 *	  Request pacing per service/owner/credential key (see pace.h): an
 *	  open-addressing hash table of intervals and next-request times.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pace.h"

/*
 * hash_key
 *		FNV-1a of a key.
 */
static uint64_t
hash_key(const char *key)
{
	uint64_t	h = 1469598103934665603ULL;

	for (const unsigned char *s = (const unsigned char *) key; *s; s++)
	{
		h ^= *s;
		h *= 1099511628211ULL;
	}
	return h;
}

/*
 * find_slot
 *		The slot holding key, or the free slot where it would go (NULL when
 *		the table has no slots).
 */
static PaceEntry *
find_slot(const Pace *p, const char *key)
{
	size_t		mask;
	size_t		i;

	if (p->nslots == 0)
		return NULL;
	mask = p->nslots - 1;
	i = (size_t) hash_key(key) & mask;
	for (;;)
	{
		PaceEntry  *e = &p->slots[i];

		if (e->key == NULL || strcmp(e->key, key) == 0)
			return e;
		i = (i + 1) & mask;
	}
}

/*
 * rehash
 *		Move the entries into a table of nslots slots (a power of two larger
 *		than twice the entries), dropping those keep() refuses.
 */
static bool
rehash(Pace *p, size_t nslots, bool (*keep) (const PaceEntry *, double), double now)
{
	Pace		q;

	q.slots = calloc(nslots, sizeof(PaceEntry));
	if (q.slots == NULL)
		return false;
	q.nslots = nslots;
	q.used = 0;
	for (size_t i = 0; i < p->nslots; i++)
	{
		PaceEntry  *e = &p->slots[i];

		if (e->key == NULL)
			continue;
		if (keep && !keep(e, now))
		{
			free(e->key);
			continue;
		}
		*find_slot(&q, e->key) = *e;
		q.used++;
	}
	free(p->slots);
	*p = q;
	return true;
}

/*
 * get_entry
 *		key's entry, created (at the configured rate, free to go now) when
 *		missing; NULL when out of memory.
 */
static PaceEntry *
get_entry(Pace *p, const char *key, double base_ms)
{
	PaceEntry  *e;

	if ((p->used + 1) * 2 > p->nslots &&
		!rehash(p, p->nslots ? p->nslots * 2 : 16, NULL, 0))
		return NULL;
	e = find_slot(p, key);
	if (e->key == NULL)
	{
		e->key = strdup(key);
		if (e->key == NULL)
			return NULL;
		e->base_ms = base_ms;
		e->interval_ms = base_ms;
		e->next_ms = 0;
		p->used++;
	}
	return e;
}

/*
 * pace_interval_of_rate
 *		Milliseconds between requests at per_second requests a second.
 */
double
pace_interval_of_rate(double per_second)
{
	return per_second > 0 ? 1000.0 / per_second : 0;
}

/*
 * pace_take
 *		0 and the key's next slot taken when a request may go at now, else
 *		the ms to wait (see pace.h).
 */
double
pace_take(Pace *p, const char *key, double base_ms, double now)
{
	PaceEntry  *e = find_slot(p, key);

	if ((e == NULL || e->key == NULL) && base_ms <= 0)
		return 0;				/* never paced: no entry needed */
	e = get_entry(p, key, base_ms);
	if (e == NULL)
		return 0;				/* out of memory: do not stall the request */
	/* the setting may have changed since the entry was made */
	e->base_ms = base_ms;
	if (e->interval_ms < base_ms)
		e->interval_ms = base_ms;
	if (now < e->next_ms)
		return e->next_ms - now;
	/* a request a little late keeps the rate; an idle key starts afresh */
	e->next_ms = (e->next_ms > now - e->interval_ms ? e->next_ms : now) + e->interval_ms;
	return 0;
}

/*
 * pace_slow
 *		Double the key's interval and hold it back for Retry-After.
 */
bool
pace_slow(Pace *p, const char *key, double base_ms, double now, double retry_after_ms)
{
	PaceEntry  *e = get_entry(p, key, base_ms);
	double		wait;

	if (e == NULL)
		return false;
	e->base_ms = base_ms;
	e->interval_ms = e->interval_ms > 0 ? e->interval_ms * 2 : PACE_FIRST_INTERVAL_MS;
	if (e->interval_ms < base_ms)
		e->interval_ms = base_ms;
	if (e->interval_ms > PACE_MAX_INTERVAL_MS)
		e->interval_ms = PACE_MAX_INTERVAL_MS > base_ms ? PACE_MAX_INTERVAL_MS : base_ms;
	wait = retry_after_ms > e->interval_ms ? retry_after_ms : e->interval_ms;
	if (e->next_ms < now + wait)
		e->next_ms = now + wait;
	return true;
}

/*
 * pace_ok
 *		Shrink the key's interval by 10%, not below the configured one;
 *		an unconfigured key whose interval falls under 1 ms is unpaced.
 */
void
pace_ok(Pace *p, const char *key, double base_ms)
{
	PaceEntry  *e = find_slot(p, key);

	if (e == NULL || e->key == NULL || e->interval_ms <= base_ms)
		return;
	e->interval_ms *= 0.9;
	if (e->interval_ms < base_ms || (base_ms <= 0 && e->interval_ms < 1))
		e->interval_ms = base_ms > 0 ? base_ms : 0;
}

/*
 * pace_interval
 *		The key's current interval.
 */
double
pace_interval(const Pace *p, const char *key, double base_ms)
{
	const PaceEntry *e = find_slot(p, key);

	return (e && e->key) ? e->interval_ms : base_ms;
}

/*
 * keep_entry
 *		pace_sweep's test: still slowed down, or used recently.
 */
static bool
keep_entry(const PaceEntry *e, double now)
{
	return e->interval_ms > e->base_ms || e->next_ms > now - PACE_IDLE_MS;
}

/*
 * pace_sweep
 *		Forget entries back at their rate and idle for PACE_IDLE_MS.
 */
void
pace_sweep(Pace *p, double now)
{
	size_t		n = 16;

	if (p->nslots == 0)
		return;
	while (n < p->used * 2 + 2)
		n *= 2;
	(void) rehash(p, n, keep_entry, now);
}

/*
 * pace_free
 *		Free the table.
 */
void
pace_free(Pace *p)
{
	for (size_t i = 0; i < p->nslots; i++)
		free(p->slots[i].key);
	free(p->slots);
	p->slots = NULL;
	p->nslots = 0;
	p->used = 0;
}
