/*-------------------------------------------------------------------------
 *
 * draft.c
 *	  The offline drafter: plain language to a blueprint (pure C).
 *
 * Pipeline (all on one prompt, bounded by DRAFT_MAX_INPUT bytes):
 *	1. entities are found in the original text (quoted text, URLs, emails,
 *	   Razorpay payment ids, phone numbers, #channels, amounts) and masked
 *	   out of a lower-cased copy, so that words inside a quote never count
 *	   as commands;
 *	2. the copy is cut into word tokens and clause separators (, . ; : !
 *	   ? "then" "otherwise" ...); each token gets a region: ACTION,
 *	   TRIGGER ("when ...", "whenever ...", "every time ...") or CONDITION
 *	   ("if ...", "only ...");
 *	3. the trigger: a schedule (cron), a table trigger or the catalog event
 *	   whose words best match a trigger region, else manual;
 *	4. the condition: a comparison ("over 5000", "contains 'menu'", "from
 *	   Mumbai") in a condition or trigger region;
 *	5. the actions: service synonyms (and the service names themselves)
 *	   found in action regions, one step per service and task per clause,
 *	   tasks chosen by the words of the catalog's task names;
 *	6. the blueprint: actions before the condition in a chain, then a
 *	   router with a conditional and an else branch; parameters filled from
 *	   the entities, the trigger's fields and earlier steps' outputs.
 *
 * Everything not understood becomes a warning; the blueprint always
 * validates (the last resort is a single "set" step holding the prompt).
 *
 *-------------------------------------------------------------------------
 */
#include "draft.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blueprint.h"
#include "catalog.h"

#define MAX_TOKENS 2048
#define MAX_ENTS 128
#define MAX_HITS 128

typedef enum Region
{
	R_ACTION,
	R_TRIGGER,
	R_COND
} Region;

typedef enum TokKind
{
	TK_WORD,
	TK_SEP,
	TK_CHANNEL
} TokKind;

typedef struct Tok
{
	int			start;
	int			end;
	TokKind		kind;
	bool		is_else;		/* a separator meaning "otherwise" */
	Region		region;
	int			clause;
} Tok;

typedef enum EntKind
{
	EK_QUOTE,
	EK_URL,
	EK_EMAIL,
	EK_PAYID,
	EK_PHONE,
	EK_CHANNEL,
	EK_AMOUNT
} EntKind;

typedef struct Ent
{
	EntKind		kind;
	int			start;
	int			end;
	char	   *text;			/* malloc'd value (NULL for amounts) */
	double		num;			/* amounts */
	bool		unit;			/* amounts: had a currency or k/lakh */
	bool		used;
	int			clause;			/* set by locate_ents */
	Region		region;
} Ent;

/* Which fields of trigger_data hold what, per trigger (NULL: none). */
typedef struct TriggerFields
{
	const char *contact;
	const char *amount;
	const char *email;
	const char *name;
	const char *text;
	const char *id;
} TriggerFields;

typedef struct Action
{
	const ToolService *svc;
	const ToolTask *task;
	int			pos;
	int			clause;
	int			branch;			/* 0 before the router, 1 condition, 2 else */
	double		delay_s;		/* wait this long before the step (0: none) */
	char		id[BP_MAX_ID_LEN + 1];
} Action;

typedef struct Draft
{
	char	   *orig;			/* prompt, NUL-terminated */
	char	   *low;			/* lower-cased, entities masked */
	int			len;
	Tok		   *toks;
	int			ntok;
	int			nclause;
	Ent			ents[MAX_ENTS];
	int			nent;
	cJSON	   *warnings;

	/* trigger */
	const char *trig_type;
	char		trig_event[201];
	char		trig_cron[64];
	char		trig_table[64];
	TriggerFields tf;
	bool		trig_razorpay;

	/* condition */
	bool		has_cond;
	char	   *cond_left;
	const char *cond_op;
	bool		cond_num;
	double		cond_value;
	char	   *cond_text;
	int			cond_clause;
	int			else_pos;

	Action		acts[DRAFT_MAX_ACTIONS];
	int			nact;
	signed char *desc;			/* per clause: -1 unknown, 0/1 description */
} Draft;

/* ---------------------------------------------------------------------
 * Vocabulary tables
 * ---------------------------------------------------------------------
 */

/*
 * Service synonyms.  task NULL: the task is chosen from the clause's words
 * (or the service's first task).  strong: the word names the service by
 * itself; a weak word of a messaging service ("message", "text") gives way
 * to a strong word of another messaging service in the same clause.
 * needs_task: the hit only counts when a task word is in the clause.
 */
typedef struct SvcSyn
{
	const char *service;
	const char *task;
	const char *phrase;
	bool		strong;
	bool		channel;
	bool		needs_task;
} SvcSyn;

static const SvcSyn svc_syns[] = {
	{"whatsapp", "send_message", "whats app", true, true, false},
	{"whatsapp", "send_message", "whatsapp", true, true, false},
	{"whatsapp", "send_message", "message", false, true, false},
	{"whatsapp", "send_message", "msg", false, true, false},
	{"whatsapp", "send_message", "text", false, true, false},
	{"whatsapp", "send_message", "reply", false, true, false},
	{"whatsapp", "send_message", "respond", false, true, false},
	{"whatsapp", "send_message", "thank", false, true, false},
	{"whatsapp", "send_message", "remind", false, true, false},
	{"whatsapp", "send_message", "reminder", false, true, false},
	{"whatsapp", "send_message", "confirmation", false, true, false},
	{"whatsapp", "send_message", "dm", false, true, false},
	{"razorpay", "create_payment_link", "payment link", true, false, false},
	{"razorpay", "create_payment_link", "pay link", true, false, false},
	{"razorpay", "create_payment_link", "upi link", true, false, false},
	{"razorpay", "create_payment_link", "collect payment", true, false, false},
	{"razorpay", "create_payment_link", "request payment", true, false, false},
	{"razorpay", "create_invoice", "invoice", true, false, false},
	{"razorpay", "create_invoice", "bill", true, false, false},
	{"razorpay", NULL, "razorpay", true, false, false},
	{"razorpay", NULL, "rzp", true, false, false},
	{"razorpay", NULL, "payment", false, false, true},
	{"instagram", "publish_photo", "instagram", true, true, false},
	{"instagram", "publish_photo", "insta", true, true, false},
	{"instagram", "publish_photo", "ig", true, true, false},
	{"instagram", "publish_photo", "reel", true, true, false},
	{"instagram", "publish_photo", "photo", false, true, false},
	{"instagram", "publish_photo", "picture", false, true, false},
	{"slack", "post_message", "slack", true, true, false},
	{"slack", "post_message", "the team", false, true, false},
	{"slack", "post_message", "my team", false, true, false},
	{"slack", "post_message", "our team", false, true, false},
	{"slack", "post_message", "staff", false, true, false},
	{"llm", NULL, "chatgpt", true, false, false},
	{"llm", NULL, "gpt", true, false, false},
	{"llm", NULL, "openai", true, false, false},
	{"llm", NULL, "llm", true, false, false},
	{"llm", NULL, "ai", true, false, false},
	{"llm", "complete", "summarise", true, false, false},
	{"llm", "complete", "summarize", true, false, false},
	{"llm", "complete", "summary", true, false, false},
	{"llm", "complete", "translate", true, false, false},
	{"llm", "classify", "classify", true, false, false},
	{"llm", "classify", "categorise", true, false, false},
	{"llm", "classify", "categorize", true, false, false},
	{"llm", "classify", "sentiment", true, false, false},
	{"http", "request", "api", true, false, false},
	{"http", "request", "endpoint", true, false, false},
	{"http", "request", "webhook", true, false, false},
	{"http", "request", "http", true, false, false},
	{NULL, NULL, NULL, false, false, false}
};

/* Extra words choosing a task (besides the distinctive words of its name). */
typedef struct TaskWord
{
	const char *service;
	const char *task;
	const char *words;			/* space-separated */
} TaskWord;

static const TaskWord task_words[] = {
	{"razorpay", "create_payment_link", "link collect request"},
	{"razorpay", "create_invoice", "invoice bill"},
	{"razorpay", "fetch_payment", "check look lookup verify status details"},
	{"llm", "complete", "summarise summarize summary write draft generate answer reply translate caption quote"},
	{"llm", "classify", "categorise categorize category label sentiment detect whether figure hot"},
	{NULL, NULL, NULL}
};

/* Event words: canonical word -> words of a prompt that mean it. */
typedef struct EventWord
{
	const char *word;
	const char *syns;			/* space-separated, stem-matched */
} EventWord;

static const EventWord event_words[] = {
	{"payment", "payment pay"},
	{"captured", "captured capture paid pays pay receive received get gets comes done successful success complete completed succeeds made goes"},
	{"failed", "failed fail fails failure declined bounced unsuccessful"},
	{"link", "link"},
	{"paid", "paid pays pay settled cleared"},
	{"invoice", "invoice bill"},
	{"order", "order"},
	{"refund", "refund refunded"},
	{"created", "created create new added made raised issued comes posted leaves left gets"},
	{"message", "message msg text writes whatsapps chat dm posts says"},
	{"received", "received receive arrives arrive comes get gets sends messages writes texts whatsapps aaye incoming inbound new shows"},
	{"comment", "comment commented"},
	{"app", "app bot"},
	{"mention", "mention mentioned tags tag tagged"},
	{"reaction", "reaction reacts react emoji"},
	{"added", "added adds add"},
	{NULL, NULL}
};

/* Apps people name that the catalog lacks. */
typedef struct UnknownApp
{
	const char *phrase;
	const char *display;
} UnknownApp;

static const UnknownApp unknown_apps[] = {
	{"gmail", "Gmail"},
	{"google sheets", "Google Sheets"},
	{"google sheet", "Google Sheets"},
	{"sheets", "Google Sheets"},
	{"spreadsheet", "Google Sheets"},
	{"excel", "Excel"},
	{"notion", "Notion"},
	{"email", "Email"},
	{"e-mail", "Email"},
	{"sms", "SMS"},
	{"telegram", "Telegram"},
	{"discord", "Discord"},
	{"shopify", "Shopify"},
	{"zoho", "Zoho"},
	{"tally", "Tally"},
	{"hubspot", "HubSpot"},
	{"mailchimp", "Mailchimp"},
	{"airtable", "Airtable"},
	{"trello", "Trello"},
	{"facebook", "Facebook"},
	{"twitter", "Twitter"},
	{"calendar", "Google Calendar"},
	{"stripe", "Stripe"},
	{"paytm", "Paytm"},
	{"phonepe", "PhonePe"},
	{NULL, NULL}
};

/* Verbs that start an action and so end a trigger or condition region. */
static const char *const action_verbs[] = {
	"send", "post", "create", "notify", "tell", "alert", "ping", "generate",
	"reply", "share", "publish", "thank", "remind", "raise", "issue",
	"forward", "ask", "summarise", "summarize", "classify", "call", "hit",
	"fetch", "check", "make", "log", "add", "update", "translate", "put",
	"drop", "let", "bill", "invoice", "collect", "request", "write", "draft",
	"answer", "page", "inform", "mark", "push", "sync", "whatsapp", "dm",
	"have", "use", "daal", "bhejo", "karo", "banao", "please", "i", "we",
	"then", "message", "text", NULL
};

/* Words that make a clause a description of the shop, not a command. */
static const char *const state_verbs[] = {
	"uses", "has", "get", "gets", "keep", "keeps", "run",
	"runs", "is", "are", "was", "said", "sell", NULL
};

static const char *const day_names[] = {
	"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", NULL
};

static const char *const name_stop[] = {
	"Rs", "INR", "I", "WhatsApp", "Whatsapp", "Slack", "Instagram", "Insta",
	"Razorpay", "AI", "API", "The", "A", "An", "My", "Our", "Every", "Each",
	"When", "If", "Please", "Then", "Monday", "Tuesday", "Wednesday",
	"Thursday", "Friday", "Saturday", "Sunday", "Diwali", "Holi", "Gmail",
	"Google", "Notion", "UPI", "GPT", "OK", NULL
};

/* ---------------------------------------------------------------------
 * Small helpers
 * ---------------------------------------------------------------------
 */

/*
 * in_list
 *		Is the n bytes at s one of the words of a NULL-terminated list?
 */
static bool
in_list(const char *s, int n, const char *const *list)
{
	int			i;

	for (i = 0; list[i] != NULL; i++)
		if ((int) strlen(list[i]) == n && memcmp(list[i], s, n) == 0)
			return true;
	return false;
}

/*
 * stem_eq
 *		Does the token (t, n bytes) equal word w, allowing a plural or verb
 *		ending on either side ("orders" ~ "order", "pays" ~ "pay",
 *		"calling" ~ "call", "captured" ~ "capture")?
 */
static bool
stem_eq(const char *t, int n, const char *w, int wn)
{
	static const char *const ends[] = {"s", "es", "d", "ed", "ing", NULL};
	int			i;

	if (n == wn && memcmp(t, w, n) == 0)
		return true;
	if (wn < 2 || n < 2)
		return false;
	for (i = 0; ends[i] != NULL; i++)
	{
		int			el = (int) strlen(ends[i]);

		if (n == wn + el && memcmp(t, w, wn) == 0 && memcmp(t + wn, ends[i], el) == 0)
			return true;
		if (wn == n + el && memcmp(w, t, n) == 0 && memcmp(w + n, ends[i], el) == 0)
			return true;
	}
	/* "capture" ~ "capturing" */
	if (w[wn - 1] == 'e' && n == wn + 2 && memcmp(t, w, wn - 1) == 0 &&
		memcmp(t + wn - 1, "ing", 3) == 0)
		return true;
	return false;
}

/*
 * tok_is
 *		Is token i a word equal to w (exactly)?
 */
static bool
tok_is(const Draft *d, int i, const char *w)
{
	const Tok  *t;

	if (i < 0 || i >= d->ntok)
		return false;
	t = &d->toks[i];
	return t->kind == TK_WORD && (int) strlen(w) == t->end - t->start &&
		memcmp(d->low + t->start, w, t->end - t->start) == 0;
}

/*
 * tok_stem
 *		Is token i a word stem-equal to w?
 */
static bool
tok_stem(const Draft *d, int i, const char *w)
{
	const Tok  *t;

	if (i < 0 || i >= d->ntok)
		return false;
	t = &d->toks[i];
	return t->kind == TK_WORD &&
		stem_eq(d->low + t->start, t->end - t->start, w, (int) strlen(w));
}

/*
 * tok_in
 *		Is token i a word from the list (exactly)?
 */
static bool
tok_in(const Draft *d, int i, const char *const *list)
{
	if (i < 0 || i >= d->ntok || d->toks[i].kind != TK_WORD)
		return false;
	return in_list(d->low + d->toks[i].start, d->toks[i].end - d->toks[i].start, list);
}

/*
 * tok_in_words
 *		Is token i stem-equal to one of the space-separated words?
 */
static bool
tok_in_words(const Draft *d, int i, const char *words)
{
	const char *p = words;

	if (i < 0 || i >= d->ntok || d->toks[i].kind != TK_WORD)
		return false;
	while (*p)
	{
		const char *e = strchr(p, ' ');
		int			n = e ? (int) (e - p) : (int) strlen(p);

		if (stem_eq(d->low + d->toks[i].start, d->toks[i].end - d->toks[i].start, p, n))
			return true;
		p += n;
		while (*p == ' ')
			p++;
	}
	return false;
}

/*
 * phrase_at
 *		Number of tokens of phrase (space-separated words) matched at token
 *		i, consecutive words in one clause; 0 when it does not match.  The
 *		last word is stem-matched, the others exactly.
 */
static int
phrase_at(const Draft *d, int i, const char *phrase)
{
	const char *p = phrase;
	int			k = 0;

	while (*p)
	{
		const char *e = strchr(p, ' ');
		int			n = e ? (int) (e - p) : (int) strlen(p);
		const Tok  *t;

		if (i + k >= d->ntok)
			return 0;
		t = &d->toks[i + k];
		if (t->kind != TK_WORD)
			return 0;
		if (e != NULL)
		{
			if (t->end - t->start != n || memcmp(d->low + t->start, p, n) != 0)
				return 0;
		}
		else if (!stem_eq(d->low + t->start, t->end - t->start, p, n))
			return 0;
		k++;
		p += n;
		while (*p == ' ')
			p++;
	}
	return k;
}

