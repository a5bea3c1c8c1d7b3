-- dialing: the responsible-dialing rules checked when a call is queued.
-- Emergency, service, premium and invalid numbers are refused (by
-- libphonenumber's metadata), as are numbers on the do-not-call list and a
-- fourth call to one number in a day, even within one statement; nothing
-- is queued by a refused call.  (Rules that change after queueing, the
-- calling window and the per-role quotas are in test/t/015_dialing.pl,
-- the attacks on them in test/t/017_caps_and_leaks.pl.)
CREATE EXTENSION agentphone;
\set VERBOSITY default

-- emergency and short service numbers, with or without "+"
SELECT agentphone_call('agt_1', '911');
SELECT agentphone_call('agt_1', '+911');
SELECT agentphone_call('agt_1', '+112');
SELECT agentphone_call('agt_1', '+999');
SELECT agentphone_call('agt_1', '+1911');
-- N11 codes and premium ranges under +1, UK premium rate
SELECT agentphone_call('agt_1', '+19115551234');
SELECT agentphone_call('agt_1', '+14115550100');
SELECT agentphone_call('agt_1', '+19005550100');
SELECT agentphone_call('agt_1', '+449098790000');
-- premium rate behind a trunk zero, international premium rate, a UK
-- range reserved for drama (never in service), shared cost, personal
SELECT agentphone_call('agt_1', '+4409012345678');
SELECT agentphone_call('agt_1', '+979123456789');
SELECT agentphone_call('agt_1', '+447700900123');
SELECT agentphone_call('agt_1', '+448431234567');
SELECT agentphone_call('agt_1', '+447012345678');
-- what agentphone makes of numbers
SELECT (agentphone_check_number(n)).* FROM unnest(ARRAY['+14155550142', '+33612345678',
	'+18005551234', '+4402071838750', '+979123456789', '+447700900123', '+80012345678']) AS n;
SELECT agentphone_libphonenumber_version() ~ '^[0-9]+\.[0-9]+' AS has_version;
-- ordinary fixed-line, mobile and toll-free numbers are queued, in
-- libphonenumber's E.164 form (a trunk zero dropped)
BEGIN;
SELECT agentphone_call('agt_1', n) > 0 AS queued
  FROM unnest(ARRAY['+14155550142', '+33612345678', '+18005551234', '+4402071838750']) AS n;
SELECT to_number FROM agentphone.calls ORDER BY id;
ROLLBACK;
-- an ordinary Indian number starting +91 1 is not mistaken for 911
BEGIN;
SELECT agentphone_call('agt_1', '+911123456789') > 0 AS queued;
ROLLBACK;

-- the do-not-call list
SELECT agentphone_do_not_call('+14155550900', 'asked not to be called');
SELECT agentphone_do_not_call('+14155550900');	-- listed already
SELECT agentphone_do_not_call('555-0100');
SELECT agentphone_call('agt_1', '+14155550900');
SELECT number, reason, added_by = current_user::regrole AS by_me FROM agentphone.do_not_call;
SELECT agentphone_allow_calls('+14155550900');
SELECT agentphone_allow_calls('+14155550900');	-- not listed any more
BEGIN;
SELECT agentphone_call('agt_1', '+14155550900') > 0 AS queued;
ROLLBACK;

-- at most agentphone.max_calls_per_number_per_day (3) calls to a number
BEGIN;
SELECT agentphone_call('agt_1', '+14155550901') > 0 AS queued FROM generate_series(1, 3);
SELECT agentphone_call('agt_1', '+14155550901');
ROLLBACK;
-- ... also within one statement: the fourth row fails it, nothing is queued
SELECT agentphone_call('agt_1', '+14155550177') FROM generate_series(1, 16);
SELECT count(*) AS queued FROM agentphone.calls WHERE to_number = '+14155550177';
-- ... and through a trigger on a multi-row INSERT
CREATE TABLE leads (phone text);
CREATE TRIGGER dial AFTER INSERT ON leads FOR EACH ROW
	EXECUTE FUNCTION agentphone_dial_trigger('agt_1', 'phone');
INSERT INTO leads SELECT '+14155550178' FROM generate_series(1, 10);
SELECT count(*) AS queued FROM agentphone.calls WHERE to_number = '+14155550178';
DROP TABLE leads;
-- a role's quota holds within one statement too
CREATE ROLE quota_caller IN ROLE agentphone_caller;
ALTER ROLE quota_caller SET agentphone.role_calls_per_hour = 5;
SET SESSION AUTHORIZATION quota_caller;
SELECT agentphone_call('agt_1', '+1415555' || lpad(i::text, 4, '0')) FROM generate_series(1, 20) AS i;
RESET SESSION AUTHORIZATION;
ALTER ROLE quota_caller RESET agentphone.role_calls_per_hour;
SELECT count(*) AS queued FROM agentphone.calls WHERE created_by = 'quota_caller'::regrole;
-- canceled calls do not count
BEGIN;
SELECT agentphone_cancel(agentphone_call('agt_1', '+14155550902')) FROM generate_series(1, 4);
SELECT agentphone_call('agt_1', '+14155550902') > 0 AS queued;
ROLLBACK;

-- the callee's time zone must exist, and be one of the number's country
SELECT agentphone_call('agt_1', '+14155550903', timezone => 'Mars/Olympus_Mons');
SELECT agentphone_call('agt_1', '+14155550903', timezone => 'Pacific/Kiritimati');
SELECT agentphone_call('agt_1', '+33612345678', timezone => 'America/New_York');
-- a do-not-call reason is at most 500 characters
SELECT agentphone_do_not_call('+14155550904', repeat('x', 1000000));
SELECT agentphone_do_not_call('+14155550904', repeat('x', 500));
SELECT agentphone_allow_calls('+14155550904');
-- not_before is kept
BEGIN;
SELECT agentphone_call('agt_1', '+14155550903', timezone => 'America/New_York',
	not_before => now() + interval '1 hour') AS id \gset
SELECT timezone, not_before = now() + interval '1 hour' AS kept,
	next_attempt_at = not_before AS waits FROM agentphone.calls WHERE id = :id;
ROLLBACK;

-- a wait of 178 million years neither overflows nor returns at once: it
-- waits (here until the statement timeout)
SELECT agentphone_call('agt_1', '+14155550905', not_before => now() + interval '1 day') AS id \gset
SET statement_timeout = '300ms';
SELECT agentphone_wait(:id, interval '178000000 years');
RESET statement_timeout;
SELECT agentphone_cancel(:id);
DELETE FROM agentphone.calls WHERE id = :id;

-- nothing was queued by any refused call
SELECT count(*) AS calls FROM agentphone.calls;
DROP EXTENSION agentphone;
DROP ROLE quota_caller;
