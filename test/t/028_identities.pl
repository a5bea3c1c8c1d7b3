# 028_identities.pl: identities are the role that acts (current_user), by
# OID.  Behind a pooler that logs in as one role and switches tenants with
# SET ROLE, each tenant lists numbers on the do-not-call list that only it
# reads the reasons of, and a tenant's quota is its own, not the login
# role's.  A role dropped and created again under the same name (a new
# employee with an old user name) sees nothing of the old one's calls,
# transcripts and events, and the old one's queued call is canceled,
# never POSTed.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;

start_sim();
my $node = new_node('identities', $QUICK);

sql(q{
	CREATE ROLE tenant_a NOLOGIN IN ROLE agentphone_caller;
	CREATE ROLE tenant_b NOLOGIN IN ROLE agentphone_caller;
	CREATE ROLE tenant_q NOLOGIN IN ROLE agentphone_caller;
	CREATE ROLE pooler LOGIN NOINHERIT IN ROLE tenant_a, tenant_b, tenant_q;
	ALTER ROLE tenant_q SET agentphone.role_calls_per_hour = 2;
	ALTER ROLE pooler SET agentphone.role_calls_per_hour = 1;
});
my $as = sub { my ($role, $query) = @_; sql("SET ROLE $role; $query", as => 'pooler') };
my $error_as = sub { my ($role, $query) = @_; sql_error("SET ROLE $role; $query", as => 'pooler') };

# --- the do-not-call list, per tenant of the pool
$as->('tenant_a', q{SELECT agentphone_do_not_call('+14155557301', 'tenant A: hospice patient, family asked')});
is($as->('tenant_a', 'SELECT number || \' \' || reason || \' \' || added_by FROM agentphone.do_not_call'),
	'+14155557301 tenant A: hospice patient, family asked tenant_a', 'tenant A reads its entry, listed by tenant_a');
is($as->('tenant_b', 'SELECT count(*) FROM agentphone.do_not_call'), '0',
	'tenant B, through the same login, reads nothing of it');
my $refusal = $error_as->('tenant_b', q{SELECT agentphone_call('agt_1', '+14155557301')});
like($refusal, qr/\+14155557301 is on the do-not-call list/, 'tenant B may not call the number either');
unlike($refusal, qr/hospice/, 'and is not told the reason');
like($error_as->('tenant_a', q{SELECT agentphone_call('agt_1', '+14155557301')}), qr/hospice patient/,
	'tenant A is told its own reason');

# --- quotas: the acting role's, not the login role's
is($as->('tenant_q', q{SELECT count(agentphone_call('agt_1', '+1415555731' || i)) FROM generate_series(1, 2) i}), '2',
	'tenant_q queues the 2 calls of its quota through the pool');
like($error_as->('tenant_q', q{SELECT agentphone_call('agt_1', '+14155557313')}),
	qr/role tenant_q has queued 2 or more calls in the last hour \(agentphone.role_calls_per_hour = 2\)/,
	'its third is refused, naming its own quota');
is($as->('tenant_b', q{SELECT count(agentphone_call('agt_1', '+1415555732' || i)) FROM generate_series(1, 3) i}), '3',
	'tenant_b, without a quota, is not held to the login role\'s quota of 1');
sql('ALTER ROLE tenant_b IN DATABASE postgres SET agentphone.role_calls_per_hour = 3');
like($error_as->('tenant_b', q{SELECT agentphone_call('agt_1', '+14155557324')}),
	qr/agentphone.role_calls_per_hour = 3/, 'a quota set for the role in this database applies too');
is(sql("SELECT string_agg(DISTINCT created_by::text, ',') FROM agentphone.calls WHERE to_number LIKE '+1415555731_'"),
	'tenant_q', 'the calls are the acting role\'s');

# --- a role dropped and created again under the same name
sql('CREATE ROLE ada LOGIN IN ROLE agentphone_caller');
my $done = sql(q{SELECT agentphone_call('agt_1', '+14155557401')}, as => 'ada');
is(sql("SELECT agentphone_wait($done, '30 s', 'transcript')", as => 'ada'), 'completed', 'ada\'s call completed');
my $queued = sql(q{SELECT agentphone_call('agt_1', '+14155557402', not_before => now() + interval '1 hour')}, as => 'ada');
my $api_id = sql("SELECT api_call_id FROM agentphone.calls WHERE id = $done");
cmp_ok(sql("SELECT count(*) FROM agentphone.transcripts WHERE call_id = $done", as => 'ada'), '>', 0,
	'ada reads her transcript');
sql('DROP ROLE ada; CREATE ROLE ada LOGIN; GRANT agentphone_caller TO ada');
is(sql('SELECT count(*) FROM agentphone.calls', as => 'ada')
	  . sql('SELECT count(*) FROM agentphone.transcripts', as => 'ada')
	  . sql('SELECT count(*) FROM agentphone.call_events', as => 'ada')
	  . sql('SELECT count(*) FROM agentphone.call_report', as => 'ada'),
	'0000', 'the new ada sees none of the old one\'s calls, transcripts, events or reports');
like(sql_error("SELECT agentphone_call_transcript('$api_id')", as => 'ada'), qr/permission denied for API call/,
	'nor reaches the old call through the API');
like(sql_error("SELECT agentphone_cancel($queued)", as => 'ada'), qr/call $queued does not exist/,
	'nor cancels the old one\'s queued call');
sql("UPDATE agentphone.calls SET next_attempt_at = now() WHERE id = $queued");
ok(wait_until(sub { sql("SELECT status FROM agentphone.calls WHERE id = $queued") eq 'canceled' }, 20),
	'the old ada\'s queued call is canceled when it comes due');
like(sql("SELECT last_error FROM agentphone.calls WHERE id = $queued"),
	qr/not dialed: the role that queued it \(OID \d+\) no longer exists/, 'saying why');
is(posts_to('+14155557402'), 0, 'and never POSTed');

$node->stop;
done_testing();
