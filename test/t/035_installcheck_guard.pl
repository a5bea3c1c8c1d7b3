# 035_installcheck_guard.pl: "make installcheck" against a server of one's
# own refuses unless that server's agentphone.api_url is a simulator on
# this machine.  Until 1.8 it ran CREATE EXTENSION in the server's database
# postgres and queued calls that the server's worker would POST to its
# configured, possibly real, API.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;

start_sim();
my $node = new_node('guard', "agentphone.enabled = off\n", no_extension => 1);
my $server = '--host=' . $node->host . ' --port=' . $node->port;
my $pg_config = `pg_config --bindir`;
chomp $pg_config;
$pg_config .= '/pg_config';

# make installcheck of the pg_regress suite alone, against this server
sub installcheck
{
	my ($out, $err) = run_command([ 'make', '-s', 'installcheck', "PG_CONFIG=$pg_config",
		'REGRESS=validation', 'ISOLATION=', 'TAP_TESTS=', "EXTRA_REGRESS_OPTS=$server" ]);
	return "$out$err";
}
sql(q{ALTER SYSTEM SET agentphone.api_url = 'https://api.agentphone.ai/v1'; SELECT pg_reload_conf()});
like(installcheck(), qr/refused: the server's agentphone\.api_url is "https:\/\/api\.agentphone\.ai\/v1", not a simulator on this machine/,
	'make installcheck refuses a server pointed at the real API, saying why');
is(sql(q{SELECT count(*) FROM pg_extension WHERE extname = 'agentphone'}), 0, 'and ran nothing there');
sql(q{ALTER SYSTEM RESET agentphone.api_url; SELECT pg_reload_conf()});
like(installcheck(), qr/validation\s+\.\.\. ok/, 'it runs against a server pointed at the simulator');
done_testing();
