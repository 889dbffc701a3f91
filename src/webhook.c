/*-------------------------------------------------------------------------
 *
 * webhook.c
 *	  Primitives for verifying provider webhooks and firing schedules:
 *	  HMAC (PostgreSQL's own pg_hmac, no extra dependency), constant-time
 *	  comparison, and cron matching for SQL.
 *
 * The webhook functions themselves (razorpay_webhook, slack_webhook) are
 * SQL in the install script; they call these.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hmac.h"
#include "common/sha2.h"
#include "common/sha1.h"
#include "fmgr.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "cron.h"
#include "flowdb.h"

FLOWDB_FUNCTION_INFO_V1(flowdb_hmac);

/*
 * flowdb_hmac
 *		hmac(data bytea, key bytea, algorithm text) returns bytea;
 *		algorithm is sha1 or sha256.
 */
Datum
flowdb_hmac(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	bytea	   *key = PG_GETARG_BYTEA_PP(1);
	char	   *algo = text_to_cstring(PG_GETARG_TEXT_PP(2));
	pg_cryptohash_type type;
	int			len;
	pg_hmac_ctx *ctx;
	bytea	   *result;

	if (pg_strcasecmp(algo, "sha256") == 0)
	{
		type = PG_SHA256;
		len = PG_SHA256_DIGEST_LENGTH;
	}
	else if (pg_strcasecmp(algo, "sha1") == 0)
	{
		type = PG_SHA1;
		len = SHA1_DIGEST_LENGTH;
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported HMAC algorithm \"%s\"", algo),
				 errhint("Use sha1 or sha256.")));

	result = palloc(VARHDRSZ + len);
	SET_VARSIZE(result, VARHDRSZ + len);
	ctx = pg_hmac_create(type);
	if (ctx == NULL ||
		pg_hmac_init(ctx, (uint8 *) VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key)) < 0 ||
		pg_hmac_update(ctx, (uint8 *) VARDATA_ANY(data), VARSIZE_ANY_EXHDR(data)) < 0 ||
		pg_hmac_final(ctx, (uint8 *) VARDATA(result), len) < 0)
	{
		const char *msg = ctx ? pg_hmac_error(ctx) : "out of memory";

		pg_hmac_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute HMAC: %s", msg)));
	}
	pg_hmac_free(ctx);
	PG_RETURN_BYTEA_P(result);
}

FLOWDB_FUNCTION_INFO_V1(flowdb_safe_equal);

/*
 * flowdb_safe_equal
 *		Compare two texts in time independent of where they differ (for
 *		signatures).
 */
Datum
flowdb_safe_equal(PG_FUNCTION_ARGS)
{
	text	   *a = PG_GETARG_TEXT_PP(0);
	text	   *b = PG_GETARG_TEXT_PP(1);
	size_t		la = VARSIZE_ANY_EXHDR(a);
	size_t		lb = VARSIZE_ANY_EXHDR(b);
	const unsigned char *pa = (const unsigned char *) VARDATA_ANY(a);
	const unsigned char *pb = (const unsigned char *) VARDATA_ANY(b);
	unsigned int diff = (la != lb);

	for (size_t i = 0; i < la; i++)
		diff |= pa[i] ^ (lb ? pb[i % lb] : 0);
	PG_RETURN_BOOL(diff == 0);
}

FLOWDB_FUNCTION_INFO_V1(flowdb_cron_matches);

/*
 * flowdb_cron_matches
 *		cron_matches(expr text, at timestamptz) returns boolean, in UTC.
 */
Datum
flowdb_cron_matches(PG_FUNCTION_ARGS)
{
	char	   *expr = text_to_cstring(PG_GETARG_TEXT_PP(0));
	TimestampTz at = PG_GETARG_TIMESTAMPTZ(1);
	CronSpec	spec;
	char		err[256];
	struct pg_tm tm;
	fsec_t		fsec;

	if (!cron_parse(expr, &spec, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cron expression \"%s\": %s", expr, err)));
	if (timestamp2tm(at, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	PG_RETURN_BOOL(cron_matches(&spec, tm.tm_min, tm.tm_hour, tm.tm_mday,
								tm.tm_mon, j2day(date2j(tm.tm_year, tm.tm_mon, tm.tm_mday))));
}
