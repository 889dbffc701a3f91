/*-------------------------------------------------------------------------
 *
 * intent.c
 *	  Offline intent parser: one shop-owner utterance (English or
 *	  code-mixed Hinglish) -> {"intent", "entities", "confidence"}.
 *
 * The text is first cut into typed tokens (words, numbers, phone numbers,
 * e-mails, URLs, quoted text, #channels, Razorpay payment ids, run ids).
 * Intents are then recognised from keyword phrases over the lower-cased
 * word sequence, in a fixed priority order, and entities are read from the
 * tokens around them.  Anything without a clear command word is UNKNOWN:
 * a wrong action (an invoice, a payment link, a broadcast) costs the shop
 * money, so the caller asks instead of guessing.
 *
 * Pure C: libc and cJSON only, malloc/free, no longjmp.
 *
 *-------------------------------------------------------------------------
 */
#include "intent.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fjson.h"

const char *const intent_names[] = {
	"CREATE_INVOICE", "CREATE_PAYMENT_LINK", "SEND_MESSAGE", "POST_TO_INSTAGRAM",
	"NOTIFY_SLACK", "CHECK_PAYMENT", "RUN_WORKFLOW", "CREATE_WORKFLOW",
	"RUN_STATUS", "HELP", "UNKNOWN", NULL
};

typedef enum TokKind
{
	TK_WORD,
	TK_NUM,						/* a number (amount candidate) */
	TK_PHONE,
	TK_EMAIL,
	TK_URL,
	TK_QUOTE,					/* quoted text, quotes removed */
	TK_PAYID,
	TK_UUID,
	TK_HASH,					/* #channel */
	TK_COLON
} TokKind;

typedef struct Tok
{
	TokKind		kind;
	char	   *text;			/* original spelling (malloc'd) */
	char	   *low;			/* lower case (malloc'd) */
	size_t		start;			/* byte offsets in the input */
	size_t		end;
	double		num;			/* TK_NUM value */
	bool		money;			/* TK_NUM with a currency marker */
	bool		time;			/* TK_NUM that is a time or a count */
	bool		plus;			/* TK_NUM written with a leading '+' */
	bool		plain;			/* TK_NUM of digits only */
	bool		used;			/* consumed by an entity */
} Tok;

typedef struct Toks
{
	Tok		   *t;
	int			n;
	int			cap;
	bool		oom;
	const char *src;
	size_t		len;
	char	   *words;			/* " w1 w2 ... " lower-case words, others as <kind> */
	const char *usd;			/* currency seen */
} Toks;

/* Words that are never a person's name. */
static const char *const stop_words[] = {
	"a", "an", "the", "to", "for", "of", "on", "in", "at", "by", "with", "and", "or",
	"me", "my", "i", "we", "us", "our", "you", "your", "he", "she", "they", "them", "it",
	"is", "are", "was", "be", "this", "that", "these", "please", "pls", "plz", "now",
	"send", "create", "make", "generate", "raise", "issue", "give", "share", "post",
	"invoice", "invoices", "bill", "payment", "payments", "link", "pay", "paid",
	"message", "msg", "whatsapp", "text", "sms", "instagram", "insta", "ig", "slack",
	"run", "start", "workflow", "automation", "flow", "status", "check", "help",
	"ko", "ka", "ki", "ke", "se", "pe", "par", "mein", "me", "ne", "hai", "tha",
	"bhejo", "bhej", "bhejdo", "do", "karo", "kar", "banao", "bana", "batao", "bolo",
	"bol", "kaho", "daalo", "dalo", "chalao", "chala", "wala", "wali", "aur", "bhi",
	"rupees", "rupee", "rs", "inr", "rupaye", "rupay", "k", "lakh", "hazaar",
	"team", "channel", "everyone", "all", "sab", "sabko", "customer", "customers",
	"hi", "hello", "hey", "ok", "okay", "yes", "no", "haan", "nahi", "new", "ek",
	"amount", "due", "today", "tomorrow", "kal", "aaj", "abhi", "jaldi", "remind",
	"reminder", "tell", "inform", "notify", "ping", "saying", "about", "regarding",
	"mujhe", "humko", "hamko", "mera", "meri", "apna", "apni", "unko", "usko", "wo",
	"what", "whats", "what's", "how", "why", "when", "where", "who", "which", "can",
	"link", "upi", "collect", "request", "from", "get", "want", "need", "chahiye",
	NULL
};

static const char *const number_words[][2] = {
	{"one", "1"}, {"two", "2"}, {"three", "3"}, {"four", "4"}, {"five", "5"},
	{"six", "6"}, {"seven", "7"}, {"eight", "8"}, {"nine", "9"}, {"ten", "10"},
	{"eleven", "11"}, {"twelve", "12"}, {"thirteen", "13"}, {"fourteen", "14"},
	{"fifteen", "15"}, {"sixteen", "16"}, {"seventeen", "17"}, {"eighteen", "18"},
	{"nineteen", "19"}, {"twenty", "20"}, {"thirty", "30"}, {"forty", "40"},
	{"fifty", "50"}, {"sixty", "60"}, {"seventy", "70"}, {"eighty", "80"},
	{"ninety", "90"}, {NULL, NULL}
};

/*
 * word_in
 *		Is w one of the NULL-terminated list?
 */
static bool
word_in(const char *w, const char *const *list)
{
	for (int i = 0; list[i]; i++)
		if (strcmp(w, list[i]) == 0)
			return true;
	return false;
}

/*
 * str_lower
 *		malloc'd ASCII lower-case copy of s[0..n).
 */
static char *
str_lower(const char *s, size_t n)
{
	char	   *out = malloc(n + 1);

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		out[i] = (char) tolower((unsigned char) s[i]);
	out[n] = '\0';
	return out;
}

/*
 * tok_add
 *		Append a token for src[start..end) (text may differ, e.g. quotes).
 */
static Tok *
tok_add(Toks *ts, TokKind kind, const char *text, size_t tlen, size_t start, size_t end)
{
	Tok		   *t;

	if (ts->oom)
		return NULL;
	if (ts->n == ts->cap)
	{
		int			cap = ts->cap ? ts->cap * 2 : 32;
		Tok		   *nt = realloc(ts->t, sizeof(Tok) * (size_t) cap);

		if (nt == NULL)
		{
			ts->oom = true;
			return NULL;
		}
		ts->t = nt;
		ts->cap = cap;
	}
	t = &ts->t[ts->n];
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->text = malloc(tlen + 1);
	t->low = str_lower(text, tlen);
	if (t->text == NULL || t->low == NULL)
	{
		free(t->text);
		free(t->low);
		ts->oom = true;
		return NULL;
	}
	memcpy(t->text, text, tlen);
	t->text[tlen] = '\0';
	t->start = start;
	t->end = end;
	ts->n++;
	return t;
}

