# 011_fault_storm.pl: a few hundred calls through a storm of faults (429
# with Retry-After, 500s, connections dropped before and after the call is
# created, malformed answers, answers slower than the timeout): every call
# is placed exactly once at the API or ends with a clear reason, no call is
# created twice, and the worker never restarts.
use strict;
use warnings;

use AgentphoneTest;
use Test::More;
use Time::HiRes qw(time sleep);

start_sim();
my $node = new_node('storm', q{
agentphone.request_timeout = '1s'
agentphone.reconcile_delay = '3s'
agentphone.max_calls_per_minute = 10000
agentphone.max_in_flight = 16
agentphone.retry_delay = '100ms'
agentphone.max_attempts = 6
});
my $pid = worker_pid($node);
# descriptors(PID): how many sockets and epoll descriptors it has open
sub descriptors
{
	my %n = (socket => 0, eventpoll => 0);
	for (map { readlink($_) // '' } glob("/proc/$_[0]/fd/*"))
	{
		$n{socket}++ if /^socket:/;
		$n{eventpoll}++ if /eventpoll/;
	}
	return %n;
}
my %before = descriptors($pid);

my @faults = (
	({ kind => 'status', status => 429, headers => { 'Retry-After' => '1' } }) x 30,
	({ kind => 'status', status => 500 }) x 30,
	({ kind => 'status', status => 503 }) x 20,
	({ kind => 'drop' }) x 20,
	({ kind => 'drop_after' }) x 20,
	({ kind => 'malformed', status => 200 }) x 20,
	({ kind => 'delay', seconds => 2 }) x 10,
);
# each fault applies to one request, in the list's order: spread them
# among as many normal answers (a delay of 0 s), in an order fixed by the
# seed; a run of three 429s or 503s is an outage, which the worker waits
# out one request at a time
srand(11);
my @spread = map { $_->[1] } sort { $a->[0] <=> $b->[0] }
  map { [ rand(), $_ ] } (@faults, ({ kind => 'delay', seconds => 0 }) x 150);
sim('POST', '/_sim/faults', { faults => [ map { { method => 'POST', path => '/v1/calls', count => 1, %$_ } } @spread ] });

my $n = 300;
my $t0 = time();
my $ids = $node->safe_psql('postgres', qq{
	SELECT string_agg(agentphone_call('agt_1', '+1415556' || lpad(i::text, 4, '0'))::text, ',') FROM generate_series(1, $n) i});
ok(wait_until(sub { $node->safe_psql('postgres',
	"SELECT count(*) FROM agentphone.calls WHERE status IN ('queued', 'dispatching', 'reconciling')") == 0 }, 120),
	"all $n calls reached a final state");
note(sprintf('%d calls through %d faults in %.1f s', $n, scalar(@faults), time() - $t0));

my $rows = call_rows($node, "id IN ($ids)");
my %created;    # number -> API calls created for it
my %posts;
for my $p (@{ sim_posts() })
{
	$posts{ $p->{body}{toNumber} }++;
	push @{ $created{ $p->{body}{toNumber} } }, $p->{call_id} if $p->{call_id};
}
my (%status, @bad);
for my $r (@$rows)
{
	my $made = $created{ $r->{to_number} } // [];
	$status{ $r->{status} }++;
	if ($r->{status} =~ /^(in-progress|completed)$/)
	{
		push @bad, "$r->{id}: placed but the API created " . scalar(@$made) . " calls"
		  unless @$made == 1 && $made->[0] eq $r->{api_call_id};
	}
	elsif ($r->{status} eq 'error' || $r->{status} eq 'unknown')
	{
		push @bad, "$r->{id}: $r->{status} without a reason" unless $r->{last_error};
		push @bad, "$r->{id}: $r->{status} but the API created a call" if @$made;
	}
	else
	{
		push @bad, "$r->{id}: unexpected status $r->{status}";
	}
}
note('statuses: ' . join(', ', map { "$_ $status{$_}" } sort keys %status));
is_deeply(\@bad, [], 'every call placed exactly once at the API, or ended with a reason and nothing created');
is(scalar(grep { @{ $created{$_} } > 1 } keys %created), 0, 'no number got two calls');
is(($status{'in-progress'} // 0) + ($status{completed} // 0), $n - 20,
	'every call was placed but the 20 whose connection dropped before the API created anything');
is($status{unknown}, 20, 'those 20 are unknown, never resent (agentphone.on_unknown = fail)');
is(worker_pid($node), $pid, 'the worker never restarted');
is($node->safe_psql('postgres', 'SELECT reconciled > 0 AND retried > 0 FROM agentphone_worker_status()'), 't',
	'its counters show the retries and reconciliations');
# every connection the storm broke was closed, and every wait set with
# it: the worker holds at most agentphone.max_in_flight connections more
# than before the storm, and one wait set of its own
my %after = descriptors($pid);
cmp_ok($after{socket}, '<=', $before{socket} + 16,
	"the worker keeps no more connections than it may use at once ($after{socket} sockets, $before{socket} before)");
cmp_ok($after{eventpoll}, '<=', $before{eventpoll} + 1,
	"and leaks no wait set ($after{eventpoll} epoll descriptors, $before{eventpoll} before)");

$node->stop;
done_testing();
