/*-------------------------------------------------------------------------
 *
 * grammar.c
 *	  Build the JSGF command grammar, guess name pronunciations and turn
 *	  spoken numbers into digits (see grammar.h).
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grammar.h"

/* A growable malloc'd string; failed goes true when memory runs out. */
typedef struct Buf
{
	char	   *s;
	size_t		len;
	size_t		cap;
	bool		failed;
} Buf;

/*
 * The fixed part of the grammar.  <name> is defined by the builder from
 * the phrases; the rules that use it are only added when there is one.
 * Every command is one utterance: an action, then optionally who it is
 * for and how much, in either order, or the Hinglish word order
 * "<name> ko <amount> ka invoice bhejo".
 */
static const char *const grammar_numbers =
"<digit> = one | two | three | four | five | six | seven | eight | nine;\n"
"<teen> = ten | eleven | twelve | thirteen | fourteen | fifteen | sixteen | seventeen | eighteen | nineteen;\n"
"<tens> = twenty | thirty | forty | fifty | sixty | seventy | eighty | ninety;\n"
"<under100> = <digit> | <teen> | <tens> [<digit>];\n"
"<hundreds> = (<digit> | <teen> | <tens> <digit>) hundred [[and] <under100>];\n"
"<under1000> = <under100> | <hundreds>;\n"
"<thousands> = <under100> (thousand | k) [<under1000>] | <under1000>;\n"
"<number> = <under100> lakh [<thousands>] | <thousands>;\n"
"<amount> = <number> [rupees | rupee | rupaye];\n";

static const char *const grammar_actions =
"<invoice> = [create | send | make | raise | generate] [a | an | the] invoice;\n"
"<paylink> = [create | send | make | generate] [a | the] payment link;\n"
"<message> = send [a] message | message | whatsapp | text;\n"
"<instagram> = post [this | it] [on | to] instagram;\n"
"<slack> = notify slack | post [this | it] [on | to] slack | tell slack;\n"
"<check> = check [the] payment [status];\n"
"<runwf> = run [the] workflow;\n"
"<newwf> = (create | make) [a] [new] workflow;\n"
"<status> = [what is the] status | show [the] status;\n"
"<help> = help | what can you do;\n"
"<prep> = to | for | of;\n"
"<money> = <invoice> | <paylink>;\n"
"<plain> = <instagram> | <slack> | <runwf> | <newwf> | <status> | <help>;\n"
"<thing> = invoice | payment link | message;\n"
"<hindi> = bhejo | bhej do | banao | karo;\n"
"<sum> = [<prep>] <amount>;\n";

static const char *const grammar_without_names =
"public <command> = <money> [<sum>] | <message> | <check> | <plain>\n"
"\t| <amount> ka <thing> <hindi>;\n";

static const char *const grammar_with_names =
"<target> = [<prep>] <name>;\n"
"public <command> = <money> [<target>] [<sum>] [<target>]\n"
"\t| <message> [<target>]\n"
"\t| <check> [<target>]\n"
"\t| <plain>\n"
"\t| did <name> pay\n"
"\t| <name> ko <amount> ka <thing> <hindi>\n"
"\t| <amount> ka <thing> <name> ko <hindi>\n"
"\t| <name> ko <thing> <hindi>;\n";

/* Hinglish words the grammar uses that cmudict-en-us lacks. */
static const struct
{
	const char *word;
	const char *phones;
}			known_phones[] = {
	{"bhejo", "B EY JH OW"},
	{"bhej", "B EY JH"},
	{"banao", "B AH N AW"},
	{"karo", "K AH R OW"},
	{"lakh", "L AA K"},
	{"lakh", "L AE K"},
	{"rupaye", "R UW P AY EY"},
};

/* Number words and their values (tens and teens included). */
static const struct
{
	const char *word;
	int			value;
}			number_words[] = {
	{"one", 1}, {"two", 2}, {"three", 3}, {"four", 4}, {"five", 5},
	{"six", 6}, {"seven", 7}, {"eight", 8}, {"nine", 9}, {"ten", 10},
	{"eleven", 11}, {"twelve", 12}, {"thirteen", 13}, {"fourteen", 14},
	{"fifteen", 15}, {"sixteen", 16}, {"seventeen", 17}, {"eighteen", 18},
	{"nineteen", 19}, {"twenty", 20}, {"thirty", 30}, {"forty", 40},
	{"fifty", 50}, {"sixty", 60}, {"seventy", 70}, {"eighty", 80},
	{"ninety", 90}, {"zero", 0},
};

