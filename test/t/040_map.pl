# 040_map.pl: map nodes (one action per item of a list).
#
#   (a) 50 items, concurrency 5, against a server that answers in 300 ms:
#       the server never sees more than 5 at once (and does see 5), exactly
#       50 requests with 50 distinct keys flowdb-<run>-<node>.<index>, each
#       with its own item; the output lists the results in item order; one
#       log row per item (workflow_logs.item) plus the node's own.
#   (b) the same with a kill -9 of the worker in the middle: the run
#       finishes, every item that was logged as finished before the kill
#       was sent exactly once, and a resent item keeps its key.
#   (c) per-item retries; on_item_error continue (error in the results) and
#       fail (the run fails at the first failed item, later items are never
#       sent); items that do not render to an array fail the node clearly.
#   (d) the items of a map use a stored named credential (loaded with the
#       run like an action's): real requests, not the sandbox, and the
#       secret appears nowhere in the logs, state or outbox.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;
use FlowdbTools qw(wait_until kill_worker wait_worker crash_lines point_providers
  set_credential leaks);

my $true = JSON::PP::true;

my $node = new_node('map', 'flowdb.lease_seconds' => '60');
my $fake = start_fake({
	'/slow/*' => [ { delay_ms => 300, echo => $true } ],
	'/quick/*' => [ { echo => $true } ],
	'/cf/3' => [ { status => 400, body => { error => 'no such customer' } } ],
	'/cf/*' => [ { echo => $true } ],
	# one position per Idempotency-Key: every item gets 503 then 200
	'/rt/*' => {
		per_header => 'Idempotency-Key',
		responses => [ { status => 503 }, { echo => $true } ] },
});

