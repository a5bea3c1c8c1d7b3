# 029_no_stall.pl: nothing a caller or an admin holds stops the worker's
# work for others.  Every function that agentphone_caller or
# agentphone_admin may execute (read from the catalog: a function added
# later without an entry here fails the test) is run, as an admin, in a
# transaction left open for 60 s: agentphone_end_call() holding the row of
# a live call it marked "ending", agentphone_retry() and
# agentphone_cancel() holding queued rows, agentphone_refresh_agents()
# holding the agents' tables, the dialing trigger, and the rest, all at
# once, and a transaction that queued calls to 100 numbers.  Meanwhile another role's new call is POSTed within 2 s, and its
# live call is followed to its end with its transcript.  When the
# transactions commit, their own calls go on.
use strict;
use warnings;

use AgentphoneTest;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep time);

start_sim();
my $node = new_node('no_stall', $QUICK);

sql(q{
	CREATE ROLE holder LOGIN IN ROLE agentphone_admin;
	CREATE ROLE other_app LOGIN IN ROLE agentphone_caller;
	CREATE TABLE public.leads_t (phone text);
	CREATE TRIGGER dial AFTER INSERT ON public.leads_t FOR EACH ROW
		EXECUTE FUNCTION agentphone_dial_trigger('agt_1', 'phone');
	GRANT INSERT ON public.leads_t TO holder;
});

# the holder's calls its functions act on: one live (held by the API until
# told to end), one queued for later, one ended in error
sim('POST', '/_sim/script', { scripts => [ { hold => JSON::PP::true,
	turns => [ { role => 'agent', content => 'Hello from the live call.' } ], turn_interval => 0.05 } ] });
my $live = sql(q{SELECT agentphone_call('agt_1', '+14155558801')}, as => 'holder');
ok(wait_until(sub { sql("SELECT status FROM agentphone.calls WHERE id = $live") eq 'in-progress' }, 20),
	'the holder has a live call');
my $live_api = sql("SELECT api_call_id FROM agentphone.calls WHERE id = $live");
my $queued = sql(q{SELECT agentphone_call('agt_1', '+14155558802', not_before => now() + interval '1 hour')},
	as => 'holder');
my $failed = sql(q{INSERT INTO agentphone.calls (agent_id, to_number, created_by, status, last_error)
	VALUES ('agt_1', '+14155558803', 'holder', 'error', 'refused') RETURNING id});

# what each function is run as, in the open transaction
my %run = (
	'agentphone_call(text,text,jsonb,text,text,text,text,jsonb,text,timestamp with time zone)' =>
	  q{SELECT agentphone_call('agt_1', '+14155558810')},
	'agentphone_cancel(bigint)' => "SELECT agentphone_cancel($queued)",
	'agentphone_wait(bigint,interval)' => "SELECT agentphone_wait($live, '100 ms')",
	'agentphone_wait(bigint,interval,text)' => "SELECT agentphone_wait($live, '100 ms', 'ended')",
	'agentphone_retry(bigint)' => "SELECT agentphone_retry($failed)",
	'agentphone_do_not_call(text,text)' => q{SELECT agentphone_do_not_call('+14155558811', 'held')},
	'agentphone_allow_calls(text)' => q{SELECT agentphone_allow_calls('+14155558811')},
	'agentphone_get_call(text)' => "SELECT agentphone_get_call('$live_api') IS NOT NULL",
	'agentphone_list_calls(text,text,text,integer)' => 'SELECT count(*) FROM agentphone_list_calls()',
	'agentphone_list_calls_for_number(text,integer)' =>
	  q{SELECT count(*) FROM agentphone_list_calls_for_number('num_1')},
	'agentphone_call_transcript(text)' => "SELECT count(*) FROM agentphone_call_transcript('$live_api')",
	'agentphone_call_recording(text)' => "SELECT 1 FROM (SELECT agentphone_call_recording('$live_api')) r WHERE false",
	'agentphone_web_call(text,jsonb,jsonb)' => q{SELECT agentphone_web_call('agt_1') IS NOT NULL},
	'agentphone_end_call(bigint)' => "SELECT agentphone_end_call($live) IS NOT NULL",
	'agentphone_stream_transcript(text,interval)' =>
	  "SELECT count(*) FROM agentphone_stream_transcript('$live_api', '200 ms')",
	'agentphone_worker_status()' => 'SELECT running FROM agentphone_worker_status()',
	'agentphone_check_number(text)' => q{SELECT e164 FROM agentphone_check_number('+14155558812')},
	'agentphone_libphonenumber_version()' => 'SELECT agentphone_libphonenumber_version()',
	'agentphone_refresh_agents()' => 'SELECT agentphone_refresh_agents()',
	'agentphone_adopt_calls()' => 'SELECT agentphone_adopt_calls()',
	'agentphone_cancel_copied_calls()' => 'SELECT agentphone_cancel_copied_calls()',
	'agentphone_dial_trigger()' => q{INSERT INTO public.leads_t VALUES ('+14155558813')},
	'agentphone_channel(boolean)' => 'SELECT agentphone_channel()',
	'agentphone.acting_role()' => 'SELECT agentphone.acting_role()',
	'agentphone.granted_here(name)' => "SELECT agentphone.granted_here('agentphone_admin')");

