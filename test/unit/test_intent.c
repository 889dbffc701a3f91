/*
 * test_intent.c: the offline intent parser (English and Hinglish).
 */
#include "unit.h"
#include "intent.h"

/*
 * an
 *		Analyse text; returns the result (caller deletes).
 */
static cJSON *
an(const char *text)
{
	cJSON	   *r = intent_analyze(text);

	if (r == NULL)
	{
		fprintf(stderr, "intent_analyze returned NULL for %s\n", text);
		exit(2);
	}
	return r;
}

/*
 * intent_of
 *		The intent name of text (static copy).
 */
static const char *
intent_of(const char *text)
{
	static char buf[64];
	cJSON	   *r = an(text);
	cJSON	   *i = cJSON_GetObjectItem(r, "intent");

	snprintf(buf, sizeof(buf), "%s", cJSON_IsString(i) ? i->valuestring : "(none)");
	cJSON_Delete(r);
	return buf;
}

/*
 * ent_str
 *		A string entity of text, "" when absent (static copy).
 */
static const char *
ent_str(const char *text, const char *key)
{
	static char buf[256];
	cJSON	   *r = an(text);
	cJSON	   *e = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "entities"), key);

	snprintf(buf, sizeof(buf), "%s", cJSON_IsString(e) ? e->valuestring : "");
	cJSON_Delete(r);
	return buf;
}

/*
 * ent_num
 *		A number entity of text, -1 when absent.
 */
static double
ent_num(const char *text, const char *key)
{
	cJSON	   *r = an(text);
	cJSON	   *e = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "entities"), key);
	double		v = cJSON_IsNumber(e) ? e->valuedouble : -1;

	cJSON_Delete(r);
	return v;
}

TEST(test_invoice)
{
	CHECK_STR(intent_of("Ravi ko 500 ka invoice bhejo"), "CREATE_INVOICE");
	CHECK_STR(ent_str("Ravi ko 500 ka invoice bhejo", "name"), "Ravi");
	CHECK(ent_num("Ravi ko 500 ka invoice bhejo", "amount") == 500);
	CHECK_STR(ent_str("Ravi ko 500 ka invoice bhejo", "currency"), "INR");
	CHECK_STR(intent_of("invoice Ravi 500 rupees"), "CREATE_INVOICE");
	CHECK_STR(ent_str("invoice Ravi 500 rupees", "name"), "Ravi");
	CHECK_STR(ent_str("bill Ravi Kumar for 3 shirts Rs 1500", "name"), "Ravi Kumar");
	CHECK(ent_num("bill Ravi Kumar for 3 shirts Rs 1500", "amount") == 1500);
	CHECK(ent_num("invoice for five hundred rupees to Ravi", "amount") == 500);
	/* the amount is missing: no guess */
	CHECK(ent_num("invoice Ravi", "amount") == -1);
}

TEST(test_payment_link)
{
	const char *t = "send 2k payment link to 9876543210";

	CHECK_STR(intent_of(t), "CREATE_PAYMENT_LINK");
	CHECK(ent_num(t, "amount") == 2000);
	CHECK_STR(ent_str(t, "phone"), "+919876543210");
	t = "Send a payment link of ₹1,200 to +91 98765 43210 for the blue saree";
	CHECK(ent_num(t, "amount") == 1200);
	CHECK_STR(ent_str(t, "phone"), "+919876543210");
	CHECK_STR(ent_str(t, "description"), "the blue saree");
	CHECK(ent_num("payment link 1.5 lakh", "amount") == 150000);
	CHECK(ent_num("payment link Rs.750 for Asha", "amount") == 750);
	CHECK_STR(ent_str("payment link Rs.750 for Asha", "name"), "Asha");
	CHECK_STR(ent_str("payment link 500 asha@example.com", "email"), "asha@example.com");
}

TEST(test_messages)
{
	const char *t = "message Priya on whatsapp saying \"your order is ready\"";

	CHECK_STR(intent_of(t), "SEND_MESSAGE");
	CHECK_STR(ent_str(t, "name"), "Priya");
	CHECK_STR(ent_str(t, "message"), "your order is ready");
	CHECK_STR(ent_str("Ravi ko remind karo ki kal payment karna hai", "message"),
			  "kal payment karna hai");
	CHECK_STR(intent_of("slack pe team ko batao stock khatam ho gaya"), "NOTIFY_SLACK");
	CHECK_STR(ent_str("slack pe team ko batao stock khatam ho gaya", "channel"), "#team");
	CHECK_STR(ent_str("slack pe team ko batao stock khatam ho gaya", "message"),
			  "stock khatam ho gaya");
	CHECK_STR(ent_str("notify #sales on slack: big order from Mumbai", "channel"), "#sales");
	CHECK_STR(ent_str("notify #sales on slack: big order from Mumbai", "message"),
			  "big order from Mumbai");
}

