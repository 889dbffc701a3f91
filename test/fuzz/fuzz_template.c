/*-------------------------------------------------------------------------
 *
 * fuzz_template.c
 *	  libFuzzer target for template.c (and the fjson.c text helpers).
 *
 * Input: "<context JSON>\0<template>" or just "<template>" (a fixed
 * context is used then).  The template text is scanned, parsed, looked up
 * and rendered as a string; if it also parses as JSON it is rendered as a
 * value.  Nothing may crash, leak or trip a sanitizer.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

int			LLVMFuzzerInitialize(int *argc, char ***argv);
int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cJSON *default_ctx;

/* State shared with the scan callback. */
typedef struct FuzzScan
{
	const cJSON *ctx;
	int			n;
} FuzzScan;

/*
 * fuzz_expr
 *		tmpl_scan callback: parse and resolve every expression.
 */
static bool
fuzz_expr(const char *expr, size_t len, void *arg)
{
	FuzzScan   *fs = arg;
	TmplPath	p;
	char		err[FDB_ERRLEN];

	if (tmpl_parse_path(expr, len, &p, err, sizeof(err)))
	{
		(void) tmpl_root_known(p.root);
		(void) tmpl_lookup(&p, fs->ctx, err, sizeof(err));
	}
	return ++fs->n < 64;
}

/*
 * LLVMFuzzerInitialize
 *		Build the default context once.
 */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	default_ctx = cJSON_Parse(
		"{\"trigger_data\":{\"amount\":5000,\"price\":12.5,\"name\":\"Ada\","
		"\"items\":[{\"id\":\"a1\"},{\"id\":\"b2\"}],\"none\":null,\"vip\":true,"
		"\"with space\":{\"k\":\"v\"},\"evil\":\"{{ run.secret }}\"},"
		"\"steps\":{\"fetch\":{\"output\":{\"status\":200,\"body\":[1,2,3]}}},"
		"\"run\":{\"id\":\"r-1\",\"secret\":\"s\"},\"workflow\":{\"name\":\"wf\"}}");
	return 0;
}

/*
 * LLVMFuzzerTestOneInput
 *		One fuzz iteration.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	const uint8_t *tdata = data;
	size_t		tlen = size;
	cJSON	   *own_ctx = NULL;
	const cJSON *ctx = default_ctx;
	char	   *text;
	char		err[FDB_ERRLEN];
	FuzzScan	fs;
	TmplPath	p;
	cJSON	   *v;
	cJSON	   *r;
	char	   *s;

	if (nul != NULL)
	{
		size_t		clen = (size_t) (nul - data);
		char	   *ctext = malloc(clen + 1);

		if (ctext == NULL)
			return 0;
		memcpy(ctext, data, clen);
		ctext[clen] = '\0';
		own_ctx = cJSON_Parse(ctext);
		free(ctext);
		ctx = own_ctx;			/* may be NULL or not an object: fine */
		tdata = nul + 1;
		tlen = size - clen - 1;
	}

	text = malloc(tlen + 1);
	if (text == NULL)
	{
		cJSON_Delete(own_ctx);
		return 0;
	}
	memcpy(text, tdata, tlen);
	text[tlen] = '\0';			/* stops at any further NUL */

	fs.ctx = ctx;
	fs.n = 0;
	(void) tmpl_has_template(text);
	(void) tmpl_scan(text, fuzz_expr, &fs, err, sizeof(err));
	(void) tmpl_parse_whole(text, &p, err, sizeof(err));
	(void) tmpl_parse_path((const char *) tdata, tlen, &p, err, sizeof(err));

	r = tmpl_render_string(text, ctx, err, sizeof(err));
	if (r != NULL)
	{
		s = fdb_json_to_text(r);
		free(s);
		cJSON_Delete(r);
	}

	v = cJSON_Parse(text);
	if (v != NULL)
	{
		r = tmpl_render(v, ctx, err, sizeof(err));
		cJSON_Delete(r);
		s = fdb_json_to_text(v);
		free(s);
		cJSON_Delete(v);
	}

	s = fdb_urlencode(text);
	free(s);
	s = fdb_base64(tdata, tlen);
	free(s);

	free(text);
	cJSON_Delete(own_ctx);
	return 0;
}
