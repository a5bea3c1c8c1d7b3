/* agentphone--1.0.sql: install script of the agentphone extension. */

\echo Use "CREATE EXTENSION agentphone" to load this file. \quit

-- The functions go into the extension's schema (by default the first schema
-- of search_path, usually public) so that they can be called unqualified;
-- the state lives in schema agentphone.
CREATE SCHEMA agentphone;
REVOKE ALL ON SCHEMA agentphone FROM PUBLIC;

-- Two group roles carry every privilege (created if absent; roles belong to
-- the cluster, so DROP EXTENSION leaves them).  GRANT agentphone_caller TO a
-- role to let it queue calls and see, wait for, cancel and end its own;
-- GRANT agentphone_admin to see and act on every role's calls, read the
-- API's whole call list, the worker's status and the do-not-call list.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'agentphone_caller') THEN
		CREATE ROLE agentphone_caller NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'agentphone_admin') THEN
		CREATE ROLE agentphone_admin NOLOGIN IN ROLE agentphone_caller;
	END IF;
END $$;
GRANT USAGE ON SCHEMA agentphone TO agentphone_caller;

COMMENT ON SCHEMA agentphone IS 'agentphone: calls placed through the AgentPhone API';

-- One row per call a user asked for.  Logged (a committed call survives a
-- crash), and written only by the extension's functions and worker.
CREATE TABLE agentphone.calls (
	id					bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	created_at			timestamptz NOT NULL DEFAULT now(),
	created_by			name NOT NULL DEFAULT current_user,
	-- the request, one column per agentphone_call() argument
	agent_id			text NOT NULL,
	to_number			text NOT NULL,
	variables			jsonb,
	from_number_id		text,
	initial_greeting	text,
	voice				text,
	system_prompt		text,
	options				jsonb,
	timezone			text,		-- the callee's, for agentphone.call_window
	not_before			timestamptz,	-- not dialed before this time
	-- the call's life
	status				text NOT NULL DEFAULT 'queued',
	api_call_id			text UNIQUE,
	from_number			text,
	started_at			timestamptz,
	ended_at			timestamptz,
	duration_seconds	integer,
	recording_available boolean,
	recording_url		text,
	last_transcript_snippet text,
	transcript_complete boolean NOT NULL DEFAULT false,
	next_poll_at		timestamptz,
	attempts			integer NOT NULL DEFAULT 0,
	next_attempt_at		timestamptz DEFAULT now(),
	dispatched_at		timestamptz,
	last_error			text,
	updated_at			timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 80);

-- The worker's claim query: due queued calls in order.
CREATE INDEX calls_due_idx ON agentphone.calls (next_attempt_at, id)
	WHERE status = 'queued';
CREATE INDEX calls_status_idx ON agentphone.calls (status);
-- The per-number limit and the per-role quotas count recent calls.
CREATE INDEX calls_number_idx ON agentphone.calls (to_number, created_at);
CREATE INDEX calls_role_idx ON agentphone.calls (created_by, created_at);

REVOKE ALL ON agentphone.calls FROM PUBLIC;

COMMENT ON TABLE agentphone.calls IS 'one row per call queued with agentphone_call(); see the README for every status';
COMMENT ON COLUMN agentphone.calls.status IS 'queued, dispatching, reconciling, in-progress, completed, failed (the API''s own), canceled, blocked, error or unknown';

-- Each role sees its own calls; agentphone_admin sees all.  Only the
-- extension's functions and worker write (nobody is granted INSERT, UPDATE
-- or DELETE); the table owner and superusers bypass these policies.
ALTER TABLE agentphone.calls ENABLE ROW LEVEL SECURITY;
CREATE POLICY calls_own ON agentphone.calls FOR SELECT
	USING (created_by = CURRENT_USER OR pg_catalog.pg_has_role('agentphone_admin', 'MEMBER'));
GRANT SELECT ON agentphone.calls TO agentphone_caller;
COMMENT ON COLUMN agentphone.calls.api_call_id IS 'AgentPhone''s id of the placed call (call_...)';
COMMENT ON COLUMN agentphone.calls.last_error IS 'why the call is in error, unknown or waiting for a retry, in words';

