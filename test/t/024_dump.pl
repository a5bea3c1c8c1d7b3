# 024_dump.pl: pg_dump and pg_restore of a database using agentphone.  The
# calls, transcripts, events and do-not-call entries come back as they
# were (pg_extension_config_dump), the restored database is served again,
# a call queued before the dump is held after the restore (a restore is
# another database: 032 has why) and placed once when an admin adopts it,
# and new calls get new ids.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

start_sim();
my $node = new_node('dump', "agentphone.poll_interval = '200ms'\n", no_extension => 1);
sql('CREATE DATABASE app');
sql('CREATE EXTENSION agentphone', db => 'app');

my $done = sql("SELECT agentphone_call('agt_1', '+14155559001')", db => 'app');
is(sql("SELECT agentphone_wait($done, '30 s', 'transcript')", db => 'app'), 'completed', 'a call is completed');
my $later = sql("SELECT agentphone_call('agt_1', '+14155559002', not_before => now() + interval '30 seconds')", db => 'app');
sql("SELECT agentphone_do_not_call('+14155559003', 'asked us not to call')", db => 'app');

my $rows = q{SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
	SELECT format('call %s %s %s %s %s', id, status, to_number, api_call_id, next_attempt_at) FROM agentphone.calls
	UNION ALL SELECT format('turn %s %s %s %s', call_id, seq, role, content) FROM agentphone.transcripts
	UNION ALL SELECT format('event %s %s %s', id, call_id, to_jsonb(e) - 'id' - 'call_id') FROM agentphone.call_events e
	UNION ALL SELECT format('dnc %s %s', number, reason) FROM agentphone.do_not_call) r(x)};
my $before = sql($rows, db => 'app');
my $counts = q{SELECT (SELECT count(*) FROM agentphone.calls) || ' calls, '
	|| (SELECT count(*) FROM agentphone.transcripts) || ' turns, '
	|| (SELECT count(*) FROM agentphone.call_events) || ' events, '
	|| (SELECT count(*) FROM agentphone.do_not_call) || ' do-not-call'};
my $counted = sql($counts, db => 'app');
note("before the dump: $counted");

my $file = PostgreSQL::Test::Utils::tempdir() . '/app.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('app'), '-f', $file ], 'pg_dump -Fc of the database');
sql('DROP DATABASE app');
sql('CREATE DATABASE app');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('app'), $file ], 'pg_restore into a new database');
is(sql($counts, db => 'app'), $counted, 'the restore has as many rows');
is(sql($rows, db => 'app'), $before, 'and the same calls, transcripts, events and do-not-call entries');

ok(wait_until(sub { worker_pid($node, 'app') ne '' }, 10), 'the restored database is served');
ok(wait_until(sub { (sql("SELECT last_error FROM agentphone.calls WHERE id = $later", db => 'app') // '') =~ /^not dialed: queued in / }, 45),
	'the call queued before the dump is held after the restore, which is another database (1.8)');
is(posts_to('+14155559002'), 0, 'and not dialed');
is(sql('SELECT agentphone_adopt_calls()', db => 'app'), 1, 'the original is gone: an admin adopts it');
ok(wait_until(sub { posts_to('+14155559002') == 1 }, 30), 'and it is placed');
my $new = sql("SELECT agentphone_call('agt_1', '+14155559004')", db => 'app');
cmp_ok($new, '>', $later, 'a new call gets a new id (the sequence came back too)');
like(sql("SELECT agentphone_wait($new, '30 s')", db => 'app'), qr/^(in-progress|completed)$/, 'and is placed');
sleep 1;
is(posts_to('+14155559001'), 1, 'the call completed before the dump is never placed again');
is(posts_to('+14155559002'), 1, 'the restored queued call was placed once');
like(sql_error("SELECT agentphone_call('agt_1', '+14155559003')", db => 'app'), qr/do-not-call/i,
	'the restored do-not-call list still refuses');

$node->stop;
done_testing();
