# 013_kill_points.pl: the worker killed with SIGKILL, or the server stopped
# in immediate mode, at each point of a call's way, with dozens of calls
# there at once: the worker comes back and carries on with the queue, and
# what the user would check afterwards holds: every committed call reaches
# a final state, none is lost, the API saw at most one POST per call, and
# exactly one for every call not "unknown" (a call whose answer was never
# recorded is reconciled with the API, never sent again).
#
# The points, each reached by construction rather than by luck:
#   claimed    the claim committed and the requests left, but the API never
#              read them (the API URL points at a socket that never accepts)
#   sent       the API has the POSTs and holds its answers (delay fault),
#              more calls wait in the queue, and more are queued once the
#              worker is back: the ones in flight are reconciled and
#              adopted, the others placed
#   recorded   the answers are stored
#   transcript transcripts are being written (a test trigger slows them)
# then rounds that kill at a random moment while 30 calls go through an API
# that answers after random delays.
use strict;
use warnings;

use AgentphoneTest;
use IO::Socket::INET;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $N = 30;
my $sim_url = start_sim();
# a socket that takes connections into its backlog and never reads them
my $void = IO::Socket::INET->new(Listen => 128, LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp')
  or die "listen: $!";
my $void_url = 'http://127.0.0.1:' . $void->sockport . '/v1';

my $node = new_node('kill',
	"restart_after_crash = on\nagentphone.max_in_flight = 64\n"
	  . "agentphone.reconcile_delay = '3s'\nagentphone.poll_interval = '300ms'\n"
	  . "agentphone.request_timeout = '60s'\n");

# queue(ROUND, [COUNT, FROM, ARGS]): COUNT calls (default N) to numbers of
# their own (the round's FROM+1st on), with more arguments ARGS of
# agentphone_call() if given; returns their ids
sub queue
{
	my ($round, $count, $from, $args) = @_;
	$count //= $N;
	$from //= 0;
	$args = $args ? ", $args" : '';
	return sql("SELECT string_agg(agentphone_call('agt_1', '+1415556' || lpad(($round * 100 + $from + i)::text, 4, '0')$args)::text, ',')
		FROM generate_series(1, $count) i");
}

# posts_by_number: the POSTs the API received, by number
sub posts_by_number
{
	my %posts;
	push @{ $posts{ $_->{body}{toNumber} } }, $_ for @{ sim_posts() };
	return \%posts;
}

# check(IDS, LABEL, EXPECT, [RECONCILED]): the invariants after a kill;
# EXPECT is the status every call must end in ('placed' or 'unknown'), or
# undef for any; RECONCILED, when given, how many of the calls went through
# reconciliation with the API
sub check
{
	my ($ids, $label, $expect, $reconciled) = @_;
	my $count = my @ids = split /,/, $ids;
	ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM agentphone.calls WHERE id IN ($ids) AND status IN ('queued', 'dispatching', 'reconciling')"),
		"$label: every committed call reached a final state");
	my $rows = call_rows($node, "id IN ($ids)");
	is(scalar(@$rows), $count, "$label: none lost");
	my $posts = posts_by_number();
	my ($placed, $unknown, $bad) = (0, 0, 0);
	for my $r (@$rows)
	{
		my $p = $posts->{ $r->{to_number} } // [];
		if ($r->{status} eq 'unknown')
		{
			$unknown++;
			$bad++ if @$p > 1 || ($r->{last_error} // '') !~ /not sent again/;
		}
		elsif ($r->{status} =~ /^(in-progress|completed)$/)
		{
			$placed++;
			$bad++ if @$p != 1 || $r->{api_call_id} ne $p->[0]{call_id};
		}
		else
		{
			$bad++;
		}
	}
	is($bad, 0, "$label: at most one POST per call, exactly one for each placed call, "
		  . "its row holding what that POST created; every unknown call says why");
	note("$label: $placed placed, $unknown unknown");
	is($expect eq 'placed' ? $placed : $unknown, $count, "$label: all $count $expect") if defined $expect;
	is(sql("SELECT count(DISTINCT call_id) FROM agentphone.call_events WHERE call_id IN ($ids) AND to_status = 'reconciling'"),
		$reconciled, "$label: the $reconciled calls in flight were reconciled with the API")
	  if defined $reconciled;
}

# the calls that wait in the queue at the "sent" point, and those queued
# after the worker is back
my ($WAITING, $AFTER) = (5, 3);

my $round = 0;
for my $how ('SIGKILL', 'immediate stop')
{
	# --- claimed: the requests left, the API never read them
	$round++;
	# for the running worker (reload) and after a restart
	reload_with("SET agentphone.api_url = '$void_url'", pause => 0.3);
	my $ids = queue($round);
	ok(wait_until(sub { sql("SELECT count(*) FROM agentphone.calls WHERE id IN ($ids) AND status = 'dispatching'") == $N }, 10),
		"$how after the claim: $N calls claimed and sent nowhere");
	sql("ALTER SYSTEM SET agentphone.api_url = '$sim_url/v1'");    # for the restarted worker
	kill_worker($node, $how) or die 'the worker did not come back';
	sql('SELECT pg_reload_conf()');
	check($ids, "$how after the claim", 'unknown');

	# --- sent: the API has every POST and holds its answers, and more
	# calls wait in the queue (due a few seconds later)
	$round++;
	sim('POST', '/_sim/faults', { faults => [
		{ method => 'POST', path => '/v1/calls', kind => 'delay', seconds => 2, count => $N } ] });
	my $before = @{ sim_posts() };
	$ids = queue($round);
	my $waiting = queue($round, $WAITING, $N, "not_before => now() + interval '5 seconds'");
	ok(wait_until(sub { @{ sim_posts() } == $before + $N }, 10), "$how after the POSTs: $N requests in flight");
	is(sql("SELECT count(*) FROM agentphone.calls WHERE id IN ($waiting) AND status = 'queued'"), $WAITING,
		"$how after the POSTs: $WAITING more calls wait in the queue");
	ok(kill_worker($node, $how), "$how after the POSTs: the worker came back");
	# calls committed while the server is down cannot exist; queue more now
	$ids .= ",$waiting," . queue($round, $AFTER, $N + $WAITING);
	check($ids, "$how after the POSTs", 'placed', $N);

	# --- recorded: answers stored, nothing to resend
	$round++;
	$ids = queue($round);
	ok(wait_until(sub { sql("SELECT count(*) FROM agentphone.calls WHERE id IN ($ids) AND api_call_id IS NOT NULL") == $N }, 10),
		"$how after recording: $N calls recorded");
	kill_worker($node, $how) or die 'the worker did not come back';
	check($ids, "$how after recording", 'placed');

	# --- transcript: killed while writing transcripts of 40 turns
	$round++;
	slow_transcript_writes(0.002);
	my @turns = map { { role => $_ % 2 ? 'user' : 'agent', content => "line $_" } } 1 .. 40;
	sim('POST', '/_sim/script', { scripts => [ map { { outcome => 'completed', turns => \@turns, turn_interval => 0.001 } } 1 .. $N ] });
	$ids = queue($round);
	ok(writing_transcripts(), "$how while writing transcripts: the worker is writing them");
	kill_worker($node, $how) or die 'the worker did not come back';
	normal_transcript_writes();
	check($ids, "$how while writing transcripts", 'placed');
	ok($node->poll_query_until('postgres',
		"SELECT count(*) = $N FROM agentphone.calls WHERE id IN ($ids) AND status = 'completed' AND transcript_complete"),
		"$how while writing transcripts: every call completed with its transcript");
	is(sql("SELECT count(*) FROM (SELECT call_id FROM agentphone.transcripts WHERE call_id IN ($ids)
			GROUP BY call_id HAVING count(*) = 40 AND bool_and(content = 'line ' || seq)) t"), $N,
		"$how while writing transcripts: each has its 40 turns exactly once, in order");
	sim('DELETE', '/_sim/script');
}

# --- random moments: 30 calls through an API answering after 0 to 1 s,
# killed 0 to 1.5 s after the commit
srand(4242);
for my $i (1 .. 6)
{
	my $how = $i % 2 ? 'SIGKILL' : 'immediate stop';
	$round++;
	sim('POST', '/_sim/faults', { faults => [
		map { { method => 'POST', path => '/v1/calls', kind => 'delay', seconds => rand(1.0) } } 1 .. $N ] });
	my $ids = queue($round);
	my $after = rand(1.5);
	sleep $after;
	my $states = sql("SELECT string_agg(status || ' ' || n, ', ') FROM
		(SELECT status, count(*) n FROM agentphone.calls WHERE id IN ($ids) GROUP BY 1 ORDER BY 1) s");
	kill_worker($node, $how) or die 'the worker did not come back';
	note(sprintf('random round %d: %s %.2f s after the commit, calls were: %s', $i, $how, $after, $states));
	check($ids, "random round $i ($how)", undef);
	sim('DELETE', '/_sim/faults');
}

$node->stop;
done_testing();
