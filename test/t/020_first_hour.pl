# 020_first_hour.pl: the mistakes a new user makes in the first hour, each
# answered with what to do, and no call lost to them (issue 10).
#
#   1. the library left out of shared_preload_libraries: every function
#      still works in a session that lives on, calls are queued, and the
#      warning names the setting;
#   2. a call put off by the calling window says so (one NOTICE per
#      transaction, last_error on every call) and follows the window in
#      force: widened, removed, or changed while the server was down, the
#      window releases it (never before its not_before);
#   3. a wrong key in the key file: the API's 401 loses no call; every call
#      stays queued, its attempt not counted, last_error saying why; one
#      WARNING naming agentphone.api_key_file; no more POSTs meanwhile;
#      the right key written to the file places each call once, without a
#      reload;
#   4. no silent queue: a key file others can read, or an http URL not
#      allowed, puts why into the last_error the caller reads, and the
#      hint never says to set what is set;
#   5. every refusal names its fix: the grant a role lacks (caller or
#      admin), our row id passed where the API's call id belongs, a short
#      number;
#   6. following a call: agentphone_wait() until 'ended' or 'transcript';
#      agentphone_end_call() shows "ending" at once;
#   7. agentphone_retry(): the owner puts a call in error or unknown back
#      in the queue, the dialing rules checked again, the attempt counted;
#   8. the account's agents and their numbers are kept in tables, fetched
#      by the worker (at start, then every agent_refresh_interval) or on
#      demand; an unknown agent_id or a from_number_id not the agent's is
#      refused at queue time; reports show the agent's name;
use strict;
use warnings;

use AgentphoneTest;
use JSON::PP ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep time);

my $sim_url = start_sim();

# --- 1. not preloaded: configured in postgresql.conf, but the library is
# loaded only when a session first uses it
my $bare = PostgreSQL::Test::Cluster->new('not_preloaded');
$bare->init;
$bare->append_conf('postgresql.conf', qq{
agentphone.api_url = '$sim_url/v1'
agentphone.allow_insecure_http = on
agentphone.database_name = 'postgres'
});
$bare->start;

my ($out, $err) = try_sql(q{
CREATE EXTENSION agentphone;
SELECT agentphone_call('agt_1', '+14155550101') > 0;
SELECT count(*) FROM agentphone.calls WHERE status = 'queued';
SELECT agentphone_cancel(min(id)) FROM agentphone.calls;
SELECT 'still here';
}, node => $bare, on_error_stop => 0);
unlike($err, qr/FATAL|PGC_POSTMASTER/, 'not preloaded: no FATAL in the session');
like($out, qr/^t\n1\nt\nstill here$/m, 'the call is queued, canceled, and the session lives on');
like($err, qr/WARNING:  agentphone is not loaded through shared_preload_libraries\nDETAIL:  The call is queued, but no background worker is running to place it\.\nHINT:  Add agentphone to shared_preload_libraries and restart the server\./,
	'the warning names shared_preload_libraries');

($out, $err) = try_sql(q{
LOAD 'agentphone';
SELECT * FROM agentphone_worker_status();
SELECT 'after status';
}, node => $bare, on_error_stop => 0);
unlike($err, qr/FATAL/, 'LOAD and agentphone_worker_status(): no FATAL');
like($err, qr/ERROR:  agentphone is not loaded through shared_preload_libraries\nDETAIL:  No background worker is running: queued calls are not placed\.\nHINT:  Add agentphone to shared_preload_libraries and restart the server\./,
	'agentphone_worker_status() says the library is not preloaded, and the fix');
like($out, qr/after status/, 'and the session lives on');

