# 019_plans.pl: no statement that agentphone runs per call or periodically
# reads the stored history.  With 200,000 finished calls stored (and their
# events and transcripts), analyzed, auto_explain logs the plan of every
# statement the worker and agentphone's functions run, nested ones
# included, while every path runs: queueing by SELECT and by trigger,
# cancel, wait, dispatch, retry, a lost answer and its reconciliation,
# polling, transcripts, the event trim, the health report.  No plan may
# scan one of the big tables sequentially, nor filter away more than 200
# rows in any node (the live work is a few dozen calls): a query that stops
# using its index, or uses one that reads the history, fails here, by its
# plan, not by its time.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep time);

my $history = 200_000;

start_sim();
my $node = new_node('plans', $QUICK . q{
agentphone.reconcile_delay = '300ms'
agentphone.event_retention = '30d'
auto_explain.log_min_duration = -1
auto_explain.log_nested_statements = on
auto_explain.log_analyze = on
auto_explain.log_timing = off
});
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'agentphone,auto_explain'\n");
$node->restart;

# unexplained: the test's own look at the tables
sub quiet_sql
{
	local $ENV{PGOPTIONS} = '-c auto_explain.log_min_duration=-1';
	return sql(@_);
}

# --- the history: a year of finished calls over 20,000 numbers (548 of
# them in the last 24 hours), one event each, two transcript turns for
# every fourth
sql(qq{
	INSERT INTO agentphone.calls (created_at, created_by, agent_id, to_number, status,
		api_call_id, started_at, ended_at, duration_seconds, transcript_complete,
		attempts, next_attempt_at, dispatched_at, updated_at)
	SELECT t, 'postgres', 'agt_1', '+1415' || (2000000 + i % 20000)::text,
		(ARRAY['completed', 'completed', 'completed', 'failed', 'error', 'canceled', 'blocked', 'unknown'])[1 + i % 8],
		CASE WHEN i % 8 < 4 THEN 'call_hist_' || i END, t, t + interval '1 minute', 60,
		i % 8 < 4, 1, NULL, t, t
	  FROM generate_series(1, $history) i, LATERAL (SELECT now() - (i % 365) * interval '1 day' - interval '1 hour' AS t) s;
	INSERT INTO agentphone.call_events (call_id, from_status, to_status, at)
	SELECT id, 'in-progress', status, ended_at FROM agentphone.calls;
	INSERT INTO agentphone.transcripts (call_id, seq, role, content)
	SELECT id, s, CASE s WHEN 1 THEN 'agent' ELSE 'user' END, 'turn ' || s
	  FROM agentphone.calls, generate_series(1, 2) s WHERE id % 4 = 0 AND status = 'completed';
	-- and a campaign of 20,000 calls queued for next month
	INSERT INTO agentphone.calls (created_at, created_by, agent_id, to_number, next_attempt_at, not_before)
	SELECT now() - interval '2 hours', 'postgres', 'agt_1', '+1415' || (3000000 + i)::text,
		now() + interval '30 days', now() + interval '30 days'
	  FROM generate_series(1, 20000) i;
	ANALYZE agentphone.calls; ANALYZE agentphone.call_events; ANALYZE agentphone.transcripts;
});
is(sql("SELECT count(*) FROM agentphone.calls WHERE status <> 'queued'"), $history, "$history calls stored");

# From here on every statement's plan is logged, in every new session and
# in the worker (which connects again to take the setting).
sql("ALTER SYSTEM SET auto_explain.log_min_duration = 0; SELECT pg_reload_conf()");
my $old = quiet_sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'agentphone worker'");
quiet_sql("SELECT pg_terminate_backend($old)");
ok(wait_until(sub {
	my $p = quiet_sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'agentphone worker'");
	$p ne '' && $p ne $old }, 20), 'the worker reconnected');
my $offset = -s $node->logfile;

# --- every path
sql("CREATE ROLE app LOGIN IN ROLE agentphone_caller");
sql("SELECT count(agentphone_call('agt_1', '+1415' || (2000000 + i % 20000)::text)) FROM generate_series(1, 20) i", as => 'app');
sql(q{CREATE TABLE leads (id bigint GENERATED ALWAYS AS IDENTITY, phone text, name text, call_id bigint);
	GRANT INSERT, SELECT, UPDATE ON leads TO app;
	CREATE TRIGGER dial BEFORE INSERT ON leads FOR EACH ROW
		EXECUTE FUNCTION agentphone_dial_trigger('agt_1', 'phone', 'name', 'call_id')});
