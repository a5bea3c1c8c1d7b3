# 003_pacing.pl: the worker keeps several requests in flight through one
# connection pool, never more than agentphone.max_in_flight, and never
# sends more than agentphone.max_calls_per_minute calls in any 60 seconds;
# both settings apply on reload.
use strict;
use warnings;

use AgentphoneTest;
use Test::More;
use Time::HiRes qw(time sleep);

start_sim();
my $node = new_node('pacing',
	"agentphone.max_in_flight = 3\nagentphone.max_calls_per_minute = 5\n");

sub queue_calls
{
	my ($count, $base) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(agentphone_call('agt_1', '+1415555' || ($base + i)::text)::text, ',')
		FROM generate_series(1, $count) i});
}

sub count_status
{
	my ($ids, $status) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM agentphone.calls WHERE id IN ($ids) AND status = '$status'");
}

# --- at most max_calls_per_minute in any 60 s
my $ids = queue_calls(8, 1000);
ok(wait_until(sub { @{ sim_posts() } >= 5 }, 10), 'the first five calls are sent');
sleep 2;
is(scalar(@{ sim_posts() }), 5, 'no sixth call within the minute (max_calls_per_minute = 5)');
is(count_status($ids, 'queued'), 3, 'the other three wait, still queued');
is($node->safe_psql('postgres', "SELECT max(attempts) FROM agentphone.calls WHERE status = 'queued'"),
	'0', 'waiting for the window does not count as an attempt');

$node->safe_psql('postgres',
	"ALTER SYSTEM SET agentphone.max_calls_per_minute = 1000; SELECT pg_reload_conf()");
ok(wait_until(sub { count_status($ids, 'in-progress') == 8 }, 10),
	'raising the limit with a reload releases them at once');
is(scalar(@{ sim_posts() }), 8, 'eight POSTs in all');

# --- several requests in flight, never more than max_in_flight
sim('POST', '/_sim/reset');
sim('POST', '/_sim/faults', { faults => [
	{ method => 'POST', path => '/v1/calls', kind => 'delay', seconds => 0.6, count => 9 } ] });
my $t0 = time();
$ids = queue_calls(9, 2000);
ok(wait_until(sub { count_status($ids, 'in-progress') == 9 }, 30), 'nine slow calls placed');
my $elapsed = time() - $t0;
my @arrivals = sort { $a <=> $b } map { $_->{time} } @{ sim_posts() };
my $max_overlap = 0;
for my $t (@arrivals)
{
	# requests that arrived within 0.5 s before this one are still being
	# answered (each takes 0.6 s)
	my $overlap = grep { $_ <= $t && $_ > $t - 0.5 } @arrivals;
	$max_overlap = $overlap if $overlap > $max_overlap;
}
note(sprintf('9 calls of 0.6 s each with max_in_flight 3: %.2f s, at most %d at once',
	$elapsed, $max_overlap));
is($max_overlap, 3, 'exactly max_in_flight (3) requests were in flight at once');
cmp_ok($elapsed, '<', 9 * 0.6, 'faster than one at a time');

# --- connections are reused
my %clients;
$clients{ $_->{client} }++ for @{ sim_posts() };
note('connections used for 9 POSTs: ' . scalar(keys %clients));
cmp_ok(scalar(keys %clients), '<=', 3, 'nine POSTs over at most three connections');

$node->stop;
done_testing();