# every function of the extension a caller or an admin may execute
my @functions = split /\n/, sql(q{SELECT p.oid::regprocedure FROM pg_proc p
	JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'agentphone'
	WHERE has_function_privilege('agentphone_admin', p.oid, 'EXECUTE') ORDER BY 1});
cmp_ok(scalar(@functions), '>=', 20, scalar(@functions) . ' functions a caller or an admin may run');
my @missing = grep { !exists $run{$_} } @functions;
is(join(', ', @missing), '', 'each has its attack here');

# --- each in a transaction of its own, left open
my @holders;
for my $fn (@functions)
{
	next unless exists $run{$fn};
	my $h = { fn => $fn, in => "BEGIN;\n$run{$fn};\nSELECT 'held';\n", out => '' };
	$h->{run} = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-U', 'holder', '-f', '-' ],
		'<', \$h->{in}, '>', \$h->{out}, '2>', \$h->{out});
	push @holders, $h;
}
# and a transaction that queued calls to 100 numbers (more than the 64 the
# lock table took one by one before 1.7, then all numbers at once)
{
	my $h = { fn => 'agentphone_call() to 100 numbers',
		in => "BEGIN;\nSELECT count(agentphone_call('agt_1', '+1415555' || (9000 + i))) FROM generate_series(1, 100) i;\nSELECT 'held';\n",
		out => '' };
	$h->{run} = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-U', 'holder', '-f', '-' ],
		'<', \$h->{in}, '>', \$h->{out}, '2>', \$h->{out});
	push @holders, $h;
}
ok(wait_until(sub { $_->{run}->pump_nb for @holders; !grep { $_->{out} !~ /^held$/m } @holders }, 30),
	'every function has run, each in its transaction left open');
diag(join("\n", map { "$_->{fn}: $_->{out}" } grep { $_->{out} !~ /^held$/m } @holders));
my $start = time;

# --- meanwhile, another role's calls
sim('POST', '/_sim/script', { scripts => [ { outcome => 'completed', duration_seconds => 2,
	turns => [ { role => 'agent', content => 'Hi.' }, { role => 'user', content => 'Bye.' } ], turn_interval => 0.3 } ] });
# (queued with a statement timeout: a queue that waits fails, not hangs)
my $queue = sub { scalar try_sql("SET statement_timeout = '5s'; SELECT agentphone_call('agt_1', '$_[0]')", as => 'other_app') };
my $other_live = $queue->('+14155558820') || 0;
my $t0 = time;
ok(wait_until(sub { posts_to('+14155558820') == 1 }, 2), 'another role\'s new call is POSTed within 2 s');
ok(wait_until(sub { sql("SELECT transcript_complete FROM agentphone.calls WHERE id = $other_live") eq 't' }, 30),
	'and followed to its end, its transcript stored, while the transactions stay open');
$queue->('+14155558821');
ok(wait_until(sub { posts_to('+14155558821') == 1 }, 2), 'and the next one too');

# hold the transactions 60 s in all
sleep(60 - (time - $start)) if time - $start < 60;
$queue->('+14155558822');
ok(wait_until(sub { posts_to('+14155558822') == 1 }, 2), 'a minute on, another role\'s new call is still POSTed within 2 s');
is(scalar(grep { $_->{run}->pump_nb; $_->{out} =~ /^held$/m } @holders), scalar(@holders), '(the transactions were open all along)');

# --- they commit: the holder's own calls go on
for my $h (@holders)
{
	$h->{in} .= "COMMIT;\n";
	$h->{run}->finish;
}
ok(wait_until(sub { sql("SELECT transcript_complete FROM agentphone.calls WHERE id = $live") eq 't' }, 30),
	'the call ended in an open transaction is followed to its end once it commits');
ok(wait_until(sub { posts_to('+14155558810') == 1 && posts_to('+14155558813') == 1 && posts_to('+14155558803') == 1
	  && posts_to('+14155559100') == 1 }, 30),
	'the calls queued and retried in the open transactions are placed once they commit');
is(sql("SELECT status FROM agentphone.calls WHERE id = $queued"), 'canceled', 'and the canceled one is canceled');

$node->stop;
done_testing();