-- Numbers that are never dialed, whoever queues them.
CREATE TABLE agentphone.do_not_call (
	number				text PRIMARY KEY CHECK (number ~ '^\+[1-9][0-9]{1,14}$'),
	reason				text,
	added_at			timestamptz NOT NULL DEFAULT now(),
	added_by			name NOT NULL DEFAULT SESSION_USER
);
REVOKE ALL ON agentphone.do_not_call FROM PUBLIC;
GRANT SELECT ON agentphone.do_not_call TO agentphone_admin;
COMMENT ON TABLE agentphone.do_not_call IS 'numbers never dialed; managed with agentphone_do_not_call() and agentphone_allow_calls()';

-- The prefixes agentphone never dials, besides agentphone.blocked_prefixes:
-- the N11 service and emergency codes under +1 (211 to 911) and premium
-- rate ranges (+1 900, +1 976, UK 09).  Numbers of fewer than 7 digits
-- (112, 911, 999, 000 and the other short codes) are refused as well.
CREATE FUNCTION agentphone.default_blocked_prefixes() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ARRAY['+1211', '+1311', '+1411', '+1511', '+1611', '+1711', '+1811', '+1911',
				   '+1900', '+1976', '+449'] $$;
REVOKE ALL ON FUNCTION agentphone.default_blocked_prefixes() FROM PUBLIC;

