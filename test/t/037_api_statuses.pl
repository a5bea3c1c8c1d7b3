# 037_api_statuses.pl: the API's statuses cannot derail a call.  Until 1.9
# the API's word was stored in calls.status beside agentphone's own
# states: a placed call the API reported "reconciling" was stored
# "reconciling" with its transcript complete, reconciled, and with
# agentphone.on_unknown = redial POSTed a second time.  Now status takes
# only agentphone's states (read here from the table's constraint and
# compared with the README's table), the API's word is kept in api_status,
# every colliding or unknown word maps to a documented state with one
# WARNING, and an ended call is never queued or retried again.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

start_sim();
my $node = new_node('api_statuses', q{
agentphone.poll_interval = '200ms'
agentphone.on_unknown = redial
agentphone.reconcile_delay = '1s'
agentphone.request_timeout = '1500ms'
});

# place(NUMBER, SCRIPT): a call the simulator runs with SCRIPT; its id once
# it has been POSTed (calls go one at a time, so that scripts match calls)
sub place
{
	my ($number, $script) = @_;
	sim('POST', '/_sim/script', { scripts => [$script] });
	my $id = sql(call_query($number));
	wait_until(sub { posts_to($number) == 1 }, 30) or die "call to $number was not POSTed";
	return $id;
}

sub row_of
{
	my ($id) = @_;
	return sql("SELECT status || ' ' || coalesce(api_status, '-') || ' ' || transcript_complete"
		  . " FROM agentphone.calls WHERE id = $id");
}

sub settled
{
	my ($id, $want) = @_;
	return wait_until(sub { row_of($id) eq $want }, 30);
}

# 1. The issue's reproduction: the API ends a call with status
# "reconciling"; on_unknown = redial.  On 1.8 the call was stored
# "reconciling" with its transcript, and after a restart POSTed again.
my $r = place('+14155559101', { outcome => 'reconciling', turn_interval => 0.05 });
ok(settled($r, 'failed reconciling true'),
	'a call the API ended as "reconciling" is failed, the word in api_status, its transcript stored')
  or diag(row_of($r));
is(sql("SELECT count(*) FROM agentphone.transcripts WHERE call_id = $r"), 3, 'its transcript is stored once');
sleep 2;    # reconcile_delay 1 s, poll 200 ms: every cycle had its chance
$node->restart;    # (1.8 reconciled it at the worker's start, and POSTed it again)
sleep 4;
is(posts_to('+14155559101'), 1, 'it was POSTed once, and never again (on_unknown = redial), across a restart');
is(sql("SELECT string_agg(coalesce(from_status, '-') || '>' || to_status, ' ' ORDER BY id)"
	  . " FROM agentphone.call_events WHERE call_id = $r"),
	'queued>dispatching dispatching>in-progress in-progress>failed',
	'its events never show "reconciling"');

# 2. A live call whose API status is agentphone's "queued", from the POST's
# answer on: in-progress, followed, never claimed again; then it ends.
my $q = place('+14155559102', { live_status => 'queued', hold => JSON::PP::true });
ok(settled($q, 'in-progress queued false'), 'a call the API shows "queued" while live is in-progress')
  or diag(row_of($q));
sleep 1.5;
is(posts_to('+14155559102'), 1, 'and is not dialed again');
my $q_api = sql("SELECT api_call_id FROM agentphone.calls WHERE id = $q");
sim('POST', "/_sim/calls/$q_api/finish", { status => 'completed' });
ok(settled($q, 'completed completed true'), 'once the API ends it completed, it is completed')
  or diag(row_of($q));

# 3. The same word when the POST's answer was lost: reconciliation finds
# the call in the API's list and adopts it as in-progress.
sim('POST', '/_sim/faults', { faults => [ { kind => 'drop_after', method => 'POST', path => '/v1/calls' } ] });
my $a = place('+14155559103', { live_status => 'dispatching', hold => JSON::PP::true });
ok(settled($a, 'in-progress dispatching false'),
	'a lost answer, then the API lists the call as "dispatching": adopted as in-progress')
  or diag(row_of($a));
my $a_api = sql("SELECT api_call_id FROM agentphone.calls WHERE id = $a");
sim('POST', "/_sim/calls/$a_api/finish", { status => 'error' });
ok(settled($a, 'failed error true'), 'ended by the API as "error": failed') or diag(row_of($a));
is(posts_to('+14155559103'), 1, 'POSTed once');

