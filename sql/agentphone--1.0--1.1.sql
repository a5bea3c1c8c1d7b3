/* agentphone--1.0--1.1.sql: upgrade of the agentphone extension to 1.1. */

\echo Use "ALTER EXTENSION agentphone UPDATE TO '1.1'" to load this file. \quit

-- 1.1 holds its promises against hostile users (README "Privileges" and
-- "Responsible dialing"): numbers are classified by libphonenumber, the
-- per-number limit and the role quotas hold for bulk and concurrent
-- queueing, the calling window is bound to the callee's country, NOTIFY
-- carries no API call id, and the do-not-call list is bounded and private.
-- A fresh CREATE EXTENSION runs 1.0 and then this script, so an upgraded
-- install and a new one are the same.

-- Destination rules, in C (src/numbers.c): libphonenumber's validity and
-- type, agentphone.allowed_number_types, the short-number rule and the
-- blocked/allowed prefixes.  NULL: the number may be dialed.
CREATE FUNCTION agentphone.destination_refusal(number text) RETURNS text
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'agentphone_destination_refusal';
REVOKE ALL ON FUNCTION agentphone.destination_refusal(text) FROM PUBLIC;

-- A valid number in its E.164 form (as agentphone_call() stores it),
-- anything else unchanged.
CREATE FUNCTION agentphone.normalize_number(number text) RETURNS text
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'agentphone_normalize_number';
REVOKE ALL ON FUNCTION agentphone.normalize_number(text) FROM PUBLIC;

-- What agentphone makes of a number, for anyone who may place calls.
CREATE FUNCTION agentphone_check_number(number text,
	OUT e164 text, OUT type text, OUT region text, OUT time_zones text[],
	OUT refusal text)
RETURNS record
LANGUAGE C STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'agentphone_check_number';
COMMENT ON FUNCTION agentphone_check_number(text) IS
'what agentphone makes of a number: E.164 form, libphonenumber type, country, its time zones, and why it would be refused (NULL: it would be dialed)';
CREATE FUNCTION agentphone_libphonenumber_version() RETURNS text
LANGUAGE C STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'agentphone_libphonenumber_version';
COMMENT ON FUNCTION agentphone_libphonenumber_version() IS
'the libphonenumber version, and so numbering metadata, agentphone classifies numbers with';
REVOKE ALL ON FUNCTION agentphone_check_number(text), agentphone_libphonenumber_version() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentphone_check_number(text), agentphone_libphonenumber_version()
	TO agentphone_caller;

-- The first moment at or after "at" when agentphone.call_window and
-- agentphone.call_days are open in the callee's zone tz or, without one,
-- in every zone of the number's country; NULL when never at once.
CREATE FUNCTION agentphone.window_opens(at timestamptz, tz text, number text) RETURNS timestamptz
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'agentphone_window_opens';
REVOKE ALL ON FUNCTION agentphone.window_opens(timestamptz, text, text) FROM PUBLIC;

-- The do-not-call list: reasons of at most 500 characters, numbers as
-- agentphone_call() stores them, each caller seeing the entries it added.
INSERT INTO agentphone.do_not_call (number, reason, added_at, added_by)
SELECT agentphone.normalize_number(d.number), d.reason, d.added_at, d.added_by
  FROM agentphone.do_not_call d
 WHERE agentphone.normalize_number(d.number) <> d.number
ON CONFLICT DO NOTHING;
DELETE FROM agentphone.do_not_call d WHERE agentphone.normalize_number(d.number) <> d.number;
-- NOT VALID: longer reasons entered under 1.0 are kept as they were
ALTER TABLE agentphone.do_not_call ADD CONSTRAINT do_not_call_reason_length
	CHECK (pg_catalog.char_length(reason) <= 500) NOT VALID;
ALTER TABLE agentphone.do_not_call ENABLE ROW LEVEL SECURITY;
CREATE POLICY do_not_call_own ON agentphone.do_not_call FOR SELECT
	USING (added_by = SESSION_USER OR pg_catalog.pg_has_role('agentphone_admin', 'MEMBER'));
GRANT SELECT ON agentphone.do_not_call TO agentphone_caller;

