# 001_dispatch.pl: calls are placed only after COMMIT, exactly once each,
# with the documented request body; the worker is woken by the commit
# rather than finding the call by polling, and an idle worker is quiet.
use strict;
use warnings;

use AgentphoneTest;
use JSON::PP;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time sleep);

start_sim();
# A sweep of one hour: any call placed promptly was found through the
# commit's wake-up, not by the sweep.
my $node = new_node('dispatch',
	"agentphone.sweep_interval = '1h'\nagentphone.poll_interval = '200ms'\nmax_prepared_transactions = 2\n");

ok(wait_until(sub { $node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'agentphone worker'") == 1 }),
	'the worker is running');

# --- ROLLBACK: nothing is ever sent
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT agentphone_call('agt_1', '+14155550100');
	SELECT agentphone_call('agt_1', '+14155550101');
	ROLLBACK;
});
my $control = $node->safe_psql('postgres',
	"SELECT agentphone_call('agt_1', '+14155550199')");
is($node->safe_psql('postgres', "SELECT agentphone_wait($control, '20 s')"),
	'in-progress', 'a committed call after the rolled-back ones is placed');
# give a hypothetical late dispatch time to show up
$node->safe_psql('postgres', "ALTER SYSTEM SET agentphone.sweep_interval = '200ms'; SELECT pg_reload_conf()");
sleep 1;
my $posts = sim_posts();
is(scalar(@$posts), 1, 'rolled-back calls were never POSTed, only the committed one');
is($posts->[0]{body}{toNumber}, '+14155550199', 'the one POST is the committed call');
$node->safe_psql('postgres', "ALTER SYSTEM SET agentphone.sweep_interval = '1h'; SELECT pg_reload_conf()");
sim('POST', '/_sim/reset');

# --- wake at commit: the first POST follows the COMMIT closely
sleep 0.5;
my $t_before = time();
my $wake_id = $node->safe_psql('postgres', "SELECT agentphone_call('agt_1', '+14155550102')");
ok(wait_until(sub { @{ sim_posts() } == 1 }, 5),
	'the call was POSTed with the sweep set to one hour');
# an upper bound: from before psql started to the simulator's receipt
my $latency = sim_posts()->[0]{time} - $t_before;
note(sprintf('commit to POST: at most %.1f ms', 1000 * $latency));
cmp_ok($latency, '<', 2.0, 'the POST followed the commit, not a sweep');

# --- 100 calls from one INSERT ... SELECT through a trigger
sim('POST', '/_sim/reset');
$node->safe_psql('postgres', q{
	CREATE TABLE leads (id int PRIMARY KEY, name text, phone text, vip boolean);
	CREATE FUNCTION dial_lead() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM agentphone_call('agt_1', NEW.phone,
			jsonb_build_object('name', NEW.name, 'vip', NEW.vip, 'lead', NEW.id),
			from_number_id => CASE WHEN NEW.id % 2 = 0 THEN 'num_2' END,
			initial_greeting => CASE WHEN NEW.id % 3 = 0 THEN 'Hello ' || NEW.name END,
			voice => CASE WHEN NEW.id % 5 = 0 THEN 'voice_' || NEW.id END,
			system_prompt => CASE WHEN NEW.id % 7 = 0 THEN 'You call {{name}}.' END,
			options => CASE WHEN NEW.id % 4 = 0
				THEN jsonb_build_object('modelTier', 'turbo', 'disableRecording', true,
					'callScreeningPurpose', NULL) END);
		RETURN NEW;
	END $$;
	CREATE TRIGGER dial AFTER INSERT ON leads FOR EACH ROW EXECUTE FUNCTION dial_lead();
});
$node->safe_psql('postgres', q{
	INSERT INTO leads SELECT i, 'Lead ' || i, '+1415555' || lpad(i::text, 4, '0'), i % 2 = 1
	FROM generate_series(1, 100) i;
});
ok(wait_until(sub { $node->safe_psql('postgres',
	"SELECT count(*) FROM agentphone.calls WHERE status IN ('queued', 'dispatching')") == 0 }, 60),
	'all 100 calls left the queue');