/*
 * toks_free
 *		Free every token and the word string.
 */
static void
toks_free(Toks *ts)
{
	for (int i = 0; i < ts->n; i++)
	{
		free(ts->t[i].text);
		free(ts->t[i].low);
	}
	free(ts->t);
	free(ts->words);
}

/*
 * quote_close
 *		If s[i] opens a quotation, the offset of its closing quote (and its
 *		length in *qlen); else 0.  Straight single quotes only open at a word
 *		start and close before a non-letter, so "what's" is not a quote.
 */
static size_t
quote_close(const char *s, size_t n, size_t i, size_t *olen, size_t *qlen)
{
	bool		single;

	if (s[i] == '"')
	{
		*olen = 1;
		single = false;
	}
	else if (s[i] == '\'')
	{
		*olen = 1;
		single = true;
	}
	else if (i + 2 < n && (unsigned char) s[i] == 0xE2 && (unsigned char) s[i + 1] == 0x80 &&
			 ((unsigned char) s[i + 2] == 0x9C || (unsigned char) s[i + 2] == 0x98))
	{
		*olen = 3;
		single = (unsigned char) s[i + 2] == 0x98;
	}
	else
		return 0;
	for (size_t j = i + *olen; j < n; j++)
	{
		unsigned char c = (unsigned char) s[j];

		if (!single && c == '"')
		{
			*qlen = 1;
			return j;
		}
		if (j + 2 < n && c == 0xE2 && (unsigned char) s[j + 1] == 0x80 &&
			(unsigned char) s[j + 2] == (single ? 0x99 : 0x9D))
		{
			*qlen = 3;
			return j;
		}
		if (single && c == '\'' && (j + 1 >= n || !isalnum((unsigned char) s[j + 1])))
		{
			*qlen = 1;
			return j;
		}
	}
	return 0;
}

/*
 * is_uuid
 *		8-4-4-4-12 hexadecimal digits.
 */
static bool
is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return false;
	for (size_t i = 0; i < 36; i++)
	{
		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (s[i] != '-')
				return false;
		}
		else if (!isxdigit((unsigned char) s[i]))
			return false;
	}
	return true;
}

/*
 * parse_number
 *		Read an amount such as "1,200", "2.5k", "500rs", "5L", "500/-" from
 *		s[0..n).  True when the whole chunk is a number; sets *val and
 *		*money (a currency suffix was attached) and *plain (digits only).
 */
static bool
parse_number(const char *s, size_t n, double *val, bool *money, bool *plain)
{
	size_t		i = 0;
	double		v = 0;
	double		frac = 0.1;
	bool		digits = false;
	bool		dot = false;
	const char *suf;
	size_t		slen;

	*money = false;
	*plain = true;
	for (; i < n; i++)
	{
		char		c = s[i];

		if (isdigit((unsigned char) c))
		{
			if (dot)
			{
				v += (c - '0') * frac;
				frac /= 10;
			}
			else if (v < 1e15)
				v = v * 10 + (c - '0');
			digits = true;
		}
		else if (c == ',' && digits && !dot && i + 1 < n && isdigit((unsigned char) s[i + 1]))
			*plain = false;
		else if (c == '.' && digits && !dot && i + 1 < n && isdigit((unsigned char) s[i + 1]))
		{
			dot = true;
			*plain = false;
		}
		else
			break;
	}
	if (!digits)
		return false;
	suf = s + i;
	slen = n - i;
	if (slen > 0)
		*plain = false;
	if (slen == 0)
		;
	else if ((slen == 1 && (suf[0] == 'k' || suf[0] == 'K')))
		v *= 1000;
	else if ((slen == 1 && (suf[0] == 'l' || suf[0] == 'L')) ||
			 (slen == 4 && strncasecmp(suf, "lakh", 4) == 0) ||
			 (slen == 3 && strncasecmp(suf, "lac", 3) == 0))
		v *= 100000;
	else if ((slen == 2 && strncasecmp(suf, "cr", 2) == 0))
		v *= 10000000;
	else if ((slen == 2 && strncasecmp(suf, "rs", 2) == 0) ||
			 (slen == 2 && strncmp(suf, "/-", 2) == 0) ||
			 (slen == 6 && strncasecmp(suf, "rupees", 6) == 0))
		*money = true;
	else if (slen == 2 && (strncasecmp(suf, "am", 2) == 0 || strncasecmp(suf, "pm", 2) == 0))
		return false;
	else
		return false;
	*val = v;
	return true;
}

/*
 * classify_chunk
 *		Turn one whitespace-delimited chunk src[a..b) into a token.
 */
