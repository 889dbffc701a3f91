/*
 * test_draft.c: the offline drafter (draft.c).  Every labelled prompt of
 * bench/draft/ drafts a valid blueprint; triggers (events, schedules,
 * tables), conditions with their else branch, parameters (amounts, phone
 * numbers, emails, channels, quotes, URLs), wiring of earlier steps'
 * outputs, warnings for apps the catalog lacks, and hostile input (empty,
 * NUL bytes, templates, huge, binary).
 */
#include "unit.h"

#include "blueprint.h"
#include "draft.h"

/*
 * draft
 *		Draft a prompt; check the result has the promised shape and a valid
 *		blueprint (reported as a failure otherwise).
 */
static cJSON *
draft_at(const char *prompt, int line)
{
	cJSON	   *out = draft_offline(prompt, strlen(prompt));
	cJSON	   *bp = cJSON_GetObjectItem(out, "blueprint");
	FdbErrors	e;

	fdb_errors_init(&e);
	if (out != NULL && cJSON_IsArray(cJSON_GetObjectItem(out, "warnings")) &&
		bp_validate(bp, &e))
		unit_passed++;
	else
	{
		char	   *j = fdb_errors_join(&e, "; ");

		unit_failed++;
		fprintf(stderr, "FAIL %s:%d [%s]: draft of \"%s\" is not valid: %s\n",
				__FILE__, line, unit_current, prompt, j);
		free(j);
	}
	fdb_errors_free(&e);
	return out;
}
#define draft(p) draft_at((p), __LINE__)

/* the blueprint of a draft */
#define BP(out) cJSON_GetObjectItem((out), "blueprint")

/*
 * trig
 *		trigger.<key> of a draft as a string ("" when absent).
 */
static const char *
trig(const cJSON *out, const char *key)
{
	const char *s = fdb_json_str(cJSON_GetObjectItem(BP(out), "trigger"), key);

	return s ? s : "";
}

/*
 * node_of
 *		The n-th (0-based) action node of service svc, NULL if none.
 */
static const cJSON *
node_of(const cJSON *out, const char *svc, int n)
{
	const cJSON *node;

	cJSON_ArrayForEach(node, cJSON_GetObjectItem(BP(out), "nodes"))
	{
		const char *s = fdb_json_str(node, "service");

		if (s && strcmp(s, svc) == 0 && n-- == 0)
			return node;
	}
	return NULL;
}

/*
 * param
 *		params.<key> of the first action of svc.
 */
static const cJSON *
param(const cJSON *out, const char *svc, const char *key)
{
	return cJSON_GetObjectItem(cJSON_GetObjectItem(node_of(out, svc, 0), "params"), key);
}

/*
 * param_str
 *		A string param ("" when absent or not a string).
 */
static const char *
param_str(const cJSON *out, const char *svc, const char *key)
{
	const cJSON *v = param(out, svc, key);

	return cJSON_IsString(v) ? v->valuestring : "";
}

/*
 * count_actions
 *		Number of action nodes.
 */
static int
count_actions(const cJSON *out)
{
	const cJSON *node;
	int			n = 0;

	cJSON_ArrayForEach(node, cJSON_GetObjectItem(BP(out), "nodes"))
		if (fdb_json_str(node, "service"))
		n++;
	return n;
}

/*
 * warnings_text
 *		All warnings joined with " | " (malloc'd).
 */
static char *
warnings_text(const cJSON *out)
{
	const cJSON *w;
	size_t		n = 1;
	char	   *s;

	cJSON_ArrayForEach(w, cJSON_GetObjectItem(out, "warnings"))
		n += strlen(w->valuestring) + 3;
	s = calloc(1, n);
	cJSON_ArrayForEach(w, cJSON_GetObjectItem(out, "warnings"))
	{
		if (s[0])
			strcat(s, " | ");
		strcat(s, w->valuestring);
	}
	return s;
}

/*
 * edge_to
 *		The edge into node id, NULL if none.
 */
static const cJSON *
edge_to(const cJSON *out, const char *id)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItem(BP(out), "edges"))
		if (strcmp(fdb_json_str(e, "to"), id) == 0)
		return e;
	return NULL;
}

