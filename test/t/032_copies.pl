# 032_copies.pl: a copy or a restore of a database does not dial its calls
# again.  Until 1.8, CREATE DATABASE copy TEMPLATE app (which the owner of
# app may run with CREATEDB) and a pg_dump of app restored into another
# database of the cluster each got a worker that POSTed every call queued
# in app a second time.  Now each call records where it was queued
# (agentphone.calls.home: the cluster's system identifier and the
# database's OID), and a worker dials only the calls queued in its own
# database: the copies' calls stay queued, held, saying where they come
# from and what to do, until an admin there adopts them
# (agentphone_adopt_calls()) or cancels them
# (agentphone_cancel_copied_calls()).  Calls queued in the copy itself are
# dialed as usual.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;

start_sim();
my $node = new_node('copies', $QUICK, no_extension => 1);
sql('CREATE ROLE owner LOGIN CREATEDB');
sql('CREATE ROLE admin LOGIN');
sql('CREATE DATABASE app OWNER owner');
sql('CREATE EXTENSION agentphone', db => 'app');
sql('GRANT agentphone_admin TO admin', db => 'app');

# a call queued for a few seconds from now, then copied twice
my $id = sql("SELECT agentphone_call('agt_1', '+14155558001', not_before => now() + interval '15 s')", db => 'app');
like(sql("SELECT home = agentphone.home() FROM agentphone.calls WHERE id = $id", db => 'app'), qr/^t$/,
	'a call records where it was queued');
sql('CREATE DATABASE copy TEMPLATE app', as => 'owner');
sql('CREATE DATABASE restored');
my ($out, $err) = run_command([ 'sh', '-c', 'pg_dump "$0" | psql -X -q -v ON_ERROR_STOP=1 "$1"',
	$node->connstr('app'), $node->connstr('restored') ]);
is($err, '', 'pg_dump of app restored as a second database of the cluster');
sql('GRANT agentphone_admin TO admin', db => $_) for qw(copy restored);

ok(wait_until(sub { sql("SELECT status FROM agentphone.calls WHERE id = $id", db => 'app') =~ /^(in-progress|completed)$/ }, 45),
	'app places its call');
ok(wait_until(sub {
	join(',', map { sql("SELECT last_error IS NOT NULL FROM agentphone.calls WHERE id = $id", db => $_) } qw(copy restored))
	  eq 't,t' }, 30), 'the copy and the restore have each looked at theirs');
sleep 1;
is(posts_to('+14155558001'), 1, 'the number was dialed once, by app: not by the copy nor the restore');
for my $db (qw(copy restored))
{
	like(sql("SELECT status || ' ' || next_attempt_at || ' ' || last_error FROM agentphone.calls WHERE id = $id", db => $db),
		qr/^queued infinity not dialed: queued in \d+:\d+, and this is \d+:\d+: this database is a copy or a restore of the one where the call was queued; an admin here runs agentphone_adopt_calls\(\) to place such calls, or agentphone_cancel_copied_calls\(\) to cancel them$/,
		"$db: held, saying where it comes from and what to do");
}

# calls queued in the copy itself are its own
my $own = sql("SELECT agentphone_call('agt_1', '+14155558002')", db => 'copy');
ok(wait_until(sub { sql("SELECT status FROM agentphone.calls WHERE id = $own", db => 'copy') =~ /^(in-progress|completed)$/ }, 30),
	'a call queued in the copy is placed by the copy');

# the admins decide
like(sql_error('SELECT agentphone_adopt_calls()', db => 'copy', as => 'owner'),
	qr/permission denied for function agentphone_adopt_calls/, 'the owner of the copy may not adopt them');
is(sql('SELECT agentphone_cancel_copied_calls()', db => 'restored', as => 'admin'), 1,
	'the admin of the restore cancels its copied call');
like(sql("SELECT status || ' ' || last_error FROM agentphone.calls WHERE id = $id", db => 'restored'),
	qr/^canceled canceled by admin: queued in \d+:\d+, not here$/, 'canceled, saying by whom and why');
is(sql('SELECT agentphone_adopt_calls()', db => 'copy', as => 'admin'), 1,
	'the admin of the copy adopts its copied call');
ok(wait_until(sub { sql("SELECT status FROM agentphone.calls WHERE id = $id", db => 'copy') =~ /^(in-progress|completed)$/ }, 30),
	'which the copy then places');
is(posts_to('+14155558001'), 2, 'the second POST is the one the admin asked for');
is(sql("SELECT home = agentphone.home() FROM agentphone.calls WHERE id = $id", db => 'copy'), 't',
	'the adopted call now belongs to the copy');

done_testing();
