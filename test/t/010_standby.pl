# 010_standby.pl: a streaming standby never dials, even with calls in its
# copy of the queue; after promotion its worker starts and drains the
# queue within seconds, each call once.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Cluster;
use Test::More;
use Time::HiRes qw(time sleep);

start_sim();
# the primary queues but does not dial (as if it died before it could)
my $primary = new_node('primary', "agentphone.enabled = off\n", allows_streaming => 1);
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->append_conf('postgresql.conf', "agentphone.enabled = on\nagentphone.sweep_interval = '200ms'\n");
$standby->start;

my $ids = $primary->safe_psql('postgres', q{
	SELECT string_agg(agentphone_call('agt_1', '+1415555' || (3000 + i)::text)::text, ',') FROM generate_series(1, 3) i});
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', "SELECT count(*) FROM agentphone.calls WHERE id IN ($ids) AND status = 'queued'"),
	'3', 'the standby has the queued calls');
is($standby->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'agentphone worker'"),
	'0', 'no agentphone worker runs on the standby');
my ($rc, $out, $err) = $standby->psql('postgres', "SELECT agentphone_call('agt_1', '+14155553999')");
like($err, qr/read-only transaction/, 'queuing on the standby is refused');
sleep 2;
is(scalar(@{ sim_posts() }), 0, 'nothing was dialed');

$primary->stop('immediate');
my $t0 = time();
$standby->promote;
ok(wait_until(sub { $standby->safe_psql('postgres',
	"SELECT count(*) FROM agentphone.calls WHERE id IN ($ids) AND status = 'in-progress'") == 3 }, 30),
	'after promotion the queue drains');
note(sprintf('promotion to the last call placed: %.1f s', time() - $t0));
cmp_ok(time() - $t0, '<', 15, 'within seconds');
my %posts;
$posts{ $_->{body}{toNumber} }++ for @{ sim_posts() };
is(scalar(keys %posts), 3, 'three calls dialed');
is(scalar(grep { $_ != 1 } values %posts), 0, 'each once');

$standby->stop;
done_testing();