TEST(labelled_prompts_all_validate)
{
	static const char *const files[] = {
		"../../bench/draft/dev.jsonl", "../../bench/draft/heldout.jsonl",
		"../../bench/draft/fresh.jsonl", "../../bench/draft/final.jsonl", NULL
	};
	int			f;
	int			total = 0;

	for (f = 0; files[f]; f++)
	{
		FILE	   *fp = fopen(files[f], "r");
		char		line[8192];

		CHECK(fp != NULL);
		if (fp == NULL)
			continue;
		while (fgets(line, sizeof(line), fp))
		{
			cJSON	   *item = cJSON_Parse(line);
			const char *p = fdb_json_str(item, "prompt");

			if (p)
			{
				cJSON_Delete(draft(p));
				total++;
			}
			cJSON_Delete(item);
		}
		fclose(fp);
	}
	CHECK(total >= 150);
}

TEST(event_trigger_and_contact)
{
	cJSON	   *out = draft("When a payment is captured on Razorpay, send a WhatsApp thank you to the customer.");

	CHECK_STR(trig(out, "type"), "event");
	CHECK_STR(trig(out, "event"), "razorpay.payment.captured");
	CHECK_INT(count_actions(out), 1);
	CHECK_STR(param_str(out, "whatsapp", "to"), "{{trigger_data.contact}}");
	CHECK_CONTAINS(param_str(out, "whatsapp", "body"), "{{trigger_data.amount_rupees}}");
	cJSON_Delete(out);

	out = draft("When a payment link is paid, post to #sales");
	CHECK_STR(trig(out, "event"), "razorpay.payment_link.paid");
	cJSON_Delete(out);
	out = draft("whenever a payment fails, alert #ops");
	CHECK_STR(trig(out, "event"), "razorpay.payment.failed");
	cJSON_Delete(out);
	out = draft("When a WhatsApp message arrives, reply 'Thanks!'");
	CHECK_STR(trig(out, "event"), "whatsapp.message.received");
	CHECK_STR(param_str(out, "whatsapp", "to"), "{{trigger_data.sender}}");
	CHECK_STR(param_str(out, "whatsapp", "body"), "Thanks!");
	cJSON_Delete(out);
	out = draft("When someone mentions the bot in Slack, ask AI to answer");
	CHECK_STR(trig(out, "event"), "slack.app_mention");
	CHECK(node_of(out, "llm", 0) != NULL);
	cJSON_Delete(out);
	out = draft("When someone comments on Instagram, post it to #social");
	CHECK_STR(trig(out, "event"), "instagram.comment.created");
	cJSON_Delete(out);
}

TEST(schedules)
{
	static const char *const cases[][2] = {
		{"Every Monday at 9 post 'standup' to #dev", "0 9 * * 1"},
		{"daily at 6pm post 'closing' to #shop", "0 18 * * *"},
		{"every day at 9:30 am post 'hi' to #shop", "30 9 * * *"},
		{"every hour call https://api.example.com/ping", "0 * * * *"},
		{"every 15 minutes call https://api.example.com/ping", "*/15 * * * *"},
		{"every 2 hours call https://api.example.com/ping", "0 */2 * * *"},
		{"weekdays at 10 post 'standup' to #dev", "0 10 * * 1-5"},
		{"every Sunday at 8 pm post 'report' to #mgmt", "0 20 * * 0"},
		{"on the 1st of every month at 9 create an invoice of Rs 500 for Gupta Stores", "0 9 1 * *"},
		{"every night at 11 call https://backup.example.com/run", "0 23 * * *"},
		{"every evening send 'done' to #ops", "0 18 * * *"},
		{"every day at noon post 'lunch' to #all", "0 12 * * *"},
		{"every day at midnight call https://example.com/x", "0 0 * * *"},
		{NULL, NULL}
	};
	int			i;

	for (i = 0; cases[i][0]; i++)
	{
		cJSON	   *out = draft(cases[i][0]);

		CHECK_STR(trig(out, "type"), "schedule");
		CHECK_STR(trig(out, "cron"), cases[i][1]);
		cJSON_Delete(out);
	}
}

