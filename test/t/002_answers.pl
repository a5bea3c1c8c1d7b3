# 002_answers.pl: what the worker does with each kind of API answer.
# Refusals end in "error" with the API's words and no retry (a 401, which
# refuses the account's key rather than the call, leaves it queued); 429, 5xx and
# unreachable APIs are retried (Retry-After honoured) and the call is placed
# once; answers that leave the outcome unknown are never resent.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

start_sim();
# the API lists no agents here, so agentphone_call() accepts any agent and
# the API's own refusals are what the worker records (020 has the list)
sim('POST', '/_sim/config', { agents_list => 'off' });
my $node = new_node('answers',
	"agentphone.request_timeout = '1500ms'\nagentphone.max_attempts = 3\nagentphone.reconcile_delay = '4s'\n");

my $n = 0;

# place(TO, [FAULTS...]): queue a call to a fresh number after injecting
# faults for the next POSTs; returns (id, number)
sub place
{
	my (@faults) = @_;
	my $to = sprintf('+1415555%04d', 300 + $n++);
	sim('POST', '/_sim/faults',
		{ faults => [ map { { method => 'POST', path => '/v1/calls', %$_ } } @faults ] })
	  if @faults;
	my $id = $node->safe_psql('postgres', "SELECT agentphone_call('agt_1', '$to')");
	return ($id, $to);
}

sub wait_status
{
	my ($id) = @_;
	return $node->safe_psql('postgres', "SELECT agentphone_wait($id, '30 s')");
}

sub row { return call_rows($node, "id = $_[0]")->[0]; }

# --- refusals: error, the API's message, no retry
my ($id, $to) = place({ kind => 'status', status => 422,
	body => { detail => [ { loc => [ 'body', 'toNumber' ], msg => 'Number cannot be reached',
		type => 'value_error' } ] } });
is(wait_status($id), 'error', '422: status error');
is(row($id)->{last_error}, 'AgentPhone API answered HTTP 422: toNumber: Number cannot be reached',
	"422: last_error carries the API's message (detail list)");
sleep 0.5;
is(scalar(@{ posts_for($to) }), 1, '422: not retried');

$id = $node->safe_psql('postgres',
	"SELECT agentphone_call('agt_1', '+14155550290', from_number_id => 'num_3')");
is(wait_status($id), 'error', '400 from the simulator itself: status error');
like(row($id)->{last_error}, qr/^AgentPhone API answered HTTP 400: \S.*/,
	'400: the detail string is kept');

sim('POST', '/_sim/config', { error_shape => 'envelope' });
$id = $node->safe_psql('postgres', "SELECT agentphone_call('agt_nobody', '+14155550291')");
is(wait_status($id), 'error', 'envelope-shaped 404: status error');
is(row($id)->{last_error}, 'AgentPhone API answered HTTP 404: Agent not found (AGENT_NOT_FOUND)',
	'envelope error shape: message and code');
sim('POST', '/_sim/config', { error_shape => 'detail' });

($id, $to) = place({ kind => 'body', status => 403, body => 'Forbidden by policy',
	content_type => 'text/plain' });
is(wait_status($id), 'error', 'a non-JSON 403: status error');
is(row($id)->{last_error}, 'AgentPhone API answered HTTP 403 with a body that is not JSON: Forbidden by policy',
	'a non-JSON error body is quoted');

# --- 429 with Retry-After: 2 -> retried after about 2 s, placed once
($id, $to) = place({ kind => 'status', status => 429, headers => { 'Retry-After' => '2' } });
ok(wait_until(sub { row($id)->{status} eq 'in-progress' }, 20), '429: placed in the end');
my $p = posts_for($to);
is(scalar(@$p), 2, '429: two POSTs, the second one placed the call');
my $gap = $p->[1]{time} - $p->[0]{time};
note(sprintf('429 Retry-After 2 -> retried after %.2f s', $gap));
ok($gap >= 1.9 && $gap < 4, 'the retry came after Retry-After (about 2 s)');
is(row($id)->{attempts}, 1, '429: attempts = 1 (a 429 placed no call: not an attempt)');
is(row($id)->{api_call_id}, $p->[1]{call_id}, "429: the row holds the placed call's id");
is(row($id)->{last_error}, undef, '429: last_error cleared once placed');

# --- a Retry-After too large for any integer: capped at a day, not wrapped
($id, $to) = place({ kind => 'status', status => 429,
	headers => { 'Retry-After' => '999999999999999999999999' } });
