-- agentphone 1.5 -> 1.6: transcripts and call_events become partitioned
-- tables (issue 13), so a busy install can keep them by month with
-- pg_partman and drop old months whole (docs/recipes.md).
\echo Use "ALTER EXTENSION agentphone UPDATE TO '1.6'" to load this file. \quit

-- Each table becomes a parent partitioned by a time column, and the table
-- as it was becomes its DEFAULT partition, keeping its rows, indexes,
-- configuration-dump registration and name (with "_default" appended), so
-- nothing is copied.  Without pg_partman every row stays in the default
-- partition and nothing changes for the worker or for readers, who keep
-- using agentphone.transcripts and agentphone.call_events.
--
-- The parents carry no index or primary key: an index on an extension's
-- partitioned table is attached to the indexes of partitions made outside
-- the extension, and pg_dump cannot restore that.  Each partition has its
-- own: the default partitions keep theirs, and the recipe's partitions are
-- made with the same ones.

-- move_grants gives a parent the grants its table had (agentphone_caller's
-- and any a user made), and takes them from the table, now a partition.
CREATE FUNCTION agentphone.move_grants(from_table regclass, to_table regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	g record;
BEGIN
	FOR g IN
		SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
				ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END AS grantee,
			a.privilege_type, a.is_grantable
		  FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
		 WHERE c.oid = from_table AND a.grantee OPERATOR(pg_catalog.<>) c.relowner
	LOOP
		EXECUTE pg_catalog.format('GRANT %s ON %s TO %s%s', g.privilege_type, to_table, g.grantee,
					   CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
		EXECUTE pg_catalog.format('REVOKE %s ON %s FROM %s CASCADE', g.privilege_type, from_table, g.grantee);
	END LOOP;
END $$;

-- transcripts: partitioned by stored_at, when the worker stored the turn
-- (the turns' own created_at comes from the API and may be NULL).  Rows
-- stored before 1.6 get the time of the upgrade.
ALTER TABLE agentphone.transcripts RENAME TO transcripts_default;
ALTER TABLE agentphone.transcripts_default
	ADD COLUMN stored_at timestamptz NOT NULL DEFAULT pg_catalog.now();
-- The parent's foreign key and CHECK have the names of the partition's
-- own, which the ATTACH adopts as they are, without reading a row.
-- Callers read the parent, which takes the table's grants; the partition
-- keeps its row-level security, and grants nothing.
CREATE TABLE agentphone.transcripts (
	call_id				bigint NOT NULL
		CONSTRAINT transcripts_call_id_fkey REFERENCES agentphone.calls (id) ON DELETE CASCADE,
	seq					integer NOT NULL,
	role				text NOT NULL
		CONSTRAINT transcripts_role_check CHECK (role IN ('user', 'agent')),
	content				text NOT NULL,
	created_at			timestamptz,
	stored_at			timestamptz NOT NULL DEFAULT pg_catalog.now()
) PARTITION BY RANGE (stored_at);
ALTER TABLE agentphone.transcripts
	ATTACH PARTITION agentphone.transcripts_default DEFAULT;
REVOKE ALL ON agentphone.transcripts FROM PUBLIC;
SELECT agentphone.move_grants('agentphone.transcripts_default', 'agentphone.transcripts');
ALTER TABLE agentphone.transcripts ENABLE ROW LEVEL SECURITY;
CREATE POLICY transcripts_own ON agentphone.transcripts FOR SELECT
	USING (EXISTS (SELECT FROM agentphone.calls c WHERE c.id = call_id));
COMMENT ON TABLE agentphone.transcripts IS
	'the turns of each ended call, in order (seq from 1); partitioned by stored_at';
COMMENT ON TABLE agentphone.transcripts_default IS
	'the partition of agentphone.transcripts that holds every turn no other partition takes';

-- call_events: partitioned by at.  The identity moves to the parent with
-- a new sequence that goes on from the last id.
ALTER TABLE agentphone.call_events RENAME TO call_events_default;
ALTER EXTENSION agentphone DROP SEQUENCE agentphone.call_events_id_seq;
ALTER TABLE agentphone.call_events_default ALTER COLUMN id DROP IDENTITY;

CREATE TABLE agentphone.call_events (
	id					bigint GENERATED ALWAYS AS IDENTITY,
	call_id				bigint NOT NULL
		CONSTRAINT call_events_call_id_fkey REFERENCES agentphone.calls (id) ON DELETE CASCADE,
	from_status			text,
	to_status			text NOT NULL,
	at					timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	detail				text
) PARTITION BY RANGE (at);
ALTER TABLE agentphone.call_events
	ATTACH PARTITION agentphone.call_events_default DEFAULT;
SELECT pg_catalog.setval('agentphone.call_events_id_seq',
	(SELECT pg_catalog.max(id) FROM agentphone.call_events_default));
REVOKE ALL ON agentphone.call_events FROM PUBLIC;
SELECT agentphone.move_grants('agentphone.call_events_default', 'agentphone.call_events');
ALTER TABLE agentphone.call_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY call_events_own ON agentphone.call_events FOR SELECT
	USING (EXISTS (SELECT FROM agentphone.calls c WHERE c.id = call_id));
COMMENT ON TABLE agentphone.call_events IS
	'every status transition: call, from, to, when, and last_error at that moment; partitioned by at';
COMMENT ON TABLE agentphone.call_events_default IS
	'the partition of agentphone.call_events that holds every event no other partition takes';
SELECT pg_catalog.pg_extension_config_dump('agentphone.call_events_id_seq', '');

DROP FUNCTION agentphone.move_grants(regclass, regclass);

-- The report view named the table that is now the default partition; it
-- reads the parent again.
CREATE OR REPLACE VIEW agentphone.call_report WITH (security_invoker = true) AS
SELECT c.id, c.api_call_id, c.created_at, c.created_by, c.agent_id, c.to_number,
	c.status, c.started_at, c.ended_at, c.duration_seconds, c.recording_url,
	c.transcript_complete,
	(SELECT pg_catalog.string_agg(t.role || ': ' || t.content, E'\n' ORDER BY t.seq)
	 FROM agentphone.transcripts t WHERE t.call_id = c.id) AS transcript,
	(SELECT a.name FROM agentphone.agents a WHERE a.id = c.agent_id) AS agent_name
FROM agentphone.calls c;
