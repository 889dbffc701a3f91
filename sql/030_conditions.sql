--
-- 030_conditions: flowdb.eval_condition(condition, context) for every
-- operator, the combinators, and the errors.
--
\set VERBOSITY default
\set SHOW_CONTEXT never

\set ctx '{"trigger_data": {"amount": 7000, "price": 12.5, "name": "Ravi Kumar", "email": "ravi@example.com", "vip": true, "note": null, "blank": "", "tags": ["new", "vip"], "none": [], "customer": {"city": "Pune"}, "nothing": {}, "status": "paid", "code": "500"}}'

-- one row per case: the condition and its result
CREATE TEMP TABLE ctx AS SELECT :'ctx'::jsonb AS ctx;
CREATE FUNCTION pg_temp.ev(cond jsonb) RETURNS boolean
LANGUAGE sql AS $$ SELECT flowdb.eval_condition(cond, ctx) FROM pg_temp.ctx $$;

-- comparisons
SELECT c AS condition, pg_temp.ev(c::jsonb) AS result
FROM (VALUES
  ('{"left": "{{ trigger_data.amount }}", "op": "eq", "right": 7000}'),
  ('{"left": "{{ trigger_data.amount }}", "op": "eq", "right": 7000.0}'),
  ('{"left": "{{ trigger_data.amount }}", "op": "eq", "right": 7001}'),
  ('{"left": "{{ trigger_data.name }}", "op": "eq", "right": "Ravi Kumar"}'),
  ('{"left": "{{ trigger_data.name }}", "op": "eq", "right": "ravi kumar"}'),
  ('{"left": "{{ trigger_data.tags }}", "op": "eq", "right": ["new", "vip"]}'),
  ('{"left": "{{ trigger_data.customer }}", "op": "eq", "right": {"city": "Pune"}}'),
  ('{"left": "{{ trigger_data.vip }}", "op": "eq", "right": true}'),
  ('{"left": "{{ trigger_data.note }}", "op": "eq", "right": null}'),
  ('{"left": "{{ trigger_data.vip }}", "op": "eq", "right": "true"}'),
  ('{"left": "{{ trigger_data.status }}", "op": "ne", "right": "failed"}'),
  ('{"left": "{{ trigger_data.status }}", "op": "ne", "right": "paid"}'),
  ('{"left": "{{ trigger_data.amount }}", "op": "gt", "right": 5000}'),
  ('{"left": "{{ trigger_data.amount }}", "op": "gt", "right": 7000}'),
  ('{"left": "{{ trigger_data.amount }}", "op": "gte", "right": 7000}'),
  ('{"left": "{{ trigger_data.amount }}", "op": "gte", "right": 7000.5}'),
  ('{"left": "{{ trigger_data.price }}", "op": "lt", "right": 12.6}'),
  ('{"left": "{{ trigger_data.price }}", "op": "lt", "right": 12.5}'),
  ('{"left": "{{ trigger_data.price }}", "op": "lte", "right": 12.5}'),
  ('{"left": "{{ trigger_data.price }}", "op": "lte", "right": -1}'),
  ('{"left": "{{ trigger_data.name }}", "op": "gt", "right": "Anil"}'),
  ('{"left": "{{ trigger_data.name }}", "op": "lt", "right": "Anil"}'),
  ('{"left": 2, "op": "lt", "right": 10}'),
  ('{"left": "2", "op": "lt", "right": "10"}')
) AS v(c);

-- text and membership operators
SELECT c AS condition, pg_temp.ev(c::jsonb) AS result
FROM (VALUES
  ('{"left": "{{ trigger_data.name }}", "op": "contains", "right": "Kum"}'),
  ('{"left": "{{ trigger_data.name }}", "op": "contains", "right": "kum"}'),
  ('{"left": "{{ trigger_data.tags }}", "op": "contains", "right": "vip"}'),
  ('{"left": "{{ trigger_data.tags }}", "op": "contains", "right": "old"}'),
  ('{"left": "{{ trigger_data.customer }}", "op": "contains", "right": "city"}'),
  ('{"left": "{{ trigger_data.customer }}", "op": "contains", "right": "zip"}'),
  ('{"left": "{{ trigger_data.email }}", "op": "starts_with", "right": "ravi@"}'),
  ('{"left": "{{ trigger_data.email }}", "op": "starts_with", "right": "anil@"}'),
  ('{"left": "{{ trigger_data.email }}", "op": "ends_with", "right": "@example.com"}'),
  ('{"left": "{{ trigger_data.email }}", "op": "ends_with", "right": "@example.org"}'),
  ('{"left": "ab", "op": "ends_with", "right": "xab"}'),
  ('{"left": "{{ trigger_data.status }}", "op": "in", "right": ["paid", "captured"]}'),
  ('{"left": "{{ trigger_data.status }}", "op": "in", "right": ["failed"]}'),
  ('{"left": "{{ trigger_data.amount }}", "op": "in", "right": [5000, 7000]}'),
  ('{"left": "vip", "op": "in", "right": "{{ trigger_data.tags }}"}'),
  ('{"left": "old", "op": "in", "right": "{{ trigger_data.tags }}"}'),
  ('{"left": "{{ trigger_data.email }}", "op": "matches", "right": "^[a-z]+@example\\.(com|org)$"}'),
  ('{"left": "{{ trigger_data.email }}", "op": "matches", "right": "^[0-9]+$"}'),
  ('{"left": "{{ trigger_data.name }}", "op": "matches", "right": "Kumar"}'),
  ('{"left": "Order #{{ trigger_data.amount }}", "op": "matches", "right": "#[0-9]{4}$"}')
) AS v(c);