static void
classify_chunk(Toks *ts, size_t a, size_t b)
{
	const char *s = ts->src + a;
	size_t		n = b - a;
	Tok		   *t;
	double		v;
	bool		money = false;
	bool		plain = false;

	if (n == 0)
		return;
	if ((n > 7 && strncasecmp(s, "http://", 7) == 0) ||
		(n > 8 && strncasecmp(s, "https://", 8) == 0) ||
		(n > 4 && strncasecmp(s, "www.", 4) == 0))
	{
		tok_add(ts, TK_URL, s, n, a, b);
		return;
	}
	if (memchr(s, '@', n) && s[0] != '@')
	{
		const char *at = memchr(s, '@', n);

		if (memchr(at, '.', n - (size_t) (at - s)) && s[n - 1] != '.')
		{
			tok_add(ts, TK_EMAIL, s, n, a, b);
			return;
		}
	}
	if (n > 4 && strncasecmp(s, "pay_", 4) == 0)
	{
		tok_add(ts, TK_PAYID, s, n, a, b);
		return;
	}
	if (is_uuid(s, n))
	{
		tok_add(ts, TK_UUID, s, n, a, b);
		return;
	}
	if (n > 1 && s[0] == '#')
	{
		tok_add(ts, TK_HASH, s, n, a, b);
		return;
	}
	/* currency prefix glued to the number: Rs500, Rs.500, ₹500, INR500, $5 */
	{
		size_t		p = 0;

		if (n > 3 && (unsigned char) s[0] == 0xE2 && (unsigned char) s[1] == 0x82 &&
			(unsigned char) s[2] == 0xB9)
			p = 3;
		else if (n > 3 && strncasecmp(s, "rs.", 3) == 0)
			p = 3;
		else if (n > 2 && strncasecmp(s, "rs", 2) == 0 && isdigit((unsigned char) s[2]))
			p = 2;
		else if (n > 3 && strncasecmp(s, "inr", 3) == 0 && isdigit((unsigned char) s[3]))
			p = 3;
		else if (n > 1 && s[0] == '$' && isdigit((unsigned char) s[1]))
		{
			p = 1;
			ts->usd = "USD";
		}
		if (p > 0)
		{
			if (p == n)
			{
				tok_add(ts, TK_WORD, "rs", 2, a, b);
				return;
			}
			if (parse_number(s + p, n - p, &v, &money, &plain) &&
				(t = tok_add(ts, TK_NUM, s + p, n - p, a, b)) != NULL)
			{
				t->num = v;
				t->money = true;
			}
			else
				tok_add(ts, TK_WORD, s, n, a, b);
			return;
		}
		if (n == 3 && (unsigned char) s[0] == 0xE2 && (unsigned char) s[1] == 0x82 &&
			(unsigned char) s[2] == 0xB9)
		{
			tok_add(ts, TK_WORD, "rs", 2, a, b);
			return;
		}
	}
	/* phone number written in one piece: +919876543210, 98765-43210 */
	{
		size_t		digits = 0;
		bool		ok = n >= 7;

		for (size_t i = 0; i < n && ok; i++)
		{
			if (isdigit((unsigned char) s[i]))
				digits++;
			else if (!((s[i] == '+' && i == 0) || s[i] == '-'))
				ok = false;
		}
		if (ok && digits >= 10 && digits <= 13 && (s[0] == '+' || memchr(s, '-', n) || n >= 10))
		{
			if ((t = tok_add(ts, TK_NUM, s, n, a, b)) != NULL)
			{
				t->plus = s[0] == '+';
				t->plain = true;
				t->num = -1;	/* phone candidate only */
			}
			return;
		}
		if (ok && s[0] == '+' && digits >= 1)
		{
			if ((t = tok_add(ts, TK_NUM, s, n, a, b)) != NULL)
			{
				t->plus = true;
				t->plain = true;
				t->num = -1;
			}
			return;
		}
	}
	if (parse_number(s, n, &v, &money, &plain))
	{
		if ((t = tok_add(ts, TK_NUM, s, n, a, b)) != NULL)
		{
			t->num = v;
			t->money = money;
			t->plain = plain;
		}
		return;
	}
	tok_add(ts, TK_WORD, s, n, a, b);
}

/*
 * tokenize
 *		Cut the input into tokens (quotes first, then chunks).
 */
static void
tokenize(Toks *ts)
{
	const char *s = ts->src;
	size_t		n = ts->len;
	size_t		i = 0;

	while (i < n && !ts->oom)
	{
		size_t		olen = 0;
		size_t		qlen = 0;
		size_t		close;
		size_t		a;
		size_t		b;

		if (isspace((unsigned char) s[i]) || strchr(",;!?()[]{}<>", s[i]) || s[i] == '\0')
		{
			i++;
			continue;
		}
		if ((close = quote_close(s, n, i, &olen, &qlen)) != 0)
		{
			tok_add(ts, TK_QUOTE, s + i + olen, close - i - olen, i, close + qlen);
			i = close + qlen;
			continue;
		}
		if (s[i] == ':')
		{
			tok_add(ts, TK_COLON, ":", 1, i, i + 1);
			i++;
			continue;
		}
		a = i;
		while (i < n && !isspace((unsigned char) s[i]) && !strchr(";!?()[]{}<>\"", s[i]) &&
			   s[i] != '\0')
		{
			/* a colon ends a chunk unless it is part of a URL or a time */
			if (s[i] == ':' && !(i + 2 < n && s[i + 1] == '/' && s[i + 2] == '/') &&
				!(i > a && isdigit((unsigned char) s[i - 1]) && i + 1 < n &&
				  isdigit((unsigned char) s[i + 1])))
				break;
			/* a comma ends a chunk unless it is inside a number */
			if (s[i] == ',' && !(i > a && isdigit((unsigned char) s[i - 1]) && i + 1 < n &&
								 isdigit((unsigned char) s[i + 1])))
				break;
			i++;
		}
		b = i;
		/* trailing sentence punctuation is not part of the chunk */
		while (b > a && (s[b - 1] == '.' || s[b - 1] == '\'' || s[b - 1] == ','))
			b--;
		if (b - a >= 2 && s[b - 1] == 's' && s[b - 2] == '\'')
			b -= 2;				/* Ravi's -> Ravi */
		classify_chunk(ts, a, b);
		if (i == a)
			i++;
	}
}

/*
 * merge_numbers
 *		Join spoken number words ("five hundred") and phone numbers written
 *		in groups ("+91 98765 43210"); mark times ("9 am", "10 baje") and
 *		counts; attach currency words before/after numbers.
 */
