/*-------------------------------------------------------------------------
 *
 * sphinx.h
 *	  A thin wrapper over pocketsphinx for speech.c.
 *
 * pocketsphinx's headers define int64 and uint64 differently from
 * PostgreSQL's c.h, so they cannot share a file with postgres.h: this
 * wrapper includes only pocketsphinx and reports errors as text.  Built
 * without HAVE_POCKETSPHINX every call fails with a message.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_SPHINX_H
#define FLOWDB_SPHINX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "grammar.h"

typedef struct SphinxDecoder SphinxDecoder;

/* Was flowdb built with pocketsphinx? */
extern bool sphinx_available(void);

/* Load the en-us acoustic model and dictionary (no grammar yet); NULL
 * with err when they cannot be loaded. */
extern SphinxDecoder *sphinx_open(char *err, size_t errlen);
extern void sphinx_close(SphinxDecoder *d);

/* Give the grammar's words the dictionary lacks a pronunciation and make
 * the grammar the decoder's search; false with err on failure. */
extern bool sphinx_set_grammar(SphinxDecoder *d, const SpeechGrammar *g,
							   char *err, size_t errlen);

/* Recognise one utterance of 16 kHz mono samples with the grammar set
 * last: the malloc'd hypothesis ("" when nothing matched), NULL with err
 * when decoding failed (then close the decoder: its state is unknown). */
extern char *sphinx_recognise(SphinxDecoder *d, const int16_t *samples, size_t n,
							  char *err, size_t errlen);

#endif							/* FLOWDB_SPHINX_H */
