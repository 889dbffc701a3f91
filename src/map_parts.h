/*
 * map_parts.h
 *		A running map's items and results, stored apart from its run's
 *		state (flowdb.map_parts), so that a commit writes what changed
 *		instead of the whole list again.
 *
 * While a map node runs, its state holds every item and a result slot per
 * item ({"items": [...], "results": [...], "active": {...}, ...}).  The
 * worker commits the run's state after every batch of answers, and a map
 * over 10,000 items rewrote 1.25 MB of JSON at each of its 100 commits:
 * the time per item grew with the number of items.  Instead, while the
 * map runs, the state written to flowdb.runs says
 * "items": {"apart": "<instance>"} (and the same for "results"), and each
 * commit adds rows to flowdb.map_parts: the items once, each result once.
 * The run's final state (succeeded or failed) is written whole and its
 * rows are deleted.  A run claimed again (after a crash, a wait) gets its
 * arrays back from the rows before the engine sees the state.
 *
 * An instance names one start of a map (the claim's lease token and a
 * number): rows of an earlier start of the same node (flow_retry) are
 * never read as this one's.
 *
 * Pure C (cJSON): no PostgreSQL calls; store.c does the SQL.
 */
#ifndef FLOWDB_MAP_PARTS_H
#define FLOWDB_MAP_PARTS_H

#include <stdbool.h>
#include <cjson/cJSON.h>

/* a row's item number for the map's items array */
#define MAP_PARTS_ITEMS (-1)

/* one row of flowdb.map_parts (strings malloc'd) */
typedef struct MapPartRow
{
	char	   *node_id;
	char	   *instance;
	int			item;			/* an item's result, or MAP_PARTS_ITEMS */
	char	   *value;			/* JSON text */
} MapPartRow;

/* what is stored of one map node */
typedef struct MapPartsNode
{
	char	   *node_id;
	char	   *instance;
	const cJSON *map;			/* the map state the rows belong to */
	bool		items_saved;
	bool		items_pending;	/* in this commit's rows */
	int			nsaved;
	unsigned char *saved;		/* per item: its result's row is written */
	int		   *pending;		/* results in this commit's rows */
	int			npending;
	cJSON	   *items;			/* detached while the state is printed */
	cJSON	   *results;
	cJSON	   *items_marker;
	cJSON	   *results_marker;
} MapPartsNode;

/* one run's map parts (zeroed memory is an empty one) */
typedef struct MapParts
{
	MapPartsNode *nodes;
	int			nnodes;
	int			instances;		/* instances started by this copy */
	bool		rows_exist;		/* the table may hold rows of the run */
	bool		clear;			/* this commit deletes the run's rows */
	MapPartRow *rows;			/* this commit's rows */
	int			nrows;
	int			caprows;
} MapParts;

extern bool map_parts_needed(const cJSON *state);
extern bool map_parts_restore(MapParts *p, cJSON *state, const MapPartRow *rows,
							  int nrows, char *err, size_t errlen);
extern void map_parts_collect(MapParts *p, const cJSON *state, const char *token,
							  bool finishing);
extern void map_parts_detach(MapParts *p);
extern void map_parts_attach(MapParts *p);
extern void map_parts_written(MapParts *p, bool written);
extern void map_parts_free(MapParts *p);

#endif							/* FLOWDB_MAP_PARTS_H */
