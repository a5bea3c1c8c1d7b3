# 025_partman.pl: the pg_partman recipe of docs/recipes.md, with Debian's
# postgresql-15-partman, on an install with history.  Its sql blocks run as
# written; the turns and events stored before it move into their months;
# pg_partman's maintenance drops the months older than twelve and keeps the
# rest (and the calls); the worker stores a new call's turns and events in
# this month's partitions, and agentphone_wait, call_report and row-level
# security work as before; the partitions grant nothing; partition DDL
# holding a lock the worker needs costs it one step (a bounded wait), not
# its life, and never deadlocks with it; a
# partition owned by a role that is not a superuser stops agentphone from
# writing as a superuser where that role's code would run; pg_dump and
# pg_restore bring the layout back and the restored database keeps working.
use strict;
use warnings;

use AgentphoneTest;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

start_sim();
my $node = new_node('partman', qq{shared_preload_libraries = 'agentphone,pg_cron'
cron.database_name = 'postgres'
agentphone.poll_interval = '200ms'
max_worker_processes = 16
# the worker's: a session in the test waits longer
deadlock_timeout = '10s'
agentphone.reconcile_delay = '1s'
});

# --- an install with history: two calls ended, one of them 14 months ago
sql('CREATE ROLE app LOGIN IN ROLE agentphone_caller');
sql('CREATE ROLE other LOGIN IN ROLE agentphone_caller');
my $old = sql("SELECT agentphone_call('agt_1', '+14155557001')");
my $recent = sql("SELECT agentphone_call('agt_1', '+14155557002')", as => 'app');
for my $id ($old, $recent)
{
	is(sql("SELECT agentphone_wait($id, '30 s', 'transcript')"), 'completed', "call $id completed");
}
sql(qq{UPDATE agentphone.transcripts SET stored_at = now() - interval '14 months' WHERE call_id = $old;
	UPDATE agentphone.call_events SET at = now() - interval '14 months' WHERE call_id = $old});
my $turns = sub { sql("SELECT count(*) FROM agentphone.transcripts WHERE call_id = $_[0]") };
my $events = sub { sql("SELECT count(*) FROM agentphone.call_events WHERE call_id = $_[0]") };
my ($old_turns, $recent_turns) = ($turns->($old), $turns->($recent));
cmp_ok($old_turns, '>', 0, 'the old call has turns');
my $recent_events = $events->($recent);
my $max_event = sql('SELECT max(id) FROM agentphone.call_events');

# --- the recipe's sql blocks, in order
my @blocks = recipe_blocks('pg_partman');
is(scalar(@blocks), 2, 'the recipe has its two sql blocks');
sql('CREATE EXTENSION pg_cron');
sql($_) for @blocks;
# the maintenance as the recipe schedules it
my $maintenance = sql("SELECT command FROM cron.job WHERE jobname = 'partman-maintenance'");
is(sql(q{SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
	WHERE p.relname IN ('transcripts', 'call_events') AND i.inhrelid::regclass::text LIKE '%monthly'}),
	'2', 'each table has its monthly table under it');
is(sql('SELECT count(*) FROM ONLY agentphone.transcripts_default') + sql('SELECT count(*) FROM ONLY agentphone.call_events_default'),
	0, 'the history left the default partitions');
is($turns->($old) . ' ' . $turns->($recent), "$old_turns $recent_turns", 'and every turn is still there');
my $month_of = sub { sql("SELECT to_char(now() - interval '$_[0] months', 'YYYY_MM')") };
is(sql("SELECT DISTINCT tableoid::regclass FROM agentphone.transcripts WHERE call_id = $old"),
	'agentphone.transcripts_monthly_p' . $month_of->(14), 'the old turns are in the month they were stored');