TEST(table_triggers)
{
	cJSON	   *out = draft("When a row is added to orders, send the customer a WhatsApp");

	CHECK_STR(trig(out, "type"), "table");
	CHECK_STR(trig(out, "table"), "orders");
	/* a guessed row field is used for the required "to", with a warning */
	CHECK_STR(param_str(out, "whatsapp", "to"), "{{trigger_data.phone}}");
	{
		char	   *w = warnings_text(out);

		CHECK_CONTAINS(w, "{{trigger_data.phone}}; the row must have that field");
		free(w);
	}
	cJSON_Delete(out);
	out = draft("We keep signups in a table called leads. When a new record is inserted, post to #leads");
	CHECK_STR(trig(out, "table"), "leads");
	cJSON_Delete(out);
	out = draft("for every new order in the orders table ping #orders");
	CHECK_STR(trig(out, "table"), "orders");
	cJSON_Delete(out);
}

TEST(amounts)
{
	static const struct
	{
		const char *prompt;
		double		amount;
	}			cases[] = {
		{"Create a payment link for Rs 500", 500},
		{"Create a payment link for Rs. 1,500", 1500},
		{"Create a payment link for 500 rupees", 500},
		{"Create a payment link for 5k", 5000},
		{"Create a payment link for \xe2\x82\xb9" "1,200", 1200},
		{"Create a payment link for INR 2,500", 2500},
		{"Create a payment link for 1.5 lakh", 150000},
		{"Create a payment link for Rs 499.50", 499.5},
		{"Create a payment link for 1500 for a saree", 1500},
		{NULL, 0}
	};
	int			i;

	for (i = 0; cases[i].prompt; i++)
	{
		cJSON	   *out = draft(cases[i].prompt);
		const cJSON *a = param(out, "razorpay", "amount");

		CHECK(cJSON_IsNumber(a) && a->valuedouble == cases[i].amount);
		if (!(cJSON_IsNumber(a) && a->valuedouble == cases[i].amount))
			fprintf(stderr, "    %s -> %g\n", cases[i].prompt, a ? a->valuedouble : -1);
		cJSON_Delete(out);
	}
}

TEST(phones_emails_channels_urls)
{
	static const char *const phones[] = {
		"Send 'hi' to +91 98765 43210 on WhatsApp",
		"Send 'hi' to 9876543210 on WhatsApp",
		"Send 'hi' to 09876543210 on WhatsApp",
		"Send 'hi' to +91-98765-43210 on WhatsApp",
		"Send 'hi' to 98765 43210 on WhatsApp",
		NULL
	};
	cJSON	   *out;
	int			i;

	for (i = 0; phones[i]; i++)
	{
		out = draft(phones[i]);
		CHECK_STR(param_str(out, "whatsapp", "to"), "+919876543210");
		cJSON_Delete(out);
	}
	out = draft("Send a payment link for Rs 300 to priya@example.com");
	CHECK_STR(param_str(out, "razorpay", "customer_email"), "priya@example.com");
	cJSON_Delete(out);
	out = draft("Post 'We are open!' to #general-store on Slack");
	CHECK_STR(param_str(out, "slack", "channel"), "#general-store");
	CHECK_STR(param_str(out, "slack", "text"), "We are open!");
	cJSON_Delete(out);
	out = draft("POST to https://hooks.example.com/new-order when a row is added to orders.");
	CHECK_STR(param_str(out, "http", "url"), "https://hooks.example.com/new-order");
	CHECK_STR(param_str(out, "http", "method"), "POST");
	CHECK_STR(param_str(out, "http", "body"), "{{trigger_data}}");
	cJSON_Delete(out);
	out = draft("Post https://cdn.example.com/a.jpg on Instagram with caption 'Sale!'");
	CHECK_STR(param_str(out, "instagram", "image_url"), "https://cdn.example.com/a.jpg");
	CHECK_STR(param_str(out, "instagram", "caption"), "Sale!");
	CHECK(node_of(out, "http", 0) == NULL);
	cJSON_Delete(out);
	/* "message <number>" is a command, not a message event */
	out = draft("message 9898989898 on whatsapp: 'Your order is ready'");
	CHECK_STR(trig(out, "type"), "manual");
	CHECK_STR(param_str(out, "whatsapp", "to"), "+919898989898");
	CHECK_STR(param_str(out, "whatsapp", "body"), "Your order is ready");
	cJSON_Delete(out);
	out = draft("Create an invoice for Ravi Kumar for Rs 3,000");
	CHECK_STR(param_str(out, "razorpay", "customer_name"), "Ravi Kumar");
	CHECK_STR(fdb_json_str(node_of(out, "razorpay", 0), "task"), "create_invoice");
	cJSON_Delete(out);
	out = draft("Check payment pay_29QQoUBi66xm2f and post its status to #accounts");
	CHECK_STR(param_str(out, "razorpay", "payment_id"), "pay_29QQoUBi66xm2f");
	CHECK_STR(fdb_json_str(node_of(out, "razorpay", 0), "task"), "fetch_payment");
	cJSON_Delete(out);
}

