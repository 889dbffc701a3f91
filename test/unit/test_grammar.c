/*
 * test_grammar.c: the speech command grammar, name pronunciations and
 * spoken numbers.
 */
#include "unit.h"
#include "grammar.h"

static char *
norm(const char *s)
{
	static char out[512];
	char	   *n = speech_normalise(s);

	snprintf(out, sizeof(out), "%s", n ? n : "(null)");
	free(n);
	return out;
}

static long long
num(const char *s, int *used)
{
	const char *words[16];
	char		copy[256];
	int			n = 0;
	long long	v = -1;

	snprintf(copy, sizeof(copy), "%s", s);
	for (char *t = strtok(copy, " "); t != NULL && n < 16; t = strtok(NULL, " "))
		words[n++] = t;
	if (!speech_parse_number(words, n, &v, used))
		return -1;
	return v;
}

TEST(test_numbers)
{
	int			used;

	CHECK_INT(num("five", &used), 5);
	CHECK_INT(num("five hundred", &used), 500);
	CHECK_INT(used, 2);
	CHECK_INT(num("two thousand five hundred", &used), 2500);
	CHECK_INT(num("twenty five hundred", &used), 2500);
	CHECK_INT(num("five k", &used), 5000);
	CHECK_INT(num("twelve thousand", &used), 12000);
	CHECK_INT(num("one lakh twenty thousand", &used), 120000);
	CHECK_INT(num("two lakh", &used), 200000);
	CHECK_INT(num("seven hundred fifty", &used), 750);
	CHECK_INT(num("five hundred and fifty rupees", &used), 550);
	CHECK_INT(used, 4);
	CHECK_INT(num("ninety nine thousand nine hundred ninety nine", &used), 99999);
	CHECK_INT(num("three hundred and", &used), 300);
	CHECK_INT(used, 2);
	/* a second unit starts a new number */
	CHECK_INT(num("two five", &used), 2);
	CHECK_INT(used, 1);
	CHECK_INT(num("twenty thirty", &used), 20);
	CHECK_INT(num("thousand", &used), -1);
	CHECK_INT(num("k", &used), -1);
	CHECK_INT(num("rupees", &used), -1);
	CHECK_INT(num("zero", &used), 0);
	/* no second thousand, no lakh after thousand */
	CHECK_INT(num("two thousand three thousand", &used), 2003);
	CHECK_INT(used, 3);
	CHECK_INT(num("two thousand one lakh", &used), 2001);
}

TEST(test_normalise)
{
	CHECK_STR(norm("invoice ravi five hundred rupees"), "invoice ravi 500 rupees");
	CHECK_STR(norm("send payment link to priya two thousand five hundred rupees"),
			  "send payment link to priya 2500 rupees");
	CHECK_STR(norm("invoice amit for five k"), "invoice amit for 5000");
	CHECK_STR(norm("ravi ko one lakh ka invoice bhejo"), "ravi ko 100000 ka invoice bhejo");
	CHECK_STR(norm("message nine eight seven six five four three two one zero"),
			  "message 9876543210");
	CHECK_STR(norm("nine eight five hundred"), "98 500");
	CHECK_STR(norm("  help  "), "help");
	CHECK_STR(norm(""), "");
	CHECK_STR(norm("and k thousand"), "and k thousand");
}

TEST(test_clean_phrase)
{
	char		out[128];

	CHECK_INT(speech_clean_phrase("  Ravi   KUMAR ", out, sizeof(out)), 2);
	CHECK_STR(out, "ravi kumar");
	CHECK_INT(speech_clean_phrase("O'Brien-Smith", out, sizeof(out)), 3);
	CHECK_STR(out, "o brien smith");
	CHECK_INT(speech_clean_phrase("रवि 42", out, sizeof(out)), 0);
	CHECK_STR(out, "");
	CHECK_INT(speech_clean_phrase("a b c d e", out, sizeof(out)), -1);
	CHECK_INT(speech_clean_phrase("abcdefghijklmnopqrstuvwxyz", out, sizeof(out)), -1);
	CHECK_INT(speech_clean_phrase("ravi kumar", out, 6), -1);
}

TEST(test_grammar_with_names)
{
	const char *names[] = {"Ravi", NULL, " ravi ", "RAVI", "Priya Sharma", "रवि",
	"Amit; public <x> = pwned", "public", "grammar import"};
	char		err[256] = "";
	SpeechGrammar *g = speech_grammar_build(names, 9, err, sizeof(err));
	bool		ravi = false,
				bhejo = false,
				bad = false;

	CHECK(g != NULL);
	if (g == NULL)
		return;
	CHECK_INT(g->nphrases, 3);
	/* the names' words come first: ravi priya sharma amit x pwned */
	CHECK_INT(g->nname_words, 6);
	CHECK_STR(g->words[0], "ravi");
	CHECK_STR(g->words[5], "pwned");
	CHECK_CONTAINS(g->jsgf, "#JSGF V1.0;\ngrammar flowdb;\n");
	CHECK_CONTAINS(g->jsgf, "<name> = ravi | priya sharma | amit x pwned;\n");
	CHECK_CONTAINS(g->jsgf, "<name> ko <amount> ka <thing> <hindi>");
	CHECK_CONTAINS(g->jsgf, "(thousand | k)");
	/* one public rule, no injected one */
	CHECK(strstr(g->jsgf, "public <x>") == NULL);
	CHECK(strstr(strstr(g->jsgf, "public <command>") + 1, "public <") == NULL);
	for (int i = 0; i < g->nwords; i++)
	{
		ravi |= strcmp(g->words[i], "ravi") == 0;
		bhejo |= strcmp(g->words[i], "bhejo") == 0;
		bad |= strcmp(g->words[i], "name") == 0 || strcmp(g->words[i], "flowdb") == 0 ||
			strcmp(g->words[i], "grammar") == 0 || strcmp(g->words[i], "jsgf") == 0;
		for (int j = 0; j < i; j++)
			bad |= strcmp(g->words[i], g->words[j]) == 0;
	}
	CHECK(ravi);
	CHECK(bhejo);
	CHECK(!bad);
	speech_grammar_free(g);
}

