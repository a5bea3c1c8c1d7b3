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

our @EXPORT = qw(start_sim sim sim_posts posts_for posts_to new_node sql try_sql
  sql_error reload_with wait_until call_rows worker_pid worker_cpu_seconds
  kill_worker call_query slow_transcript_writes normal_transcript_writes
  writing_transcripts write_key recipe_blocks release_before $API_KEY $QUICK);

# sql() and its kin run on this node unless told otherwise: the node
# new_node started last (a test has one node at a time)
my $default_node;

# A key long and distinctive enough to grep for in the server log.
our $API_KEY = 'sk_test_7Hq2ZpLx9WvR4mKd';

# Settings for a node whose worker follows calls closely and is never held
# back by pacing, for tests that drive many paths quickly.
our $QUICK = q{
agentphone.poll_interval = '300ms'
agentphone.sweep_interval = '200ms'
agentphone.max_calls_per_minute = 10000
};

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
agentphone.retry_delay = '200ms'
# tests about following calls set their own; others see placed calls stay
# in-progress
agentphone.poll_interval = '1h'
} . ($extra // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION agentphone')
	  unless $opts{no_extension};
	$default_node = $node;
	return $node;
}

# psql_target(QUERY, %opts): what sql() and try_sql() run where: (node,
# database, query, psql params).  opts{node}: the node (default: the one
# new_node started last); opts{db}: the database (default postgres);
# opts{as}: the role to connect as; opts{verbose}: psql's VERBOSITY
# verbose (error codes); any other option goes to psql as it is
sub psql_target
{
	my ($query, %opts) = @_;
	my $node = delete $opts{node} // $default_node // die 'no node: call new_node first';
	my $db = delete $opts{db} // 'postgres';
	my $role = delete $opts{as};
	$opts{extra_params} = [ @{ $opts{extra_params} // [] }, '-U', $role ] if defined $role;
	$query = "\\set VERBOSITY verbose\n$query" if delete $opts{verbose};
	return ($node, $db, $query, %opts);
}

# sql(QUERY, %opts): QUERY's output; dies if it fails (safe_psql).  The
# options are psql_target's
sub sql
{
	my ($node, $db, $query, %params) = psql_target(@_);
	return $node->safe_psql($db, $query, %params);
}

# try_sql(QUERY, %opts): runs QUERY, which may fail; (stdout, stderr), or
# stdout alone in scalar context.  The options are psql_target's
sub try_sql
{
	my ($node, $db, $query, %params) = psql_target(@_);
	my ($rc, $out, $err) = $node->psql($db, $query, %params);
	return wantarray ? ($out, $err) : $out;
}

# sql_error(QUERY, %opts): what QUERY, which may fail, writes on stderr
# (its error).  The options are psql_target's
sub sql_error
{
	my (undef, $err) = try_sql(@_);
	return $err;
}

# reload_with(COMMAND, %opts): ALTER SYSTEM COMMAND ("SET name = value",
# "RESET name"), reload, then give the worker opts{pause} seconds (default
# 0.5) to take it
sub reload_with
{
	my ($command, %opts) = @_;
	my $pause = delete $opts{pause} // 0.5;
	sql("ALTER SYSTEM $command; SELECT pg_reload_conf()", %opts);
	sleep $pause;
}

# call_query(NUMBER, ARGS...): the statement that queues a call of agent
# agt_1 to NUMBER, with more arguments of agentphone_call() (SQL text such
# as "not_before => now() + interval '2 seconds'")
sub call_query
{
	my ($number, @args) = @_;
	return "SELECT agentphone_call('agt_1', '$number'" . join('', map { ", $_" } @args) . ')';
}

# slow_transcript_writes(SECONDS): from now on each transcript turn the
# worker stores takes SECONDS longer (trigger "slow" on
# agentphone.transcripts, function slow_turn()), so that the worker can be
# caught writing transcripts
sub slow_transcript_writes
{
	my ($seconds) = @_;
	sql(qq{
		CREATE FUNCTION slow_turn() RETURNS trigger LANGUAGE plpgsql AS \$\$
		BEGIN PERFORM pg_sleep($seconds); RETURN NEW; END \$\$;
		CREATE TRIGGER slow BEFORE INSERT ON agentphone.transcripts FOR EACH ROW EXECUTE FUNCTION slow_turn();
	});
}

# normal_transcript_writes(): undo slow_transcript_writes.  The parent is
# locked first: DROP TRIGGER alone locks the partition before the parent,
# and the worker, inserting through the parent, then deadlocks with it
sub normal_transcript_writes
{
	sql(q{
		BEGIN;
		LOCK TABLE agentphone.transcripts;
		DROP TRIGGER slow ON agentphone.transcripts;
		DROP FUNCTION slow_turn();
		COMMIT;
	});
}

# writing_transcripts(): whether the worker is (within 30 s) inside the
# slow trigger of slow_transcript_writes, storing a transcript
sub writing_transcripts
{
	return wait_until(sub {
		sql("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'agentphone worker' AND wait_event = 'PgSleep'") > 0 }, 30);
}

# posts_for(NUMBER): the POSTs /v1/calls the simulator got for NUMBER, in
# order (an array ref)
sub posts_for
{
	my ($number) = @_;
	return [ grep { $_->{body}{toNumber} eq $number } @{ sim_posts() } ];
}

# posts_to(NUMBER): how many POSTs /v1/calls the simulator got for NUMBER
sub posts_to
{
	return scalar(@{ posts_for($_[0]) });
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

# worker_pid(NODE, [DB]): the pid of database DB's agentphone worker (default
# postgres; '' when none runs)
sub worker_pid
{
	my ($node, $db) = @_;
	$db //= 'postgres';
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'agentphone worker' AND datname = '$db'");
}

# worker_cpu_seconds(NODE, [PID]): CPU time the agentphone worker (or process
# PID) has used so far (user + system, from /proc), to tell a waiting process
# from a spinning one
sub worker_cpu_seconds
{
	my ($node, $pid) = @_;
	$pid //= worker_pid($node);
	open my $fh, '<', "/proc/$pid/stat" or die "no worker process: $!";
	my $stat = <$fh>;
	$stat =~ s/^.*\) //;    # fields after the command name
	my @f = split / /, $stat;
	return ($f[11] + $f[12]) / 100;    # utime, stime in clock ticks
}

# kill_worker(NODE, HOW): SIGKILL the worker (the postmaster restarts
# everything), or with HOW 'immediate stop' stop the server in immediate
# mode and start it again; returns whether a new worker then runs
sub kill_worker
{
	my ($node, $how) = @_;
	my $pid = worker_pid($node);
	if ($how eq 'SIGKILL')
	{
		kill 'KILL', $pid;
	}
	else
	{
		$node->stop('immediate');
		$node->start;
	}
	return $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'agentphone worker' AND pid <> $pid");
}

# write_key(FILE, KEY, [MODE]): write KEY into the key file FILE, with
# MODE (default 0600)
sub write_key
{
	my ($file, $key, $mode) = @_;
	open my $fh, '>', $file or die "$file: $!";
	print $fh "$key\n";
	close $fh;
	chmod $mode // 0600, $file;
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

# recipe_blocks(HEADING): the ```sql blocks of the section of
# docs/recipes.md whose "## " heading starts with HEADING, in order
sub recipe_blocks
{
	my ($heading) = @_;
	my (@blocks, $in_section, $block);
	for my $line (split /\n/, slurp_file('docs/recipes.md'))
	{
		$in_section = ($line =~ /^## \Q$heading\E/) if $line =~ /^## /;
		next unless $in_section;
		if (defined $block)
		{
			if ($line =~ /^```\s*$/) { push @blocks, $block; undef $block; }
			else { $block .= "$line\n"; }
		}
		elsif ($line =~ /^```sql\s*$/) { $block = ''; }
	}
	return @blocks;
}

# release_before(A, B): release A came before release B, by number
# (1.9 before 1.10)
sub release_before
{
	my ($x, $y) = map { [ split /\./ ] } @_;
	return $x->[0] < $y->[0] || ($x->[0] == $y->[0] && $x->[1] < $y->[1]);
}

1;