static void
merge_numbers(Toks *ts)
{
	/* number words -> TK_NUM */
	for (int i = 0; i < ts->n; i++)
	{
		Tok		   *t = &ts->t[i];
		double		total = 0;
		double		cur = 0;
		int			j = i;
		bool		any = false;

		if (t->kind != TK_WORD)
			continue;
		for (; j < ts->n && ts->t[j].kind == TK_WORD; j++)
		{
			const char *w = ts->t[j].low;
			bool		hit = false;

			for (int k = 0; number_words[k][0]; k++)
				if (strcmp(w, number_words[k][0]) == 0)
				{
					cur += atof(number_words[k][1]);
					hit = true;
					break;
				}
			if (!hit && any && strcmp(w, "hundred") == 0)
			{
				cur = (cur == 0 ? 1 : cur) * 100;
				hit = true;
			}
			else if (!hit && any && strcmp(w, "thousand") == 0)
			{
				total += (cur == 0 ? 1 : cur) * 1000;
				cur = 0;
				hit = true;
			}
			else if (!hit && any && (strcmp(w, "lakh") == 0 || strcmp(w, "lakhs") == 0))
			{
				total += (cur == 0 ? 1 : cur) * 100000;
				cur = 0;
				hit = true;
			}
			else if (!hit && any && strcmp(w, "and") == 0 && j + 1 < ts->n &&
					 ts->t[j + 1].kind == TK_WORD)
				hit = true;
			if (!hit)
				break;
			any = true;
		}
		if (any && j > i)
		{
			/* "one" alone is usually an article ("send one message") */
			if (j - i == 1 && strcmp(t->low, "one") == 0)
				continue;
			t->kind = TK_NUM;
			t->num = total + cur;
			t->end = ts->t[j - 1].end;
			for (int k = i + 1; k < j; k++)
			{
				free(ts->t[k].text);
				free(ts->t[k].low);
			}
			memmove(&ts->t[i + 1], &ts->t[j], sizeof(Tok) * (size_t) (ts->n - j));
			ts->n -= j - i - 1;
		}
	}

	/* groups of digits forming a phone number */
	for (int i = 0; i < ts->n; i++)
	{
		Tok		   *t = &ts->t[i];
		size_t		digits = 0;
		int			j;
		int			best = -1;

		if (t->kind != TK_NUM || !t->plain || t->money)
			continue;
		for (j = i; j < ts->n && ts->t[j].kind == TK_NUM && ts->t[j].plain && !ts->t[j].money &&
			 (j == i || !ts->t[j].plus); j++)
		{
			for (const char *p = ts->t[j].text; *p; p++)
				if (isdigit((unsigned char) *p))
					digits++;
			if (digits > 13)
				break;
			if (digits >= 10)
				best = j;
		}
		if (best < 0)
			continue;
		{
			size_t		a = t->start;
			size_t		b = ts->t[best].end;
			char	   *txt = malloc(b - a + 1);

			if (txt == NULL)
			{
				ts->oom = true;
				return;
			}
			memcpy(txt, ts->src + a, b - a);
			txt[b - a] = '\0';
			free(t->text);
			t->text = txt;
			t->kind = TK_PHONE;
			t->end = b;
			for (int k = i + 1; k <= best; k++)
			{
				free(ts->t[k].text);
				free(ts->t[k].low);
			}
			memmove(&ts->t[i + 1], &ts->t[best + 1], sizeof(Tok) * (size_t) (ts->n - best - 1));
			ts->n -= best - i;
		}
	}

	for (int i = 0; i < ts->n; i++)
	{
		Tok		   *t = &ts->t[i];
		const char *next = (i + 1 < ts->n && ts->t[i + 1].kind == TK_WORD) ? ts->t[i + 1].low : "";
		const char *prev = (i > 0 && ts->t[i - 1].kind == TK_WORD) ? ts->t[i - 1].low : "";
		static const char *const cur_after[] = {
			"rupees", "rupee", "rs", "rs.", "inr", "rupaye", "rupay", "rupya", "rupiya",
			"bucks", "/-", NULL
		};
		static const char *const cur_before[] = {"rs", "rs.", "inr", "rupees", "amount", NULL};
		static const char *const time_after[] = {
			"am", "pm", "baje", "o'clock", "oclock", "minutes", "minute", "mins", "hours",
			"hour", "days", "day", "baj", "%", "percent", "pieces", "pcs", "items", "shirts",
			"kg", "kgs", "people", "bje", NULL
		};
		static const char *const mult_after[][2] = {
			{"k", "1000"}, {"thousand", "1000"}, {"hazaar", "1000"}, {"hazar", "1000"},
			{"hajar", "1000"}, {"lakh", "100000"}, {"lac", "100000"}, {"lakhs", "100000"},
			{NULL, NULL}
		};

		if (t->kind == TK_PHONE && t->text[0] != '+' && strlen(t->text) < 10)
			t->kind = TK_NUM;
		if (t->kind != TK_NUM)
			continue;
		if (t->num < 0)
		{
			/* a lone "+" number too short for a phone: ignore */
			t->kind = TK_WORD;
			continue;
		}
		for (int k = 0; mult_after[k][0]; k++)
			if (strcmp(next, mult_after[k][0]) == 0)
			{
				t->num *= atof(mult_after[k][1]);
				ts->t[i + 1].used = true;
				next = (i + 2 < ts->n && ts->t[i + 2].kind == TK_WORD) ? ts->t[i + 2].low : "";
				break;
			}
		if (word_in(next, cur_after) || word_in(prev, cur_before))
			t->money = true;
		if (strcmp(next, "dollars") == 0 || strcmp(next, "dollar") == 0 ||
			strcmp(next, "usd") == 0 || strcmp(prev, "usd") == 0)
		{
			t->money = true;
			ts->usd = "USD";
		}
		if (!t->money && (word_in(next, time_after) || strcmp(prev, "at") == 0 ||
						  strchr(t->text, ':')))
			t->time = true;
	}
}

/*
 * build_words
 *		" w1 w2 ... " over all tokens: words lower-cased, other tokens as
 *		"<num>", "<phone>", ... so phrases can be found with strstr.
 */
static void
build_words(Toks *ts)
{
	FdbBuf		b;

	fdb_buf_init(&b);
	fdb_buf_puts(&b, " ");
	for (int i = 0; i < ts->n; i++)
	{
		const Tok  *t = &ts->t[i];
		static const char *const kind_names[] = {
			NULL, "<num>", "<phone>", "<email>", "<url>", "<quote>", "<payid>", "<uuid>",
			"<hash>", ":"
		};

		fdb_buf_puts(&b, t->kind == TK_WORD ? t->low : kind_names[t->kind]);
		fdb_buf_puts(&b, " ");
	}
	ts->words = b.data;
	if (ts->words == NULL)
		ts->oom = true;
}

/*
 * has
 *		Does any of the " "-delimited phrases occur in the word string?
 */
static bool
has(const Toks *ts, const char *const *phrases)
{
	char		buf[128];

	for (int i = 0; phrases[i]; i++)
	{
		fdb_fmt(buf, sizeof(buf), " %s ", phrases[i]);
		if (strstr(ts->words, buf))
			return true;
	}
	return false;
}

/*
 * find_word
 *		Index of the first token whose lower-case word is in the list, from
 *		index from; -1 if none.
 */
static int
find_word(const Toks *ts, int from, const char *const *list)
{
	for (int i = from; i < ts->n; i++)
		if (ts->t[i].kind == TK_WORD && word_in(ts->t[i].low, list))
			return i;
	return -1;
}

/*
 * first_kind
 *		First unused token of a kind, or NULL.
 */
static Tok *
first_kind(Toks *ts, TokKind kind)
{
	for (int i = 0; i < ts->n; i++)
		if (ts->t[i].kind == kind && !ts->t[i].used)
			return &ts->t[i];
	return NULL;
}

