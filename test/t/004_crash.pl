# 004_crash.pl: the worker killed with SIGKILL, or the server stopped in
# immediate mode, while requests are in flight: the worker comes back and
# carries on with the queue; no committed call is lost and none is POSTed
# twice (a call whose answer was never recorded is reconciled with the API).
use strict;
use warnings;

use AgentphoneTest;
use Test::More;
use Time::HiRes qw(time sleep);

start_sim();
# the test framework turns restart_after_crash off; a real server has it on
my $node = new_node('crash',
	"agentphone.max_in_flight = 3\nrestart_after_crash = on\nagentphone.reconcile_delay = '4s'\n");

# check_final(IDS, IN_FLIGHT, LABEL): every call reached a final state; the
# ones in flight were reconciled with the API and adopted (the simulator
# created them after all); each was POSTed exactly once
sub check_final
{
	my ($ids, $in_flight, $label) = @_;
	ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM agentphone.calls WHERE id IN ($ids) AND status IN ('queued', 'dispatching', 'reconciling')"),
		"$label: every committed call reached a final state");
	my $rows = call_rows($node, "id IN ($ids)");
	is(scalar(grep { $_->{status} =~ /^(in-progress|completed)$/ } @$rows), scalar(@$rows),
		"$label: all placed, none lost");
	is($node->safe_psql('postgres',
		"SELECT count(DISTINCT call_id) FROM agentphone.call_events WHERE call_id IN ($ids) AND to_status = 'reconciling'"),
		$in_flight, "$label: the $in_flight calls in flight were reconciled with the API");
	my %posts;
	push @{ $posts{ $_->{body}{toNumber} } }, $_ for @{ sim_posts() };
	is(scalar(grep { @{ $posts{ $_->{to_number} } // [] } == 1 } @$rows), scalar(@$rows),
		"$label: every call was POSTed exactly once, none twice");
	is(scalar(grep { $_->{api_call_id} eq $posts{ $_->{to_number} }[0]{call_id} } @$rows), scalar(@$rows),
		"$label: each row holds the call its POST created");
}

# --- SIGKILL with three requests in flight and five calls waiting
sim('POST', '/_sim/faults', { faults => [
	{ method => 'POST', path => '/v1/calls', kind => 'delay', seconds => 3, count => 3 } ] });
my $ids = $node->safe_psql('postgres', q{
	SELECT string_agg(agentphone_call('agt_1', '+1415555' || (1000 + i)::text)::text, ',')
	FROM generate_series(1, 8) i});
ok(wait_until(sub { @{ sim_posts() } == 3 }, 10), 'three requests are in flight');
my $pid = worker_pid($node);
kill 'KILL', $pid;
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'agentphone worker' AND pid <> $pid"),
	'the worker came back after SIGKILL');
check_final($ids, 3, 'SIGKILL');

# --- immediate shutdown with two requests in flight
sim('POST', '/_sim/reset');
sim('POST', '/_sim/faults', { faults => [
	{ method => 'POST', path => '/v1/calls', kind => 'delay', seconds => 3, count => 2 } ] });
$ids = $node->safe_psql('postgres', q{
	SELECT string_agg(agentphone_call('agt_1', '+1415555' || (2000 + i)::text)::text, ',')
	FROM generate_series(1, 2) i});
ok(wait_until(sub { @{ sim_posts() } == 2 }, 10), 'two requests are in flight');
$node->stop('immediate');
# calls committed while the server is down cannot exist; queue more on restart
$node->start;
$ids .= ',' . $node->safe_psql('postgres', q{
	SELECT string_agg(agentphone_call('agt_1', '+1415555' || (3000 + i)::text)::text, ',')
	FROM generate_series(1, 3) i});
check_final($ids, 2, 'immediate stop');

$node->stop;
done_testing();
