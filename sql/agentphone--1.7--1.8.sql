-- agentphone 1.7 -> 1.8: a grant made for one database means nothing in
-- another (issue 22).
\echo Use "ALTER EXTENSION agentphone UPDATE TO '1.8'" to load this file. \quit

-- Every name in this script is schema-qualified, or resolves only to
-- pg_catalog by an exact signature (see agentphone--1.6--1.7.sql).

-- agentphone_caller and agentphone_admin are cluster roles, and every
-- database lets PUBLIC connect: a role granted agentphone_admin to run
-- database A read B's transcripts, and A's application queued calls in B,
-- on B's key.  Membership now counts only in the databases where it was
-- granted: GRANT agentphone_caller TO app, run in a database, is recorded
-- here by the extension (src/grants.c, a utility hook), and the
-- functions, the policies and the claim ask for that record.
CREATE TABLE agentphone.grants (
	role				pg_catalog.regrole NOT NULL,
	admin				boolean NOT NULL,
	admin_option		boolean NOT NULL DEFAULT false,
	granted_at			timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (role, admin)
);
REVOKE ALL ON agentphone.grants FROM PUBLIC;
COMMENT ON TABLE agentphone.grants IS
	'the roles whose membership in agentphone_caller or agentphone_admin counts in this database: GRANT, REVOKE, CREATE ROLE ... IN ROLE, ALTER GROUP and DROP ROLE run here keep it; superusers only';
COMMENT ON COLUMN agentphone.grants.role IS 'the role granted (or a group of roles: its members count through it)';
COMMENT ON COLUMN agentphone.grants.admin IS 'true: agentphone_admin was granted; false: agentphone_caller';
COMMENT ON COLUMN agentphone.grants.admin_option IS 'granted WITH ADMIN OPTION: the role may grant the same group in this database';
COMMENT ON COLUMN agentphone.grants.granted_at IS 'when it was recorded';
-- a restored database keeps its grants (roles by name; those of dropped
-- roles, shown as bare OIDs, are left out)
SELECT pg_catalog.pg_extension_config_dump('agentphone.grants',
	'WHERE EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) role::pg_catalog.oid)');