-- exists and empty (a missing path is not an error for these two)
SELECT c AS condition, pg_temp.ev(c::jsonb) AS result
FROM (VALUES
  ('{"left": "{{ trigger_data.email }}", "op": "exists"}'),
  ('{"left": "{{ trigger_data.note }}", "op": "exists"}'),
  ('{"left": "{{ trigger_data.phone }}", "op": "exists"}'),
  ('{"left": "{{ trigger_data.customer.address.zip }}", "op": "exists"}'),
  ('{"left": "{{ trigger_data.tags[1] }}", "op": "exists"}'),
  ('{"left": "{{ trigger_data.tags[2] }}", "op": "exists"}'),
  ('{"left": "{{ steps.lookup.output }}", "op": "exists"}'),
  ('{"left": "{{ trigger_data.note }}", "op": "empty"}'),
  ('{"left": "{{ trigger_data.blank }}", "op": "empty"}'),
  ('{"left": "{{ trigger_data.none }}", "op": "empty"}'),
  ('{"left": "{{ trigger_data.nothing }}", "op": "empty"}'),
  ('{"left": "{{ trigger_data.phone }}", "op": "empty"}'),
  ('{"left": "{{ trigger_data.name }}", "op": "empty"}'),
  ('{"left": "{{ trigger_data.tags }}", "op": "empty"}'),
  ('{"left": "{{ trigger_data.amount }}", "op": "empty"}'),
  ('{"left": "", "op": "empty"}'),
  ('{"left": "Hi {{ trigger_data.blank }}", "op": "empty"}')
) AS v(c);

-- all / any / not
SELECT c AS condition, pg_temp.ev(c::jsonb) AS result
FROM (VALUES
  ('{"all": [{"left": "{{ trigger_data.amount }}", "op": "gt", "right": 5000}, {"left": "{{ trigger_data.vip }}", "op": "eq", "right": true}]}'),
  ('{"all": [{"left": "{{ trigger_data.amount }}", "op": "gt", "right": 5000}, {"left": "{{ trigger_data.vip }}", "op": "eq", "right": false}]}'),
  ('{"any": [{"left": "{{ trigger_data.amount }}", "op": "lt", "right": 100}, {"left": "{{ trigger_data.status }}", "op": "eq", "right": "paid"}]}'),
  ('{"any": [{"left": "{{ trigger_data.amount }}", "op": "lt", "right": 100}, {"left": "{{ trigger_data.status }}", "op": "eq", "right": "failed"}]}'),
  ('{"not": {"left": "{{ trigger_data.status }}", "op": "eq", "right": "paid"}}'),
  ('{"not": {"left": "{{ trigger_data.phone }}", "op": "exists"}}'),
  ('{"all": [{"any": [{"left": 1, "op": "eq", "right": 2}, {"not": {"left": 1, "op": "eq", "right": 2}}]}, {"left": "{{ trigger_data.tags }}", "op": "contains", "right": "new"}]}')
) AS v(c);

-- all/any stop at the first deciding condition: later errors are not reached
SELECT pg_temp.ev('{"any": [{"left": 1, "op": "eq", "right": 1}, {"left": "{{ trigger_data.missing }}", "op": "eq", "right": 1}]}') AS any_short_circuit,
       pg_temp.ev('{"all": [{"left": 1, "op": "eq", "right": 2}, {"left": "{{ trigger_data.missing }}", "op": "eq", "right": 1}]}') AS all_short_circuit;

-- type mismatches are errors naming both types (22023)
SELECT pg_temp.ev('{"left": "{{ trigger_data.amount }}", "op": "gt", "right": "5000"}');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.ev('{"left": "{{ trigger_data.code }}", "op": "eq", "right": 500}');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.ev('{"left": "{{ trigger_data.code }}", "op": "ne", "right": 500}');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.ev('{"left": "{{ trigger_data.vip }}", "op": "lt", "right": 1}');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.ev('{"left": "{{ trigger_data.note }}", "op": "gte", "right": 0}');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.ev('{"left": "{{ trigger_data.amount }}", "op": "contains", "right": "7"}');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.ev('{"left": "{{ trigger_data.amount }}", "op": "starts_with", "right": "7"}');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.ev('{"left": "{{ trigger_data.tags }}", "op": "matches", "right": "vip"}');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.ev('{"left": "{{ trigger_data.status }}", "op": "in", "right": "{{ trigger_data.status }}"}');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.ev('{"left": "{{ trigger_data.customer }}", "op": "gt", "right": "{{ trigger_data.customer }}"}');
\echo :LAST_ERROR_SQLSTATE