$posts = sim_posts();
is(scalar(@$posts), 100, 'exactly 100 POSTs for 100 rows');
my %by_number;
push @{ $by_number{ $_->{body}{toNumber} } }, $_ for @$posts;
is(scalar(keys %by_number), 100, 'one POST per row, no number twice');

my $rows = call_rows($node, "id > $wake_id");
is(scalar(@$rows), 100, '100 calls in agentphone.calls');
my ($bodies_ok, $headers_ok, $ids_ok) = (0, 0, 0);
my $canon = JSON::PP->new->canonical;
for my $row (@$rows)
{
	my $post = $by_number{ $row->{to_number} }[0] or next;
	my %expect = (agentId => $row->{agent_id}, toNumber => $row->{to_number},
		variables => $row->{variables});
	$expect{fromNumberId} = $row->{from_number_id} if defined $row->{from_number_id};
	$expect{initialGreeting} = $row->{initial_greeting} if defined $row->{initial_greeting};
	$expect{voice} = $row->{voice} if defined $row->{voice};
	$expect{systemPrompt} = $row->{system_prompt} if defined $row->{system_prompt};
	if ($row->{options})
	{
		$expect{$_} = $row->{options}{$_}
		  for grep { defined $row->{options}{$_} } keys %{ $row->{options} };
	}
	$bodies_ok++ if $canon->encode($post->{body}) eq $canon->encode(\%expect);
	$headers_ok++
	  if $post->{headers}{authorization} eq "Bearer $AgentphoneTest::API_KEY"
	  && $post->{headers}{'content-type'} eq 'application/json';
	$ids_ok++
	  if defined $row->{api_call_id}
	  && $row->{api_call_id} eq $post->{call_id}
	  && $row->{status} =~ /^(in-progress|completed)$/
	  && $row->{attempts} == 1;
}
is($bodies_ok, 100, 'every body is exactly the documented JSON for its row');
is($headers_ok, 100, 'every POST carries the Bearer key and a JSON content type');
is($ids_ok, 100, "every row holds the API's call id and status");
my $sample = $by_number{'+14155550012'}[0]{body};
is($canon->encode($sample), $canon->encode({
	agentId => 'agt_1', toNumber => '+14155550012', fromNumberId => 'num_2',
	initialGreeting => 'Hello Lead 12', modelTier => 'turbo', disableRecording => JSON::PP::true,
	variables => { name => 'Lead 12', vip => 'false', lead => '12' } }),
	'a sample body: camelCase names, variables as strings, options inlined, nulls left out');

# --- pacing and concurrency are reported; the worker shows what it does
like($node->safe_psql('postgres',
	"SELECT query FROM pg_stat_activity WHERE backend_type = 'agentphone worker'"),
	qr/^agentphone: /, 'pg_stat_activity shows what the worker is doing');

# --- a queued call that a user's transaction holds locked is skipped, not
# waited for and not spun on; it goes out soon after the lock is released,
# though nothing wakes the worker then and the sweep is an hour away.  It
# is queued through a prepared transaction, which wakes nobody, and due
# only in 1.5 s, so that the user's transaction locks it before any pass
# of the worker could take it.
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT agentphone_call('agt_1', '+14155550190', not_before => clock_timestamp() + interval '1.5 s');
	PREPARE TRANSACTION 'unseen';
	COMMIT PREPARED 'unseen';
});
my ($lin, $lout) = ("BEGIN;\nSELECT id FROM agentphone.calls WHERE to_number = '+14155550190' AND status = 'queued' FOR UPDATE;\n"
	  . "SELECT pg_sleep(3);\nCOMMIT;\n", '');
