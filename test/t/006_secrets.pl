# 006_secrets.pl: the API key and URL are superuser-only settings, and the
# key never reaches the server log, even at debug5 with every statement
# logged, through errors that quote it, a reload, or ALTER SYSTEM.  The key
# file (agentphone.api_key_file) is used, rotated without a reload, refused
# when others can read it; an http:// API URL is refused unless allowed.
# An API error that echoes the key is stored and shown redacted; the key
# file's path is shown to superusers only.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;

start_sim();
my $node = new_node('secrets', q{
log_statement = 'all'
log_min_messages = debug5
log_min_error_statement = debug5
});
my $new_key = 'sk_live_N3wK3yRotated9Qz';

$node->safe_psql('postgres', 'CREATE ROLE alice LOGIN');
my ($rc, $out, $err);

# --- hidden from non-superusers
($rc, $out, $err) = $node->psql('postgres', 'SHOW agentphone.api_key', extra_params => [ '-U', 'alice' ]);
like($err, qr/must be superuser or have privileges of pg_read_all_settings/, 'SHOW agentphone.api_key fails for a non-superuser');
($rc, $out, $err) = $node->psql('postgres', "SELECT current_setting('agentphone.api_key')", extra_params => [ '-U', 'alice' ]);
like($err, qr/must be superuser/, 'current_setting() fails for a non-superuser');
($rc, $out, $err) = $node->psql('postgres', 'SHOW agentphone.api_url', extra_params => [ '-U', 'alice' ]);
like($err, qr/must be superuser/, 'the API URL is superuser-only too');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_settings WHERE name = 'agentphone.api_key'",
  	extra_params => [ '-U', 'alice' ]), '0', 'pg_settings does not list the key to a non-superuser');
unlike($node->safe_psql('postgres', 'SHOW ALL'), qr/\Q$API_KEY\E/, 'SHOW ALL does not show it even to a superuser');
($rc, $out, $err) = $node->psql('postgres', "SET agentphone.api_key = 'x'");
like($err, qr/cannot be changed now/, 'it cannot be set per session');

# --- used for requests
my $id = $node->safe_psql('postgres', "SELECT agentphone_call('agt_1', '+14155550600')");
is($node->safe_psql('postgres', "SELECT agentphone_wait($id, '20 s')"), 'in-progress', 'the key is sent');
is(sim_posts()->[0]{headers}{authorization}, "Bearer $API_KEY", 'as a Bearer token');

# --- an error that quotes the key is redacted, for the client too
($rc, $out, $err) = $node->psql('postgres', "SELECT '$API_KEY'::int");
like($err, qr/invalid input syntax for type integer: "\*{8}"/, 'an error quoting the key shows ******** instead');

# --- an API (or a proxy before it) whose error echoes the key: the text
# stored in last_error, the events and the worker's status is redacted
$node->safe_psql('postgres', 'CREATE ROLE boss LOGIN IN ROLE agentphone_admin');
sim('POST', '/_sim/faults', { faults => [
	{ kind => 'status', method => 'POST', path => '/v1/calls', status => 503,
	  body => { error => "upstream refused Authorization: Bearer $API_KEY" } },
	{ kind => 'status', method => 'POST', path => '/v1/calls', status => 400,
	  body => { error => "bad request from key $API_KEY" } } ] });
$id = $node->safe_psql('postgres', "SELECT agentphone_call('agt_1', '+14155550602')");
ok(wait_until(sub { $node->safe_psql('postgres', "SELECT status FROM agentphone.calls WHERE id = $id") eq 'error' }, 20),
	'a call refused with an error that echoes the key ends in error');
my $stored = $node->safe_psql('postgres', "SELECT last_error || ' | ' || (SELECT string_agg(coalesce(detail, ''), ' | ')"
	  . " FROM agentphone.call_events WHERE call_id = $id) || ' | ' || (SELECT last_error FROM agentphone_worker_status())"
	  . " FROM agentphone.calls WHERE id = $id");