TEST(test_instagram)
{
	CHECK_STR(intent_of("instagram pe post karo 'Diwali sale'"), "POST_TO_INSTAGRAM");
	CHECK_STR(ent_str("instagram pe post karo 'Diwali sale'", "caption"), "Diwali sale");
	CHECK_STR(ent_str("post https://x.com/a.jpg on instagram with caption \"New\"", "image_url"),
			  "https://x.com/a.jpg");
}

TEST(test_lookups)
{
	CHECK_STR(intent_of("payment pay_XYZ123 ka status"), "CHECK_PAYMENT");
	CHECK_STR(ent_str("payment pay_XYZ123 ka status", "payment_id"), "pay_XYZ123");
	CHECK_STR(intent_of("run the morning report workflow"), "RUN_WORKFLOW");
	CHECK_STR(ent_str("run the morning report workflow", "workflow"), "morning report");
	CHECK_STR(ent_str("morning report workflow chalao", "workflow"), "morning report");
	CHECK_STR(ent_str("morning report chalao", "workflow"), "morning report");
	CHECK_STR(intent_of("status of run 123e4567-e89b-12d3-a456-426614174000"), "RUN_STATUS");
	CHECK_STR(ent_str("status of run 123E4567-e89b-12d3-a456-426614174000", "run_id"),
			  "123e4567-e89b-12d3-a456-426614174000");
	CHECK_STR(intent_of("create a workflow that thanks customers on whatsapp after payment"),
			  "CREATE_WORKFLOW");
	CHECK_STR(intent_of("help"), "HELP");
}

TEST(test_refuses_to_guess)
{
	CHECK_STR(intent_of("what's the weather"), "UNKNOWN");
	CHECK_STR(intent_of("tell me a joke"), "UNKNOWN");
	CHECK_STR(intent_of(""), "UNKNOWN");
	CHECK_STR(intent_of(NULL), "UNKNOWN");
	CHECK_STR(intent_of("   ...  "), "UNKNOWN");
	CHECK_STR(intent_of("500"), "UNKNOWN");
	CHECK_STR(intent_of("send it at 9 am"), "UNKNOWN");
	/* paying a bill is not billing someone; a status question runs nothing */
	CHECK_STR(intent_of("pay the electricity bill"), "UNKNOWN");
	CHECK_STR(intent_of("did my last workflow run finish?"), "RUN_STATUS");
	CHECK_STR(intent_of("re-run the invoice reminder workflow"), "RUN_WORKFLOW");
}

TEST(test_answers)
{
	CHECK_STR(ent_str("yes", "answer"), "yes");
	CHECK_STR(ent_str("Haan", "answer"), "yes");
	CHECK_STR(ent_str("ok please", "answer"), "yes");
	CHECK_STR(ent_str("nahi", "answer"), "no");
	CHECK_STR(ent_str("cancel", "answer"), "no");
	CHECK_STR(ent_str("yes send the invoice", "answer"), "");
}

TEST(test_hostile_input)
{
	char	   *big = malloc(20000);
	cJSON	   *r;

	/* long input is cut at INTENT_MAX_INPUT, never overrun */
	for (int i = 0; i < 19999; i++)
		big[i] = "9 '\"\xE2\x82\xB9k:,"[i % 10];
	big[19999] = '\0';
	r = intent_analyze(big);
	CHECK(r != NULL);
	cJSON_Delete(r);
	memset(big, '1', 19999);
	r = intent_analyze(big);
	CHECK(r != NULL);
	cJSON_Delete(r);
	free(big);
	/* unterminated quotes, lone currency signs, stray bytes */
	CHECK_STR(intent_of("\"unterminated invoice"), "CREATE_INVOICE");
	CHECK_STR(intent_of("\xE2\x82\xB9 \xE2\x80\x9C \xff\xfe"), "UNKNOWN");
	CHECK_STR(intent_of("+ + +91"), "UNKNOWN");
}

TEST(test_names_table)
{
	/* every intent name is listed once and UNKNOWN is last */
	int			n = 0;

	while (intent_names[n])
		n++;
	CHECK_INT(n, 11);
	CHECK_STR(intent_names[n - 1], "UNKNOWN");
}

int
main(void)
{
	RUN(test_invoice);
	RUN(test_payment_link);
	RUN(test_messages);
	RUN(test_instagram);
	RUN(test_lookups);
	RUN(test_refuses_to_guess);
	RUN(test_answers);
	RUN(test_hostile_input);
	RUN(test_names_table);
	return UNIT_SUMMARY();
}
