/*-------------------------------------------------------------------------
 *
 * intent.h
 *	  Offline intent parser for shop-owner commands in English and
 *	  code-mixed Hinglish ("Ravi ko 500 ka invoice bhejo").
 *
 * Pure C (libc + cJSON).  The result is a cJSON object
 *	  {"intent": "CREATE_INVOICE", "entities": {...}, "confidence": 0.9}
 * whose intent is one of the INTENT_* names below.  The parser prefers
 * UNKNOWN (and a question) to a guess: a wrong action costs money.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_INTENT_H
#define FLOWDB_INTENT_H

#include <stddef.h>
#include <cjson/cJSON.h>

/* Longest input analysed (bytes); the rest is ignored. */
#define INTENT_MAX_INPUT 4000

/* Below this confidence the parser answers UNKNOWN. */
#define INTENT_MIN_CONFIDENCE 0.5

/*
 * intent_analyze
 *		Analyse one utterance.  Returns a malloc'd cJSON object (caller
 *		deletes) or NULL when out of memory.  text may be NULL or empty.
 */
extern cJSON *intent_analyze(const char *text);

/* The intent names, NULL-terminated (for tests and the scorer). */
extern const char *const intent_names[];

#endif							/* FLOWDB_INTENT_H */
