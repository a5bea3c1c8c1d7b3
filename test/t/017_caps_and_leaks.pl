# 017_caps_and_leaks.pl: the promises a hostile or careless user attacks
# from outside the worker.
#  - The per-number limit (3 a day) holds for 8 concurrent sessions, for
#	 rows a superuser inserted directly and for a batch the worker claims
#	 at once: never more than 3 POSTs to one number.
#  - NOTIFY tells a role only about calls it may read: the caller on its
#	 own channel, admins on the channel of every call, other roles
#	 nothing (channel agentphone included); no API call id (the
#	 capability to fetch a recording).
#  - An unprivileged role issuing DROP/RENAME/SET TABLESPACE/TEMPLATE on
#	 the worker's database, 60 times, never makes the worker leave.
#  - A do-not-call reason reaches only the role that gave it; a caller
#	 sees the entries it added, not another's.
#  - SHOW agentphone.api_key reveals nothing to pg_read_all_settings, and
#	 a malformed key is never echoed.
# (One statement queueing 16 calls, a trigger's multi-row INSERT and a
# role quota inside one statement are in sql/dialing.sql.)
use strict;
use warnings;

use AgentphoneTest;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep time);

start_sim();
my $node = new_node('caps', $QUICK);

sub settled
{
	my ($number) = @_;
	return wait_until(sub {
		sql("SELECT count(*) FROM agentphone.calls WHERE to_number = '$number'"
			  . " AND status IN ('queued', 'dispatching')") == 0 }, 30);
}

sql(q{
	CREATE ROLE app LOGIN IN ROLE agentphone_caller;
	CREATE ROLE app2 LOGIN IN ROLE agentphone_caller;
	CREATE ROLE other LOGIN;
	CREATE ROLE intruder LOGIN CREATEDB;
	CREATE ROLE monitor LOGIN IN ROLE pg_read_all_settings;
	CREATE DATABASE elsewhere;
});

# --- 8 sessions queue 2 calls each to one number, at the same moment
my @h;
for my $i (1 .. 8)
{
	my ($in, $out, $err) = ('', '', '');
	push @h, IPC::Run::start(
		[ 'psql', '-X', '-d', $node->connstr('postgres'), '-U', 'app', '-c',
		  "BEGIN; SELECT agentphone_call('agt_1', '+14155553001') FROM generate_series(1, 2);"
		  . " SELECT pg_sleep(0.1); COMMIT;" ],
		\$in, \$out, \$err);
}
$_->finish for @h;
ok(settled('+14155553001'), 'the concurrent sessions\' calls were all handled');
cmp_ok(sql("SELECT count(*) FROM agentphone.calls WHERE to_number = '+14155553001'"), '<=', 3,
	'at most 3 calls were queued by 8 concurrent sessions');
my $n = posts_to('+14155553001');
ok($n >= 1 && $n <= 3, "at most 3 POSTs to the number ($n)");

# --- the same race in REPEATABLE READ: the later sessions fail, none adds a fourth
@h = ();
for my $i (1 .. 4)
{
	my ($in, $out, $err) = ('', '', '');
	push @h, IPC::Run::start(
		[ 'psql', '-X', '-d', $node->connstr('postgres'), '-U', 'app', '-c',
		  "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1;"
		  . " SELECT agentphone_call('agt_1', '+14155553002') FROM generate_series(1, 2);"
		  . " SELECT pg_sleep(0.1); COMMIT;" ],
		\$in, \$out, \$err);
}
$_->finish for @h;
ok(settled('+14155553002'), 'the repeatable-read sessions\' calls were handled');
cmp_ok(posts_to('+14155553002'), '<=', 3, 'at most 3 POSTs under REPEATABLE READ too');

# --- 10 rows a superuser inserted directly, bypassing agentphone_call()
sql(q{INSERT INTO agentphone.calls (agent_id, to_number, created_by)
	SELECT 'agt_1', '+14155553003', 'app' FROM generate_series(1, 10)});
ok(settled('+14155553003'), 'the inserted rows were claimed');
is(posts_to('+14155553003'), 3, 'exactly 3 of the 10 were dialed');
is(sql("SELECT count(*) FROM agentphone.calls WHERE to_number = '+14155553003' AND status = 'blocked'"
	  . " AND last_error LIKE 'not dialed: +14155553003 was dialed 3 times in the last 24 hours%'"), 7,
	'the other 7 are blocked, saying why');

