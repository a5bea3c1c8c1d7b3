# 031_outage.pl: an API outage loses no call.  The API is unreachable
# (connection refused: nothing is sent), then answers 503 to every POST,
# then comes back.  Until 1.8 each failure counted as an attempt and the
# calls were "error" after agentphone.max_attempts, seconds into the
# outage, with nothing in the log.  Now: no attempt is counted, every call
# stays queued saying why, the worker tries one request at a time with a
# doubling backoff, logs one WARNING when the outage starts and one LOG
# when it ends, and places each call exactly once afterwards.  A 503 past
# agentphone.retry_horizon since the call was due ends it as an error.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

start_sim();
my $node = new_node('outage', q{
agentphone.retry_delay = '200ms'
agentphone.max_attempts = 2
agentphone.sweep_interval = '500ms'
agentphone.max_calls_per_minute = 10000
});
my $log_from = -s $node->logfile;
sub log_since { return substr(slurp_file($node->logfile), $log_from) }
sub queue
{
	my ($first, $n) = @_;
	return split /,/, sql(qq{SELECT string_agg(agentphone_call('agt_1', '+1415555' || ($first + i)::text)::text, ',')
		FROM generate_series(0, $n - 1) i});
}
sub statuses
{
	return sql(q{SELECT string_agg(status || ':' || attempts, ',' ORDER BY id) FROM agentphone.calls WHERE id IN (}
		  . join(',', @_) . ')');
}

# --- refused connections: nothing is sent
sql(q{ALTER SYSTEM SET agentphone.api_url = 'http://127.0.0.1:9/v1'; SELECT pg_reload_conf()});
sleep 0.5;
my $t0 = time();
my @ids = queue(3100, 5);
sleep 8;
is(statuses(@ids), join(',', ('queued:0') x 5),
	'refused for 8 s (max_attempts 2): every call still queued, no attempt counted');
is(sql(q{SELECT count(*) FROM agentphone.calls WHERE last_error ~ '^waiting for the AgentPhone API.*could not reach the AgentPhone API'}),
	5, 'and each says it waits for the API, and why');

# --- then the API answers 503 to every POST
sim('POST', '/_sim/faults', { faults => [ { method => 'POST', path => '/v1/calls', kind => 'status', status => 503, count => -1 } ] });
sql(q{ALTER SYSTEM RESET agentphone.api_url; SELECT pg_reload_conf()});
push @ids, queue(3200, 2);
my $t503 = time();
ok(wait_until(sub { sql("SELECT last_error FROM agentphone.calls WHERE id = $ids[-1]") =~ /^waiting for the AgentPhone API.*HTTP 503/ }, 60),
	'the calls now say the API answers 503');
sleep 4;
my $during = scalar(@{ sim_posts() });
my $phase = time() - $t503;
is(statuses(@ids), join(',', ('queued:0') x 7), sprintf('503 for %.0f s more: still every call queued, no attempt counted', $phase));
cmp_ok($during, '<=', 12, sprintf('one request at a time, backing off: %d POSTs in %.0f s of 503s', $during, $phase));
like(sql(q{SELECT last_error_over || ' ' || last_error FROM agentphone_worker_status()}),
	qr/^false the AgentPhone API cannot take calls: /, 'agentphone_worker_status() shows the outage, not over');
my @warnings = log_since() =~ /WARNING:  agentphone: the AgentPhone API cannot take calls: (.*)/g;
is(scalar(@warnings), 1, 'one WARNING for the whole outage, not one per request');
like($warnings[0], qr/could not reach the AgentPhone API/, 'naming the first reason');
like(log_since(), qr/HINT:  Check the server's network, DNS and proxy/, 'with a hint');

# --- the API is back
sim('DELETE', '/_sim/faults');
my $back = time();
ok(wait_until(sub { sql(q{SELECT count(*) FROM agentphone.calls WHERE status = 'in-progress'}) == 7 }, 90),
	'every call is placed once the API is back');
my $took = time() - $back;
note(sprintf('outage of %.1f s; all 7 calls placed %.1f s after its end', $back - $t0, $took));
my %created;
$created{ $_->{body}{toNumber} }++ for grep { $_->{call_id} } @{ sim_posts() };
is(join(',', map { $created{$_} // 0 } sort keys %created), join(',', (1) x 7), 'each exactly once');
is(scalar(keys %created), 7, '(all seven numbers)');
is(sql(q{SELECT string_agg(DISTINCT attempts::text, ',') FROM agentphone.calls}), '1',
	'each with one attempt counted: the one that placed it');
like(sql(q{SELECT last_error_over || ' ' || (last_error_at < now()) || ' ' || last_error FROM agentphone_worker_status()}),
	qr/^true true the AgentPhone API cannot take calls: /, 'and now shows it over, with its time');
my @back = log_since() =~ /LOG:  agentphone: the AgentPhone API answers again, after (\d+) s/g;
is(scalar(@back), 1, 'one LOG when it is back');
is(scalar(() = log_since() =~ /WARNING:  agentphone: the AgentPhone API cannot take calls/g), 1,
	'and still one WARNING');

# --- 503s for longer than agentphone.retry_horizon: the call is an error
sql(q{ALTER SYSTEM SET agentphone.retry_horizon = '2s'; SELECT pg_reload_conf()});
sleep 0.5;
sim('POST', '/_sim/faults', { faults => [ { method => 'POST', path => '/v1/calls', kind => 'status', status => 503, count => -1 } ] });
my ($old) = queue(3300, 1);
ok(wait_until(sub { sql("SELECT status FROM agentphone.calls WHERE id = $old") eq 'error' }, 30),
	'503s for longer than agentphone.retry_horizon (2 s): the call is an error');
like(sql("SELECT last_error FROM agentphone.calls WHERE id = $old"),
	qr/^gave up: the API could not take calls for \d+ s \(agentphone.retry_horizon\); last answer: AgentPhone API answered HTTP 503/,
	'saying why');
sim('DELETE', '/_sim/faults');

done_testing();
