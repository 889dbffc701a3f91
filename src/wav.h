/*-------------------------------------------------------------------------
 *
 * wav.h
 *	  RIFF/WAVE decoding for offline speech recognition (pure C).
 *
 * wav_decode turns a WAV file held in memory into 16 kHz mono signed
 * 16-bit samples, the format pocketsphinx's en-us model expects.  It
 * accepts PCM 8-bit (unsigned), 16-bit, 24-bit and 32-bit, IEEE float
 * 32/64-bit, WAVE_FORMAT_EXTENSIBLE wrapping either, 1 to 8 channels
 * (averaged to mono) and any rate from 4 kHz to 192 kHz (resampled).
 * Everything else is refused with a message: nothing is guessed.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_WAV_H
#define FLOWDB_WAV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WAV_TARGET_RATE 16000
#define WAV_MIN_RATE 4000
#define WAV_MAX_RATE 192000
#define WAV_MAX_CHANNELS 8

/* What went wrong (every value but WAV_OK comes with a message). */
typedef enum WavStatus
{
	WAV_OK = 0,
	WAV_NOT_WAV,				/* no RIFF/WAVE header */
	WAV_UNSUPPORTED,			/* a WAV, but an encoding we do not decode */
	WAV_TRUNCATED,				/* a chunk runs past the end of the data */
	WAV_TOO_LARGE,				/* over max_bytes or max_seconds */
	WAV_EMPTY					/* no samples */
} WavStatus;

/* Caps; 0 means "no cap" for either. */
typedef struct WavLimits
{
	size_t		max_bytes;		/* size of the whole file */
	double		max_seconds;	/* duration of the audio */
} WavLimits;

/* Decoded audio: 16 kHz mono; samples is malloc'd (caller frees). */
typedef struct WavAudio
{
	int16_t    *samples;
	size_t		nsamples;
	int			source_rate;	/* the file's rate before resampling */
	int			source_channels;
	int			source_bits;
} WavAudio;

/* Decode len bytes at data; on failure *out is untouched and err says why. */
extern WavStatus wav_decode(const unsigned char *data, size_t len,
							const WavLimits *limits, WavAudio *out,
							char *err, size_t errlen);

/* Resample mono float samples in [-1, 1] from in_rate to out_rate into a
 * malloc'd int16 buffer; NULL when out of memory.  *nout gets its length. */
extern int16_t *wav_resample(const float *in, size_t nin, int in_rate,
							 int out_rate, size_t *nout);

#endif							/* FLOWDB_WAV_H */
