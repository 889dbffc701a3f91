/*
 * unit.h: a minimal test harness for flowdb's pure C modules.
 *
 * Each test_*.c defines tests with TEST(name) { ... } and lists them in
 * main() via RUN(name).  CHECK* macros record failures and continue.
 * UNIT_SUMMARY() prints "<file>: N passed, N failed" and returns the exit
 * status.
 */
#ifndef FLOWDB_UNIT_H
#define FLOWDB_UNIT_H

#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <cjson/cJSON.h>

static int	unit_passed = 0;
static int	unit_failed = 0;
static const char *unit_current = "";

#define TEST(name) static void name(void)
#define RUN(name) do { unit_current = #name; name(); } while (0)

#define CHECK(cond) do { \
	if (cond) unit_passed++; \
	else { unit_failed++; \
		fprintf(stderr, "FAIL %s:%d [%s]: %s\n", __FILE__, __LINE__, unit_current, #cond); } \
} while (0)

#define CHECK_STR(got, want) do { \
	const char *g_ = (got), *w_ = (want); \
	if (g_ && w_ && strcmp(g_, w_) == 0) unit_passed++; \
	else { unit_failed++; \
		fprintf(stderr, "FAIL %s:%d [%s]: got \"%s\", want \"%s\"\n", __FILE__, __LINE__, \
				unit_current, g_ ? g_ : "(null)", w_ ? w_ : "(null)"); } \
} while (0)

#define CHECK_INT(got, want) do { \
	long long g_ = (long long) (got), w_ = (long long) (want); \
	if (g_ == w_) unit_passed++; \
	else { unit_failed++; \
		fprintf(stderr, "FAIL %s:%d [%s]: got %lld, want %lld\n", __FILE__, __LINE__, \
				unit_current, g_, w_); } \
} while (0)

/* substring check */
#define CHECK_CONTAINS(hay, needle) do { \
	const char *h_ = (hay), *n_ = (needle); \
	if (h_ && n_ && strstr(h_, n_)) unit_passed++; \
	else { unit_failed++; \
		fprintf(stderr, "FAIL %s:%d [%s]: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, \
				unit_current, h_ ? h_ : "(null)", n_ ? n_ : "(null)"); } \
} while (0)

/*
 * unit_json_q
 *		Parse test JSON written with ' for " (tests never need a literal ').
 *		Bad JSON is reported; with strict it ends the test binary.
 */
static inline cJSON *
unit_json_q(const char *text, int strict)
{
	size_t		n = strlen(text);
	char	   *s = malloc(n + 1);
	cJSON	   *v;

	if (s == NULL)
		abort();
	for (size_t i = 0; i <= n; i++)
		s[i] = text[i] == '\'' ? '"' : text[i];
	v = cJSON_Parse(s);
	if (v == NULL)
	{
		fprintf(stderr, "test JSON does not parse: %s\n", s);
		if (strict)
			exit(2);
	}
	free(s);
	return v;
}

#define UNIT_SUMMARY() ( \
	printf("%s: %d passed, %d failed\n", __FILE__, unit_passed, unit_failed), \
	unit_failed ? 1 : 0)

#endif