# --- maintenance: months older than twelve go, whole
sql($maintenance);
is($turns->($old), '0', "maintenance dropped the old call's turns");
is($events->($old), '0', 'and its events');
is(sql("SELECT count(*) FROM agentphone.calls WHERE id = $old"), '1', 'the call itself stays');
is($turns->($recent), $recent_turns, "the recent call's turns stay");
is($events->($recent), $recent_events, 'and its events');
is(sql(q{SELECT count(*) FROM pg_class WHERE relname = 'transcripts_monthly_p' || to_char(now() + interval '3 months', 'YYYY_MM')}),
	'1', 'partitions are ready for the months to come');

# --- the worker and the read functions, unchanged
my $new = sql("SELECT agentphone_call('agt_1', '+14155557003')", as => 'app');
is(sql("SELECT agentphone_wait($new, '30 s', 'transcript')", as => 'app'), 'completed', 'a new call completes');
is(sql("SELECT DISTINCT tableoid::regclass FROM agentphone.transcripts WHERE call_id = $new"),
	'agentphone.transcripts_monthly_p' . $month_of->(0), "its turns are stored in this month's partition");
is(sql("SELECT DISTINCT tableoid::regclass FROM agentphone.call_events WHERE call_id = $new"),
	'agentphone.call_events_monthly_p' . $month_of->(0), 'and its events');
cmp_ok(sql("SELECT min(id) FROM agentphone.call_events WHERE call_id = $new"), '>', $max_event,
	'event ids go on from the history');
like(sql("SELECT transcript FROM agentphone.call_report WHERE id = $new", as => 'app'), qr/^(agent|user): /,
	'call_report shows its transcript');
is(sql('SELECT count(DISTINCT call_id) FROM agentphone.transcripts', as => 'app'), '2',
	"a caller sees the turns of its own calls, from every partition");
is(sql('SELECT count(*) FROM agentphone.transcripts', as => 'other'), '0', 'and another caller sees none');
like(sql_error('SELECT count(*) FROM agentphone.transcripts_monthly_p' . $month_of->(0), as => 'app'),
	qr/permission denied/, 'a partition read directly is refused');
like(sql_error('SELECT count(*) FROM agentphone.transcripts_default', as => 'app'),
	qr/permission denied/, 'so is the default partition');

# --- partition DDL holding a lock the worker needs: a session locks this
# month's partition, then the parent (the order in which DROP TRIGGER on
# the parent takes them), while the worker stores a new call's turns.  The
# worker waits a bounded time for the partition (lock_timeout, 200 ms),
# gives up that step and says so, so the session gets the parent without
# a deadlock; the worker stores the turns once the session commits
my $pid = worker_pid($node);
my ($din, $dout) = ("SET deadlock_timeout = '1h';\nSET lock_timeout = '60s';\nBEGIN;\nLOCK TABLE agentphone.transcripts_monthly_p"
	  . $month_of->(0) . ";\nSELECT 'partition';\n", '');
my $ddl = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-f', '-' ],
	'<', \$din, '>', \$dout, '2>', \$dout);
ok(wait_until(sub { $ddl->pump_nb; $dout =~ /^partition$/m }, 10), "a session locks this month's partition");
my $offset = -s $node->logfile;
my $victim = sql("SELECT agentphone_call('agt_1', '+14155557005')", as => 'app');
ok(wait_until(sub { slurp_file($node->logfile, $offset) =~
	  /WARNING:  agentphone: could not store what the API said about call $victim\n.*DETAIL:  canceling statement due to lock timeout/ }, 30),
	'the worker, storing the turns of a new call, waits a bounded time, gives up that step and says so');
$din .= "LOCK TABLE agentphone.transcripts;\nSELECT 'parent';\n";
ok(wait_until(sub { $ddl->pump_nb; $dout =~ /^parent$/m }, 30), 'then the session gets the parent');
unlike($dout, qr/deadlock/, 'without a deadlock');
$din .= "COMMIT;\n";
$ddl->finish;
is(sql("SELECT agentphone_wait($victim, '30 s', 'transcript')", as => 'app'), 'completed',
	'once the session commits, the call completes with its transcript');