CREATE FUNCTION agentphone.granted_here(group_role pg_catalog.name) RETURNS boolean
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'agentphone_granted_here';
COMMENT ON FUNCTION agentphone.granted_here(pg_catalog.name) IS
'whether the role that acts (current_user) holds group_role (agentphone_caller or agentphone_admin) in this database: a superuser, or a member through a grant recorded in agentphone.grants';
REVOKE ALL ON FUNCTION agentphone.granted_here(pg_catalog.name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentphone.granted_here(pg_catalog.name) TO agentphone_caller;

CREATE FUNCTION agentphone.role_granted_here(role pg_catalog.regrole, group_role pg_catalog.name) RETURNS boolean
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'agentphone_role_granted_here';
COMMENT ON FUNCTION agentphone.role_granted_here(pg_catalog.regrole, pg_catalog.name) IS
'internal: agentphone.granted_here() for another role (the claim asks it of the role that queued a call)';
REVOKE ALL ON FUNCTION agentphone.role_granted_here(pg_catalog.regrole, pg_catalog.name) FROM PUBLIC;

-- The members of the two group roles count where their grants worked
-- until now: in a database that updates, every one of them (which
-- database a 1.7 grant was made for is not recorded anywhere; a superuser
-- deletes from agentphone.grants the roles of other databases), and in a
-- new install, none (CREATE EXTENSION runs this script too: the tables
-- it created in this transaction say so).
CREATE FUNCTION agentphone.created_in_this_transaction(rel pg_catalog.regclass) RETURNS boolean
LANGUAGE C STABLE STRICT
AS 'MODULE_PATHNAME', 'agentphone_created_in_this_transaction';
COMMENT ON FUNCTION agentphone.created_in_this_transaction(pg_catalog.regclass) IS
'internal: whether this transaction created the relation (the 1.8 script tells a new install from an update by agentphone.calls)';
REVOKE ALL ON FUNCTION agentphone.created_in_this_transaction(pg_catalog.regclass) FROM PUBLIC;

INSERT INTO agentphone.grants (role, admin, admin_option)
SELECT m.member::pg_catalog.regrole,
	   m.roleid OPERATOR(pg_catalog.=) 'agentphone_admin'::pg_catalog.regrole::pg_catalog.oid,
	   pg_catalog.bool_or(m.admin_option)
  FROM pg_catalog.pg_auth_members m
 WHERE m.roleid OPERATOR(pg_catalog.=) ANY (ARRAY['agentphone_caller', 'agentphone_admin']::pg_catalog.regrole[]::pg_catalog.oid[])
   AND NOT m.member OPERATOR(pg_catalog.=) ANY (ARRAY['agentphone_caller', 'agentphone_admin']::pg_catalog.regrole[]::pg_catalog.oid[])
   AND NOT agentphone.created_in_this_transaction('agentphone.calls'::pg_catalog.regclass)
 GROUP BY 1, 2;

DO $$
DECLARE
	kept text;
BEGIN
	SELECT pg_catalog.string_agg(pg_catalog.format('%s (%s)', g.role,
				CASE WHEN g.admin THEN 'agentphone_admin' ELSE 'agentphone_caller' END), ', '
				ORDER BY g.role::pg_catalog.text)
	  INTO kept FROM agentphone.grants g;
	IF kept IS NOT NULL THEN
		RAISE NOTICE 'agentphone: these roles keep their grants in database %: %', pg_catalog.current_database(), kept
			USING DETAIL = 'Membership in agentphone_caller and agentphone_admin now counts only in the databases where it was granted; which database a grant made before 1.8 was for is not known, so every member keeps it here.',
				  HINT = 'Delete from agentphone.grants the roles that should not use agentphone in this database.';
	END IF;
END $$;

-- The policies: a role's own rows, while it holds agentphone_caller here;
-- every row for agentphone_admin here.  Each asks once per query.
DROP POLICY calls_own ON agentphone.calls;
CREATE POLICY calls_own ON agentphone.calls FOR SELECT
	USING ((created_by OPERATOR(pg_catalog.=) agentphone.acting_role()
			AND (SELECT agentphone.granted_here('agentphone_caller')))
		   OR (SELECT agentphone.granted_here('agentphone_admin')));
DROP POLICY do_not_call_own ON agentphone.do_not_call;
CREATE POLICY do_not_call_own ON agentphone.do_not_call FOR SELECT
	USING ((added_by OPERATOR(pg_catalog.=) agentphone.acting_role()
			AND (SELECT agentphone.granted_here('agentphone_caller')))
		   OR (SELECT agentphone.granted_here('agentphone_admin')));
-- the agents' tables were readable by every member of agentphone_caller
ALTER TABLE agentphone.agents ENABLE ROW LEVEL SECURITY;
ALTER TABLE agentphone.agent_numbers ENABLE ROW LEVEL SECURITY;
ALTER TABLE agentphone.agent_sync ENABLE ROW LEVEL SECURITY;
CREATE POLICY agents_granted ON agentphone.agents FOR SELECT
	USING ((SELECT agentphone.granted_here('agentphone_caller')));
CREATE POLICY agent_numbers_granted ON agentphone.agent_numbers FOR SELECT
	USING ((SELECT agentphone.granted_here('agentphone_caller')));
CREATE POLICY agent_sync_granted ON agentphone.agent_sync FOR SELECT
	USING ((SELECT agentphone.granted_here('agentphone_caller')));
COMMENT ON POLICY calls_own ON agentphone.calls IS
	'a role reads the calls it queued while it holds agentphone_caller in this database; agentphone_admin here reads every call';
COMMENT ON POLICY do_not_call_own ON agentphone.do_not_call IS
	'a role reads the entries it added while it holds agentphone_caller in this database; agentphone_admin here reads every entry';
COMMENT ON POLICY agents_granted ON agentphone.agents IS 'the members of agentphone_caller in this database read the agents';
COMMENT ON POLICY agent_numbers_granted ON agentphone.agent_numbers IS 'the members of agentphone_caller in this database read the agents'' numbers';
COMMENT ON POLICY agent_sync_granted ON agentphone.agent_sync IS 'the members of agentphone_caller in this database read when the agents were last synced';

-- A copy or a restore of a database does not dial its calls again
-- (issue 23): each call records where it was queued, the cluster's system
-- identifier and the database's OID (src/home.c); the claim dials only the
-- calls queued in this database, and holds the others until an admin here
-- adopts or cancels them.  The calls not yet placed get this database's
-- home at the update; finished ones keep none (they are never dialed).
CREATE FUNCTION agentphone.home() RETURNS text
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'agentphone_home';
COMMENT ON FUNCTION agentphone.home() IS
'this database''s identity, "<system identifier>:<database OID>": where a call queued now is queued (agentphone.calls.home)';
REVOKE ALL ON FUNCTION agentphone.home() FROM PUBLIC;
ALTER TABLE agentphone.calls ADD COLUMN home text;
ALTER TABLE agentphone.calls ALTER COLUMN home SET DEFAULT agentphone.home();
COMMENT ON COLUMN agentphone.calls.home IS
	'where the call was queued, "<system identifier>:<database OID>" (agentphone.home()): a call of another home (a copy or a restore of the database) is not dialed until an admin adopts it';
UPDATE agentphone.calls SET home = agentphone.home()
 WHERE status OPERATOR(pg_catalog.=) ANY (ARRAY['queued', 'dispatching', 'reconciling']);

CREATE FUNCTION agentphone_adopt_calls() RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'agentphone_adopt_calls';
COMMENT ON FUNCTION agentphone_adopt_calls() IS
'places here the queued calls that were queued in another database or cluster (this database is a copy or a restore of it, and the original will not place them); returns how many';
REVOKE ALL ON FUNCTION agentphone_adopt_calls() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentphone_adopt_calls() TO agentphone_admin;
CREATE FUNCTION agentphone_cancel_copied_calls() RETURNS bigint
LANGUAGE C VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'agentphone_cancel_copied_calls';
COMMENT ON FUNCTION agentphone_cancel_copied_calls() IS
'cancels the queued calls that were queued in another database or cluster (this database is a copy or a restore of it); returns how many';
REVOKE ALL ON FUNCTION agentphone_cancel_copied_calls() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentphone_cancel_copied_calls() TO agentphone_admin;

-- A row written into agentphone.calls other than by agentphone_call() (a
-- superuser's INSERT, COPY, a logical replication apply) wakes the worker
-- at COMMIT too, as a queued call does, rather than wait for the sweep.
CREATE FUNCTION agentphone.wake_worker() RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'agentphone_wake_worker';
REVOKE ALL ON FUNCTION agentphone.wake_worker() FROM PUBLIC;
COMMENT ON FUNCTION agentphone.wake_worker() IS
'internal: a statement trigger on agentphone.calls that wakes this database''s worker when the transaction commits';
CREATE TRIGGER calls_wake_worker AFTER INSERT ON agentphone.calls
	FOR EACH STATEMENT EXECUTE FUNCTION agentphone.wake_worker();
-- in a logical replication apply too
ALTER TABLE agentphone.calls ENABLE ALWAYS TRIGGER calls_wake_worker;

-- The claim holds back a call whose role holds agentphone_caller, but not
-- in this database (a grant deleted here, a restored dump of 1.7, a
-- database copied to another cluster): it stays queued, saying so, looked
-- at again every minute, and is placed once the role is granted here; a
-- role that was dropped or may no longer execute agentphone_call() has
-- its calls canceled, as before.
CREATE OR REPLACE FUNCTION agentphone.claim_calls(max_calls integer)
RETURNS SETOF agentphone.calls
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- looked up once per claim, not parsed again for every claimed row
	call_fn oid := '@extschema@.agentphone_call(text,text,jsonb,text,text,text,text,jsonb,text,timestamptz)'::regprocedure;
	here text := agentphone.home();
BEGIN
	RETURN QUERY
	WITH due AS (
		SELECT q.id FROM agentphone.calls q
		 WHERE q.status = 'queued' AND q.next_attempt_at <= now()
		 ORDER BY q.next_attempt_at, q.id
		 LIMIT max_calls
		 FOR UPDATE SKIP LOCKED),
	checks AS (
		SELECT c.id, c.to_number, c.next_attempt_at AS due_at,
			   c.home IS NOT NULL AND c.home OPERATOR(pg_catalog.<>) here AS copied,
			   NOT EXISTS (SELECT FROM pg_roles r WHERE r.oid = c.created_by) AS dropped,
			   NOT EXISTS (SELECT FROM pg_roles r WHERE r.oid = c.created_by)
				 OR NOT has_function_privilege(c.created_by::oid, call_fn, 'EXECUTE') AS revoked,
			   NOT agentphone.role_granted_here(c.created_by, 'agentphone_caller') AS ungranted,
			   (SELECT r.reason FROM agentphone.dial_refusal(c.to_number, c.created_by, c.id, false) r) AS refusal,
			   agentphone.window_opens(now(), c.timezone, c.to_number) AS opens
		  FROM due JOIN agentphone.calls c ON c.id = due.id),
	dialable AS (
		SELECT k.id, k.to_number,
			   row_number() OVER (PARTITION BY k.to_number ORDER BY k.due_at, k.id) AS nth
		  FROM checks k
		 WHERE NOT k.copied AND NOT k.revoked AND NOT k.ungranted AND k.refusal IS NULL AND k.opens <= now()),
	capped AS MATERIALIZED (	-- counted once per call, not once per join probe
		SELECT d.id, d.nth,
			   (SELECT count(*) FROM agentphone.calls o
				 WHERE o.to_number = d.to_number
				   AND o.dispatched_at > now() - interval '1 day'
				   AND NOT EXISTS (SELECT FROM due WHERE due.id = o.id)) AS dialed,
			   coalesce(nullif(current_setting('agentphone.max_calls_per_number_per_day', true), ''), '0')::integer AS cap
		  FROM dialable d),
	verdict AS (
		SELECT k.id, k.opens, k.dropped, k.copied,
			   k.ungranted AND NOT k.revoked AND NOT k.copied AS ungranted,
			   CASE WHEN k.copied THEN 'queued'
					WHEN k.revoked THEN 'canceled'
					WHEN k.ungranted THEN 'queued'
					WHEN k.refusal IS NOT NULL OR k.opens IS NULL THEN 'blocked'
					WHEN k.opens > now() THEN 'queued'
					WHEN p.cap > 0 AND p.dialed + p.nth > p.cap THEN 'blocked'
					ELSE 'dispatching' END AS status,
			   CASE WHEN k.refusal IS NOT NULL THEN k.refusal
					WHEN k.opens IS NULL THEN format('the calling window (agentphone.call_window, agentphone.call_days) is never open in all time zones of %s at once', k.to_number)
					WHEN p.cap > 0 AND p.dialed + p.nth > p.cap
					THEN format('%s was dialed %s times in the last 24 hours (agentphone.max_calls_per_number_per_day = %s)', k.to_number, greatest(p.dialed, p.cap), p.cap)
			   END AS refusal
		  FROM checks k LEFT JOIN capped p ON p.id = k.id),
	claimed AS (
		UPDATE agentphone.calls c
		   SET status = v.status,
			   attempts = c.attempts + (v.status = 'dispatching')::integer,
			   dispatched_at = CASE WHEN v.status = 'dispatching' THEN now() ELSE c.dispatched_at END,
			   next_attempt_at = CASE WHEN v.status = 'dispatching' THEN c.next_attempt_at
									  WHEN v.copied THEN 'infinity'
									  WHEN v.ungranted THEN now() + interval '1 minute'
									  WHEN v.status = 'queued' THEN v.opens END,
			   held_by_window = v.status = 'queued' AND NOT v.ungranted AND NOT v.copied,
			   last_error = CASE v.status
				   WHEN 'canceled' THEN CASE WHEN v.dropped
					   THEN format('not dialed: the role that queued it (OID %s) no longer exists', c.created_by::oid)
					   ELSE format('not dialed: role %s may no longer place calls (EXECUTE on agentphone_call was revoked)', c.created_by) END
				   WHEN 'blocked' THEN 'not dialed: ' || v.refusal
				   WHEN 'queued' THEN CASE WHEN v.copied
					   THEN format('not dialed: queued in %s, and this is %s: this database is a copy or a restore of the one where the call was queued; an admin here runs agentphone_adopt_calls() to place such calls, or agentphone_cancel_copied_calls() to cancel them', coalesce(c.home, 'another database'), here)
					   WHEN v.ungranted
					   THEN format('waiting: role %s does not hold agentphone_caller in this database; GRANT agentphone_caller TO %s here places the call, agentphone_cancel(%s) cancels it', c.created_by, c.created_by, c.id)
					   ELSE format('waiting for the calling window to open at %s', v.opens) END
				   ELSE c.last_error END,
			   updated_at = now()
		  FROM verdict v
		 WHERE c.id = v.id
		RETURNING c.*)
	SELECT * FROM claimed;
END $$;

-- The names of the notification channels change: a role of another
-- database that learned this one's before 1.8 (when its grant worked
-- here) hears nothing more.
UPDATE agentphone.notify_secret
   SET secret = pg_catalog.decode(pg_catalog.replace(pg_catalog.gen_random_uuid()::pg_catalog.text
		OPERATOR(pg_catalog.||) pg_catalog.gen_random_uuid()::pg_catalog.text, '-', ''), 'hex');

-- The worker's health says when its last failure happened and whether it
-- is over, and pg_monitor's members (a monitoring agent) may read it: it
-- holds no phone number, name, transcript, key or path.
DROP FUNCTION @extschema@.agentphone_worker_status();
CREATE FUNCTION agentphone_worker_status(
	OUT running boolean, OUT pid integer, OUT started_at timestamptz,
	OUT last_loop timestamptz, OUT queue_depth bigint, OUT in_flight integer,
	OUT dispatched bigint, OUT retried bigint, OUT failed bigint,
	OUT reconciled bigint, OUT last_error text, OUT last_error_at timestamptz,
	OUT last_error_over boolean)
RETURNS record
LANGUAGE C VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'agentphone_worker_status';
REVOKE ALL ON FUNCTION agentphone_worker_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentphone_worker_status() TO agentphone_admin, pg_monitor;
COMMENT ON FUNCTION agentphone_worker_status() IS
'this database''s worker: running, pid, start, last loop, queued calls, requests in flight, counters since it started, its last failure (the path of a key file only to superusers), when, and whether it is over';

-- One row of numbers for monitoring (postgres_exporter and the like):
-- readable by pg_monitor and agentphone_admin, holding no phone number,
-- name, transcript, key or path.  Every count goes through an index of
-- the live calls, or of the last day's events: its cost does not grow with
-- the calls stored (test/t/019_plans.pl).
CREATE VIEW agentphone.stats AS
SELECT pg_catalog.current_database() AS database,
	(SELECT pg_catalog.count(*) FROM agentphone.calls c
	  WHERE c.status OPERATOR(pg_catalog.=) 'queued'
		AND c.next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.now()) AS queued_due,
	(SELECT pg_catalog.count(*) FROM agentphone.calls c
	  WHERE c.status OPERATOR(pg_catalog.=) 'queued'
		AND c.next_attempt_at OPERATOR(pg_catalog.>) pg_catalog.now()
		AND c.next_attempt_at OPERATOR(pg_catalog.<) 'infinity'::pg_catalog.timestamptz
		AND NOT c.held_by_window) AS queued_later,
	(SELECT pg_catalog.count(*) FROM agentphone.calls c
	  WHERE c.status OPERATOR(pg_catalog.=) 'queued' AND c.held_by_window) AS queued_for_window,
	(SELECT pg_catalog.count(*) FROM agentphone.calls c
	  WHERE c.status OPERATOR(pg_catalog.=) 'queued'
		AND c.next_attempt_at OPERATOR(pg_catalog.=) 'infinity'::pg_catalog.timestamptz) AS queued_copied,
	(SELECT pg_catalog.date_part('epoch', pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.min(c.next_attempt_at))
	   FROM agentphone.calls c
	  WHERE c.status OPERATOR(pg_catalog.=) 'queued'
		AND c.next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.now()) AS oldest_due_seconds,
	(SELECT pg_catalog.count(*) FROM agentphone.calls c
	  WHERE c.status OPERATOR(pg_catalog.=) 'dispatching') AS dispatching,
	(SELECT pg_catalog.count(*) FROM agentphone.calls c
	  WHERE c.status OPERATOR(pg_catalog.=) 'reconciling') AS reconciling,
	(SELECT pg_catalog.count(*) FROM agentphone.calls c
	  WHERE c.api_call_id IS NOT NULL AND NOT c.transcript_complete
		AND c.status OPERATOR(pg_catalog.<>) ALL (ARRAY['queued', 'dispatching', 'error', 'unknown'])) AS followed,
	e.completed_1h, e.failed_1h, e.error_1h, e.completed_1d, e.failed_1d, e.error_1d,
	w.running AS worker_running,
	pg_catalog.date_part('epoch', pg_catalog.now() OPERATOR(pg_catalog.-) w.last_loop) AS seconds_since_worker_loop,
	w.retried AS retried_since_start, w.failed AS failed_since_start,
	w.last_error, w.last_error_at, w.last_error_over
FROM @extschema@.agentphone_worker_status() w,
	(SELECT pg_catalog.count(*) FILTER (WHERE v.to_status OPERATOR(pg_catalog.=) 'completed'
			AND v.at OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.-) '1 hour'::pg_catalog.interval)) AS completed_1h,
		pg_catalog.count(*) FILTER (WHERE v.to_status OPERATOR(pg_catalog.=) 'failed'
			AND v.at OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.-) '1 hour'::pg_catalog.interval)) AS failed_1h,
		pg_catalog.count(*) FILTER (WHERE v.to_status OPERATOR(pg_catalog.=) 'error'
			AND v.at OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.-) '1 hour'::pg_catalog.interval)) AS error_1h,
		pg_catalog.count(*) FILTER (WHERE v.to_status OPERATOR(pg_catalog.=) 'completed') AS completed_1d,
		pg_catalog.count(*) FILTER (WHERE v.to_status OPERATOR(pg_catalog.=) 'failed') AS failed_1d,
		pg_catalog.count(*) FILTER (WHERE v.to_status OPERATOR(pg_catalog.=) 'error') AS error_1d
	   FROM agentphone.call_events v
	  WHERE v.at OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.-) '1 day'::pg_catalog.interval)) e;
