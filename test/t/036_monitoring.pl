# 036_monitoring.pl: monitoring needs no role that reads transcripts.  A
# member of pg_monitor (what postgres_exporter uses) reads agentphone.stats,
# one row of numbers about the database's calls and worker, and
# agentphone_worker_status(); it reads no call, number or transcript.
# Until 1.8 it got "permission denied", and only agentphone_admin, which
# reads every number and transcript, saw the queue.
use strict;
use warnings;

use AgentphoneTest;
use Test::More;

start_sim();
my $node = new_node('monitoring', $QUICK);
sql('CREATE ROLE exporter LOGIN IN ROLE pg_monitor');
sql('CREATE ROLE app LOGIN');
sql('GRANT agentphone_caller TO app');

my $done = sql("SELECT agentphone_call('agt_1', '+14155558301')", as => 'app');
is(sql("SELECT agentphone_wait($done, '30 s', 'ended')", as => 'app'), 'completed', 'a call completed');
sql("SELECT agentphone_call('agt_1', '+14155558302', not_before => now() + interval '1 hour')", as => 'app');
sql("SELECT agentphone_call('agt_1', '+14155558303', not_before => now() + interval '1 hour')", as => 'app');

my $row = sql(q{SELECT queued_due || ' ' || queued_later || ' ' || completed_1h || ' ' || completed_1d || ' '
	|| worker_running || ' ' || (seconds_since_worker_loop < 60) FROM agentphone.stats}, as => 'exporter');
is($row, '0 2 1 1 true true', 'pg_monitor reads the numbers: 2 calls queued for later, 1 completed, the worker alive');
my $all = sql(q{SELECT to_jsonb(s)::text FROM agentphone.stats s}, as => 'exporter');
unlike($all, qr/\+1415|agt_1|Hello/, 'no phone number, agent or transcript in it');
like(sql_error('SELECT count(*) FROM agentphone.calls', as => 'exporter'), qr/permission denied for (table calls|function acting_role)/,
	'pg_monitor reads no call');
like(sql('SELECT running FROM agentphone_worker_status()', as => 'exporter'), qr/^t$/,
	'and may read agentphone_worker_status()');
like(sql_error('SELECT * FROM agentphone.stats', as => 'app'), qr/permission denied for view stats/,
	'a caller may not read the stats');
is(sql('SELECT count(*) FROM agentphone.stats'), 1, 'one row');

# an API error that quotes the callee's number: the worker's last error
# keeps it for superusers, and pg_monitor reads it without
sim('POST', '/_sim/faults', { faults => [ { method => 'POST', path => '/v1/calls', kind => 'body', status => 400,
	body => { detail => 'Cannot call +1 415 555 8304 (or 14155558304) before 2026-12-08' } } ] });
my $refused = sql("SELECT agentphone_call('agt_1', '+14155558304')", as => 'app');
ok(wait_until(sub { sql("SELECT status FROM agentphone.calls WHERE id = $refused") eq 'error' }, 20), 'the API refused a call');
like(sql('SELECT last_error FROM agentphone_worker_status()'), qr/Cannot call \+1 415 555 8304 \(or 14155558304\)/,
	'a superuser reads the API\'s message whole');
is(sql('SELECT last_error FROM agentphone.stats', as => 'exporter'),
	"call $refused: AgentPhone API answered HTTP 400: Cannot call <number> (or <number>) before 2026-12-08",
	'pg_monitor reads it without the numbers (a date is not one)');
done_testing();
