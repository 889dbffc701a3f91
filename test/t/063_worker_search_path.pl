# 063_worker_search_path.pl: the database's owner cannot run code as the
# worker's superuser through search_path.
#
# The worker connects as a superuser and takes the database's settings.
# The owner of a database may set its search_path without being a
# superuser (on Supabase the customer's "postgres" role owns the database
# and is not one).  With a schema of the owner's before pg_catalog, an
# unqualified now() in the worker's claim called the owner's function,
# as the superuser.  The worker now resolves names in pg_catalog only.
#
# Checked: the owner sets search_path = evil, pg_catalog with evil.now()
# and evil.gen_random_uuid() that record who called them; runs go
# through and the worker never calls either.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # FlowdbTest.pm (PROVE_FLAGS does not reach prove)
use FlowdbTest;

my $node = new_node('searchpath');
my $fake = start_fake({ '/*' => [ { body => { ok => JSON::PP::true } } ] });
my $bp = blueprint(name => 'sp', nodes => [ http_node('s', $fake->url('/sp')) ]);

$node->safe_psql('postgres', q{
	CREATE ROLE owner LOGIN;
	ALTER DATABASE postgres OWNER TO owner;
	GRANT CREATE ON DATABASE postgres TO owner;
});
is($node->safe_psql('postgres', "SELECT rolsuper FROM pg_roles WHERE rolname = 'owner'"),
	'f', 'the owner of the database is not a superuser');

# as the owner: functions shadowing pg_catalog's, and the database's
# search_path putting them first; each records its name, who called it,
# whether that role is a superuser and the calling backend's type
my $shadows = join '', map { qq{
	CREATE FUNCTION evil.$_->[0]() RETURNS $_->[1] LANGUAGE sql AS \$\$
		INSERT INTO evil.calls SELECT '$_->[0]', current_user,
			(SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user),
			(SELECT backend_type FROM pg_catalog.pg_stat_activity
			 WHERE pid = pg_catalog.pg_backend_pid());
		SELECT pg_catalog.$_->[0]() \$\$;} } ([ 'now', 'timestamptz' ], [ 'gen_random_uuid', 'uuid' ]);
$node->safe_psql('postgres', qq{
	SET ROLE owner;
	CREATE SCHEMA evil;
	CREATE TABLE evil.calls (fn text, caller text, super boolean, app text);
	GRANT INSERT ON evil.calls TO PUBLIC;
	$shadows
	GRANT USAGE ON SCHEMA evil TO PUBLIC;
	ALTER DATABASE postgres SET search_path = evil, pg_catalog;
});
is($node->safe_psql('postgres', 'SHOW search_path'), 'evil, pg_catalog',
	"the owner set the database's search_path");

# a new worker process, which takes the database's settings at start
my $old = worker_pid($node);
my $pid = restart_worker($node);
ok($pid && $pid != $old, 'a new worker started');

# (public is not on the path any more: the client names the function)
$node->safe_psql('postgres',
	'SELECT count(public.flow_execute(' . sql_json($bp) . ", jsonb_build_object('i', g))) "
	  . 'FROM generate_series(1, 3) g');
ok(wait_runs($node, "blueprint->>'name' = 'sp'", 60), 'three runs finished');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM flowdb.runs WHERE blueprint->>'name' = 'sp' AND status = 'succeeded'"),
	'3', 'all succeeded');
is($node->safe_psql('postgres',
		"SELECT coalesce(string_agg(DISTINCT fn || ' by ' || caller, ', '), 'none') "
		  . "FROM evil.calls WHERE super AND app = 'flowdb worker'"),
	'none', "the owner's functions never ran in the worker, as its superuser");

$fake->stop;
done_testing();
