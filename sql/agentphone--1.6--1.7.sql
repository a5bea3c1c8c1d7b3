-- agentphone 1.6 -> 1.7: no escalation, no leak between tenants (issue 22).
\echo Use "ALTER EXTENSION agentphone UPDATE TO '1.7'" to load this file. \quit

-- Every name in this script is schema-qualified, or resolves only to
-- pg_catalog by an exact signature: an extension script runs as a
-- superuser with search_path = public, pg_temp, where a database owner
-- may have planted functions and operators that match an unqualified
-- call better than pg_catalog's own (the CVE-2023-39417 class).

-- The full-text index of 1.0 called to_tsvector('english', content)
-- unqualified: a public.to_tsvector(text, text) planted before CREATE
-- EXTENSION was a better match for the unknown literal than
-- pg_catalog.to_tsvector(regconfig, text), and the worker ran it, as a
-- superuser, for every turn it stored.  Made again bound to pg_catalog.
DROP INDEX agentphone.transcripts_content_fts_idx;
CREATE INDEX transcripts_content_fts_idx ON agentphone.transcripts_default
	USING gin (pg_catalog.to_tsvector('english'::pg_catalog.regconfig, content));

-- No other expression the extension stored (index, constraint, default,
-- policy, view, trigger) may call a function or operator, or name a type,
-- outside pg_catalog and the extension: an install or upgrade that bound
-- one fails here rather than run it later.  (src/tables.c checks the same
-- of every table the worker writes, the user's partitions included, at
-- every write.)
DO $$
DECLARE
	bad text;
BEGIN
	WITH members AS (
		SELECT d.classid, d.objid
		  FROM pg_catalog.pg_depend d
		 WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
		   AND d.refobjid OPERATOR(pg_catalog.=) (SELECT e.oid FROM pg_catalog.pg_extension e
												   WHERE e.extname OPERATOR(pg_catalog.=) 'agentphone')
		   AND d.deptype OPERATOR(pg_catalog.=) 'e'),
	stored AS (		-- the members' own expressions, and those of their objects
		SELECT m.classid, m.objid FROM members m
		UNION
		SELECT d.classid, d.objid
		  FROM pg_catalog.pg_depend d JOIN members m
			ON d.refclassid OPERATOR(pg_catalog.=) m.classid AND d.refobjid OPERATOR(pg_catalog.=) m.objid
		 WHERE d.deptype OPERATOR(pg_catalog.=) ANY (ARRAY['a', 'i']::"char"[])),
	foreign_refs AS (
		SELECT s.classid, s.objid, d.refclassid, d.refobjid
		  FROM stored s JOIN pg_catalog.pg_depend d
			ON d.classid OPERATOR(pg_catalog.=) s.classid AND d.objid OPERATOR(pg_catalog.=) s.objid
		 WHERE (d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
				AND (SELECT p.pronamespace FROM pg_catalog.pg_proc p WHERE p.oid OPERATOR(pg_catalog.=) d.refobjid)
					OPERATOR(pg_catalog.<>) 'pg_catalog'::pg_catalog.regnamespace)
			OR (d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_operator'::pg_catalog.regclass
				AND (SELECT o.oprnamespace FROM pg_catalog.pg_operator o WHERE o.oid OPERATOR(pg_catalog.=) d.refobjid)
					OPERATOR(pg_catalog.<>) 'pg_catalog'::pg_catalog.regnamespace)
			OR (d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass
				AND (SELECT t.typnamespace FROM pg_catalog.pg_type t WHERE t.oid OPERATOR(pg_catalog.=) d.refobjid)
					OPERATOR(pg_catalog.<>) ALL (ARRAY['pg_catalog', 'agentphone']::pg_catalog.regnamespace[])))
	SELECT pg_catalog.string_agg(pg_catalog.format('%s calls %s',
				pg_catalog.pg_describe_object(f.classid, f.objid, 0),
				pg_catalog.pg_describe_object(f.refclassid, f.refobjid, 0)), '; ')
	  INTO bad
	  FROM foreign_refs f
	 WHERE NOT EXISTS (SELECT FROM members m
					   WHERE m.classid OPERATOR(pg_catalog.=) f.refclassid
						 AND m.objid OPERATOR(pg_catalog.=) f.refobjid);
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'agentphone''s objects call code that is neither PostgreSQL''s nor agentphone''s: %', bad
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Someone planted these objects where the install script looked for PostgreSQL''s own: drop them (after reading them), then install or update again.';
	END IF;
END $$;