/* Intent vocabulary (phrases are matched as whole words). */
static const char *const kw_help[] = {
	"help", "madad", "what can you do", "kya kar sakte", "commands", "menu of commands",
	"how does this work", "how to use", "what do you do", "options", NULL
};
static const char *const kw_greet[] = {"hi", "hello", "hey", "namaste", "hii", NULL};
static const char *const kw_create_verb[] = {
	"create", "make", "build", "setup", "set up", "banao", "bana do", "bana", "design",
	"automate", "new", NULL
};
static const char *const kw_workflow[] = {
	"workflow", "workflows", "automation", "automations", "flow", "rule", "zap", NULL
};
static const char *const kw_when[] = {
	"when", "whenever", "jab", "jab bhi", "every", "har", "each time", "daily", "weekly",
	"automatically", "if someone", "after every", NULL
};
static const char *const kw_run_verb[] = {
	"run", "start", "chalao", "chala", "chala do", "trigger", "execute", "launch", "fire",
	"shuru", "kick off", "rerun", "re-run", NULL
};
static const char *const kw_status[] = {
	"status", "what happened", "kya hua", "progress", "result", "done yet", "finished",
	"stuck", "finish", "complete", "completed", NULL
};
static const char *const kw_payment[] = {
	"payment", "payments", "paid", "pay", "paisa", "paise", "transaction", "txn", NULL
};
static const char *const kw_check[] = {
	"status", "check", "aaya", "aya", "received", "mila", "came", "come through",
	"successful", "success", "captured", "went through", "ka kya", "details", "verify",
	"did", "kya", NULL
};
static const char *const kw_slack[] = {"slack", NULL};
static const char *const kw_insta[] = {"instagram", "insta", "ig", NULL};
static const char *const kw_post_verb[] = {
	"post", "daalo", "dalo", "daal", "upload", "publish", "share", "put", "karo", "kar do",
	NULL
};
static const char *const kw_invoice[] = {"invoice", "invoices", "bill", "billing", NULL};
static const char *const kw_link[] = {
	"payment link", "pay link", "paylink", "payment-link", "upi link", "link", "links",
	NULL
};
static const char *const kw_collect[] = {
	"collect", "request payment", "request money", "paise mangao", "paise mangwao",
	"payment mangao", "payment mangwao", "payment request", NULL
};
static const char *const kw_message_noun[] = {
	"message", "messages", "msg", "whatsapp", "text", "sms", "massage", "note", NULL
};
static const char *const kw_tell_verb[] = {
	"tell", "inform", "batao", "bata do", "bolo", "bol do", "kaho", "keh do", "remind",
	"ping", "notify", "message", "msg", "whatsapp", "text", "yaad dilao", "let", "send",
	"bhejo", "bhej", "bhej do", "bhejdo", "forward", "wish", NULL
};
static const char *const kw_yes[] = {
	"yes", "y", "haan", "han", "haa", "ha", "ji", "ji haan", "ok", "okay", "confirm",
	"confirmed", "sure", "yep", "yeah", "go ahead", "theek hai", "thik hai", "kar do",
	"done", "proceed", "bhej do", NULL
};
static const char *const kw_no[] = {
	"no", "n", "nahi", "nahin", "na", "cancel", "mat", "mat karo", "stop", "ruko",
	"rehne do", "nope", "abort", "don't", "dont", NULL
};

/*
 * whole_is
 *		Is the whole word string exactly one of the phrases (ignoring a
 *		trailing "please"/"ji")?
 */
static bool
whole_is(const Toks *ts, const char *const *phrases)
{
	char		buf[128];

	for (int i = 0; phrases[i]; i++)
	{
		fdb_fmt(buf, sizeof(buf), " %s ", phrases[i]);
		if (strcmp(ts->words, buf) == 0)
			return true;
		fdb_fmt(buf, sizeof(buf), " %s please ", phrases[i]);
		if (strcmp(ts->words, buf) == 0)
			return true;
		fdb_fmt(buf, sizeof(buf), " %s ji ", phrases[i]);
		if (strcmp(ts->words, buf) == 0)
			return true;
	}
	return false;
}

/*
 * is_name_word
 *		Could this token be (part of) a person's name?
 */
static bool
is_name_word(const Tok *t)
{
	if (t->kind != TK_WORD || t->used)
		return false;
	if (!isalpha((unsigned char) t->text[0]) || strlen(t->text) < 2 || strlen(t->text) > 40)
		return false;
	for (const char *p = t->text; *p; p++)
		if (!isalpha((unsigned char) *p) && *p != '.' && *p != '-')
			return false;
	if (word_in(t->low, stop_words))
		return false;
	for (int k = 0; number_words[k][0]; k++)
		if (strcmp(t->low, number_words[k][0]) == 0)
			return false;
	return true;
}

/*
 * take_name
 *		Name starting at token i (one word, plus following capitalised
 *		words when the first is capitalised).  malloc'd, or NULL.
 */
static char *
take_name(Toks *ts, int i)
{
	int			j = i + 1;
	FdbBuf		b;
	char		c;

	if (i < 0 || i >= ts->n || !is_name_word(&ts->t[i]))
		return NULL;
	if (isupper((unsigned char) ts->t[i].text[0]))
		while (j < ts->n && j < i + 3 && is_name_word(&ts->t[j]) &&
			   isupper((unsigned char) ts->t[j].text[0]))
			j++;
	fdb_buf_init(&b);
	for (int k = i; k < j; k++)
	{
		if (k > i)
			fdb_buf_puts(&b, " ");
		/* capitalise a lower-case name for the reply */
		c = (char) toupper((unsigned char) ts->t[k].text[0]);
		fdb_buf_append(&b, &c, 1);
		fdb_buf_puts(&b, ts->t[k].text + 1);
		ts->t[k].used = true;
	}
	return b.data;
}

/*
 * find_name
 *		The person a command is about: "X ko", "to X", "for X", "X ka",
 *		the word after an intent noun ("invoice Ravi"), or a capitalised
 *		word that is not a keyword.  malloc'd or NULL.
 */
static char *
find_name(Toks *ts, const char *const *nouns)
{
	static const char *const before_name[] = {"to", "for", "customer", "client", "ko", NULL};
	static const char *const after_name[] = {"ko", "ka", "ki", "ke", "se", "for", NULL};
	char	   *name;

	/* "Ravi ko" / "Ravi ka" (Hinglish postpositions) */
	for (int i = 1; i < ts->n; i++)
		if (ts->t[i].kind == TK_WORD && word_in(ts->t[i].low, after_name) &&
			strcmp(ts->t[i].low, "for") != 0)
		{
			int			k = i - 1;

			/* "Ravi Kumar ko": back up over capitalised words */
			while (k > 0 && is_name_word(&ts->t[k - 1]) &&
				   isupper((unsigned char) ts->t[k - 1].text[0]) &&
				   isupper((unsigned char) ts->t[k].text[0]))
				k--;
			if ((name = take_name(ts, k)) != NULL)
				return name;
		}
	/* "to Ravi", "for Ravi" */
	for (int i = 0; i + 1 < ts->n; i++)
		if (ts->t[i].kind == TK_WORD && word_in(ts->t[i].low, before_name) &&
			strcmp(ts->t[i].low, "ko") != 0)
		{
			int			k = i + 1;

			if (k < ts->n && ts->t[k].kind == TK_WORD &&
				(strcmp(ts->t[k].low, "mr") == 0 || strcmp(ts->t[k].low, "mrs") == 0 ||
				 strcmp(ts->t[k].low, "ms") == 0 || strcmp(ts->t[k].low, "customer") == 0))
				k++;
			if ((name = take_name(ts, k)) != NULL)
				return name;
		}
	/* "invoice Ravi 500" */
	if (nouns)
		for (int i = 0; i + 1 < ts->n; i++)
			if (ts->t[i].kind == TK_WORD && word_in(ts->t[i].low, nouns) &&
				(name = take_name(ts, i + 1)) != NULL)
				return name;
	/* a capitalised non-keyword word anywhere but the first position */
	for (int i = 1; i < ts->n; i++)
		if (is_name_word(&ts->t[i]) && isupper((unsigned char) ts->t[i].text[0]))
			return take_name(ts, i);
	return NULL;
}

