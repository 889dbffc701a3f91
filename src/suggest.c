/*-------------------------------------------------------------------------
 *
 * suggest.c
 *	  "Did you mean" for validation messages (see suggest.h).
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suggest.h"

/* longest words compared (longer ones are never typos of a choice) */
#define SUGGEST_MAX_LEN 64

/*
 * fold
 *		ASCII lower case.
 */
static char
fold(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

/*
 * fdb_edit_distance
 *		Optimal string alignment distance (Damerau-Levenshtein without
 *		repeated edits of a substring), bounded by max.
 */
int
fdb_edit_distance(const char *a, const char *b, int max)
{
	int			la = (int) strlen(a);
	int			lb = (int) strlen(b);
	int			rows[3][SUGGEST_MAX_LEN + 1];
	int		   *prev2 = rows[0];
	int		   *prev = rows[1];
	int		   *cur = rows[2];

	if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
		return max + 1;
	if (abs(la - lb) > max)
		return max + 1;
	for (int j = 0; j <= lb; j++)
		prev[j] = j;
	for (int i = 1; i <= la; i++)
	{
		int			best = max + 1;
		int		   *t;

		cur[0] = i;
		for (int j = 1; j <= lb; j++)
		{
			int			cost = fold(a[i - 1]) == fold(b[j - 1]) ? 0 : 1;
			int			v = prev[j] + 1;

			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (prev[j - 1] + cost < v)
				v = prev[j - 1] + cost;
			if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) &&
				fold(a[i - 2]) == fold(b[j - 1]) && prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
			if (v < best)
				best = v;
		}
		if (best > max)
			return max + 1;
		t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

/*
 * fdb_closest
 *		The nearest choice within the typo budget of word's length.
 */
const char *
fdb_closest(const char *word, const char *const *choices, int n)
{
	int			len;
	int			budget;
	int			best_d;
	const char *best = NULL;

	if (word == NULL || choices == NULL)
		return NULL;
	len = (int) strlen(word);
	budget = len <= 4 ? 1 : (len <= 8 ? 2 : 3);
	if (budget >= len)
		budget = len - 1;
	if (budget < 1)
		return NULL;
	best_d = budget + 1;
	for (int i = 0; i < n; i++)
	{
		int			d;

		if (choices[i] == NULL)
			continue;
		d = fdb_edit_distance(word, choices[i], best_d - 1 < budget ? best_d - 1 : budget);
		if (d < best_d && d <= budget)
		{
			best_d = d;
			best = choices[i];
		}
	}
	return best;
}

/*
 * fdb_suggest
 *		Append the closest choice, or the list of choices, to out.
 */
void
fdb_suggest(char *out, size_t outlen, const char *word,
			const char *const *choices, int n, int max_listed)
{
	const char *near = fdb_closest(word, choices, n);
	size_t		used = strlen(out);
	int			shown = 0;
	int			listed = 0;

	if (used >= outlen)
		return;
	if (near != NULL)
	{
		snprintf(out + used, outlen - used, " (did you mean \"%s\"?)", near);
		return;
	}
	for (int i = 0; i < n; i++)
		if (choices[i] != NULL)
			listed++;
	if (listed == 0)
		return;
	snprintf(out + used, outlen - used, " (expected ");
	for (int i = 0; i < n; i++)
	{
		const char *sep;

		if (choices[i] == NULL)
			continue;
		if (shown == max_listed)
		{
			used = strlen(out);
			snprintf(out + used, outlen - used, ", ...");
			break;
		}
		sep = shown == 0 ? "" :
			(shown == listed - 1 ? " or " : ", ");
		used = strlen(out);
		snprintf(out + used, outlen - used, "%s%s", sep, choices[i]);
		shown++;
	}
	used = strlen(out);
	snprintf(out + used, outlen - used, ")");
}