sql(q{INSERT INTO leads (phone, name) SELECT '+1415' || (7000000 + i)::text, 'n' || i FROM generate_series(1, 20) i}, as => 'app');
my $later = sql("SELECT agentphone_call('agt_1', '+14155557001', not_before => now() + interval '1 hour')", as => 'app');
sql("SELECT agentphone_cancel($later)", as => 'app');
sim('POST', '/_sim/faults', { faults => [ { method => 'POST', path => '/v1/calls', count => 1,
	kind => 'status', status => 503 }, { method => 'POST', path => '/v1/calls', count => 1, kind => 'drop_after' } ] });
my $id = sql("SELECT agentphone_call('agt_1', '+14155557002')", as => 'app');
sql("SELECT agentphone_wait($id, '20 s')", as => 'app');
ok(wait_until(sub {
	quiet_sql(q{SELECT count(*) FROM agentphone.calls WHERE created_at > now() - interval '1 hour'
		AND (status IN ('queued', 'dispatching', 'reconciling', 'in-progress') OR NOT transcript_complete)
		AND status NOT IN ('canceled', 'blocked', 'error')}) == 0 }, 90),
	'the new calls were placed, followed and their transcripts stored');
sql("SELECT * FROM agentphone_worker_status()");
sql("SELECT * FROM agentphone.stats");
sql("SELECT agentphone_do_not_call('+14155557003', 'x')");
sleep 1;

# --- the plans
my $log = substr(slurp_file($node->logfile), $offset);
my @plans = split /(?=^\S+ \S+ UTC \[\d+\] (?:\S+ )?LOG:  duration: [\d.]+ ms  plan:)/m, $log;
@plans = grep { /plan:/ } @plans;
cmp_ok(scalar(@plans), '>', 100, scalar(@plans) . ' plans logged');
my @worker = grep { /Query Text: .*agentphone\.(claim_calls|calls)/s } @plans;
cmp_ok(scalar(@worker), '>', 20, scalar(@worker) . ' of them touch agentphone.calls');
# query_of(PLAN): the statement a logged plan is for, on one line
sub query_of
{
	my ($plan) = @_;
	my ($text) = $plan =~ /Query Text: (.*?)\n\S/s;
	$text //= $plan;
	$text =~ s/\s+/ /g;
	return substr($text, 0, 300);
}
my %bad;
$bad{ query_of($_) }++ for grep { /Seq Scan on (calls|call_events|transcripts)(_default)?\b/ } @plans;
is(scalar(keys %bad), 0, 'no plan scans calls, call_events or transcripts sequentially')
  or diag join("\n", map { "$bad{$_}x $_" } sort keys %bad);
# rows_discarded(PLAN): the most rows one scan of a big table read and
# filtered away
sub rows_discarded
{
	my ($plan) = @_;
	my ($table, $most) = ('', 0);
	for my $line (split /\n/, $plan)
	{
		$table = $1 if $line =~ /(?:Scan|Scan using \S+) on (\w+)/;
		$table = '' if $line =~ /CTE Scan|Function Scan|Subquery Scan|Result|Join|Loop|Aggregate/;
		$most = $1 if $line =~ /Rows Removed by (?:Filter|Index Recheck): (\d+)/
		  && $table =~ /^(calls|call_events|transcripts)(_default)?$/ && $1 > $most;
	}
	return $most;
}
# A call looked up by id must be found through calls_pkey (or the index of
# the calls followed, which is on id): another index that merely contains
# id, such as the partial index of the queued calls, is read whole.
my %by_id;
for my $plan (@plans)
{
	while ($plan =~ /Index (?:Only )?Scan using (\w+) on calls\b[^\n]*\n\s+Index Cond: ([^\n]*)/g)
	{
		my ($index, $cond) = ($1, $2);
		$by_id{"$index: $cond in " . query_of($plan)}++
		  if $cond =~ /\(id = / && $index !~ /^(calls_pkey|calls_following_idx)$/;
	}
}
is(scalar(keys %by_id), 0, 'every lookup of a call by id goes through its primary key')
  or diag join("\n", map { "$by_id{$_}x $_" } sort keys %by_id);
my %wasteful;
$wasteful{ query_of($_) }++ for grep { rows_discarded($_) > 200 } @plans;
is(scalar(keys %wasteful), 0, 'no plan reads and discards more than 200 stored rows')
  or diag join("\n", map { "$wasteful{$_}x $_" } sort keys %wasteful);

done_testing();
