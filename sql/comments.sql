-- Every object of the extension explains itself in \df+ and \d+: each
-- member (function, table, view, sequence, schema) and each column of its
-- tables and views has a comment.  Enumerated from the catalog, so an
-- object a later release adds without one is listed here.
CREATE EXTENSION agentphone;
WITH members AS (
	SELECT d.classid, d.objid
	  FROM pg_depend d
	 WHERE d.refclassid = 'pg_extension'::regclass
	   AND d.refobjid = (SELECT e.oid FROM pg_extension e WHERE e.extname = 'agentphone')
	   AND d.deptype = 'e')
SELECT pg_describe_object(m.classid, m.objid, 0) AS uncommented
  FROM members m
 WHERE obj_description(m.objid, (SELECT c.relname FROM pg_class c WHERE c.oid = m.classid)) IS NULL
UNION ALL
SELECT format('column %s.%s', a.attrelid::regclass, a.attname)
  FROM members m
  JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid AND c.relkind IN ('r', 'p', 'v')
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE col_description(a.attrelid, a.attnum) IS NULL
 ORDER BY 1;
-- and there are members to look at
SELECT count(*) > 50 AS has_members
  FROM pg_depend d
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT e.oid FROM pg_extension e WHERE e.extname = 'agentphone')
   AND d.deptype = 'e';
-- CREATE EXTENSION leaves the session's search_path as it was
SELECT current_setting('search_path') AS search_path;
DROP EXTENSION agentphone;
