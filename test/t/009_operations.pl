# 009_operations.pl: agentphone.enabled pauses dispatch without losing or
# failing calls; agentphone_worker_status() reports the worker's health.
use strict;
use warnings;

use AgentphoneTest;
use Test::More;
use Time::HiRes qw(sleep);

start_sim();
my $node = new_node('operations', "agentphone.sweep_interval = '200ms'\n");

my $pid = worker_pid($node);
is(sql('SELECT running, pid, queue_depth, in_flight, dispatched, failed, last_error IS NULL FROM agentphone_worker_status()'),
	"t|$pid|0|0|0|0|t", 'status of a fresh worker');

# --- paused: nothing is sent, nothing is lost
sql("ALTER SYSTEM SET agentphone.enabled = off; SELECT pg_reload_conf()");
sleep 0.5;
my $ids = sql(q{SELECT string_agg(agentphone_call('agt_1', '+1415555' || (2000 + i)::text)::text, ',') FROM generate_series(1, 3) i});
sleep 2;
is(scalar(@{ sim_posts() }), 0, 'agentphone.enabled = off: nothing is sent');
is(sql("SELECT count(*) FROM agentphone.calls WHERE id IN ($ids) AND status = 'queued' AND attempts = 0"), '3',
	'the calls wait, queued, no attempt counted');
is(sql('SELECT queue_depth FROM agentphone_worker_status()'), '3', 'the status shows the queue depth');
sql("ALTER SYSTEM SET agentphone.enabled = on; SELECT pg_reload_conf()");
ok(wait_until(sub { sql("SELECT count(*) FROM agentphone.calls WHERE id IN ($ids) AND status = 'in-progress'") == 3 }, 10),
	'enabled again (reload, no restart): the calls are placed');
is(scalar(@{ sim_posts() }), 3, 'once each');

# --- counters and the last failure
sim('POST', '/_sim/faults', { faults => [
	{ method => 'POST', path => '/v1/calls', kind => 'status', status => 503 },
	{ method => 'POST', path => '/v1/calls', kind => 'status', status => 422,
	  body => { detail => 'Number is blocked' } } ] });
my $a = sql("SELECT agentphone_call('agt_1', '+14155552010')");
sql("SELECT agentphone_wait($a, '20 s')");
my $b = sql("SELECT agentphone_call('agt_1', '+14155552011')");
sql("SELECT agentphone_wait($b, '20 s')");
my $status = sql(q{SELECT dispatched || ' ' || retried || ' ' || failed FROM agentphone_worker_status()});
my $statuses = sql("SELECT string_agg(status, ',' ORDER BY id) FROM agentphone.calls WHERE id IN ($a, $b)");
note("calls: $statuses; counters dispatched retried failed: $status");
is($status, '6 1 1', 'counters: 6 POSTs, 1 retried, 1 failed');
like(sql('SELECT last_error FROM agentphone_worker_status()'), qr/^call \d+: AgentPhone API answered HTTP 422: Number is blocked$/,
	'the last failure, in words');
cmp_ok(sql("SELECT extract(epoch FROM now() - last_loop) FROM agentphone_worker_status()"), '<', 5,
	'the loop ran recently');

# --- after the worker stops
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok(wait_until(sub { sql('SELECT pid FROM agentphone_worker_status()') ne $pid }, 20),
	'a worker that exited is reported as such, then its replacement');

$node->stop;
done_testing();