CREATE OR REPLACE FUNCTION agentphone_do_not_call(number text, reason text DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the E.164 rule of agentphone_call(): "+", a non-zero digit, 1 to 14 more
	IF number IS NULL OR number !~ '^\+[1-9][0-9]{1,14}$' THEN
		RAISE EXCEPTION 'number must be in E.164 form, not "%"', number
			USING ERRCODE = 'invalid_parameter_value', HINT = 'Use the form +14155550123.';
	END IF;
	IF char_length(reason) > 500 THEN
		RAISE EXCEPTION 'reason is too long'
			USING ERRCODE = 'string_data_right_truncation',
				  DETAIL = format('It has %s characters; at most 500 are accepted.', char_length(reason)),
				  HINT = 'Shorten the reason.';
	END IF;
	INSERT INTO agentphone.do_not_call (number, reason)
	VALUES (agentphone.normalize_number(agentphone_do_not_call.number), agentphone_do_not_call.reason)
	ON CONFLICT ON CONSTRAINT do_not_call_pkey DO NOTHING;
	RETURN FOUND;
END $$;
CREATE OR REPLACE FUNCTION agentphone_allow_calls(number text) RETURNS boolean
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DELETE FROM agentphone.do_not_call d
	 WHERE d.number = agentphone.normalize_number(agentphone_allow_calls.number);
	RETURN FOUND;
END $$;

-- The do-not-call check of agentphone_call(), in C, for the claim: why
-- number may not be called by role because it is listed, or NULL.  The
-- reason is given only to the role that listed the number.
CREATE FUNCTION agentphone.do_not_call_refusal(number text, role name) RETURNS text
LANGUAGE C STABLE STRICT
AS 'MODULE_PATHNAME', 'agentphone_do_not_call_refusal';
REVOKE ALL ON FUNCTION agentphone.do_not_call_refusal(text, name) FROM PUBLIC;

-- dial_refusal says why a number may not be dialed now, or returns no
-- row: kind 'blocked', a destination rule or the do-not-call list, the
-- same C checks agentphone_call() runs.  The claim runs it before
-- dialing.  (In 1.0 it also counted calls for agentphone_call(); the
-- limits are now counted in C, under locks, and by the claim itself.)
-- The signature is 1.0's; call_id and at_queue are no longer used.
DROP FUNCTION agentphone.window_opens(timestamptz, text);
DROP FUNCTION agentphone.default_blocked_prefixes();
-- PL/pgSQL, not SQL: the claim runs it once per call, and PL/pgSQL keeps
-- its plan where a SQL function with a SET clause is parsed and planned
-- at every call.
CREATE OR REPLACE FUNCTION agentphone.dial_refusal(number text, role name, call_id bigint,
	at_queue boolean, OUT kind text, OUT reason text)
RETURNS SETOF record
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	why text := coalesce(agentphone.destination_refusal(number),
						 agentphone.do_not_call_refusal(number, role));
BEGIN
	IF why IS NOT NULL THEN
		RETURN QUERY SELECT 'blocked'::text, why;
	END IF;
END $$;
DROP FUNCTION agentphone.setting_list(text);

-- The worker's claim, as one statement: up to max_calls due queued calls
-- become "dispatching", oldest first.  Each is checked once more just
-- before dialing: a creator that lost EXECUTE on agentphone_call() makes
-- it "canceled"; a rule of dial_refusal(), a calling window that can no
-- longer open, or agentphone.max_calls_per_number_per_day makes it
-- "blocked" (both never dialed, last_error says why); a closed calling
-- window puts it back to wait, still "queued".  The per-number limit
-- counts the calls dialed (claimed) in the last 24 hours plus those ahead
-- of it in this batch, however they were queued (even rows a superuser
-- inserted directly).  FOR UPDATE SKIP LOCKED: concurrent claimers never
-- take the same call and never wait for one another, and a call locked by
-- a user's transaction is left for a later claim.  The worker runs it in a
-- transaction of its own and commits before any network I/O; the
-- isolation specs in test/isolation run the very same function.
CREATE OR REPLACE FUNCTION agentphone.claim_calls(max_calls integer)
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
		SELECT c.id, c.to_number, c.next_attempt_at AS due_at,
			   NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = c.created_by)
				 OR NOT has_function_privilege(c.created_by,
					 '@extschema@.agentphone_call(text,text,jsonb,text,text,text,text,jsonb,text,timestamptz)',
					 'EXECUTE') AS revoked,
			   (SELECT r.reason FROM agentphone.dial_refusal(c.to_number, c.created_by, c.id, false) r) AS refusal,
			   agentphone.window_opens(now(), c.timezone, c.to_number) AS opens
		  FROM due JOIN agentphone.calls c ON c.id = due.id),
	dialable AS (
		SELECT k.id, k.to_number,
			   row_number() OVER (PARTITION BY k.to_number ORDER BY k.due_at, k.id) AS nth
		  FROM checks k
		 WHERE NOT k.revoked AND k.refusal IS NULL AND k.opens <= now()),
	capped AS MATERIALIZED (	-- counted once per call, not once per join probe
		SELECT d.id, d.nth,
			   (SELECT count(*) FROM agentphone.calls o
				 WHERE o.to_number = d.to_number
				   AND o.dispatched_at > now() - interval '1 day'
				   AND NOT EXISTS (SELECT FROM due WHERE due.id = o.id)) AS dialed,
			   coalesce(nullif(current_setting('agentphone.max_calls_per_number_per_day', true), ''), '0')::integer AS cap
		  FROM dialable d),
	verdict AS (
		SELECT k.id, k.opens,
			   CASE WHEN k.revoked THEN 'canceled'
					WHEN k.refusal IS NOT NULL OR k.opens IS NULL THEN 'blocked'
					WHEN k.opens > now() THEN 'queued'
					WHEN p.cap > 0 AND p.dialed + p.nth > p.cap THEN 'blocked'
					ELSE 'dispatching' END AS status,
			   CASE WHEN k.refusal IS NOT NULL THEN k.refusal
					WHEN k.opens IS NULL THEN format('the calling window (agentphone.call_window, agentphone.call_days) is never open in all time zones of %s at once', k.to_number)
					WHEN p.cap > 0 AND p.dialed + p.nth > p.cap
					THEN format('%s was dialed %s times in the last 24 hours (agentphone.max_calls_per_number_per_day = %s)', k.to_number, greatest(p.dialed, p.cap), p.cap)
			   END AS refusal
		  FROM checks k LEFT JOIN capped p ON p.id = k.id)
	UPDATE agentphone.calls c
	   SET status = v.status,
		   attempts = c.attempts + (v.status = 'dispatching')::integer,
		   dispatched_at = CASE WHEN v.status = 'dispatching' THEN now() ELSE c.dispatched_at END,
		   next_attempt_at = CASE v.status WHEN 'dispatching' THEN c.next_attempt_at
										   WHEN 'queued' THEN v.opens END,
		   last_error = CASE v.status
			   WHEN 'canceled' THEN format('not dialed: role %s may no longer place calls (EXECUTE on agentphone_call was revoked)', c.created_by)
			   WHEN 'blocked' THEN 'not dialed: ' || v.refusal
			   WHEN 'queued' THEN format('waiting for the calling window to open at %s', v.opens)
			   ELSE c.last_error END,
		   updated_at = now()
	  FROM verdict v
	 WHERE c.id = v.id
	RETURNING c.*