# --- later rows still find the number used up
sql(q{INSERT INTO agentphone.calls (agent_id, to_number, created_by) VALUES ('agt_1', '+14155553003', 'app')});
ok(settled('+14155553003'), 'a later inserted row was claimed');
is(posts_to('+14155553003'), 3, 'and not dialed either');

# --- notifications reach only who may read the call: app on its channel,
# admins on the channel of every call; other roles (app2, a caller too, and
# other, granted nothing) learn nothing, on channel agentphone or on any
# channel they could ask for
sql('CREATE ROLE boss LOGIN IN ROLE agentphone_admin');
my $app_channel = sql('SELECT agentphone_channel()', as => 'app');
my $all_channel = sql('SELECT agentphone_channel(all_calls => true)', as => 'boss');
my $app2_channel = sql('SELECT agentphone_channel()', as => 'app2');
like($app_channel, qr/^agentphone_[0-9a-f]{32}$/, 'a caller gets a channel of its own');
isnt($app_channel, $app2_channel, 'another caller another one');
like(sql_error('SELECT agentphone_channel(all_calls => true)', as => 'app'),
	qr/only members of agentphone_admin may listen to every role's calls/, 'only admins get the channel of every call');
like(sql_error('SELECT agentphone_channel()', as => 'other'), qr/permission denied for function agentphone_channel/,
	'a role without the grant gets none');
my %listen;
for my $who ([ 'app', $app_channel ], [ 'boss', $all_channel ], [ 'app2', "$app2_channel; LISTEN agentphone" ],
	[ 'other', 'agentphone' ])
{
	my ($role, $channels) = @$who;
	my $l = { in => '', out => '', err => '' };
	$l->{run} = IPC::Run::start(
		[ 'psql', '-X', '-d', $node->connstr('postgres'), '-U', $role, '-c', "LISTEN $channels",
		  '-c', 'SELECT pg_sleep(6)' ], \$l->{in}, \$l->{out}, \$l->{err});
	$listen{$role} = $l;
}
sleep 0.5;
sim('POST', '/_sim/script', { scripts => [ { outcome => 'completed', duration_seconds => 1,
	turns => [ { role => 'agent', content => 'hello' }, { role => 'user', content => 'bye' } ] } ] });
my $id = sql("SELECT agentphone_call('agt_1', '+14155553004')", extra_params => [ '-U', 'app' ]);
ok(wait_until(sub { sql("SELECT transcript_complete FROM agentphone.calls WHERE id = $id") eq 't' }, 30),
	'the call completed and its transcript was stored');
my $api_id = sql("SELECT api_call_id FROM agentphone.calls WHERE id = $id");
$_->{run}->finish for values %listen;
my $heard = sub {
	my ($role) = @_;
	return grep { $_->{id} == $id }
	  map { decode_json($_) } ($listen{$role}{out} =~ /Asynchronous notification "\w+" with payload "(.*?)" received/g);
};
my @ours = $heard->('app');
ok(scalar(grep { defined $_->{status} } @ours) >= 2, 'app, on its channel, saw its call\'s transitions');
ok((grep { ($_->{transcript} // '') eq 'stored' } @ours), 'and a notification that its transcript was stored');
is(scalar($heard->('boss')), scalar(@ours), 'an admin, on the channel of every call, saw them too');
unlike($listen{app2}{out} . $listen{other}{out}, qr/Asynchronous notification/,
	'another caller and a role without the grant heard nothing, on channel agentphone either');
like($listen{app}{out}, qr/Asynchronous notification "\Q$app_channel\E"/, '(the listeners did listen)');
unlike($listen{app}{out} . $listen{boss}{out}, qr/\Q$api_id\E|call_/, 'no notification carries the API call id');
is_deeply([ sort keys %{ { map { %$_ } @ours } } ], [ 'id', 'status', 'transcript' ],
	'payloads hold our id, the status and the transcript mark only');

# --- 60 failed attempts by an unprivileged role leave the worker alone
my $pid = worker_pid($node);
my $failed = 0;
for my $i (1 .. 15)
{
	for my $stmt ('DROP DATABASE postgres', 'ALTER DATABASE postgres RENAME TO gone',
		'ALTER DATABASE postgres SET TABLESPACE pg_default', 'CREATE DATABASE copy TEMPLATE postgres')
	{
		my ($rc) = $node->psql('elsewhere', $stmt, extra_params => [ '-U', 'intruder' ]);
		$failed++ if $rc != 0;
	}
}
is($failed, 60, 'all 60 attempts failed (must be owner, permission denied)');
is(worker_pid($node), $pid, 'the same worker runs');
my $t0 = time();
$id = sql("SELECT agentphone_call('agt_1', '+14155553005')", extra_params => [ '-U', 'app' ]);
ok(wait_until(sub { posts_to('+14155553005') == 1 }, 5), 'a call queued right after is dialed');
cmp_ok(time() - $t0, '<', 1.0, 'within a second of its COMMIT');
unlike(slurp_file($node->logfile), qr/leaving database "postgres"/, 'the worker never left its database');

# --- a do-not-call reason is private to the role that gave it
$id = sql("SELECT agentphone_call('agt_1', '+14155553006', not_before => now() + interval '2 seconds')",
	extra_params => [ '-U', 'app2' ]);
sql("SELECT agentphone_do_not_call('+14155553006', 'private: she moved to Lisbon')", extra_params => [ '-U', 'app' ]);
my ($rc, $out, $err) = $node->psql('postgres', "SELECT agentphone_call('agt_1', '+14155553006')",
	extra_params => [ '-U', 'app2' ]);
like($err, qr/\+14155553006 is on the do-not-call list\./, 'another role is told the number is on the list');
unlike($err, qr/Lisbon/, 'but not the reason');
($rc, $out, $err) = $node->psql('postgres', "SELECT agentphone_call('agt_1', '+14155553006')",
	extra_params => [ '-U', 'app' ]);
like($err, qr/on the do-not-call list: private: she moved to Lisbon/, 'the role that gave it is told why');
ok(wait_until(sub { sql("SELECT status FROM agentphone.calls WHERE id = $id") eq 'blocked' }, 15),
	'the other role\'s call queued before the listing is blocked');
is(sql("SELECT last_error FROM agentphone.calls WHERE id = $id", extra_params => [ '-U', 'app2' ]),
	'not dialed: +14155553006 is on the do-not-call list', 'its row does not hold the reason either');
is(sql("SELECT count(*) FROM agentphone.do_not_call", extra_params => [ '-U', 'app2' ]), '0',
	'a caller does not see the entries another added');
is(sql("SELECT number || ' ' || reason FROM agentphone.do_not_call", extra_params => [ '-U', 'app' ]),
	'+14155553006 private: she moved to Lisbon', 'and sees its own');

# --- the key is hidden from pg_read_all_settings
my $shown = sql('SHOW agentphone.api_key', extra_params => [ '-U', 'monitor' ]);
isnt($shown, $AgentphoneTest::API_KEY, 'SHOW agentphone.api_key does not reveal the key to pg_read_all_settings');
is($shown, '********', 'it shows that a key is set');
is(sql(q{SELECT current_setting('agentphone.api_key') || '|' || (SELECT count(*) FROM pg_settings WHERE setting = current_setting('agentphone.api_key', true) AND name LIKE 'agentphone.%')},
	extra_params => [ '-U', 'monitor' ]), '********|0', 'neither do current_setting() and pg_settings');
is(sql(q{SELECT count(*) FROM pg_settings WHERE name = 'agentphone.api_key'}, extra_params => [ '-U', 'monitor' ]),
	'0', 'pg_settings leaves the key out');
is(sql('SHOW agentphone.api_key'), $AgentphoneTest::API_KEY, 'a superuser sees it (so the checks above can fail)');

# --- a key with a line break is never echoed, not even in the message
# that says it cannot be used
my $offset = -s $node->logfile;
$node->append_conf('postgresql.conf', "agentphone.api_key = 'sk_broken\\nkey_Zq81xTT'\n");
$node->reload;
ok(wait_until(sub { sql("SELECT coalesce(last_error, '') FROM agentphone_worker_status()") =~ /line break/ }, 10),
	'a key with a line break is not used, and the worker says why');
sleep 0.5;
unlike(substr(slurp_file($node->logfile), $offset), qr/Zq81xTT/, 'the rejected key appears nowhere in the log');

done_testing();
