# 034_direct_insert.pl: a row written into agentphone.calls other than by
# agentphone_call() (a superuser's INSERT, COPY) is placed within a second
# of its COMMIT.  Until 1.8 it woke nobody and waited for the worker's
# sweep (agentphone.sweep_interval, 10 s by default).
use strict;
use warnings;

use AgentphoneTest;
use Test::More;
use Time::HiRes qw(time sleep);

start_sim();
my $node = new_node('direct_insert', "agentphone.sweep_interval = '1h'\n");
sleep 1;    # the worker's first sweep is over

# time from COMMIT to POST for a statement run by psql (the bound is
# loose for a busy machine: without the wake it is the sweep's hour)
sub commit_to_post
{
	my ($number, $statement) = @_;
	my $t0 = time();
	sql($statement);
	ok(wait_until(sub { posts_to($number) == 1 }, 20), "$number: POSTed");
	my $post = (grep { $_->{body}{toNumber} eq $number } @{ sim_posts() })[0];
	return $post->{time} - $t0;
}
my $inserted = commit_to_post('+14155558201',
	q{INSERT INTO agentphone.calls (agent_id, to_number) VALUES ('agt_1', '+14155558201')});
cmp_ok($inserted, '<', 5, sprintf('a direct INSERT is POSTed %.2f s after its COMMIT (sweep 1 h)', $inserted));
my $copied = commit_to_post('+14155558202',
	q{COPY agentphone.calls (agent_id, to_number) FROM PROGRAM 'printf "agt_1\t+14155558202\n"'});
cmp_ok($copied, '<', 5, sprintf('a COPY is POSTed %.2f s after its COMMIT', $copied));
my $rolled = $node->psql('postgres',
	q{BEGIN; INSERT INTO agentphone.calls (agent_id, to_number) VALUES ('agt_1', '+14155558203'); ROLLBACK;});
sleep 1.5;
is(posts_to('+14155558203'), 0, 'a rolled-back INSERT is never POSTed');
is(sql(q{SELECT string_agg(tgname || ':' || tgenabled::text, ',') FROM pg_trigger
	WHERE tgrelid = 'agentphone.calls'::regclass AND tgname = 'calls_wake_worker'}), 'calls_wake_worker:A',
	'the trigger fires in a logical replication apply too (ENABLE ALWAYS)');
done_testing();