-- setting_list returns a comma-separated agentphone.* setting as an array
-- of trimmed, non-empty items.
CREATE FUNCTION agentphone.setting_list(name text) RETURNS text[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(array_agg(btrim(item)) FILTER (WHERE btrim(item) <> ''), '{}')
	FROM unnest(string_to_array(coalesce(current_setting(name, true), ''), ',')) AS item
$$;
REVOKE ALL ON FUNCTION agentphone.setting_list(text) FROM PUBLIC;

-- dial_refusal says why a number may not be dialed now, or returns no row:
-- kind 'blocked' (a blocked or not allowed destination, the do-not-call
-- list) or 'limit' (agentphone.max_calls_per_number_per_day, and at queue
-- time the caller's agentphone.role_calls_per_hour/_per_day).  It runs
-- when a call is queued (at_queue, the call not yet inserted) and again
-- when it is claimed for dialing (call_id excluded from the counts).
CREATE FUNCTION agentphone.dial_refusal(number text, role name, call_id bigint, at_queue boolean,
	OUT kind text, OUT reason text)
RETURNS SETOF record
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p text;
	allowed text[] := agentphone.setting_list('agentphone.allowed_prefixes');
	per_number integer := coalesce(nullif(current_setting('agentphone.max_calls_per_number_per_day', true), ''), '0')::integer;
	quota integer;
	n bigint;
BEGIN
	IF length(number) - 1 < 7 THEN
		RETURN QUERY SELECT 'blocked', format('%s is a short service or emergency number', number);
		RETURN;
	END IF;
	FOREACH p IN ARRAY agentphone.default_blocked_prefixes() || agentphone.setting_list('agentphone.blocked_prefixes') LOOP
		IF starts_with(number, p) THEN
			RETURN QUERY SELECT 'blocked', format('%s is in a blocked range (prefix %s)', number, p);
			RETURN;
		END IF;
	END LOOP;
	IF cardinality(allowed) > 0 AND NOT EXISTS (SELECT FROM unnest(allowed) a WHERE starts_with(number, a)) THEN
		RETURN QUERY SELECT 'blocked', format('%s is not in agentphone.allowed_prefixes (%s)', number, array_to_string(allowed, ','));
		RETURN;
	END IF;
	SELECT d.reason INTO p FROM agentphone.do_not_call d WHERE d.number = dial_refusal.number;
	IF FOUND THEN
		RETURN QUERY SELECT 'blocked', format('%s is on the do-not-call list%s', number, ': ' || p);
		RETURN;
	END IF;
	IF per_number > 0 THEN
		SELECT count(*) INTO n FROM agentphone.calls c
		 WHERE c.to_number = dial_refusal.number AND c.id IS DISTINCT FROM call_id
		   AND c.created_at > now() - interval '1 day'
		   AND c.status NOT IN ('canceled', 'blocked', 'error')
		   AND (at_queue OR c.status NOT IN ('queued'));
		IF n >= per_number THEN
			RETURN QUERY SELECT 'limit', format('%s already has %s calls in the last 24 hours (agentphone.max_calls_per_number_per_day = %s)', number, n, per_number);
			RETURN;
		END IF;
	END IF;
	IF at_queue THEN
		FOREACH p IN ARRAY ARRAY['hour', 'day'] LOOP
			quota := coalesce(nullif(current_setting('agentphone.role_calls_per_' || p, true), ''), '0')::integer;
			CONTINUE WHEN quota = 0;
			SELECT count(*) INTO n FROM agentphone.calls c
			 WHERE c.created_by = role AND c.created_at > now() - ('1 ' || p)::interval
			   AND c.status NOT IN ('canceled', 'blocked');
			IF n >= quota THEN
				RETURN QUERY SELECT 'limit', format('role %s has queued %s calls in the last %s (agentphone.role_calls_per_%s = %s)', role, n, p, p, quota);
				RETURN;
			END IF;
		END LOOP;
	END IF;
END $$;
REVOKE ALL ON FUNCTION agentphone.dial_refusal(text, name, bigint, boolean) FROM PUBLIC;

-- window_opens returns the first time at or after "at" that lies in
-- agentphone.call_window ('HH:MM-HH:MM', in the callee's time zone tz, or
-- agentphone.default_timezone); "at" itself when no window is set.
CREATE FUNCTION agentphone.window_opens(at timestamptz, tz text) RETURNS timestamptz
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	w text := coalesce(current_setting('agentphone.call_window', true), '');
	zone text := coalesce(tz, nullif(current_setting('agentphone.default_timezone', true), ''), 'UTC');
	opens time;
	closes time;
	local timestamp;
BEGIN
	IF w = '' THEN
		RETURN at;
	END IF;
	opens := split_part(w, '-', 1)::time;
	closes := split_part(w, '-', 2)::time;
	local := at AT TIME ZONE zone;
	IF local::time >= opens AND local::time < closes THEN
		RETURN at;
	ELSIF local::time < opens THEN
		RETURN (local::date + opens) AT TIME ZONE zone;
	END IF;
	RETURN (local::date + 1 + opens) AT TIME ZONE zone;
END $$;
REVOKE ALL ON FUNCTION agentphone.window_opens(timestamptz, text) FROM PUBLIC;

-- The worker's claim, as one statement: up to max_calls due queued calls
-- become "dispatching", oldest first.  Each is checked once more just
-- before dialing: a creator that lost EXECUTE on agentphone_call() makes
-- it "canceled", a rule of dial_refusal() makes it "blocked" (both never
-- dialed, last_error says why), and a closed calling window puts it back
-- to wait, still "queued", for the window to open.  FOR UPDATE SKIP LOCKED: concurrent
-- claimers never take the same call and never wait for one another, and a
-- call locked by a user's transaction is left for a later claim.  The
-- worker runs it in a transaction of its own and commits before any network
-- I/O; the isolation specs in test/isolation run the very same function.
CREATE FUNCTION agentphone.claim_calls(max_calls integer)
RETURNS SETOF agentphone.calls
LANGUAGE sql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
	WITH due AS (
		SELECT q.id FROM agentphone.calls q
		 WHERE q.status = 'queued' AND q.next_attempt_at <= now()
		 ORDER BY q.next_attempt_at, q.id
		 LIMIT max_calls
		 FOR UPDATE SKIP LOCKED),
	checks AS (
		SELECT c.id,
			   NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = c.created_by)
				 OR NOT has_function_privilege(c.created_by,
					 '@extschema@.agentphone_call(text,text,jsonb,text,text,text,text,jsonb,text,timestamptz)',
					 'EXECUTE') AS revoked,
			   (SELECT r.reason FROM agentphone.dial_refusal(c.to_number, c.created_by, c.id, false) r) AS refusal,
			   agentphone.window_opens(now(), c.timezone) AS opens
		  FROM due JOIN agentphone.calls c ON c.id = due.id),
	verdict AS (
		SELECT id, opens,
			   CASE WHEN revoked THEN 'canceled'
					WHEN refusal IS NOT NULL THEN 'blocked'
					WHEN opens > now() THEN 'queued'
					ELSE 'dispatching' END AS status,
			   refusal
		  FROM checks)
	UPDATE agentphone.calls c
	   SET status = v.status,
		   attempts = c.attempts + (v.status = 'dispatching')::integer,
		   dispatched_at = CASE WHEN v.status = 'dispatching' THEN now() ELSE c.dispatched_at END,
		   next_attempt_at = CASE v.status WHEN 'dispatching' THEN c.next_attempt_at
										   WHEN 'queued' THEN v.opens END,
		   last_error = CASE v.status
			   WHEN 'canceled' THEN format('not dialed: role %s may no longer place calls (EXECUTE on agentphone_call was revoked)', c.created_by)
			   WHEN 'blocked' THEN 'not dialed: ' || v.refusal
			   WHEN 'queued' THEN format('waiting for agentphone.call_window to open at %s', v.opens)
			   ELSE c.last_error END,
		   updated_at = now()
	  FROM verdict v
	 WHERE c.id = v.id
	RETURNING c.*
$$;
REVOKE ALL ON FUNCTION agentphone.claim_calls(integer) FROM PUBLIC;
COMMENT ON FUNCTION agentphone.claim_calls(integer) IS
'internal: the worker''s claim of due calls; calling it by hand takes calls away from the worker';

-- What was said, turn by turn, once a call has ended.  Written by the
-- worker in one transaction per call, idempotently.
CREATE TABLE agentphone.transcripts (
	call_id				bigint NOT NULL REFERENCES agentphone.calls (id) ON DELETE CASCADE,
	seq					integer NOT NULL,
	role				text NOT NULL CHECK (role IN ('user', 'agent')),
	content				text NOT NULL,
	created_at			timestamptz,
	PRIMARY KEY (call_id, seq)
);
CREATE INDEX transcripts_content_fts_idx ON agentphone.transcripts
	USING gin (to_tsvector('english', content));
REVOKE ALL ON agentphone.transcripts FROM PUBLIC;
ALTER TABLE agentphone.transcripts ENABLE ROW LEVEL SECURITY;
-- the calls' policy applies inside: the turns of the calls one may see
CREATE POLICY transcripts_own ON agentphone.transcripts FOR SELECT
	USING (EXISTS (SELECT FROM agentphone.calls c WHERE c.id = call_id));
GRANT SELECT ON agentphone.transcripts TO agentphone_caller;
COMMENT ON TABLE agentphone.transcripts IS 'the turns of each ended call, in order (seq from 1)';

-- Every status transition of every call, kept for
-- agentphone.event_retention (then trimmed by the worker).
CREATE TABLE agentphone.call_events (
	id					bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	call_id				bigint NOT NULL REFERENCES agentphone.calls (id) ON DELETE CASCADE,
	from_status			text,
	to_status			text NOT NULL,
	at					timestamptz NOT NULL DEFAULT clock_timestamp(),
	detail				text
);
CREATE INDEX call_events_call_idx ON agentphone.call_events (call_id, id);
CREATE INDEX call_events_at_idx ON agentphone.call_events (at);
REVOKE ALL ON agentphone.call_events FROM PUBLIC;
ALTER TABLE agentphone.call_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY call_events_own ON agentphone.call_events FOR SELECT
	USING (EXISTS (SELECT FROM agentphone.calls c WHERE c.id = call_id));
GRANT SELECT ON agentphone.call_events TO agentphone_caller;
COMMENT ON TABLE agentphone.call_events IS 'every status transition: call, from, to, when, and last_error at that moment';

-- record_transition logs a status change and, for a change of an existing
-- call, announces it with NOTIFY agentphone, '{"id": ..., "call_id": ...,
-- "status": ...}', sent when the transaction that made the change commits.
-- Queuing a call sends no NOTIFY, so agentphone_call() can be used in a
-- transaction that is then PREPAREd (PREPARE refuses transactions that
-- notified).
CREATE FUNCTION agentphone.record_transition() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	INSERT INTO agentphone.call_events (call_id, from_status, to_status, detail)
	VALUES (NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status, NEW.last_error);
	IF TG_OP = 'UPDATE' THEN
		PERFORM pg_catalog.pg_notify('agentphone',
			pg_catalog.json_build_object('id', NEW.id, 'call_id', NEW.api_call_id,
										 'status', NEW.status)::text);
	END IF;
	RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION agentphone.record_transition() FROM PUBLIC;