ok(wait_until(sub { row($id)->{status} eq 'queued' && defined row($id)->{last_error} }, 20),
	'429 with a huge Retry-After: queued for a retry');
is($node->safe_psql('postgres', "SELECT next_attempt_at BETWEEN now() + interval '23 hours' AND now() + interval '1 day 1 minute' FROM agentphone.calls WHERE id = $id"),
	't', 'the retry waits the longest Retry-After honoured, one day');
$node->safe_psql('postgres', "UPDATE agentphone.calls SET status = 'canceled' WHERE id = $id");

# --- 500 twice -> backoff, placed by the third attempt
($id, $to) = place({ kind => 'status', status => 500 }, { kind => 'status', status => 500 });
ok(wait_until(sub { row($id)->{status} eq 'in-progress' }, 20), '5xx: placed in the end');
$p = posts_for($to);
is(scalar(@$p), 3, '5xx: three POSTs, one call placed');
my ($g1, $g2) = ($p->[1]{time} - $p->[0]{time}, $p->[2]{time} - $p->[1]{time});
note(sprintf('5xx backoff gaps: %.3f s, %.3f s (retry_delay 200 ms)', $g1, $g2));
ok($g1 >= 0.09 && $g2 >= 0.19, 'retries back off (at least half of 200 ms, then of 400 ms)');
is(scalar(grep { $_->{call_id} } @$p), 1, '5xx: the API created exactly one call');

# --- retries run out
($id, $to) = place(map { { kind => 'status', status => 500 } } 1 .. 3);
is(wait_status($id), 'error', 'three 500s: error');
like(row($id)->{last_error},
	qr/^gave up after 3 attempts; last failure: AgentPhone API answered HTTP 500/,
	'last_error names the attempts and the last failure');
is(scalar(@{ posts_for($to) }), 3, 'exactly max_attempts POSTs');

# --- 503s are no attempts: four of them (more than max_attempts), then placed
($id, $to) = place(map { { kind => 'status', status => 503 } } 1 .. 4);
ok(wait_until(sub { row($id)->{status} eq 'in-progress' }, 30), 'four 503s, max_attempts 3: placed by the fifth POST');
is(scalar(@{ posts_for($to) }) . ' ' . row($id)->{attempts}, '5 1', 'five POSTs, one attempt counted');

# --- outcome unknown: never resent; the API is asked whether the call
# exists (after agentphone.reconcile_delay), and a match is adopted
($id, $to) = place({ kind => 'drop' });
is(wait_status($id), 'unknown', 'connection closed after the request, no call at the API: unknown');
like(row($id)->{last_error},
	qr/^the request was sent but no answer arrived .*; asking the API whether it was placed; the API shows no call to \Q$to\E by agt_1 since then, so it was not sent again \(agentphone.on_unknown = fail\)$/,
	'unknown: last_error explains what happened and what was checked');

my ($id2, $to2) = place({ kind => 'malformed', status => 200 });
like(wait_status($id2), qr/^(in-progress|completed)$/, 'malformed 200, but the API created the call: adopted with its status');
is(row($id2)->{api_call_id}, posts_for($to2)->[0]{call_id}, "the adopted call is the one the API created");
is(row($id2)->{last_error}, undef, 'adopted: no error left');

my ($id3, $to3) = place({ kind => 'body', status => 200, body => { status => 'in-progress' } });
is(wait_status($id3), 'unknown', '200 without a call id and no call at the API: unknown');
like(row($id3)->{last_error}, qr/the answer had no call id/, 'no call id: last_error explains');

my ($id4, $to4) = place({ kind => 'huge', status => 200, size => 3 * 1024 * 1024 });
is(wait_status($id4), 'unknown', 'an oversized 200: unknown');
like(row($id4)->{last_error}, qr/too large/, 'oversized: last_error explains');

my ($id5, $to5) = place({ kind => 'delay', seconds => 3 });
like(wait_status($id5), qr/^(in-progress|completed)$/, 'no answer within request_timeout, but the call was created: adopted');
is(row($id5)->{api_call_id}, posts_for($to5)->[0]{call_id}, 'the late call is the one adopted');

my ($id6, $to6) = place({ kind => 'drop_after' });
like(wait_status($id6), qr/^(in-progress|completed)$/, 'connection dropped after the call was created: adopted');