$bare->safe_psql('postgres', 'CREATE DATABASE second');
($out, $err) = try_sql(q{
CREATE EXTENSION agentphone;
SELECT agentphone_call('agt_1', '+14155550102') > 0;
SELECT 'after call';
}, node => $bare, db => 'second', on_error_stop => 0);
unlike($err, qr/FATAL/, 'CREATE EXTENSION in a new database: no FATAL');
like($err, qr/ERROR:  agentphone places calls only from database "postgres"\n.*\nHINT:  Queue calls in database "postgres", or leave agentphone.database_name empty \(every database is then served\) and restart the server\./,
	'a call there is refused, naming the worker\'s database');
is($out, 'after call', 'and the session lives on');
is($bare->safe_psql('postgres', 'SHOW agentphone.database_name'), 'postgres',
	'the setting from postgresql.conf is shown');
$bare->stop;

# --- 2. the calling window
my $node = new_node('first_hour', "agentphone.sweep_interval = '200ms'\n");

# a one-hour window that is closed now in Los Angeles
my $hour = sql("SELECT extract(hour FROM now() AT TIME ZONE 'America/Los_Angeles')::int");
my $closed = $hour < 21 ? sprintf('%02d:00-%02d:00', $hour + 2, $hour + 3) : '01:00-02:00';
reload_with("SET agentphone.call_window = '$closed'");

sub queue_in_la
{
	my ($number, @more) = @_;
	return call_query($number, "timezone => 'America/Los_Angeles'", @more);
}
($out, $err) = try_sql('BEGIN; ' . queue_in_la('+14155550201') . '; ' . queue_in_la('+14155550202') . '; COMMIT;', on_error_stop => 0);
my @ids = split /\n/, $out;
my @notices = $err =~ /NOTICE:  (.*)$/mg;
is(scalar(@notices), 1, 'two calls put off by the window in one transaction: one NOTICE');
like($notices[0] // '', qr/^call $ids[0] is waiting for the calling window to open at \d{4}-\d\d-\d\d \d\d:00:00/,
	'naming the call and when it will be placed');
like($err, qr/DETAIL:  agentphone.call_window is "$closed"/, 'and the window');
is(sql("SELECT string_agg(status || ' ' || held_by_window || ' ' || (last_error LIKE 'waiting for the calling window to open at %')::text, ',' ORDER BY id)"
	  . " FROM agentphone.calls WHERE id IN ($ids[0], $ids[1])"),
	'queued true true,queued true true', 'each says in last_error what it waits for');
sleep 1;
is(posts_to('+14155550201') + posts_to('+14155550202'), 0, 'neither is dialed meanwhile');

my $later = sql(queue_in_la('+14155550203', "not_before => now() + interval '1 hour'"));
reload_with('RESET agentphone.call_window');
ok(wait_until(sub { posts_to('+14155550201') == 1 && posts_to('+14155550202') == 1 }, 15),
	'the window removed: the calls it held are dialed at once, once each');
is(sql("SELECT status || ' ' || held_by_window || ' ' || (next_attempt_at > now() + interval '50 minutes') FROM agentphone.calls WHERE id = $later"),
	'queued false true', 'but not one before its not_before');
is(posts_to('+14155550203'), 0, '(not dialed)');

reload_with("SET agentphone.call_window = '$closed'");
my $widened = sql(queue_in_la('+14155550204'));
reload_with("SET agentphone.call_window = '00:00-23:59'");
ok(wait_until(sub { posts_to('+14155550204') == 1 }, 15), 'the window widened to now: the call is dialed');

reload_with("SET agentphone.call_window = '$closed'");
my $restarted = sql(queue_in_la('+14155550205'));
$node->stop;
$node->append_conf('postgresql.auto.conf', "agentphone.call_window = ''\n");
$node->start;
ok(wait_until(sub { posts_to('+14155550205') == 1 }, 15),
	'the window removed while the server was down: dialed after the restart');

