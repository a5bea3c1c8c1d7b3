# 026_partman_bgw.pl: the pg_partman recipe of docs/recipes.md with its
# maintenance run by pg_partman's own background worker (pg_partman_bgw,
# the recipe's alternative to pg_cron) in the cluster beside agentphone's
# launcher and worker.  Nobody calls the maintenance: the month older than
# twelve goes by itself, agentphone's worker goes on undisturbed, the
# partitions left are a superuser's, and new calls store their turns in
# this month's partition.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;

start_sim();
my $node = new_node('bgw', qq{shared_preload_libraries = 'agentphone,pg_partman_bgw'
pg_partman_bgw.dbname = 'postgres'
pg_partman_bgw.interval = 2
agentphone.poll_interval = '200ms'
});

# --- history: a call ended 14 months ago, then the recipe's layout
my $pid = worker_pid($node);
my $old = sql("SELECT agentphone_call('agt_1', '+14155557101')");
is(sql("SELECT agentphone_wait($old, '30 s', 'transcript')"), 'completed', 'a call completed');
sql(qq{UPDATE agentphone.transcripts SET stored_at = now() - interval '14 months' WHERE call_id = $old;
	UPDATE agentphone.call_events SET at = now() - interval '14 months' WHERE call_id = $old});
my ($layout) = recipe_blocks('pg_partman');
sql($layout);
cmp_ok(sql("SELECT count(*) FROM agentphone.transcripts WHERE call_id = $old"), '>', 0,
	'its turns are in their month, 14 months ago');

# --- the maintenance, run by pg_partman_bgw every 2 s
ok(wait_until(sub { sql("SELECT count(*) FROM agentphone.transcripts WHERE call_id = $old") == 0
	  && sql("SELECT count(*) FROM agentphone.call_events WHERE call_id = $old") == 0 }, 60),
	"pg_partman's worker drops the months older than twelve, by itself");
like(slurp_file($node->logfile), qr/pg_partman dynamic background worker \(dbname=postgres\): SELECT "partman"\.run_maintenance/,
	'pg_partman_bgw ran it');
is(worker_pid($node), $pid, "beside agentphone's worker, which went on as it was");
is(sql(q{SELECT count(*) FROM (SELECT relid FROM pg_partition_tree('agentphone.transcripts')
	UNION ALL SELECT relid FROM pg_partition_tree('agentphone.call_events')) t
	JOIN pg_class c ON c.oid = t.relid JOIN pg_roles r ON r.oid = c.relowner WHERE NOT r.rolsuper}),
	'0', 'every partition it leaves is owned by a superuser');

# --- agentphone, unaffected
my $new = sql("SELECT agentphone_call('agt_1', '+14155557102')");
is(sql("SELECT agentphone_wait($new, '30 s', 'transcript')"), 'completed', 'a new call completes');
is(sql("SELECT DISTINCT tableoid::regclass FROM agentphone.transcripts WHERE call_id = $new"),
	'agentphone.transcripts_monthly_p' . sql("SELECT to_char(now(), 'YYYY_MM')"),
	"its turns are stored in this month's partition");
is(sql("SELECT count(*) FROM agentphone.calls WHERE id = $old"), '1', 'the old call itself stays');

$node->stop;
done_testing();
