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

-- Keep the calls in pg_dump output.
SELECT pg_catalog.pg_extension_config_dump('agentphone.calls', '');
SELECT pg_catalog.pg_extension_config_dump('agentphone.calls_id_seq', '');

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