unlike($stored, qr/\Q$API_KEY\E/, 'the key is in neither its last_error, its events nor the worker\'s status');
like($stored, qr/waiting for the AgentPhone API: .*Bearer \*{8}.*bad request from key \*{8}/s,
	'which say ******** in its place, for the retry and the refusal');
sim('POST', '/_sim/faults', { faults => [ { kind => 'status', method => 'GET', path => '/v1/calls/call_x',
	status => 500, body => { error => "echo $API_KEY" } } ] });
($rc, $out, $err) = $node->psql('postgres', "SELECT agentphone_get_call('call_x')", extra_params => [ '-U', 'boss' ]);
like($err, qr/echo \*{8}/, 'an error of a read function that echoes the key says ******** to the client');
# an echo long enough that the stored text, cut to 500 bytes, ends inside the key
sim('POST', '/_sim/faults', { faults => [ { kind => 'status', method => 'POST', path => '/v1/calls', status => 400,
	body => { error => ('x' x 451) . " key $API_KEY" } } ] });
$id = $node->safe_psql('postgres', "SELECT agentphone_call('agt_1', '+14155550603')");
ok(wait_until(sub { $node->safe_psql('postgres', "SELECT status FROM agentphone.calls WHERE id = $id") eq 'error' }, 20),
	'a call refused with a long echo ends in error');
unlike($node->safe_psql('postgres', "SELECT last_error FROM agentphone.calls WHERE id = $id"), qr/sk_test_/,
	'and no part of the key is stored where the text was cut');

# --- rotate the key with ALTER SYSTEM and a reload
sim('POST', '/_sim/config', { api_key => $new_key });
$node->safe_psql('postgres', "ALTER SYSTEM SET agentphone.api_key TO '$new_key'");
($rc, $out, $err) = $node->psql('postgres', "SELECT set_config('agentphone.api_key', '$new_key', false)");
$node->reload;
$id = $node->safe_psql('postgres', "SELECT agentphone_call('agt_1', '+14155550601')");
is($node->safe_psql('postgres', "SELECT agentphone_wait($id, '20 s')"), 'in-progress',
	'the new key is used after a reload, without a restart');
is(posts_for('+14155550601')->[0]{headers}{authorization},
	"Bearer $new_key", 'as a Bearer token');
($rc, $out, $err) = $node->psql('postgres', "SELECT '$new_key'::int");

# --- not once in the log
$node->safe_psql('postgres', "SELECT 'end of test'");
my $log = slurp_file($node->logfile);
cmp_ok(length($log), '>', 10000, 'the log is verbose (debug5, every statement)');
like($log, qr/ALTER SYSTEM SET agentphone.api_key TO '\*{8}'/, 'ALTER SYSTEM is logged with the value hidden');
unlike($log, qr/\Q$API_KEY\E/, 'the original key appears nowhere in the server log');
unlike($log, qr/\Q$new_key\E/, 'the rotated key appears nowhere in the server log');

$node->stop;

# --- the key from agentphone.api_key_file, the documented way
my $file_key = 'sk_file_Z8pQ4mWx2Kd7Lr5N';
my $file_key2 = 'sk_file_R2vT9nBq6Hs3Jy8C';
sim('POST', '/_sim/config', { api_key => $file_key });
my $keyfile = PostgreSQL::Test::Utils::tempdir() . '/agentphone.key';
write_key($keyfile, $file_key);
my $fnode = new_node('keyfile', qq{
agentphone.api_key = ''
agentphone.api_key_file = '$keyfile'
agentphone.sweep_interval = '200ms'
log_statement = 'all'
log_min_messages = debug5
log_min_error_statement = debug5
});
# (from here on sql() runs on $fnode, the node new_node started last)
sub posted_auth
{
	my $p = posts_for($_[0]);
	return @$p ? $p->[-1]{headers}{authorization} : '(no POST)';
}

$id = sql("SELECT agentphone_call('agt_1', '+14155550610')");
is(sql("SELECT agentphone_wait($id, '20 s')"), 'in-progress', 'key file: a call is placed');
is(posted_auth('+14155550610'), "Bearer $file_key", 'with the key from the file');

