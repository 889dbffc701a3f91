/*-------------------------------------------------------------------------
 *
 * intent_cli.c
 *	  Read one utterance per line on stdin, print intent_analyze's JSON per
 *	  line on stdout (bench/intent/score.py drives it).  With -t it prints
 *	  the mean time per analysis (microseconds) on stderr at the end.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "intent.h"

int
main(int argc, char **argv)
{
	static char line[INTENT_MAX_INPUT + 2];
	int			timing = argc > 1 && strcmp(argv[1], "-t") == 0;
	double		total_us = 0;
	long		n = 0;

	while (fgets(line, sizeof(line), stdin))
	{
		struct timespec a,
					b;
		cJSON	   *r;
		char	   *s;

		line[strcspn(line, "\n")] = '\0';
		clock_gettime(CLOCK_MONOTONIC, &a);
		r = intent_analyze(line);
		clock_gettime(CLOCK_MONOTONIC, &b);
		total_us += (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
		n++;
		s = r ? cJSON_PrintUnformatted(r) : NULL;
		printf("%s\n", s ? s : "null");
		free(s);
		cJSON_Delete(r);
	}
	if (timing && n > 0)
		fprintf(stderr, "%.2f\n", total_us / n);
	return 0;
}