-- a missing path in any other operator fails, naming the path (22023)
SELECT pg_temp.ev('{"left": "{{ trigger_data.total }}", "op": "gt", "right": 100}');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.ev('{"left": 1, "op": "in", "right": "{{ trigger_data.allowed }}"}');
\echo :LAST_ERROR_SQLSTATE

-- invalid condition shapes: every problem with its path (22023)
SELECT flowdb.eval_condition('[]', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.eval_condition('{}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.eval_condition('{"left": 1, "op": "approx", "right": 1}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.eval_condition('{"left": 1, "op": 5, "right": 1}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.eval_condition('{"op": "eq"}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.eval_condition('{"left": "{{ trigger_data.x }}", "op": "exists", "right": true}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.eval_condition('{"left": "trigger_data.x", "op": "exists"}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.eval_condition('{"left": 1, "op": "in", "right": 5}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.eval_condition('{"left": "x", "op": "matches", "right": "(unclosed"}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.eval_condition('{"left": "x", "op": "matches", "right": "(a)\\1"}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.eval_condition('{"left": "x", "op": "matches", "right": 5}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.eval_condition('{"left": "{{ secrets.key }}", "op": "eq", "right": "{{ trigger_data.x"}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.eval_condition('{"all": [], "any": {}}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.eval_condition('{"not": {"left": 1, "op": "eq", "right": 1}, "op": "eq"}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.eval_condition('{"all": [{"left": 1, "op": "eq", "right": 1}, "x", {"when": 1}]}', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.eval_condition('{"not": []}', '{}');
\echo :LAST_ERROR_SQLSTATE
-- nesting is limited
SELECT flowdb.eval_condition(
         (SELECT repeat('{"not": ', 40) || '{"left": 1, "op": "eq", "right": 1}' || repeat('}', 40))::jsonb, '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.eval_condition(
         (SELECT repeat('{"not": ', 30) || '{"left": 1, "op": "eq", "right": 1}' || repeat('}', 30))::jsonb, '{}') AS thirty_nots;
-- "matches" refuses subjects longer than flowdb.max_regex_subject (10000);
-- under it, PostgreSQL's regex engine handles (a|aa)*c in linear time
SHOW flowdb.max_regex_subject;
SELECT flowdb.eval_condition(jsonb_build_object('left', repeat('a', 10000), 'op', 'matches', 'right', '^a+$'), '{}') AS at_limit;
SELECT flowdb.eval_condition(jsonb_build_object('left', repeat('a', 10000), 'op', 'matches', 'right', '(a|aa)*c'), '{}') AS hostile_at_limit;
SELECT flowdb.eval_condition(jsonb_build_object('left', repeat('a', 40000), 'op', 'matches', 'right', '(a|aa)*c'), '{}');
\echo :LAST_ERROR_SQLSTATE
-- patterns on which glibc's regcomp would spin uninterruptibly (copies of
-- a part that can match nothing; stacked repetitions) are refused, also
-- when a template makes them from run data: the worker never compiles
-- them with glibc, and a pattern PostgreSQL's engine refuses is an error
SELECT flowdb.eval_condition('{"left": "x", "op": "matches", "right": "{{ trigger_data.p }}"}',
                             '{"trigger_data": {"p": "((((a)?)?)?)+"}}');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.eval_condition('{"left": "x", "op": "matches", "right": "{{ trigger_data.p }}"}',
                             jsonb_build_object('trigger_data', jsonb_build_object('p', 'a' || repeat('*', 60) || '+++++++')));
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.eval_condition('{"left": "x", "op": "matches", "right": "{{ trigger_data.p }}"}',
                             '{"trigger_data": {"p": "(unclosed"}}');
\echo :LAST_ERROR_SQLSTATE
SELECT flowdb.eval_condition('{"left": "xaay", "op": "matches", "right": "{{ trigger_data.p }}"}',
                             '{"trigger_data": {"p": "^x(a+b?)+y$"}}') AS copies_that_match_something;
SELECT (flow_validate('{"version": 1, "name": "re", "trigger": {"type": "manual"},
  "nodes": [{"id": "r", "type": "router"}, {"id": "s", "type": "set", "values": {"v": 1}}],
  "edges": [{"from": "r", "to": "s", "condition": {"left": "x", "op": "matches", "right": "(a?){2}"}}]}')) -> 'errors' AS empty_copies_at_validation;
