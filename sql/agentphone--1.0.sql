/* agentphone--1.0.sql: install script of the agentphone extension. */

\echo Use "CREATE EXTENSION agentphone" to load this file. \quit

-- The functions go into the extension's schema (by default the first schema
-- of search_path, usually public) so that they can be called unqualified;
-- the state lives in schema agentphone.
CREATE SCHEMA agentphone;
REVOKE ALL ON SCHEMA agentphone FROM PUBLIC;

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

REVOKE ALL ON agentphone.calls FROM PUBLIC;

COMMENT ON TABLE agentphone.calls IS 'one row per call queued with agentphone_call(); see the README for every status';
COMMENT ON COLUMN agentphone.calls.status IS 'queued, dispatching, in-progress, completed, failed (the API''s own), canceled, error or unknown';
COMMENT ON COLUMN agentphone.calls.api_call_id IS 'AgentPhone''s id of the placed call (call_...)';
COMMENT ON COLUMN agentphone.calls.last_error IS 'why the call is in error, unknown or waiting for a retry, in words';

-- The worker's claim, as one statement: up to max_calls due queued calls
-- become "dispatching", oldest first.  FOR UPDATE SKIP LOCKED: concurrent
-- claimers never take the same call and never wait for one another, and a
-- call locked by a user's transaction is left for a later claim.  The
-- worker runs it in a transaction of its own and commits before any network
-- I/O; the isolation specs in test/isolation run the very same function.
CREATE FUNCTION agentphone.claim_calls(max_calls integer)
RETURNS SETOF agentphone.calls
LANGUAGE sql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE agentphone.calls c
	   SET status = 'dispatching', attempts = c.attempts + 1,
		   dispatched_at = pg_catalog.now(), updated_at = pg_catalog.now()
	 WHERE c.id IN (SELECT q.id FROM agentphone.calls q
					 WHERE q.status = 'queued' AND q.next_attempt_at <= pg_catalog.now()
					 ORDER BY q.next_attempt_at, q.id
					 LIMIT max_calls
					 FOR UPDATE SKIP LOCKED)
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
CREATE VIEW agentphone.call_report AS
SELECT c.id, c.api_call_id, c.created_at, c.created_by, c.agent_id, c.to_number,
	c.status, c.started_at, c.ended_at, c.duration_seconds, c.recording_url,
	c.transcript_complete,
	(SELECT pg_catalog.string_agg(t.role || ': ' || t.content, E'\n' ORDER BY t.seq)
	 FROM agentphone.transcripts t WHERE t.call_id = c.id) AS transcript
FROM agentphone.calls c;
REVOKE ALL ON agentphone.call_report FROM PUBLIC;

-- Keep the calls in pg_dump output.
SELECT pg_catalog.pg_extension_config_dump('agentphone.calls', '');
SELECT pg_catalog.pg_extension_config_dump('agentphone.calls_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('agentphone.transcripts', '');
SELECT pg_catalog.pg_extension_config_dump('agentphone.call_events', '');
SELECT pg_catalog.pg_extension_config_dump('agentphone.call_events_id_seq', '');

CREATE FUNCTION agentphone_call(
	agent_id text,
	to_number text,
	variables jsonb DEFAULT NULL,
	from_number_id text DEFAULT NULL,
	initial_greeting text DEFAULT NULL,
	voice text DEFAULT NULL,
	system_prompt text DEFAULT NULL,
	options jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'agentphone_call';

COMMENT ON FUNCTION agentphone_call(text, text, jsonb, text, text, text, text, jsonb) IS
'queue a call; it is placed after COMMIT and never after ROLLBACK; returns agentphone.calls.id';

CREATE FUNCTION agentphone_cancel(id bigint)
RETURNS boolean
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'agentphone_cancel';

COMMENT ON FUNCTION agentphone_cancel(bigint) IS
'cancel a call that is still queued; false when it is too late';

CREATE FUNCTION agentphone_wait(id bigint, timeout interval DEFAULT '30 seconds')
RETURNS text
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'agentphone_wait';

COMMENT ON FUNCTION agentphone_wait(bigint, interval) IS
'wait until the call has left queued/dispatching (or the timeout passes) and return its status';

-- Only roles given these privileges may place calls (see README "Privileges").
REVOKE ALL ON FUNCTION agentphone_call(text, text, jsonb, text, text, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentphone_cancel(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentphone_wait(bigint, interval) FROM PUBLIC;

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

-- Read and control functions: they ask the API directly, from the calling
-- backend, and can be cancelled (statement_timeout, pg_cancel_backend).
CREATE FUNCTION agentphone_get_call(call_id text) RETURNS jsonb
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'agentphone_get_call';

CREATE FUNCTION agentphone_list_calls(status text DEFAULT NULL, direction text DEFAULT NULL,
	search text DEFAULT NULL, max_rows integer DEFAULT 100)
RETURNS TABLE (call_id text, agent_id text, call_direction text, call_status text,
	from_number text, to_number text, started_at timestamptz, ended_at timestamptz,
	duration_seconds integer, transcript_snippet text, recording_available boolean,
	recording_url text)
LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'agentphone_list_calls';

CREATE FUNCTION agentphone_list_calls_for_number(number_id text, max_rows integer DEFAULT 100)
RETURNS TABLE (call_id text, agent_id text, call_direction text, call_status text,
	from_number text, to_number text, started_at timestamptz, ended_at timestamptz,
	duration_seconds integer, transcript_snippet text, recording_available boolean,
	recording_url text)
LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'agentphone_list_calls_for_number';

CREATE FUNCTION agentphone_call_transcript(call_id text)
RETURNS TABLE (seq integer, role text, content text, created_at timestamptz)
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'agentphone_call_transcript';

CREATE FUNCTION agentphone_call_recording(call_id text) RETURNS bytea
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'agentphone_call_recording';

CREATE FUNCTION agentphone_web_call(agent_id text, metadata jsonb DEFAULT NULL, variables jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'agentphone_web_call';

CREATE FUNCTION agentphone_end_call(id bigint) RETURNS jsonb
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'agentphone_end_call';

REVOKE ALL ON FUNCTION agentphone_get_call(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentphone_list_calls(text, text, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentphone_list_calls_for_number(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentphone_call_transcript(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentphone_call_recording(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentphone_web_call(text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION agentphone_end_call(bigint) FROM PUBLIC;

CREATE FUNCTION agentphone_stream_transcript(call_id text, timeout interval DEFAULT '60 seconds')
RETURNS TABLE (seq integer, role text, content text, created_at timestamptz)
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'agentphone_stream_transcript';
REVOKE ALL ON FUNCTION agentphone_stream_transcript(text, interval) FROM PUBLIC;

-- The worker's health: running or not, counters since the server started,
-- its last failure.
CREATE FUNCTION agentphone_worker_status(
	OUT running boolean, OUT pid integer, OUT started_at timestamptz,
	OUT last_loop timestamptz, OUT queue_depth bigint, OUT in_flight integer,
	OUT dispatched bigint, OUT retried bigint, OUT failed bigint,
	OUT reconciled bigint, OUT last_error text)
RETURNS record
LANGUAGE C VOLATILE PARALLEL UNSAFE AS 'MODULE_PATHNAME', 'agentphone_worker_status';
REVOKE ALL ON FUNCTION agentphone_worker_status() FROM PUBLIC;