# --- 3. a wrong key in the key file
sql("ALTER SYSTEM RESET agentphone.call_window");
sql('CREATE ROLE app LOGIN; GRANT agentphone_caller TO app');
my $keyfile = $node->basedir . '/agentphone.key';
write_key($keyfile, 'sk_live_wrong');
reload_with("SET agentphone.api_key_file = '$keyfile'");
my $log_from = -s $node->logfile;
my @wrong = map { scalar try_sql("SELECT agentphone_call('agt_1', '+1415555030$_')", as => 'app') } 1 .. 3;
my $wrong = join(',', @wrong);
ok(wait_until(sub { sql("SELECT count(*) FROM agentphone.calls WHERE id IN ($wrong) AND last_error LIKE '%401%'") == 3 }, 15),
	'a wrong key: every call answered 401 says so in last_error');
is(sql("SELECT string_agg(DISTINCT status || ' ' || attempts, ',') FROM agentphone.calls WHERE id IN ($wrong)"),
	'queued 0', 'and stays queued, the attempt not counted');
like(try_sql("SELECT last_error FROM agentphone.calls WHERE id = $wrong[0]", as => 'app'),
	qr/^(not placed: AgentPhone API answered HTTP 401: .*; the call stays queued until the key in agentphone\.api_key_file changes|waiting: the worker cannot place calls: the AgentPhone API refused the key from agentphone\.api_key_file \(HTTP 401\).*)$/,
	'the caller reads why, naming agentphone.api_key_file');
my $posts_paused = scalar(@{ sim_posts() });
my $late = try_sql("SELECT agentphone_call('agt_1', '+14155550304')", as => 'app');
sleep 1.5;
is(scalar(@{ sim_posts() }), $posts_paused, 'no POST while the key is the refused one');
like(try_sql("SELECT last_error FROM agentphone.calls WHERE id = $late", as => 'app'),
	qr/^waiting: the worker cannot place calls: the AgentPhone API refused the key from agentphone\.api_key_file \(HTTP 401\)/,
	'a call queued meanwhile says why it waits');
my $log = substr(slurp_file($node->logfile), $log_from);
my @warnings = $log =~ /WARNING:  agentphone: queued calls are not placed: (the AgentPhone API refused the key[^\n]*)/g;
is(scalar(@warnings), 1, 'one WARNING in the server log');
like($log, qr/HINT:  Put the account's key in agentphone\.api_key_file: the worker tries it as soon as it changes/,
	'its hint names the key file');
unlike($log, qr/sk_live_wrong/, 'the key itself is never logged');
write_key($keyfile, $AgentphoneTest::API_KEY);
ok(wait_until(sub { sql("SELECT count(*) FROM agentphone.calls WHERE id IN ($wrong, $late) AND status = 'in-progress'") == 4 }, 20),
	'the right key written to the file: every call placed, without a reload');
my @placed = grep { $_->{status} == 200 } @{ sim_posts() };
is(join(',', map { my $to = "+1415555030$_"; scalar(grep { $_->{body}{toNumber} eq $to } @placed) } 1 .. 4),
	'1,1,1,1', 'each once');
is(sql("SELECT count(*) FROM agentphone.calls WHERE id IN ($wrong, $late) AND last_error IS NULL"), 4,
	'and their last_error is cleared');

