-- enqueue: agentphone_call() queues inside the caller's transaction; the
-- worker places committed calls through the simulator; cancel and wait.
CREATE EXTENSION agentphone;

-- a queued call is an ordinary row of the caller's transaction
BEGIN;
SELECT agentphone_call('agt_1', '+14155550100', '{"name": "Ada"}') > 0 AS queued;
SELECT status, agent_id, to_number, variables, attempts, api_call_id,
	created_by = current_user::regrole AS mine, next_attempt_at IS NOT NULL AS due
FROM agentphone.calls;
-- waiting for it inside the same transaction would never end
SELECT agentphone_wait(max(id)) FROM agentphone.calls;
ROLLBACK;
SELECT count(*) AS calls_after_rollback FROM agentphone.calls;

-- a committed call is placed by the worker
SELECT agentphone_call('agt_1', '+14155550100', '{"name": "Ada"}',
	initial_greeting => 'Hello Ada') AS id \gset
SELECT agentphone_wait(:id, '20 seconds');
SELECT status, api_call_id LIKE 'call_%' AS has_api_id, from_number, attempts,
	started_at IS NOT NULL AS started, last_error, next_attempt_at
FROM agentphone.calls WHERE id = :id;
-- too late to cancel it now
SELECT agentphone_cancel(:id);

-- a call the API refuses ends in "error" with the API's words (the agent
-- exists, but has no number to call from)
SELECT agentphone_call('agt_nonum', '+14155550100') AS bad \gset
SELECT agentphone_wait(:bad, '20 seconds');
SELECT status, attempts, api_call_id, last_error FROM agentphone.calls WHERE id = :bad;

-- a queued call can be canceled, and then is never placed
BEGIN;
SELECT agentphone_call('agt_1', '+14155550101') AS c \gset
SELECT agentphone_cancel(:c);
SELECT agentphone_cancel(:c) AS again;
COMMIT;
SELECT agentphone_wait(:c, '1 second');
SELECT status, attempts, api_call_id, last_error LIKE 'canceled by %' AS why
FROM agentphone.calls WHERE id = :c;

-- unknown ids and bad timeouts are errors
SELECT agentphone_cancel(0);
SELECT agentphone_wait(0);
SELECT agentphone_wait(:id, '-1 second');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT agentphone_wait(:id);
ROLLBACK;

-- a trigger that dials when a row arrives, and not when the insert rolls back
CREATE TABLE appointments (id serial, patient text, phone text, at timestamptz);
CREATE FUNCTION confirm_appointment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM agentphone_call('agt_1', NEW.phone,
		jsonb_build_object('patient', NEW.patient, 'time', to_char(NEW.at, 'HH24:MI')));
	RETURN NEW;
END $$;
CREATE TRIGGER confirm AFTER INSERT ON appointments
	FOR EACH ROW EXECUTE FUNCTION confirm_appointment();
BEGIN;
INSERT INTO appointments (patient, phone, at) VALUES ('Grace', '+14155550102', '2026-12-01 09:30');
ROLLBACK;
INSERT INTO appointments (patient, phone, at) VALUES ('Alan', '+14155550103', '2026-12-01 10:00');
-- a bad number in the row fails the insert itself
INSERT INTO appointments (patient, phone, at) VALUES ('Bad', '555-0100', now());
SELECT agentphone_wait(max(id), '20 seconds') FROM agentphone.calls;
SELECT to_number, variables, status FROM agentphone.calls
WHERE to_number IN ('+14155550102', '+14155550103');

-- settings: the key and URL are superuser-only
CREATE ROLE regress_agentphone_user;
SET ROLE regress_agentphone_user;
SHOW agentphone.api_key;
SHOW agentphone.api_url;
SELECT count(*) FROM pg_settings WHERE name = 'agentphone.api_key';
SHOW agentphone.max_calls_per_minute;
-- and nothing is granted to PUBLIC
SELECT agentphone_call('agt_1', '+14155550100');
SELECT count(*) FROM agentphone.calls;
RESET ROLE;
DROP ROLE regress_agentphone_user;

DROP TABLE appointments;
DROP FUNCTION confirm_appointment();
DROP EXTENSION agentphone;