/* Words that would confuse the JSGF parser as a name. */
static const char *const jsgf_reserved[] = {"public", "grammar", "import"};

/*
 * buf_add
 *		Append len bytes of s to b (growing it); sets b->failed on OOM.
 */
static void
buf_add(Buf *b, const char *s, size_t len)
{
	if (b->failed)
		return;
	if (b->len + len + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 1024;
		char	   *n;

		while (cap < b->len + len + 1)
			cap *= 2;
		n = realloc(b->s, cap);
		if (n == NULL)
		{
			b->failed = true;
			return;
		}
		b->s = n;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, len);
	b->len += len;
	b->s[b->len] = '\0';
}

/*
 * buf_str
 *		Append a NUL-terminated string.
 */
static void
buf_str(Buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/*
 * speech_clean_phrase
 *		Lower-case latin letters; any other byte separates words.
 */
int
speech_clean_phrase(const char *in, char *out, size_t outlen)
{
	size_t		o = 0;
	int			words = 0;
	int			wordlen = 0;

	if (outlen == 0)
		return -1;
	for (const char *p = in; *p; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c < 128 && isalpha(c))
		{
			if (wordlen == 0)
			{
				if (++words > SPEECH_MAX_PHRASE_WORDS)
					return -1;
				if (o > 0)
				{
					if (o + 1 >= outlen)
						return -1;
					out[o++] = ' ';
				}
			}
			if (++wordlen > SPEECH_MAX_WORD_LEN || o + 1 >= outlen)
				return -1;
			out[o++] = (char) tolower(c);
		}
		else
			wordlen = 0;
	}
	out[o] = '\0';
	return words;
}

/*
 * add_word
 *		Add a word to g's word list unless it is already there.
 */
static bool
add_word(SpeechGrammar *g, const char *w, size_t len, int *cap)
{
	char	   *copy;

	for (int i = 0; i < g->nwords; i++)
		if (strlen(g->words[i]) == len && memcmp(g->words[i], w, len) == 0)
			return true;
	if (g->nwords == *cap)
	{
		int			ncap = *cap ? *cap * 2 : 64;
		char	  **n = realloc(g->words, ncap * sizeof(char *));

		if (n == NULL)
			return false;
		g->words = n;
		*cap = ncap;
	}
	copy = malloc(len + 1);
	if (copy == NULL)
		return false;
	memcpy(copy, w, len);
	copy[len] = '\0';
	g->words[g->nwords++] = copy;
	return true;
}

/*
 * collect_words
 *		Add every plain word of a JSGF text (not rule names, keywords or,
 *		when header, the header) to g's word list.
 */
static bool
collect_words(SpeechGrammar *g, const char *text, bool header, int *cap)
{
	const char *p = text;

	/* skip "#JSGF V1.0;" and "grammar x;" */
	for (int i = 0; header && i < 2 && (p = strchr(p, ';')) != NULL; i++)
		p++;
	if (p == NULL)
		return true;
	while (*p)
	{
		if (*p == '<')
		{
			while (*p && *p != '>')
				p++;
		}
		else if (*p >= 'a' && *p <= 'z')
		{
			const char *s = p;

			while (*p >= 'a' && *p <= 'z')
				p++;
			if (!(p - s == 6 && memcmp(s, "public", 6) == 0) &&
				!add_word(g, s, (size_t) (p - s), cap))
				return false;
			continue;
		}
		if (*p)
			p++;
	}
	return true;
}

/*
 * strip_reserved
 *		Remove the words JSGF reads as keywords from a cleaned phrase, in
 *		place; returns how many words are left.
 */
static int
strip_reserved(char *phrase)
{
	char	   *src = phrase,
			   *dst = phrase;
	int			kept = 0;

	while (*src)
	{
		size_t		len = strcspn(src, " ");
		bool		reserved = false;

		for (size_t r = 0; r < sizeof(jsgf_reserved) / sizeof(jsgf_reserved[0]); r++)
			if (strlen(jsgf_reserved[r]) == len && memcmp(src, jsgf_reserved[r], len) == 0)
				reserved = true;
		if (!reserved)
		{
			if (kept++ > 0)
				*dst++ = ' ';
			memmove(dst, src, len);
			dst += len;
		}
		src += len;
		while (*src == ' ')
			src++;
	}
	*dst = '\0';
	return kept;
}

/*
 * speech_grammar_build
 *		Header, <name> from the cleaned distinct phrases, the numbers, the
 *		actions and the public rule; then the word list.
 */
