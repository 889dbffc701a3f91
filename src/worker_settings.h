/*-------------------------------------------------------------------------
 *
 * worker_settings.h
 *	  Settings only the background workers read: a session-level SET of
 *	  one of them is warned about (worker_settings.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef WORKER_SETTINGS_H
#define WORKER_SETTINGS_H

#include "postgres.h"
#include "utils/guc.h"

/* WARNING when a session (not the postmaster, a reload or a worker) sets
 * name, with a hint naming ALTER SYSTEM + pg_reload_conf(); extra_hint
 * (or NULL) is appended to the hint */
extern void worker_setting_warn(const char *name, const char *value,
								GucSource source, const char *extra_hint);

/* a string check hook that only warns (worker_setting_warn) for name;
 * name must outlive the setting (static or malloc'd); NULL when every
 * hook is taken */
extern GucStringCheckHook worker_setting_string_hook(const char *name);

#endif							/* WORKER_SETTINGS_H */
