/*-------------------------------------------------------------------------
 *
 * grammar.h
 *	  The command grammar for offline speech recognition (pure C).
 *
 * pocketsphinx's general English language model turns synthetic or
 * accented speech into nonsense; a small JSGF grammar of what a shop owner
 * says to flowdb (the intents' command phrases in English and Hinglish,
 * spoken amounts, the owner's contact names) gets the command, the name
 * and the amount right.  This module builds that grammar, lists the words
 * it uses (the decoder needs a pronunciation for each), guesses a
 * pronunciation for a name the dictionary lacks, and turns the spoken
 * numbers of a transcript into digits.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_GRAMMAR_H
#define FLOWDB_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>

#define SPEECH_MAX_PHRASES 200		/* contact names per grammar */
#define SPEECH_MAX_PHRASE_WORDS 4
#define SPEECH_MAX_WORD_LEN 24

/* A generated grammar: JSGF text and every distinct word it uses. */
typedef struct SpeechGrammar
{
	char	   *jsgf;
	char	  **words;
	int			nwords;
	int			nphrases;		/* phrases kept after cleaning */
	int			nname_words;	/* words[0 .. nname_words) come from the phrases */
} SpeechGrammar;

/* Build the grammar with these phrases (contact names; NULL entries and
 * phrases with no latin letters are skipped).  NULL with err when there
 * are too many or too long phrases, or memory runs out. */
extern SpeechGrammar *speech_grammar_build(const char *const *phrases, int nphrases,
										   char *err, size_t errlen);
extern void speech_grammar_free(SpeechGrammar *g);

/* Clean a phrase into lower-case words separated by one space (letters
 * only; anything else separates words); "" when nothing is left.  Returns
 * the number of words, or -1 when a limit is exceeded. */
extern int	speech_clean_phrase(const char *in, char *out, size_t outlen);

/* The nth (from 0) pronunciation (CMU phones) of a Hinglish word the
 * grammar uses that the en-us dictionary lacks ("bhejo", "lakh"...); NULL
 * past the last one and for other words. */
extern const char *speech_known_phones(const char *word, int nth);

/* Guess CMU phones for a romanised (Indian) name, e.g. "sunita" ->
 * "S UW N IY T AA".  variant 0 reads it as an Indian speaker would; 1 as
 * an English one (a stressed first "a" as in "cat", a final "a" as a
 * schwa).  False when the word has no letters or out is too small. */
extern bool speech_guess_phones(const char *word, int variant, char *out, size_t outlen);

/* Parse the spoken number at words[0..n): "two thousand five hundred",
 * "five k", "one lakh twenty thousand", "twenty five hundred".  True with
 * *value and *used (words consumed) when words[0] starts a number. */
extern bool speech_parse_number(const char *const *words, int n, long long *value, int *used);

/* A transcript with its spoken numbers as digits and runs of single
 * digits ("nine eight seven") joined ("987"); malloc'd, NULL when out
 * of memory. */
extern char *speech_normalise(const char *transcript);

#endif							/* FLOWDB_GRAMMAR_H */
