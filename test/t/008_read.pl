# 008_read.pl: the read and control functions return what the API (the
# simulator) holds, follow pagination past 100 rows, turn a 404 into a
# clear error naming the call, and give way to statement_timeout.
use strict;
use warnings;

use AgentphoneTest;
use JSON::PP;
use Test::More;
use Time::HiRes qw(time sleep);

start_sim();
my $node = new_node('read', "agentphone.poll_interval = '300ms'\n");

# --- lists, with pagination past 100 rows
my $created = sim('POST', '/_sim/create_calls',
	{ count => 250, status => 'completed', toNumber => '+1415550{i}', fromNumberId => 'num_1' });
sim('POST', '/_sim/create_calls',
	{ count => 150, status => 'failed', toNumber => '+1415551{i}', fromNumberId => 'num_2' });
is(sql('SELECT count(*) FROM agentphone_list_calls(max_rows => 1000)'), '400',
	'agentphone_list_calls follows the pages past 100 rows');
is(sql('SELECT count(DISTINCT call_id) FROM agentphone_list_calls(max_rows => 1000)'), '400', 'no row twice');
is(sql("SELECT count(*) FROM agentphone_list_calls(status => 'completed', max_rows => 1000)"), '250',
	'status filter');
is(sql("SELECT count(*) FROM agentphone_list_calls(search => '+14155511', max_rows => 1000)"),
	scalar(grep { /^1/ } 0 .. 149), 'search filter');
is(sql('SELECT count(*) FROM agentphone_list_calls(max_rows => 120)'), '120', 'max_rows caps the rows');
is(sql('SELECT count(*) FROM agentphone_list_calls()'), '100', 'max_rows defaults to 100');
is(sql("SELECT call_status || ' ' || to_number || ' ' || duration_seconds FROM agentphone_list_calls(status => 'completed', max_rows => 1) "),
	'completed +1415550249 30', 'typed columns hold what the simulator holds (newest first)');
is(sql("SELECT count(*) FROM agentphone_list_calls_for_number('num_2', 1000)"), '150',
	'agentphone_list_calls_for_number, past 100 rows');
like(sql_error("SELECT * FROM agentphone_list_calls_for_number('num_nope')", verbose => 1),
	qr/ERROR:  P0002: AgentPhone has no number "num_nope"\nDETAIL:  AgentPhone API answered HTTP 404: Phone number not found \(PHONE_NUMBER_NOT_FOUND\)/,
	'an unknown number: a clear error (no_data_found)');

# --- one call, its transcript and recording
sim('POST', '/_sim/script', { scripts => [ { outcome => 'completed', turn_interval => 0.02,
	turns => [ { role => 'agent', content => 'Hello there' }, { role => 'user', content => 'Hi' } ] } ] });
my $id = sql("SELECT agentphone_call('agt_1', '+14155550700')");
sql("SELECT agentphone_wait($id, '20 s')");
ok(wait_until(sub { sql("SELECT transcript_complete FROM agentphone.calls WHERE id = $id") eq 't' }, 20),
	'the call ended');
my $api = sql("SELECT api_call_id FROM agentphone.calls WHERE id = $id");
is(sql("SELECT agentphone_get_call('$api') ->> 'status'"), 'completed', 'agentphone_get_call: status');
is(sql("SELECT agentphone_get_call('$api') ->> 'toNumber'"), '+14155550700', 'agentphone_get_call: the call');
is(sql("SELECT string_agg(seq || ' ' || role || ' ' || content, '|' ORDER BY seq) FROM agentphone_call_transcript('$api')"),
	'1 agent Hello there|2 user Hi', 'agentphone_call_transcript: the turns in order');
is(sql("SELECT substr(agentphone_call_recording('$api'), 1, 4) = 'RIFF'::bytea, length(agentphone_call_recording('$api')) > 44"),
	't|t', 'agentphone_call_recording: WAV bytes');
like(sql_error("SELECT agentphone_get_call('call_doesnotexist')", verbose => 1),
	qr/ERROR:  P0002: AgentPhone has no call "call_doesnotexist"\nDETAIL:  AgentPhone API answered HTTP 404: Call not found/,
	'a 404 is a clear error naming the call id');
like(sql_error("SELECT agentphone_get_call('call/../x')", verbose => 1), qr/ERROR:  22023: invalid call_id "call\/..\/x"/,
	'an id that could escape the URL path is refused');

