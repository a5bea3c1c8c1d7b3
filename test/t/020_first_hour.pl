# 020_first_hour.pl: the mistakes a new user makes in the first hour, each
# answered with what to do, and no call lost to them (issue 10).
#
#   1. the library left out of shared_preload_libraries: every function
#      still works in a session that lives on, calls are queued, and the
#      warning names the setting;
use strict;
use warnings;

use AgentphoneTest;
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

# psql_session: stdout and stderr of one session running all of sql
sub psql_session
{
	my ($node, $db, $sql) = @_;
	my ($rc, $out, $err) = $node->psql($db, $sql, on_error_stop => 0);
	return ($out, $err);
}

my ($out, $err) = psql_session($bare, 'postgres', q{
CREATE EXTENSION agentphone;
SELECT agentphone_call('agt_1', '+14155550101') > 0;
SELECT count(*) FROM agentphone.calls WHERE status = 'queued';
SELECT agentphone_cancel(min(id)) FROM agentphone.calls;
SELECT 'still here';
});
unlike($err, qr/FATAL|PGC_POSTMASTER/, 'not preloaded: no FATAL in the session');
like($out, qr/^t\n1\nt\nstill here$/m, 'the call is queued, canceled, and the session lives on');
like($err, qr/WARNING:  agentphone is not loaded through shared_preload_libraries\nDETAIL:  The call is queued, but no background worker is running to place it\.\nHINT:  Add agentphone to shared_preload_libraries and restart the server\./,
	'the warning names shared_preload_libraries');

($out, $err) = psql_session($bare, 'postgres', q{
LOAD 'agentphone';
SELECT * FROM agentphone_worker_status();
SELECT 'after status';
});
unlike($err, qr/FATAL/, 'LOAD and agentphone_worker_status(): no FATAL');
like($err, qr/ERROR:  agentphone is not loaded through shared_preload_libraries\nDETAIL:  No background worker is running: queued calls are not placed\.\nHINT:  Add agentphone to shared_preload_libraries and restart the server\./,
	'agentphone_worker_status() says the library is not preloaded, and the fix');
like($out, qr/after status/, 'and the session lives on');

$bare->safe_psql('postgres', 'CREATE DATABASE second');
($out, $err) = psql_session($bare, 'second', q{
CREATE EXTENSION agentphone;
SELECT agentphone_call('agt_1', '+14155550102') > 0;
SELECT 'after call';
});
unlike($err, qr/FATAL/, 'CREATE EXTENSION in a new database: no FATAL');
like($err, qr/ERROR:  agentphone places calls only from database "postgres"\n.*\nHINT:  Queue calls in database "postgres", or set agentphone.database_name and restart the server\./,
	'a call there is refused, naming the worker\'s database');
is($out, 'after call', 'and the session lives on');
is($bare->safe_psql('postgres', 'SHOW agentphone.database_name'), 'postgres',
	'the setting from postgresql.conf is shown');
$bare->stop;

done_testing();
