/*-------------------------------------------------------------------------
 *
 * sphinx.c
 *	  pocketsphinx behind a small interface (see sphinx.h).  No postgres.h
 *	  here: the two sets of headers disagree on int64.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sphinx.h"

#ifdef HAVE_POCKETSPHINX

#include <pocketsphinx.h>
#include <ckd_alloc.h>
#include <jsgf.h>

struct SphinxDecoder
{
	ps_decoder_t *ps;
	cmd_ln_t   *config;
	char	   *grammar;		/* the JSGF text of the current search */
};

/*
 * sphinx_available
 *		Built with pocketsphinx.
 */
bool
sphinx_available(void)
{
	return true;
}

/*
 * sphinx_open
 *		Acoustic model and dictionary, logging off.  Wide beams: a command
 *		grammar is small, and the default beams lose the path to its end.
 *		Dither with a fixed seed keeps digital silence decodable and the
 *		results repeatable.
 */
SphinxDecoder *
sphinx_open(char *err, size_t errlen)
{
	char	   *argv[] = {
		"flowdb",
		"-hmm", FLOWDB_PS_MODELDIR "/en-us/en-us",
		"-dict", FLOWDB_PS_MODELDIR "/en-us/cmudict-en-us.dict",
		"-logfn", "/dev/null",
		"-beam", "1e-80",
		"-wbeam", "1e-60",
		"-pbeam", "1e-80",
		"-dither", "yes",
		"-seed", "1",
	};
	SphinxDecoder *d = calloc(1, sizeof(SphinxDecoder));

	if (d == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->config = cmd_ln_parse_r(NULL, ps_args(), sizeof(argv) / sizeof(argv[0]), argv, TRUE);
	if (d->config == NULL)
	{
		snprintf(err, errlen, "pocketsphinx rejected the decoder settings");
		free(d);
		return NULL;
	}
	d->ps = ps_init(d->config);
	if (d->ps == NULL)
	{
		snprintf(err, errlen, "cannot load the pocketsphinx en-us model from %s/en-us",
				 FLOWDB_PS_MODELDIR);
		cmd_ln_free_r(d->config);
		free(d);
		return NULL;
	}
	return d;
}

/*
 * sphinx_close
 *		Free the decoder (NULL is fine).
 */
void
sphinx_close(SphinxDecoder *d)
{
	if (d == NULL)
		return;
	ps_free(d->ps);
	cmd_ln_free_r(d->config);
	free(d->grammar);
	free(d);
}

/*
 * add_pronunciation
 *		Make phones one of word's pronunciations: the word itself when the
 *		dictionary lacks it, else the first free alternate "word(n)"
 *		unless one already has these phones (decoders are reused, so the
 *		same name comes back).  False when pocketsphinx refuses it.
 */
static bool
add_pronunciation(ps_decoder_t *ps, const char *word, const char *phones)
{
	char		alt[SPEECH_MAX_WORD_LEN + 8];

	for (int n = 1; n <= 9; n++)
	{
		char	   *have;

		if (n == 1)
			snprintf(alt, sizeof(alt), "%s", word);
		else
			snprintf(alt, sizeof(alt), "%s(%d)", word, n);
		have = ps_lookup_word(ps, alt);
		if (have == NULL)
			return ps_add_word(ps, alt, phones, FALSE) >= 0;
		if (strcmp(have, phones) == 0)
		{
			ckd_free(have);
			return true;
		}
		ckd_free(have);
	}
	return true;					/* enough pronunciations already */
}

/*
 * set_search
 *		Compile the JSGF text to a finite-state grammar and make it the
 *		"flowdb" search.  Done here rather than with ps_set_jsgf_string,
 *		which in pocketsphinx 0.8 leaks the parsed grammar (about 85 kB a
 *		call).  Remembers the text on success.
 */
static bool
set_search(SphinxDecoder *d, const char *text)
{
	jsgf_t	   *jsgf = jsgf_parse_string(text, NULL);
	jsgf_rule_t *rule;
	fsg_model_t *fsg;
	int			rv;

	if (jsgf == NULL)
		return false;
	rule = jsgf_get_public_rule(jsgf);
	fsg = rule == NULL ? NULL :
		jsgf_build_fsg(jsgf, rule, ps_get_logmath(d->ps),
					   (float32) cmd_ln_float_r(d->config, "-lw"));
	jsgf_grammar_free(jsgf);
	if (fsg == NULL)
		return false;
	/* the search keeps its own reference */
	rv = ps_set_fsg(d->ps, "flowdb", fsg);
	fsg_model_free(fsg);
	if (rv < 0 || ps_set_search(d->ps, "flowdb") < 0)
		return false;
	d->grammar = strdup(text);
	return true;
}

/*
 * sphinx_set_grammar
 *		Pronounce the words: the Hinglish table for the command words
 *		cmudict lacks; for names, cmudict's American reading (if any) plus
 *		the letter-to-sound rules' Indian and English readings.  Then
 *		replace the "flowdb" search.  Added words stay in the decoder's
 *		dictionary for later calls.
 */
bool
sphinx_set_grammar(SphinxDecoder *d, const SpeechGrammar *g, char *err, size_t errlen)
{
	/* the same owner's calls usually bring the same grammar */
	if (d->grammar != NULL && strcmp(d->grammar, g->jsgf) == 0)
		return true;
	free(d->grammar);
	d->grammar = NULL;
	for (int i = 0; i < g->nwords; i++)
	{
		const char *w = g->words[i];
		const char *known = speech_known_phones(w, 0);
		char		guess[256];
		bool		ok = true;

		if (known != NULL)
		{
			for (int k = 1; known != NULL && ok; known = speech_known_phones(w, k++))
				ok = add_pronunciation(d->ps, w, known);
		}
		else if (i < g->nname_words)
		{
			for (int v = 0; v < 2 && ok; v++)
				if (speech_guess_phones(w, v, guess, sizeof(guess)))
					ok = add_pronunciation(d->ps, w, guess);
		}
		else
		{
			char	   *have = ps_lookup_word(d->ps, w);

			ok = have != NULL;
			ckd_free(have);
		}
		if (!ok)
		{
			snprintf(err, errlen, "cannot pronounce the word \"%s\"", w);
			return false;
		}
	}
	if (!set_search(d, g->jsgf))
	{
		snprintf(err, errlen, "pocketsphinx rejected the generated grammar");
		return false;
	}
	return true;
}

/*
 * sphinx_recognise
 *		The whole utterance in one call (full_utt): cepstral mean
 *		normalisation over all of it is far more accurate on a short
 *		command than the running estimate.
 */
char *
sphinx_recognise(SphinxDecoder *d, const int16_t *samples, size_t n, char *err, size_t errlen)
{
	const char *hyp;
	int32		score;
	char	   *result;

	if (ps_start_utt(d->ps) < 0 ||
		ps_process_raw(d->ps, samples, n, FALSE, TRUE) < 0 ||
		ps_end_utt(d->ps) < 0)
	{
		snprintf(err, errlen, "pocketsphinx failed to decode the audio");
		return NULL;
	}
	hyp = ps_get_hyp(d->ps, &score);
	result = strdup(hyp != NULL ? hyp : "");
	if (result == NULL)
		snprintf(err, errlen, "out of memory");
	return result;
}

#else							/* !HAVE_POCKETSPHINX */

/* Without pocketsphinx: every entry point says so. */

bool
sphinx_available(void)
{
	return false;
}

SphinxDecoder *
sphinx_open(char *err, size_t errlen)
{
	snprintf(err, errlen, "flowdb was built without pocketsphinx");
	return NULL;
}

void
sphinx_close(SphinxDecoder *d)
{
}

bool
sphinx_set_grammar(SphinxDecoder *d, const SpeechGrammar *g, char *err, size_t errlen)
{
	snprintf(err, errlen, "flowdb was built without pocketsphinx");
	return false;
}

char *
sphinx_recognise(SphinxDecoder *d, const int16_t *samples, size_t n, char *err, size_t errlen)
{
	snprintf(err, errlen, "flowdb was built without pocketsphinx");
	return NULL;
}

#endif							/* HAVE_POCKETSPHINX */
