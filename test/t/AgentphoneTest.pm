# AgentphoneTest.pm: helpers shared by the TAP tests in test/t.
#
# Each test file starts its own AgentPhone simulator (test/agentphone_sim.py)
# and its own PostgreSQL::Test::Cluster preloaded with agentphone and pointed
# at that simulator.  The simulator's control API (/_sim/...) lets a test
# inject faults and read back every request the worker sent.
package AgentphoneTest;

use strict;
use warnings;

use Exporter 'import';
use HTTP::Tiny;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

our @EXPORT = qw(start_sim sim sim_posts posts_to new_node wait_until call_rows
  worker_pid worker_cpu_seconds $API_KEY);

# A key long and distinctive enough to grep for in the server log.
our $API_KEY = 'sk_test_7Hq2ZpLx9WvR4mKd';

my $sim_pid;
my $sim_url;
my $http = HTTP::Tiny->new(timeout => 30);
my $json = JSON::PP->new->canonical;

# start_sim: start the simulator on a free port; returns its base URL
sub start_sim
{
	my $dir = PostgreSQL::Test::Utils::tempdir();
	my $portfile = "$dir/port";
	$sim_pid = fork();
	die "fork: $!" unless defined $sim_pid;
	if ($sim_pid == 0)
	{
		exec('/usr/bin/python3', 'test/agentphone_sim.py', '--port', '0',
			'--port-file', $portfile, '--api-key', $API_KEY, '--quiet')
		  or die "exec: $!";
	}
	for (1 .. 200)
	{
		last if -s $portfile;
		sleep 0.05;
	}
	open my $fh, '<', $portfile or die "simulator did not start";
	my $port = <$fh>;
	chomp $port;
	$sim_url = "http://127.0.0.1:$port";
	return $sim_url;
}

END
{
	kill 'TERM', $sim_pid if $sim_pid;
}

# sim(METHOD, PATH, [DATA]): call the simulator's control API; returns the
# decoded JSON answer
sub sim
{
	my ($method, $path, $data) = @_;
	my $res = $http->request($method, "$sim_url$path",
		defined $data
		? {
			content => $json->encode($data),
			headers => { 'content-type' => 'application/json' }
		  }
		: {});
	die "simulator $method $path: $res->{status} $res->{content}"
	  unless $res->{success};
	return $json->decode($res->{content});
}

# sim_posts: every POST /v1/calls the simulator received, in order
sub sim_posts
{
	return sim('GET', '/_sim/requests?method=POST&path=/v1/calls');
}

# new_node(NAME, EXTRA_CONF, %opts): a started cluster preloaded with
# agentphone and pointed at the simulator; CREATE EXTENSION unless
# opts{no_extension}; opts{allows_streaming} for a primary with standbys
sub new_node
{
	my ($name, $extra, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => $opts{allows_streaming} ? 1 : 0);
	$node->append_conf(
		'postgresql.conf', qq{
shared_preload_libraries = 'agentphone'
agentphone.api_url = '$sim_url/v1'
agentphone.allow_insecure_http = on
agentphone.api_key = '$API_KEY'
agentphone.database_name = 'postgres'
agentphone.retry_delay = '200ms'
# tests about following calls set their own; others see placed calls stay
# in-progress
agentphone.poll_interval = '1h'
} . ($extra // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION agentphone')
	  unless $opts{no_extension};
	return $node;
}

# posts_to(NUMBER): how many POSTs /v1/calls the simulator got for NUMBER
sub posts_to
{
	my ($number) = @_;
	return scalar(grep { $_->{body}{toNumber} eq $number } @{ sim_posts() });
}

# wait_until(CODE, SECONDS): poll CODE until it returns true; returns
# whether it did before the deadline
sub wait_until
{
	my ($code, $seconds) = @_;
	my $deadline = time() + ($seconds // 30);
	while (time() < $deadline)
	{
		return 1 if $code->();
		sleep 0.05;
	}
	return $code->();
}

# worker_pid(NODE): the agentphone worker's pid ('' when none runs)
sub worker_pid
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'agentphone worker'");
}

# worker_cpu_seconds(NODE): CPU time the agentphone worker has used so far
# (user + system, from /proc), to tell a waiting worker from a spinning one
sub worker_cpu_seconds
{
	my ($node) = @_;
	my $pid = worker_pid($node);
	open my $fh, '<', "/proc/$pid/stat" or die "no worker process: $!";
	my $stat = <$fh>;
	$stat =~ s/^.*\) //;    # fields after the command name
	my @f = split / /, $stat;
	return ($f[11] + $f[12]) / 100;    # utime, stime in clock ticks
}

# call_rows(NODE, WHERE): the matching calls as a list of hashes
sub call_rows
{
	my ($node, $where) = @_;
	$where //= 'true';
	my $out = $node->safe_psql('postgres',
		"SELECT coalesce(json_agg(c ORDER BY id), '[]') FROM agentphone.calls c WHERE $where");
	return $json->decode($out);
}

1;
