/*-------------------------------------------------------------------------
 *
 * wav.c
 *	  Decode RIFF/WAVE audio to 16 kHz mono 16-bit samples (see wav.h).
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wav.h"

#define WAVE_FORMAT_PCM 0x0001
#define WAVE_FORMAT_IEEE_FLOAT 0x0003
#define WAVE_FORMAT_EXTENSIBLE 0xFFFE

/* The fmt chunk fields we use. */
typedef struct WavFormat
{
	unsigned	tag;			/* PCM or IEEE float after unwrapping */
	unsigned	channels;
	unsigned	rate;
	unsigned	block_align;
	unsigned	bits;
} WavFormat;

static WavStatus fail(WavStatus status, char *err, size_t errlen, const char *fmt,...)
			__attribute__((format(printf, 4, 5)));

/*
 * fail
 *		Write the message into err and return status.
 */
static WavStatus
fail(WavStatus status, char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	if (err != NULL && errlen > 0)
	{
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return status;
}

/*
 * le16 / le32
 *		Little-endian integers at p.
 */
static unsigned
le16(const unsigned char *p)
{
	return (unsigned) p[0] | ((unsigned) p[1] << 8);
}

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t) p[0] | ((uint32_t) p[1] << 8) |
		((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}

/*
 * parse_fmt
 *		Read a fmt chunk of size n at p into *f and check that we can
 *		decode it.
 */
static WavStatus
parse_fmt(const unsigned char *p, uint32_t n, WavFormat *f, char *err, size_t errlen)
{
	unsigned	bytes;

	if (n < 16)
		return fail(WAV_UNSUPPORTED, err, errlen, "the fmt chunk is %u bytes, at least 16 expected",
					(unsigned) n);
	f->tag = le16(p);
	f->channels = le16(p + 2);
	f->rate = le32(p + 4);
	f->block_align = le16(p + 12);
	f->bits = le16(p + 14);
	if (f->tag == WAVE_FORMAT_EXTENSIBLE)
	{
		/* cbSize, valid bits, channel mask, then the sub-format GUID */
		if (n < 40)
			return fail(WAV_UNSUPPORTED, err, errlen,
						"the WAVE_FORMAT_EXTENSIBLE fmt chunk is %u bytes, 40 expected",
						(unsigned) n);
		f->tag = le16(p + 24);
	}
	if (f->tag != WAVE_FORMAT_PCM && f->tag != WAVE_FORMAT_IEEE_FLOAT)
		return fail(WAV_UNSUPPORTED, err, errlen,
					"WAV encoding 0x%04x is not supported (PCM or IEEE float only)", f->tag);
	if (f->tag == WAVE_FORMAT_PCM && f->bits != 8 && f->bits != 16 && f->bits != 24 && f->bits != 32)
		return fail(WAV_UNSUPPORTED, err, errlen,
					"PCM with %u bits per sample is not supported (8, 16, 24 or 32)", f->bits);
	if (f->tag == WAVE_FORMAT_IEEE_FLOAT && f->bits != 32 && f->bits != 64)
		return fail(WAV_UNSUPPORTED, err, errlen,
					"float samples of %u bits are not supported (32 or 64)", f->bits);
	if (f->channels < 1 || f->channels > WAV_MAX_CHANNELS)
		return fail(WAV_UNSUPPORTED, err, errlen,
					"%u channels are not supported (1 to %d)", f->channels, WAV_MAX_CHANNELS);
	if (f->rate < WAV_MIN_RATE || f->rate > WAV_MAX_RATE)
		return fail(WAV_UNSUPPORTED, err, errlen,
					"a sample rate of %u Hz is not supported (%d to %d)",
					f->rate, WAV_MIN_RATE, WAV_MAX_RATE);
	bytes = f->bits / 8 * f->channels;
	if (f->block_align != bytes)
		return fail(WAV_UNSUPPORTED, err, errlen,
					"block align %u does not match %u channels of %u bits",
					f->block_align, f->channels, f->bits);
	return WAV_OK;
}

/*
 * sample_at
 *		One sample (channel c of the frame at p) as a float in [-1, 1].
 */
static float
sample_at(const unsigned char *p, const WavFormat *f, unsigned c)
{
	const unsigned char *s = p + c * (f->bits / 8);

	if (f->tag == WAVE_FORMAT_IEEE_FLOAT)
	{
		float		v;

		if (f->bits == 32)
		{
			uint32_t	u = le32(s);

			memcpy(&v, &u, sizeof(v));
		}
		else
		{
			uint64_t	u = (uint64_t) le32(s) | ((uint64_t) le32(s + 4) << 32);
			double		d;

			memcpy(&d, &u, sizeof(d));
			v = (float) d;
		}
		/* NaN and infinities become silence, overs are clipped */
		if (!isfinite(v))
			return 0.0f;
		return v > 1.0f ? 1.0f : (v < -1.0f ? -1.0f : v);
	}
	switch (f->bits)
	{
		case 8:
			return ((int) s[0] - 128) / 128.0f;
		case 16:
			return (int16_t) le16(s) / 32768.0f;
		case 24:
			return (int32_t) (((uint32_t) s[0] << 8) | ((uint32_t) s[1] << 16) |
							  ((uint32_t) s[2] << 24)) / 2147483648.0f;
		default:
			return (int32_t) le32(s) / 2147483648.0f;
	}
}

/*
 * wav_resample
 *		Resample with a triangular kernel as wide as the rate ratio: linear
 *		interpolation when upsampling, a low-pass average (against
 *		aliasing) when downsampling.
 */
int16_t *
wav_resample(const float *in, size_t nin, int in_rate, int out_rate, size_t *nout)
{
	double		ratio = (double) in_rate / out_rate;
	double		half = ratio > 1.0 ? ratio : 1.0;
	size_t		n = (size_t) ((double) nin * out_rate / in_rate);
	int16_t    *out;

	if (n == 0 && nin > 0)
		n = 1;
	out = malloc((n > 0 ? n : 1) * sizeof(int16_t));
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
	{
		double		c = i * ratio;
		long		lo = (long) ceil(c - half);
		long		hi = (long) floor(c + half);
		double		sum = 0.0,
					wsum = 0.0,
					v;

		if (lo < 0)
			lo = 0;
		if (hi > (long) nin - 1)
			hi = (long) nin - 1;
		for (long k = lo; k <= hi; k++)
		{
			double		w = 1.0 - fabs(k - c) / half;

			if (w > 0.0)
			{
				sum += w * in[k];
				wsum += w;
			}
		}
		v = wsum > 0.0 ? sum / wsum : 0.0;
		v = round(v * 32768.0);
		out[i] = (int16_t) (v > 32767.0 ? 32767 : (v < -32768.0 ? -32768 : v));
	}
	*nout = n;
	return out;
}

/*
 * wav_decode
 *		Walk the RIFF chunks, read fmt and data, check the limits before
 *		allocating anything, then downmix to mono and resample to 16 kHz.
 */
WavStatus
wav_decode(const unsigned char *data, size_t len, const WavLimits *limits,
		   WavAudio *out, char *err, size_t errlen)
{
	WavFormat	f = {0};
	bool		have_fmt = false;
	const unsigned char *pcm = NULL;
	size_t		pcm_len = 0;
	size_t		pos = 12;
	size_t		frames;
	float	   *mono;
	int16_t    *samples;
	size_t		nsamples;

	if (data == NULL || len == 0)
		return fail(WAV_EMPTY, err, errlen, "the audio is empty");
	if (limits != NULL && limits->max_bytes > 0 && len > limits->max_bytes)
		return fail(WAV_TOO_LARGE, err, errlen, "the audio is %zu bytes, the limit is %zu",
					len, limits->max_bytes);
	if (len < 12 || memcmp(data, "RIFF", 4) != 0 || memcmp(data + 8, "WAVE", 4) != 0)
		return fail(WAV_NOT_WAV, err, errlen, "the audio is not a RIFF/WAVE file");

	/* chunks: 4-byte id, 4-byte size, payload padded to an even size */
	while (pcm == NULL)
	{
		uint32_t	size;

		if (len - pos < 8)
			return fail(WAV_TRUNCATED, err, errlen,
						have_fmt ? "the WAV file has no data chunk" :
						"the WAV file ends before its fmt chunk");
		size = le32(data + pos + 4);
		if (memcmp(data + pos, "data", 4) == 0)
		{
			if (!have_fmt)
				return fail(WAV_UNSUPPORTED, err, errlen,
							"the WAV data chunk comes before the fmt chunk");
			if (size > len - pos - 8)
				return fail(WAV_TRUNCATED, err, errlen,
							"the WAV data chunk says %u bytes but only %zu follow",
							(unsigned) size, len - pos - 8);
			pcm = data + pos + 8;
			pcm_len = size;
			break;
		}
		if (size > len - pos - 8)
			return fail(WAV_TRUNCATED, err, errlen, "a WAV chunk runs past the end of the file");
		if (memcmp(data + pos, "fmt ", 4) == 0)
		{
			WavStatus	st = parse_fmt(data + pos + 8, size, &f, err, errlen);

			if (st != WAV_OK)
				return st;
			have_fmt = true;
		}
		pos += 8 + (size_t) size + (size & 1);
		if (pos > len)
			pos = len;
	}

	frames = pcm_len / f.block_align;
	if (frames == 0)
		return fail(WAV_EMPTY, err, errlen, "the WAV file has no samples");
	if (limits != NULL && limits->max_seconds > 0 &&
		(double) frames / f.rate > limits->max_seconds)
		return fail(WAV_TOO_LARGE, err, errlen, "the audio lasts %.1f s, the limit is %g s",
					(double) frames / f.rate, limits->max_seconds);

	mono = malloc(frames * sizeof(float));
	if (mono == NULL)
		return fail(WAV_TOO_LARGE, err, errlen, "out of memory decoding %zu samples", frames);
	for (size_t i = 0; i < frames; i++)
	{
		const unsigned char *frame = pcm + i * f.block_align;
		float		sum = 0.0f;

		for (unsigned c = 0; c < f.channels; c++)
			sum += sample_at(frame, &f, c);
		mono[i] = sum / f.channels;
	}
	samples = wav_resample(mono, frames, (int) f.rate, WAV_TARGET_RATE, &nsamples);
	free(mono);
	if (samples == NULL)
		return fail(WAV_TOO_LARGE, err, errlen, "out of memory resampling %zu samples", frames);

	out->samples = samples;
	out->nsamples = nsamples;
	out->source_rate = (int) f.rate;
	out->source_channels = (int) f.channels;
	out->source_bits = (int) f.bits;
	return WAV_OK;
}