/*
 * add_warning
 *		Append a warning (printf-style), once: identical texts are kept once.
 */
static void add_warning(Draft *d, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
add_warning(Draft *d, const char *fmt,...)
{
	char		buf[512];
	va_list		ap;
	cJSON	   *w;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cJSON_ArrayForEach(w, d->warnings)
	{
		if (w->valuestring && strcmp(w->valuestring, buf) == 0)
			return;
	}
	if (cJSON_GetArraySize(d->warnings) < 50)
		cJSON_AddItemToArray(d->warnings, cJSON_CreateString(buf));
}

/*
 * clean_text
 *		A malloc'd copy of n bytes of s fit for a parameter: control
 *		characters become spaces, runs of spaces collapse, "{{" is broken
 *		up (user text must never become a template), cut to max bytes at a
 *		UTF-8 character boundary, trimmed.
 */
static char *
clean_text(const char *s, int n, int max)
{
	char	   *out = malloc((size_t) n + 1);
	int			o = 0;
	int			i;

	if (out == NULL)
		return NULL;
	for (i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c < 0x20 || c == 0x7f)
			c = ' ';
		if (c == ' ' && (o == 0 || out[o - 1] == ' '))
			continue;
		if (c == '{' && o > 0 && out[o - 1] == '{')
			continue;
		out[o++] = (char) c;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	if (o > max)
	{
		o = max;
		while (o > 0 && ((unsigned char) out[o] & 0xC0) == 0x80)
			o--;
		while (o > 0 && out[o - 1] == ' ')
			o--;
	}
	out[o] = '\0';
	return out;
}

/* ---------------------------------------------------------------------
 * 1. Entities
 * ---------------------------------------------------------------------
 */

/*
 * add_ent
 *		Record an entity over [start, end) and mask it in the lower-cased
 *		text (so its words are not read as commands).
 */
static Ent *
add_ent(Draft *d, EntKind kind, int start, int end, char *text, bool mask)
{
	Ent		   *e;

	if (d->nent >= MAX_ENTS)
	{
		free(text);
		return NULL;
	}
	e = &d->ents[d->nent++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->start = start;
	e->end = end;
	e->text = text;
	if (mask)
		memset(d->low + start, ' ', end - start);
	return e;
}

/*
 * masked
 *		Is byte p inside an entity already masked?
 */
static bool
masked(const Draft *d, int p)
{
	int			i;

	for (i = 0; i < d->nent; i++)
		if (d->ents[i].kind <= EK_PHONE && p >= d->ents[i].start && p < d->ents[i].end)
			return true;
	return false;
}

/*
 * utf8_at
 *		Does the 3-byte UTF-8 sequence seq start at p?
 */
static bool
utf8_at(const Draft *d, int p, const char *seq)
{
	return p + 3 <= d->len && memcmp(d->orig + p, seq, 3) == 0;
}

/*
 * find_quotes
 *		"...", '...', curly quotes.  A single quote opens only at the start
 *		of a word and closes only at the end of one (so "today's" is not a
 *		quote).  Contents are at most 1000 bytes.
 */
static void
find_quotes(Draft *d)
{
	int			p = 0;

	while (p < d->len)
	{
		char		c = d->orig[p];
		int			open_len = 0;
		int			q;
		int			close_at = -1;
		int			close_len = 0;

		if (c == '"')
			open_len = 1;
		else if (c == '\'' && (p == 0 || !isalnum((unsigned char) d->orig[p - 1])))
			open_len = 1;
		else if (utf8_at(d, p, "\xe2\x80\x9c") || utf8_at(d, p, "\xe2\x80\x98"))
			open_len = 3;
		if (open_len == 0)
		{
			p++;
			continue;
		}
		for (q = p + open_len; q < d->len && q - p < 1000; q++)
		{
			if (open_len == 1 && d->orig[q] == c &&
				(c == '"' || q + 1 >= d->len || !isalnum((unsigned char) d->orig[q + 1])))
			{
				close_at = q;
				close_len = 1;
				break;
			}
			if (open_len == 3 && (utf8_at(d, q, "\xe2\x80\x9d") || utf8_at(d, q, "\xe2\x80\x99")))
			{
				close_at = q;
				close_len = 3;
				break;
			}
		}
		if (close_at > p + open_len)
		{
			char	   *text = clean_text(d->orig + p + open_len, close_at - p - open_len, 1000);

			if (text && text[0])
				add_ent(d, EK_QUOTE, p, close_at + close_len, text, true);
			else
				free(text);
			p = close_at + close_len;
		}
		else
			p += open_len;
	}
}

/*
 * find_urls_emails
 *		http(s) URLs (up to whitespace or a quote, trailing punctuation
 *		dropped), email addresses and Razorpay payment ids (pay_...).
 */
static void
find_urls_emails(Draft *d)
{
	int			p;

	for (p = 0; p < d->len; p++)
	{
		int			q;

		if (masked(d, p))
			continue;
		if ((strncmp(d->low + p, "http://", 7) == 0 || strncmp(d->low + p, "https://", 8) == 0) &&
			(p == 0 || !isalnum((unsigned char) d->low[p - 1])))
		{
			for (q = p; q < d->len && !isspace((unsigned char) d->orig[q]) &&
				 d->orig[q] != '"' && d->orig[q] != '\'' && d->orig[q] != '<' &&
				 d->orig[q] != '>' && (unsigned char) d->orig[q] >= 0x21; q++)
				;
			while (q > p && strchr(".,;:!?)", d->orig[q - 1]))
				q--;
			if (q - p > 10 && q - p <= 2000)
				add_ent(d, EK_URL, p, q, clean_text(d->orig + p, q - p, 2000), true);
			p = q;
			continue;
		}
		if (d->orig[p] == '@' && p > 0)
		{
			int			s = p;
			int			dots = 0;

			while (s > 0 && (isalnum((unsigned char) d->orig[s - 1]) || strchr("._%+-", d->orig[s - 1])))
				s--;
			for (q = p + 1; q < d->len && (isalnum((unsigned char) d->orig[q]) || d->orig[q] == '.' ||
										   d->orig[q] == '-'); q++)
				if (d->orig[q] == '.')
					dots++;
			while (q > p + 1 && d->orig[q - 1] == '.')
			{
				q--;
				dots--;
			}
			if (s < p && dots > 0 && q - s <= 254 && !masked(d, s))
			{
				add_ent(d, EK_EMAIL, s, q, clean_text(d->orig + s, q - s, 254), true);
				p = q;
			}
			continue;
		}
		if (strncmp(d->low + p, "pay_", 4) == 0 && (p == 0 || !isalnum((unsigned char) d->low[p - 1])))
		{
			for (q = p + 4; q < d->len && isalnum((unsigned char) d->orig[q]); q++)
				;
			if (q - p >= 8 && q - p <= 40)
				add_ent(d, EK_PAYID, p, q, clean_text(d->orig + p, q - p, 40), true);
			p = q;
		}
	}
}

/*
 * find_phones
 *		Indian mobile numbers (10 digits from 6-9, optional +91 / 91 / 0,
 *		spaces or dashes between groups) as "+91XXXXXXXXXX", and other
 *		"+<8..15 digits>" numbers as written.
 */
static void
find_phones(Draft *d)
{
	int			p;

	for (p = 0; p < d->len; p++)
	{
		char		digits[20];
		int			nd = 0;
		int			q = p;
		int			last = p;
		bool		plus = false;
		char		out[24];

		if (masked(d, p) || (p > 0 && (isalnum((unsigned char) d->orig[p - 1]) ||
									   d->orig[p - 1] == '+' || d->orig[p - 1] == '.')))
			continue;
		if (d->orig[p] == '+')
		{
			plus = true;
			q++;
		}
		if (q >= d->len || !isdigit((unsigned char) d->orig[q]))
			continue;
		while (q < d->len && nd < 16)
		{
			if (isdigit((unsigned char) d->orig[q]))
			{
				digits[nd++] = d->orig[q];
				last = ++q;
			}
			else if ((d->orig[q] == ' ' || d->orig[q] == '-') && q + 1 < d->len &&
					 isdigit((unsigned char) d->orig[q + 1]) && nd > 0)
				q++;
			else
				break;
		}
		digits[nd] = '\0';
		if (last < d->len && isalnum((unsigned char) d->orig[last]))
			continue;
		out[0] = '\0';
		if (nd == 10 && digits[0] >= '6' && digits[0] <= '9' && !plus)
			snprintf(out, sizeof(out), "+91%s", digits);
		else if (nd == 11 && digits[0] == '0' && digits[1] >= '6' && !plus)
			snprintf(out, sizeof(out), "+91%s", digits + 1);
		else if (nd == 12 && strncmp(digits, "91", 2) == 0 && digits[2] >= '6')
			snprintf(out, sizeof(out), "+%s", digits);
		else if (plus && nd >= 8 && nd <= 15)
			snprintf(out, sizeof(out), "+%s", digits);
		if (out[0])
		{
			add_ent(d, EK_PHONE, p, last, fdb_strdup(out), true);
			p = last;
		}
	}
}

/*
 * find_channels
 *		Slack channels: "#name" at the start of a word.
 */
static void
find_channels(Draft *d)
{
	int			p;

	for (p = 0; p < d->len; p++)
	{
		int			q;

		if (d->low[p] != '#' || (p > 0 && isalnum((unsigned char) d->low[p - 1])))
			continue;
		for (q = p + 1; q < d->len && (isalnum((unsigned char) d->low[q]) || d->low[q] == '_' ||
									   d->low[q] == '-'); q++)
			;
		while (q > p + 1 && d->low[q - 1] == '-')
			q--;
		if (q - p >= 2 && q - p <= 80)
			add_ent(d, EK_CHANNEL, p, q, clean_text(d->low + p, q - p, 80), false);
		p = q;
	}
}

/*
 * word_at_is
 *		Does the lower-cased text at p start with word w followed by a
 *		non-letter?
 */
static bool
word_at_is(const Draft *d, int p, const char *w)
{
	int			n = (int) strlen(w);

	return p + n <= d->len && strncmp(d->low + p, w, n) == 0 &&
		(p + n == d->len || !isalpha((unsigned char) d->low[p + n]));
}

/*
 * find_amounts
 *		Numbers as amounts: "Rs 500", "Rs. 1,200", "INR 2,500", "₹1,200",
 *		"500 rupees", "5k", "1.5 lakh", "2 crore", or a plain number
 *		(unit = false).  Times ("9am", "9:30"), ordinals ("1st"), counts of
 *		minutes/days/kg and digits inside other words are not amounts.
 */
static void
find_amounts(Draft *d)
{
	int			p;

	for (p = 0; p < d->len; p++)
	{
		int			q = p;
		int			s;
		double		v = 0;
		bool		unit = false;
		int			end;

		if (!isdigit((unsigned char) d->low[p]) || masked(d, p) ||
			(p > 0 && (isalnum((unsigned char) d->low[p - 1]) || d->low[p - 1] == ':' ||
					   d->low[p - 1] == '_' || d->low[p - 1] == '#')))
			continue;
		while (q < d->len && (isdigit((unsigned char) d->low[q]) ||
							  (d->low[q] == ',' && q + 1 < d->len && isdigit((unsigned char) d->low[q + 1]))))
		{
			if (d->low[q] != ',')
				v = v * 10 + (d->low[q] - '0');
			q++;
			if (v > 1e12)
				break;
		}
		if (q < d->len && d->low[q] == '.' && q + 1 < d->len && isdigit((unsigned char) d->low[q + 1]))
		{
			double		f = 0.1;

			for (q++; q < d->len && isdigit((unsigned char) d->low[q]); q++, f /= 10)
				v += (d->low[q] - '0') * f;
		}
		end = q;
		/* times and ordinals */
		if (q < d->len && (d->low[q] == ':' || word_at_is(d, q, "am") || word_at_is(d, q, "pm") ||
						   word_at_is(d, q, "st") || word_at_is(d, q, "nd") ||
						   word_at_is(d, q, "rd") || word_at_is(d, q, "th")))
		{
			p = q;
			continue;
		}
		s = q;
		while (s < d->len && d->low[s] == ' ')
			s++;
		if (word_at_is(d, s, "am") || word_at_is(d, s, "pm") || word_at_is(d, s, "a.m") ||
			word_at_is(d, s, "p.m"))
		{
			p = q;
			continue;
		}
		/* a currency before the number */
		if (!unit)
		{
			int			b = p;

			while (b > 0 && (d->low[b - 1] == ' ' || d->low[b - 1] == '.'))
				b--;
			if ((b >= 2 && strncmp(d->low + b - 2, "rs", 2) == 0 &&
				 (b == 2 || !isalpha((unsigned char) d->low[b - 3]))) ||
				(b >= 3 && strncmp(d->low + b - 3, "inr", 3) == 0) ||
				(b >= 3 && strncmp(d->orig + b - 3, "\xe2\x82\xb9", 3) == 0))
				unit = true;
		}
		if (word_at_is(d, q, "k"))
		{
			v *= 1000;
			unit = true;
			end = q + 1;
		}
		else if (word_at_is(d, s, "lakh") || word_at_is(d, s, "lakhs") || word_at_is(d, s, "lac"))
		{
			v *= 100000;
			unit = true;
			end = s + 4;
		}
		else if (word_at_is(d, s, "crore") || word_at_is(d, s, "crores"))
		{
			v *= 10000000;
			unit = true;
			end = s + 5;
		}
		else if (word_at_is(d, s, "rupees") || word_at_is(d, s, "rupee") || word_at_is(d, s, "rs") ||
				 word_at_is(d, s, "inr") || word_at_is(d, s, "bucks") ||
				 (s + 2 <= d->len && strncmp(d->low + s, "/-", 2) == 0))
			unit = true;
		else if (!unit && s < d->len && isalpha((unsigned char) d->low[s]))
		{
			/* "15 minutes", "3 kg", "2 kurtas": a count, not money */
			static const char *const counts[] = {
				"minute", "minutes", "min", "mins", "hour", "hours", "hr", "hrs",
				"day", "days", "week", "weeks", "month", "months", "year",
				"years", "kg", "g", "gm", "l", "litre", "litres", "pcs",
				"pieces", "items", "units", "times", "people", "of", NULL
			};
			static const char *const verbs[] = {
				"comes", "goes", "gets", "arrives", "pays", "is", "was", NULL
			};
			int			e = s;

			while (e < d->len && isalpha((unsigned char) d->low[e]))
				e++;

			if (in_list(d->low + s, e - s, counts) ||
				(e - s > 2 && d->low[e - 1] == 's' && !in_list(d->low + s, e - s, verbs)))
			{
				p = q;
				continue;
			}
		}
		if (v > 0 && v < 1e11)
		{
			Ent		   *e = add_ent(d, EK_AMOUNT, p, end, NULL, false);

			if (e)
			{
				e->num = round(v * 100) / 100;
				e->unit = unit;
			}
		}
		p = end;
	}
}

/* ---------------------------------------------------------------------
 * 2. Tokens, clauses and regions
 * ---------------------------------------------------------------------
 */

/*
 * add_tok
 *		Append a token (dropped silently past MAX_TOKENS).
 */
static void
add_tok(Draft *d, int start, int end, TokKind kind)
{
	Tok		   *t;

	if (d->ntok >= MAX_TOKENS)
		return;
	t = &d->toks[d->ntok++];
	memset(t, 0, sizeof(*t));
	t->start = start;
	t->end = end;
	t->kind = kind;
}

/*
 * tokenize
 *		Words ([a-z0-9]+), #channels and separators.  Separator words
 *		("then", "otherwise", ...) become TK_SEP; "otherwise"-like ones are
 *		marked is_else.  Clause numbers are assigned along the way.
 */
static void
tokenize(Draft *d)
{
	static const char *const sep_words[] = {"then", "toh", "otherwise", "else", "warna", NULL};
	static const char *const else_words[] = {"otherwise", "else", "warna", NULL};
	int			p = 0;
	int			clause = 0;
	int			i;

	while (p < d->len)
	{
		unsigned char c = (unsigned char) d->low[p];

		if (isalnum(c))
		{
			int			q = p;

			/* words keep inner underscores (table names such as cake_orders) */
			while (q < d->len && (isalnum((unsigned char) d->low[q]) ||
								  (d->low[q] == '_' && q + 1 < d->len &&
								   isalnum((unsigned char) d->low[q + 1]))))
				q++;
			if (in_list(d->low + p, q - p, sep_words))
			{
				add_tok(d, p, q, TK_SEP);
				if (d->ntok > 0 && in_list(d->low + p, q - p, else_words))
					d->toks[d->ntok - 1].is_else = true;
			}
			else
				add_tok(d, p, q, TK_WORD);
			p = q;
		}
		else if (c == '#' && p + 1 < d->len && isalnum((unsigned char) d->low[p + 1]))
		{
			int			q = p + 1;

			while (q < d->len && (isalnum((unsigned char) d->low[q]) || d->low[q] == '_' ||
								  d->low[q] == '-'))
				q++;
			add_tok(d, p, q, TK_CHANNEL);
			p = q;
		}
		else if ((strchr(",;!?()\n", (char) c) &&
				  !(c == ',' && p > 0 && isdigit((unsigned char) d->low[p - 1]) &&
					p + 1 < d->len && isdigit((unsigned char) d->low[p + 1]))) ||
				 (c == ':' && !(p > 0 && isdigit((unsigned char) d->low[p - 1]) &&
								p + 1 < d->len && isdigit((unsigned char) d->low[p + 1]))) ||
				 (c == '.' && (p + 1 >= d->len || isspace((unsigned char) d->low[p + 1])) &&
				  !(p >= 2 && (strncmp(d->low + p - 2, "rs", 2) == 0 ||
							   strncmp(d->low + p - 2, "mr", 2) == 0 ||
							   strncmp(d->low + p - 2, "dr", 2) == 0 ||
							   strncmp(d->low + p - 2, "ms", 2) == 0)) &&
				  !(p >= 3 && strncmp(d->low + p - 3, "mrs", 3) == 0)) ||
				 (c == '-' && p + 1 < d->len && d->low[p + 1] == '>') ||
				 utf8_at(d, p, "\xe2\x80\x94"))
		{
			add_tok(d, p, p + 1, TK_SEP);
			p += (c == 0xe2) ? 3 : 1;
		}
		else
			p++;
	}
	for (i = 0; i < d->ntok; i++)
	{
		if (d->toks[i].kind == TK_SEP && i > 0 && d->toks[i - 1].kind != TK_SEP)
			clause++;
		/*
		 * "thank them on WhatsApp and if it is over 5000 tell #sales": the
		 * step before "and if" does not depend on the condition
		 */
		else if (i > 0 && d->toks[i - 1].kind != TK_SEP &&
				 phrase_at(d, i, "and if"))
			clause++;
		d->toks[i].clause = clause;
	}
	d->nclause = clause + 1;
}

/*
 * clause_of_pos
 *		The clause of byte p: that of the last token starting at or before
 *		p (0 before the first token).
 */
static int
clause_of_pos(const Draft *d, int p)
{
	int			i;
	int			c = 0;

	for (i = 0; i < d->ntok && d->toks[i].start <= p; i++)
		c = d->toks[i].clause;
	return c;
}

/*
 * region_of_pos
 *		The region of byte p (that of the last token at or before it in
 *		the same clause; ACTION otherwise).
 */
static Region
region_of_pos(const Draft *d, int p)
{
	int			i;
	Region		r = R_ACTION;

	for (i = 0; i < d->ntok && d->toks[i].start <= p; i++)
		r = d->toks[i].kind == TK_SEP ? R_ACTION : d->toks[i].region;
	return r;
}

/*
 * time_word
 *		Does token i name a time unit or day (so "every <it>" is a schedule,
 *		not "every <event>")?
 */
static bool
time_word(const Draft *d, int i)
{
	static const char *const units[] = {
		"minute", "hour", "day", "morning", "evening", "night", "afternoon",
		"week", "weekday", "weekend", "month", "other", "year", "noon", NULL
	};
	int			k;

	if (i >= d->ntok || d->toks[i].kind != TK_WORD)
		return false;
	if (isdigit((unsigned char) d->low[d->toks[i].start]))
		return true;
	for (k = 0; units[k]; k++)
		if (tok_stem(d, i, units[k]))
			return true;
	for (k = 0; day_names[k]; k++)
		if (tok_stem(d, i, day_names[k]))
			return true;
	return false;
}

/*
 * trigger_marker
 *		Number of tokens of a trigger marker at token i ("when", "every
 *		time", "as soon as", "every <non-time word>", ...), 0 if none.
 */
static int
trigger_marker(const Draft *d, int i)
{
	static const char *const single[] = {"when", "whenever", "jab", "everytime", "anytime", NULL};
	static const char *const multi[] = {
		"every time", "each time", "any time", "as soon as", "koi bhi", "jab bhi", NULL
	};
	int			k;
	int			n;

	for (k = 0; multi[k]; k++)
		if ((n = phrase_at(d, i, multi[k])) > 0)
			return n;
	if (tok_in(d, i, single))
		return 1;
	if ((tok_is(d, i, "every") || tok_is(d, i, "each")) && !time_word(d, i + 1))
		return 1;
	if (tok_is(d, i, "after") && (tok_is(d, i + 1, "a") || tok_is(d, i + 1, "an") ||
								  tok_is(d, i + 1, "someone") || tok_is(d, i + 1, "every")))
		return 1;
	return 0;
}

/*
 * verb_at
 *		Is token i an action verb used as a verb: not after an article
 *		("a bill", "every WhatsApp message") and not before "is" / "arrives"
 *		("an invoice is paid")?
 */
static bool
verb_at(const Draft *d, int i, bool in_region)
{
	static const char *const dets[] = {
		"a", "an", "the", "each", "every", "new", "any", "this", "that", "our",
		"my", "your", "their", "his", "her", "its", "koi", "bhi", "on", "in",
		"via", "through", "from", "at", "with", "using", "to", NULL
	};
	static const char *const links[] = {
		"is", "are", "was", "were", "gets", "arrives", "comes", "message",
		"messages", "link", "links", "payment", "aaye", NULL
	};

	static const char *const objects[] = {
		"him", "her", "them", "me", "us", "it", "the", "customer", "customers",
		"owner", "buyer", NULL
	};

	static const char *const subjects[] = {
		"we", "i", "you", "they", "he", "she", "someone", "somebody", "customer",
		"customers", "anyone", "it", NULL
	};

	static const char *const wants[] = {
		"want", "need", "would", "d", "like", "should", "wanna", "also", "must", NULL
	};

	if (!tok_in(d, i, action_verbs))
		return false;
	if (i > 0 && tok_in(d, i - 1, dets))
		return false;
	/* "..., we want to send": "we" / "i" start a command only before a wish */
	if ((tok_is(d, i, "i") || tok_is(d, i, "we")) && !tok_in(d, i + 1, wants))
		return false;
	/* "when we get ...": a verb with its subject belongs to the event */
	if (in_region && i > 0 && tok_in(d, i - 1, subjects))
		return false;
	/* "message" and "text" are verbs only before an object ("message him") */
	if ((tok_is(d, i, "message") || tok_is(d, i, "text")) && !tok_in(d, i + 1, objects))
	{
		int			k;

		/* "message 9876543210 ...": a phone number is an object too */
		for (k = 0; k < d->nent; k++)
			if (d->ents[k].kind == EK_PHONE && d->ents[k].start >= d->toks[i].end &&
				d->ents[k].start <= d->toks[i].end + 2)
				return true;
		return false;
	}
	if (tok_in(d, i + 1, links))
		return false;
	return true;
}

/*
 * cond_marker
 *		Is token i the start of a condition ("if", "only", "unless", ...)?
 */
static bool
cond_marker(const Draft *d, int i)
{
	static const char *const words[] = {"if", "only", "unless", "agar", "jisme", "sirf", NULL};

	return tok_in(d, i, words);
}

/*
 * mark_regions
 *		From each marker to the end of its clause or the next action verb,
 *		tokens are TRIGGER or CONDITION; everything else stays ACTION.
 */
static void
mark_regions(Draft *d)
{
	int			i = 0;

	while (i < d->ntok)
	{
		int			n = trigger_marker(d, i);
		Region		r = R_ACTION;
		int			j;

		if (n > 0)
			r = R_TRIGGER;
		else if (cond_marker(d, i))
		{
			r = R_COND;
			n = 1;
		}
		if (r == R_ACTION)
		{
			i++;
			continue;
		}
		for (j = i; j < d->ntok; j++)
		{
			if (d->toks[j].kind == TK_SEP)
				break;
			if (j >= i + n && verb_at(d, j, true))
				break;
			/* "... only" ends a condition that started earlier */
			d->toks[j].region = r;
		}
		i = j > i ? j : i + 1;
	}
}

/* ---------------------------------------------------------------------
 * 3. Trigger
 * ---------------------------------------------------------------------
 */

/*
 * svc_named
 *		Does a strong synonym of service svc (or its name) occur in tokens
 *		[a, b)?
 */
static bool
svc_named(const Draft *d, const char *svc, int a, int b)
{
	int			i;
	int			k;

	for (i = a; i < b; i++)
	{
		if (tok_stem(d, i, svc))
			return true;
		for (k = 0; svc_syns[k].service; k++)
			if (svc_syns[k].strong && strcmp(svc_syns[k].service, svc) == 0 &&
				strchr(svc_syns[k].phrase, ' ') == NULL && tok_stem(d, i, svc_syns[k].phrase))
				return true;
	}
	return false;
}

/*
 * event_syns
 *		The prompt words meaning the event word w (w itself when the table
 *		has no entry).
 */
static const char *
event_syns(const char *w)
{
	int			k;

	for (k = 0; event_words[k].word; k++)
		if (strcmp(event_words[k].word, w) == 0)
			return event_words[k].syns;
	return w;
}

/*
 * split_event
 *		The words of an event name after its service ("razorpay.payment_link
 *		.paid" -> payment, link, paid) into words[] (each < 32 bytes).
 */
static int
split_event(const char *ev, char words[][32], int max)
{
	const char *p = strchr(ev, '.');
	int			n = 0;

	if (p == NULL)
		return 0;
	p++;
	while (*p && n < max)
	{
		int			k = 0;

		while (*p && *p != '.' && *p != '_' && k < 31)
			words[n][k++] = *p++;
		words[n][k] = '\0';
		if (k > 0)
			n++;
		while (*p == '.' || *p == '_')
			p++;
	}
	return n;
}

/*
 * best_event
 *		The catalog event whose words best match tokens [a, b), with its
 *		score in *score (NULL when none).  Each event word found counts
 *		1/(number of events having it), a missing one a quarter of that;
 *		naming the service in the region adds 1.5, elsewhere in the prompt
 *		0.5.  Ties go to the first event in catalog order.
 */
static const char *
best_event(const Draft *d, int a, int b, double *score)
{
	const char *best = NULL;
	double		best_score = -1e9;
	int			s;

	for (s = 0; fdb_services[s] != NULL; s++)
	{
		const ToolService *svc = fdb_services[s];
		bool		in_region = svc_named(d, svc->name, a, b);
		bool		anywhere = svc_named(d, svc->name, 0, d->ntok);
		int			e;

		for (e = 0; svc->events && svc->events[e]; e++)
		{
			char		words[8][32];
			int			nw = split_event(svc->events[e], words, 8);
			double		sc = in_region ? 1.5 : (anywhere ? 0.5 : 0);
			int			matched = 0;
			int			w;

			for (w = 0; w < nw; w++)
			{
				int			users = 0;
				int			s2;
				int			i;
				bool		found = false;

				/* how many events share this word */
				for (s2 = 0; fdb_services[s2] != NULL; s2++)
				{
					int			e2;

					for (e2 = 0; fdb_services[s2]->events && fdb_services[s2]->events[e2]; e2++)
					{
						char		w2[8][32];
						int			n2 = split_event(fdb_services[s2]->events[e2], w2, 8);
						int			k;

						for (k = 0; k < n2; k++)
							if (strcmp(w2[k], words[w]) == 0)
							{
								users++;
								break;
							}
					}
				}
				if (users == 0)
					users = 1;
				for (i = a; i < b && !found; i++)
					if (tok_in_words(d, i, event_syns(words[w])))
						found = true;
				if (found)
				{
					sc += 1.0 / users;
					matched++;
				}
				else
					sc -= 0.25 / users;
			}
			if (matched > 0 && sc > best_score)
			{
				best_score = sc;
				best = svc->events[e];
			}
		}
	}
	*score = best_score;
	return best;
}

/*
 * ident_ok
 *		Is the token a plausible table name?
 */
static bool
ident_ok(const Draft *d, int i)
{
	static const char *const bad[] = {
		"the", "a", "an", "this", "that", "our", "my", "your", "new", "table",
		"there", "it", "db", "database", "sheet", "sheets", "google", "postgres",
		"postgresql", "sql", "supabase", "called", "named", "in", "to", "into",
		"on", "of", "for", "from", "at", NULL
	};

	return i >= 0 && i < d->ntok && d->toks[i].kind == TK_WORD && !tok_in(d, i, bad) &&
		!tok_in(d, i, action_verbs) &&
		isalpha((unsigned char) d->low[d->toks[i].start]) &&
		d->toks[i].end - d->toks[i].start < 60;
}

/*
 * table_name_in
 *		A table named in tokens [a, b): "<name> table", "table called
 *		<name>", "row added to <name>".  Copied into d->trig_table.
 */
static bool
table_name_in(Draft *d, int a, int b)
{
	int			i;
	int			pick = -1;

	for (i = a; i < b && pick < 0; i++)
	{
		if (tok_is(d, i, "table"))
		{
			if ((tok_is(d, i + 1, "called") || tok_is(d, i + 1, "named")) && ident_ok(d, i + 2))
				pick = i + 2;
			else if (i > a && ident_ok(d, i - 1))
				pick = i - 1;
			else if (i + 1 < b && ident_ok(d, i + 1))
				pick = i + 1;
		}
	}
	for (i = a; i < b && pick < 0; i++)
	{
		if (tok_stem(d, i, "row") || tok_stem(d, i, "record") || tok_stem(d, i, "entry") ||
			tok_is(d, i, "entries") || tok_stem(d, i, "insert"))
		{
			int			j;

			for (j = i + 1; j < b && j < i + 6; j++)
				if (tok_is(d, j, "to") || tok_is(d, j, "into") || tok_is(d, j, "in"))
				{
					int			k = j + 1;

					while (k < b && (tok_is(d, k, "the") || tok_is(d, k, "our") || tok_is(d, k, "my")))
						k++;
					if (k < b && ident_ok(d, k))
						pick = k;
					break;
				}
		}
	}
	if (pick < 0)
		return false;
	snprintf(d->trig_table, sizeof(d->trig_table), "%.*s",
			 d->toks[pick].end - d->toks[pick].start, d->low + d->toks[pick].start);
	return true;
}

/*
 * has_table_words
 *		Do tokens [a, b) speak of table rows?
 */
static bool
has_table_words(const Draft *d, int a, int b)
{
	int			i;

	for (i = a; i < b; i++)
		if (tok_is(d, i, "table") || tok_stem(d, i, "row") || tok_stem(d, i, "record") ||
			tok_stem(d, i, "entry") || tok_is(d, i, "entries") || tok_stem(d, i, "insert") ||
			tok_is(d, i, "inserted"))
			return true;
	return false;
}

/*
 * new_noun_table
 *		"new order", "an order comes in", "order is placed": the table of
 *		that noun, pluralised.
 */
static bool
new_noun_table(Draft *d, int a, int b)
{
	int			i;

	for (i = a; i < b; i++)
	{
		int			k = -1;

		if (tok_is(d, i, "new") && ident_ok(d, i + 1) && i + 1 < b)
			k = i + 1;
		else if (ident_ok(d, i) && i + 1 < b &&
				 (phrase_at(d, i + 1, "comes in") || phrase_at(d, i + 1, "is placed") ||
				  phrase_at(d, i + 1, "is added") || phrase_at(d, i + 1, "signs up")))
			k = i;
		if (k >= 0 && !tok_in(d, k, action_verbs) && !tok_is(d, k, "message") &&
			!tok_is(d, k, "payment") && !tok_is(d, k, "comment"))
		{
			int			n = d->toks[k].end - d->toks[k].start;
			const char *w = d->low + d->toks[k].start;

			snprintf(d->trig_table, sizeof(d->trig_table), "%.*s%s", n, w,
					 w[n - 1] == 's' ? "" : "s");
			return true;
		}
	}
	return false;
}

/*
 * set_fields
 *		Where the trigger's data holds the contact, amount, ... for the
 *		chosen trigger (the event data shapes of razorpay_webhook and the
 *		WhatsApp/Slack/Instagram events; a row or payload otherwise).
 */
static void
set_fields(Draft *d)
{
	static const TriggerFields payment = {"contact", "amount_rupees", "email", NULL, "description", "id"};
	static const TriggerFields plink = {"customer.contact", "amount_rupees", "customer.email", "customer.name", "description", "id"};
	static const TriggerFields invoice = {"customer_details.contact", "amount_rupees", "customer_details.email", "customer_details.name", "description", "id"};
	static const TriggerFields refund = {NULL, "amount_rupees", NULL, NULL, NULL, "payment_id"};
	static const TriggerFields wa = {"sender", NULL, NULL, NULL, "body", NULL};
	static const TriggerFields ig = {NULL, NULL, NULL, "from.username", "text", "id"};
	static const TriggerFields slack = {NULL, NULL, NULL, "user", "text", "ts"};
	static const TriggerFields slack_reaction = {NULL, NULL, NULL, "user", "reaction", NULL};
	/* a table row or flow_run payload: names guessed, see trig_field */
	static const TriggerFields row = {"phone", "amount", NULL, "name", NULL, "id"};
	static const TriggerFields none = {NULL, NULL, NULL, NULL, NULL, NULL};
	const char *ev = d->trig_event;

	if (strcmp(d->trig_type, "schedule") == 0)
		d->tf = none;
	else if (strcmp(d->trig_type, "event") != 0)
		d->tf = row;
	else if (strncmp(ev, "razorpay.payment_link", 21) == 0)
		d->tf = plink;
	else if (strncmp(ev, "razorpay.invoice", 16) == 0)
		d->tf = invoice;
	else if (strncmp(ev, "razorpay.refund", 15) == 0)
		d->tf = refund;
	else if (strncmp(ev, "razorpay.", 9) == 0)
		d->tf = payment;
	else if (strncmp(ev, "whatsapp.", 9) == 0)
		d->tf = wa;
	else if (strncmp(ev, "instagram.", 10) == 0)
		d->tf = ig;
	else if (strncmp(ev, "slack.reaction", 14) == 0)
		d->tf = slack_reaction;
	else if (strncmp(ev, "slack.", 6) == 0)
		d->tf = slack;
	else
		d->tf = row;
	d->trig_razorpay = strncmp(ev, "razorpay.", 9) == 0;
}

/*
 * parse_time
 *		An explicit time of day in the (masked) text: "9", "9am", "9:30 pm",
 *		"18:00", "at 9", "noon", "midnight".  Hour and minute into *h, *m;
 *		*pm_known when am/pm was written.  False when there is none.
 */
static bool
parse_time(const Draft *d, int *h, int *m, bool *pm_known)
{
	int			p;

	*pm_known = false;
	for (p = 0; p < d->len; p++)
	{
		int			q = p;
		int			hh = 0;
		int			mm = 0;
		bool		colon = false;
		bool		ampm = false;
		bool		pm = false;
		bool		at = false;
		int			b;

		if (word_at_is(d, p, "noon") && (p == 0 || !isalpha((unsigned char) d->low[p - 1])))
		{
			*h = 12;
			*m = 0;
			*pm_known = true;
			return true;
		}
		if (word_at_is(d, p, "midnight") && (p == 0 || !isalpha((unsigned char) d->low[p - 1])))
		{
			*h = 0;
			*m = 0;
			*pm_known = true;
			return true;
		}
		if (!isdigit((unsigned char) d->low[p]) || (p > 0 && isalnum((unsigned char) d->low[p - 1])) ||
			masked(d, p))
			continue;
		while (q < d->len && isdigit((unsigned char) d->low[q]) && q - p < 3)
			hh = hh * 10 + (d->low[q++] - '0');
		if (q < d->len && isdigit((unsigned char) d->low[q]))
		{
			p = q;
			continue;
		}
		if (q + 2 < d->len && (d->low[q] == ':' || d->low[q] == '.') &&
			isdigit((unsigned char) d->low[q + 1]) && isdigit((unsigned char) d->low[q + 2]) &&
			(q + 3 >= d->len || !isdigit((unsigned char) d->low[q + 3])))
		{
			mm = (d->low[q + 1] - '0') * 10 + (d->low[q + 2] - '0');
			colon = true;
			q += 3;
		}
		while (q < d->len && d->low[q] == ' ')
			q++;
		if (word_at_is(d, q, "am") || word_at_is(d, q, "a.m"))
			ampm = true;
		else if (word_at_is(d, q, "pm") || word_at_is(d, q, "p.m"))
			ampm = pm = true;
		else if (word_at_is(d, q, "baje") || word_at_is(d, q, "oclock") ||
				 word_at_is(d, q, "o'clock"))
			at = true;
		b = p;
		while (b > 0 && d->low[b - 1] == ' ')
			b--;
		if (b >= 2 && strncmp(d->low + b - 2, "at", 2) == 0 &&
			(b == 2 || !isalpha((unsigned char) d->low[b - 3])))
			at = true;
		if (!(ampm || colon || at) || hh > 23 || mm > 59 || (ampm && (hh < 1 || hh > 12)))
			continue;
		if (ampm && pm && hh < 12)
			hh += 12;
		if (ampm && !pm && hh == 12)
			hh = 0;
		*h = hh;
		*m = mm;
		*pm_known = ampm || hh > 12;
		return true;
	}
	return false;
}

/*
 * find_schedule
 *		A schedule ("every Monday at 9", "daily at 6pm", "every 15
 *		minutes", "weekdays at 10", "on the 1st of every month") as a cron
 *		expression in d->trig_cron.  False when the prompt has none.
 */
static bool
find_schedule(Draft *d)
{
	int			i;
	bool		found = false;
	int			step_min = 0;
	int			step_hour = 0;
	bool		hourly = false;
	int			def_hour = 9;
	bool		late = false;	/* evening / night: a bare hour is pm */
	char		dow[32] = "*";
	int			dom = 0;
	int			h = -1;
	int			m = 0;
	bool		pm_known = false;

	for (i = 0; i < d->ntok; i++)
	{
		bool		every = tok_is(d, i, "every") || tok_is(d, i, "each") || tok_is(d, i, "har");
		int			k;

		if (d->toks[i].kind != TK_WORD)
			continue;
		if (every && i + 2 < d->ntok && isdigit((unsigned char) d->low[d->toks[i + 1].start]))
		{
			int			n = atoi(d->low + d->toks[i + 1].start);

			if (tok_stem(d, i + 2, "minute") || tok_stem(d, i + 2, "min"))
			{
				if (n >= 1 && n <= 59)
					step_min = n;
				found = true;
			}
			else if (tok_stem(d, i + 2, "hour"))
			{
				if (n >= 1 && n <= 23)
					step_hour = n;
				found = true;
			}
		}
		if ((every && tok_stem(d, i + 1, "minute")))
		{
			step_min = 1;
			found = true;
		}
		if ((every && tok_stem(d, i + 1, "hour")) || tok_is(d, i, "hourly"))
		{
			hourly = true;
			found = true;
		}
		if ((every && (tok_stem(d, i + 1, "day") || tok_is(d, i + 1, "morning") ||
					   tok_is(d, i + 1, "evening") || tok_is(d, i + 1, "night") ||
					   tok_is(d, i + 1, "afternoon"))) ||
			tok_is(d, i, "daily") || tok_is(d, i, "everyday") || tok_is(d, i, "nightly") ||
			tok_is(d, i, "roz"))
			found = true;
		if (tok_is(d, i, "morning") || tok_is(d, i, "subah"))
			def_hour = 9;
		if (tok_is(d, i, "afternoon"))
		{
			def_hour = 14;
			late = true;
		}
		if (tok_is(d, i, "evening") || tok_is(d, i, "shaam"))
		{
			def_hour = 18;
			late = true;
		}
		if (tok_is(d, i, "night") || tok_is(d, i, "nightly") || tok_is(d, i, "raat"))
		{
			def_hour = 21;
			late = true;
		}
		if (tok_stem(d, i, "weekday"))
		{
			strcpy(dow, "1-5");
			found = true;
		}
		if (tok_stem(d, i, "weekend"))
		{
			strcpy(dow, "0,6");
			found = true;
		}
		if (tok_is(d, i, "weekly") || (every && tok_is(d, i + 1, "week")))
		{
			if (strcmp(dow, "*") == 0)
				strcpy(dow, "1");
			found = true;
		}
		if (tok_is(d, i, "monthly") || (every && tok_is(d, i + 1, "month")) ||
			phrase_at(d, i, "of each month"))
		{
			if (dom == 0)
				dom = 1;
			found = true;
		}
		for (k = 0; day_names[k]; k++)
			if (tok_stem(d, i, day_names[k]) &&
				(tok_is(d, i - 1, "every") || tok_is(d, i - 1, "each") || tok_is(d, i - 1, "on") ||
				 tok_is(d, i - 1, "har") || d->low[d->toks[i].end - 1] == 's'))
			{
				snprintf(dow, sizeof(dow), "%d", k);
				found = true;
			}
		/* "1st", "15th" of the month */
		if (isdigit((unsigned char) d->low[d->toks[i].start]))
		{
			const char *t = d->low + d->toks[i].start;
			int			n = d->toks[i].end - d->toks[i].start;

			if (n >= 3 && n <= 4 && (strncmp(t + n - 2, "st", 2) == 0 || strncmp(t + n - 2, "nd", 2) == 0 ||
									 strncmp(t + n - 2, "rd", 2) == 0 || strncmp(t + n - 2, "th", 2) == 0))
			{
				int			v = atoi(t);

				if (v >= 1 && v <= 31)
				{
					dom = v;
					if (phrase_at(d, i + 1, "of every month") || phrase_at(d, i + 1, "of each month") ||
						phrase_at(d, i + 1, "of the month") || phrase_at(d, i + 1, "every month"))
						found = true;
				}
			}
		}
	}
	if (!found)
		return false;
	if (step_min > 0)
	{
		snprintf(d->trig_cron, sizeof(d->trig_cron), step_min == 1 ? "* * * * *" : "*/%d * * * *",
				 step_min);
		return true;
	}
	if (step_hour > 0)
	{
		snprintf(d->trig_cron, sizeof(d->trig_cron), "0 */%d * * *", step_hour);
		return true;
	}
	if (hourly)
	{
		snprintf(d->trig_cron, sizeof(d->trig_cron), "0 * * * *");
		return true;
	}
	if (parse_time(d, &h, &m, &pm_known))
	{
		if (!pm_known && late && h < 12)
			h += 12;
	}
	else
	{
		h = def_hour;
		m = 0;
	}
	if (dom > 0)
		snprintf(d->trig_cron, sizeof(d->trig_cron), "%d %d %d * %s", m, h, dom,
				 strcmp(dow, "*") == 0 ? "*" : dow);
	else
		snprintf(d->trig_cron, sizeof(d->trig_cron), "%d %d * * %s", m, h, dow);
	return true;
}

/*
 * region_span
 *		The tokens [*a, *b) of the region of type r that starts at or
 *		after token from; false when there is none.
 */
static bool
region_span(const Draft *d, Region r, int from, int *a, int *b)
{
	int			i;

	for (i = from; i < d->ntok; i++)
	{
		if (d->toks[i].kind != TK_SEP && d->toks[i].region == r)
		{
			int			j = i;

			while (j < d->ntok && d->toks[j].kind != TK_SEP && d->toks[j].region == r)
				j++;
			*a = i;
			*b = j;
			return true;
		}
	}
	return false;
}

/*
 * has_action_verb
 *		Do tokens [a, b) contain an action verb?
 */
static bool
has_action_verb(const Draft *d, int a, int b)
{
	int			i;

	for (i = a; i < b; i++)
		if (verb_at(d, i, false) && !tok_is(d, i, "i") && !tok_is(d, i, "we"))
			return true;
	return false;
}

/*
 * set_region
 *		Give tokens [a, b) region r.
 */
static void
set_region(Draft *d, int a, int b, Region r)
{
	int			i;

	for (i = a; i < b; i++)
		d->toks[i].region = r;
}

/*
 * find_trigger
 *		Event, table, webhook or schedule trigger; manual when none.
 *		Trigger regions are tried first, then condition regions ("if a
 *		customer pays ..."), then clauses without an action verb
 *		("Someone tags our bot on Slack -> ...").
 */
static void
find_trigger(Draft *d)
{
	int			a;
	int			b;
	int			from = 0;
	bool		saw_region = false;
	bool		prompt_table = has_table_words(d, 0, d->ntok);
	int			pass;
	bool		sched = find_schedule(d);

	d->trig_type = "manual";
	for (pass = 0; pass < 3; pass++)
	{
		from = 0;
		for (;;)
		{
			double		score = 0;
			const char *ev;

			if (pass < 2)
			{
				if (!region_span(d, pass == 0 ? R_TRIGGER : R_COND, from, &a, &b))
					break;
			}
			else
			{
				/* a whole clause with no action verb */
				a = from;
				while (a < d->ntok && d->toks[a].kind == TK_SEP)
					a++;
				if (a >= d->ntok)
					break;
				b = a;
				while (b < d->ntok && d->toks[b].kind != TK_SEP)
					b++;
				/* only clauses before the first command ("customer pays -> ...") */
				if (has_action_verb(d, a, b))
					break;
				if (d->toks[a].region != R_ACTION)
				{
					from = b;
					continue;
				}
			}
			from = b;
			if (pass == 0)
				saw_region = true;
			ev = best_event(d, a, b, &score);
			/* "when our website sends a webhook": no catalog service named */
			if (pass == 0 && score < 1.5)
			{
				int			i;

				for (i = a; i < b; i++)
					if (tok_stem(d, i, "webhook"))
					{
						d->trig_type = "webhook";
						strcpy(d->trig_event, "webhook.received");
						set_fields(d);
						return;
					}
			}
			if ((pass == 0 && (has_table_words(d, a, b) || (prompt_table && score < 1.5))) ||
				(pass == 2 && has_table_words(d, a, b)))
			{
				if (table_name_in(d, a, b) || table_name_in(d, 0, d->ntok) || new_noun_table(d, a, b))
				{
					d->trig_type = "table";
					set_fields(d);
					return;
				}
			}
			/* a schedule beats an event whose service the region does not name */
			if (ev != NULL && score >= (pass == 2 ? 0.9 : 0.75) && !(sched && score < 1.5))
			{
				d->trig_type = "event";
				snprintf(d->trig_event, sizeof(d->trig_event), "%s", ev);
				if (pass == 2)
					set_region(d, a, b, R_TRIGGER);
				set_fields(d);
				return;
			}
			if (pass == 0)
			{
				if (!sched && new_noun_table(d, a, b))
				{
					d->trig_type = "table";
					set_fields(d);
					return;
				}
			}
		}
		if (pass == 0 && sched)
			break;
	}
	if (sched)
	{
		d->trig_type = "schedule";
		set_fields(d);
		return;
	}
	if (saw_region && region_span(d, R_TRIGGER, 0, &a, &b))
	{
		char	   *what = clean_text(d->low + d->toks[a].start,
									  d->toks[b - 1].end - d->toks[a].start, 120);

		add_warning(d, "trigger not understood: \"%s\"; the draft starts manually (flow_run)",
					what ? what : "");
		free(what);
	}
	set_fields(d);
}

/*
 * locate_ents
 *		Note each entity's clause and region (after the trigger is known:
 *		finding it may re-mark a clause) and reset the description cache.
 */
static void
locate_ents(Draft *d)
{
	int			i;

	for (i = 0; i < d->nent; i++)
	{
		d->ents[i].clause = clause_of_pos(d, d->ents[i].start);
		d->ents[i].region = region_of_pos(d, d->ents[i].start);
	}
	d->desc = malloc(d->nclause > 0 ? d->nclause : 1);
	if (d->desc)
		memset(d->desc, -1, d->nclause > 0 ? d->nclause : 1);
}

/* ---------------------------------------------------------------------
 * 4. Condition
 * ---------------------------------------------------------------------
 */

typedef struct CmpWord
{
	const char *phrase;
	const char *op;
	bool		value_before;	/* "2000 or more" */
} CmpWord;

static const CmpWord num_cmps[] = {
	{"more than", "gt", false}, {"greater than", "gt", false}, {"bigger than", "gt", false},
	{"higher than", "gt", false}, {"over", "gt", false}, {"above", "gt", false},
	{"exceeds", "gt", false}, {"exceeding", "gt", false}, {"exceed", "gt", false},
	{"at least", "gte", false}, {"atleast", "gte", false}, {"minimum", "gte", false},
	{"less than", "lt", false}, {"lower than", "lt", false}, {"smaller than", "lt", false},
	{"below", "lt", false}, {"under", "lt", false},
	{"at most", "lte", false}, {"up to", "lte", false}, {"upto", "lte", false},
	{"maximum", "lte", false}, {"equal to", "eq", false}, {"equals", "eq", false},
	{"exactly", "eq", false},
	{"or more", "gte", true}, {"or above", "gte", true}, {"or less", "lte", true},
	{"or below", "lte", true},
	{NULL, NULL, false}
};

static const char *const text_cmps[] = {
	"has the word", "with the word", "the word", "keyword", "contains", "containing",
	"contain", "mentions", "mentioning", "says", "saying", "includes", "including",
	"likha", "jisme", "messages", "writes", NULL
};

/*
 * amount_near
 *		The first amount entity in [from, to) bytes (or the last one when
 *		before), NULL if none.
 */
static Ent *
amount_near(Draft *d, int from, int to, bool before)
{
	Ent		   *hit = NULL;
	int			i;

	for (i = 0; i < d->nent; i++)
	{
		Ent		   *e = &d->ents[i];

		if (e->kind != EK_AMOUNT || e->start < from || e->start >= to)
			continue;
		if (!before)
			return e;
		hit = e;
	}
	return hit;
}

/*
 * quote_near
 *		The first quote entity starting in [from, to) bytes.
 */
static Ent *
quote_near(Draft *d, int from, int to)
{
	int			i;

	for (i = 0; i < d->nent; i++)
		if (d->ents[i].kind == EK_QUOTE && d->ents[i].start >= from && d->ents[i].start < to)
			return &d->ents[i];
	return NULL;
}

/*
 * field_template
 *		"{{trigger_data.<field>}}" (malloc'd).
 */
static char *
field_template(const char *field)
{
	return fdb_asprintf("{{trigger_data.%s}}", field);
}

/*
 * amount_name
 *		The trigger field holding the amount: the event's, or for a row
 *		"total" when the prompt says total, else "amount".
 */
static const char *
amount_name(const Draft *d)
{
	int			i;

	if (d->tf.amount && strcmp(d->trig_type, "event") == 0)
		return d->tf.amount;
	for (i = 0; i < d->ntok; i++)
		if (tok_is(d, i, "total"))
			return "total";
	return d->tf.amount ? d->tf.amount : "amount";
}

/*
 * amount_field
 *		The trigger field a numeric condition compares: the trigger's
 *		amount, or "total" / "quantity" when the prompt says so.
 */
static char *
amount_field(Draft *d, int a, int b)
{
	int			i;

	for (i = a; i < b; i++)
	{
		if (tok_stem(d, i, "quantity") || tok_is(d, i, "qty"))
			return field_template("quantity");
	}
	return field_template(amount_name(d));
}

/*
 * compared_field
 *		What a numeric comparison at token cmp reads: the noun before it
 *		("the budget is over 50000" -> budget) for a row or payload; the
 *		amount for money words, and always for event data.
 */
static char *
compared_field(Draft *d, int a, int cmp)
{
	static const char *const skip[] = {"is", "was", "are", "gets", "goes", "of", "its", NULL};
	static const char *const money[] = {
		"it", "this", "that", "payment", "order", "amount", "value", "price", "sum",
		"bill", "paid", "pays", "someone", "customer", "the", "a", "an", "and",
		"when", "if", "whenever", "only", NULL
	};
	int			i = cmp - 1;
	int			k;

	while (i >= a && tok_in(d, i, skip))
		i--;
	if (i < a || strcmp(d->trig_type, "event") == 0 || d->toks[i].kind != TK_WORD ||
		tok_in(d, i, money) || !isalpha((unsigned char) d->low[d->toks[i].start]) ||
		d->toks[i].end - d->toks[i].start > 40)
		return amount_field(d, a, cmp);
	for (k = d->toks[i].start; k < d->toks[i].end; k++)
		if (!isalnum((unsigned char) d->low[k]))
			return amount_field(d, a, cmp);
	{
		char		name[48];

		snprintf(name, sizeof(name), "%.*s", d->toks[i].end - d->toks[i].start,
				 d->low + d->toks[i].start);
		return field_template(name);
	}
}

/*
 * text_field
 *		The trigger field a "contains" condition reads.
 */
static char *
text_field(Draft *d)
{
	return field_template(d->tf.text && strcmp(d->trig_type, "event") == 0 ? d->tf.text : "message");
}

/*
 * try_condition_in
 *		Look for a comparison in tokens [a, b); fill the condition and
 *		return true when found.
 */
static bool
try_condition_in(Draft *d, int a, int b)
{
	int			i;
	int			k;

	for (i = a; i < b; i++)
	{
		for (k = 0; num_cmps[k].phrase; k++)
		{
			int			n = phrase_at(d, i, num_cmps[k].phrase);
			Ent		   *v;

			if (n == 0)
				continue;
			if (num_cmps[k].value_before)
				v = amount_near(d, d->toks[a].start, d->toks[i].start, true);
			else
				v = amount_near(d, d->toks[i + n - 1].end,
								i + n + 3 < d->ntok ? d->toks[i + n + 3].end : d->len, false);
			if (v == NULL)
				continue;
			v->used = true;
			d->has_cond = true;
			d->cond_op = num_cmps[k].op;
			d->cond_num = true;
			d->cond_value = v->num;
			d->cond_left = compared_field(d, a, i);
			d->cond_clause = d->toks[i].clause;
			return true;
		}
		for (k = 0; text_cmps[k]; k++)
		{
			int			n = phrase_at(d, i, text_cmps[k]);
			Ent		   *q;

			if (n == 0)
				continue;
			/* the quote after the word, or (Hinglish "jisme 'x' likha") before it */
			q = quote_near(d, d->toks[i + n - 1].end,
						   i + n + 2 < d->ntok ? d->toks[i + n + 2].start : d->len);
			if (q == NULL && strcmp(text_cmps[k], "likha") == 0)
				q = quote_near(d, i > 0 ? d->toks[i - 1].end : 0, d->toks[i].start);
			if (q == NULL && strcmp(text_cmps[k], "jisme") == 0)
				q = quote_near(d, d->toks[i].end, i + 1 < d->ntok ? d->toks[i + 1].start : d->len);
			if (q == NULL && (strcmp(text_cmps[k], "the word") == 0 ||
							  strcmp(text_cmps[k], "keyword") == 0) && i + n < b)
			{
				d->cond_text = clean_text(d->low + d->toks[i + n].start,
										  d->toks[i + n].end - d->toks[i + n].start, 100);
			}
			else if (q != NULL)
			{
				q->used = true;
				d->cond_text = fdb_strdup(q->text);
			}
			else
				continue;
			d->has_cond = true;
			d->cond_op = "contains";
			d->cond_num = false;
			d->cond_left = text_field(d);
			d->cond_clause = d->toks[i].clause;
			return true;
		}
	}
	return false;
}

/*
 * try_from_place
 *		"only for orders from Mumbai": city equals a capitalised word, in a
 *		clause that says only/just/if.
 */
static bool
try_from_place(Draft *d)
{
	int			i;

	for (i = 0; i + 1 < d->ntok; i++)
	{
		int			j;
		bool		limited = false;
		const char *w;
		int			n;

		if (!tok_is(d, i, "from") || d->toks[i + 1].kind != TK_WORD)
			continue;
		for (j = 0; j < d->ntok; j++)
			if (d->toks[j].clause == d->toks[i].clause &&
				(tok_is(d, j, "only") || tok_is(d, j, "just") || tok_is(d, j, "if") ||
				 tok_is(d, j, "sirf")))
				limited = true;
		w = d->orig + d->toks[i + 1].start;
		n = d->toks[i + 1].end - d->toks[i + 1].start;
		if (!limited || !isupper((unsigned char) w[0]) || in_list(w, n, name_stop))
			continue;
		d->has_cond = true;
		d->cond_op = "eq";
		d->cond_num = false;
		d->cond_text = clean_text(w, n, 100);
		d->cond_left = field_template("city");
		d->cond_clause = d->toks[i].clause;
		return true;
	}
	return false;
}

/*
 * negate_condition
 *		Turn the condition around (gt <-> lte, ...); a text condition is
 *		dropped with a warning instead.
 */
static void
negate_condition(Draft *d)
{
	static const char *const ops[][2] = {
		{"gt", "lte"}, {"gte", "lt"}, {"lt", "gte"}, {"lte", "gt"}, {"eq", "ne"}, {"ne", "eq"},
		{NULL, NULL}
	};
	int			k;

	for (k = 0; ops[k][0]; k++)
		if (strcmp(d->cond_op, ops[k][0]) == 0)
		{
			d->cond_op = ops[k][1];
			return;
		}
	add_warning(d, "the condition has no step of its own; it was left out");
	d->has_cond = false;
}

/*
 * find_condition
 *		Condition regions first, then trigger regions, then "from <Place>";
 *		for a message trigger, a quote in its trigger region ("messages
 *		'menu'") means contains.  Also notes where "otherwise" starts.
 */
static void
find_condition(Draft *d)
{
	int			a;
	int			b;
	int			from;
	int			pass;
	int			i;

	d->else_pos = -1;
	d->cond_clause = -1;
	for (pass = 0; pass < 2 && !d->has_cond; pass++)
	{
		from = 0;
		while (!d->has_cond && region_span(d, pass == 0 ? R_COND : R_TRIGGER, from, &a, &b))
		{
			try_condition_in(d, a, b);
			from = b;
		}
	}
	if (!d->has_cond)
		try_from_place(d);
	if (!d->has_cond && d->tf.text && region_span(d, R_TRIGGER, 0, &a, &b))
	{
		Ent		   *q = quote_near(d, d->toks[a].start,
								   b < d->ntok ? d->toks[b].start : d->len);

		if (q)
		{
			q->used = true;
			d->has_cond = true;
			d->cond_op = "contains";
			d->cond_text = fdb_strdup(q->text);
			d->cond_left = text_field(d);
			d->cond_clause = d->toks[a].clause;
		}
	}
	if (!d->has_cond)
		return;
	if (strcmp(d->trig_type, "event") != 0)
		add_warning(d, "the condition reads %s; the %s must have that field", d->cond_left,
					strcmp(d->trig_type, "table") == 0 ? "row" : "flow_run payload");
	for (i = 0; i < d->ntok; i++)
		if (d->toks[i].is_else && d->toks[i].clause >= d->cond_clause)
		{
			d->else_pos = d->toks[i].start;
			break;
		}
	/*
	 * "under 200 do nothing; for anything bigger ...": the steps are on the
	 * other side (with "otherwise" the else branch handles it instead)
	 */
	for (i = 0; i < d->ntok && d->else_pos < 0; i++)
		if ((d->toks[i].clause == d->cond_clause || d->toks[i].clause == d->cond_clause + 1) &&
			(phrase_at(d, i, "do nothing") || phrase_at(d, i, "ignore it") ||
			 phrase_at(d, i, "skip it")))
		{
			negate_condition(d);
			break;
		}
}

/* ---------------------------------------------------------------------
 * 5. Actions
 * ---------------------------------------------------------------------
 */

typedef struct Hit
{
	const ToolService *svc;
	const ToolTask *task;		/* NULL: choose from the clause */
	int			pos;
	int			clause;
	bool		strong;
	bool		channel;
	bool		needs_task;
	bool		after_det;		/* "a reply": a noun */
	bool		dead;
} Hit;

/*
 * task_score
 *		How many words of the clause choose this task: the words of its
 *		name that no other task of the service has, plus task_words.
 */
static int
task_score(const Draft *d, const ToolService *svc, const ToolTask *task, int clause)
{
	char		words[8][32];
	int			nw = 0;
	const char *p = task->name;
	int			score = 0;
	int			i;
	int			k;

	while (*p && nw < 8)
	{
		int			n = 0;

		while (*p && *p != '_' && n < 31)
			words[nw][n++] = *p++;
		words[nw][n] = '\0';
		while (*p == '_')
			p++;
		/* keep only words no other task of the service has */
		for (k = 0; k < svc->ntasks; k++)
			if (&svc->tasks[k] != task && strstr(svc->tasks[k].name, words[nw]))
				break;
		if (k == svc->ntasks && n > 0)
			nw++;
	}
	for (i = 0; i < d->ntok; i++)
	{
		if (d->toks[i].clause != clause || d->toks[i].region != R_ACTION)
			continue;
		for (k = 0; k < nw; k++)
			if (tok_stem(d, i, words[k]))
				score++;
		for (k = 0; task_words[k].service; k++)
			if (strcmp(task_words[k].service, svc->name) == 0 &&
				strcmp(task_words[k].task, task->name) == 0 &&
				tok_in_words(d, i, task_words[k].words))
				score++;
	}
	return score;
}

/*
 * choose_task
 *		The task of svc the clause's words point at; NULL when none scores
 *		(the caller then uses the first task or drops the hit).
 */
static const ToolTask *
choose_task(const Draft *d, const ToolService *svc, int clause)
{
	const ToolTask *best = NULL;
	int			best_score = 0;
	int			k;

	for (k = 0; k < svc->ntasks; k++)
	{
		int			s = task_score(d, svc, &svc->tasks[k], clause);

		if (s > best_score)
		{
			best_score = s;
			best = &svc->tasks[k];
		}
	}
	return best;
}

/*
 * clause_is_politeness
 *		"Thanks a lot", "thank you so much": nothing to do.
 */
static bool
clause_is_politeness(const Draft *d, int clause)
{
	static const char *const words[] = {
		"thanks", "thank", "you", "a", "lot", "so", "much", "in", "advance",
		"please", "very", "ok", "okay", "hi", "hello", "hey", "dhanyavad", NULL
	};
	int			i;
	bool		any = false;

	for (i = 0; i < d->ntok; i++)
		if (d->toks[i].clause == clause && d->toks[i].kind != TK_SEP)
		{
			if (!tok_in(d, i, words))
				return false;
			any = true;
		}
	return any;
}

static bool clause_is_description_scan(const Draft *d, int clause);

/*
 * clause_is_description
 *		"We use Slack a lot", "Our shop gets many WhatsApp messages": no
 *		action verb, a state verb, and no explicit channel, URL or quote.
 */
static bool
clause_is_description(Draft *d, int clause)
{
	bool		state;

	if (clause >= 0 && clause < d->nclause && d->desc && d->desc[clause] >= 0)
		return d->desc[clause] == 1;
	state = clause_is_description_scan(d, clause);
	if (clause >= 0 && clause < d->nclause && d->desc)
		d->desc[clause] = state ? 1 : 0;
	return state;
}

/*
 * clause_is_description_scan
 *		The scan behind clause_is_description.
 */
static bool
clause_is_description_scan(const Draft *d, int clause)
{
	int			i;
	bool		state = false;

	for (i = 0; i < d->ntok; i++)
	{
		if (d->toks[i].clause != clause || d->toks[i].region != R_ACTION)
			continue;
		if (d->toks[i].kind == TK_CHANNEL)
			return false;
		if ((tok_is(d, i, "use") || tok_is(d, i, "have")) &&
			(tok_is(d, i - 1, "i") || tok_is(d, i - 1, "we") || tok_is(d, i - 1, "they")))
		{
			state = true;
			continue;
		}
		if (tok_in(d, i, action_verbs) && !tok_is(d, i, "i") && !tok_is(d, i, "we"))
			return false;
		if (tok_in(d, i, state_verbs))
			state = true;
	}
	for (i = 0; i < d->nent; i++)
		if ((d->ents[i].kind == EK_QUOTE || d->ents[i].kind == EK_URL) &&
			d->ents[i].clause == clause)
			return false;
	return state || clause_is_politeness(d, clause);
}

/*
 * is_image_url
 *		Does the URL end in an image extension?
 */
static bool
is_image_url(const char *u)
{
	static const char *const exts[] = {".jpg", ".jpeg", ".png", ".webp", ".gif", NULL};
	size_t		n = strlen(u);
	int			k;

	for (k = 0; exts[k]; k++)
	{
		size_t		e = strlen(exts[k]);
		size_t		i;
		bool		same = n >= e;

		for (i = 0; same && i < e; i++)
			if (tolower((unsigned char) u[n - e + i]) != exts[k][i])
				same = false;
		if (same)
			return true;
	}
	return false;
}

/*
 * clause_calls
 *		Does the clause have a verb that sends a request ("call", "hit",
 *		"post to", "send ... to", "fetch", "check", ...) or name an API?
 */
static bool
clause_calls(const Draft *d, int clause)
{
	static const char *const verbs[] = {
		"call", "hit", "post", "send", "get", "fetch", "ping", "check", "notify",
		"sync", "push", "log", "mark", "update", "api", "endpoint", "webhook",
		"url", "erp", "crm", "server", "trigger", "forward", "share", "report",
		"store", "save", "record", NULL
	};
	int			i;

	for (i = 0; i < d->ntok; i++)
	{
		int			k;

		if (d->toks[i].clause != clause || d->toks[i].kind != TK_WORD)
			continue;
		for (k = 0; verbs[k]; k++)
			if (tok_stem(d, i, verbs[k]))
				return true;
	}
	return false;
}

/*
 * collect_hits
 *		Service mentions in action regions (synonyms, #channels, request
 *		URLs, payment ids), clause by clause.
 */
static int
collect_hits(Draft *d, Hit *hits)
{
	int			n = 0;
	int			i;
	int			k;

	for (i = 0; i < d->ntok && n < MAX_HITS; i++)
	{
		const Tok  *t = &d->toks[i];

		if (t->region != R_ACTION || t->kind == TK_SEP || clause_is_description(d, t->clause))
			continue;
		if (t->kind == TK_CHANNEL)
		{
			hits[n].svc = catalog_service("slack");
			hits[n].task = hits[n].svc ? catalog_task(hits[n].svc, "post_message") : NULL;
			hits[n].pos = t->start;
			hits[n].clause = t->clause;
			hits[n].strong = hits[n].channel = true;
			hits[n].needs_task = hits[n].dead = false;
			if (hits[n].svc)
				n++;
			continue;
		}
		for (k = 0; svc_syns[k].service; k++)
		{
			int			m = phrase_at(d, i, svc_syns[k].phrase);
			const ToolService *svc;

			if (m == 0)
				continue;
			svc = catalog_service(svc_syns[k].service);
			if (svc == NULL)
				continue;
			hits[n].svc = svc;
			hits[n].task = svc_syns[k].task ? catalog_task(svc, svc_syns[k].task) : NULL;
			hits[n].pos = t->start;
			hits[n].clause = t->clause;
			hits[n].strong = svc_syns[k].strong;
			hits[n].channel = svc_syns[k].channel;
			hits[n].needs_task = svc_syns[k].needs_task;
			hits[n].after_det = tok_is(d, i - 1, "a") || tok_is(d, i - 1, "the") ||
				tok_is(d, i - 1, "an");
			hits[n].dead = false;
			/* "reply" to a message event answers on the event's service */
			if (!svc_syns[k].strong && (tok_stem(d, i, "reply") || tok_stem(d, i, "respond")) &&
				strcmp(d->trig_type, "event") == 0 && d->tf.text)
			{
				char		sname[32];
				const ToolService *ts;

				snprintf(sname, sizeof(sname), "%.*s",
						 (int) (strchr(d->trig_event, '.') - d->trig_event), d->trig_event);
				ts = catalog_service(sname);
				if (ts == NULL)
					;
				else if (ts == svc)
					hits[n].strong = true;
				else if (strcmp(sname, "slack") == 0)
				{
					hits[n].svc = ts;
					hits[n].task = catalog_task(ts, "post_message");
				}
				else
					hits[n].dead = true;
				if (hits[n].svc == NULL || hits[n].task == NULL)
					hits[n].dead = true;
			}
			n++;
			i += m - 1;
			break;
		}
		/* the name of a service no synonym lists (a newly added tool) */
		if (svc_syns[k].service == NULL)
		{
			int			s;

			for (s = 0; fdb_services[s] != NULL && n < MAX_HITS; s++)
			{
				int			j;

				for (j = 0; svc_syns[j].service; j++)
					if (strcmp(svc_syns[j].service, fdb_services[s]->name) == 0)
						break;
				if (svc_syns[j].service != NULL || !tok_stem(d, i, fdb_services[s]->name))
					continue;
				hits[n].svc = fdb_services[s];
				hits[n].task = NULL;
				hits[n].pos = t->start;
				hits[n].clause = t->clause;
				hits[n].strong = true;
				hits[n].channel = hits[n].needs_task = hits[n].dead = false;
				n++;
			}
		}
	}
	for (i = 0; i < d->nent && n < MAX_HITS; i++)
	{
		Ent		   *e = &d->ents[i];
		int			clause = e->clause;

		if (e->region != R_ACTION || clause_is_description(d, clause))
			continue;
		if (e->kind == EK_URL && !is_image_url(e->text) && clause_calls(d, clause))
		{
			hits[n].svc = catalog_service("http");
			hits[n].task = hits[n].svc ? catalog_task(hits[n].svc, "request") : NULL;
		}
		else if (e->kind == EK_PAYID)
		{
			hits[n].svc = catalog_service("razorpay");
			hits[n].task = hits[n].svc ? catalog_task(hits[n].svc, "fetch_payment") : NULL;
		}
		else
			continue;
		if (hits[n].svc == NULL)
			continue;
		hits[n].pos = e->start;
		hits[n].clause = clause;
		hits[n].strong = true;
		hits[n].channel = hits[n].needs_task = hits[n].dead = false;
		n++;
	}
	return n;
}

/*
 * is_producer
 *		Steps whose output others use (payment links, AI text, API calls)
 *		go first within a clause: "send a payment link on WhatsApp".
 */
static bool
is_producer(const Action *a)
{
	return strcmp(a->svc->name, "whatsapp") != 0 && strcmp(a->svc->name, "slack") != 0 &&
		strcmp(a->svc->name, "instagram") != 0;
}

/*
 * action_cmp
 *		Order: clause, producers before messages, then position.
 */
static int
action_cmp(const void *x, const void *y)
{
	const Action *a = x;
	const Action *b = y;

	if (a->clause != b->clause)
		return a->clause - b->clause;
	if (is_producer(a) != is_producer(b))
		return is_producer(a) ? -1 : 1;
	return a->pos - b->pos;
}

/*
 * find_delays
 *		"wait 2 days", "after 3 hours", "2 hours later": a delay before the
 *		next action.
 */
static void
find_delays(Draft *d)
{
	static const struct
	{
		const char *unit;
		double		secs;
	}			units[] = {
		{"minute", 60}, {"min", 60}, {"hour", 3600}, {"hr", 3600},
		{"day", 86400}, {"week", 604800}, {NULL, 0}
	};
	int			i;

	for (i = 0; i + 2 < d->ntok; i++)
	{
		int			j;
		double		n = 0;
		int			k;
		int			u = -1;
		bool		lead = tok_is(d, i, "wait") || tok_is(d, i, "after");

		j = lead ? i + 1 : i;
		if (tok_is(d, j, "for"))
			j++;
		if (j >= d->ntok || d->toks[j].kind != TK_WORD)
			continue;
		if (isdigit((unsigned char) d->low[d->toks[j].start]))
			n = atof(d->low + d->toks[j].start);
		else if (tok_is(d, j, "a") || tok_is(d, j, "an") || tok_is(d, j, "one"))
			n = 1;
		else if (tok_is(d, j, "two"))
			n = 2;
		else if (tok_is(d, j, "three"))
			n = 3;
		else
			continue;
		for (k = 0; units[k].unit; k++)
			if (tok_stem(d, j + 1, units[k].unit))
				u = k;
		if (u < 0 || n <= 0 || (!lead && !tok_is(d, j + 2, "later")))
			continue;
		for (k = 0; k < d->nact; k++)
			if (d->acts[k].pos > d->toks[i].start)
			{
				double		s = n * units[u].secs;

				d->acts[k].delay_s = s > 2592000 ? 2592000 : s;
				if (s > 2592000)
					add_warning(d, "a delay is at most 30 days; step %s waits 30 days",
								d->acts[k].svc->name);
				break;
			}
	}
}

/*
 * clause_names_unknown_app
 *		Does the clause name an app the catalog lacks ("a Telegram
 *		message")?
 */
static bool
clause_names_unknown_app(const Draft *d, int clause)
{
	int			i;
	int			k;

	for (i = 0; i < d->ntok; i++)
		if (d->toks[i].clause == clause)
			for (k = 0; unknown_apps[k].phrase; k++)
				if (!strchr(unknown_apps[k].phrase, '-') && phrase_at(d, i, unknown_apps[k].phrase))
					return true;
	return false;
}

/*
 * clause_has_phone
 *		Does the clause hold a phone number?
 */
static bool
clause_has_phone(const Draft *d, int clause)
{
	int			i;

	for (i = 0; i < d->nent; i++)
		if (d->ents[i].kind == EK_PHONE && d->ents[i].clause == clause)
			return true;
	return false;
}

/*
 * find_actions
 *		Hits to actions: weak messaging words give way to a named messaging
 *		service in the same clause, tasks are chosen, one action per service
 *		and task per clause, then ordered.
 */
static void
find_actions(Draft *d)
{
	Hit		   *hits = calloc(MAX_HITS, sizeof(Hit));
	int			n;
	int			i;
	int			j;

	if (hits == NULL)
		return;
	n = collect_hits(d, hits);
	for (i = 0; i < n; i++)
	{
		/*
		 * A weak messaging word ("message", "reply") gives way to a named
		 * messaging service, to an AI step writing that reply, and to an app
		 * the catalog lacks ("a Telegram message").
		 */
		if (!hits[i].strong && hits[i].channel)
		{
			for (j = 0; j < n; j++)
				if (j != i && hits[j].clause == hits[i].clause && hits[j].svc != hits[i].svc &&
					((hits[j].strong && hits[j].channel) ||
					 ((strcmp(hits[j].svc->name, "llm") == 0 ||
					   strcmp(hits[j].svc->name, "http") == 0) && hits[i].after_det &&
					  !clause_has_phone(d, hits[i].clause))))
					hits[i].dead = true;
			if (clause_names_unknown_app(d, hits[i].clause))
				hits[i].dead = true;
		}
		if (hits[i].task == NULL && !hits[i].dead)
		{
			hits[i].task = choose_task(d, hits[i].svc, hits[i].clause);
			if (hits[i].task == NULL && hits[i].needs_task)
				hits[i].dead = true;
			else if (hits[i].task == NULL)
				hits[i].task = &hits[i].svc->tasks[0];
		}
	}
	/* a named task beats a generic mention of the same service */
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			if (i != j && !hits[i].dead && !hits[j].dead && hits[i].clause == hits[j].clause &&
				hits[i].svc == hits[j].svc &&
				(hits[i].task == hits[j].task ? j < i : false))
				hits[i].dead = true;
	for (i = 0; i < n; i++)
	{
		Action	   *a;

		if (hits[i].dead || hits[i].task == NULL)
			continue;
		if (d->nact >= DRAFT_MAX_ACTIONS)
		{
			add_warning(d, "more than %d steps; the rest were left out", DRAFT_MAX_ACTIONS);
			break;
		}
		a = &d->acts[d->nact++];
		memset(a, 0, sizeof(*a));
		a->svc = hits[i].svc;
		a->task = hits[i].task;
		a->pos = hits[i].pos;
		a->clause = hits[i].clause;
	}
	free(hits);
	/* razorpay mentioned by name plus a specific razorpay task: keep the specific */
	for (i = 0; i < d->nact; i++)
		for (j = 0; j < d->nact; j++)
			if (i != j && d->acts[i].clause == d->acts[j].clause && d->acts[i].svc == d->acts[j].svc &&
				d->acts[i].task == &d->acts[i].svc->tasks[0] && d->acts[j].task != d->acts[i].task &&
				d->acts[i].svc->ntasks > 1)
			{
				memmove(&d->acts[i], &d->acts[i + 1], sizeof(Action) * (d->nact - i - 1));
				d->nact--;
				i = -1;
				break;
			}
	qsort(d->acts, d->nact, sizeof(Action), action_cmp);
	find_delays(d);
}

/*
 * clause_has_param
 *		Does the clause hold an explicit quote, channel, URL or phone?
 */
static bool
clause_has_param(const Draft *d, int clause)
{
	int			i;

	for (i = 0; i < d->nent; i++)
		if (d->ents[i].kind != EK_AMOUNT && d->ents[i].clause == clause)
			return true;
	return false;
}

/*
 * assign_branches
 *		Before the condition's clause: branch 0; after it: branch 1; after
 *		"otherwise": branch 2.  Repeated mentions of the same step in one
 *		branch merge.  An empty condition branch with an else branch flips
 *		the condition; with neither, everything depends on the condition.
 */
static void
assign_branches(Draft *d)
{
	int			i;
	int			j;
	int			n1 = 0;
	int			n2 = 0;

	for (i = 0; i < d->nact; i++)
	{
		Action	   *a = &d->acts[i];

		if (!d->has_cond)
			a->branch = 0;
		else if (d->else_pos >= 0 && a->pos > d->else_pos)
			a->branch = 2;
		else if (a->clause < d->cond_clause)
			a->branch = 0;
		else
			a->branch = 1;
	}
	for (i = 1; i < d->nact; i++)
		for (j = 0; j < i; j++)
			if (d->acts[j].svc == d->acts[i].svc && d->acts[j].task == d->acts[i].task &&
				d->acts[j].branch == d->acts[i].branch && d->acts[i].delay_s == 0 &&
				(d->acts[j].clause == d->acts[i].clause || !clause_has_param(d, d->acts[i].clause)))
			{
				memmove(&d->acts[i], &d->acts[i + 1], sizeof(Action) * (d->nact - i - 1));
				d->nact--;
				i--;
				break;
			}
	if (!d->has_cond)
		return;
	for (i = 0; i < d->nact; i++)
	{
		n1 += d->acts[i].branch == 1;
		n2 += d->acts[i].branch == 2;
	}
	if (n1 == 0 && n2 > 0)
	{
		negate_condition(d);
		for (i = 0; i < d->nact; i++)
			if (d->acts[i].branch == 2)
				d->acts[i].branch = d->has_cond ? 1 : 0;
	}
	else if (n1 == 0 && n2 == 0)
	{
		for (i = 0; i < d->nact; i++)
			d->acts[i].branch = 1;
		if (d->nact == 0)
			d->has_cond = false;
	}
}

/* ---------------------------------------------------------------------
 * 6. Parameters and the blueprint
 * ---------------------------------------------------------------------
 */

typedef enum ParamRole
{
	ROLE_OTHER,
	ROLE_RECIPIENT,
	ROLE_EMAIL,
	ROLE_AMOUNT,
	ROLE_NAME,
	ROLE_MESSAGE,
	ROLE_PROMPT,
	ROLE_INPUT,
	ROLE_LABELS,
	ROLE_CHANNEL,
	ROLE_IMAGE,
	ROLE_URL,
	ROLE_METHOD,
	ROLE_PAYLOAD,
	ROLE_PAYMENT_ID,
	ROLE_DESCRIPTION
} ParamRole;

/*
 * param_role
 *		What a catalog parameter is for, from its name and type (so a new
 *		tool's "phone" or "message" is filled without editing the drafter).
 */
static ParamRole
param_role(const ToolTask *task, const ToolParam *p)
{
	const char *n = p->name;

	if (strcmp(n, "text") == 0 && strcmp(task->name, "classify") == 0)
		return ROLE_INPUT;
	if (strcmp(n, "to") == 0 || strstr(n, "contact") || strstr(n, "phone"))
		return ROLE_RECIPIENT;
	if (strstr(n, "email"))
		return ROLE_EMAIL;
	if (strstr(n, "amount") || strcmp(n, "price") == 0)
		return ROLE_AMOUNT;
	if (strcmp(n, "customer_name") == 0 || strcmp(n, "name") == 0)
		return ROLE_NAME;
	if (p->type == PT_STRING && (strcmp(n, "body") == 0 || strcmp(n, "text") == 0 ||
								 strcmp(n, "caption") == 0 || strcmp(n, "message") == 0))
		return ROLE_MESSAGE;
	if (strcmp(n, "prompt") == 0)
		return ROLE_PROMPT;
	if (strcmp(n, "labels") == 0)
		return ROLE_LABELS;
	if (strcmp(n, "channel") == 0)
		return ROLE_CHANNEL;
	if (strcmp(n, "image_url") == 0)
		return ROLE_IMAGE;
	if (strcmp(n, "url") == 0)
		return ROLE_URL;
	if (strcmp(n, "method") == 0)
		return ROLE_METHOD;
	if (p->type == PT_ANY && strcmp(n, "body") == 0)
		return ROLE_PAYLOAD;
	if (strstr(n, "payment_id"))
		return ROLE_PAYMENT_ID;
	if (strcmp(n, "description") == 0)
		return ROLE_DESCRIPTION;
	return ROLE_OTHER;
}

/*
 * take_ent
 *		An entity of kind for the action's clause (unused first), else an
 *		action-region one anywhere when global; NULL if none.
 */
static Ent *
take_ent(Draft *d, EntKind kind, int clause, bool global, bool mark)
{
	int			pass;
	int			i;

	for (pass = 0; pass < (global ? 3 : 1); pass++)
		for (i = 0; i < d->nent; i++)
		{
			Ent		   *e = &d->ents[i];

			if (e->kind != kind || e->region != R_ACTION)
				continue;
			if (pass == 0 && (e->used || e->clause != clause))
				continue;
			if (pass == 1 && e->used)
				continue;
			if (e->kind == EK_AMOUNT && e->used)
				continue;
			if (mark)
				e->used = true;
			return e;
		}
	return NULL;
}

/*
 * take_quote
 *		The quoted text of action act: in its clause, else in the next
 *		clause when no action of its own claims it ("whatsapp Priya: 'Your
 *		order has shipped'").
 */
static Ent *
take_quote(Draft *d, int act)
{
	int			clause = d->acts[act].clause;
	Ent		   *e = take_ent(d, EK_QUOTE, clause, false, true);
	int			k;

	if (e != NULL)
		return e;
	for (k = 0; k < d->nact; k++)
		if (d->acts[k].clause == clause + 1)
			return NULL;
	return take_ent(d, EK_QUOTE, clause + 1, false, true);
}

/*
 * find_name
 *		A person or shop named after "for", "to", "bill", "invoice",
 *		"send" (or before Hinglish "ko"): up to three capitalised words.
 */
static char *
find_name(Draft *d, int clause)
{
	int			pass;
	int			i;

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i + 1 < d->ntok; i++)
		{
			int			s = -1;
			int			e;
			int			k;

			if (pass == 0 && d->toks[i].clause != clause)
				continue;
			if (tok_is(d, i, "for") || tok_is(d, i, "to") || tok_is(d, i, "bill") ||
				tok_is(d, i, "invoice") || tok_is(d, i, "send"))
				s = i + 1;
			else if (tok_is(d, i + 1, "ko"))
				s = i;
			if (s < 0 || d->toks[s].kind != TK_WORD)
				continue;
			for (e = s; e < d->ntok && e < s + 3 && d->toks[e].kind == TK_WORD &&
				 isupper((unsigned char) d->orig[d->toks[e].start]) &&
				 !in_list(d->orig + d->toks[e].start, d->toks[e].end - d->toks[e].start, name_stop);
				 e++)
			{
				for (k = d->toks[e].start; k < d->toks[e].end; k++)
					if (!isalpha((unsigned char) d->orig[k]))
						break;
				if (k < d->toks[e].end)
					break;
				if (e > s && d->toks[e].start != d->toks[e - 1].end + 1)
					break;
			}
			if (e > s)
				return clean_text(d->orig + d->toks[s].start, d->toks[e - 1].end - d->toks[s].start, 100);
		}
	return NULL;
}

/*
 * prior_step
 *		The nearest earlier step (in the chain before act) of service svc
 *		(any when NULL) with a task name containing task_part (any when
 *		NULL); NULL if none.
 */
static const Action *
prior_step(const Draft *d, int act, const char *svc, const char *task_part)
{
	int			i;

	for (i = act - 1; i >= 0; i--)
	{
		const Action *a = &d->acts[i];

		if (a->branch != 0 && a->branch != d->acts[act].branch)
			continue;
		if ((svc == NULL || strcmp(a->svc->name, svc) == 0) &&
			(task_part == NULL || strstr(a->task->name, task_part)))
			return a;
	}
	return NULL;
}

/*
 * trig_ref
 *		"{{trigger_data.<field>}}" text for a field, or "" when the trigger
 *		has none (malloc'd).
 */
static char *
trig_ref(const char *field)
{
	return field ? field_template(field) : fdb_strdup("");
}

/*
 * trig_field
 *		The template for a trigger field a step needs, or NULL.  Event data
 *		has a known shape: its fields are used freely.  A table row or a
 *		flow_run payload does not: a guessed field ("phone", "amount") is
 *		used only for a required parameter, with a warning (a missing path
 *		fails the run when it renders).
 */
static char *
trig_field(Draft *d, const char *field, bool required, const char *step)
{
	if (field == NULL)
		return NULL;
	if (strcmp(d->trig_type, "event") == 0)
		return field_template(field);
	if (!required)
		return NULL;
	add_warning(d, "step %s reads {{trigger_data.%s}}; the %s must have that field",
				step, field, strcmp(d->trig_type, "table") == 0 ? "row" : "flow_run payload");
	return field_template(field);
}

/*
 * gen_message
 *		Text for a message parameter when the prompt quoted none: the
 *		output of an earlier step (AI text, payment link, API answer) or a
 *		line about the trigger.  customer: addressed to the customer.
 */
static char *
gen_message(Draft *d, int act, bool customer)
{
	const Action *p;
	char	   *amt = trig_ref(d->tf.amount);
	char	   *out = NULL;

	if ((p = prior_step(d, act, "llm", "classify")) != NULL)
		out = fdb_asprintf("Label: {{steps.%s.output.label}}", p->id);
	else if ((p = prior_step(d, act, "llm", NULL)) != NULL)
		out = fdb_asprintf("{{steps.%s.output.text}}", p->id);
	else if ((p = prior_step(d, act, "razorpay", "invoice")) != NULL)
		out = customer ? fdb_asprintf("Your invoice: {{steps.%s.output.short_url}}", p->id)
			: fdb_asprintf("Invoice {{steps.%s.output.id}} raised: {{steps.%s.output.short_url}}",
						   p->id, p->id);
	else if ((p = prior_step(d, act, "razorpay", "create")) != NULL)
		out = fdb_asprintf(customer ? "Please pay Rs {{steps.%s.output.amount_rupees}} here: {{steps.%s.output.short_url}}"
						   : "Payment link for Rs {{steps.%s.output.amount_rupees}}: {{steps.%s.output.short_url}}",
						   p->id, p->id);
	else if ((p = prior_step(d, act, "razorpay", "fetch")) != NULL)
		out = fdb_asprintf("Payment {{steps.%s.output.id}}: {{steps.%s.output.status}}, Rs {{steps.%s.output.amount_rupees}} by {{steps.%s.output.method}}",
						   p->id, p->id, p->id, p->id);
	else if ((p = prior_step(d, act, "http", NULL)) != NULL)
		out = fdb_asprintf("Result: {{steps.%s.output.body}}", p->id);
	else if (d->trig_razorpay && strstr(d->trig_event, "failed"))
		out = fdb_asprintf(customer ? "Your payment of Rs %s did not go through. Please try again."
						   : "Payment failed: Rs %s ({{trigger_data.id}})", amt);
	else if (d->trig_razorpay && strstr(d->trig_event, "refund"))
		out = fdb_asprintf(customer ? "Your refund of Rs %s is on its way."
						   : "Refund created: Rs %s for payment {{trigger_data.payment_id}}", amt);
	else if (d->trig_razorpay)
		out = fdb_asprintf(customer ? "Thank you for your payment of Rs %s!"
						   : "Payment received: Rs %s ({{trigger_data.id}})", amt);
	else if (strcmp(d->trig_type, "event") == 0 && d->tf.text)
		out = customer ? fdb_strdup("Thanks for your message! We will get back to you soon.")
			: fdb_asprintf("New message from {{trigger_data.%s}}: {{trigger_data.%s}}",
						   d->tf.name ? d->tf.name : (d->tf.contact ? d->tf.contact : d->tf.text),
						   d->tf.text);
	else if (strcmp(d->trig_type, "table") == 0)
		out = customer ? fdb_strdup("Hi! Thank you, we have your details.")
			: fdb_asprintf("New row in %s: {{trigger_data}}", d->trig_table[0] ? d->trig_table : "the table");
	else if (strcmp(d->trig_type, "schedule") == 0)
		out = fdb_strdup("Scheduled message from {{workflow.name}}");
	else
		out = fdb_strdup(customer ? "Hello from our shop!" : "Update from {{workflow.name}}");
	free(amt);
	return out;
}

/*
 * clause_text
 *		The original text of an action's clause (malloc'd, cleaned).
 */
static char *
clause_text(const Draft *d, int clause)
{
	int			a = -1;
	int			b = -1;
	int			i;

	for (i = 0; i < d->ntok; i++)
		if (d->toks[i].clause == clause && d->toks[i].kind != TK_SEP)
		{
			if (a < 0)
				a = d->toks[i].start;
			b = d->toks[i].end;
		}
	if (a < 0)
		return fdb_strdup("");
	/* keep quotes and URLs that end the clause */
	for (i = 0; i < d->nent; i++)
		if (d->ents[i].start >= b && d->ents[i].start <= b + 2 && d->ents[i].kind <= EK_EMAIL)
			b = d->ents[i].end;
	return clean_text(d->orig + a, b - a, 500);
}

/*
 * add_str
 *		obj[key] = s (then free s); nothing when s is NULL.
 */
static void
add_str(cJSON *obj, const char *key, char *s)
{
	if (s == NULL)
		return;
	cJSON_AddStringToObject(obj, key, s);
	free(s);
}

/*
 * labels_for
 *		Labels for a classify step: quoted words, or words listed as "X, Y
 *		or Z" after "as"/"whether"/"into"/"is", or a pair that fits.
 */
static cJSON *
labels_for(Draft *d, int clause)
{
	cJSON	   *arr = cJSON_CreateArray();
	int			i;

	for (i = 0; i < d->ntok; i++)
	{
		int			j;
		int			k;

		if (d->toks[i].clause != clause ||
			!(tok_is(d, i, "as") || tok_is(d, i, "whether") || tok_is(d, i, "into") ||
			  tok_is(d, i, "is")))
			continue;
		/* words separated by "or"/"and" (commas end clauses: look across them) */
		for (j = i + 1, k = 0; j < d->ntok && k < 8; j++)
		{
			if (d->toks[j].kind == TK_SEP && d->low[d->toks[j].start] == ',')
				continue;
			if (d->toks[j].kind != TK_WORD)
				break;
			if (tok_is(d, j, "or") || tok_is(d, j, "and") || tok_is(d, j, "a") ||
				tok_is(d, j, "an") || tok_is(d, j, "it") || tok_is(d, j, "s"))
				continue;
			if (tok_in(d, j, action_verbs) || tok_is(d, j, "using") || tok_is(d, j, "with") ||
				tok_is(d, j, "the") || tok_is(d, j, "not"))
				break;
			{
				char	   *w = clean_text(d->low + d->toks[j].start,
										   d->toks[j].end - d->toks[j].start, 40);

				cJSON_AddItemToArray(arr, cJSON_CreateString(w ? w : ""));
				free(w);
			}
			k++;
		}
		if (k >= 2)
			return arr;
		while (cJSON_GetArraySize(arr) > 0)
			cJSON_DeleteItemFromArray(arr, 0);
	}
	for (i = 0; i < d->ntok; i++)
	{
		if (tok_is(d, i, "sentiment"))
		{
			cJSON_AddItemToArray(arr, cJSON_CreateString("positive"));
			cJSON_AddItemToArray(arr, cJSON_CreateString("neutral"));
			cJSON_AddItemToArray(arr, cJSON_CreateString("negative"));
			return arr;
		}
		if (tok_is(d, i, "urgent"))
		{
			cJSON_AddItemToArray(arr, cJSON_CreateString("urgent"));
			cJSON_AddItemToArray(arr, cJSON_CreateString("normal"));
			return arr;
		}
	}
	cJSON_AddItemToArray(arr, cJSON_CreateString("yes"));
	cJSON_AddItemToArray(arr, cJSON_CreateString("no"));
	add_warning(d, "no labels found for the classify step; it uses [\"yes\", \"no\"]");
	return arr;
}

/*
 * input_text
 *		What an AI step reads: the trigger's text, an earlier API answer or
 *		the trigger data (malloc'd, may be "").
 */
static char *
input_text(Draft *d, int act)
{
	const Action *p = prior_step(d, act, "http", NULL);

	if (p)
		return fdb_asprintf("{{steps.%s.output.body}}", p->id);
	if (d->tf.text && strcmp(d->trig_type, "event") == 0)
		return field_template(d->tf.text);
	if (strcmp(d->trig_type, "manual") == 0 || strcmp(d->trig_type, "schedule") == 0)
		return fdb_strdup("");
	return fdb_strdup("{{trigger_data}}");
}

/*
 * fill_params
 *		The params object of action act, from the entities of its clause,
 *		the trigger's fields and earlier steps.
 */
static cJSON *
fill_params(Draft *d, int act)
{
	Action	   *a = &d->acts[act];
	cJSON	   *params = cJSON_CreateObject();
	bool		customer = strcmp(a->svc->name, "whatsapp") == 0;
	bool		post = false;
	int			k;
	int			i;

	for (i = 0; i < d->ntok; i++)
		if (d->toks[i].clause == a->clause &&
			(tok_is(d, i, "post") || tok_is(d, i, "send") || tok_is(d, i, "push") ||
			 tok_is(d, i, "log") || tok_is(d, i, "mark") || tok_is(d, i, "update") ||
			 tok_is(d, i, "notify") || tok_is(d, i, "sync") || tok_is(d, i, "submit")))
			post = true;
	for (k = 0; k < a->task->nparams; k++)
	{
		const ToolParam *p = &a->task->params[k];
		ParamRole	role = param_role(a->task, p);
		Ent		   *e;

		switch (role)
		{
			case ROLE_RECIPIENT:
				if ((e = take_ent(d, EK_PHONE, a->clause, true, false)) != NULL)
					cJSON_AddStringToObject(params, p->name, e->text);
				else if (d->tf.contact)
					add_str(params, p->name, trig_field(d, d->tf.contact, p->required, a->id));
				else if (p->required)
				{
					add_str(params, p->name, field_template("phone"));
					add_warning(d, "no phone number for step %s; it uses {{trigger_data.phone}}", a->id);
				}
				break;
			case ROLE_EMAIL:
				if ((e = take_ent(d, EK_EMAIL, a->clause, true, false)) != NULL)
					cJSON_AddStringToObject(params, p->name, e->text);
				else if (d->tf.email)
					add_str(params, p->name, trig_field(d, d->tf.email, p->required, a->id));
				break;
			case ROLE_AMOUNT:
				if ((e = take_ent(d, EK_AMOUNT, a->clause, true, true)) != NULL)
					cJSON_AddNumberToObject(params, p->name, e->num);
				else if (d->tf.amount)
					add_str(params, p->name, trig_field(d, amount_name(d), p->required, a->id));
				else if (p->required)
				{
					add_str(params, p->name, field_template("amount"));
					add_warning(d, "no amount for step %s; it uses {{trigger_data.amount}}", a->id);
				}
				break;
			case ROLE_NAME:
				{
					char	   *name = find_name(d, a->clause);

					if (name)
						add_str(params, p->name, name);
					else if (d->tf.name)
						add_str(params, p->name, trig_field(d, d->tf.name, p->required, a->id));
					else if (p->required)
					{
						add_str(params, p->name, field_template("name"));
						add_warning(d, "no customer name for step %s; it uses {{trigger_data.name}}", a->id);
					}
				}
				break;
			case ROLE_MESSAGE:
				if ((e = take_quote(d, act)) != NULL)
					cJSON_AddStringToObject(params, p->name, e->text);
				else if (strcmp(p->name, "caption") != 0 || prior_step(d, act, "llm", NULL))
					add_str(params, p->name, gen_message(d, act, customer));
				break;
			case ROLE_PROMPT:
				if ((e = take_quote(d, act)) != NULL)
					cJSON_AddStringToObject(params, p->name, e->text);
				else
				{
					char	   *instr = clause_text(d, a->clause);
					char	   *in = input_text(d, act);

					add_str(params, p->name, fdb_asprintf("%s%s%s", instr ? instr : "",
														  in && in[0] ? "\n\n" : "", in ? in : ""));
					free(instr);
					free(in);
				}
				break;
			case ROLE_INPUT:
				add_str(params, p->name, input_text(d, act));
				if (cJSON_GetObjectItem(params, p->name)->valuestring[0] == '\0')
				{
					cJSON_DeleteItemFromObject(params, p->name);
					add_str(params, p->name, field_template("text"));
					add_warning(d, "no text to classify for step %s; it uses {{trigger_data.text}}", a->id);
				}
				break;
			case ROLE_LABELS:
				cJSON_AddItemToObject(params, p->name, labels_for(d, a->clause));
				break;
			case ROLE_CHANNEL:
				if ((e = take_ent(d, EK_CHANNEL, a->clause, true, false)) != NULL)
					cJSON_AddStringToObject(params, p->name, e->text);
				else
				{
					cJSON_AddStringToObject(params, p->name, "#general");
					add_warning(d, "no Slack channel named for step %s; it posts to #general", a->id);
				}
				break;
			case ROLE_IMAGE:
				{
					int			j;

					e = NULL;
					for (j = 0; j < d->nent && e == NULL; j++)
						if (d->ents[j].kind == EK_URL && is_image_url(d->ents[j].text))
							e = &d->ents[j];
					if (e == NULL)
						e = take_ent(d, EK_URL, a->clause, true, false);
					if (e)
						cJSON_AddStringToObject(params, p->name, e->text);
					else if (p->required)
					{
						add_str(params, p->name, field_template("image_url"));
						add_warning(d, "no image URL for step %s; it uses {{trigger_data.image_url}}", a->id);
					}
				}
				break;
			case ROLE_URL:
				{
					int			j;

					e = NULL;
					for (j = 0; j < d->nent && e == NULL; j++)
						if (d->ents[j].kind == EK_URL && !d->ents[j].used &&
							!is_image_url(d->ents[j].text) &&
							d->ents[j].clause == a->clause)
							e = &d->ents[j];
					for (j = 0; j < d->nent && e == NULL; j++)
						if (d->ents[j].kind == EK_URL && !d->ents[j].used &&
							!is_image_url(d->ents[j].text))
							e = &d->ents[j];
					if (e)
					{
						e->used = true;
						cJSON_AddStringToObject(params, p->name, e->text);
					}
					else if (p->required)
					{
						add_str(params, p->name, field_template("url"));
						add_warning(d, "no URL for step %s; it uses {{trigger_data.url}}", a->id);
					}
				}
				break;
			case ROLE_METHOD:
				cJSON_AddStringToObject(params, p->name, post ? "POST" : "GET");
				break;
			case ROLE_PAYLOAD:
				if (post && strcmp(d->trig_type, "manual") != 0 && strcmp(d->trig_type, "schedule") != 0)
					cJSON_AddStringToObject(params, p->name, "{{trigger_data}}");
				break;
			case ROLE_PAYMENT_ID:
				if ((e = take_ent(d, EK_PAYID, a->clause, true, false)) != NULL)
					cJSON_AddStringToObject(params, p->name, e->text);
				else if (d->trig_razorpay && d->tf.id)
					add_str(params, p->name, field_template(strcmp(d->tf.id, "id") == 0 &&
															strstr(d->trig_event, "payment.") ? "id" : "payment_id"));
				else if (p->required)
				{
					add_str(params, p->name, field_template("payment_id"));
					add_warning(d, "no payment id for step %s; it uses {{trigger_data.payment_id}}", a->id);
				}
				break;
			case ROLE_DESCRIPTION:
				if ((e = take_quote(d, act)) != NULL)
					cJSON_AddStringToObject(params, p->name, e->text);
				break;
			case ROLE_OTHER:
				if (p->required)
				{
					add_str(params, p->name, field_template(p->name));
					add_warning(d, "step %s: %s is not known; it uses {{trigger_data.%s}}",
								a->id, p->name, p->name);
				}
				break;
		}
	}
	return params;
}

/*
 * make_ids
 *		Node ids "<service>_<task>" (with _2, _3 ... when repeated).
 */
static void
make_ids(Draft *d)
{
	int			i;
	int			j;

	for (i = 0; i < d->nact; i++)
	{
		int			same = 1;

		for (j = 0; j < i; j++)
			if (d->acts[j].svc == d->acts[i].svc && d->acts[j].task == d->acts[i].task)
				same++;
		if (same == 1)
			snprintf(d->acts[i].id, sizeof(d->acts[i].id), "%.30s_%.30s",
					 d->acts[i].svc->name, d->acts[i].task->name);
		else
			snprintf(d->acts[i].id, sizeof(d->acts[i].id), "%.28s_%.28s_%d",
					 d->acts[i].svc->name, d->acts[i].task->name, same);
	}
}

/*
 * add_edge
 *		Append {"from", "to"} to edges; returns the edge.
 */
static cJSON *
add_edge(cJSON *edges, const char *from, const char *to)
{
	cJSON	   *e = cJSON_CreateObject();

	cJSON_AddStringToObject(e, "from", from);
	cJSON_AddStringToObject(e, "to", to);
	cJSON_AddItemToArray(edges, e);
	return e;
}

/*
 * add_chain
 *		Nodes of branch br in order (each after the previous, with a delay
 *		node in front when it has one), the first linked from *prev with
 *		first_edge_cond / first_else.  *prev ends as the last node's id.
 */
static void
add_chain(Draft *d, cJSON *nodes, cJSON *edges, int br, const char **prev,
		  cJSON *first_cond, bool first_else, int *ndelay)
{
	int			i;
	bool		first = true;

	for (i = 0; i < d->nact; i++)
	{
		Action	   *a = &d->acts[i];
		cJSON	   *node;
		const char *id = a->id;

		if (a->branch != br)
			continue;
		if (a->delay_s > 0)
		{
			cJSON	   *dn = cJSON_CreateObject();
			char		did[32];
			cJSON	   *e;

			(*ndelay)++;
			snprintf(did, sizeof(did), *ndelay == 1 ? "wait" : "wait_%d", *ndelay);
			cJSON_AddStringToObject(dn, "id", did);
			cJSON_AddStringToObject(dn, "type", "delay");
			cJSON_AddNumberToObject(dn, "seconds", a->delay_s);
			cJSON_AddItemToArray(nodes, dn);
			if (*prev)
			{
				e = add_edge(edges, *prev, did);
				if (first && first_cond)
					cJSON_AddItemToObject(e, "condition", cJSON_Duplicate(first_cond, true));
				else if (first && first_else)
					cJSON_AddBoolToObject(e, "else", true);
			}
			first = false;
			*prev = cJSON_GetObjectItem(dn, "id")->valuestring;
		}
		node = cJSON_CreateObject();
		cJSON_AddStringToObject(node, "id", id);
		cJSON_AddStringToObject(node, "type", "action");
		cJSON_AddStringToObject(node, "service", a->svc->name);
		cJSON_AddStringToObject(node, "task", a->task->name);
		cJSON_AddItemToObject(node, "params", fill_params(d, i));
		cJSON_AddItemToArray(nodes, node);
		if (*prev)
		{
			cJSON	   *e = add_edge(edges, *prev, id);

			if (first && first_cond)
				cJSON_AddItemToObject(e, "condition", cJSON_Duplicate(first_cond, true));
			else if (first && first_else)
				cJSON_AddBoolToObject(e, "else", true);
		}
		first = false;
		*prev = a->id;
	}
}

/*
 * draft_name
 *		The blueprint's name: "Draft: " and the first sentence of the
 *		prompt, at most 80 bytes.
 */
static char *
draft_name(const Draft *d)
{
	int			n = 0;
	char	   *first;
	char	   *name;

	while (n < d->len && n < 400 && d->orig[n] != '\n' &&
		   !((d->orig[n] == '.' || d->orig[n] == '!' || d->orig[n] == '?') &&
			 (n + 1 >= d->len || d->orig[n + 1] == ' ')))
		n++;
	first = clean_text(d->orig, n, 80);
	if (first && n > 80 && strrchr(first, ' ') && strlen(strrchr(first, ' ')) < 20)
		*strrchr(first, ' ') = '\0';
	if (first == NULL || first[0] == '\0')
	{
		free(first);
		return fdb_strdup("Draft workflow");
	}
	name = fdb_asprintf("Draft: %s", first);
	free(first);
	return name;
}

/*
 * build_blueprint
 *		Assemble the blueprint from trigger, condition and actions.
 */
static cJSON *
build_blueprint(Draft *d)
{
	cJSON	   *bp = cJSON_CreateObject();
	cJSON	   *trig = cJSON_CreateObject();
	cJSON	   *nodes;
	cJSON	   *edges;
	const char *prev = NULL;
	int			ndelay = 0;

	cJSON_AddNumberToObject(bp, "version", 1);
	add_str(bp, "name", draft_name(d));
	cJSON_AddStringToObject(trig, "type", d->trig_type);
	if (strcmp(d->trig_type, "event") == 0 || strcmp(d->trig_type, "webhook") == 0)
		cJSON_AddStringToObject(trig, "event", d->trig_event);
	else if (strcmp(d->trig_type, "schedule") == 0)
		cJSON_AddStringToObject(trig, "cron", d->trig_cron);
	else if (strcmp(d->trig_type, "table") == 0 && d->trig_table[0])
		cJSON_AddStringToObject(trig, "table", d->trig_table);
	cJSON_AddItemToObject(bp, "trigger", trig);
	nodes = cJSON_AddArrayToObject(bp, "nodes");
	edges = cJSON_AddArrayToObject(bp, "edges");

	make_ids(d);
	add_chain(d, nodes, edges, 0, &prev, NULL, false, &ndelay);
	if (d->has_cond)
	{
		cJSON	   *router = cJSON_CreateObject();
		cJSON	   *cond = cJSON_CreateObject();
		const char *rprev;

		cJSON_AddStringToObject(router, "id", "check");
		cJSON_AddStringToObject(router, "type", "router");
		cJSON_AddItemToArray(nodes, router);
		if (prev)
			add_edge(edges, prev, "check");
		cJSON_AddStringToObject(cond, "left", d->cond_left);
		cJSON_AddStringToObject(cond, "op", d->cond_op);
		if (d->cond_num)
			cJSON_AddNumberToObject(cond, "right", d->cond_value);
		else
			cJSON_AddStringToObject(cond, "right", d->cond_text ? d->cond_text : "");
		rprev = "check";
		add_chain(d, nodes, edges, 1, &rprev, cond, false, &ndelay);
		rprev = "check";
		add_chain(d, nodes, edges, 2, &rprev, NULL, true, &ndelay);
		cJSON_Delete(cond);
	}
	if (cJSON_GetArraySize(nodes) == 0 || (d->has_cond && d->nact == 0))
	{
		cJSON	   *set = cJSON_CreateObject();
		cJSON	   *values = cJSON_CreateObject();

		cJSON_DeleteItemFromObject(bp, "nodes");
		cJSON_DeleteItemFromObject(bp, "edges");
		nodes = cJSON_AddArrayToObject(bp, "nodes");
		cJSON_AddArrayToObject(bp, "edges");
		cJSON_AddStringToObject(set, "id", "note");
		cJSON_AddStringToObject(set, "type", "set");
		add_str(values, "request", clean_text(d->orig, d->len, 2000));
		cJSON_AddItemToObject(set, "values", values);
		cJSON_AddItemToArray(nodes, set);
		add_warning(d, "no action the catalog offers was found; the draft only records the request");
	}
	return bp;
}

/*
 * warn_unknown_apps
 *		Apps the prompt names that the catalog lacks.
 */
static void
warn_unknown_apps(Draft *d)
{
	int			i;
	int			k;

	for (i = 0; i < d->ntok; i++)
		for (k = 0; unknown_apps[k].phrase; k++)
		{
			int			m;
			char	   *ctx;
			int			a;
			int			b;

			if (strchr(unknown_apps[k].phrase, '-'))
				continue;
			if ((m = phrase_at(d, i, unknown_apps[k].phrase)) == 0)
				continue;
			/* "e-mail": the tokenizer splits it; "email" covers the rest */
			if (catalog_service(unknown_apps[k].phrase) != NULL)
				continue;
			a = i;
			while (a > 0 && d->toks[a - 1].kind != TK_SEP && i - a < 4)
				a--;
			b = i + m - 1;
			while (b + 1 < d->ntok && d->toks[b + 1].kind != TK_SEP && b - i < 4)
				b++;
			ctx = clean_text(d->orig + d->toks[a].start, d->toks[b].end - d->toks[a].start, 100);
			add_warning(d, "%s is not available; skipped \"%s\"", unknown_apps[k].display,
						ctx ? ctx : "");
			free(ctx);
			i += m - 1;
			break;
		}
	for (i = 0; i + 2 < d->ntok; i++)
		if (tok_is(d, i, "e") && tok_stem(d, i + 1, "mail") &&
			d->toks[i + 1].start == d->toks[i].end + 1)
			add_warning(d, "Email is not available; skipped \"e-mail\"");
}

/*
 * draft_offline
 *		See draft.h.
 */
cJSON *
draft_offline(const char *prompt, size_t len)
{
	Draft	   *d = calloc(1, sizeof(Draft));
	cJSON	   *out = NULL;
	cJSON	   *bp;
	size_t		n = 0;
	int			i;

	if (d == NULL)
		return NULL;
	if (prompt == NULL)
		len = 0;
	while (n < len && prompt[n] != '\0')
		n++;
	d->warnings = cJSON_CreateArray();
	if (n > DRAFT_MAX_INPUT)
	{
		n = DRAFT_MAX_INPUT;
		while (n > 0 && ((unsigned char) prompt[n] & 0xC0) == 0x80)
			n--;
		add_warning(d, "the request is longer than %d bytes; only the start was read", DRAFT_MAX_INPUT);
	}
	d->len = (int) n;
	d->orig = malloc(n + 1);
	d->low = malloc(n + 1);
	d->toks = malloc(sizeof(Tok) * MAX_TOKENS);
	if (d->orig == NULL || d->low == NULL || d->toks == NULL || d->warnings == NULL)
		goto done;
	if (n > 0)
		memcpy(d->orig, prompt, n);
	d->orig[n] = '\0';
	for (i = 0; i < (int) n; i++)
		d->low[i] = (char) tolower((unsigned char) d->orig[i]);
	d->low[n] = '\0';

	find_quotes(d);
	find_urls_emails(d);
	find_phones(d);
	find_channels(d);
	find_amounts(d);
	tokenize(d);
	mark_regions(d);
	find_trigger(d);
	locate_ents(d);
	find_condition(d);
	find_actions(d);
	assign_branches(d);
	warn_unknown_apps(d);
	if (n == 0)
		add_warning(d, "the request is empty");

	bp = build_blueprint(d);
	out = cJSON_CreateObject();
	if (out == NULL || bp == NULL)
	{
		cJSON_Delete(bp);
		cJSON_Delete(out);
		out = NULL;
		goto done;
	}
	cJSON_AddItemToObject(out, "blueprint", bp);
	cJSON_AddItemToObject(out, "warnings", d->warnings);
	d->warnings = NULL;

done:
	for (i = 0; i < d->nent; i++)
		free(d->ents[i].text);
	free(d->cond_left);
	free(d->cond_text);
	cJSON_Delete(d->warnings);
	free(d->orig);
	free(d->low);
	free(d->toks);
	free(d->desc);
	free(d);
	return out;
}