$$;

-- Transitions are announced with our id and the status only: LISTEN needs
-- no privilege, and an API call id is the capability to fetch a
-- recording.  A second notification says when a call's transcript has
-- been stored: '{"id": ..., "transcript": "stored"}'.  Queuing a call
-- writes no event any more: agentphone.calls.created_at says when, and
-- each queued call saved an event row, its index entries and a trigger
-- call; the first event is now the call's first transition.
DROP TRIGGER calls_queued ON agentphone.calls;
CREATE OR REPLACE FUNCTION agentphone.record_transition() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	INSERT INTO agentphone.call_events (call_id, from_status, to_status, detail)
	VALUES (NEW.id, OLD.status, NEW.status, NEW.last_error);
	PERFORM pg_catalog.pg_notify('agentphone',
		pg_catalog.json_build_object('id', NEW.id, 'status', NEW.status)::text);
	RETURN NULL;
END $$;
CREATE FUNCTION agentphone.announce_transcript() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM pg_catalog.pg_notify('agentphone',
		pg_catalog.json_build_object('id', NEW.id, 'transcript', 'stored')::text);
	RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION agentphone.announce_transcript() FROM PUBLIC;
CREATE TRIGGER calls_transcript AFTER UPDATE OF transcript_complete ON agentphone.calls
	FOR EACH ROW WHEN (NEW.transcript_complete AND NOT OLD.transcript_complete)
	EXECUTE FUNCTION agentphone.announce_transcript();

-- Indexes that serve the worker's periodic queries with the live calls
-- only, however many finished ones are stored (test/t/019_plans.pl): the
-- calls to follow, and the claimed or reconciling ones.  The index on
-- every call's status served only those and cost an entry per transition.
CREATE INDEX calls_following_idx ON agentphone.calls (id)
	WHERE api_call_id IS NOT NULL AND NOT transcript_complete
	  AND status NOT IN ('queued', 'dispatching', 'error', 'unknown');
CREATE INDEX calls_unsettled_idx ON agentphone.calls (status, dispatched_at, id)
	WHERE status IN ('dispatching', 'reconciling');
DROP INDEX agentphone.calls_status_idx;

-- The trigger helper resolves nothing through the caller's search_path.
ALTER FUNCTION agentphone_dial_trigger() SET search_path = pg_catalog, pg_temp;