REVOKE ALL ON agentphone.stats FROM PUBLIC;
GRANT SELECT ON agentphone.stats TO pg_monitor, agentphone_admin;
GRANT USAGE ON SCHEMA agentphone TO pg_monitor;
COMMENT ON VIEW agentphone.stats IS
	'one row of numbers about this database''s calls and worker, for monitoring (pg_monitor, agentphone_admin): no phone number, name, transcript, key or path';
COMMENT ON COLUMN agentphone.stats.database IS 'this database';
COMMENT ON COLUMN agentphone.stats.queued_due IS 'queued calls due now (waiting for the worker, the API, the per-minute budget or a pause)';
COMMENT ON COLUMN agentphone.stats.queued_later IS 'queued calls due later (not_before, a retry''s backoff)';
COMMENT ON COLUMN agentphone.stats.queued_for_window IS 'queued calls waiting for their calling window';
COMMENT ON COLUMN agentphone.stats.queued_copied IS 'queued calls that a copy or a restore brought, held until an admin adopts or cancels them';
COMMENT ON COLUMN agentphone.stats.oldest_due_seconds IS 'how long the longest-waiting due call has been due, in seconds (NULL: none)';
COMMENT ON COLUMN agentphone.stats.dispatching IS 'calls being sent to the API';
COMMENT ON COLUMN agentphone.stats.reconciling IS 'calls whose outcome is being asked of the API';
COMMENT ON COLUMN agentphone.stats.followed IS 'placed calls still followed (live, or ended with their transcript not yet stored)';
COMMENT ON COLUMN agentphone.stats.completed_1h IS 'calls that became completed in the last hour';
COMMENT ON COLUMN agentphone.stats.failed_1h IS 'calls that became failed in the last hour';
COMMENT ON COLUMN agentphone.stats.error_1h IS 'calls that became error in the last hour';
COMMENT ON COLUMN agentphone.stats.completed_1d IS 'calls that became completed in the last 24 hours';
COMMENT ON COLUMN agentphone.stats.failed_1d IS 'calls that became failed in the last 24 hours';
COMMENT ON COLUMN agentphone.stats.error_1d IS 'calls that became error in the last 24 hours';
COMMENT ON COLUMN agentphone.stats.worker_running IS 'whether this database''s worker runs';
COMMENT ON COLUMN agentphone.stats.seconds_since_worker_loop IS 'seconds since the worker''s loop last ran (NULL: it never ran)';
COMMENT ON COLUMN agentphone.stats.retried_since_start IS 'requests retried since the worker started (outages included)';
COMMENT ON COLUMN agentphone.stats.failed_since_start IS 'calls that became error since the worker started';
COMMENT ON COLUMN agentphone.stats.last_error IS 'the worker''s last failure, as callers may read it';
COMMENT ON COLUMN agentphone.stats.last_error_at IS 'when it happened';
COMMENT ON COLUMN agentphone.stats.last_error_over IS 'true: it is over (requests go through again)';