TEST(conditions_and_else)
{
	cJSON	   *out = draft("When a payment is captured, if the amount is over 5000 post to #vip, "
							"otherwise send a WhatsApp thank you.");
	const cJSON *e;
	const cJSON *c;

	CHECK(cJSON_GetObjectItem(BP(out), "nodes") != NULL);
	e = edge_to(out, fdb_json_str(node_of(out, "slack", 0), "id"));
	c = cJSON_GetObjectItem(e, "condition");
	CHECK_STR(fdb_json_str(e, "from"), "check");
	CHECK_STR(fdb_json_str(c, "op"), "gt");
	CHECK_STR(fdb_json_str(c, "left"), "{{trigger_data.amount_rupees}}");
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(c, "right")) &&
		  cJSON_GetObjectItem(c, "right")->valuedouble == 5000);
	e = edge_to(out, fdb_json_str(node_of(out, "whatsapp", 0), "id"));
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(e, "else")));
	cJSON_Delete(out);

	/* a step before the condition runs first, the router after it */
	out = draft("When a payment is captured, thank the customer on WhatsApp. If the amount is at least 10k, notify #vip.");
	e = edge_to(out, "check");
	CHECK_STR(fdb_json_str(e, "from"), "whatsapp_send_message");
	c = cJSON_GetObjectItem(edge_to(out, "slack_post_message"), "condition");
	CHECK_STR(fdb_json_str(c, "op"), "gte");
	CHECK(cJSON_GetObjectItem(c, "right")->valuedouble == 10000);
	cJSON_Delete(out);

	/* "X and if ... Y": X does not depend on the condition, Y does */
	out = draft("When a payment is captured on Razorpay, thank the customer on WhatsApp and "
				"if the amount is over 5000 tell #sales on Slack");
	e = edge_to(out, "check");
	CHECK_STR(fdb_json_str(e, "from"), "whatsapp_send_message");
	CHECK(cJSON_GetObjectItem(e, "condition") == NULL);
	c = cJSON_GetObjectItem(edge_to(out, "slack_post_message"), "condition");
	CHECK_STR(fdb_json_str(edge_to(out, "slack_post_message"), "from"), "check");
	CHECK_STR(fdb_json_str(c, "op"), "gt");
	CHECK(cJSON_GetObjectItem(c, "right")->valuedouble == 5000);
	cJSON_Delete(out);
	/* "send X if ...": X depends on the condition */
	out = draft("When a payment is captured, send a WhatsApp thank you if the amount is over 5000");
	CHECK(cJSON_GetObjectItem(edge_to(out, "whatsapp_send_message"), "condition") != NULL);
	cJSON_Delete(out);

	out = draft("When a customer messages 'menu' on WhatsApp, reply 'Today: thali'");
	c = cJSON_GetObjectItem(edge_to(out, "whatsapp_send_message"), "condition");
	CHECK_STR(fdb_json_str(c, "op"), "contains");
	CHECK_STR(fdb_json_str(c, "left"), "{{trigger_data.body}}");
	CHECK_STR(fdb_json_str(c, "right"), "menu");
	CHECK_STR(param_str(out, "whatsapp", "body"), "Today: thali");
	cJSON_Delete(out);

	out = draft("Only for orders from Mumbai, post to #mumbai when a row is added to orders");
	c = cJSON_GetObjectItem(edge_to(out, "slack_post_message"), "condition");
	CHECK_STR(fdb_json_str(c, "op"), "eq");
	CHECK_STR(fdb_json_str(c, "left"), "{{trigger_data.city}}");
	CHECK_STR(fdb_json_str(c, "right"), "Mumbai");
	cJSON_Delete(out);

	/* "below 100 do nothing, otherwise ...": the condition flips */
	out = draft("When a payment is captured and the amount is below 100, do nothing. Otherwise thank them on WhatsApp.");
	c = cJSON_GetObjectItem(edge_to(out, "whatsapp_send_message"), "condition");
	CHECK_STR(fdb_json_str(c, "op"), "gte");
	cJSON_Delete(out);

	/* "do nothing" without "otherwise": the steps take the other side */
	out = draft("When a payment is captured under Rs 200, do nothing; for anything bigger post to #big.");
	c = cJSON_GetObjectItem(edge_to(out, "slack_post_message"), "condition");
	CHECK_STR(fdb_json_str(c, "op"), "gte");
	CHECK(cJSON_GetObjectItem(c, "right")->valuedouble == 200);
	cJSON_Delete(out);

	/* a subject before the verb keeps it in the trigger ("when we get ...") */
	out = draft("when we get a whatsapp message that mentions 'complaint' let #support know");
	CHECK_STR(trig(out, "event"), "whatsapp.message.received");
	c = cJSON_GetObjectItem(edge_to(out, "slack_post_message"), "condition");
	CHECK_STR(fdb_json_str(c, "right"), "complaint");
	CHECK(node_of(out, "whatsapp", 0) == NULL);
	cJSON_Delete(out);
}