# --- 4. no silent queue
write_key($keyfile, $AgentphoneTest::API_KEY, 0644);
my $exposed = try_sql("SELECT agentphone_call('agt_1', '+14155550305')", as => 'app');
ok(wait_until(sub { (try_sql("SELECT last_error FROM agentphone.calls WHERE id = $exposed", as => 'app') // '') =~ /^waiting: the worker cannot place calls: no API key/ }, 15),
	'a key file others can read: the caller reads why the call waits');
unlike(try_sql("SELECT last_error FROM agentphone.calls WHERE id = $exposed", as => 'app'), qr/\Q$keyfile\E/,
	'without the key file\'s path, which only superusers see');
my ($rc, $o, $e) = $node->psql('postgres', "SELECT agentphone_get_call('call_x')");
like($e, qr/HINT:  Ask a superuser to fix the file named by agentphone\.api_key_file: owned by the server's OS user, readable by nobody else \(chmod 600\)/,
	'and the hint says to fix the file, not to set it');
unlike($e, qr/set agentphone\.api_key_file/, '(not to set what is set)');
write_key($keyfile, $AgentphoneTest::API_KEY);
ok(wait_until(sub { sql("SELECT status FROM agentphone.calls WHERE id = $exposed") eq 'in-progress' }, 20),
	'the file fixed: placed');

reload_with('SET agentphone.allow_insecure_http = off');
my $insecure = try_sql("SELECT agentphone_call('agt_1', '+14155550306')", as => 'app');
ok(wait_until(sub { (try_sql("SELECT last_error FROM agentphone.calls WHERE id = $insecure", as => 'app') // '') =~ /^waiting: the worker cannot place calls: agentphone\.api_url must use https/ }, 15),
	'an http URL not allowed: the caller reads why the call waits');
reload_with('RESET agentphone.allow_insecure_http');
ok(wait_until(sub { sql("SELECT status FROM agentphone.calls WHERE id = $insecure") eq 'in-progress' }, 20),
	'allowed again: placed');

# --- 5. errors with the way out
sql('CREATE ROLE newcomer LOGIN');
like(sql_error("SELECT agentphone_call('agt_1', '+14155550401')", as => 'newcomer'),
	qr/ERROR:  permission denied for function agentphone_call\nHINT:  Ask an administrator to GRANT agentphone_caller TO your role, connected to this database \(README "Privileges"\)\.$/m,
	'a role without the grant is told which role to be granted');
like(sql_error('SELECT count(*) FROM agentphone.calls', as => 'newcomer'),
	qr/ERROR:  permission denied for schema agentphone\nLINE 1: .*\n.*\nHINT:  Ask an administrator to GRANT agentphone_caller TO your role/,
	'and so is one reading the calls');
like(sql_error('SELECT * FROM agentphone_worker_status()', as => 'app'),
	qr/ERROR:  permission denied for function agentphone_worker_status\nHINT:  Ask an administrator to GRANT agentphone_admin TO your role, connected to this database \(README "Privileges"\)\. It is for administrators/,
	'an admin-only function names agentphone_admin');
# the hint's list of admin-only functions is the GRANTs', read from the
# catalog: granted to agentphone_admin and not to agentphone_caller
my ($listed) = slurp_file('src/access.c') =~ /admin_functions\[\] = \{(.*?)\};/s;
my $granted = sql(q{SELECT string_agg(DISTINCT p.proname, ' ' ORDER BY p.proname) FROM pg_proc p
	JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'agentphone'
	WHERE has_function_privilege('agentphone_admin', p.oid, 'EXECUTE')
	  AND NOT has_function_privilege('agentphone_caller', p.oid, 'EXECUTE')});
is(join(' ', sort($listed =~ /"(\w+)"/g)), $granted, 'the hint knows every function granted to agentphone_admin alone');
like(sql_error("SELECT agentphone_call('agt_1', '911')", as => 'app'),
	qr/DETAIL:  It is a short service or emergency number, which agentphone never dials\.\nHINT:  A short number cannot be queued: for an emergency, use a phone/,
	'911: the hint does not ask for E.164 form');
my $api_id = sql("SELECT api_call_id FROM agentphone.calls WHERE id = $wrong[0]");
like(sql_error("SELECT agentphone_get_call('$wrong[0]')", as => 'app'),
	qr/ERROR:  $wrong[0] is the id of your call in agentphone.calls, not an API call id\nDETAIL:  The API knows call $wrong[0] as "$api_id"\.\nHINT:  Pass its api_call_id: '$api_id'\./,
	'our id passed for the API\'s: the error names the API call id to pass');
like(sql_error("SELECT agentphone_get_call('$late')", as => 'app'),
	qr/ERROR:  $late is the id of your call in agentphone.calls/, '(for every call of the role)');
like(sql_error("SELECT agentphone_get_call('987654')", as => 'app'),
	qr/ERROR:  "987654" is not an API call id\nDETAIL:  .*none of your calls has id 987654\.\nHINT:  Pass the api_call_id column/,
	'a number that is no call of the role: said so');

# --- 6. following a call to its end
reload_with("SET agentphone.poll_interval = '300ms'");
sim('POST', '/_sim/config', { default_script => { outcome => 'completed', turn_interval => 0.3,
	turns => [ { role => 'agent', content => 'Hello' }, { role => 'user', content => 'Hi' } ] } });
my $followed = try_sql("SELECT agentphone_call('agt_1', '+14155550601')", as => 'app');
is(try_sql("SELECT agentphone_wait($followed, '30 s', 'ended')", as => 'app'), 'completed',
	"agentphone_wait(..., 'ended') returns once the call is over");
is(try_sql("SELECT agentphone_wait($followed, '30 s', 'transcript') || ' ' || count(*) FROM agentphone.transcripts WHERE call_id = $followed", as => 'app'),
	'completed 2', "and until => 'transcript' once its transcript is stored");
like(try_sql("SELECT agentphone_wait($exposed, timeout => '1 s', until => 'placed')", as => 'app'), qr/^(in-progress|completed)$/,
	'(named arguments; placed: any status after the queue)');
my $canceled = try_sql("SELECT agentphone_call('agt_1', '+14155550602', not_before => now() + interval '1 hour')", as => 'app');
try_sql("SELECT agentphone_cancel($canceled)", as => 'app');
my $t0 = time();
is(try_sql("SELECT agentphone_wait($canceled, '20 s', 'transcript')", as => 'app'), 'canceled',
	'a call that will never have a transcript: the wait returns at once');
cmp_ok(time() - $t0, '<', 5, '(not at the timeout)');
like(sql_error("SELECT agentphone_wait($followed, '1 s', 'finished')", as => 'app'),
	qr/ERROR:  invalid until "finished" for agentphone_wait\(\)\n.*\nHINT:  Pass until => 'placed', 'ended' or 'transcript'\./,
	'an unknown until names the three');

sim('POST', '/_sim/config', { default_script => { outcome => 'completed', hold => JSON::PP::true, turns => [] } });
my $held_call = try_sql("SELECT agentphone_call('agt_1', '+14155550603')", as => 'app');
is(try_sql("SELECT agentphone_wait($held_call, '20 s')", as => 'app'), 'in-progress', 'a live call');
try_sql("SELECT agentphone_end_call($held_call)", as => 'app');
is(try_sql("SELECT status FROM agentphone.calls WHERE id = $held_call", as => 'app'), 'ending',
	'agentphone_end_call(): the row says "ending" at once');
is(try_sql("SELECT agentphone_wait($held_call, '30 s', 'ended')", as => 'app'), 'completed', 'and the call then ends');
sim('POST', '/_sim/reset');

# --- 7. agentphone_retry
sim('POST', '/_sim/faults', { faults => [ { method => 'POST', path => '/v1/calls', kind => 'status', status => 422,
	body => { detail => [ { loc => [ 'body', 'toNumber' ], msg => 'Number cannot be reached', type => 'value_error' } ] } } ] });
my $failed = try_sql("SELECT agentphone_call('agt_1', '+14155550701')", as => 'app');
is(try_sql("SELECT agentphone_wait($failed, '20 s')", as => 'app'), 'error', 'a call the API refused: error');
like(try_sql("SELECT agentphone_retry($failed) > now() - interval '1 minute'", as => 'app'), qr/^t$/, 'its owner retries it');
is(try_sql("SELECT detail FROM agentphone.call_events WHERE call_id = $failed AND from_status = 'error'", as => 'app'), 'retried by app',
	'queued again, saying who retried it');
is(try_sql("SELECT agentphone_wait($failed, '20 s')", as => 'app'), 'in-progress', 'and it is placed');
is(sql("SELECT attempts FROM agentphone.calls WHERE id = $failed"), '2', 'the attempt counted');
is(sql("SELECT string_agg(from_status || '>' || to_status, ',' ORDER BY id) FROM agentphone.call_events WHERE call_id = $failed"),
	'queued>dispatching,dispatching>error,error>queued,queued>dispatching,dispatching>in-progress', 'every step in the events');
like(sql_error("SELECT agentphone_retry($failed)", as => 'app'),
	qr/ERROR:  call $failed is in-progress: only a call in error or unknown can be retried\nHINT:  Place a new call with agentphone_call\(\)\./,
	'a live call cannot be retried');
like(sql_error("SELECT agentphone_retry($failed)", as => 'newcomer'), qr/permission denied for function agentphone_retry/,
	'a role without the grant cannot');
sql('GRANT agentphone_caller TO newcomer');
like(sql_error("SELECT agentphone_retry($failed)", as => 'newcomer'), qr/ERROR:  call $failed does not exist/,
	'nor can another caller: it does not see the call');

sim('POST', '/_sim/faults', { faults => [ { method => 'POST', path => '/v1/calls', kind => 'status', status => 422 } ] });
my $listed = try_sql("SELECT agentphone_call('agt_1', '+14155550702')", as => 'app');
try_sql("SELECT agentphone_wait($listed, '20 s')", as => 'app');
try_sql("SELECT agentphone_do_not_call('+14155550702', 'asked')", as => 'app');
like(sql_error("SELECT agentphone_retry($listed)", as => 'app'), qr/ERROR:  agentphone will not call \+14155550702\nDETAIL:  .*do-not-call/,
	'a retry meets the dialing rules again: the number was put on the do-not-call list');
is(sql("SELECT status || ' ' || attempts FROM agentphone.calls WHERE id = $listed"), 'error 1', 'and the call is left as it was');

my $lost = try_sql("SELECT agentphone_call('agt_1', '+14155550703')", as => 'app');
try_sql("SELECT agentphone_wait($lost, '20 s')", as => 'app');
sql("UPDATE agentphone.calls SET status = 'unknown', api_call_id = NULL WHERE id = $lost");
my ($rc7, $o7, $e7) = $node->psql('postgres', "SELECT agentphone_retry($lost)", extra_params => [ '-U', 'app' ]);
like($e7, qr/NOTICE:  call $lost may already have rung \+14155550703/, 'an unknown call: the retry warns it may have rung already');
ok(wait_until(sub { posts_to('+14155550703') == 2 }, 20),
	'and it is sent again');

# --- 8. the agents, kept in tables
ok(wait_until(sub { sql('SELECT count(*) FROM agentphone.agent_sync') == 1 }, 20),
	'the worker has fetched the account\'s agents');
is(sql(q{SELECT string_agg(a.id || ' ' || a.name || ' ' || coalesce((SELECT string_agg(n.number_id || '=' || n.phone_number, ',' ORDER BY n.number_id)
	FROM agentphone.agent_numbers n WHERE n.agent_id = a.id), '-'), '; ' ORDER BY a.id) FROM agentphone.agents a}),
	'agt_1 Support Agent num_1=+14155550001,num_2=+14155550002; agt_2 London Agent num_3=+442071230003; agt_nonum Agent Without Number -',
	'agents and their numbers, as the API lists them');
my $calls_before = sql('SELECT count(*) FROM agentphone.calls');
like(sql_error("SELECT agentphone_call('agt_typo', '+14155550801')", as => 'app'),
	qr/ERROR:  unknown agent_id "agt_typo"\nDETAIL:  The account's agents, as fetched from the API at .*: agt_1 \(Support Agent\), agt_2 \(London Agent\), agt_nonum \(Agent Without Number\)\.\nHINT:  Pass the id of one of agentphone.agents/,
	'an unknown agent is refused at queue time, naming the agents there are');
like(sql_error("SELECT agentphone_call('agt_1', '+14155550802', from_number_id => 'num_3')", as => 'app'),
	qr/ERROR:  from_number_id "num_3" is not a number of agent agt_1\nDETAIL:  Its numbers: num_1 \(\+14155550001\), num_2 \(\+14155550002\)\.\nHINT:  Pass one of its numbers/,
	'a number of another agent is refused, naming the agent\'s own');
is(sql('SELECT count(*) FROM agentphone.calls'), $calls_before, 'nothing was queued');
my $from2 = try_sql("SELECT agentphone_call('agt_1', '+14155550803', from_number_id => 'num_2')", as => 'app');
is(try_sql("SELECT agentphone_wait($from2, '20 s')", as => 'app'), 'in-progress', 'the agent\'s own number is accepted');

sim('POST', '/_sim/config', { agents => { %{ sim('GET', '/_sim/config')->{agents} },
	agt_new => { name => 'New Agent', numbers => { num_9 => '+14155550009' } } } });
like(sql_error("SELECT agentphone_call('agt_new', '+14155550804')", as => 'app'), qr/unknown agent_id "agt_new"/,
	'an agent created since the last fetch is not known yet');
like(sql_error('SELECT agentphone_refresh_agents()', as => 'app'),
	qr/permission denied for function agentphone_refresh_agents\nHINT:  Ask an administrator to GRANT agentphone_admin/,
	'refreshing on demand is for admins');
is(sql('SELECT agentphone_refresh_agents()'), '4', 'an admin refreshes the list on demand');
my $new_agent = try_sql("SELECT agentphone_call('agt_new', '+14155550804')", as => 'app');
is(try_sql("SELECT agentphone_wait($new_agent, '20 s')", as => 'app'), 'in-progress', 'and the new agent places calls');
is(try_sql("SELECT agent_name FROM agentphone.call_report WHERE id = $new_agent", as => 'app'), 'New Agent',
	'reports show the agent\'s name');

sim('POST', '/_sim/config', { agents => { map { (sprintf('agt_%03d', $_) => { name => "Agent $_", numbers => {} }) } 1 .. 250 } });
is(sql('SELECT agentphone_refresh_agents()'), '250', 'an account of 250 agents: every page is fetched');
is(sql("SELECT count(*) || ' ' || min(id) || ' ' || max(id) FROM agentphone.agents"), '250 agt_001 agt_250', 'and stored');
sim('POST', '/_sim/config', { agents => { agt_1 => { name => 'Support Agent',
	numbers => { num_1 => '+14155550001', num_2 => '+14155550002' } }, agt_new => { name => 'New Agent', numbers => {} } } });
sim('POST', '/_sim/config', { agents_list => 'phoneNumbers' });
sql('SELECT agentphone_refresh_agents()');
is(sql("SELECT count(*) FROM agentphone.agent_numbers WHERE agent_id = 'agt_1'"), '2',
	'the older "phoneNumbers" shape is read too');
sim('POST', '/_sim/config', { agents_list => 'off' });
like(sql_error('SELECT agentphone_refresh_agents()', as => 'postgres'), qr/ERROR:  AgentPhone has no list of agents/,
	'a failed fetch is an error');
is(sql('SELECT count(*) FROM agentphone.agents'), '2', 'and the stored list stays as it was');
sim('POST', '/_sim/config', { agents_list => 'numbers', agents => { agt_1 => { name => 'Support Agent',
	numbers => { num_1 => '+14155550001', num_2 => '+14155550002' } } } });
reload_with("SET agentphone.agent_refresh_interval = '1s'");
ok(wait_until(sub { sql('SELECT string_agg(id, \',\') FROM agentphone.agents') eq 'agt_1' }, 15),
	'the worker refreshes the list every agent_refresh_interval: a deleted agent goes');
like(sql_error("SELECT agentphone_call('agt_new', '+14155550805')", as => 'app'), qr/unknown agent_id "agt_new"/,
	'and is refused from then on');

done_testing();
