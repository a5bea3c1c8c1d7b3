# 033_trigger_updates.pl: a dialing trigger on UPDATE calls only when the
# number changed.  Until 1.8, agentphone_dial_trigger() fired by
# AFTER INSERT OR UPDATE queued a call at every UPDATE of the row: three
# edits of an unrelated column called the patient three more times, and
# the fourth failed on the per-number daily limit.
use strict;
use warnings;

use AgentphoneTest;
use Test::More;

start_sim();
my $node = new_node('trigger_updates', $QUICK);
sql(q{CREATE TABLE patients (id serial PRIMARY KEY, name text, phone text, note text);
	CREATE TRIGGER dial AFTER INSERT OR UPDATE ON patients FOR EACH ROW
	EXECUTE FUNCTION agentphone_dial_trigger('agt_1', 'phone', 'name')});
sql(q{INSERT INTO patients (name, phone) VALUES ('Ada', '+14155558101')});
sub calls_to { return sql("SELECT count(*) FROM agentphone.calls WHERE to_number = '$_[0]'") }
is(calls_to('+14155558101'), 1, 'the INSERT queues one call');
for my $n (1 .. 4)
{
	is(sql_error(qq{UPDATE patients SET note = 'edit $n' WHERE name = 'Ada'}), '', "edit $n of another column succeeds");
}
sql(q{UPDATE patients SET phone = phone WHERE name = 'Ada'});
is(calls_to('+14155558101'), 1, 'four edits of another column, and one that sets the number to itself, call nobody');
sql(q{UPDATE patients SET phone = '+14155558102' WHERE name = 'Ada'});
is(calls_to('+14155558102'), 1, 'a new number is called, once');
sql(q{UPDATE patients SET note = 'one more edit', phone = '+14155558103' WHERE name = 'Ada'});
is(calls_to('+14155558103'), 1, 'an UPDATE of the number and another column: the new number, once');
ok(wait_until(sub { posts_to('+14155558101') == 1 && posts_to('+14155558102') == 1 }, 30),
	'each number was dialed once');
done_testing();