my $locker = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-f', '-' ],
	'<', \$lin, '>', \$lout, '2>', \$lout);
ok(wait_until(sub { $locker->pump_nb; $lout =~ /^\d+$/m }, 10), 'a user transaction locks a queued call');
$node->safe_psql('postgres', q{SELECT pg_sleep(greatest(0, extract(epoch FROM
	(SELECT next_attempt_at FROM agentphone.calls WHERE to_number = '+14155550190') - clock_timestamp()) + 0.1))});
my $posts_before = @{ sim_posts() };
my $cpu = worker_cpu_seconds($node);
my $other = $node->safe_psql('postgres', "SELECT agentphone_call('agt_1', '+14155550191')");
is($node->safe_psql('postgres', "SELECT agentphone_wait($other, '5 s')"), 'in-progress',
	'the worker, woken by another call, places that one');
is($node->safe_psql('postgres', "SELECT status FROM agentphone.calls WHERE to_number = '+14155550190'"),
	'queued', 'and skips the locked call without waiting for the lock');
$locker->finish;
ok(wait_until(sub { $node->safe_psql('postgres',
	"SELECT status FROM agentphone.calls WHERE to_number = '+14155550190'") eq 'in-progress' }, 5),
	'the locked call is placed soon after the lock goes');
my $used = worker_cpu_seconds($node) - $cpu;
note("worker CPU while a queued call was locked for 2 s: $used s");
cmp_ok($used, '<', 0.5, 'the worker did not spin while the call was locked');
is(scalar(@{ sim_posts() }) - $posts_before, 2, 'one POST each');

# --- an idle worker runs no queries but the sweep
sub scans
{
	return $node->safe_psql('postgres', q{
		SELECT pg_stat_force_next_flush();
		SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables
		WHERE relid = 'agentphone.calls'::regclass});
}
# the calls end and their transcripts are stored; then polling stops
ok(wait_until(sub { $node->safe_psql('postgres',
	"SELECT count(*) FROM agentphone.calls WHERE NOT transcript_complete AND status <> 'unknown'") == 0 }, 60),
	'every call was followed to its end');
sleep 2;
my $s1 = scans();
sleep 3;
is(scans(), $s1, 'no query touched agentphone.calls in 3 idle seconds (sweep 1 h, no live call)');
$node->safe_psql('postgres', "ALTER SYSTEM SET agentphone.sweep_interval = '250ms'; SELECT pg_reload_conf()");
sleep 1;
$s1 = scans();
sleep 3;
cmp_ok(scans() - $s1, '>=', 4, 'with a 250 ms sweep the worker does look (so the check above can fail)');

# --- the API closes idle connections: the worker does not spin on the
# closed sockets it keeps for reuse, and dials again on fresh ones
sim('POST', '/_sim/config', { idle_seconds => 0.3 });
my $first = $node->safe_psql('postgres', "SELECT agentphone_call('agt_1', '+14155550901')");
is($node->safe_psql('postgres', "SELECT agentphone_wait($first, '20 s')"), 'in-progress',
	'a call is placed over connections the API closes when idle');
ok(wait_until(sub { $node->safe_psql('postgres',
	"SELECT transcript_complete FROM agentphone.calls WHERE id = $first") eq 't' }, 30),
	'and followed to its end');
sleep 1;    # every connection idle past 0.3 s: closed by the API
$cpu = worker_cpu_seconds($node);
sleep 2;
$used = worker_cpu_seconds($node) - $cpu;
note("worker CPU over 2 s with its kept connections closed by the API: $used s");
cmp_ok($used, '<', 0.3, 'the worker does not spin on connections the API closed');
my $second = $node->safe_psql('postgres', "SELECT agentphone_call('agt_1', '+14155550902')");
is($node->safe_psql('postgres', "SELECT agentphone_wait($second, '20 s')"), 'in-progress',
	'the next call is placed on a new connection');

$node->stop;
done_testing();
