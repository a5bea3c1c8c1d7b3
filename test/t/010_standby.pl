# 010_standby.pl: a streaming standby never dials, even with calls in its
# copy of the queues of two databases; it runs neither the launcher nor a
# worker.  After promotion the launcher starts a worker in each database
# and both queues drain within seconds, each call once.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Cluster;
use Test::More;
use Time::HiRes qw(time sleep);

start_sim();
# the primary queues but does not dial (as if it died before it could)
my $primary = new_node('primary', "agentphone.enabled = off\n", allows_streaming => 1);
$primary->safe_psql('postgres', 'CREATE DATABASE tenant');
$primary->safe_psql('tenant', 'CREATE EXTENSION agentphone');
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->append_conf('postgresql.conf', "agentphone.enabled = on\nagentphone.sweep_interval = '200ms'\n");
$standby->start;

my $ids = $primary->safe_psql('postgres', q{
	SELECT string_agg(agentphone_call('agt_1', '+1415555' || (3000 + i)::text)::text, ',') FROM generate_series(1, 3) i});
my $tenant_ids = $primary->safe_psql('tenant', q{
	SELECT string_agg(agentphone_call('agt_1', '+1415555' || (3100 + i)::text)::text, ',') FROM generate_series(1, 2) i});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', "SELECT count(*) FROM agentphone.calls WHERE id IN ($ids) AND status = 'queued'"),
	'3', 'the standby has the queued calls');
is($standby->safe_psql('tenant', "SELECT count(*) FROM agentphone.calls WHERE status = 'queued'"),
	'2', 'of both databases');
is($standby->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('agentphone worker', 'agentphone launcher')"),
	'0', 'neither the agentphone launcher nor a worker runs on the standby');
my ($rc, $out, $err) = $standby->psql('postgres', "SELECT agentphone_call('agt_1', '+14155553999')");
like($err, qr/ERROR:  cannot queue a call on a standby server\nDETAIL:  This server is a standby: calls are queued, and placed, on the primary\.\nHINT:  Connect to the primary/,
	'queuing on the standby is refused, saying where calls are queued');
like($standby->safe_psql('postgres', 'SELECT last_error FROM agentphone_worker_status()'),
	qr/^this server is a standby: no worker runs here; calls are queued and placed on the primary$/,
	'and agentphone_worker_status() says that this server is a standby');
sleep 2;
is(scalar(@{ sim_posts() }), 0, 'nothing was dialed');

$primary->stop('immediate');
my $t0 = time();
$standby->promote;
ok(wait_until(sub { $standby->safe_psql('postgres',
	"SELECT count(*) FROM agentphone.calls WHERE id IN ($ids) AND status = 'in-progress'") == 3 }, 30),
	'after promotion the queue drains');
ok(wait_until(sub { $standby->safe_psql('tenant',
	"SELECT count(*) FROM agentphone.calls WHERE status = 'in-progress'") == 2 }, 30),
	'and so does the other database\'s');
note(sprintf('promotion to the last call placed: %.1f s', time() - $t0));
cmp_ok(time() - $t0, '<', 15, 'within seconds');
my %posts;
$posts{ $_->{body}{toNumber} }++ for @{ sim_posts() };
is(scalar(keys %posts), 5, 'five calls dialed');
is(scalar(grep { $_ != 1 } values %posts), 0, 'each once');

$standby->stop;
done_testing();
