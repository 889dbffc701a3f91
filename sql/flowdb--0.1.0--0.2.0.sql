-- flowdb 0.1.0 -> 0.2.0: run by ALTER EXTENSION flowdb UPDATE.
--
-- Every schema change of 0.2.0 made in sql/flowdb--0.2.0.sql (the fresh
-- install script) has its counterpart here, so that an updated database and
-- a fresh install end up with the same schema (test/t/0NN_upgrade.pl
-- compares them).
\echo Use "ALTER EXTENSION flowdb UPDATE TO '0.2.0'" to load this file. \quit

-- newcomer: flowdb.require_preload (CREATE EXTENSION without
-- shared_preload_libraries is an ERROR with the fix, not a FATAL)
CREATE FUNCTION flowdb.require_preload() RETURNS void
AS 'MODULE_PATHNAME', 'flowdb_require_preload'
LANGUAGE C STRICT VOLATILE;
SELECT flowdb.require_preload();