/*
 * norm_phone
 *		"+91 98765-43210" / "9876543210" -> "+919876543210" (Indian
 *		numbers assumed without a country code).  Writes into out.
 */
static void
norm_phone(const char *s, char *out, size_t outlen)
{
	char		d[32];
	size_t		n = 0;
	bool		plus = s[0] == '+';

	for (const char *p = s; *p && n < sizeof(d) - 1; p++)
		if (isdigit((unsigned char) *p))
			d[n++] = *p;
	d[n] = '\0';
	if (plus)
		fdb_fmt(out, outlen, "+%s", d);
	else if (n == 10)
		fdb_fmt(out, outlen, "+91%s", d);
	else if (n == 11 && d[0] == '0')
		fdb_fmt(out, outlen, "+91%s", d + 1);
	else
		fdb_fmt(out, outlen, "+%s", d);
}

/*
 * pick_amount
 *		The amount token: one with a currency marker first, else the largest
 *		plain number that is not a time or a count.  NULL when none.
 */
static Tok *
pick_amount(Toks *ts)
{
	Tok		   *best = NULL;

	for (int i = 0; i < ts->n; i++)
	{
		Tok		   *t = &ts->t[i];

		if (t->kind != TK_NUM || t->used || t->num <= 0 || t->time)
			continue;
		if (t->money)
			return t;
		if (best == NULL || t->num > best->num)
			best = t;
	}
	return best;
}

/*
 * rest_text
 *		The original text from token i to the end (or to token stop,
 *		exclusive), trimmed; malloc'd or NULL when empty.
 */
static char *
rest_text(const Toks *ts, int i, int stop)
{
	size_t		a;
	size_t		b;
	char	   *out;

	if (i < 0 || i >= ts->n)
		return NULL;
	if (stop < 0 || stop > ts->n)
		stop = ts->n;
	if (stop <= i)
		return NULL;
	a = ts->t[i].start;
	b = ts->t[stop - 1].end;
	while (a < b && (isspace((unsigned char) ts->src[a]) || ts->src[a] == ':'))
		a++;
	while (b > a && (isspace((unsigned char) ts->src[b - 1]) || ts->src[b - 1] == '.'))
		b--;
	if (b <= a)
		return NULL;
	out = malloc(b - a + 1);
	if (out == NULL)
		return NULL;
	memcpy(out, ts->src + a, b - a);
	out[b - a] = '\0';
	return out;
}

/*
 * find_body
 *		The text to send: a quotation, the text after a colon or after
 *		"saying"/"that"/"ki", else the words after the tell verb (skipping
 *		the recipient), else the words between "ko"/"pe" and the verb.
 */
static char *
find_body(Toks *ts, int verb)
{
	static const char *const markers[] = {
		"saying", "that", "ki", "bolo", "likho", "with", NULL
	};
	static const char *const skip[] = {
		"to", "a", "the", "message", "msg", "whatsapp", "text", "on", "in", "pe", "par",
		"slack", "ko", "that", "ki", "and", "team", "channel", "everyone", "please", NULL
	};
	Tok		   *q = first_kind(ts, TK_QUOTE);
	int			i;

	if (q)
	{
		q->used = true;
		return fdb_strdup(q->text);
	}
	for (i = 0; i < ts->n; i++)
		if (ts->t[i].kind == TK_COLON && i + 1 < ts->n)
			return rest_text(ts, i + 1, -1);
	for (i = 0; i < ts->n; i++)
		if (ts->t[i].kind == TK_WORD && word_in(ts->t[i].low, markers) && i + 1 < ts->n &&
			(strcmp(ts->t[i].low, "with") != 0 || verb >= 0))
		{
			/* "bolo ki ...": start after both */
			int			k = i + 1;

			while (k < ts->n && ts->t[k].kind == TK_WORD && word_in(ts->t[k].low, markers))
				k++;
			if (k < ts->n)
				return rest_text(ts, k, -1);
		}
	if (verb >= 0)
	{
		int			k = verb + 1;

		while (k < ts->n && (ts->t[k].used || ts->t[k].kind == TK_PHONE ||
							 ts->t[k].kind == TK_HASH ||
							 (ts->t[k].kind == TK_WORD && word_in(ts->t[k].low, skip))))
			k++;
		if (k < ts->n)
			return rest_text(ts, k, -1);
		/* "team ko stock khatam batao": between the last marker and the verb */
		k = verb - 1;
		while (k >= 0 && !(ts->t[k].kind == TK_WORD &&
						   (strcmp(ts->t[k].low, "ko") == 0 || strcmp(ts->t[k].low, "pe") == 0 ||
							strcmp(ts->t[k].low, "par") == 0)))
			k--;
		if (k >= 0 && k + 1 < verb)
			return rest_text(ts, k + 1, verb);
	}
	return NULL;
}

/*
 * add_str
 *		Add a string entity when s is not NULL; frees s.
 */
static void
add_str(cJSON *ent, const char *key, char *s)
{
	if (s && *s)
		cJSON_AddStringToObject(ent, key, s);
	free(s);
}

/*
 * add_amount
 *		amount (number, rupees) and currency entities.
 */
static void
add_amount(Toks *ts, cJSON *ent)
{
	Tok		   *a = pick_amount(ts);

	if (a == NULL)
		return;
	a->used = true;
	cJSON_AddNumberToObject(ent, "amount", round(a->num * 100) / 100);
	cJSON_AddStringToObject(ent, "currency", ts->usd ? ts->usd : "INR");
}

/*
 * add_contact
 *		phone and email entities (first of each).
 */
static void
add_contact(Toks *ts, cJSON *ent)
{
	Tok		   *p = first_kind(ts, TK_PHONE);
	Tok		   *e = first_kind(ts, TK_EMAIL);

	if (p)
	{
		char		buf[40];

		norm_phone(p->text, buf, sizeof(buf));
		p->used = true;
		cJSON_AddStringToObject(ent, "phone", buf);
	}
	if (e)
	{
		e->used = true;
		cJSON_AddStringToObject(ent, "email", e->text);
	}
}

/*
 * add_loose_entities
 *		Entities of a text without a command ("500", "+91 98765 43210",
 *		"pay_X"): the answer to a question the caller asked.
 */
