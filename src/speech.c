/*-------------------------------------------------------------------------
 *
 * speech.c
 *	  flowdb.transcribe_offline(audio bytea, phrases text[]) and
 *	  flowdb.speech_grammar(phrases text[]): in-process speech recognition
 *	  with pocketsphinx and a generated command grammar (docs/speech.md).
 *
 * The pure parts live in wav.c (decoding and resampling) and grammar.c
 * (the JSGF grammar, name pronunciations, spoken numbers); this file only
 * holds the decoder.  Built without pocketsphinx (pkg-config finds no
 * pocketsphinx), transcribe_offline raises feature_not_supported.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "flowdb.h"
#include "grammar.h"
#include "speech.h"
#include "sphinx.h"
#include "wav.h"

/* silence added before and after the speech: recordings that start on
 * the first word otherwise lose it */
#define SPEECH_PAD_SAMPLES (WAV_TARGET_RATE * 3 / 10)

/* longest phrase text looked at (punctuation and spaces included) */
#define SPEECH_MAX_PHRASE_BYTES 1024

static int	speech_max_seconds = 30;
static int	speech_max_bytes = 8 * 1024 * 1024;

/* one decoder per backend, created on first use (loading the model
 * costs more than a decode); words added to its dictionary stay */
static SphinxDecoder *decoder = NULL;

FLOWDB_FUNCTION_INFO_V1(flowdb_transcribe_offline);
FLOWDB_FUNCTION_INFO_V1(flowdb_speech_grammar);

/*
 * speech_define_settings
 *		The two audio caps; superuser-only so a tenant cannot raise them.
 */
void
speech_define_settings(void)
{
	DefineCustomIntVariable("flowdb.speech_max_seconds",
							"Longest audio transcribe_offline accepts.",
							NULL, &speech_max_seconds, 30, 1, 600,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("flowdb.speech_max_bytes",
							"Largest audio file transcribe_offline accepts.",
							NULL, &speech_max_bytes, 8 * 1024 * 1024, 1024,
							256 * 1024 * 1024, PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
}

/*
 * build_grammar
 *		The grammar for a phrases argument (NULL array = no names); ERROR
 *		22023 when the phrases break a limit.  The result is malloc'd.
 */
static SpeechGrammar *
build_grammar(ArrayType *arr)
{
	Datum	   *elems = NULL;
	bool	   *nulls = NULL;
	int			n = 0;
	const char **phrases;
	SpeechGrammar *g;
	char		err[256];

	if (arr != NULL)
	{
		if (ARR_NDIM(arr) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("phrases must be a one-dimensional text array")));
		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		if (n > SPEECH_MAX_PHRASES * 4)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("too many phrases: %d", n),
					 errdetail("At most %d distinct phrases are used.", SPEECH_MAX_PHRASES)));
	}
	phrases = palloc0(sizeof(char *) * (n + 1));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			continue;
		/* a phrase is a name: refuse megabytes before copying them */
		if (toast_raw_datum_size(elems[i]) - VARHDRSZ > SPEECH_MAX_PHRASE_BYTES)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("phrase %d is too long", i + 1),
					 errdetail("A phrase is at most %d bytes.", SPEECH_MAX_PHRASE_BYTES)));
		phrases[i] = TextDatumGetCString(elems[i]);
	}
	g = speech_grammar_build(phrases, n, err, sizeof(err));
	if (g == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot build the speech grammar: %s", err),
				 errhint("Pass contact names: at most %d phrases of at most %d words.",
						 SPEECH_MAX_PHRASES, SPEECH_MAX_PHRASE_WORDS)));
	return g;
}

/*
 * flowdb_speech_grammar
 *		speech_grammar(phrases text[]) RETURNS text: the JSGF grammar
 *		transcribe_offline would use.
 */
Datum
flowdb_speech_grammar(PG_FUNCTION_ARGS)
{
	SpeechGrammar *g = build_grammar(PG_ARGISNULL(0) ? NULL : PG_GETARG_ARRAYTYPE_P(0));
	text	   *result = cstring_to_text(g->jsgf);

	speech_grammar_free(g);
	PG_RETURN_TEXT_P(result);
}