sleep 1;
is(scalar(@{ posts_for($_) }), 1, "call to $_ of unknown outcome was POSTed once, never resent")
  for ($to, $to2, $to3, $to4, $to5, $to6);

# --- agentphone.on_unknown = redial: a call the API does not show is queued again
$node->safe_psql('postgres', "ALTER SYSTEM SET agentphone.on_unknown = 'redial'; SELECT pg_reload_conf()");
sleep 0.3;
my ($id7, $to7) = place({ kind => 'drop' });
is(wait_status($id7), 'in-progress', 'on_unknown = redial: placed by a second POST');
is(scalar(@{ posts_for($to7) }), 2, 'two POSTs, the first one created nothing');
is(scalar(grep { $_->{call_id} } @{ posts_for($to7) }), 1, 'one call at the API');
$node->safe_psql('postgres', "ALTER SYSTEM RESET agentphone.on_unknown; SELECT pg_reload_conf()");

# --- the API cannot be reached: nothing was sent, so it is retried
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET agentphone.api_url = 'http://127.0.0.1:9/v1';
	ALTER SYSTEM SET agentphone.retry_delay = '3s';
	ALTER SYSTEM SET agentphone.max_attempts = 5;
	SELECT pg_reload_conf();
});
sleep 0.5;
($id, $to) = place();
ok(wait_until(sub { (row($id)->{last_error} // '') =~ /could not reach/ }, 20), 'connection refused: noted');
like(row($id)->{last_error}, qr/^waiting for the AgentPhone API(: |, which cannot take calls now: )could not reach the AgentPhone API: /,
	'connection refused: last_error says what happened and that the call waits');
is(row($id)->{status} . ' ' . row($id)->{attempts}, 'queued 0', 'queued, no attempt counted');
$node->safe_psql('postgres', q{
	ALTER SYSTEM RESET agentphone.api_url;
	SELECT pg_reload_conf();
});
ok(wait_until(sub { row($id)->{status} eq 'in-progress' }, 20),
	'placed once the API is reachable again, without a restart');
is(scalar(@{ posts_for($to) }), 1, 'the simulator saw exactly one POST for it');
$node->safe_psql('postgres', q{
	ALTER SYSTEM RESET agentphone.retry_delay;
	ALTER SYSTEM RESET agentphone.max_attempts;
	SELECT pg_reload_conf();
});

# --- a wrong key: the call stays queued, the message points at the
# setting, and a reload tries the key again (020 has the key file's case)
sim('POST', '/_sim/config', { api_key => 'sk_other' });
($id, $to) = place();
ok(wait_until(sub { (row($id)->{last_error} // '') =~ /401/ }, 20), 'wrong key: the 401 is recorded');
like(row($id)->{last_error}, qr/^not placed: AgentPhone API answered HTTP 401: .*; the call stays queued until the key in agentphone.api_key changes$/,
	'401: last_error points at agentphone.api_key');
is(row($id)->{status} . ' ' . row($id)->{attempts}, 'queued 0', '401: queued again, the attempt not counted');
sim('POST', '/_sim/config', { api_key => $AgentphoneTest::API_KEY });
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
ok(wait_until(sub { row($id)->{status} eq 'in-progress' }, 20), 'after a reload the key is tried again: placed');

# --- one bad answer does not block the others
sim('POST', '/_sim/faults', { faults => [
	{ method => 'POST', path => '/v1/calls', kind => 'status', status => 422 },
	{ method => 'POST', path => '/v1/calls', kind => 'malformed', status => 200 } ] });
my $ids = $node->safe_psql('postgres', q{
	SELECT string_agg(agentphone_call('agt_1', '+1415555' || (9000 + i)::text)::text, ',')
	FROM generate_series(1, 6) i});
for my $i (split /,/, $ids) { wait_status($i); }
my %count;
$count{ $_->{status} =~ s/^completed$/in-progress/r }++ for @{ call_rows($node, "id IN ($ids)") };
is_deeply(\%count, { 'in-progress' => 5, error => 1 },
	'in one batch a refused and a garbled answer touch only their own calls (the garbled one adopted)');

is($node->safe_psql('postgres',
	"SELECT count(*) FROM agentphone.calls WHERE status IN ('queued', 'dispatching')"), '0',
	'no call is left behind');
unlike(slurp_file($node->logfile), qr/terminated by signal|server process .* exited/,
	'the worker never crashed');

$node->stop;
done_testing();
