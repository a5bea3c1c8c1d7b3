# 005_lifecycle.pl: the usual order of setup.  The library is preloaded and
# the server started before CREATE EXTENSION: the launcher finds no
# extension and runs no worker, starts one at CREATE EXTENSION, lets it go
# at DROP EXTENSION even with requests in flight, and starts one again
# after a new CREATE EXTENSION.  Another database gets its own worker.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

start_sim();
my $node = new_node('lifecycle', "agentphone.sweep_interval = '200ms'\nmax_prepared_transactions = 5\n",
	no_extension => 1);

# launcher_pid: the launcher's pid ('' when none runs)
sub launcher_pid
{
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'agentphone launcher'");
}
ok(wait_until(sub { launcher_pid() ne '' }), 'the launcher runs before CREATE EXTENSION');
ok(wait_until(sub { slurp_file($node->logfile) =~
	/extension not installed in database "postgres", its worker stops/ }, 10),
	'its probe of database postgres found no extension, and says so');
sleep 2;
is(worker_pid($node), '', 'no worker stays in a database without the extension');
my $cpu = worker_cpu_seconds($node, launcher_pid());
sleep 2;
my $used = worker_cpu_seconds($node, launcher_pid()) - $cpu;
note("the idle launcher used $used s of CPU in 2 s");
cmp_ok($used, '<', 0.1, 'the launcher is idle, not polling');
my $log = slurp_file($node->logfile);
my @waiting = ($log =~ /extension not installed in database "postgres"/g);
is(scalar(@waiting), 1, 'the database is probed once, not over and over');
unlike($log, qr/ERROR|FATAL|WARNING/, 'no error loop in the log while it waits');

# --- CREATE EXTENSION: the launcher starts a worker at its COMMIT
my $t_create = time();
$node->safe_psql('postgres', 'CREATE EXTENSION agentphone');
my $id = $node->safe_psql('postgres', "SELECT agentphone_call('agt_1', '+14155550500')");
is($node->safe_psql('postgres', "SELECT agentphone_wait($id, '20 s')"), 'in-progress',
	'a call is placed once the extension exists');
my $took = sim_posts()->[0]{time} - $t_create;
note(sprintf('CREATE EXTENSION to the first POST: %.3f s', $took));
cmp_ok($took, '<', 1, 'within 1 s of CREATE EXTENSION, without a restart');
my $pid = worker_pid($node);

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
ok(wait_until(sub { worker_pid($node) eq '' }, 15), 'DROP EXTENSION stops the worker');
like(slurp_file($node->logfile), qr/extension not installed in database "postgres", its worker stops/,
	'and it says why');

# --- CREATE EXTENSION again: the worker carries on
$node->safe_psql('postgres', 'CREATE EXTENSION agentphone');
$id = $node->safe_psql('postgres', "SELECT agentphone_call('agt_1', '+14155550503')");
is($node->safe_psql('postgres', "SELECT agentphone_wait($id, '20 s')"), 'in-progress',
	'after a new CREATE EXTENSION calls are placed again');
isnt(worker_pid($node), $pid, 'by a new worker');
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

# --- another database gets its own worker
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION agentphone');
$id = $node->safe_psql('other', "SELECT agentphone_call('agt_1', '+14155550504')");
is($node->safe_psql('other', "SELECT agentphone_wait($id, '20 s')"), 'in-progress',
	'a call queued in another database is placed there');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'agentphone worker'"),
	'2', 'by a second worker, one per database');

$node->stop;
done_testing();
