/*-------------------------------------------------------------------------
 *
 * version.h
 *	  Does the installed extension match this library?  (version.c)
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_VERSION_H
#define FLOWDB_VERSION_H

#include "postgres.h"

/* the library's own version: EXTVERSION of the Makefile */
extern const char *const flowdb_library_version;

/*
 * True when extension extoid (flowdb) is installed at the library's
 * version.  Call inside a transaction with an active snapshot.  Says once
 * in the log what to run while they differ.
 */
extern bool flowdb_extension_version_matches(Oid extoid);

#endif							/* FLOWDB_VERSION_H */
