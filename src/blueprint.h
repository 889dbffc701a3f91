/*-------------------------------------------------------------------------
 *
 * blueprint.h
 *	  Blueprint (version 1) validation and graph queries (pure C).
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_BLUEPRINT_H
#define FLOWDB_BLUEPRINT_H

#include "fjson.h"

/* Limits (also enforced in SQL on payload sizes). */
#define BP_MAX_NODES 200
#define BP_MAX_EDGES 1000
#define BP_MAX_ID_LEN 64

/*
 * Validate a parsed blueprint.  Every problem is added to errs as
 * "$.json.path: message".  Returns true when errs gained nothing.
 * Checks: version, name, trigger (type and its fields), nodes (ids unique,
 * [A-Za-z0-9_-]{1,64}, type known, per-type fields, action service/task in
 * the catalog, required params present, param types for literal values,
 * retry/timeout_ms ranges), edges (from/to exist, no self loops, condition
 * shape, at most one else per source, else without condition, "on"
 * success or failure, failure edges without condition or else),
 * on_failure's shape ({"workflow": "<id or name>"}), acyclic
 * graph, templates (syntax, known root, steps.<id> must be a strict
 * ancestor of the node using it).
 */
extern bool bp_validate(const cJSON *bp, FdbErrors *errs);

/*
 * Does this time zone exist?  Set by the backend (the zone database lives
 * there); when false it may append a hint (" (did you mean ...)") to hint.
 * NULL (unit tests): only the spelling of a schedule's timezone is checked.
 */
extern bool (*bp_timezone_hook) (const char *name, char *hint, size_t hintlen);

/*
 * Set by the backend: the columns of the table a table trigger names, as an
 * object of null members (what to_jsonb(NEW) holds), or NULL when unknown.
 * The validator frees it.  Used only when the trigger declares no sample.
 */
extern cJSON *(*bp_table_shape_hook) (const char *table);

/* Lookup helpers over a validated blueprint. */
extern const cJSON *bp_node(const cJSON *bp, const char *id);
extern int	bp_node_count(const cJSON *bp);

#endif							/* FLOWDB_BLUEPRINT_H */