static void
add_loose_entities(Toks *ts, cJSON *ent)
{
	static const struct
	{
		TokKind		kind;
		const char *key;
	}			kinds[] = {
		{TK_PAYID, "payment_id"}, {TK_URL, "image_url"}, {TK_HASH, "channel"},
	};
	Tok		   *u = first_kind(ts, TK_UUID);

	/* SEND_MESSAGE may have taken the phone and e-mail already */
	if (!cJSON_HasObjectItem(ent, "phone") && !cJSON_HasObjectItem(ent, "email"))
		add_contact(ts, ent);
	add_amount(ts, ent);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
	{
		Tok		   *t = first_kind(ts, kinds[i].kind);

		if (t)
		{
			t->used = true;
			cJSON_AddStringToObject(ent, kinds[i].key, t->text);
		}
	}
	if (u)
	{
		u->used = true;
		cJSON_AddStringToObject(ent, "run_id", u->low);
	}
}

/*
 * find_workflow_name
 *		"run the morning report workflow" -> "morning report"; a quotation
 *		wins.  Words between the run verb and the workflow noun, or the
 *		words before the noun back to a stop word ("morning report workflow
 *		chalao"), or everything after the verb.
 */
static char *
find_workflow_name(Toks *ts, int verb)
{
	static const char *const lead[] = {"the", "my", "our", "a", "please", "wala", "wali", NULL};
	static const char *const tail[] = {"now", "please", "again", "abhi", "karo", "do", "today",
	NULL};
	Tok		   *q = first_kind(ts, TK_QUOTE);
	int			noun = find_word(ts, 0, kw_workflow);
	int			a;
	int			b;

	if (q)
	{
		q->used = true;
		return fdb_strdup(q->text);
	}
	if (noun >= 0 && verb >= 0 && verb < noun)
	{
		a = verb + 1;
		b = noun;
	}
	else if (noun >= 0)
	{
		b = noun;
		a = noun - 1;
		while (a >= 0 && ts->t[a].kind == TK_WORD && !word_in(ts->t[a].low, kw_run_verb) &&
			   !word_in(ts->t[a].low, lead) && strcmp(ts->t[a].low, "ko") != 0)
			a--;
		a++;
	}
	else if (verb >= 0 && verb + 1 < ts->n)
	{
		a = verb + 1;
		b = ts->n;
	}
	else if (verb > 0)
	{
		/* Hinglish puts the verb last: "morning report chalao" */
		a = 0;
		b = verb;
	}
	else
		return NULL;
	while (a < b && ts->t[a].kind == TK_WORD && word_in(ts->t[a].low, lead))
		a++;
	while (b > a && ts->t[b - 1].kind == TK_WORD &&
		   (word_in(ts->t[b - 1].low, tail) || word_in(ts->t[b - 1].low, lead) ||
			word_in(ts->t[b - 1].low, kw_run_verb)))
		b--;
	if (b <= a)
		return NULL;
	return rest_text(ts, a, b);
}

/*
 * classify
 *		Pick the intent and fill entities.  Returns the intent name and sets
 *		*conf.
 */