# --- the transcript stream: a finished call replays at once; a live one
# streams until it ends
is(sql("SELECT string_agg(seq || ' ' || role || ' ' || content, '|' ORDER BY seq) FROM agentphone_stream_transcript('$api')"),
	'1 agent Hello there|2 user Hi', 'agentphone_stream_transcript: a finished call replays its turns');
sim('POST', '/_sim/script', { scripts => [ { outcome => 'completed', turn_interval => 0.3,
	turns => [ map { { role => $_ % 2 ? 'user' : 'agent', content => "live $_" } } 1 .. 4 ] } ] });
my $streamed = sql("SELECT agentphone_call('agt_1', '+14155550703')");
sql("SELECT agentphone_wait($streamed, '20 s')");
my $sapi = sql("SELECT api_call_id FROM agentphone.calls WHERE id = $streamed");
my $t1 = time();
is(sql("SELECT string_agg(content, '|' ORDER BY seq) FROM agentphone_stream_transcript('$sapi', '20 s')"),
	'live 1|live 2|live 3|live 4', 'a live call streams every turn until it ends');
cmp_ok(time() - $t1, '<', 10, 'and returns when the call ends, not at the timeout');
is(sql("SELECT string_agg(coalesce(seq::text, '-') || ' ' || event, '|' ORDER BY seq NULLS LAST) FROM agentphone_stream_transcript('$sapi')"),
	'1 turn|2 turn|3 turn|4 turn|- ended', 'a closing row says the call ended');
sim('POST', '/_sim/script', { scripts => [ { outcome => 'completed', turn_interval => 0.5,
	turns => [ map { { role => 'agent', content => "slow $_" } } 1 .. 4 ] } ] });
my $slow = sql("SELECT agentphone_call('agt_1', '+14155550705')");
sql("SELECT agentphone_wait($slow, '20 s')");
my $slowapi = sql("SELECT api_call_id FROM agentphone.calls WHERE id = $slow");
my $out = sql(qq{BEGIN;
	CREATE TEMP TABLE started AS SELECT clock_timestamp() AS t;
	DECLARE c CURSOR FOR SELECT (s).content, (s).event FROM (SELECT agentphone_stream_transcript('$slowapi', '20 s') AS s OFFSET 0) q;
	FETCH 1 FROM c;
	SELECT extract(epoch FROM clock_timestamp() - t) < 1.2 FROM started;
	FETCH ALL FROM c;
	COMMIT});
is($out, "slow 1|turn\nt\nslow 2|turn\nslow 3|turn\nslow 4|turn\n|ended",
	'each turn is returned as it arrives (the first long before the call ends), then the closing row');
# two streams and another API call interleaved in one session: each keeps
# its own request (a stream between two rows is not dropped by the others)
$out = sql(qq{BEGIN;
	DECLARE a CURSOR FOR SELECT (s).content FROM (SELECT agentphone_stream_transcript('$sapi', '20 s') AS s OFFSET 0) q;
	DECLARE b CURSOR FOR SELECT (s).content FROM (SELECT agentphone_stream_transcript('$slowapi', '20 s') AS s OFFSET 0) q;
	FETCH 1 FROM a;
	FETCH 1 FROM b;
	SELECT agentphone_get_call('$sapi')->>'status';
	FETCH 1 FROM a;
	FETCH 1 FROM b;
	CLOSE a;
	SELECT count(*) FROM agentphone_call_transcript('$slowapi');
	FETCH ALL FROM b;
	COMMIT});
is($out, "live 1\nslow 1\ncompleted\nlive 2\nslow 2\n4\nslow 3\nslow 4\n",
	'two streams read in turns, with other API calls between their rows');
my ($rc_s, $out_s, $err_s) = $node->psql('postgres', qq{BEGIN;
	DECLARE c CURSOR FOR SELECT agentphone_stream_transcript('$sapi', '20 s');
	FETCH 1 FROM c;
	SELECT 1/0;
	ROLLBACK;
	SELECT agentphone_get_call('$sapi')->>'status'}, on_error_stop => 0);
like($out_s, qr/completed$/, 'a transaction that fails between two rows of a stream leaves the session usable');
sim('POST', '/_sim/script', { scripts => [ { hold => JSON::PP::true, turns => [ { role => 'agent', content => 'on hold' } ], turn_interval => 0.05 } ] });
my $holding = sql("SELECT agentphone_call('agt_1', '+14155550704')");
sql("SELECT agentphone_wait($holding, '20 s')");
my $hapi = sql("SELECT api_call_id FROM agentphone.calls WHERE id = $holding");
sleep 0.3;
$t1 = time();
is(sql("SELECT string_agg(coalesce(content, event), '|') FROM agentphone_stream_transcript('$hapi', '1 s')"), 'on hold|timeout',
	'a call that does not end: the turns so far, after the timeout, and a closing row that says so');
