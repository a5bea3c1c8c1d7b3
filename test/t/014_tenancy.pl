# 014_tenancy.pl: privileges and tenancy.  A role without the documented
# grant reaches nothing of agentphone; a caller sees, waits for, cancels
# and ends only its own calls (row-level security, not only checks in C);
# nobody writes the tables directly, so the worker dials only what the
# functions queued; a role that loses the right to call before its call is
# dialed is never dialed for; a hostile search_path changes nothing.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

start_sim();
my $node = new_node('tenancy', "agentphone.sweep_interval = '200ms'\nagentphone.poll_interval = '300ms'\n");

sql(q{
	CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN; CREATE ROLE ann LOGIN;
	GRANT agentphone_caller TO alice, bob;
	GRANT agentphone_admin TO ann;
	CREATE SCHEMA alice_s AUTHORIZATION alice;
});

# --- a role without the grant reaches nothing
is(sql(q{
	SELECT count(*) FROM pg_depend d JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
	WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'agentphone') AND d.deptype = 'e'
	  AND has_function_privilege('carol', p.oid, 'EXECUTE')}), '0',
	'a role without the grant may execute none of the extension\'s functions');
is(sql(q{
	SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'agentphone'::regnamespace AND c.relkind IN ('r', 'v')
	  AND has_table_privilege('carol', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')}), '0',
	'nor read or write any of its tables and views');
my ($out, $err) = try_sql("SELECT agentphone_call('agt_1', '+14155551400')", as => 'carol');
like($err, qr/permission denied for function agentphone_call/, 'agentphone_call() is refused to it');
($out, $err) = try_sql('SELECT count(*) FROM agentphone.calls', as => 'carol');
like($err, qr/permission denied for schema agentphone/, 'agentphone.calls too');

# --- each caller sees its own calls
my $a1 = try_sql("SELECT agentphone_call('agt_1', '+14155551401')", as => 'alice');
my $a2 = try_sql("SELECT agentphone_call('agt_1', '+14155551402')", as => 'alice');
my $b1 = try_sql("SELECT agentphone_call('agt_1', '+14155551403')", as => 'bob');
ok($a1 && $a2 && $b1, 'granted roles queue calls');
ok(wait_until(sub { sql("SELECT count(*) FROM agentphone.calls WHERE transcript_complete") == 3 }, 30),
	'the calls are placed and their transcripts stored');
is(try_sql('SELECT string_agg(id::text, \',\' ORDER BY id) FROM agentphone.calls', as => 'alice'), "$a1,$a2",
	'alice sees her two calls only');
is(try_sql('SELECT string_agg(id::text, \',\' ORDER BY id) FROM agentphone.calls', as => 'bob'), "$b1",
	'bob sees his one call only');
is(try_sql('SELECT count(*) FROM agentphone.calls', as => 'ann'), '3', 'a member of agentphone_admin sees all');
is(try_sql("SELECT count(*) FROM agentphone.transcripts WHERE call_id IN ($a1, $a2)", as => 'bob'), '0',
	'bob sees none of alice\'s transcripts');
cmp_ok(try_sql("SELECT count(*) FROM agentphone.transcripts WHERE call_id = $a1", as => 'alice'), '>', 0,
	'alice sees hers');
is(try_sql("SELECT count(*) FROM agentphone.call_events WHERE call_id IN ($a1, $a2)", as => 'bob')
	  . try_sql("SELECT count(*) FROM agentphone.call_report WHERE id IN ($a1, $a2)", as => 'bob'), '00',
	'nor her events, nor her rows of agentphone.call_report');

# --- another role's call cannot be acted on
my $api_a1 = sql("SELECT api_call_id FROM agentphone.calls WHERE id = $a1");
($out, $err) = try_sql("SELECT agentphone_end_call($a1)", as => 'bob');
like($err, qr/call $a1 does not exist/, 'bob cannot end alice\'s call');
($out, $err) = try_sql("SELECT agentphone_wait($a1, '1 s')", as => 'bob');
like($err, qr/call $a1 does not exist/, 'nor wait for it');
($out, $err) = try_sql("SELECT agentphone_get_call('$api_a1')", as => 'bob');
like($err, qr/permission denied for API call \Q$api_a1\E/, 'nor read it from the API');
($out, $err) = try_sql("SELECT count(*) FROM agentphone_call_transcript('$api_a1')", as => 'bob');
like($err, qr/permission denied for API call/, 'nor its transcript');
is(try_sql("SELECT agentphone_get_call('$api_a1') ->> 'id'", as => 'alice'), $api_a1, 'alice can read it');
($out, $err) = try_sql('SELECT count(*) FROM agentphone_list_calls()', as => 'alice');
like($err, qr/permission denied for function agentphone_list_calls/, 'the API\'s whole call list is for admins');
cmp_ok(try_sql('SELECT count(*) FROM agentphone_list_calls()', as => 'ann'), '>=', 3, 'which an admin may read');

my $later = try_sql("SELECT agentphone_call('agt_1', '+14155551404', not_before => now() + interval '1 hour')", as => 'alice');
($out, $err) = try_sql("SELECT agentphone_cancel($later)", as => 'bob');
like($err, qr/call $later does not exist/, 'bob cannot cancel alice\'s queued call');
is(sql("SELECT status FROM agentphone.calls WHERE id = $later"), 'queued', 'it is still queued');
is(try_sql("SELECT agentphone_cancel($later)", as => 'ann'), 't', 'an admin can cancel it');
is(sql("SELECT last_error FROM agentphone.calls WHERE id = $later"), 'canceled by ann', 'and the row says who did');

# --- no direct writes: the worker dials only what the functions queued
my $posts = @{ sim_posts() };
for my $q (
	"INSERT INTO agentphone.calls (agent_id, to_number) VALUES ('agt_1', '+14155551405')",
	"UPDATE agentphone.calls SET status = 'queued', next_attempt_at = now() WHERE id = $later",
	"DELETE FROM agentphone.calls WHERE id = $a1",
	"SELECT * FROM agentphone.claim_calls(10)",
	"INSERT INTO agentphone.do_not_call (number) VALUES ('+14155551406')",
	"COPY agentphone.calls (agent_id, to_number) FROM PROGRAM 'echo'")
{
	($out, $err) = try_sql($q, as => 'alice');
	like($err, qr/permission denied|must be superuser|privileges of the pg_execute_server_program/, "refused to a caller: $q");
}
sleep 1;
is(scalar(@{ sim_posts() }), $posts, 'nothing was dialed by any of it');
is(sql("SELECT status FROM agentphone.calls WHERE id = $later"), 'canceled', 'the canceled call stays canceled');

# --- a hostile search_path: the functions pin their own
sql(q{
	CREATE FUNCTION alice_s.now() RETURNS timestamptz LANGUAGE plpgsql AS
	$$ BEGIN RAISE EXCEPTION 'hijacked'; END $$;
	ALTER FUNCTION alice_s.now() OWNER TO alice;
});
($out, $err) = try_sql("SET search_path = alice_s, pg_catalog, public; SELECT agentphone_call('agt_1', '+14155551407') > 0", as => 'alice');
is($out, 't', 'with her own now() first in search_path, alice\'s call is queued as usual');
unlike($err, qr/hijacked/, 'and her function never ran');

# --- the right to call revoked before the call is dialed
my $rev = try_sql("SELECT agentphone_call('agt_1', '+14155551408', not_before => now() + interval '2 seconds')", as => 'alice');
sql('REVOKE agentphone_caller FROM alice');
ok(wait_until(sub { sql("SELECT status FROM agentphone.calls WHERE id = $rev") eq 'canceled' }, 15),
	'REVOKE after queueing: the call is canceled when it comes due');
like(sql("SELECT last_error FROM agentphone.calls WHERE id = $rev"),
	qr/^not dialed: role alice may no longer place calls/, 'the row says why');
is(posts_to('+14155551408'), 0, 'the API never saw it');
($out, $err) = try_sql("SELECT agentphone_call('agt_1', '+14155551409')", as => 'alice');
like($err, qr/permission denied/, 'and alice can queue no more');

$node->stop;
done_testing();
