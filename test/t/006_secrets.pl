# 006_secrets.pl: the API key and URL are superuser-only settings, and the
# key never reaches the server log, even at debug5 with every statement
# logged, through errors that quote it, a reload, or ALTER SYSTEM.
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

# --- rotate the key with ALTER SYSTEM and a reload
sim('POST', '/_sim/config', { api_key => $new_key });
$node->safe_psql('postgres', "ALTER SYSTEM SET agentphone.api_key TO '$new_key'");
($rc, $out, $err) = $node->psql('postgres', "SELECT set_config('agentphone.api_key', '$new_key', false)");
$node->reload;
$id = $node->safe_psql('postgres', "SELECT agentphone_call('agt_1', '+14155550601')");
is($node->safe_psql('postgres', "SELECT agentphone_wait($id, '20 s')"), 'in-progress',
	'the new key is used after a reload, without a restart');
is((grep { $_->{body}{toNumber} eq '+14155550601' } @{ sim_posts() })[0]{headers}{authorization},
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
done_testing();