cmp_ok(time() - $t1, '<', 4, 'the timeout is honoured');
like(sql_error("SELECT * FROM agentphone_stream_transcript('call_nope')", verbose => 1),
	qr/ERROR:  P0002: AgentPhone has no call "call_nope"/, 'stream of an unknown call: a clear error');
sim('POST', "/_sim/calls/$hapi/finish", { status => 'completed' });

# --- web call
my $web = decode_json(sql(q{SELECT agentphone_web_call('agt_1', '{"source": "test"}', '{"n": 1}')}));
ok($web->{accessToken}, 'agentphone_web_call returns an access token');
my ($post) = grep { $_->{path} eq '/v1/calls/web' } @{ sim('GET', '/_sim/requests?method=POST') };
is(JSON::PP->new->canonical->encode($post->{body}),
	'{"agentId":"agt_1","metadata":{"source":"test"},"variables":{"n":"1"}}',
	'the web call body: agentId, metadata, variables as strings');

# --- end a live call
sim('POST', '/_sim/script', { scripts => [ { hold => JSON::PP::true, turns => [] } ] });
my $live = sql("SELECT agentphone_call('agt_1', '+14155550701')");
is(sql("SELECT agentphone_wait($live, '20 s')"), 'in-progress', 'a held call is live');
is(sql("SELECT agentphone_end_call($live) ->> 'status'"), 'ending', 'agentphone_end_call: the API ends it');
ok(wait_until(sub { sql("SELECT status FROM agentphone.calls WHERE id = $live") eq 'completed' }, 20),
	'the worker follows it to completed');
like(sql_error("SELECT agentphone_end_call($live)", verbose => 1),
	qr/ERROR:  55000: call $live \("call_\w+"\) is no longer live\nDETAIL:  AgentPhone API answered HTTP 409/,
	'ending it again: the call is no longer live (409)');
like(sql_error('SELECT agentphone_end_call(0)', verbose => 1), qr/call 0 does not exist/, 'an unknown id');

# --- a call in progress past agentphone.max_call_duration is looked up on
# its own and flagged
sql("ALTER SYSTEM SET agentphone.max_call_duration = '1s'; SELECT pg_reload_conf()");
sim('POST', '/_sim/script', { scripts => [ { hold => JSON::PP::true, turns => [] } ] });
my $long = sql("SELECT agentphone_call('agt_1', '+14155550705')");
sql("SELECT agentphone_wait($long, '20 s')");
ok(wait_until(sub { sql("SELECT coalesce(last_error, '') FROM agentphone.calls WHERE id = $long") =~ /^still in-progress after more than 1 seconds; looked up on its own$/ }, 20),
	'an overdue call is flagged in last_error');
is(sql("SELECT status, next_poll_at IS NOT NULL FROM agentphone.calls WHERE id = $long"), 'in-progress|t',
	'it stays in progress, with a time for its next lookup');
my $lapi = sql("SELECT api_call_id FROM agentphone.calls WHERE id = $long");
sim('POST', "/_sim/calls/$lapi/finish", { status => 'completed' });
sql("ALTER SYSTEM RESET agentphone.max_call_duration; SELECT pg_reload_conf()");

# --- statement_timeout interrupts a slow answer
# only this call's path: the worker's own lookups must not use up the fault
sim('POST', '/_sim/faults', { faults => [ { method => 'GET', path => "/v1/calls/$api", kind => 'delay', seconds => 5 } ] });
my $t0 = time();
like(sql_error("SET statement_timeout = '300ms'; SELECT agentphone_get_call('$api')", verbose => 1),
	qr/canceling statement due to statement timeout/, 'statement_timeout cancels a slow request');
cmp_ok(time() - $t0, '<', 3, 'at once, not after the answer');
is(sql("SELECT agentphone_get_call('$api') ->> 'id'"), $api, 'the session works afterwards');

# --- no key, no request
$node->safe_psql('postgres', "ALTER SYSTEM SET agentphone.api_key = ''; SELECT pg_reload_conf()");
sleep 0.5;
like(sql_error("SELECT agentphone_get_call('$api')", verbose => 1), qr/no AgentPhone API key: neither agentphone.api_key_file nor agentphone.api_key is set/, 'no key: a clear error');

$node->stop;
done_testing();
