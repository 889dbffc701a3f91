/*-------------------------------------------------------------------------
 *
 * fjson.h
 *	  Small helpers shared by flowdb's pure modules (no PostgreSQL headers).
 *
 * Everything under src/ except flowdb.c, api.c, webhook.c, worker.c, http.c
 * and draft_sql.c is
 * "pure": it depends only on libc and cJSON, allocates with malloc, never
 * longjmps, and is unit-tested under valgrind in test/unit.  Errors are
 * reported through FdbErrors (a list of "json.path: message" strings) or a
 * caller-supplied char buffer.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_FJSON_H
#define FLOWDB_FJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#define FDB_ERRLEN 512			/* size of single-error buffers */

/*
 * The deepest JSON nesting flowdb accepts anywhere (blueprints, payloads,
 * render and condition values): one number, below cJSON's parser limit
 * (CJSON_NESTING_LIMIT, 1000) so a value flowdb accepted always parses.
 */
#define FDB_MAX_JSON_DEPTH 990

/* A growable list of validation problems, each "path: message". */
typedef struct FdbErrors
{
	int			count;
	int			cap;
	char	  **items;
} FdbErrors;

extern void fdb_errors_init(FdbErrors *e);
extern void fdb_errors_add(FdbErrors *e, const char *path, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
extern void fdb_errors_free(FdbErrors *e);
/* Join all items with sep; malloc'd, caller frees.  "" when empty. */
extern char *fdb_errors_join(const FdbErrors *e, const char *sep);

/* snprintf into a fixed buffer, never overflowing; returns buf. */
extern char *fdb_fmt(char *buf, size_t len, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

/* malloc'd printf. */
extern char *fdb_asprintf(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern char *fdb_strdup(const char *s);

/* A growable byte buffer (malloc). */
typedef struct FdbBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} FdbBuf;

extern void fdb_buf_init(FdbBuf *b);
extern void fdb_buf_append(FdbBuf *b, const char *s, size_t n);
extern void fdb_buf_puts(FdbBuf *b, const char *s);
extern void fdb_buf_printf(FdbBuf *b, const char *fmt,...) __attribute__((format(printf, 2, 3)));
extern void fdb_buf_free(FdbBuf *b);

/* JSON helpers */
extern const char *fdb_json_str(const cJSON *obj, const char *key);	/* NULL unless string */
extern bool fdb_json_num(const cJSON *obj, const char *key, double *out);
/* JSON type of v as a noun ("object", "nothing" for NULL) for messages */
extern const char *fdb_json_type_name(const cJSON *v);
/* Text form of a scalar for interpolation: strings raw, numbers shortest
 * (integers without ".0"), true/false, null -> "", arrays/objects compact
 * JSON.  malloc'd. */
extern char *fdb_json_to_text(const cJSON *v);
/* Compact JSON text (malloc'd). */
extern char *fdb_json_print(const cJSON *v);
/* Approximate size in bytes of v's compact JSON text, without building
 * it; counting stops as soon as it exceeds stop (the result is then some
 * value > stop). */
extern size_t fdb_json_size(const cJSON *v, size_t stop);
/* Percent-encode for application/x-www-form-urlencoded (malloc'd). */
extern char *fdb_urlencode(const char *s);
/* Base64 (standard alphabet, padded); malloc'd. */
extern char *fdb_base64(const unsigned char *data, size_t len);

/* Secrets: replace every string value (>= 4 bytes) of a credential found
 * in text / in the strings of a JSON value with "[redacted]". */
extern char *fdb_scrub_text(const cJSON *secret, const char *text);
extern void fdb_scrub_json(const cJSON *secret, cJSON *v);

#endif							/* FLOWDB_FJSON_H */