SpeechGrammar *
speech_grammar_build(const char *const *phrases, int nphrases, char *err, size_t errlen)
{
	SpeechGrammar *g = calloc(1, sizeof(SpeechGrammar));
	Buf			b = {0};
	Buf			names = {0};
	char		clean[SPEECH_MAX_PHRASE_WORDS * (SPEECH_MAX_WORD_LEN + 1) + 1];
	int			cap = 0;

	if (g == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (int i = 0; i < nphrases; i++)
	{
		int			nw;
		bool		dup = false;

		if (phrases[i] == NULL)
			continue;
		nw = speech_clean_phrase(phrases[i], clean, sizeof(clean));
		if (nw < 0)
		{
			snprintf(err, errlen, "phrase %d is too long (at most %d words of %d letters)",
					 i + 1, SPEECH_MAX_PHRASE_WORDS, SPEECH_MAX_WORD_LEN);
			goto fail;
		}
		if (nw == 0)
			continue;
		if (strip_reserved(clean) == 0)
			continue;
		/* names is " | "-separated: look for the cleaned phrase whole */
		if (names.s != NULL)
		{
			size_t		cl = strlen(clean);

			for (const char *p = names.s; (p = strstr(p, clean)) != NULL; p++)
				if ((p == names.s || p[-1] == '|' || p[-1] == ' ') &&
					(p[cl] == '\0' || (p[cl] == ' ' && p[cl + 1] == '|')))
				{
					dup = true;
					break;
				}
		}
		if (dup)
			continue;
		if (++g->nphrases > SPEECH_MAX_PHRASES)
		{
			snprintf(err, errlen, "too many phrases (at most %d)", SPEECH_MAX_PHRASES);
			goto fail;
		}
		if (names.len > 0)
			buf_str(&names, " | ");
		buf_str(&names, clean);
	}

	buf_str(&b, "#JSGF V1.0;\ngrammar flowdb;\n");
	if (g->nphrases > 0)
	{
		buf_str(&b, "<name> = ");
		buf_add(&b, names.s, names.len);
		buf_str(&b, ";\n");
	}
	buf_str(&b, grammar_numbers);
	buf_str(&b, grammar_actions);
	buf_str(&b, g->nphrases > 0 ? grammar_with_names : grammar_without_names);
	if (b.failed || names.failed ||
		(names.s != NULL && !collect_words(g, names.s, false, &cap)))
	{
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	g->nname_words = g->nwords;
	if (!collect_words(g, b.s, true, &cap))
	{
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	free(names.s);
	g->jsgf = b.s;
	return g;

fail:
	free(b.s);
	free(names.s);
	speech_grammar_free(g);
	return NULL;
}

/*
 * speech_grammar_free
 *		Free a grammar and its word list (NULL is fine).
 */
void
speech_grammar_free(SpeechGrammar *g)
{
	if (g == NULL)
		return;
	for (int i = 0; i < g->nwords; i++)
		free(g->words[i]);
	free(g->words);
	free(g->jsgf);
	free(g);
}

/*
 * speech_known_phones
 *		The nth (from 0) entry of known_phones for word.
 */
const char *
speech_known_phones(const char *word, int nth)
{
	for (size_t i = 0; i < sizeof(known_phones) / sizeof(known_phones[0]); i++)
		if (strcmp(known_phones[i].word, word) == 0 && nth-- == 0)
			return known_phones[i].phones;
	return NULL;
}

/*
 * is_vowel
 *		a, e, i, o, u.
 */
static bool
is_vowel(char c)
{
	return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

/*
 * open_syllable
 *		Is the vowel at w[i] followed by exactly one consonant (h digraphs
 *		count as one) and then a vowel?
 */
static bool
open_syllable(const char *w, size_t n, size_t i)
{
	size_t		j = i + 1;

	if (j >= n || is_vowel(w[j]) || w[j] == 'y')
		return false;
	j++;
	if (j < n && w[j] == 'h')
		j++;
	return j < n && is_vowel(w[j]);
}

/*
 * speech_guess_phones
 *		Letter-to-sound rules for romanised Indian names, which are mostly
 *		spelt as said: aspirated digraphs lose their h, "aa"/"ee"/"oo" are
 *		long vowels, i and u are long at the end or in an open syllable
 *		(before one consonant and a vowel), doubled consonants are one.
 */
bool
speech_guess_phones(const char *word, int variant, char *out, size_t outlen)
{
	bool		first_vowel = true;

	char		w[SPEECH_MAX_WORD_LEN + 1];
	size_t		n = 0,
				o = 0;

	for (const char *p = word; *p && n < SPEECH_MAX_WORD_LEN; p++)
		if ((unsigned char) *p < 128 && isalpha((unsigned char) *p))
			w[n++] = (char) tolower((unsigned char) *p);
	w[n] = '\0';
	if (n == 0 || outlen == 0)
		return false;
	out[0] = '\0';
	for (size_t i = 0; i < n;)
	{
		char		c = w[i];
		char		next = i + 1 < n ? w[i + 1] : '\0';
		bool		last = i + 1 == n;
		const char *ph = NULL;
		size_t		step = 1;
		size_t		len;

		/* two-letter spellings first */
		if (c == 's' && next == 'h')
			ph = "SH", step = 2;
		else if (c == 'c' && next == 'h')
			ph = "CH", step = 2;
		else if (c == 'p' && next == 'h')
			ph = "F", step = 2;
		else if (c == 'k' && next == 'h')
			ph = "K", step = 2;
		else if (c == 'g' && next == 'h')
			ph = "G", step = 2;
		else if (c == 'b' && next == 'h')
			ph = "B", step = 2;
		else if (c == 'd' && next == 'h')
			ph = "D", step = 2;
		else if (c == 't' && next == 'h')
			ph = "T", step = 2;
		else if (c == 'j' && next == 'h')
			ph = "JH", step = 2;
		else if (c == 'c' && next == 'k')
			ph = "K", step = 2;
		else if (c == 'a' && next == 'a')
			ph = "AA", step = 2;
		else if (c == 'e' && next == 'e')
			ph = "IY", step = 2;
		else if (c == 'o' && next == 'o')
			ph = "UW", step = 2;
		else if (c == 'a' && next == 'i')
			ph = "AY", step = 2;
		else if (c == 'a' && next == 'u')
			ph = "AW", step = 2;
		else if (!is_vowel(c) && c == next && c != 'y')
		{
			/* doubled consonant: say it once */
			i++;
			continue;
		}
		else
		{
			switch (c)
			{
				case 'a':
					if (variant == 1 && last)
						ph = "AH";
					else if (variant == 1 && first_vowel)
						ph = "AE";
					else
						ph = last ? "AA" : "AH";
					break;
				case 'e':
					ph = last ? "EY" : "EH";
					break;
				case 'i':
					ph = last || next == 'y' || open_syllable(w, n, i) ? "IY" : "IH";
					break;
				case 'o':
					ph = "OW";
					break;
				case 'u':
					ph = last || open_syllable(w, n, i) ? "UW" : "UH";
					break;
				case 'y':
					ph = (i > 0 && (next == '\0' || !is_vowel(next))) ? "IY" : "Y";
					break;
				case 'c':
					ph = (next == 'e' || next == 'i') ? "S" : "K";
					break;
				case 'h':
					ph = (i == 0 || is_vowel(w[i - 1])) ? "HH" : NULL;
					break;
				case 'j':
					ph = "JH";
					break;
				case 'q':
					ph = "K";
					break;
				case 'x':
					ph = "K S";
					break;
				case 'b':
					ph = "B";
					break;
				case 'd':
					ph = "D";
					break;
				case 'f':
					ph = "F";
					break;
				case 'g':
					ph = "G";
					break;
				case 'k':
					ph = "K";
					break;
				case 'l':
					ph = "L";
					break;
				case 'm':
					ph = "M";
					break;
				case 'n':
					ph = "N";
					break;
				case 'p':
					ph = "P";
					break;
				case 'r':
					ph = "R";
					break;
				case 's':
					ph = "S";
					break;
				case 't':
					ph = "T";
					break;
				case 'v':
					ph = "V";
					break;
				case 'w':
					ph = "W";
					break;
				case 'z':
					ph = "Z";
					break;
				default:
					ph = NULL;
			}
		}
		if (is_vowel(c))
			first_vowel = false;
		i += step;
		if (ph == NULL)
			continue;
		len = strlen(ph);
		if (o + len + 2 > outlen)
			return false;
		if (o > 0)
			out[o++] = ' ';
		memcpy(out + o, ph, len + 1);
		o += len;
	}
	return o > 0;
}

/*
 * number_value
 *		Value of a number word, -1 when it is not one.
 */
static int
number_value(const char *w)
{
	for (size_t i = 0; i < sizeof(number_words) / sizeof(number_words[0]); i++)
		if (strcmp(number_words[i].word, w) == 0)
			return number_words[i].value;
	return -1;
}

/*
 * speech_parse_number
 *		Indian and English grouping: [X lakh] [Y thousand | Y k] [Z], each
 *		group below a thousand being "[N hundred [and]] tens units" (also
 *		"twenty five hundred").  Stops at the first word that cannot
 *		continue the number, so "two five" is two numbers.
 */
bool
speech_parse_number(const char *const *words, int n, long long *value, int *used)
{
	long long	total = 0;		/* lakhs and thousands so far */
	long long	group = 0;		/* the group below a thousand */
	int			last = 0;		/* 0 none, 1 unit, 2 teen, 3 tens, 4 hundred, 5 multiplier */
	bool		had_thousand = false,
				had_lakh = false,
				had_hundred = false;
	int			i;

	for (i = 0; i < n; i++)
	{
		const char *w = words[i];
		int			v = number_value(w);

		if (v == 0)
		{
			/* zero only stands alone */
			if (i == 0)
			{
				*value = 0;
				*used = 1;
				return true;
			}
			break;
		}
		if (v > 0 && v < 10)
		{
			if (last == 1 || last == 2 || (last == 3 && group % 10 != 0))
				break;
			group += v;
			last = 1;
		}
		else if (v >= 10 && v < 20)
		{
			if (last == 1 || last == 2 || last == 3)
				break;
			group += v;
			last = 2;
		}
		else if (v >= 20)
		{
			if (last == 1 || last == 2 || last == 3)
				break;
			group += v;
			last = 3;
		}
		else if (strcmp(w, "hundred") == 0)
		{
			if (last < 1 || last > 3 || had_hundred || group == 0 || group > 99)
				break;
			group *= 100;
			had_hundred = true;
			last = 4;
		}
		else if (strcmp(w, "thousand") == 0 || strcmp(w, "k") == 0)
		{
			if (last < 1 || last > 4 || had_thousand || group == 0)
				break;
			total += group * 1000;
			group = 0;
			had_thousand = true;
			had_hundred = false;
			last = 5;
		}
		else if (strcmp(w, "lakh") == 0 || strcmp(w, "lakhs") == 0)
		{
			if (last < 1 || last > 4 || had_lakh || had_thousand || group == 0)
				break;
			total += group * 100000;
			group = 0;
			had_lakh = true;
			had_hundred = false;
			last = 5;
		}
		else if (strcmp(w, "and") == 0)
		{
			/* "five hundred and fifty": only between a number and more */
			if ((last != 4 && last != 5) || i + 1 >= n)
				break;
			v = number_value(words[i + 1]);
			if (v <= 0)
				break;
		}
		else
			break;
	}
	if (last == 0)
		return false;
	/* a trailing "and" is not part of the number */
	while (i > 0 && strcmp(words[i - 1], "and") == 0)
		i--;
	*value = total + group;
	*used = i;
	return true;
}

/*
 * speech_normalise
 *		Split the transcript into words, replace each spoken number by its
 *		digits, join runs of single digits ("nine eight" -> "98").
 */
char *
speech_normalise(const char *transcript)
{
	size_t		tl = strlen(transcript);
	char	   *copy = malloc(tl + 1);
	const char **words = malloc((tl / 2 + 2) * sizeof(char *));
	int			nw = 0;
	Buf			b = {0};

	if (copy == NULL || words == NULL)
	{
		free(copy);
		free(words);
		return NULL;
	}
	memcpy(copy, transcript, tl + 1);
	for (char *tok = strtok(copy, " \t\n"); tok != NULL; tok = strtok(NULL, " \t\n"))
		words[nw++] = tok;
	buf_str(&b, "");
	for (int i = 0; i < nw;)
	{
		long long	v;
		int			used;
		char		num[32];

		if (b.len > 0)
			buf_str(&b, " ");
		if (!speech_parse_number(words + i, nw - i, &v, &used))
		{
			buf_str(&b, words[i]);
			i++;
			continue;
		}
		snprintf(num, sizeof(num), "%lld", v);
		buf_str(&b, num);
		i += used;
		/* a run of single spoken digits is one digit string (a phone number) */
		if (used == 1 && v < 10)
			while (i < nw)
			{
				int			d = number_value(words[i]);

				if (d < 0 || d > 9)
					break;
				if (i + 1 < nw && (strcmp(words[i + 1], "hundred") == 0 ||
								   strcmp(words[i + 1], "thousand") == 0 ||
								   strcmp(words[i + 1], "k") == 0 ||
								   strcmp(words[i + 1], "lakh") == 0))
					break;
				snprintf(num, sizeof(num), "%d", d);
				buf_str(&b, num);
				i++;
			}
	}
	free(words);
	free(copy);
	if (b.failed)
	{
		free(b.s);
		return NULL;
	}
	return b.s;
}
