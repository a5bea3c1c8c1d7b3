# 007_follow.pl: placed calls are followed to their end: final status,
# times, duration and transcript turn for turn, exactly once even when the
# worker is killed while writing it; a quiet poll cycle over 300 live calls
# costs a handful of requests; every transition and every stored
# transcript is NOTIFYed; the trigger
# helper; the README's reporting queries.
use strict;
use warnings;

use AgentphoneTest;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

start_sim();
my $node = new_node('follow', q{
agentphone.poll_interval = '300ms'
agentphone.max_calls_per_minute = 10000
agentphone.max_in_flight = 32
restart_after_crash = on
});

sub turns_of
{
	my ($id) = @_;
	return sql("SELECT string_agg(role || ':' || content, '|' ORDER BY seq) FROM agentphone.transcripts WHERE call_id = $id");
}

sub wait_complete
{
	my ($where, $seconds) = @_;
	return wait_until(sub {
		sql("SELECT count(*) FROM agentphone.calls WHERE ($where) AND NOT transcript_complete") == 0 }, $seconds // 30);
}

# place(SCRIPT): queue a call that the simulator will run with SCRIPT;
# calls are placed one at a time so that scripts match calls
my $n = 0;
sub place
{
	my ($script) = @_;
	sim('POST', '/_sim/script', { scripts => [$script] });
	my $id = sql(sprintf("SELECT agentphone_call('agt_1', '+1415555%04d')", 1000 + $n++));
	# a short script may already have ended when the wait looks
	like(sql("SELECT agentphone_wait($id, '20 s')"), qr/^(in-progress|completed|failed)$/, "call $id placed");
	return $id;
}

# --- LISTEN on our channel while three calls live and end
my ($lin, $lout, $lerr) = ('', '', '');
my $channel = sql('SELECT agentphone_channel()');
my $listener = IPC::Run::start(
	[ 'psql', '-X', '-d', $node->connstr('postgres'), '-c', "LISTEN $channel",
	  '-c', 'SELECT pg_sleep(8)' ],
	\$lin, \$lout, \$lerr);
sleep 0.5;

my @turns = map { { role => $_ % 2 ? 'user' : 'agent', content => "turn $_ of the call" } } 0 .. 5;
my $done = place({ outcome => 'completed', turns => \@turns, turn_interval => 0.05, duration_seconds => 42 });
my $failed = place({ outcome => 'failed', turns => [ { role => 'agent', content => 'Hello?' } ],
	turn_interval => 0.05, duration_seconds => 3 });
my $held = place({ hold => JSON::PP::true, turns => [ { role => 'agent', content => 'Still here.' } ],
	turn_interval => 0.05 });

ok(wait_complete("id IN ($done, $failed)"), 'the completed and the failed call were followed to their end');
my $rows = call_rows($node, "id IN ($done, $failed, $held)");
my %row = map { $_->{id} => $_ } @$rows;
is($row{$done}{status}, 'completed', 'completed call: status completed');
is($row{$done}{duration_seconds}, 42, 'completed call: duration from the API');
ok(defined $row{$done}{ended_at}, 'completed call: ended_at set');
is($row{$failed}{status}, 'failed', 'failed call: status failed');
is($row{$failed}{duration_seconds}, 3, 'failed call: duration');
is(turns_of($done), join('|', map { "$_->{role}:$_->{content}" } @turns),
	'completed call: every turn stored, in order');
is(turns_of($failed), 'agent:Hello?', 'failed call: its one turn');
is($row{$held}{status}, 'in-progress', 'the held call is still in progress');
ok(!$row{$held}{transcript_complete}, 'and has no transcript yet');

# end the held call (as End Call would) and see it followed
my $api_id = $row{$held}{api_call_id};
sim('POST', "/_sim/calls/$api_id/finish", { status => 'completed' });
ok(wait_complete("id = $held"), 'a call ended meanwhile is followed to its end');
is(sql("SELECT status FROM agentphone.calls WHERE id = $held"), 'completed', 'ended call: completed');
is(turns_of($held), 'agent:Still here.', 'ended call: transcript stored');

# an ended call whose transcript cannot be fetched (neither endpoint
# answers) still has its end stored, says why, and gets its transcript
# once the API answers again
my $stuck = place({ hold => JSON::PP::true, turns => [ { role => 'agent', content => 'Later.' } ],
	turn_interval => 0.05 });
ok(wait_until(sub { sql("SELECT status FROM agentphone.calls WHERE id = $stuck") eq 'in-progress' }, 20),
	'a second held call is in progress');
my $stuck_api = sql("SELECT api_call_id FROM agentphone.calls WHERE id = $stuck");
sim('POST', '/_sim/faults', { faults => [
	{ method => 'GET', path => "/v1/calls/$stuck_api/transcript", count => -1, kind => 'status', status => 503 },
	# the lookup that sees the end gets through, the fallback does not
	{ method => 'GET', path => "/v1/calls/$stuck_api", skip => 1, count => -1, kind => 'status', status => 503 } ] });
sim('POST', "/_sim/calls/$stuck_api/finish", { status => 'completed' });
ok(wait_until(sub { sql("SELECT status = 'completed' AND ended_at IS NOT NULL AND NOT transcript_complete
		AND last_error LIKE 'could not fetch the transcript:%' FROM agentphone.calls WHERE id = $stuck") eq 't' }, 20),
	'an ended call whose transcript cannot be fetched: its end is stored, and why the transcript is missing');
sim('DELETE', '/_sim/faults');
ok(wait_complete("id = $stuck"), 'its transcript is stored once the API answers');
is(turns_of($stuck), 'agent:Later.', 'the whole transcript');

$listener->finish;
my @notes = map { decode_json($_) } ($lout =~ /Asynchronous notification "\Q$channel\E" with payload "(.*?)" received/g);
my @seq = map { $_->{status} // "transcript $_->{transcript}" } grep { $_->{id} == $done } @notes;
is(join(',', @seq), 'dispatching,in-progress,completed,transcript stored',
	'LISTEN agentphone_channel(): a notification for each transition of a queued call, then one for its stored transcript');
ok(index($lout, qq{payload "{"id" : $done, "status" : "completed"}"}) >= 0
	  && index($lout, qq{payload "{"id" : $done, "transcript" : "stored"}"}) >= 0,
	"the payloads are json_build_object()'s, byte for byte, as in 1.1");
ok(!(grep { exists $_->{call_id} } @notes), "no payload carries the API's call id (the key to its recording)");
is(sql("SELECT string_agg(coalesce(from_status, '-') || '>' || to_status, ',' ORDER BY id) FROM agentphone.call_events WHERE call_id = $failed"),
	'queued>dispatching,dispatching>in-progress,in-progress>failed',
	'agentphone.call_events keeps every transition');

# --- transcripts in the other documented shapes
for my $shape (2, 3)
{
	sim('POST', '/_sim/config', { transcript_shape => $shape });
	my $id = place({ outcome => 'completed', turn_interval => 0.02,
		turns => [ { role => 'agent', content => 'Hi' }, { role => 'user', content => 'Hello' },
			{ role => 'agent', content => 'Bye' } ] });
	ok(wait_complete("id = $id"), "transcript shape $shape: stored");
	is(turns_of($id), 'agent:Hi|user:Hello|agent:Bye', "transcript shape $shape: turns in order");
}
sim('POST', '/_sim/config', { transcript_shape => 1 });

# --- 300 live calls: a quiet cycle costs a handful of requests
sim('POST', '/_sim/config', { default_script => { hold => JSON::PP::true, turns => [] } });
my $ids = sql(q{SELECT string_agg(agentphone_call('agt_1', '+1415556' || lpad(i::text, 4, '0'))::text, ',') FROM generate_series(1, 300) i});
ok(wait_until(sub { sql("SELECT count(*) FROM agentphone.calls WHERE id IN ($ids) AND status = 'in-progress'") == 300 }, 60),
	'300 calls are live');
# let the placements' own updates reach the statistics first
sleep 2;
my $upd_sql = "SELECT pg_stat_force_next_flush(); SELECT n_tup_upd FROM pg_stat_user_tables WHERE relid = 'agentphone.calls'::regclass";
my $upd = sql($upd_sql);
sim('DELETE', '/_sim/requests');
my $t0 = time();
sleep 3;
my $reqs = sim('GET', '/_sim/requests?method=GET');
my $elapsed = time() - $t0;
my @lists = grep { $_->{path} eq '/v1/calls' } @$reqs;
my $singles = grep { $_->{path} ne '/v1/calls' } @$reqs;
my $cycles = grep { $_->{query}{offset} eq '0' } @lists;
note(sprintf('%d GET requests in %.1f s of polling 300 live calls: %d cycles, %d list pages, %d single lookups',
	scalar(@$reqs), $elapsed, $cycles, scalar(@lists), $singles));
cmp_ok($cycles, '>=', 3, 'several poll cycles ran');
cmp_ok(scalar(@lists), '<=', 3 * $cycles + 2, 'each cycle read 3 pages of 100, nothing more');
is(join(',', sort { $a <=> $b } keys %{ { map { $_->{query}{offset} => 1 } @lists } }), '0,100,200',
	'pages at offsets 0, 100 and 200');
is($singles, 0, 'no call was looked up on its own: nothing changed');
is(sql($upd_sql), $upd, 'and no row was updated');

# five of them end: exactly five lookups and five transcripts
my @five = @{ call_rows($node, "id IN ($ids)") }[0 .. 4];
sim('DELETE', '/_sim/requests');
sim('POST', "/_sim/calls/$_->{api_call_id}/finish", { status => 'completed' }) for @five;
my $five = join(',', map { $_->{id} } @five);
ok(wait_complete("id IN ($five)"), 'the five ended calls are followed');
sleep 1;
$reqs = sim('GET', '/_sim/requests?method=GET');
my %per;
$per{ $_->{path} }++ for grep { $_->{path} ne '/v1/calls' } @$reqs;
is(scalar(keys %per), 10, 'one lookup and one transcript fetch per ended call, nothing else');
is(scalar(grep { $_ != 1 } values %per), 0, 'each fetched once');
sim('POST', "/_sim/calls/$_->{api_call_id}/finish", { status => 'completed' })
  for @{ call_rows($node, "id IN ($ids) AND status = 'in-progress'") };
ok(wait_complete("id IN ($ids)", 60), 'all 300 calls followed to their end');
sim('POST', '/_sim/config', { default_script => { hold => JSON::PP::false, turn_interval => 0.05,
	turns => [ { role => 'agent', content => 'Hello, this is a call from agentphone.' },
		{ role => 'user', content => 'Hi, thanks for calling.' }, { role => 'agent', content => 'Goodbye.' } ] } });

# --- killed while writing transcripts: each stored exactly once
slow_transcript_writes(0.01);
my @long = map { { role => $_ % 2 ? 'user' : 'agent', content => "line $_" } } 1 .. 60;
sim('POST', '/_sim/script', { scripts => [ map { { outcome => 'completed', turns => \@long, turn_interval => 0.001 } } 1 .. 10 ] });
my $kids = sql(q{SELECT string_agg(agentphone_call('agt_1', '+1415557' || lpad(i::text, 4, '0'))::text, ',') FROM generate_series(1, 10) i});
ok(writing_transcripts(), 'the worker is writing transcripts');
kill_worker($node, 'SIGKILL') or die 'worker did not come back';
normal_transcript_writes();
ok(wait_complete("id IN ($kids)", 60), 'after the crash every transcript is completed');
is(sql("SELECT count(*) FROM agentphone.calls WHERE id IN ($kids) AND status = 'completed'"), '10',
	'killed mid-write: the calls reached their final status');
is(sql("SELECT count(DISTINCT call_id) FILTER (WHERE n = 60) FROM (SELECT call_id, count(*) n FROM agentphone.transcripts WHERE call_id IN ($kids) GROUP BY 1) t"),
	'10', 'each transcript has its 60 turns exactly once');
is(sql("SELECT count(*) FROM agentphone.transcripts t WHERE call_id IN ($kids) AND content <> 'line ' || seq"), '0',
	'in order');

# --- a call the API forgets is no longer followed
my $lost = place({ hold => JSON::PP::true, turns => [] });
sim('POST', '/_sim/reset');
ok(wait_until(sub { sql("SELECT status FROM agentphone.calls WHERE id = $lost") eq 'unknown' }, 10),
	'a call the API answers 404 for becomes unknown');
is(sql("SELECT last_error FROM agentphone.calls WHERE id = $lost"),
	'the API no longer knows this call (AgentPhone API answered HTTP 404: Call not found); it is not followed any more',
	'and says why');

# --- the trigger helper
sql(q{
	CREATE TABLE appointments (id serial, patient text, phone text, slot text, vars jsonb, call_id bigint);
	CREATE TRIGGER confirm BEFORE INSERT ON appointments FOR EACH ROW
		EXECUTE FUNCTION agentphone_dial_trigger('agt_1', 'phone', 'patient,slot', 'call_id');
});
my $before = sql('SELECT count(*) FROM agentphone.calls');
sql(q{INSERT INTO appointments (patient, phone, slot) SELECT 'P' || i, '+1415558' || lpad(i::text, 4, '0'), i || ':00' FROM generate_series(1, 5) i});
is(sql('SELECT count(*) FROM appointments a JOIN agentphone.calls c ON c.id = a.call_id AND c.to_number = a.phone'), '5',
	'trigger helper: one call per row, its id stored in the row (BEFORE)');
is(sql("SELECT c.variables::text FROM appointments a JOIN agentphone.calls c ON c.id = a.call_id WHERE a.patient = 'P2'"),
	'{"slot": "2:00", "patient": "P2"}', 'trigger helper: variables from the listed columns');
sql(q{BEGIN; INSERT INTO appointments (patient, phone, slot) VALUES ('X', '+14155589999', '1:00'); ROLLBACK;});
is(sql('SELECT count(*) FROM agentphone.calls') - $before, 5, 'a rolled-back insert queues nothing');
sql(q{CREATE TABLE leads (name text, phone text, info jsonb);
	CREATE TRIGGER dial AFTER INSERT ON leads FOR EACH ROW EXECUTE FUNCTION agentphone_dial_trigger('agt_1', 'phone', 'info')});
sql(q{INSERT INTO leads VALUES ('L', '+14155589998', '{"name": "L", "n": 7}')});
is(sql("SELECT variables::text FROM agentphone.calls WHERE to_number = '+14155589998'"), '{"n": "7", "name": "L"}',
	'trigger helper: variables from a jsonb column (AFTER)');
sql(q{CREATE TABLE bad (phone text);
	CREATE TRIGGER dial AFTER INSERT ON bad FOR EACH ROW EXECUTE FUNCTION agentphone_dial_trigger('agt_1', 'telephone')});
my ($rc, $out, $err) = $node->psql('postgres', q{INSERT INTO bad VALUES ('+14155589997')}, on_error_stop => 1);
like($err, qr/column "telephone" of agentphone_dial_trigger\(\) does not exist in table public.bad/,
	'trigger helper: a bad column name is an error at the first row');
is(sql("SELECT count(*) FROM agentphone.calls WHERE to_number = '+14155589997'"), '0', 'and nothing is queued');

# --- the README's reporting queries, run as written, once the trigger
# helper's calls (the default script's transcript) are stored
ok(wait_complete("to_number LIKE '+1415558%'", 30), 'the trigger helper\'s calls ended, transcripts stored');
my $readme = slurp_file('README.md');
my ($section) = $readme =~ /^### Reporting\n(.*?)^## /ms;
my @queries = $section =~ /```sql\n(.*?)```/gs;
is(scalar(@queries), 4, 'the README has four reporting queries');
my @reports = map { sql($_) } @queries;
like($reports[0], qr/^\d{4}-\d\d-\d\d\|completed\|\d+$/m, 'calls per status per day');
like($reports[1], qr/^agt_1\|\d+\|\d+(\.\d)?$/m, 'average duration per agent');
like($reports[2], qr/\|2\|user\|Hi, thanks for calling\.$/m, 'search transcripts for a phrase');
like($reports[3], qr/\|completed\|\d+$/m, 'calls whose transcript mentions a word');

# --- event retention trims events only, in batches
my $calls_before = sql('SELECT count(*) FROM agentphone.calls');
my $complete = sql('SELECT string_agg(id::text, \',\') FROM agentphone.calls WHERE transcript_complete');
my $turns_sql = "SELECT count(*) FROM agentphone.transcripts WHERE call_id IN ($complete)";
my $turns_before = sql($turns_sql);
# (older transitions of the stored calls, so that there are several
# batches to trim whatever this file queued above)
sql(q{INSERT INTO agentphone.call_events (call_id, from_status, to_status, at)
	SELECT id, 'queued', 'dispatching', now() - interval '1 day' FROM agentphone.calls, generate_series(1, 4)});
cmp_ok(sql('SELECT count(*) FROM agentphone.call_events'), '>', 1000, 'more than one batch of events');
sql(q{ALTER SYSTEM SET agentphone.event_retention = '2s'; ALTER SYSTEM SET agentphone.sweep_interval = '200ms'; SELECT pg_reload_conf()});
sleep 2;
sql("SELECT agentphone_call('agt_1', '+14155589990')");
ok(wait_until(sub { sql(q{SELECT count(*) FROM agentphone.call_events WHERE at < now() - interval '3 seconds'}) == 0 }, 30),
	'events older than agentphone.event_retention are deleted');
cmp_ok(sql('SELECT count(*) FROM agentphone.call_events'), '>', 0, 'recent events are kept');
is(sql('SELECT count(*) FROM agentphone.calls'), $calls_before + 1, 'calls are kept');
is(sql($turns_sql), $turns_before, 'transcripts are kept');

$node->stop;
done_testing();