is(sql("SELECT count(*) > 0 AND count(*) = count(DISTINCT seq) FROM agentphone.transcripts WHERE call_id = $victim"),
	't', 'each of its turns stored once');
is(worker_pid($node), $pid, 'by the same worker');

# --- a partition handed to a role that is not a superuser (as one would
# for pg_partman's worker run as such a role): its owner plants a trigger
# that makes it a superuser when a superuser writes a row there.  While it
# owns the partition, agentphone writes nothing as a superuser under the
# history tables: agentphone_call() is refused, saying which table and
# what to do, the worker records nothing (not even the answer to a POST in
# flight), and the trap never fires.  Given back to a superuser, trigger
# gone, everything goes on, and the call whose answer could not be
# recorded is reconciled with the API, not left "dispatching".
sim('POST', '/_sim/script', { scripts => [ { outcome => 'completed', hold => JSON::PP::true,
	turns => [ { role => 'agent', content => 'Held.' } ] } ] });
my $held = sql("SELECT agentphone_call('agt_1', '+14155557006')", as => 'app');
is(sql("SELECT agentphone_wait($held, '30 s')", as => 'app'), 'in-progress', 'a call is live');
sim('POST', '/_sim/faults', { faults => [
	{ method => 'POST', path => '/v1/calls', kind => 'delay', seconds => 5, count => 1 } ] });
my $posts = @{ sim_posts() };
my $inflight = sql("SELECT agentphone_call('agt_1', '+14155557008')", as => 'app');
ok(wait_until(sub { @{ sim_posts() } == $posts + 1 }, 10), 'another is being placed, its answer held 5 s');
my $log_at = -s $node->logfile;
my $events_now = 'agentphone.call_events_monthly_p' . $month_of->(0);
sql("CREATE ROLE partman_user LOGIN; CREATE SCHEMA AUTHORIZATION partman_user;
	GRANT USAGE ON SCHEMA agentphone TO partman_user; ALTER TABLE $events_now OWNER TO partman_user");
sql(qq{CREATE FUNCTION partman_user.trap() RETURNS trigger LANGUAGE plpgsql AS \$\$
	BEGIN
		RAISE LOG 'AGENTPHONE-TRAP fired';
		IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
			ALTER ROLE partman_user SUPERUSER;
		END IF;
		RETURN NEW;
	END \$\$;
	CREATE TRIGGER trap BEFORE INSERT ON $events_now FOR EACH ROW EXECUTE FUNCTION partman_user.trap()},
	as => 'partman_user');
my $api_id = sql("SELECT api_call_id FROM agentphone.calls WHERE id = $held");
my $calls = sql('SELECT count(*) FROM agentphone.calls');
my $refusal = sql_error("SELECT agentphone_call('agt_1', '+14155557007')", as => 'app');
like($refusal, qr/ERROR:  agentphone will not write into \Q$events_now\E: its owner "partman_user" is not a superuser/,
	'agentphone_call() is refused, naming the table and its owner');
like($refusal, qr/HINT:  Check its triggers and constraints, then ALTER TABLE \Q$events_now\E OWNER TO a superuser/,
	'with what to do');
is(sql('SELECT count(*) FROM agentphone.calls'), $calls, 'and queues nothing');
like(sql_error("SELECT agentphone_end_call($held)", as => 'app'), qr/ERROR:  agentphone will not write into/,
	'agentphone_end_call() is refused too');
is(scalar(@{ sim('GET', "/_sim/requests?method=POST&path=/v1/calls/$api_id/end") }), 0,
	'before it asks the API to hang up');
sim('POST', "/_sim/calls/$api_id/finish", { status => 'completed' });
ok(wait_until(sub { slurp_file($node->logfile, $log_at) =~ /ERROR:  agentphone will not write into \Q$events_now\E/ }, 10),
	'the worker refuses to write, in the log');
is(sql("SELECT status FROM agentphone.calls WHERE id = $held"), 'in-progress', 'it records nothing');
is(sql("SELECT rolsuper FROM pg_roles WHERE rolname = 'partman_user'"), 'f', 'the owner did not become a superuser');
ok(wait_until(sub { slurp_file($node->logfile, $log_at) =~ /WARNING:  agentphone: 1 API answer could not be recorded/ }, 10),
	'nor the answer to the POST in flight');
unlike(slurp_file($node->logfile), qr/LOG:  AGENTPHONE-TRAP fired/, 'the trap never ran');
sql("ALTER TABLE $events_now OWNER TO CURRENT_USER; GRANT TRIGGER ON $events_now TO partman_user");
like(sql_error("SELECT agentphone_call('agt_1', '+14155557007')", as => 'app'),
	qr/ERROR:  agentphone will not write into \Q$events_now\E: it grants TRIGGER to role "partman_user", not a superuser/,
	'given back but granting TRIGGER to that role, the table is still refused');
sql("REVOKE TRIGGER ON $events_now FROM partman_user; DROP TRIGGER trap ON $events_now");
is(sql("SELECT agentphone_wait($held, '30 s', 'transcript')", as => 'app'), 'completed',
	'given back to a superuser, the live call is recorded to its end');
is(sql("SELECT agentphone_wait($inflight, '30 s', 'transcript')", as => 'app'), 'completed',
	'and the call whose answer was lost is reconciled with the API and followed to its end');
is(sql("SELECT count(*) FROM agentphone.call_events WHERE call_id = $inflight AND to_status = 'reconciling'")
	. ' ' . scalar(@{ posts_for('+14155557008') }), '1 1', 'adopted by reconciliation, POSTed once');
sim('DELETE', '/_sim/faults');
my $next = sql("SELECT agentphone_call('agt_1', '+14155557007')", as => 'app');
is(sql("SELECT agentphone_wait($next, '30 s', 'transcript')", as => 'app'), 'completed', 'and new calls are placed');

is(sql("SELECT command FROM cron.job WHERE jobname = 'partman-maintenance'"), 'SET search_path = pg_catalog, pg_temp; SELECT partman.run_maintenance()',
	'pg_cron runs the maintenance every hour');

# --- pg_dump and pg_restore keep the layout (pg_cron, which lives in this
# database only, is dropped first so that the dump restores elsewhere)
sql('DROP EXTENSION pg_cron');
my $rows = q{SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
	SELECT format('turn %s %s %s %s', tableoid::regclass, call_id, seq, content) FROM agentphone.transcripts
	UNION ALL SELECT format('event %s %s %s', tableoid::regclass, id, call_id) FROM agentphone.call_events) r(x)};
