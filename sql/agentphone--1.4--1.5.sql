-- agentphone 1.4 -> 1.5: every database of the cluster (issue 12).
\echo Use "ALTER EXTENSION agentphone UPDATE TO '1.5'" to load this file. \quit

-- The launcher and every database's worker, for superusers: one row for
-- the launcher (database NULL), one per database agentphone serves or is
-- starting a worker in.  queue_depth is as of that worker's last sweep.
CREATE FUNCTION agentphone_workers(
	OUT kind text, OUT database name, OUT database_oid oid, OUT pid integer,
	OUT state text, OUT started_at timestamptz, OUT last_loop timestamptz,
	OUT queue_depth bigint, OUT in_flight integer, OUT dispatched bigint,
	OUT last_error text)
RETURNS SETOF record
LANGUAGE C VOLATILE PARALLEL UNSAFE SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'agentphone_workers';
REVOKE ALL ON FUNCTION agentphone_workers() FROM PUBLIC;
COMMENT ON FUNCTION agentphone_workers() IS
'the agentphone launcher and the worker of every database of the cluster (superusers only)';

-- Sub-accounts: options.subAccountId is sent as the X-Sub-Account-Id
-- header of the call's POST and of the search that reconciles it.
-- agentphone_call() checks it (src/validate.c); so does the table, even
-- against a superuser's direct INSERT, since a header must not be able to
-- carry another.  NOT VALID: no earlier release could store one, and a
-- validation would read every stored call.
CREATE FUNCTION agentphone.is_sub_account_id(id text) RETURNS boolean
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'agentphone_is_sub_account_id';
REVOKE ALL ON FUNCTION agentphone.is_sub_account_id(text) FROM PUBLIC;
ALTER TABLE agentphone.calls ADD CONSTRAINT calls_sub_account_check
	CHECK (agentphone.is_sub_account_id(options ->> 'subAccountId')) NOT VALID;