/*
 * decode
 *		Recognise 16 kHz mono samples with grammar g, padded with silence;
 *		the palloc'd hypothesis ("" when nothing matched).  A decoder that
 *		failed mid-utterance is dropped: the next call loads a fresh one.
 */
static char *
decode(const WavAudio *audio, const SpeechGrammar *g)
{
	size_t		n = audio->nsamples + 2 * SPEECH_PAD_SAMPLES;
	int16	   *padded;
	char		err[256];
	char	   *hyp;
	char	   *result;

	if (decoder == NULL && (decoder = sphinx_open(err, sizeof(err))) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("cannot start the speech recogniser: %s", err),
				 errhint("Install the Debian package pocketsphinx-en-us.")));
	if (!sphinx_set_grammar(decoder, g, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot use the speech grammar: %s", err)));
	padded = palloc0(n * sizeof(int16));
	memcpy(padded + SPEECH_PAD_SAMPLES, audio->samples, audio->nsamples * sizeof(int16));
	CHECK_FOR_INTERRUPTS();
	hyp = sphinx_recognise(decoder, padded, n, err, sizeof(err));
	pfree(padded);
	if (hyp == NULL)
	{
		sphinx_close(decoder);
		decoder = NULL;
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("speech recognition failed: %s", err)));
	}
	result = pstrdup(hyp);
	free(hyp);
	CHECK_FOR_INTERRUPTS();
	return result;
}

/*
 * flowdb_transcribe_offline
 *		transcribe_offline(audio bytea, phrases text[]) RETURNS text: the
 *		recognised command with spoken numbers as digits.  22023 for audio
 *		that is not a supported WAV or breaks a cap; 0A000 when flowdb was
 *		built without pocketsphinx.
 */
Datum
flowdb_transcribe_offline(PG_FUNCTION_ARGS)
{
	Size		raw;
	bytea	   *audio;
	WavLimits	limits;
	WavAudio	wav = {0};
	WavStatus	st;
	char		err[256];
	SpeechGrammar *volatile g = NULL;
	char	   *volatile hyp = NULL;
	char	   *norm;
	text	   *result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	/* the cap before detoasting: never decompress a huge value */
	raw = toast_raw_datum_size(PG_GETARG_DATUM(0)) - VARHDRSZ;
	if (raw > (Size) speech_max_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("audio is too large: %zu bytes", (size_t) raw),
				 errdetail("flowdb.speech_max_bytes is %d bytes.", speech_max_bytes)));
	audio = PG_GETARG_BYTEA_PP(0);
	limits.max_bytes = (size_t) speech_max_bytes;
	limits.max_seconds = speech_max_seconds;
	st = wav_decode((const unsigned char *) VARDATA_ANY(audio), VARSIZE_ANY_EXHDR(audio),
					&limits, &wav, err, sizeof(err));
	if (st != WAV_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported audio: %s", err),
				 errhint("Send a WAV file (PCM or float, any rate, mono or stereo) of at most %d seconds.",
						 speech_max_seconds)));
	/* bad audio is 22023 either way; good audio needs the recogniser */
	if (!sphinx_available())
	{
		free(wav.samples);
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("offline speech recognition is not available"),
				 errdetail("flowdb was built without pocketsphinx."),
				 errhint("Install the Debian packages libpocketsphinx-dev and pocketsphinx-en-us, then rebuild and reinstall flowdb.")));
	}

	PG_TRY();
	{
		g = build_grammar(PG_ARGISNULL(1) ? NULL : PG_GETARG_ARRAYTYPE_P(1));
		hyp = decode(&wav, g);
	}
	PG_FINALLY();
	{
		free(wav.samples);
		speech_grammar_free(g);
	}
	PG_END_TRY();

	norm = speech_normalise(hyp);
	if (norm == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	result = cstring_to_text(norm);
	free(norm);
	pfree(hyp);
	PG_RETURN_TEXT_P(result);
}