# map_bp(NAME, PATH, %OPT): a map over trigger_data.items posting each item
sub map_bp
{
	my ($name, $path, %o) = @_;
	my %map = (
		id    => 'remind',
		type  => 'map',
		items => $o{items} // '{{trigger_data.items}}',
		do    => {
			service => 'http',
			task    => 'request',
			params  => {
				url    => $fake->url("/$path/") . '{{index}}',
				method => 'POST',
				body   => { i => '{{item.i}}', index => '{{index}}', name => 'Hi {{item.name}}' } },
			retry => { max_attempts => $o{max_attempts} // 1, backoff_ms => 50 },
		});
	$map{concurrency}   = $o{concurrency}   if defined $o{concurrency};
	$map{on_item_error} = $o{on_item_error} if defined $o{on_item_error};
	return blueprint(name => $name, nodes => [ \%map ]);
}

sub items
{
	my ($n) = @_;
	return { items => [ map { { i => $_, name => "c$_" } } 0 .. $n - 1 ] };
}

# output(RUN): the map node's output
sub output
{
	my ($run) = @_;
	return json_dec($node->safe_psql('postgres',
			"SELECT state #> '{nodes,remind,output}' FROM flowdb.runs WHERE id = '$run'"));
}

# results_in_order(OUT, N): every result i echoes item i
sub results_in_order
{
	my ($out, $n) = @_;
	my $r = $out->{results} // [];
	return 0 unless @$r == $n;
	for my $i (0 .. $n - 1)
	{
		my $j = $r->[$i]{body}{json} // {};
		return 0 unless ($j->{i} // -1) == $i && ($j->{index} // -1) == $i
		  && ($j->{name} // '') eq "Hi c$i";
	}
	return 1;
}

########################################################################
# (a) 50 items, concurrency 5
########################################################################

$fake->reset;
my $run = flow_execute($node, map_bp('fifty', 'slow', concurrency => 5), items(50));
is(wait_run($node, $run, 120), 'succeeded', '(a) the map run succeeded');
my $stats = $fake->stats;
is($stats->{max_inflight}, 5, '(a) the server saw at most 5 requests at once, and 5 did overlap');
my @reqs = $fake->requests;
is(scalar @reqs, 50, '(a) exactly 50 requests');
my %keys;
$keys{ $_->{headers}{'idempotency-key'} // '' }++ for @reqs;
is_deeply([ sort keys %keys ], [ sort map { "flowdb-$run-remind.$_" } 0 .. 49 ],
	'(a) one Idempotency-Key per item: flowdb-<run>-remind.<index>');
is_deeply([ sort { $a <=> $b } map { $_->{path} =~ m{/(\d+)$} ? $1 : -1 } @reqs ],
	[ 0 .. 49 ], '(a) each item posted to its own URL once');
my $out = output($run);
ok(results_in_order($out, 50), '(a) results are in item order, each from its own item');
is("$out->{succeeded}/$out->{failed}", '50/0', '(a) succeeded 50, failed 0');
is($node->safe_psql('postgres', qq{
	SELECT count(DISTINCT item) FILTER (WHERE status = 'succeeded' AND item IS NOT NULL)
	       || '/' || count(*) FILTER (WHERE item IS NOT NULL)
	       || '/' || count(*) FILTER (WHERE item IS NULL AND status = 'succeeded')
	       || '/' || min(item) || '-' || max(item)
	FROM flowdb.workflow_logs WHERE run_id = '$run' AND node_id = 'remind' AND status <> 'started'}),
	'50/50/1/0-49', '(a) one succeeded log row per item (item 0..49) and one for the node');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM jsonb_array_elements(flow_status('$run') -> 'steps') s
	WHERE s ? 'item' AND s ->> 'status' <> 'started'}), '50', '(a) flow_status shows the item of each item step');
is($node->safe_psql('postgres', qq{
	SELECT count(DISTINCT item) || '/' || count(*) FROM flowdb.workflow_logs
	WHERE run_id = '$run' AND node_id = 'remind' AND status = 'started'}),
	'50/50', '(a) each item (answered after 300 ms) logged started once, with its index');

########################################################################
# (b) kill -9 in the middle
########################################################################

$fake->reset;
$run = flow_execute($node, map_bp('crash', 'slow', concurrency => 5), items(50));
ok(wait_until($node, qq{
	SELECT count(*) >= 15 FROM flowdb.workflow_logs
	WHERE run_id = '$run' AND item IS NOT NULL AND status = 'succeeded'}, 't', 60),
	'(b) 15 items finished');
my $done_before = $node->safe_psql('postgres', qq{
	SELECT string_agg(item::text, ',' ORDER BY item) FROM flowdb.workflow_logs
	WHERE run_id = '$run' AND item IS NOT NULL AND status = 'succeeded'});
is($node->safe_psql('postgres', "SELECT status FROM flowdb.runs WHERE id = '$run'"), 'running',
	'(b) the map is still going when the worker is killed');
# while it runs, its items and results are stored apart from the state
# (map_parts.h): markers in the state, a row per finished item
is($node->safe_psql('postgres', qq{
	SELECT state #>> '{nodes,remind,map,items,apart}' = state #>> '{nodes,remind,map,results,apart}'
	FROM flowdb.runs WHERE id = '$run'}), 't',
	'(b) the state in flowdb.runs names where its items and results are');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FILTER (WHERE item = -1 AND jsonb_array_length(value) = 50) || '/' ||
	       count(*) FILTER (WHERE item = ANY ('{$done_before}'::int[]))
	FROM flowdb.map_parts WHERE run_id = '$run'}),
	'1/' . scalar(split /,/, $done_before),
	'(b) flowdb.map_parts holds the 50 items and the result of every item logged');