TEST(outputs_wired_into_later_steps)
{
	cJSON	   *out = draft("Create a payment link for Rs 500 and send it to 9876543210 on WhatsApp.");

	CHECK_INT(count_actions(out), 2);
	CHECK_STR(param_str(out, "whatsapp", "to"), "+919876543210");
	CHECK_CONTAINS(param_str(out, "whatsapp", "body"),
				   "{{steps.razorpay_create_payment_link.output.short_url}}");
	CHECK_STR(fdb_json_str(edge_to(out, "whatsapp_send_message"), "from"),
			  "razorpay_create_payment_link");
	cJSON_Delete(out);

	out = draft("When a WhatsApp message arrives, summarise it with AI and post the summary to #inbox");
	CHECK_CONTAINS(param_str(out, "llm", "prompt"), "{{trigger_data.body}}");
	CHECK_STR(param_str(out, "slack", "text"), "{{steps.llm_complete.output.text}}");
	cJSON_Delete(out);

	out = draft("When a row is added to tickets, classify it as urgent, normal or spam");
	{
		const cJSON *labels = param(out, "llm", "labels");

		CHECK_STR(fdb_json_str(node_of(out, "llm", 0), "task"), "classify");
		CHECK_INT(cJSON_GetArraySize(labels), 3);
		CHECK_STR(cJSON_GetArrayItem(labels, 2)->valuestring, "spam");
		CHECK_STR(param_str(out, "llm", "text"), "{{trigger_data}}");
	}
	cJSON_Delete(out);

	out = draft("When a payment is captured, wait 2 days and then WhatsApp the customer asking for a review.");
	{
		const cJSON *wait = cJSON_GetArrayItem(cJSON_GetObjectItem(BP(out), "nodes"), 0);

		CHECK_STR(fdb_json_str(wait, "type"), "delay");
		CHECK(cJSON_GetObjectItem(wait, "seconds")->valuedouble == 172800);
		CHECK_STR(fdb_json_str(edge_to(out, "whatsapp_send_message"), "from"), "wait");
	}
	cJSON_Delete(out);
}