CREATE TRIGGER calls_queued AFTER INSERT ON agentphone.calls
	FOR EACH ROW EXECUTE FUNCTION agentphone.record_transition();
CREATE TRIGGER calls_transition AFTER UPDATE OF status ON agentphone.calls
	FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
	EXECUTE FUNCTION agentphone.record_transition();

-- One row per call with its transcript as text, for reports.
CREATE VIEW agentphone.call_report WITH (security_invoker = true) AS
SELECT c.id, c.api_call_id, c.created_at, c.created_by, c.agent_id, c.to_number,
	c.status, c.started_at, c.ended_at, c.duration_seconds, c.recording_url,
	c.transcript_complete,
	(SELECT pg_catalog.string_agg(t.role || ': ' || t.content, E'\n' ORDER BY t.seq)
	 FROM agentphone.transcripts t WHERE t.call_id = c.id) AS transcript
FROM agentphone.calls c;
REVOKE ALL ON agentphone.call_report FROM PUBLIC;
GRANT SELECT ON agentphone.call_report TO agentphone_caller;

-- Keep the calls in pg_dump output.
SELECT pg_catalog.pg_extension_config_dump('agentphone.calls', '');
SELECT pg_catalog.pg_extension_config_dump('agentphone.calls_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('agentphone.transcripts', '');
SELECT pg_catalog.pg_extension_config_dump('agentphone.call_events', '');
SELECT pg_catalog.pg_extension_config_dump('agentphone.call_events_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('agentphone.do_not_call', '');

CREATE FUNCTION agentphone_call(
	agent_id text,
	to_number text,
	variables jsonb DEFAULT NULL,
	from_number_id text DEFAULT NULL,
	initial_greeting text DEFAULT NULL,
	voice text DEFAULT NULL,
	system_prompt text DEFAULT NULL,
	options jsonb DEFAULT NULL,
	timezone text DEFAULT NULL,
	not_before timestamptz DEFAULT NULL)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'agentphone_call';

COMMENT ON FUNCTION agentphone_call(text, text, jsonb, text, text, text, text, jsonb, text, timestamptz) IS
'queue a call; it is placed after COMMIT and never after ROLLBACK; returns agentphone.calls.id';

CREATE FUNCTION agentphone_cancel(id bigint)
RETURNS boolean
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'agentphone_cancel';

COMMENT ON FUNCTION agentphone_cancel(bigint) IS
'cancel a call that is still queued; false when it is too late';

CREATE FUNCTION agentphone_wait(id bigint, timeout interval DEFAULT '30 seconds')
RETURNS text
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'agentphone_wait';

COMMENT ON FUNCTION agentphone_wait(bigint, interval) IS
'wait until the call has left queued/dispatching (or the timeout passes) and return its status';

-- Only roles given these privileges may place calls (see README "Privileges").
REVOKE ALL ON FUNCTION agentphone_call(text, text, jsonb, text, text, text, text, jsonb, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentphone_cancel(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentphone_wait(bigint, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentphone_call(text, text, jsonb, text, text, text, text, jsonb, text, timestamptz),
	agentphone_cancel(bigint), agentphone_wait(bigint, interval) TO agentphone_caller;

-- The do-not-call list.  Any caller may add a number (that only ever
-- prevents calls); only agentphone_admin may take one off.  SECURITY
-- DEFINER: the list is not writable directly by anyone else.
CREATE FUNCTION agentphone_do_not_call(number text, reason text DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the E.164 rule of agentphone_call(): "+", a non-zero digit, 1 to 14 more
	IF number IS NULL OR number !~ '^\+[1-9][0-9]{1,14}$' THEN
		RAISE EXCEPTION 'number must be in E.164 form, not "%"', number
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use the form +14155550123.';
	END IF;
	INSERT INTO agentphone.do_not_call (number, reason)
	VALUES (agentphone_do_not_call.number, agentphone_do_not_call.reason)
	ON CONFLICT ON CONSTRAINT do_not_call_pkey DO NOTHING;
	RETURN FOUND;
END $$;
COMMENT ON FUNCTION agentphone_do_not_call(text, text) IS
'add a number (E.164) to the do-not-call list; queued calls to it are never dialed; false if it was listed already';
CREATE FUNCTION agentphone_allow_calls(number text) RETURNS boolean
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DELETE FROM agentphone.do_not_call d WHERE d.number = agentphone_allow_calls.number;
	RETURN FOUND;
END $$;
COMMENT ON FUNCTION agentphone_allow_calls(text) IS
'take a number off the do-not-call list; false if it was not on it';
REVOKE ALL ON FUNCTION agentphone_do_not_call(text, text), agentphone_allow_calls(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentphone_do_not_call(text, text) TO agentphone_caller;
GRANT EXECUTE ON FUNCTION agentphone_allow_calls(text) TO agentphone_admin;

-- agentphone_dial_trigger(agent_id, number_column [, variables [, id_column]])
-- queues one call per inserted row.  variables names a jsonb column holding
-- the variables, or lists columns ('name,appointment_time') whose values
-- become variables.  In a BEFORE trigger, id_column receives the queued
-- call's id.  A column that does not exist is an error at the first row.
CREATE FUNCTION agentphone_dial_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	agent text := TG_ARGV[0];
	number_col text := TG_ARGV[1];
	vars_spec text := TG_ARGV[2];
	id_col text := TG_ARGV[3];
	rec jsonb := pg_catalog.to_jsonb(NEW);
	vars jsonb;
	col text;
	call_id bigint;
BEGIN
	IF TG_NARGS < 2 OR TG_NARGS > 4 THEN
		RAISE EXCEPTION 'agentphone_dial_trigger() takes 2 to 4 arguments, not %', TG_NARGS
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'EXECUTE FUNCTION agentphone_dial_trigger(''agt_1'', ''phone'' [, ''vars'' [, ''call_id'']])';
	END IF;
	IF TG_LEVEL <> 'ROW' OR TG_OP NOT IN ('INSERT', 'UPDATE') THEN
		RAISE EXCEPTION 'agentphone_dial_trigger() must be a FOR EACH ROW trigger on INSERT or UPDATE'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOREACH col IN ARRAY pg_catalog.array_remove(ARRAY[number_col, id_col]
		|| pg_catalog.string_to_array(pg_catalog.replace(vars_spec, ' ', ''), ','), NULL) LOOP
		IF NOT rec ? col THEN
			RAISE EXCEPTION 'column "%" of agentphone_dial_trigger() does not exist in table %.%',
				col, TG_TABLE_SCHEMA, TG_TABLE_NAME
				USING ERRCODE = 'undefined_column',
					  HINT = 'Check the arguments of trigger ' || TG_NAME || '.';
		END IF;
	END LOOP;
	IF vars_spec IS NOT NULL AND pg_catalog.strpos(vars_spec, ',') = 0
	   AND pg_catalog.jsonb_typeof(rec -> pg_catalog.btrim(vars_spec)) = 'object' THEN
		vars := rec -> pg_catalog.btrim(vars_spec);
	ELSIF vars_spec IS NOT NULL THEN
		SELECT pg_catalog.jsonb_object_agg(k, rec -> k)
		INTO vars
		FROM pg_catalog.unnest(pg_catalog.string_to_array(pg_catalog.replace(vars_spec, ' ', ''), ',')) AS k;
	END IF;
	call_id := @extschema@.agentphone_call(agent, rec ->> number_col, vars);
	IF id_col IS NOT NULL THEN
		IF TG_WHEN <> 'BEFORE' THEN
			RAISE EXCEPTION 'agentphone_dial_trigger() can store the call id in column "%" only in a BEFORE trigger', id_col
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		NEW := pg_catalog.jsonb_populate_record(NEW, pg_catalog.jsonb_build_object(id_col, call_id));
	END IF;
	RETURN NEW;
END $$;
COMMENT ON FUNCTION agentphone_dial_trigger() IS
'trigger: queue a call per row; arguments agent_id, number column, [variables: jsonb column or column list], [column for the call id, BEFORE only]';
REVOKE ALL ON FUNCTION agentphone_dial_trigger() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentphone_dial_trigger() TO agentphone_caller;

-- Read and control functions: they ask the API directly, from the calling
-- backend, and can be cancelled (statement_timeout, pg_cancel_backend).
CREATE FUNCTION agentphone_get_call(call_id text) RETURNS jsonb
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'agentphone_get_call';

CREATE FUNCTION agentphone_list_calls(status text DEFAULT NULL, direction text DEFAULT NULL,
	search text DEFAULT NULL, max_rows integer DEFAULT 100)
RETURNS TABLE (call_id text, agent_id text, call_direction text, call_status text,
	from_number text, to_number text, started_at timestamptz, ended_at timestamptz,
	duration_seconds integer, transcript_snippet text, recording_available boolean,
	recording_url text)
LANGUAGE C VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'agentphone_list_calls';

CREATE FUNCTION agentphone_list_calls_for_number(number_id text, max_rows integer DEFAULT 100)
RETURNS TABLE (call_id text, agent_id text, call_direction text, call_status text,
	from_number text, to_number text, started_at timestamptz, ended_at timestamptz,
	duration_seconds integer, transcript_snippet text, recording_available boolean,
	recording_url text)
LANGUAGE C VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'agentphone_list_calls_for_number';

CREATE FUNCTION agentphone_call_transcript(call_id text)
RETURNS TABLE (seq integer, role text, content text, created_at timestamptz)
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'agentphone_call_transcript';

CREATE FUNCTION agentphone_call_recording(call_id text) RETURNS bytea
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'agentphone_call_recording';

CREATE FUNCTION agentphone_web_call(agent_id text, metadata jsonb DEFAULT NULL, variables jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE C VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'agentphone_web_call';

CREATE FUNCTION agentphone_end_call(id bigint) RETURNS jsonb
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'agentphone_end_call';

REVOKE ALL ON FUNCTION agentphone_get_call(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentphone_list_calls(text, text, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentphone_list_calls_for_number(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentphone_call_transcript(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentphone_call_recording(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentphone_web_call(text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentphone_end_call(bigint) FROM PUBLIC;
-- callers reach only the API calls they queued (checked in C); the API's
-- whole call list is for agentphone_admin
GRANT EXECUTE ON FUNCTION agentphone_get_call(text), agentphone_call_transcript(text),
	agentphone_call_recording(text), agentphone_web_call(text, jsonb, jsonb),
	agentphone_end_call(bigint) TO agentphone_caller;
GRANT EXECUTE ON FUNCTION agentphone_list_calls(text, text, text, integer),
	agentphone_list_calls_for_number(text, integer) TO agentphone_admin;

CREATE FUNCTION agentphone_stream_transcript(call_id text, timeout interval DEFAULT '60 seconds')
RETURNS TABLE (seq integer, role text, content text, created_at timestamptz)
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'agentphone_stream_transcript';
REVOKE ALL ON FUNCTION agentphone_stream_transcript(text, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentphone_stream_transcript(text, interval) TO agentphone_caller;

-- The worker's health: running or not, counters since the server started,
-- its last failure.
CREATE FUNCTION agentphone_worker_status(
	OUT running boolean, OUT pid integer, OUT started_at timestamptz,
	OUT last_loop timestamptz, OUT queue_depth bigint, OUT in_flight integer,
	OUT dispatched bigint, OUT retried bigint, OUT failed bigint,
	OUT reconciled bigint, OUT last_error text)
RETURNS record
LANGUAGE C VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'agentphone_worker_status';
REVOKE ALL ON FUNCTION agentphone_worker_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentphone_worker_status() TO agentphone_admin;
