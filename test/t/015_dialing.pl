# 015_dialing.pl: the responsible-dialing rules that change after a call
# was queued are checked again just before it is dialed: a number put on
# the do-not-call list, or into agentphone.blocked_prefixes, is never
# dialed (status "blocked", with the reason); the calling window holds a
# call, still "queued", until it opens in the callee's time zone, or in
# every zone of the number's country when none is given, on the days of
# agentphone.call_days; agentphone.allowed_number_types widens or narrows
# the kinds of number dialed; and the
# rules set by reload also refuse new calls at once.  Per-role quotas
# refuse the call past the quota, naming it.  (The rules at queue time are
# in sql/dialing.sql.)
use strict;
use warnings;

use AgentphoneTest;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep time);

start_sim();
my $node = new_node('dialing', "agentphone.sweep_interval = '200ms'\n");

sub status_of { return sql("SELECT status FROM agentphone.calls WHERE id = $_[0]"); }

# a call that comes due in 2 seconds
sub soon
{
	my ($number, @more) = @_;
	return sql(call_query($number, "not_before => now() + interval '2 seconds'", @more));
}

# --- do-not-call after queueing
my $id = soon('+14155551500');
sql("SELECT agentphone_do_not_call('+14155551500', 'asked on the phone')");
ok(wait_until(sub { status_of($id) eq 'blocked' }, 15), 'a number put on do-not-call after queueing: blocked');
is(sql("SELECT last_error FROM agentphone.calls WHERE id = $id"),
	'not dialed: +14155551500 is on the do-not-call list: asked on the phone', 'with the reason');
is(posts_to('+14155551500'), 0, 'never dialed');

# --- a blocked prefix set after queueing, and at once for new calls
$id = soon('+442071838750');
reload_with("SET agentphone.blocked_prefixes = '+4420'");
ok(wait_until(sub { status_of($id) eq 'blocked' }, 15), 'a prefix blocked after queueing: blocked');
like(sql("SELECT last_error FROM agentphone.calls WHERE id = $id"), qr/prefix \+4420/, 'naming the prefix');
is(posts_to('+442071838750'), 0, 'never dialed');
like(sql_error("SELECT agentphone_call('agt_1', '+442071838751')"),
	qr/agentphone will not call \+442071838751\nDETAIL:  \+442071838751 is in a blocked range \(prefix \+4420 of agentphone.blocked_prefixes\)/,
	'and new calls to it are refused');
sql("ALTER SYSTEM RESET agentphone.blocked_prefixes");

# --- allowed_prefixes allows only those
reload_with("SET agentphone.allowed_prefixes = '+1, +33'");
like(sql_error("SELECT agentphone_call('agt_1', '+61412345678')"),
	qr/is not in agentphone.allowed_prefixes \(\+1, \+33\)/, 'allowed_prefixes: another country is refused');
$id = sql("SELECT agentphone_call('agt_1', '+33612345678')");
is(sql("SELECT agentphone_wait($id, '20 s')"), 'in-progress',
	'an allowed one is dialed');
sql("ALTER SYSTEM RESET agentphone.allowed_prefixes");
like(sql_error("ALTER SYSTEM SET agentphone.blocked_prefixes = '44,+1'"), qr/"44" is not a number prefix/,
	'a malformed prefix list is refused');

# --- the calling window, in the callee's time zone.  The callee's zone is
# chosen so that it is about noon there now; the window opens 5 seconds
# from now, local time.  The numbers are +800 ones (international
# freephone, no country), for which any zone may be given.
my ($zone, $opens, $opens_at) = split /\|/, sql(q{
	SELECT z, to_char(date_trunc('second', now() AT TIME ZONE z) + interval '5 seconds', 'HH24:MI:SS'),
		date_trunc('second', now()) + interval '5 seconds'
	FROM (SELECT format('Etc/GMT%s', to_char(-(12 - extract(hour FROM now() AT TIME ZONE 'UTC'))::int, 'SGFM00')) z) s});
