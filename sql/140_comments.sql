--
-- 140_comments: every function clients can reach has a COMMENT (PostgREST
-- shows it in its OpenAPI description): each function of the extension in
-- schema public, and the helpers docs/sql.md documents.  A new function
-- without COMMENT ON FUNCTION is listed here.
--

-- functions of the extension in schema public without a comment (none)
SELECT p.oid::regprocedure AS public_function_without_comment
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'flowdb'
WHERE p.pronamespace = 'public'::regnamespace
  AND coalesce(btrim(obj_description(p.oid, 'pg_proc')), '') = ''
ORDER BY 1::text;

-- the documented helpers in schema flowdb ("Internal helpers" in
-- docs/sql.md) without a comment (none)
SELECT h.name AS documented_helper_without_comment
FROM unnest(ARRAY['current_owner', 'blueprint_errors', 'check_blueprint', 'check_payload',
                  'render', 'eval_condition', 'cron_matches', 'event_matches', 'hmac',
                  'safe_equal', 'request_header', 'worker_info', 'worker_health',
                  'realtime_enable', 'realtime_tables', 'prune', 'grant_api_roles',
                  'draft_offline', 'transcribe_offline', 'speech_grammar', 'require_preload']) AS h(name)
WHERE NOT EXISTS (SELECT 1 FROM pg_proc p
                  WHERE p.pronamespace = 'flowdb'::regnamespace AND p.proname = h.name
                    AND obj_description(p.oid, 'pg_proc') IS NOT NULL)
ORDER BY 1;

-- how many functions in schema public the check covered (a check over
-- no functions would pass by itself)
SELECT count(*) > 20 AS public_functions_checked
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'flowdb'
WHERE p.pronamespace = 'public'::regnamespace;

-- the check sees a missing comment: without flow_stats's, it lists flow_stats
BEGIN;
COMMENT ON FUNCTION public.flow_stats() IS NULL;
SELECT p.oid::regprocedure AS public_function_without_comment
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'flowdb'
WHERE p.pronamespace = 'public'::regnamespace
  AND coalesce(btrim(obj_description(p.oid, 'pg_proc')), '') = ''
ORDER BY 1::text;
ROLLBACK;
