/*-------------------------------------------------------------------------
 *
 * draft.h
 *	  The offline drafter: a plain-language description of an automation
 *	  becomes a blueprint (pure C, deterministic, no model).
 *
 * The vocabulary comes from the catalog (catalog.c): services, task names,
 * parameter names and trigger events, plus a small table of synonyms per
 * service and task in draft.c.  See docs/drafting.md for what it
 * understands.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_DRAFT_H
#define FLOWDB_DRAFT_H

#include "fjson.h"

/* Bytes of a prompt the drafter reads; the rest is ignored with a warning. */
#define DRAFT_MAX_INPUT 8192
/* At most this many action steps in one draft. */
#define DRAFT_MAX_ACTIONS 20

/*
 * Draft a blueprint from prompt (len bytes; reading stops at a NUL byte).
 * Never fails on any input: the result is always
 *	{"blueprint": <a blueprint that passes bp_validate>, "warnings": [text...]}
 * where the warnings name what was not understood or left to fill in.
 * NULL only when memory runs out.  The caller cJSON_Delete()s the result.
 */
extern cJSON *draft_offline(const char *prompt, size_t len);

#endif							/* FLOWDB_DRAFT_H */