my $before = sql($rows);
my $file = PostgreSQL::Test::Utils::tempdir() . '/partman.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('postgres'), '-f', $file ], 'pg_dump -Fc');
sql('CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $file ],
	'pg_restore --exit-on-error into a new database');
is(sql($rows, db => 'restored'), $before, 'every turn and event is back, in the same partition');
my $after = sql("SELECT agentphone_call('agt_1', '+14155557004')", db => 'restored');
is(sql("SELECT agentphone_wait($after, '30 s', 'transcript')", db => 'restored'), 'completed',
	'the restored database places a call');
is(sql("SELECT DISTINCT tableoid::regclass FROM agentphone.transcripts WHERE call_id = $after", db => 'restored'),
	'agentphone.transcripts_monthly_p' . $month_of->(0), "and stores its turns in this month's partition");
sql("DELETE FROM agentphone.calls WHERE id IN ($recent, $after)", db => 'restored');
is(sql("SELECT count(*) FROM agentphone.transcripts WHERE call_id IN ($recent, $after)", db => 'restored')
	. ' ' . sql("SELECT count(*) FROM agentphone.call_events WHERE call_id IN ($recent, $after)", db => 'restored'),
	'0 0', 'a deleted call takes its turns and events with it, from every partition');
sql($maintenance, db => 'restored');
is(sql('SELECT count(*) FROM partman.part_config', db => 'restored'), '2', "pg_partman's configuration came back");

$node->stop;
done_testing();
