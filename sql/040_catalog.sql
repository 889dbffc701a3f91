--
-- 040_catalog: flow_catalog(), the single source of services, tasks,
-- parameters, events, trigger types, node types and condition operators.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

SELECT jsonb_typeof(flow_catalog()) AS type, flow_catalog() -> 'version' AS version;
SELECT array_agg(k ORDER BY k) AS top_level_keys FROM jsonb_object_keys(flow_catalog()) k;

-- services, in registry order, with the keys every service has
SELECT ord, s ->> 'name' AS service,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(s) k) AS keys
FROM jsonb_array_elements(flow_catalog() -> 'services') WITH ORDINALITY AS x(s, ord)
ORDER BY ord;

-- tasks and their required parameters
SELECT s ->> 'name' AS service, t ->> 'name' AS task,
       (SELECT string_agg(p ->> 'name', ', ' ORDER BY o) FROM jsonb_array_elements(t -> 'params') WITH ORDINALITY AS y(p, o)
        WHERE (p ->> 'required')::boolean) AS required,
       (SELECT string_agg(p ->> 'name', ', ' ORDER BY o) FROM jsonb_array_elements(t -> 'params') WITH ORDINALITY AS y(p, o)
        WHERE NOT (p ->> 'required')::boolean) AS optional
FROM jsonb_array_elements(flow_catalog() -> 'services') s,
     jsonb_array_elements(s -> 'tasks') t
ORDER BY 1, 2;

-- every parameter has a name, a known type, required and a description
SELECT p ->> 'type' AS type, count(*) AS params
FROM jsonb_array_elements(flow_catalog() -> 'services') s,
     jsonb_array_elements(s -> 'tasks') t,
     jsonb_array_elements(t -> 'params') p
GROUP BY 1 ORDER BY 1;
SELECT s ->> 'name' AS service, t ->> 'name' AS task, p ->> 'name' AS param
FROM jsonb_array_elements(flow_catalog() -> 'services') s,
     jsonb_array_elements(s -> 'tasks') t,
     jsonb_array_elements(t -> 'params') p
WHERE coalesce(p ->> 'description', '') = ''
   OR jsonb_typeof(p -> 'required') <> 'boolean'
   OR p ->> 'type' NOT IN ('string', 'number', 'integer', 'boolean', 'object', 'array', 'any');
-- tasks without a description or an output description
SELECT s ->> 'name' AS service, t ->> 'name' AS task
FROM jsonb_array_elements(flow_catalog() -> 'services') s,
     jsonb_array_elements(s -> 'tasks') t
WHERE coalesce(t ->> 'description', '') = '' OR coalesce(t ->> 'output', '') = '';

-- events and credential fields per service
SELECT s ->> 'name' AS service,
       (SELECT string_agg(e, ', ' ORDER BY e) FROM jsonb_array_elements_text(s -> 'events') e) AS events,
       (SELECT string_agg(f, ', ' ORDER BY f) FROM jsonb_array_elements_text(s -> 'credential_fields') f) AS credential_fields
FROM jsonb_array_elements(flow_catalog() -> 'services') s
ORDER BY 1;

-- every catalog event is a valid event trigger
SELECT e AS event, flow_validate(jsonb_build_object('version', 1, 'name', 'on ' || e,
         'trigger', jsonb_build_object('type', 'event', 'event', e),
         'nodes', '[{"id": "n", "type": "router"}]'::jsonb)) -> 'valid' AS valid
FROM jsonb_array_elements(flow_catalog() -> 'services') s,
     jsonb_array_elements_text(s -> 'events') e
ORDER BY 1;

-- each service names its base URL setting, and that setting exists with
-- the catalog's default (tests point it at local fake servers)
SELECT s ->> 'name' AS service, s ->> 'base_url_setting' AS setting,
       s ->> 'default_base_url' AS default_base_url,
       current_setting(s ->> 'base_url_setting', true) IS NOT DISTINCT FROM (s ->> 'default_base_url') AS setting_exists_with_default
FROM jsonb_array_elements(flow_catalog() -> 'services') s
ORDER BY 1;

-- trigger types, node types (with their fields), condition operators
SELECT flow_catalog() -> 'trigger_types' AS trigger_types;
SELECT n ->> 'type' AS node_type,
       (SELECT string_agg((f ->> 'name') || CASE WHEN (f ->> 'required')::boolean THEN '*' ELSE '' END
                          || ':' || (f ->> 'type'), ', ' ORDER BY o)
        FROM jsonb_array_elements(n -> 'fields') WITH ORDINALITY AS y(f, o)) AS fields,
       coalesce(n ->> 'description', '') <> '' AS described
FROM jsonb_array_elements(flow_catalog() -> 'node_types') WITH ORDINALITY AS x(n, ord)
ORDER BY ord;
SELECT flow_catalog() -> 'condition_ops' AS condition_ops;

-- every condition operator in the catalog is understood by eval_condition
SELECT op, flowdb.eval_condition(
         CASE WHEN op IN ('exists', 'empty') THEN jsonb_build_object('left', '{{ trigger_data.x }}', 'op', op)
              WHEN op = 'in' THEN jsonb_build_object('left', 'a', 'op', op, 'right', '["a"]'::jsonb)
              ELSE jsonb_build_object('left', 'abc', 'op', op, 'right', 'abc') END,
         '{"trigger_data": {"x": "abc"}}') AS result
FROM jsonb_array_elements_text(flow_catalog() -> 'condition_ops') op
ORDER BY op;

-- the catalog is the validator's vocabulary: every task with only its
-- required parameters (as templates), plus the first of each "one of"
-- group, is valid; without the one_of parameters it is not
SELECT s ->> 'name' AS service, t ->> 'name' AS task, t -> 'one_of' AS one_of,
       flow_validate(jsonb_build_object('version', 1, 'name', 'probe', 'trigger', '{"type": "manual"}'::jsonb,
         'nodes', jsonb_build_array(jsonb_build_object('id', 'n', 'type', 'action',
            'service', s ->> 'name', 'task', t ->> 'name',
            'params', coalesce((SELECT jsonb_object_agg(p ->> 'name', '{{ trigger_data.' || (p ->> 'name') || ' }}')
                                FROM jsonb_array_elements(t -> 'params') p
                                WHERE (p ->> 'required')::boolean
                                   OR p ->> 'name' IN (SELECT g ->> 0 FROM jsonb_array_elements(t -> 'one_of') g)),
                               '{}'))))) -> 'valid' AS valid,
       flow_validate(jsonb_build_object('version', 1, 'name', 'probe', 'trigger', '{"type": "manual"}'::jsonb,
         'nodes', jsonb_build_array(jsonb_build_object('id', 'n', 'type', 'action',
            'service', s ->> 'name', 'task', t ->> 'name',
            'params', coalesce((SELECT jsonb_object_agg(p ->> 'name', '{{ trigger_data.' || (p ->> 'name') || ' }}')
                                FROM jsonb_array_elements(t -> 'params') p
                                WHERE (p ->> 'required')::boolean), '{}'))))) -> 'valid' AS valid_with_required_only
FROM jsonb_array_elements(flow_catalog() -> 'services') s,
     jsonb_array_elements(s -> 'tasks') t
ORDER BY 1, 2;

-- callable by any role, stable
CREATE ROLE regress_flowdb_catalog NOLOGIN;
SET ROLE regress_flowdb_catalog;
SELECT jsonb_array_length(flow_catalog() -> 'services') AS services;
RESET ROLE;
DROP ROLE regress_flowdb_catalog;
SELECT provolatile, proparallel FROM pg_proc WHERE oid = 'flow_catalog()'::regprocedure;