static const char *
classify(Toks *ts, cJSON *ent, double *conf)
{
	bool		has_payid = first_kind(ts, TK_PAYID) != NULL;
	bool		has_uuid = first_kind(ts, TK_UUID) != NULL;
	int			verb;

	*conf = 0;

	/* bare confirmations and refusals (answers to a question) */
	if (whole_is(ts, kw_yes))
	{
		cJSON_AddStringToObject(ent, "answer", "yes");
		*conf = 0.95;
		return "UNKNOWN";
	}
	if (whole_is(ts, kw_no))
	{
		cJSON_AddStringToObject(ent, "answer", "no");
		*conf = 0.95;
		return "UNKNOWN";
	}
	if (has(ts, kw_help) || whole_is(ts, kw_greet))
	{
		*conf = 0.9;
		return "HELP";
	}

	/* CREATE_WORKFLOW: "create a workflow that ...", "when X happens, do Y" */
	if ((has(ts, kw_create_verb) && has(ts, kw_workflow)) ||
		(has(ts, kw_when) && (has(ts, kw_message_noun) || has(ts, kw_slack) ||
							  has(ts, kw_invoice) || has(ts, kw_link) || has(ts, kw_insta) ||
							  has(ts, kw_tell_verb)) && !has_payid && !has_uuid))
	{
		add_str(ent, "description", rest_text(ts, 0, -1));
		*conf = has(ts, kw_workflow) || has(ts, kw_when) ? 0.85 : 0.6;
		return "CREATE_WORKFLOW";
	}

	/* RUN_STATUS: a run id, or "status of my last run" */
	if (has_uuid || (has(ts, (const char *const[]) {"run", "runs", "workflow", NULL}) &&
					 has(ts, kw_status)))
	{
		Tok		   *u = first_kind(ts, TK_UUID);

		if (u)
		{
			u->used = true;
			cJSON_AddStringToObject(ent, "run_id", u->low);
		}
		*conf = u ? 0.9 : 0.7;
		return "RUN_STATUS";
	}

	/* CHECK_PAYMENT: a payment id, or "did Ravi pay", "payment aaya?" */
	if (has_payid || (has(ts, kw_payment) && has(ts, kw_check) && !has(ts, kw_link) &&
					  !has(ts, kw_invoice) && !has(ts, kw_collect) &&
					  !has(ts, kw_message_noun)))
	{
		Tok		   *p = first_kind(ts, TK_PAYID);

		if (p)
		{
			p->used = true;
			cJSON_AddStringToObject(ent, "payment_id", p->text);
		}
		else
			add_str(ent, "name", find_name(ts, NULL));
		*conf = p ? 0.95 : 0.65;
		return "CHECK_PAYMENT";
	}

	/* RUN_WORKFLOW: "run the morning report workflow" */
	verb = find_word(ts, 0, kw_run_verb);
	if ((verb >= 0 || has(ts, (const char *const[]) {"chala do", "kick off", NULL})) &&
		(has(ts, kw_workflow) || has(ts, (const char *const[]) {"report", "job", "routine",
			NULL}) ||
		 (verb == 0 && ts->n == 2 && ts->t[1].kind == TK_QUOTE)) &&
		(has(ts, kw_workflow) || !has(ts, kw_invoice)) && !has(ts, kw_slack))
	{
		add_str(ent, "workflow", find_workflow_name(ts, verb));
		*conf = has(ts, kw_workflow) ? 0.85 : 0.7;
		return "RUN_WORKFLOW";
	}

	/* NOTIFY_SLACK */
	if (has(ts, kw_slack))
	{
		Tok		   *h = first_kind(ts, TK_HASH);
		int			tv = find_word(ts, 0, kw_tell_verb);

		if (h)
		{
			h->used = true;
			cJSON_AddStringToObject(ent, "channel", h->text);
		}
		else
		{
			/* "team ko", "to the sales channel" */
			int			c = find_word(ts, 0, (const char *const[]) {"ko", "channel", NULL});

			if (c > 0 && ts->t[c - 1].kind == TK_WORD && is_name_word(&ts->t[c - 1]))
			{
				char		buf[80];

				fdb_fmt(buf, sizeof(buf), "#%s", ts->t[c - 1].low);
				ts->t[c - 1].used = true;
				cJSON_AddStringToObject(ent, "channel", buf);
			}
			else if (c > 0 && ts->t[c - 1].kind == TK_WORD && strcmp(ts->t[c - 1].low, "team") == 0)
			{
				ts->t[c - 1].used = true;
				cJSON_AddStringToObject(ent, "channel", "#team");
			}
		}
		add_str(ent, "message", find_body(ts, tv));
		*conf = 0.9;
		return "NOTIFY_SLACK";
	}

	/* POST_TO_INSTAGRAM */
	if (has(ts, kw_insta) && (has(ts, kw_post_verb) || first_kind(ts, TK_QUOTE) ||
							   first_kind(ts, TK_URL)))
	{
		Tok		   *u = first_kind(ts, TK_URL);
		Tok		   *q = first_kind(ts, TK_QUOTE);

		if (u)
		{
			u->used = true;
			cJSON_AddStringToObject(ent, "image_url", u->text);
		}
		if (q)
		{
			q->used = true;
			cJSON_AddStringToObject(ent, "caption", q->text);
		}
		else
		{
			int			c = find_word(ts, 0, (const char *const[]) {"caption", "saying",
				"likho", NULL});

			if (c >= 0)
				add_str(ent, "caption", rest_text(ts, c + 1, -1));
		}
		*conf = 0.9;
		return "POST_TO_INSTAGRAM";
	}

	/* CREATE_INVOICE ("pay the electricity bill" is paying one, not billing) */
	if (has(ts, kw_invoice) &&
		!(has(ts, (const char *const[]) {"pay", "bharo", "bhar do", "bharna", NULL}) &&
		  !has(ts, (const char *const[]) {"invoice", "invoices", NULL})))
	{
		add_contact(ts, ent);
		add_amount(ts, ent);
		add_str(ent, "name", find_name(ts, kw_invoice));
		{
			int			f = find_word(ts, 0, (const char *const[]) {"for", NULL});

			if (f >= 0 && f + 1 < ts->n && !ts->t[f + 1].used)
				add_str(ent, "description", rest_text(ts, f + 1, -1));
		}
		*conf = 0.9;
		return "CREATE_INVOICE";
	}

	/* CREATE_PAYMENT_LINK */
	if ((has(ts, kw_link) && (has(ts, kw_payment) || pick_amount(ts) ||
							  has(ts, (const char *const[]) {"upi", "razorpay", NULL}))) ||
		has(ts, kw_collect))
	{
		add_contact(ts, ent);
		add_amount(ts, ent);
		add_str(ent, "name", find_name(ts, NULL));
		{
			int			f = find_word(ts, 0, (const char *const[]) {"for", NULL});

			if (f >= 0 && f + 1 < ts->n && !ts->t[f + 1].used)
				add_str(ent, "description", rest_text(ts, f + 1, -1));
		}
		*conf = has(ts, (const char *const[]) {"payment link", "pay link", "paylink",
			"upi link", "payment-link", NULL}) ? 0.9 : 0.75;
		return "CREATE_PAYMENT_LINK";
	}

	/* SEND_MESSAGE: a tell/send verb plus a recipient that is not the speaker */
	verb = find_word(ts, 0, kw_tell_verb);
	if (verb >= 0 && verb + 1 < ts->n && ts->t[verb + 1].kind == TK_WORD &&
		word_in(ts->t[verb + 1].low, (const char *const[]) {"me", "mujhe", "us", "hume", NULL}))
		verb = -1;				/* "tell me a joke", "send me the weather" */
	if (verb >= 0)
	{
		char	   *name;
		bool		noun = has(ts, kw_message_noun);
		bool		strong = !word_in(ts->t[verb].low,
									  (const char *const[]) {"send", "bhejo", "bhej", "bhej do",
									  "bhejdo", "forward", "let", NULL});

		add_contact(ts, ent);
		name = find_name(ts, NULL);
		if ((noun || strong) && (name || cJSON_GetObjectItem(ent, "phone") ||
								  first_kind(ts, TK_QUOTE)))
		{
			add_str(ent, "name", name);
			add_str(ent, "message", find_body(ts, verb));
			*conf = noun ? 0.85 : 0.7;
			return "SEND_MESSAGE";
		}
		free(name);
	}

	/* no command: keep what the text carries (it may answer a question) */
	add_loose_entities(ts, ent);
	*conf = 0.2;
	return "UNKNOWN";
}

/*
 * intent_analyze
 *		See intent.h.
 */
cJSON *
intent_analyze(const char *text)
{
	Toks		ts;
	cJSON	   *out;
	cJSON	   *ent;
	const char *intent;
	double		conf = 0;

	memset(&ts, 0, sizeof(ts));
	ts.src = text ? text : "";
	ts.len = strlen(ts.src);
	if (ts.len > INTENT_MAX_INPUT)
	{
		/* do not cut a UTF-8 sequence in half */
		ts.len = INTENT_MAX_INPUT;
		while (ts.len > 0 && ((unsigned char) ts.src[ts.len] & 0xC0) == 0x80)
			ts.len--;
	}
	out = cJSON_CreateObject();
	ent = cJSON_CreateObject();
	if (out == NULL || ent == NULL)
	{
		cJSON_Delete(out);
		cJSON_Delete(ent);
		return NULL;
	}
	tokenize(&ts);
	if (!ts.oom)
		merge_numbers(&ts);
	if (!ts.oom)
		build_words(&ts);
	if (ts.oom)
	{
		toks_free(&ts);
		cJSON_Delete(out);
		cJSON_Delete(ent);
		return NULL;
	}
	intent = ts.n == 0 ? "UNKNOWN" : classify(&ts, ent, &conf);
	if (strcmp(intent, "UNKNOWN") != 0 && conf < INTENT_MIN_CONFIDENCE)
	{
		intent = "UNKNOWN";
		cJSON_Delete(ent);
		ent = cJSON_CreateObject();
	}
	cJSON_AddStringToObject(out, "intent", intent);
	if (ent)
		cJSON_AddItemToObject(out, "entities", ent);
	cJSON_AddNumberToObject(out, "confidence", round(conf * 100) / 100);
	toks_free(&ts);
	return out;
}
