# 023_cron.pl: the pg_cron recipe of docs/recipes.md, with Debian's
# postgresql-15-cron.  Its sql blocks run as written; the morning job
# queues the leads due that day at 09:00 in their time zone (winter and
# summer), once however often it runs, and nothing at other hours; pg_cron
# itself runs the job from its worker beside agentphone's, and the calls
# are placed once each; the prune job deletes old finished calls (their
# transcripts with them) and keeps recent and unfinished ones.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

start_sim();
my $node = new_node('cron', qq{shared_preload_libraries = 'agentphone,pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
});

# the application role the morning job runs as
sql('CREATE ROLE app LOGIN IN ROLE agentphone_caller');

# the sql blocks of the recipe's section, in order
my @blocks = recipe_blocks('pg_cron');
is(scalar(@blocks), 2, 'the recipe has its two sql blocks');
sql($_) for @blocks;
is(sql("SELECT string_agg(jobname || ' ' || schedule || ' as ' || username, ', ' ORDER BY jobname) FROM cron.job"),
	'agentphone-morning-calls 0 * * * * as app, agentphone-prune 30 3 * * * as postgres',
	'both jobs are scheduled, the morning calls as the application role');

# --- the morning job, run by hand at chosen times
sql(q{INSERT INTO leads (name, phone, call_on) VALUES
	('Ada', '+14155558001', '2026-12-03'), ('Bob', '+14155558002', '2026-12-03'),
	('Cy', '+14155558003', '2026-12-04'), ('Di', '+14155558004', '2026-07-01')});
my $run = sub { sql("SELECT queue_morning_calls('America/New_York', 9, '$_[0]')", as => 'app') };
is($run->('2026-12-03 08:59:59 America/New_York'), '0', '08:59 in New York: nothing yet');
is($run->('2026-12-03 14:00:00+00'), '2', '09:00 in New York (14:00 GMT in winter): the two leads of the day');
is($run->('2026-12-03 09:30:00 America/New_York'), '0', 'the job runs again in that hour: nobody is called twice');
is($run->('2026-12-03 10:00:00 America/New_York'), '0', '10:00: nothing');
is($run->('2026-07-01 13:00:00+00'), '1', 'in summer 09:00 there is 13:00 GMT');
ok(wait_until(sub { posts_to('+14155558001') == 1 && posts_to('+14155558002') == 1 && posts_to('+14155558004') == 1 }, 15),
	'the queued calls are placed');
is(posts_to('+14155558003'), 0, 'and the lead due tomorrow is not');
is(sql(q{SELECT string_agg(variables->>'name' || ' by ' || created_by, ',' ORDER BY to_number) FROM agentphone.calls}),
	'Ada by app,Bob by app,Di by app', 'each with its lead\'s name, queued by the application role');

# --- pg_cron runs it, from its own worker beside agentphone's
sql(q{INSERT INTO leads (name, phone, call_on) VALUES ('Ed', '+14155558005', (now() AT TIME ZONE 'UTC')::date)});
sql(q{SELECT cron.schedule_in_database('try-now', '* * * * *',
	$$SELECT public.queue_morning_calls('UTC', extract(hour FROM pg_catalog.now() AT TIME ZONE 'UTC')::integer)$$,
	'postgres', 'app')});
ok(wait_until(sub { posts_to('+14155558005') == 1 }, 90), 'pg_cron runs the job and its call is placed');
is(sql(q{SELECT created_by FROM agentphone.calls WHERE to_number = '+14155558005'}), 'app',
	'queued by the application role pg_cron ran the job as, not by a superuser');
is(sql(q{SELECT status FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname = 'try-now' LIMIT 1}),
	'succeeded', 'pg_cron says the run succeeded');
is(sql(q{SELECT string_agg(DISTINCT backend_type, ',' ORDER BY backend_type) FROM pg_stat_activity
	WHERE backend_type IN ('pg_cron launcher', 'agentphone launcher', 'agentphone worker')}),
	'agentphone launcher,agentphone worker,pg_cron launcher', 'the two extensions\' workers run side by side');
sql(q{SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = 'try-now'});
sleep 1;
is(posts_to('+14155558005'), 1, 'and the lead is called once');

# --- the prune job, run by hand
my $old = sql(q{INSERT INTO agentphone.calls (agent_id, to_number, created_by, status, created_at)
	VALUES ('agt_1', '+14155558101', 'postgres', 'completed', now() - interval '100 days') RETURNING id});
sql(qq{INSERT INTO agentphone.transcripts (call_id, seq, role, content) VALUES ($old, 1, 'agent', 'Hello')});
my $old_queued = sql(q{INSERT INTO agentphone.calls (agent_id, to_number, created_by, created_at, next_attempt_at)
	VALUES ('agt_1', '+14155558102', 'postgres', now() - interval '100 days', now() + interval '1 year') RETURNING id});
my $kept = sql('SELECT count(*) FROM agentphone.calls') - 1;
sql(sql(q{SELECT command FROM cron.job WHERE jobname = 'agentphone-prune'}));
is(sql("SELECT count(*) FROM agentphone.calls WHERE id = $old"), '0', 'prune deletes a finished call older than 90 days');
is(sql("SELECT count(*) FROM agentphone.transcripts WHERE call_id = $old"), '0', 'with its transcript');
is(sql("SELECT count(*) FROM agentphone.calls WHERE id = $old_queued"), '1', 'but keeps an old call not yet finished');
is(sql('SELECT count(*) FROM agentphone.calls'), $kept, 'and every recent call');

$node->stop;
done_testing();
