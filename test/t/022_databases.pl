# 022_databases.pl: one cluster, many databases.  The launcher runs a
# worker in each database where agentphone is installed and nowhere else; a
# database created after the server started is served within 1 s of the
# COMMIT of its CREATE EXTENSION; a database renamed with calls in flight
# keeps being served under its new name and nothing is posted twice; a
# database dropped with calls queued never dials them.  Each database may
# have its own API key (agentphone.api_key_directory); databases sharing a
# key share one max_calls_per_minute budget, measured over 2 minutes; a
# keyless database waits and says why.  When agentphone.max_databases is
# exhausted the extra database waits, the log says once what to raise,
# and the others are unaffected.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $sim_url = start_sim();

# served(NODE): the databases that have an agentphone worker, sorted
sub served
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{
		SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_stat_activity
		WHERE backend_type = 'agentphone worker'});
}

# queue(DB, FIRST, N, ARGS): queue N calls in DB to +1415555FIRST...
sub queue
{
	my ($db, $first, $n, $args) = @_;
	$args = $args ? ", $args" : '';
	return sql(qq{SELECT string_agg(agentphone_call('agt_1', '+1415555' || ($first + i)::text$args)::text, ',')
		FROM generate_series(0, $n - 1) i}, db => $db);
}

# in_range(FIRST, N): the POSTs the simulator got for +1415555FIRST...
sub posts_in_range
{
	my ($first, $n) = @_;
	return [ grep {
		my ($d) = $_->{body}{toNumber} =~ /^\+1415555(\d{4})$/;
		defined $d && $d >= $first && $d < $first + $n } @{ sim_posts() } ];
}

# --- five databases: three with agentphone, two without
# the simulator creates a delayed call when its answer is sent (3 s below):
# reconcile_delay must be longer, or the search runs before it exists
my $node = new_node('many', "agentphone.reconcile_delay = '5s'\n", no_extension => 1);
sql("CREATE DATABASE $_") for qw(plain moving doomed);
sql('CREATE EXTENSION agentphone', db => $_) for qw(moving doomed);
ok(wait_until(sub { served($node) eq 'doomed,moving' }, 10),
	'a worker runs in each database that has agentphone, none in postgres or plain');

my $doomed = queue('doomed', 7000, 3, "not_before => now() + interval '1 hour'");

# --- a rename with three requests in flight
sim('POST', '/_sim/faults', { faults => [
	{ method => 'POST', path => '/v1/calls', kind => 'delay', seconds => 3, count => 3 } ] });
