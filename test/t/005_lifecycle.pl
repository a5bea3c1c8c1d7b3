# 005_lifecycle.pl: the usual order of setup.  The library is preloaded and
# the server started before CREATE EXTENSION: the worker waits quietly,
# starts placing calls once the extension exists (no restart), lets go on
# DROP EXTENSION even with requests in flight, and picks up again after a
# new CREATE EXTENSION.  Calls cannot be queued in another database.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

start_sim();
my $node = new_node('lifecycle', "agentphone.sweep_interval = '200ms'\nmax_prepared_transactions = 5\n",
	no_extension => 1);

ok(wait_until(sub { worker_pid($node) ne '' }), 'the worker runs before CREATE EXTENSION');
my $pid = worker_pid($node);
my $cpu = worker_cpu_seconds($node);
sleep 2;    # ten sweeps
my $used = worker_cpu_seconds($node) - $cpu;
note("the waiting worker used $used s of CPU in 2 s");
cmp_ok($used, '<', 0.3, 'the waiting worker is idle between its sweeps, not spinning');
my $log = slurp_file($node->logfile);
my @waiting = ($log =~ /extension not installed in database "postgres", waiting for CREATE EXTENSION agentphone/g);
is(scalar(@waiting), 1, 'it says once that it waits for CREATE EXTENSION');
unlike($log, qr/ERROR|FATAL|WARNING/, 'no error loop in the log while it waits');

# --- CREATE EXTENSION: calls are placed without a restart
$node->safe_psql('postgres', 'CREATE EXTENSION agentphone');
my $id = $node->safe_psql('postgres', "SELECT agentphone_call('agt_1', '+14155550500')");
is($node->safe_psql('postgres', "SELECT agentphone_wait($id, '20 s')"), 'in-progress',
	'a call is placed once the extension exists');
is(worker_pid($node), $pid, 'without restarting the worker');

# --- DROP EXTENSION with two requests in flight finishes at once
sim('POST', '/_sim/faults', { faults => [
	{ method => 'POST', path => '/v1/calls', kind => 'delay', seconds => 3, count => 2 } ] });
$node->safe_psql('postgres', q{
	SELECT agentphone_call('agt_1', '+14155550501'), agentphone_call('agt_1', '+14155550502')});
ok(wait_until(sub { @{ sim_posts() } == 3 }, 10), 'two requests are in flight');
my $t0 = time();
$node->safe_psql('postgres', "SET statement_timeout = '10s'; DROP EXTENSION agentphone");
my $drop_time = time() - $t0;
note(sprintf('DROP EXTENSION with 2 requests in flight took %.3f s', $drop_time));
cmp_ok($drop_time, '<', 2, 'DROP EXTENSION did not wait for the requests in flight');
# discarded_answers: how many late answers the log says were discarded
sub discarded_answers
{
	my $n = 0;
	$n += $1 for (slurp_file($node->logfile) =~
		/(\d+) API answers? arrived after DROP EXTENSION agentphone and (?:was|were) discarded/g);
	return $n;
}
ok(wait_until(sub { discarded_answers() == 2 }, 10),
	'the two late answers are discarded, and the log says so');

# --- CREATE EXTENSION again: the worker carries on
$node->safe_psql('postgres', 'CREATE EXTENSION agentphone');
$id = $node->safe_psql('postgres', "SELECT agentphone_call('agt_1', '+14155550503')");
is($node->safe_psql('postgres', "SELECT agentphone_wait($id, '20 s')"), 'in-progress',
	'after a new CREATE EXTENSION calls are placed again');
is(worker_pid($node), $pid, 'still the same worker');
unlike(slurp_file($node->logfile), qr/ERROR|FATAL|terminated by signal/,
	'no error in the whole sequence');

# --- a call queued in a prepared transaction is placed after COMMIT
# PREPARED (found by the sweep, since nobody wakes the worker)
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT agentphone_call('agt_1', '+14155550505');
	PREPARE TRANSACTION 'dial';
});
is($node->safe_psql('postgres', "SELECT count(*) FROM agentphone.calls WHERE to_number = '+14155550505'"),
	'0', 'a prepared call is not visible before COMMIT PREPARED');
$node->safe_psql('postgres', "COMMIT PREPARED 'dial'");
ok(wait_until(sub { $node->safe_psql('postgres',
	"SELECT status FROM agentphone.calls WHERE to_number = '+14155550505'") eq 'in-progress' }, 10),
	'and is placed after it');

# --- another database has no worker: queueing there is refused
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION agentphone');
my ($rc, $out, $err) = $node->psql('other', "SELECT agentphone_call('agt_1', '+14155550504')");
like($err, qr/agentphone places calls only from database "postgres"/,
	'agentphone_call() in another database is refused');
is($node->safe_psql('other', 'SELECT count(*) FROM agentphone.calls'), '0', 'and queues nothing');

$node->stop;
done_testing();