TEST(test_grammar_without_names)
{
	char		err[256] = "";
	SpeechGrammar *g = speech_grammar_build(NULL, 0, err, sizeof(err));

	CHECK(g != NULL);
	if (g == NULL)
		return;
	CHECK(strstr(g->jsgf, "<name>") == NULL);
	CHECK_CONTAINS(g->jsgf, "public <command> = <money> [<sum>] | <message>");
	CHECK_INT(g->nphrases, 0);
	speech_grammar_free(g);
}

TEST(test_grammar_limits)
{
	const char *too_long[] = {"ravi", "one two three four five"};
	static char bufs[SPEECH_MAX_PHRASES + 1][16];
	const char *many[SPEECH_MAX_PHRASES + 1];
	char		err[256] = "";
	SpeechGrammar *g;

	CHECK(speech_grammar_build(too_long, 2, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "phrase 2 is too long");
	for (int i = 0; i <= SPEECH_MAX_PHRASES; i++)
	{
		/* distinct letter-only names: a, b, ... aa, ab ... */
		snprintf(bufs[i], sizeof(bufs[i]), "n%c%c", 'a' + i / 26, 'a' + i % 26);
		many[i] = bufs[i];
	}
	CHECK(speech_grammar_build(many, SPEECH_MAX_PHRASES + 1, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "too many phrases");
	g = speech_grammar_build(many, SPEECH_MAX_PHRASES, err, sizeof(err));
	CHECK(g != NULL);
	if (g != NULL)
		CHECK_INT(g->nphrases, SPEECH_MAX_PHRASES);
	speech_grammar_free(g);
}

TEST(test_phones)
{
	char		out[128];

	CHECK(speech_guess_phones("Priya", 0, out, sizeof(out)));
	CHECK_STR(out, "P R IY Y AA");
	CHECK(speech_guess_phones("anjali", 0, out, sizeof(out)));
	CHECK_STR(out, "AH N JH AH L IY");
	CHECK(speech_guess_phones("anjali", 1, out, sizeof(out)));
	CHECK_STR(out, "AE N JH AH L IY");
	CHECK(speech_guess_phones("bhavesh", 0, out, sizeof(out)));
	CHECK_STR(out, "B AH V EH SH");
	CHECK(speech_guess_phones("Deepa", 0, out, sizeof(out)));
	CHECK_STR(out, "D IY P AA");
	CHECK(speech_guess_phones("Deepa", 1, out, sizeof(out)));
	CHECK_STR(out, "D IY P AH");
	CHECK(speech_guess_phones("Shiv", 0, out, sizeof(out)));
	CHECK_STR(out, "SH IH V");
	CHECK(speech_guess_phones("kavya", 0, out, sizeof(out)));
	CHECK_STR(out, "K AH V Y AA");
	/* open syllables make i and u long */
	CHECK(speech_guess_phones("sunita", 0, out, sizeof(out)));
	CHECK_STR(out, "S UW N IY T AA");
	CHECK(speech_guess_phones("amit", 0, out, sizeof(out)));
	CHECK_STR(out, "AH M IH T");
	CHECK(speech_guess_phones("amit", 1, out, sizeof(out)));
	CHECK_STR(out, "AE M IH T");
	CHECK(speech_guess_phones("Anna", 0, out, sizeof(out)));
	CHECK_STR(out, "AH N AA");
	CHECK(speech_guess_phones("Rohit", 0, out, sizeof(out)));
	CHECK_STR(out, "R OW HH IH T");
	CHECK(!speech_guess_phones("42", 0, out, sizeof(out)));
	CHECK(!speech_guess_phones("priya", 0, out, 5));
	CHECK_STR(speech_known_phones("bhejo", 0), "B EY JH OW");
	CHECK(speech_known_phones("bhejo", 1) == NULL);
	CHECK_STR(speech_known_phones("lakh", 1), "L AE K");
	CHECK(speech_known_phones("invoice", 0) == NULL);
}

int
main(void)
{
	RUN(test_numbers);
	RUN(test_normalise);
	RUN(test_clean_phrase);
	RUN(test_grammar_with_names);
	RUN(test_grammar_without_names);
	RUN(test_grammar_limits);
	RUN(test_phones);
	return UNIT_SUMMARY();
}