sql("ALTER DATABASE moving SET agentphone.sub_account_id = 'sub_moving'");
queue('moving', 7100, 3);
ok(wait_until(sub { @{ posts_in_range(7100, 3) } == 3 }, 10), 'three requests are in flight');
is(join(',', map { $_->{headers}{'x-sub-account-id'} // 'none' } @{ posts_in_range(7100, 3) }),
	'sub_moving,sub_moving,sub_moving', 'each under the database\'s sub-account (ALTER DATABASE ... SET)');
my ($out, $err) = try_sql('ALTER DATABASE moving RENAME TO moved');
is($err, '', 'the database is renamed while they are in flight');
ok(wait_until(sub { served($node) eq 'doomed,moved' }, 15),
	'its worker is back, in the database under its new name');
ok(wait_until(sub { sql("SELECT count(*) FROM agentphone.calls WHERE status IN ('in-progress', 'completed') AND api_call_id IS NOT NULL", db => 'moved') == 3 }, 30),
	'the three calls are placed: none lost')
  or diag(sql("SELECT string_agg(status || ': ' || coalesce(last_error, ''), '; ') FROM agentphone.calls", db => 'moved'));
my %posted;
$posted{ $_->{body}{toNumber} }++ for @{ posts_in_range(7100, 3) };
is_deeply([ sort values %posted ], [ 1, 1, 1 ], 'and none posted twice (reconciled, not resent)');
my @searches = grep { exists $_->{query}{search} } @{ sim('GET', '/_sim/requests?method=GET&path=/v1/calls') };
cmp_ok(scalar(@searches), '>=', 3, 'they were reconciled by searching the API');
is(scalar(grep { ($_->{headers}{'x-sub-account-id'} // '') ne 'sub_moving' } @searches), 0,
	'within their sub-account, where the API lists them');

# --- a database created now: its first call within 1 s of COMMIT
sql('CREATE DATABASE fresh');
my $t0 = time();
sql(q{BEGIN; CREATE EXTENSION agentphone; SELECT agentphone_call('agt_1', '+14155557200'); COMMIT;}, db => 'fresh');
ok(wait_until(sub { @{ posts_in_range(7200, 1) } == 1 }, 10), 'the first call of a new database is posted');
my $latency = posts_in_range(7200, 1)->[0]{time} - $t0;
note(sprintf('CREATE EXTENSION + first call to its POST: %.3f s', $latency));
cmp_ok($latency, '<', 1, 'within 1 s of the COMMIT that installed agentphone');

# --- a drop with calls queued
($out, $err) = try_sql('DROP DATABASE doomed');
is($err, '', 'a database with queued calls is dropped, its worker out of the way');
ok(wait_until(sub { served($node) eq 'fresh,moved' }, 10), 'its worker is gone for good');
sleep 2;
is(scalar(@{ posts_in_range(7000, 3) }), 0, 'none of the dropped database\'s calls was posted');
is(scalar(@{ sim_posts() }), 4, 'four POSTs in all: none from the databases without agentphone');

# --- sub-accounts: a call's own, or none
sql(q{SELECT agentphone_call('agt_1', '+14155557300', options => '{"subAccountId": "sub_own"}'),
	agentphone_call('agt_1', '+14155557301')}, db => 'fresh');
ok(wait_until(sub { @{ posts_in_range(7300, 2) } == 2 }, 10), 'two more calls are posted');
is(join(',', map { $_->{headers}{'x-sub-account-id'} // 'none' }
	sort { $a->{body}{toNumber} cmp $b->{body}{toNumber} } @{ posts_in_range(7300, 2) }),
	'sub_own,none', 'one under its own sub-account, one under none');
ok(!grep({ exists $_->{body}{subAccountId} } @{ posts_in_range(7300, 2) }), 'and never in the body');
like(sql_error(q{INSERT INTO agentphone.calls (agent_id, to_number, created_by, options)
	VALUES ('agt_1', '+14155557302', 'postgres', jsonb_build_object('subAccountId', E'x\r\nX-Evil: 1'))}, db => 'fresh'),
	qr/violates check constraint "calls_sub_account_check"/,
	'a superuser\'s direct INSERT cannot store a sub-account that would smuggle a header');
unlike(slurp_file($node->logfile), qr/stopped unexpectedly|FATAL|PANIC/, 'no worker failed');

# --- a worker that keeps failing backs off in its database only
my $other = worker_pid($node, 'moved');
for my $n (1 .. 3)
{
	my $p;
	ok(wait_until(sub { ($p = worker_pid($node, 'fresh')) ne '' }, 15), "database fresh has a worker ($n)");
	sql("SELECT pg_terminate_backend($p)");
	ok(wait_until(sub { worker_pid($node, 'fresh') ne $p }, 15), "which is stopped ($n)");
}
ok(wait_until(sub { slurp_file($node->logfile) =~
	/the worker of database "fresh" stopped unexpectedly \(3 time\(s\) in a row\); starting it again in 4000 ms/ }, 10),
	'the third failure in a row waits 4 s (1 s doubled each time)');
is(worker_pid($node, 'moved'), $other, 'the other database\'s worker is untouched');
queue('moved', 7400, 1);
ok(wait_until(sub { @{ posts_in_range(7400, 1) } == 1 }, 5), 'and keeps placing calls meanwhile');
ok(wait_until(sub { worker_pid($node, 'fresh') ne '' }, 15), 'the failing database is served again after its backoff');
my $workers = sql("SELECT string_agg(database || ' ' || state, ', ' ORDER BY database) FROM agentphone_workers() WHERE kind = 'worker'", db => 'fresh');
is($workers, 'fresh running, moved running', 'agentphone_workers() shows every served database');
$node->stop;

# --- one key per database; a shared key shares its budget
sim('POST', '/_sim/reset');
sim('POST', '/_sim/config', { other_api_keys => [ 'sk_tenant_one', 'sk_tenant_two', 'sk_shared' ] });
my $keys = PostgreSQL::Test::Utils::tempdir();
write_key("$keys/one", 'sk_tenant_one');
write_key("$keys/two", 'sk_tenant_two');
write_key("$keys/$_", 'sk_shared') for qw(s1 s2);
$node = new_node('keys', "agentphone.api_key_directory = '$keys'\nagentphone.max_calls_per_minute = 10\n",
	no_extension => 1);
# database two reaches the API by another URL, a superuser's choice
(my $other_url = $sim_url) =~ s/127\.0\.0\.1/localhost/;
for my $db (qw(one two s1 s2 keyless))
{
	sql("CREATE DATABASE $db");
	sql("ALTER DATABASE two SET agentphone.api_url = '$other_url/v1'") if $db eq 'two';
	sql('CREATE EXTENSION agentphone', db => $db);
}
sql('CREATE ROLE tenant LOGIN; ALTER DATABASE keyless OWNER TO tenant');
like(sql_error("ALTER DATABASE keyless SET agentphone.api_url = 'https://attacker.example/v1'", as => 'tenant', db => 'keyless'),
	qr/permission denied to set parameter "agentphone.api_url"/,
	'a database owner who is not a superuser cannot point its worker at another URL');
$t0 = time();
queue('s1', 8000, 15);
queue('s2', 8100, 15);
queue('one', 8200, 1);
queue('two', 8300, 1);
my $keyless = queue('keyless', 8400, 1);
ok(wait_until(sub { @{ posts_in_range(8200, 1) } && @{ posts_in_range(8300, 1) } }, 10),
	'the databases with their own keys place their calls');
is(posts_in_range(8200, 1)->[0]{headers}{authorization}, 'Bearer sk_tenant_one', 'one with its own key');
is(posts_in_range(8300, 1)->[0]{headers}{authorization}, 'Bearer sk_tenant_two', 'two with its own key');
like(posts_in_range(8300, 1)->[0]{headers}{host}, qr/^localhost:/, 'two at its own API URL (ALTER DATABASE ... SET)');
like(posts_in_range(8200, 1)->[0]{headers}{host}, qr/^127\.0\.0\.1:/, 'one at the server\'s');
ok(wait_until(sub { (sql("SELECT last_error FROM agentphone.calls WHERE id = $keyless", db => 'keyless') // '')
	=~ /no key file for this database/ }, 15), 'a keyless database\'s call waits, saying why');
is(sql("SELECT status FROM agentphone.calls WHERE id = $keyless", db => 'keyless'), 'queued', 'still queued');
unlike(sql("SELECT last_error FROM agentphone.calls WHERE id = $keyless", db => 'keyless'), qr{/},
	'without showing the key file\'s path to callers');

sleep(30 - (time() - $t0)) if time() - $t0 < 30;
my $t_own = time();
queue('one', 8210, 9);    # with its first call, its own budget of 10
ok(wait_until(sub { @{ posts_in_range(8210, 9) } == 9 }, 10),
	'a database with its own key is not held back by the shared key\'s budget');
note(sprintf('9 calls of database one posted in %.1f s while the shared key was at its limit', time() - $t_own));

sleep(125 - (time() - $t0)) if time() - $t0 < 125;
my @shared = sort { $a <=> $b } map { $_->{time} }
  grep { ($_->{headers}{authorization} // '') eq 'Bearer sk_shared' } @{ sim_posts() };
my $worst = 0;
for my $i (0 .. $#shared)
{
	my $n = grep { $_ >= $shared[$i] && $_ < $shared[$i] + 60 } @shared;
	$worst = $n if $n > $worst;
}
note(sprintf('%d POSTs with the shared key in %.0f s; at most %d in any 60 s',
	scalar(@shared), time() - $t0, $worst));
cmp_ok($worst, '<=', 10, 'two databases sharing a key never exceed max_calls_per_minute together');
cmp_ok(scalar(@shared), '>=', 20, 'and use it: the budget renews each minute');
my %by_db = (s1 => scalar(@{ posts_in_range(8000, 15) }), s2 => scalar(@{ posts_in_range(8100, 15) }));
note("shared key: s1 posted $by_db{s1}, s2 posted $by_db{s2}");
is($by_db{s1} + $by_db{s2}, scalar(@shared), 'all of them from the two databases that share it');
$node->stop;

# --- agentphone.max_databases exhausted
sim('POST', '/_sim/reset');
$node = new_node('full', "agentphone.max_databases = 2\n", no_extension => 1);
ok(wait_until(sub { slurp_file($node->logfile) =~ /extension not installed in database "postgres"/ }, 10),
	'the launcher has looked at database postgres (its probe holds a slot for a moment)');
for my $db (qw(d1 d2))
{
	sql("CREATE DATABASE $db");
	sql('CREATE EXTENSION agentphone', db => $db);
}
ok(wait_until(sub { served($node) eq 'd1,d2' }, 10), 'two databases take the two slots');
sql('CREATE DATABASE d3');
(undef, $err) = try_sql('CREATE EXTENSION agentphone', db => 'd3');
like($err, qr/WARNING:  agentphone will not place calls in this database yet: all 2 slots of agentphone.max_databases serve other databases/,
	'CREATE EXTENSION in a third database warns that no slot is free');
(undef, $err) = try_sql(call_query('+14155559300'), db => 'd3');
like($err, qr/WARNING:  no agentphone worker serves this database: all 2 slots of agentphone.max_databases/,
	'so does queuing a call there');
try_sql(call_query('+14155559301'), db => 'd3');
like(sql('SELECT last_error FROM agentphone_worker_status()', db => 'd3'),
	qr/raise it and restart the server/, 'agentphone_worker_status() there says why and what to do');
queue('d1', 9100, 1);
ok(wait_until(sub { @{ posts_in_range(9100, 1) } == 1 }, 10), 'the served databases are unaffected');
sleep 2;
is(sql("SELECT count(*) FROM agentphone.calls WHERE status = 'queued'", db => 'd3'), '2',
	'the extra database\'s calls stay queued');
is(sql("SELECT string_agg(DISTINCT last_error, ' | ') FROM agentphone.calls", db => 'd3'),
	'no agentphone worker serves this database: all 2 slots of agentphone.max_databases serve other databases',
	'each saying why in its last_error');
my @said = (slurp_file($node->logfile) =~ /LOG:  agentphone: 1 database\(s\) not served: all 2 slots of agentphone.max_databases are taken/g);
is(scalar(@said), 1, 'the launcher says it once in the log');
like(slurp_file($node->logfile), qr/HINT:  Raise agentphone.max_databases \(and max_worker_processes with it, one worker per database\) and restart the server/,
	'naming the settings to raise');
sql('DROP EXTENSION agentphone', db => 'd1');
ok(wait_until(sub { sql("SELECT count(*) FROM agentphone.calls WHERE status = 'in-progress'", db => 'd3') == 2 }, 15),
	'once a slot is free the waiting database is served');
$node->stop;

done_testing();