$zone =~ s/([+-])0(\d)$/$1$2/;
$zone =~ s/GMT[+-]0$/GMT/;
reload_with("SET agentphone.call_window = '$opens-23:00'");
$id = sql("SELECT agentphone_call('agt_1', '+80012345610', timezone => '$zone')");
sleep 1.5;
is(status_of($id), 'queued', "outside the window ($opens-23:00 in $zone) the call waits, queued");
is(posts_to('+80012345610'), 0, 'not dialed yet');
is(sql("SELECT agentphone_wait($id, '20 s')"), 'in-progress', 'dialed once the window opens');
is(sql("SELECT next_attempt_at IS NULL AND dispatched_at >= '$opens_at' FROM agentphone.calls WHERE id = $id"), 't',
	"not before its opening, $opens there");

# a call queued at 22:00 callee time waits for 08:00 the next day there
reload_with("SET agentphone.call_window = '08:00-21:00'");
# an offset in -12..+11 hours that makes it 22:xx there
my $late_zone = sql(q{SELECT format('Etc/GMT%s', to_char(-((((22 - extract(hour FROM now() AT TIME ZONE 'UTC'))::int + 12) % 24 + 24) % 24 - 12), 'SGFM00'))});
$late_zone =~ s/([+-])0(\d)$/$1$2/;
$late_zone =~ s/GMT[+-]0$/GMT/;
$id = sql("SELECT agentphone_call('agt_1', '+80012345611', timezone => '$late_zone')");
my $local = sql("SELECT to_char(now() AT TIME ZONE '$late_zone', 'HH24') FROM agentphone.calls WHERE id = $id");
is(sql("SELECT to_char(next_attempt_at AT TIME ZONE '$late_zone', 'HH24:MI'), next_attempt_at - now() > interval '8 hours'
	FROM agentphone.calls WHERE id = $id"), '08:00|t',
	"queued at $local:xx callee time ($late_zone): due at 08:00 the next day there");
sleep 1;
is(status_of($id), 'queued', 'and still queued');

# a window that closes after queueing puts a due call back to wait
reload_with("SET agentphone.call_window = ''");
$id = soon('+80012345612', "timezone => 'UTC'");
my $closed = sql(q{SELECT to_char(now() AT TIME ZONE 'UTC' + interval '1 hour', 'HH24:MI') || '-23:59'});
# (from 23:00 UTC on, an hour from now is 00:xx, and 00:xx-23:59 is open
# now: take a window that is not)
$closed = '00:00-00:01' if $closed =~ /^(23|00)/;
reload_with("SET agentphone.call_window = '$closed'");
ok(wait_until(sub { sql("SELECT coalesce(last_error, '') FROM agentphone.calls WHERE id = $id") =~ /^waiting for the calling window to open at / }, 15),
	'a window closed when the call comes due: it waits and says until when');
is(status_of($id), 'queued', 'still queued');
is(sql("SELECT attempts FROM agentphone.calls WHERE id = $id"), '0', 'no attempt counted');
is(posts_to('+80012345612'), 0, 'not dialed');
reload_with("SET agentphone.call_window = ''");

# --- with no time zone given, the window holds in every zone of the
# number's country: from several starting points, the moment the window
# opens is inside 08:00-21:00 from New York to Honolulu, and a minute
# earlier it was outside in one of them (unless it is the start itself)
reload_with("SET agentphone.call_window = '08:00-21:00'");
is(sql(q{
	WITH z AS (SELECT unnest(time_zones) AS zone FROM agentphone_check_number('+14155551513')),
	s AS (SELECT now() + h * interval '1 hour' AS start FROM generate_series(0, 23, 5) h),
	o AS (SELECT start, agentphone.window_opens(start, NULL, '+14155551513') AS opens FROM s)
	SELECT bool_and(inside) || '|' || bool_and(opens = start OR NOT inside_before) || '|' || count(DISTINCT zone)
	  FROM (SELECT o.start, o.opens, z.zone,
				bool_and((o.opens AT TIME ZONE z.zone)::time >= '08:00' AND (o.opens AT TIME ZONE z.zone)::time < '21:00')
				  OVER (PARTITION BY o.start) AS inside,
				bool_and(((o.opens - interval '1 minute') AT TIME ZONE z.zone)::time >= '08:00'
				  AND ((o.opens - interval '1 minute') AT TIME ZONE z.zone)::time < '21:00')
				  OVER (PARTITION BY o.start) AS inside_before
			FROM o, z) w}), 'true|true|29',
	'a US number without a time zone: the window opens when 08:00-21:00 holds in all 29 zones of the country');
$id = sql("SELECT agentphone_call('agt_1', '+14155551513', not_before => now() + interval '2 days')");
is(sql("SELECT next_attempt_at = agentphone.window_opens(not_before, NULL, to_number) FROM agentphone.calls WHERE id = $id"),
	't', 'and a call queued for it is due then');
sql("SELECT agentphone_cancel($id)");

# --- agentphone.call_days: the day in the callee's zone must be one of them
my $tomorrow = sql(q{SELECT to_char(now() AT TIME ZONE 'Europe/Paris' + interval '1 day', 'Dy')});
reload_with("SET agentphone.call_window = ''");
reload_with("SET agentphone.call_days = '$tomorrow'");
$id = sql("SELECT agentphone_call('agt_1', '+33612345601')");
is(sql("SELECT to_char(next_attempt_at AT TIME ZONE 'Europe/Paris', 'Dy HH24:MI') FROM agentphone.calls WHERE id = $id"),
	"$tomorrow 00:00", "call_days = '$tomorrow': a call to France waits for the start of $tomorrow in Paris");
sql("SELECT agentphone_cancel($id)");
like(sql_error("ALTER SYSTEM SET agentphone.call_days = 'Mon-Fry'"), qr/three-letter names or ranges/,
	'a malformed call_days is refused');
reload_with("SET agentphone.call_days = ''");

# --- agentphone.allowed_number_types: premium rate only when a superuser says so
like(sql_error("SELECT agentphone_call('agt_1', '+19005550100')"), qr/is a premium-rate number/,
	'premium rate is refused by default');
reload_with("SET agentphone.allowed_number_types = 'fixed_line, premium_rate'");
$id = sql("SELECT agentphone_call('agt_1', '+19005550100', not_before => now() + interval '3 seconds')");
ok($id > 0, 'allowed once premium_rate is listed');
like(sql_error("SELECT agentphone_call('agt_1', '+33612345602')"),
	qr/\+33612345602 is a mobile number, which agentphone.allowed_number_types \(fixed_line, premium_rate\) leaves out/,
	'and mobiles are refused once the list leaves them out');
like(sql_error("ALTER SYSTEM SET agentphone.allowed_number_types = 'mobile, satellite'"),
	qr/"satellite" is not a number type/, 'an unknown type is refused');
reload_with("SET agentphone.allowed_number_types = 'fixed_line'");
ok(wait_until(sub { status_of($id) eq 'blocked' }, 15), 'a type left out after queueing: blocked at the claim');
is(posts_to('+19005550100'), 0, 'never dialed');
sql("ALTER SYSTEM RESET agentphone.allowed_number_types");
sql("SELECT pg_reload_conf()");

# --- per-role quotas

sql(q{CREATE ROLE dave LOGIN; GRANT agentphone_caller TO dave;
	ALTER ROLE dave SET agentphone.role_calls_per_hour = 2});
for my $n (1 .. 2)
{
	$node->safe_psql('postgres', "SELECT agentphone_call('agt_1', '+1415555152$n')", extra_params => [ '-U', 'dave' ]);
}
my ($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nSELECT agentphone_call('agt_1', '+14155551523')",
	extra_params => [ '-U', 'dave' ]);
like($err, qr/ERROR:  54000: agentphone will not call \+14155551523\nDETAIL:  role dave has queued 2 or more calls in the last hour \(agentphone.role_calls_per_hour = 2\)/,
	'the third call in an hour is refused, naming the quota');
($rc, $out, $err) = $node->psql('postgres', "SET agentphone.role_calls_per_hour = 0", extra_params => [ '-U', 'dave' ]);
like($err, qr/permission denied to set parameter/, 'a role cannot lift its own quota');

$node->stop;
done_testing();
