# 038_fair_slots.pl: the slots of agentphone.max_databases are shared
# fairly.  Until now they went to the databases the launcher saw first, so
# the owner of one database, with CREATEDB, could fill every slot with
# copies of it (CREATE DATABASE ... TEMPLATE, which 1.8 keeps from dialing
# but still served) and a new tenant's database waited, unserved.  Now a
# database that asked for a worker and waits takes the slot of a database
# whose calls are all held copies, else one of an owner whose databases
# hold at least two slots more than its owner's; with one slot each, a
# newcomer waits and says so.
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

start_sim();
my $node = new_node('fair', q{
agentphone.max_databases = 3
max_worker_processes = 16
agentphone.sweep_interval = '500ms'
}, no_extension => 1);

sub served
{
	return sql(q{SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_stat_activity
		WHERE backend_type = 'agentphone worker'});
}

sub gave_up
{
	my ($from, $to) = @_;
	my @lines = slurp_file($node->logfile) =~
	  /LOG:  agentphone: the worker of database "\Q$from\E" stops to give its slot to database "\Q$to\E", which waits\n[^\n]*DETAIL:  ([^\n]*)/g;
	return join(' | ', @lines);
}

ok(wait_until(sub { slurp_file($node->logfile) =~ /extension not installed in database "postgres"/ }, 10),
	'the launcher has looked at database postgres');
sql(q{CREATE ROLE alice LOGIN CREATEDB; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN; CREATE ROLE dave LOGIN});

# alice's database, a call in it for tomorrow, a copy of it made by alice
# herself, and a second database of hers: three slots, all alice's
sql('CREATE DATABASE a_main OWNER alice');
sql('CREATE EXTENSION agentphone', db => 'a_main');
sql(call_query('+14155558801', "not_before => now() + interval '1 day'"), db => 'a_main');
ok(wait_until(sub { served() eq 'a_main' }, 10), 'a_main is served');
sql('CREATE DATABASE a_copy TEMPLATE a_main', as => 'alice');
sql('CREATE DATABASE a_two OWNER alice');
sql('CREATE EXTENSION agentphone', db => 'a_two');
ok(wait_until(sub { served() eq 'a_copy,a_main,a_two' }, 15), "alice's three databases take the three slots")
  or diag(served());
sleep 1.5;    # a sweep of a_copy's worker: its one call is another database's

# 1. bob's new database takes the slot of the copy, whose calls are held
sql('CREATE DATABASE b OWNER bob');
sql('CREATE EXTENSION agentphone', db => 'b');
ok(wait_until(sub { served() eq 'a_main,a_two,b' }, 15), "bob's database is served, in the copy's slot")
  or diag(served());
like(gave_up('a_copy', 'b'), qr/because its calls are all held copies of another database's/,
	'the log says which database gave its slot up, to which, and why');
sql(call_query('+14155558802'), db => 'b');
ok(wait_until(sub { posts_to('+14155558802') == 1 }, 10), "and bob's call is placed");

# 2. carol's database: alice holds two slots, carol none
sql('CREATE DATABASE c OWNER carol');
sql('CREATE EXTENSION agentphone', db => 'c');
ok(wait_until(sub { served() eq 'a_main,b,c' }, 15), "carol's database is served, in the slot of alice's newest")
  or diag(served());
like(gave_up('a_two', 'c'), qr/because the databases of its owner hold 2 of the 3 slots of agentphone.max_databases/,
	'because her databases held two of the three slots');

# 3. one slot per owner: dave's database, and alice's copies, wait
sql('CREATE DATABASE d OWNER dave');
my (undef, $err) = try_sql('CREATE EXTENSION agentphone', db => 'd');
like($err, qr/WARNING:  agentphone will not place calls in this database yet/, "dave's database waits, and is told so");
(undef, $err) = try_sql(call_query('+14155558803'), db => 'a_two');
like($err, qr/WARNING:  no agentphone worker serves this database/, 'so does a call queued in alice\'s second database');
sql('CREATE DATABASE a_copy2 TEMPLATE a_main', as => 'alice');
sleep 3;
is(served(), 'a_main,b,c', 'nobody takes a slot from an owner who holds one: every owner keeps its one');
is(gave_up('a_main', 'd') . gave_up('b', 'a_two') . gave_up('c', 'a_two') . gave_up('b', 'd') . gave_up('c', 'd'), '',
	'no worker was stopped for them');
is(posts_to('+14155558801'), 0, 'the copied call was never dialed');

# 4. a slot freed goes to a database that waits
sql('DROP EXTENSION agentphone', db => 'c');
ok(wait_until(sub { served() =~ /^a_main,b,(a_two|d)$|^a_main,(a_two|d),b$/ }, 15),
	'when carol drops agentphone, a database that asked for a worker takes her slot')
  or diag(served());
unlike(slurp_file($node->logfile), qr/terminated by signal|PANIC/, 'no process crashed');

done_testing();