write_key($keyfile, $file_key2);
sim('POST', '/_sim/config', { api_key => $file_key2 });
$id = sql("SELECT agentphone_call('agt_1', '+14155550611')");
is(sql("SELECT agentphone_wait($id, '20 s')"), 'in-progress', 'a key rotated in the file');
is(posted_auth('+14155550611'), "Bearer $file_key2", 'is used without a reload');

chmod 0640, $keyfile;
$id = sql("SELECT agentphone_call('agt_1', '+14155550612')");
($rc, $out, $err) = $fnode->psql('postgres', "SELECT agentphone_get_call('call_x')");
like($err, qr/no AgentPhone API key: agentphone.api_key_file ".*" must be a regular file that only the server's OS user can read \(chmod 600\)/,
	'a key file others can read is refused, with the fix in the message');
ok(wait_until(sub { slurp_file($fnode->logfile) =~ /WARNING:  agentphone: queued calls are not placed: no API key: agentphone.api_key_file/ }, 10),
	'the worker says so in the log');
sql('CREATE ROLE boss LOGIN IN ROLE agentphone_admin');
like(sql('SELECT last_error FROM agentphone_worker_status()'), qr/\Q$keyfile\E/,
	'agentphone_worker_status() names the key file to a superuser');
my $for_admin = sql('SELECT last_error FROM agentphone_worker_status()', as => 'boss');
like($for_admin, qr/no API key/, 'and says why to an admin');
unlike($for_admin, qr/\Q$keyfile\E|agentphone\.key/, 'without the file\'s path');
is(sql("SELECT status FROM agentphone.calls WHERE id = $id"), 'queued', 'and keeps the call queued');
# a worker that starts without a key (its cycles overdue from the start)
my $old_pid = worker_pid($fnode);
sql("SELECT pg_terminate_backend($old_pid)");
ok(wait_until(sub { my $p = worker_pid($fnode); $p ne '' && $p ne $old_pid }, 20), 'a worker started while there is no key');
sleep 1;
my $cpu = worker_cpu_seconds($fnode);
sleep 3;
cmp_ok(worker_cpu_seconds($fnode) - $cpu, '<', 0.5, 'waits for a key asleep: under 0.5 s of CPU in 3 s');
chmod 0600, $keyfile;
is(sql("SELECT agentphone_wait($id, '20 s')"), 'in-progress', 'placed once the file is private again');

# --- https only, unless allow_insecure_http
sql("ALTER SYSTEM SET agentphone.allow_insecure_http = off; SELECT pg_reload_conf()");
sleep 0.5;
($rc, $out, $err) = $fnode->psql('postgres', "SELECT agentphone_get_call('call_x')");
like($err, qr/agentphone.api_url must use https/, 'an http:// API URL is refused by default');
$id = sql("SELECT agentphone_call('agt_1', '+14155550613')");
sleep 1;
is(sql("SELECT status FROM agentphone.calls WHERE id = $id"), 'queued', 'the worker sends nothing over http');
is(posted_auth('+14155550613'), '(no POST)', 'the API saw nothing');
like(sql('SELECT last_error FROM agentphone_worker_status()'), qr/must use https/,
	'agentphone_worker_status() says why');
sql("ALTER SYSTEM RESET agentphone.allow_insecure_http; SELECT pg_reload_conf()");
# the node's configuration file turns it on again
sql("ALTER SYSTEM SET agentphone.allow_insecure_http = on; SELECT pg_reload_conf()");
is(sql("SELECT agentphone_wait($id, '20 s')"), 'in-progress', 'allowed again: placed');

$log = slurp_file($fnode->logfile);
cmp_ok(length($log), '>', 10000, 'key file: the log is verbose (debug5, every statement)');
unlike($log, qr/\Q$file_key\E/, 'the key from the file appears nowhere in the server log');
unlike($log, qr/\Q$file_key2\E/, 'nor does the rotated one');
is(sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%sk_file_%' AND pid <> pg_backend_pid()"), '0',
	'nor pg_stat_activity');
$fnode->stop;
done_testing();
