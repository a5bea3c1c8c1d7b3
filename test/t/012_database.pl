# 012_database.pl: the worker never stands in the way of the commands that
# need its database to themselves.  DROP DATABASE, ALTER DATABASE RENAME
# and CREATE DATABASE ... TEMPLATE of the served database succeed within
# seconds even with requests in flight.  It runs with the deprecated
# agentphone.database_name, which serves one database by name: no worker
# runs while that name is gone, and one comes back when it exists again.
# Calls interrupted on the way are reconciled, never sent twice.  (022
# has the default: every database served, a renamed one under its new
# name.)
use strict;
use warnings;

use AgentphoneTest;
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

start_sim();
my $node = new_node('database',
	"agentphone.database_name = 'phones'\nagentphone.reconcile_delay = '4s'\n",
	no_extension => 1);

# worker_db: the database the worker is connected to; '' when none runs
sub worker_db
{
	return $node->safe_psql('postgres',
		"SELECT datname FROM pg_stat_activity WHERE backend_type = 'agentphone worker'");
}

# log_after(OFFSET): the server log from that byte on
sub log_after
{
	return substr(slurp_file($node->logfile), $_[0]);
}

# timed(SQL): runs SQL in database postgres; returns (ok, seconds, stderr)
sub timed
{
	my ($sql) = @_;
	my $t0 = time();
	my ($ret, $out, $err) = $node->psql('postgres', $sql);
	return ($ret == 0, time() - $t0, $err);
}

# place(NUMBER): queues a call in phones and waits for it
sub place
{
	my $id = sql("SELECT agentphone_call('agt_1', '$_[0]')", db => 'phones');
	return sql("SELECT agentphone_wait($id, '20 s')", db => 'phones');
}

sub new_phones
{
	$node->safe_psql('postgres', 'CREATE DATABASE phones');
	sql('CREATE EXTENSION agentphone', db => 'phones');
}

new_phones();
is(place('+14155551200'), 'in-progress', 'a call is placed from database phones');
my $log_start = -s $node->logfile;

# --- DROP DATABASE with three requests in flight
sim('POST', '/_sim/faults', { faults => [
	{ method => 'POST', path => '/v1/calls', kind => 'delay', seconds => 10, count => 3 } ] });
sql(q{SELECT agentphone_call('agt_1', '+1415555121' || i) FROM generate_series(1, 3) i}, db => 'phones');
ok(wait_until(sub { @{ sim_posts() } == 4 }, 10), 'three requests are in flight');
my ($ok, $secs, $err) = timed('DROP DATABASE phones');
ok($ok, 'DROP DATABASE succeeds with requests in flight') or diag($err);
note(sprintf('DROP DATABASE with 3 requests in flight took %.2f s', $secs));
cmp_ok($secs, '<', 5, 'within seconds');
like(slurp_file($node->logfile), qr/agentphone worker is leaving database "phones"/,
	'the worker says why it left');
sleep 6;    # longer than any restart delay
unlike(log_after($log_start), qr/agentphone worker started/,
	'the launcher starts no worker while no database of that name exists');
unlike(log_after($log_start), qr/FATAL/, 'no connection-failure loop meanwhile');
is(worker_db(), '', 'the worker is connected to no database');

# --- the name exists again: the worker comes back by itself
new_phones();
ok(wait_until(sub { worker_db() eq 'phones' }, 15), 'after CREATE DATABASE the worker connects again');
is(place('+14155551220'), 'in-progress', 'and places calls');

# --- ALTER DATABASE RENAME with a request in flight, then the name back.
# The simulator creates the call 3 s after the POST arrives; the worker
# asks the API once reconcile_delay (4 s from the claim) has passed.
my $before = @{ sim_posts() };
sim('POST', '/_sim/faults', { faults => [
	{ method => 'POST', path => '/v1/calls', kind => 'delay', seconds => 3, count => 1 } ] });
my $interrupted = sql("SELECT agentphone_call('agt_1', '+14155551230')", db => 'phones');
ok(wait_until(sub { @{ sim_posts() } == $before + 1 }, 10), 'one request is in flight');
($ok, $secs, $err) = timed('ALTER DATABASE phones RENAME TO phones_old');
ok($ok, 'ALTER DATABASE RENAME succeeds') or diag($err);
note(sprintf('ALTER DATABASE RENAME with a request in flight took %.2f s', $secs));
ok(wait_until(sub { worker_db() eq '' }, 15), 'the worker has left');
$node->safe_psql('postgres', 'ALTER DATABASE phones_old RENAME TO phones');
ok(wait_until(sub { worker_db() eq 'phones' }, 15), 'renamed back: the worker connects again');
ok(wait_until(sub { sql("SELECT api_call_id IS NOT NULL AND status IN ('in-progress', 'completed') FROM agentphone.calls WHERE id = $interrupted", db => 'phones') eq 't' }, 30),
	'the interrupted call is reconciled and adopted')
  or diag(sql("SELECT status, last_error FROM agentphone.calls WHERE id = $interrupted", db => 'phones'));
is(posts_to('+14155551230'), 1, 'it was POSTed once');

# --- CREATE DATABASE ... TEMPLATE phones
($ok, $secs, $err) = timed('CREATE DATABASE phones_copy TEMPLATE phones');
ok($ok, 'CREATE DATABASE ... TEMPLATE phones succeeds') or diag($err);
ok(wait_until(sub { worker_db() eq 'phones' }, 15), 'the worker comes back to phones');
is(place('+14155551240'), 'in-progress', 'and places calls');

# --- a DROP DATABASE that fails (a user is connected) gives the database back
my $user = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('phones'), '-c', 'SELECT pg_sleep(8)' ],
	'>', \my $sleep_out, '2>', \my $sleep_err);
ok(wait_until(sub { $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE datname = 'phones' AND query LIKE '%pg_sleep%'") eq '1' }, 10),
	'a user session is connected to phones');
($ok, $secs, $err) = timed('DROP DATABASE phones');
ok(!$ok, 'DROP DATABASE fails while a user is connected');
like($err, qr/is being accessed by other users/, 'for that reason');
ok(wait_until(sub { worker_db() eq 'phones' }, 15), 'the worker comes back');
is(place('+14155551250'), 'in-progress', 'and places calls');
$user->finish;
unlike(log_after($log_start), qr/FATAL/, 'the worker never failed to connect in all this');

# --- every call placed once, nothing lost
my $left = sql("SELECT count(*) FROM agentphone.calls WHERE status NOT IN ('in-progress', 'completed')", db => 'phones');
is($left, '0', 'no call of the last database is left behind');
my %posts;
$posts{ $_->{body}{toNumber} }++ for @{ sim_posts() };
is(scalar(grep { $_ > 1 } values %posts), 0, 'no number was POSTed twice');

$node->stop;
done_testing();