TEST(unknown_apps_and_words)
{
	cJSON	   *out = draft("When a payment is captured, add it to Google Sheets, email the accountant via Gmail and post to #sales.");
	char	   *w = warnings_text(out);

	CHECK_CONTAINS(w, "Google Sheets is not available; skipped");
	CHECK_CONTAINS(w, "Gmail is not available; skipped");
	CHECK_INT(count_actions(out), 1);
	CHECK(node_of(out, "slack", 0) != NULL);
	free(w);
	cJSON_Delete(out);

	/* a Telegram message is not a WhatsApp message */
	out = draft("Send a Telegram message when a payment fails.");
	CHECK_INT(count_actions(out), 0);
	w = warnings_text(out);
	CHECK_CONTAINS(w, "Telegram is not available");
	CHECK_CONTAINS(w, "no action the catalog offers was found");
	free(w);
	cJSON_Delete(out);

	/* words in quotes are text, not commands */
	out = draft("Post 'send a payment link on WhatsApp and Instagram' to #ops");
	CHECK_INT(count_actions(out), 1);
	CHECK_STR(param_str(out, "slack", "text"), "send a payment link on WhatsApp and Instagram");
	cJSON_Delete(out);

	/* a description of the shop is not a step */
	out = draft("We use Slack a lot. When a payment fails, send the customer a WhatsApp.");
	CHECK(node_of(out, "slack", 0) == NULL);
	CHECK(node_of(out, "whatsapp", 0) != NULL);
	cJSON_Delete(out);
}

TEST(hostile_input)
{
	static const char nul[] = "Post 'a' to #x\0 and call https://evil.example.com";
	cJSON	   *out;
	cJSON	   *again;
	char	   *big;
	char	   *a;
	char	   *b;
	int			i;

	/* empty and NULL */
	out = draft("");
	CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(BP(out), "nodes")), 1);
	cJSON_Delete(out);
	out = draft_offline(NULL, 10);
	CHECK(out != NULL);
	cJSON_Delete(out);

	/* reading stops at a NUL byte */
	out = draft_offline(nul, sizeof(nul) - 1);
	CHECK(node_of(out, "http", 0) == NULL);
	CHECK(node_of(out, "slack", 0) != NULL);
	cJSON_Delete(out);

	/* user text never becomes a template */
	out = draft("Post 'hi {{steps.x.output}} {{' to #ops");
	CHECK(strstr(param_str(out, "slack", "text"), "{{") == NULL);
	cJSON_Delete(out);

	/* huge input: only DRAFT_MAX_INPUT bytes are read, with a warning; at most DRAFT_MAX_ACTIONS steps */
	big = malloc(100001);
	for (i = 0; i < 100000; i++)
		big[i] = "post to #a then whatsapp 9876543210 then call https://x.example.com/y then "[i % 75];
	big[100000] = '\0';
	out = draft(big);
	a = warnings_text(out);
	CHECK_CONTAINS(a, "only the start was read");
	CHECK(count_actions(out) <= DRAFT_MAX_ACTIONS);
	free(a);
	cJSON_Delete(out);

	/* bytes that are not text */
	for (i = 0; i < 100000; i++)
		big[i] = (char) ((i * 7919 + 13) % 255 + 1);
	big[100000] = '\0';
	cJSON_Delete(draft(big));
	free(big);

	/* deterministic */
	out = draft("When a payment is captured, if the amount is over 5000 post to #vip, otherwise WhatsApp them");
	again = draft("When a payment is captured, if the amount is over 5000 post to #vip, otherwise WhatsApp them");
	a = cJSON_PrintUnformatted(out);
	b = cJSON_PrintUnformatted(again);
	CHECK_STR(a, b);
	free(a);
	free(b);
	cJSON_Delete(out);
	cJSON_Delete(again);
}

int
main(void)
{
	RUN(labelled_prompts_all_validate);
	RUN(event_trigger_and_contact);
	RUN(schedules);
	RUN(table_triggers);
	RUN(amounts);
	RUN(phones_emails_channels_urls);
	RUN(conditions_and_else);
	RUN(outputs_wired_into_later_steps);
	RUN(unknown_apps_and_words);
	RUN(hostile_input);
	return UNIT_SUMMARY();
}
