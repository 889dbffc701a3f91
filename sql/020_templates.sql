--
-- 020_templates: flowdb.render(value, context), the {{ root.path }}
-- templates of params, set values and conditions.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

\set ctx '{"trigger_data": {"amount": 5000, "price": 12.5, "name": "Ravi", "vip": true, "note": null, "items": [{"sku": "A1", "qty": 2}, {"sku": "B2", "qty": 1}], "customer": {"name": "Ravi", "tags": ["new", "vip"]}, "odd keys": {"sku code": "Z9", "a\\"b": "quoted", "dots.in.key": 3}, "template_text": "{{ trigger_data.amount }}", "empty": ""}, "steps": {"lookup": {"output": {"status": 200, "body": {"id": "inv_1"}}}}, "run": {"id": "run-1"}, "workflow": {"name": "Thank customers"}}'

-- a string that is exactly one template keeps the referenced value's type
SELECT flowdb.render('"{{ trigger_data.amount }}"', :'ctx') AS number,
       jsonb_typeof(flowdb.render('"{{ trigger_data.amount }}"', :'ctx')) AS type;
SELECT flowdb.render('"{{trigger_data.price}}"', :'ctx') AS number;
SELECT flowdb.render('"{{ trigger_data.customer }}"', :'ctx') AS object;
SELECT flowdb.render('"{{ trigger_data.items }}"', :'ctx') AS array;
SELECT flowdb.render('"{{ trigger_data.vip }}"', :'ctx') AS bool;
SELECT flowdb.render('"{{ trigger_data.note }}"', :'ctx') AS null_value,
       jsonb_typeof(flowdb.render('"{{ trigger_data.note }}"', :'ctx')) AS type;
SELECT flowdb.render('"{{ trigger_data.name }}"', :'ctx') AS string;
-- whitespace (spaces, a tab) inside the braces is ignored
SELECT flowdb.render('"{{   trigger_data.amount\t}}"', :'ctx') AS spaced;

-- templates inside a longer string are interpolated as text
SELECT flowdb.render('"Thanks {{ trigger_data.name }} for paying {{ trigger_data.amount }}"', :'ctx') AS text;
SELECT flowdb.render('"price {{trigger_data.price}}, vip {{trigger_data.vip}}, note [{{trigger_data.note}}]"', :'ctx') AS scalars;
SELECT flowdb.render('"customer: {{ trigger_data.customer }} tags: {{ trigger_data.customer.tags }}"', :'ctx') AS json_text;
SELECT flowdb.render('" {{ trigger_data.amount }}"', :'ctx') AS leading_space,
       flowdb.render('"{{ trigger_data.amount }} "', :'ctx') AS trailing_space,
       flowdb.render('"{{ trigger_data.amount }}{{ trigger_data.amount }}"', :'ctx') AS two;

-- [index] and quoted keys
SELECT flowdb.render('"{{ trigger_data.items[1].sku }}"', :'ctx') AS second_sku,
       flowdb.render('"{{ trigger_data.items[0] }}"', :'ctx') AS first_item,
       flowdb.render('"{{ trigger_data.customer.tags[1] }}"', :'ctx') AS tag;
SELECT flowdb.render('"{{ trigger_data[\"odd keys\"][\"sku code\"] }}"', :'ctx') AS quoted,
       flowdb.render('"{{ trigger_data[\"odd keys\"][\"a\\\"b\"] }}"', :'ctx') AS escaped_quote,
       flowdb.render('"{{ trigger_data[\"odd keys\"][\"dots.in.key\"] }}"', :'ctx') AS dotted;
-- "}}" inside a quoted key does not close the template
SELECT flowdb.render('"{{ trigger_data[\"a}}b\"] }}"', '{"trigger_data": {"a}}b": "braces"}}') AS braces;

-- every root
SELECT flowdb.render('{"run": "{{ run.id }}", "wf": "{{ workflow.name }}", "id": "{{ steps.lookup.output.body.id }}", "status": "{{ steps.lookup.output.status }}"}', :'ctx') AS roots;

-- objects and arrays are rendered recursively; keys are not templates
SELECT flowdb.render('{"to": "{{ trigger_data.name }}", "{{ keep }}": 1, "lines": ["{{ trigger_data.items[0].qty }}", "x {{ trigger_data.items[1].qty }}", 3, true, null, {"deep": ["{{ trigger_data.vip }}"]}]}', :'ctx') AS nested;

-- values without templates come back unchanged
SELECT flowdb.render('{"a": 1, "b": [true, null, "plain {text}", "{ {not} }"], "c": 1.5e3}', '{}') AS unchanged;
SELECT flowdb.render('"no templates"', '{}') AS text, flowdb.render('7', '{}') AS number, flowdb.render('null', '{}') AS null_value;