# flow_status shows the running map whole: its 50 items, and a result
# (its own item's) for every item logged, null for those not finished
is($node->safe_psql('postgres', qq{
	SELECT jsonb_array_length(m -> 'items') || '/' || jsonb_array_length(m -> 'results') || '/' ||
	       (SELECT count(*) FROM unnest('{$done_before}'::int[]) d
	        WHERE (m -> 'results' -> d) #>> '{body,json,i}' = d::text) || '/' ||
	       (SELECT count(*) FILTER (WHERE r = 'null') FROM jsonb_array_elements(m -> 'results') r
	        ) + (SELECT count(*) FROM flowdb.map_parts WHERE run_id = '$run' AND item >= 0) || '/' ||
	       (position('apart' IN m::text) > 0)
	FROM (SELECT flow_status('$run') #> '{nodes,remind,map}' AS m) s}),
	'50/50/' . scalar(split /,/, $done_before) . '/50/false',
	'(b) flow_status shows the running map whole: 50 items, each finished item\'s own result, null for the rest');
my $old = kill_worker($node);
ok(wait_worker($node, $old, 60), '(b) a new worker runs');
is(wait_run($node, $run, 120), 'succeeded', '(b) the run finished after the crash');
my $by_key = $fake->count_by_key;
my @finished = split /,/, $done_before;
cmp_ok(scalar @finished, '>=', 15, '(b) at least 15 items were logged before the kill');
is(scalar(grep { ($by_key->{"flowdb-$run-remind.$_"} // 0) == 1 } @finished),
	scalar @finished, '(b) no item finished before the kill was sent again');
is(scalar keys %$by_key, 50, '(b) 50 distinct keys in all');
my $total = 0;
$total += $_ for values %$by_key;
note "(b) $total requests, " . scalar(@finished) . ' items logged before the kill';
cmp_ok($total, '<=', 55, '(b) at most the 5 items in flight at the kill were sent twice');
ok(!grep({ $_ > 2 } values %$by_key), '(b) no item sent more than twice');
ok(results_in_order(output($run), 50), '(b) results complete and in order');
is($node->safe_psql('postgres', qq{
	SELECT count(*) || '/' || (position('apart' IN (SELECT state::text FROM flowdb.runs WHERE id = '$run')) > 0)
	FROM flowdb.map_parts WHERE run_id = '$run'}),
	'0/false', '(b) the finished run has its whole state and no rows apart');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FILTER (WHERE n = 1) FROM (
	  SELECT item, count(*) AS n FROM flowdb.workflow_logs
	  WHERE run_id = '$run' AND item IS NOT NULL AND status = 'succeeded' GROUP BY 1) x}),
	'50', '(b) exactly one succeeded log row per item');
is(scalar(crash_lines($node)), 0, '(b) no process crashed by itself');

# a map whose rows apart were lost while no worker held it: the run
# fails with the reason instead of going on without its items.  A client
# locks the run's row, so the restarted worker cannot take it back, until
# the items row is deleted.
$fake->reset;
$run = flow_execute($node, map_bp('lost', 'slow', concurrency => 2), items(8));
ok(wait_until($node, qq{
	SELECT count(*) >= 2 FROM flowdb.map_parts WHERE run_id = '$run' AND item >= 0}, 't', 30),
	'(b) two items of another map finished');
my $bg = $node->background_psql('postgres', on_error_stop => 1);
$bg->query_safe("BEGIN; SELECT 1 FROM flowdb.runs WHERE id = '$run' FOR UPDATE");
ok(restart_worker($node), '(b) its worker ended and a new one started');
$bg->query_safe("DELETE FROM flowdb.map_parts WHERE run_id = '$run' AND item = -1; COMMIT");
$bg->quit;
is(wait_run($node, $run, 60), 'failed', '(b) the run without its items failed');
like($node->safe_psql('postgres', "SELECT error FROM flowdb.runs WHERE id = '$run'"),
	qr/^the run's state could not be restored: map node "remind": its items \(instance [0-9a-f-]+\.1\) are missing from flowdb\.map_parts$/,
	'(b) the error says which rows are missing');
is($node->safe_psql('postgres', "SELECT count(*) FROM flowdb.map_parts WHERE run_id = '$run'"),
	'0', '(b) the failed run\'s rows are gone');

# a map canceled while it runs: the canceled run's state has its lists
# back (whole, as every finished run's), and its rows apart are gone
$fake->reset;
$run = flow_execute($node, map_bp('cancel', 'slow', concurrency => 2), items(8));
ok(wait_until($node, qq{
	SELECT count(*) >= 2 FROM flowdb.map_parts WHERE run_id = '$run' AND item >= 0}, 't', 30),
	'(b) two items of a map to cancel finished');
is($node->safe_psql('postgres', "SELECT flow_cancel('$run')"), 't', '(b) the map run is canceled');
is($node->safe_psql('postgres', qq{
	SELECT status || ' ' || jsonb_array_length(state #> '{nodes,remind,map,items}') || ' ' ||
	  jsonb_array_length(state #> '{nodes,remind,map,results}') || ' ' ||
	  ((SELECT count(*) FROM jsonb_array_elements(state #> '{nodes,remind,map,results}') e
	    WHERE e #>> '{body,json,i}' IS NOT NULL) >= 2) || ' ' ||
	  (SELECT count(*) FROM flowdb.map_parts WHERE run_id = '$run')
	FROM flowdb.runs WHERE id = '$run'}),
	'canceled 8 8 true 0',
	'(b) the canceled run keeps its 8 items and the results that came in; no rows apart');

########################################################################
# (c) retries, on_item_error, bad items
########################################################################

$fake->reset;
$run = flow_execute($node, map_bp('retry', 'rt', concurrency => 2, max_attempts => 2), items(4));
is(wait_run($node, $run, 60), 'succeeded', '(c) every item succeeded on its second attempt');
is($node->safe_psql('postgres', qq{
	SELECT string_agg(status || ':' || attempt, ',' ORDER BY status, attempt)
	FROM flowdb.workflow_logs WHERE run_id = '$run' AND item = 2}),
	'retrying:1,succeeded:2',
	'(c) item 2 logged its retry and its success (attempt 2), no started row (fast answers)');
$by_key = $fake->count_by_key;
is(scalar(grep { $by_key->{"flowdb-$run-remind.$_"} == 2 } 0 .. 3), 4,
	'(c) each item sent twice with its own stable key');
ok(results_in_order(output($run), 4), '(c) results in order after retries');

$fake->reset;
$run = flow_execute($node, map_bp('continue', 'cf', on_item_error => 'continue', concurrency => 2),
	items(6));
is(wait_run($node, $run, 60), 'succeeded', '(c) continue: the run succeeded despite item 3');
$out = output($run);
is("$out->{succeeded}/$out->{failed}", '5/1', '(c) continue: 5 succeeded, 1 failed');
like($out->{results}[3]{error} // '', qr/400/, '(c) continue: item 3 result holds its error');
is($out->{results}[4]{body}{json}{i}, 4, '(c) continue: item 4 went on');

$fake->reset;
$run = flow_execute($node, map_bp('fail', 'cf', concurrency => 1), items(6));
is(wait_run($node, $run, 60), 'failed', '(c) fail: the run failed');
like($node->safe_psql('postgres', "SELECT error FROM flowdb.runs WHERE id = '$run'"),
	qr/^node remind failed: item 3: .*400/, '(c) fail: the error names the node and the item');
is(join(',', sort map { $_->{path} =~ m{/(\d+)$} ? $1 : '?' } $fake->requests), '0,1,2,3',
	'(c) fail: items after the failed one were never sent');

my $fbs = json_dec($node->safe_psql('postgres', "SELECT flow_stats() -> 'failures_by_service'"));
ok(($fbs->{http} // 0) >= 2 && !exists $fbs->{unknown},
	'(c) flow_stats counts failed items under the service of the map\'s do (' . json_enc($fbs) . ')');

$run = flow_execute($node, map_bp('notarray', 'cf', items => '{{trigger_data.items}}'),
	{ items => { a => 1 } });
is(wait_run($node, $run, 60), 'failed', '(c) items not an array: the run failed');
is($node->safe_psql('postgres', "SELECT error FROM flowdb.runs WHERE id = '$run'"),
	'node remind failed: items must be an array, got the object {"a":1}',
	'(c) items not an array: a clear error');

$run = flow_execute($node, map_bp('empty', 'cf'), { items => [] });
is(wait_run($node, $run, 60), 'succeeded', '(c) no items: the map succeeds at once');
is_deeply(output($run), { results => [], succeeded => 0, failed => 0 },
	'(c) no items: empty results');

########################################################################
# (d) a named credential in "do"
########################################################################

my $slack = start_fake({
	'POST /slack/chat.postMessage' => [ { status => 200,
		body => { ok => $true, channel => 'C0MAP', ts => '1700000000.000200' } } ] });
point_providers($node, { slack => $slack });
set_credential($node, 'slack', 'ops', { bot_token => 'xoxb-mapSECRETtoken77' });
$run = flow_execute($node, blueprint(name => 'slack-map', nodes => [ {
		id => 'remind', type => 'map', items => '{{trigger_data.items}}', concurrency => 2,
		do => { service => 'slack', task => 'post_message', credential => 'ops',
			params => { channel => '#c{{index}}', text => 'hi {{item.name}}' } } } ]), items(3));
is(wait_run($node, $run, 60), 'succeeded', '(d) the slack map succeeded');
my @sl = $slack->requests;
is(scalar @sl, 3, '(d) three real requests (not the sandbox)');
is(scalar(grep { ($_->{headers}{authorization} // '') eq 'Bearer xoxb-mapSECRETtoken77' } @sl), 3,
	'(d) each with the named credential');
is($node->safe_psql('postgres', "SELECT count(*) FROM flowdb.outbox WHERE run_id = '$run'"), '0',
	'(d) nothing in the outbox');
is_deeply([ leaks($node, 'xoxb-mapSECRETtoken77') ], [], '(d) the token is nowhere in logs, state or outbox');
$slack->stop;

$fake->stop;
$node->stop;
done_testing();
