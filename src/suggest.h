/*-------------------------------------------------------------------------
 *
 * suggest.h
 *	  "Did you mean" for validation messages (pure C): the closest of a
 *	  list of valid choices by edit distance, or the list itself.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_SUGGEST_H
#define FLOWDB_SUGGEST_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Edit distance between a and b (insertions, deletions, substitutions and
 * transpositions of adjacent characters each cost 1; ASCII letters compare
 * case-insensitively).  Stops counting past max: any result > max means
 * "farther than max".
 */
extern int	fdb_edit_distance(const char *a, const char *b, int max);

/*
 * The choice closest to word, when close enough to be a typo: at most 1
 * edit for words of up to 4 characters, 2 up to 8, 3 beyond (and never
 * the whole word).  Ties go to the earlier choice.  NULL when none is.
 */
extern const char *fdb_closest(const char *word, const char *const *choices, int n);

/*
 * Append to out (a NUL-terminated buffer of outlen bytes) either
 * " (did you mean \"x\"?)" or " (expected a, b or c)" listing the choices
 * (at most max_listed, then "..."), or nothing when there are none.
 */
extern void fdb_suggest(char *out, size_t outlen, const char *word,
						const char *const *choices, int n, int max_listed);

#endif							/* FLOWDB_SUGGEST_H */