-- data containing "{{" is never rendered again
SELECT flowdb.render('"{{ trigger_data.template_text }}"', :'ctx') AS whole,
       flowdb.render('"value: {{ trigger_data.template_text }}"', :'ctx') AS embedded;
SELECT flowdb.render('"{{ trigger_data.x }}"', '{"trigger_data": {"x": "{{ trigger_data.y }}", "y": "secret"}}') AS not_rerendered;

-- empty strings and empty containers are values, not missing
SELECT flowdb.render('"[{{ trigger_data.empty }}]"', :'ctx') AS empty_string,
       flowdb.render('"{{ trigger_data.e }}"', '{"trigger_data": {"e": {}}}') AS empty_object;

-- a path missing at run time is an error naming the path (22023)
SELECT flowdb.render('"{{ trigger_data.missing }}"', :'ctx');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.render('"Dear {{ trigger_data.customer.email }}"', :'ctx');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.render('"{{ trigger_data.items[5].sku }}"', :'ctx');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.render('"{{ trigger_data.name.first }}"', :'ctx');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.render('"{{ trigger_data.customer[0] }}"', :'ctx');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.render('"{{ trigger_data.note.x }}"', :'ctx');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.render('"{{ steps.notify.output }}"', :'ctx');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.render('"{{ trigger_data[\"odd keys\"][\"no such\"] }}"', :'ctx');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.render('{"ok": "{{ run.id }}", "bad": ["{{ workflow.owner }}"]}', :'ctx');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.render('"{{ trigger_data.x }}"', '[]');
\echo :LAST_ERROR_SQLSTATE

-- syntax errors: unclosed, empty, bad paths (22023)
SELECT flowdb.render('"Hi {{ trigger_data.name"', :'ctx');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.render('"{{ trigger_data.name }} and {{ trigger_data.amount"', :'ctx');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.render('"{{}}"', :'ctx');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.render('"{{ trigger_data. }}"', :'ctx');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.render('"{{ trigger_data.items[-1] }}"', :'ctx');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.render('"{{ trigger_data.items[0 }}"', :'ctx');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.render('"{{ trigger_data name }}"', :'ctx');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.render('"{{ .name }}"', :'ctx');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.render('"{{ trigger_data[\"open }}"', :'ctx');
\echo :LAST_ERROR_SQLSTATE

-- NULL in, NULL out (strict)
SELECT flowdb.render(NULL, :'ctx') IS NULL AS null_value, flowdb.render('"x"', NULL) IS NULL AS null_context;

-- numbers are IEEE-754 doubles in the engine (as in JavaScript): every
-- double comes back exactly (shortest round-trip form, the same whether
-- untouched or picked by a template); integers beyond 2^53 are rounded to
-- the nearest double, so ids that large must be sent as strings
SELECT flowdb.render('{"order_id": 9007199254740993, "big": 123456789012345678901234567890, "price": 0.1, "tiny": 1e-7}', '{}') AS doubles;
SELECT flowdb.render('"{{ trigger_data.order_id }}"', '{"trigger_data": {"order_id": 9007199254740993}}') AS whole,
       flowdb.render('"order {{ trigger_data.order_id }}"', '{"trigger_data": {"order_id": 9007199254740993}}') AS embedded;

-- values nested deeper than flowdb accepts (990 levels) are a limit
-- (54000), not "invalid JSON"; only the SQLSTATE is shown
CREATE FUNCTION pg_temp.sqlstate_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;
SELECT pg_temp.sqlstate_of($q$SELECT flowdb.render((repeat('[', 1200) || '1' || repeat(']', 1200))::jsonb, '{}')$q$) AS deep_value,
       pg_temp.sqlstate_of($q$SELECT flowdb.render('"{{ trigger_data.a }}"', ('{"trigger_data": {"a": ' || repeat('[', 1200) || '1' || repeat(']', 1200) || '}}')::jsonb)$q$) AS deep_context,
       pg_temp.sqlstate_of($q$SELECT flowdb.eval_condition(('{"left": ' || repeat('[', 1200) || '1' || repeat(']', 1200) || ', "op": "empty"}')::jsonb, '{}')$q$) AS deep_condition;
-- the limit is exact: 990 levels render, 991 are refused
SELECT pg_temp.sqlstate_of($q$SELECT flowdb.render((repeat('[', 990) || '1' || repeat(']', 990))::jsonb, '{}')$q$) AS depth_990,
       pg_temp.sqlstate_of($q$SELECT flowdb.render((repeat('[', 991) || '1' || repeat(']', 991))::jsonb, '{}')$q$) AS depth_991;
