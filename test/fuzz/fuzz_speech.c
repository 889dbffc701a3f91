/*-------------------------------------------------------------------------
 *
 * fuzz_speech.c
 *	  libFuzzer target for wav.c and grammar.c.
 *
 * The input is decoded as a WAV file (with small caps so huge headers are
 * refused quickly), then read as text: its lines become grammar phrases
 * and the whole of it is normalised as a transcript.  Nothing may crash,
 * leak or trip a sanitizer; a decoded file has samples and a refused one
 * a message; a grammar has a public rule and one word list entry per
 * distinct word.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grammar.h"
#include "wav.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * LLVMFuzzerTestOneInput
 *		One input through the WAV decoder, the grammar and the normaliser.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	WavLimits	limits = {1 << 20, 5.0};
	WavAudio	audio;
	char		err[256] = "";
	char	   *text = malloc(size + 1);
	const char *phrases[64];
	int			n = 0;
	SpeechGrammar *g;
	char	   *norm;

	if (wav_decode(data, size, &limits, &audio, err, sizeof(err)) == WAV_OK)
	{
		if (audio.nsamples == 0 || audio.samples == NULL)
			abort();
		free(audio.samples);
	}
	else if (err[0] == '\0')
		abort();

	memcpy(text, data, size);
	text[size] = '\0';
	for (char *line = strtok(text, "\n"); line != NULL && n < 64; line = strtok(NULL, "\n"))
		phrases[n++] = line;
	g = speech_grammar_build(phrases, n, err, sizeof(err));
	if (g != NULL)
	{
		if (strstr(g->jsgf, "public <command>") == NULL || g->nname_words > g->nwords)
			abort();
		for (int i = 0; i < g->nwords; i++)
		{
			char		phones[256];

			for (int j = 0; j < i; j++)
				if (strcmp(g->words[i], g->words[j]) == 0)
					abort();
			(void) speech_guess_phones(g->words[i], i % 2, phones, sizeof(phones));
		}
		speech_grammar_free(g);
	}

	memcpy(text, data, size);
	text[size] = '\0';
	norm = speech_normalise(text);
	free(norm);
	free(text);
	return 0;
}