# 4. Words agentphone does not know, and the documented variants.
my $v = place('+14155559104', { outcome => 'voicemail', turn_interval => 0.05 });
ok(settled($v, 'failed voicemail true'), 'an unknown word with an end time: failed') or diag(row_of($v));
my $g = place('+14155559105', { live_status => 'ringing', hold => JSON::PP::true });
ok(settled($g, 'in-progress ringing false'), '"ringing" is in-progress') or diag(row_of($g));
my $u = place('+14155559106', { live_status => 'in_progress', outcome => 'no-answer', turn_interval => 0.05 });
ok(settled($u, 'no-answer no-answer true'), '"in_progress" was followed to its end, no-answer') or diag(row_of($u));

my $log = slurp_file($node->logfile);
my @warned = $log =~ /WARNING:  agentphone: the API reported call status "([^"]+)"/g;
is(join(' ', sort @warned), 'dispatching error queued reconciling voicemail',
	'one WARNING per word that maps to another state, none for the documented ones');
like($log, qr/status "reconciling", which is one of agentphone's own states; stored as "failed"/,
	'the WARNING says the word collides and what was stored');
like($log, qr/status "voicemail", which agentphone does not know; stored as "failed"/,
	'and that a word is unknown');

# 5. The states, enumerated from the table's constraint, are the README's,
# and every stored status and event is one of them.
my $check = sql(q{SELECT pg_get_constraintdef(oid) FROM pg_constraint
	WHERE conrelid = 'agentphone.calls'::regclass AND conname = 'calls_status_check'});
my @states = sort($check =~ /'([^']+)'/g);
cmp_ok(scalar(@states), '>=', 13, 'the constraint lists the states') or diag($check);
my $readme = slurp_file('README.md');
my ($section) = $readme =~ /\n## Statuses\n(.*?)\n## /s;
my @documented = sort map { /^\| (.*?) \|/ ? ($1 =~ /`([^`]+)`/g) : () } grep { !/^\|(---|.*Status \| Meaning)/ }
  split /\n/, $section;
is("@documented", "@states", "README's Statuses table documents exactly the constraint's states");
my $calls_h = slurp_file('src/calls.h');
my @named = sort($calls_h =~ /^#define CALL_\w+\s+"([^"]+)"/mg);
is("@named", "@states", 'src/calls.h names exactly the same states');
my $callstatus = slurp_file('src/callstatus.c');
my ($table) = $callstatus =~ /states\[\] = \{(.*?)\n\};/s;
my @phased = sort($table =~ /\{CALL_(\w+), PHASE_/g);
my @macros = sort($calls_h =~ /^#define CALL_(\w+)\s+"/mg);
is("@phased", "@macros", 'and src/callstatus.c gives each of them a phase');
my $in = join(', ', map { "'$_'" } @states);
is(sql("SELECT count(*) FROM agentphone.calls WHERE status NOT IN ($in)")
	  . ' ' . sql("SELECT count(*) FROM agentphone.call_events WHERE to_status NOT IN ($in)"),
	'0 0', 'every stored status and event is one of them');

# 6. Attacks on the constraints, and on a retry of an ended call.
like(sql_error("UPDATE agentphone.calls SET status = 'ringing' WHERE id = $g", verbose => 1),
	qr/23514.*calls_status_check/s, 'a superuser cannot store a word outside the states');
like(sql_error("UPDATE agentphone.calls SET status = 'queued', next_attempt_at = now() WHERE id = $r", verbose => 1),
	qr/23514.*calls_ended_stays_ended/s, 'nor queue an ended call again');
sql("UPDATE agentphone.calls SET status = 'unknown' WHERE id = $v");
like(sql_error("SELECT agentphone_retry($v)", verbose => 1),
	qr/55000.*call $v was placed and has ended: it cannot be retried.*HINT:  Place a new call with agentphone_call\(\)/s,
	'agentphone_retry() refuses a call that has ended, and says what to do');
sleep 1;
is(posts_to('+14155559104'), 1, 'the ended call was not dialed again');
unlike($log, qr/terminated by signal|could not (update a polled|adopt|record)/, 'the worker never failed to store an answer');

done_testing();
