/*
 * test_wav.c: WAV decoding, downmixing and resampling to 16 kHz mono.
 */
#include <math.h>
#include <stdint.h>

#include "unit.h"
#include "wav.h"

/* A WAV built in memory: header fields and the raw data bytes. */
typedef struct Built
{
	unsigned char buf[65536];
	size_t		len;
} Built;

static void
put16(unsigned char *p, unsigned v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
}

static void
put32(unsigned char *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

/*
 * build
 *		RIFF header, a fmt chunk (40 bytes when extensible), an optional odd
 *		"LIST" chunk before data, and the data chunk.
 */
static void
build(Built *w, unsigned tag, unsigned channels, unsigned rate, unsigned bits,
	  const void *data, size_t datalen, bool extensible, bool list)
{
	unsigned char *p = w->buf;
	unsigned	fmtlen = extensible ? 40 : 16;

	memcpy(p, "RIFF", 4);
	memcpy(p + 8, "WAVE", 4);
	p += 12;
	memcpy(p, "fmt ", 4);
	put32(p + 4, fmtlen);
	put16(p + 8, extensible ? 0xFFFE : tag);
	put16(p + 10, channels);
	put32(p + 12, rate);
	put32(p + 16, rate * channels * bits / 8);
	put16(p + 20, channels * bits / 8);
	put16(p + 22, bits);
	if (extensible)
	{
		memset(p + 24, 0, 24);
		put16(p + 24, 22);
		put16(p + 26, bits);
		put16(p + 32, tag);		/* first two bytes of the sub-format GUID */
	}
	p += 8 + fmtlen;
	if (list)
	{
		memcpy(p, "LIST", 4);
		put32(p + 4, 3);
		memcpy(p + 8, "abc\0", 4);	/* 3 bytes + pad */
		p += 12;
	}
	memcpy(p, "data", 4);
	put32(p + 4, (uint32_t) datalen);
	memcpy(p + 8, data, datalen);
	p += 8 + datalen;
	w->len = (size_t) (p - w->buf);
	put32(w->buf + 4, (uint32_t) (w->len - 8));
}

static WavStatus
dec(const Built *w, double max_seconds, size_t max_bytes, WavAudio *a, char *err)
{
	WavLimits	l = {max_bytes, max_seconds};

	memset(a, 0, sizeof(*a));
	return wav_decode(w->buf, w->len, &l, a, err, 256);
}

TEST(test_pcm16_mono_16k_is_kept)
{
	int16_t		s[] = {0, 1000, -1000, 32767, -32768, 12345};
	unsigned char raw[sizeof(s)];
	Built		w;
	WavAudio	a;
	char		err[256];

	for (size_t i = 0; i < 6; i++)
		put16(raw + 2 * i, (uint16_t) s[i]);
	build(&w, 1, 1, 16000, 16, raw, sizeof(raw), false, false);
	CHECK_INT(dec(&w, 30, 0, &a, err), WAV_OK);
	CHECK_INT(a.nsamples, 6);
	CHECK_INT(a.samples[1], 1000);
	CHECK_INT(a.samples[2], -1000);
	CHECK_INT(a.samples[3], 32767);
	CHECK_INT(a.samples[5], 12345);
	CHECK_INT(a.source_rate, 16000);
	CHECK_INT(a.source_bits, 16);
	free(a.samples);
}

TEST(test_stereo_downmix_and_odd_chunk)
{
	unsigned char raw[4 * 4];
	Built		w;
	WavAudio	a;
	char		err[256];

	for (int i = 0; i < 4; i++)
	{
		put16(raw + 4 * i, 1000);
		put16(raw + 4 * i + 2, 3000);
	}
	build(&w, 1, 2, 16000, 16, raw, sizeof(raw), false, true);
	CHECK_INT(dec(&w, 30, 0, &a, err), WAV_OK);
	CHECK_INT(a.nsamples, 4);
	CHECK_INT(a.samples[0], 2000);
	CHECK_INT(a.samples[3], 2000);
	CHECK_INT(a.source_channels, 2);
	free(a.samples);
}

TEST(test_other_sample_formats)
{
	unsigned char raw[64];
	Built		w;
	WavAudio	a;
	char		err[256];
	float		f[3] = {0.5f, -2.0f, NAN};

	/* 8-bit unsigned: 128 is silence */
	raw[0] = 128;
	raw[1] = 255;
	raw[2] = 0;
	build(&w, 1, 1, 16000, 8, raw, 3, false, false);
	CHECK_INT(dec(&w, 30, 0, &a, err), WAV_OK);
	CHECK_INT(a.samples[0], 0);
	CHECK_INT(a.samples[1], 32512);
	CHECK_INT(a.samples[2], -32768);
	free(a.samples);

	/* 24-bit: 0x400000 is half scale */
	raw[0] = 0;
	raw[1] = 0;
	raw[2] = 0x40;
	build(&w, 1, 1, 16000, 24, raw, 3, false, false);
	CHECK_INT(dec(&w, 30, 0, &a, err), WAV_OK);
	CHECK_INT(a.samples[0], 16384);
	free(a.samples);

	/* 32-bit PCM inside WAVE_FORMAT_EXTENSIBLE */
	put32(raw, 0xC0000000u);	/* -0.5 */
	build(&w, 1, 1, 16000, 32, raw, 4, true, false);
	CHECK_INT(dec(&w, 30, 0, &a, err), WAV_OK);
	CHECK_INT(a.samples[0], -16384);
	free(a.samples);

	/* float: clipped, NaN is silence */
	memcpy(raw, f, sizeof(f));
	build(&w, 3, 1, 16000, 32, raw, sizeof(f), false, false);
	CHECK_INT(dec(&w, 30, 0, &a, err), WAV_OK);
	CHECK_INT(a.samples[0], 16384);
	CHECK_INT(a.samples[1], -32768);
	CHECK_INT(a.samples[2], 0);
	free(a.samples);
}

TEST(test_resampling)
{
	static int16_t s[44100];
	Built	   *w = malloc(sizeof(Built) * 2);
	WavAudio	a;
	char		err[256];
	unsigned char *raw = malloc(sizeof(s));
	double		peak = 0;

	/* 8 kHz constant: twice the samples, same value */
	for (int i = 0; i < 100; i++)
		put16(raw + 2 * i, 5000);
	build(w, 1, 1, 8000, 16, raw, 200, false, false);
	CHECK_INT(dec(w, 30, 0, &a, err), WAV_OK);
	CHECK_INT(a.nsamples, 200);
	CHECK_INT(a.samples[0], 5000);
	CHECK_INT(a.samples[199], 5000);
	free(a.samples);

	/* 22050 Hz (espeak-ng's rate), 0.7 s of a 440 Hz tone: length scales,
	 * the tone keeps its amplitude */
	for (int i = 0; i < 15435; i++)
		put16(raw + 2 * i, (uint16_t) (int16_t) lrint(10000 * sin(2 * M_PI * 440 * i / 22050.0)));
	build(w, 1, 1, 22050, 16, raw, 2 * 15435, false, false);
	CHECK_INT(dec(w, 30, 0, &a, err), WAV_OK);
	CHECK_INT(a.nsamples, 11200);
	CHECK_INT(a.source_rate, 22050);
	for (size_t i = 0; i < a.nsamples; i++)
		if (abs(a.samples[i]) > peak)
			peak = abs(a.samples[i]);
	CHECK(peak > 9000 && peak <= 10000);
	free(a.samples);

	/* 48 kHz: a 12 kHz tone (above the 8 kHz Nyquist of 16 kHz) is
	 * attenuated rather than folded back at full strength */
	for (int i = 0; i < 4800; i++)
		put16(raw + 2 * i, (uint16_t) (int16_t) lrint(10000 * sin(2 * M_PI * 12000 * i / 48000.0)));
	build(w, 1, 1, 48000, 16, raw, 2 * 4800, false, false);
	CHECK_INT(dec(w, 30, 0, &a, err), WAV_OK);
	CHECK_INT(a.nsamples, 1600);
	peak = 0;
	for (size_t i = 10; i < a.nsamples - 10; i++)
		if (abs(a.samples[i]) > peak)
			peak = abs(a.samples[i]);
	CHECK(peak < 5000);
	free(a.samples);
	free(raw);
	free(w);
}

TEST(test_errors)
{
	Built		w;
	WavAudio	a;
	char		err[256];
	unsigned char raw[32000];
	WavLimits	l = {0, 30};

	memset(raw, 0, sizeof(raw));
	CHECK_INT(wav_decode(NULL, 0, &l, &a, err, sizeof(err)), WAV_EMPTY);
	CHECK_INT(wav_decode((const unsigned char *) "hello world!", 12, &l, &a, err, sizeof(err)),
			  WAV_NOT_WAV);
	CHECK_CONTAINS(err, "not a RIFF/WAVE");
	CHECK_INT(wav_decode((const unsigned char *) "ID3\3", 4, &l, &a, err, sizeof(err)), WAV_NOT_WAV);

	/* header only: no fmt */
	CHECK_INT(wav_decode((const unsigned char *) "RIFF\0\0\0\0WAVE", 12, &l, &a, err, sizeof(err)),
			  WAV_TRUNCATED);

	/* an MP3 inside RIFF, 12-bit PCM, 9 channels, 1 kHz, 64-bit PCM */
	build(&w, 0x55, 1, 16000, 16, raw, 4, false, false);
	CHECK_INT(dec(&w, 30, 0, &a, err), WAV_UNSUPPORTED);
	CHECK_CONTAINS(err, "0x0055");
	build(&w, 1, 1, 16000, 12, raw, 4, false, false);
	CHECK_INT(dec(&w, 30, 0, &a, err), WAV_UNSUPPORTED);
	build(&w, 1, 9, 16000, 16, raw, 18, false, false);
	CHECK_INT(dec(&w, 30, 0, &a, err), WAV_UNSUPPORTED);
	CHECK_CONTAINS(err, "channels");
	build(&w, 1, 1, 1000, 16, raw, 4, false, false);
	CHECK_INT(dec(&w, 30, 0, &a, err), WAV_UNSUPPORTED);
	CHECK_CONTAINS(err, "1000 Hz");
	build(&w, 1, 1, 16000, 64, raw, 8, false, false);
	CHECK_INT(dec(&w, 30, 0, &a, err), WAV_UNSUPPORTED);

	/* block align that does not match */
	build(&w, 1, 1, 16000, 16, raw, 4, false, false);
	put16(w.buf + 32, 4);
	CHECK_INT(dec(&w, 30, 0, &a, err), WAV_UNSUPPORTED);
	CHECK_CONTAINS(err, "block align");

	/* no samples */
	build(&w, 1, 1, 16000, 16, raw, 0, false, false);
	CHECK_INT(dec(&w, 30, 0, &a, err), WAV_EMPTY);
	build(&w, 1, 2, 16000, 16, raw, 2, false, false);	/* half a frame */
	CHECK_INT(dec(&w, 30, 0, &a, err), WAV_EMPTY);

	/* data chunk longer than the file */
	build(&w, 1, 1, 16000, 16, raw, 100, false, false);
	w.len -= 10;
	CHECK_INT(dec(&w, 30, 0, &a, err), WAV_TRUNCATED);
	CHECK_CONTAINS(err, "only 90 follow");

	/* data before fmt */
	memcpy(w.buf + 12, "data", 4);
	CHECK_INT(dec(&w, 30, 0, &a, err), WAV_UNSUPPORTED);
	CHECK_CONTAINS(err, "before the fmt chunk");

	/* caps: 1 s of 16 kHz audio against 0.5 s, and against 1000 bytes */
	build(&w, 1, 1, 16000, 16, raw, 32000, false, false);
	CHECK_INT(dec(&w, 0.5, 0, &a, err), WAV_TOO_LARGE);
	CHECK_CONTAINS(err, "lasts 1.0 s");
	CHECK_INT(dec(&w, 30, 1000, &a, err), WAV_TOO_LARGE);
	CHECK_CONTAINS(err, "bytes");
	CHECK_INT(dec(&w, 1, 0, &a, err), WAV_OK);
	free(a.samples);
}

TEST(test_every_truncation_is_safe)
{
	Built		w;
	WavAudio	a;
	char		err[256];
	unsigned char raw[64] = {0};
	WavLimits	l = {0, 30};
	int			ok = 0;

	build(&w, 1, 2, 44100, 16, raw, sizeof(raw), true, true);
	/* every prefix: an error or (for the full file) samples; valgrind
	 * checks nothing is read past the end */
	for (size_t n = 0; n <= w.len; n++)
	{
		unsigned char *copy = malloc(n ? n : 1);

		memcpy(copy, w.buf, n);
		if (wav_decode(copy, n, &l, &a, err, sizeof(err)) == WAV_OK)
		{
			ok++;
			free(a.samples);
		}
		free(copy);
	}
	CHECK_INT(ok, 1);
}

int
main(void)
{
	RUN(test_pcm16_mono_16k_is_kept);
	RUN(test_stereo_downmix_and_odd_chunk);
	RUN(test_other_sample_formats);
	RUN(test_resampling);
	RUN(test_errors);
	RUN(test_every_truncation_is_safe);
	return UNIT_SUMMARY();
}
