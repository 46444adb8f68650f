-- Set-based bulk inserts of members (docs/member-import.md): a batch of imported members
-- costs a few statements of set work instead of several trigger calls per member.
--
-- 1. Audit of inserted members and terms, one statement per inserting statement. The row-level
--    audit trigger ran record_audit once per row (half of an import's database time). An
--    INSERT into members or member_terms is now audited by a statement-level trigger that
--    reads the statement's transition table; UPDATE and DELETE stay row-level. The audit rows
--    are the same rows: the whole new row as JSON, redacted by the trigger's arguments, with
--    the actor, address and agent of the transaction. Every row of a transition table belongs
--    to the transaction's party (the tables' policies checked it), as audit_log's policy checks
--    again.

-- Splits a table's audit into the row-level UPDATE/DELETE trigger `audit` and the
-- statement-level INSERT trigger `audit_insert`, both with the columns it redacts.
CREATE FUNCTION audit_inserts_by_statement(target regclass) RETURNS void
  LANGUAGE plpgsql
  AS $$
DECLARE
  args text := (SELECT coalesce(string_agg(quote_literal(c), ', '), '') FROM unnest(audit_redacted_columns(target)) AS c);
BEGIN
  EXECUTE format('DROP TRIGGER audit ON %s', target);
  EXECUTE format('DROP TRIGGER IF EXISTS audit_insert ON %s', target);
  EXECUTE format('CREATE TRIGGER audit AFTER UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION record_audit(%s)', target, args);
  EXECUTE format(
    'CREATE TRIGGER audit_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION record_audit_inserted(%s)',
    target, args);
END $$;
REVOKE ALL ON FUNCTION audit_inserts_by_statement(regclass) FROM PUBLIC;

CREATE FUNCTION record_audit_inserted() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  redacted text[] := CASE WHEN TG_NARGS > 0 THEN TG_ARGV END;
  actor text := app_setting('app.actor');
  ip inet := app_setting('app.ip')::inet;
  agent text := app_setting('app.user_agent');
BEGIN
  INSERT INTO audit_log (tenant_id, table_name, record_id, operation, old_row, new_row, actor, ip_address, user_agent)
  SELECT r.tenant_id, TG_TABLE_NAME, r.doc ->> 'id', 'INSERT', NULL,
         CASE WHEN redacted IS NULL THEN r.doc ELSE redact_audit_row(r.doc, redacted, NULL) END, actor, ip, agent
  FROM (SELECT n.tenant_id, to_jsonb(n) AS doc FROM inserted n) AS r;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION record_audit_inserted() FROM PUBLIC;

-- audit_redact keeps a split table split: it recreates `audit` for INSERT too, and the split
-- is then made again with the columns it now redacts.
ALTER FUNCTION audit_redact(regclass, text[]) RENAME TO audit_redact_one_trigger;
CREATE FUNCTION audit_redact(target regclass, VARIADIC columns text[]) RETURNS void
  LANGUAGE plpgsql
  AS $$
DECLARE
  split boolean := EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = target AND t.tgname = 'audit_insert' AND NOT t.tgisinternal);
BEGIN
  PERFORM audit_redact_one_trigger(target, VARIADIC columns);
  IF split THEN
    PERFORM audit_inserts_by_statement(target);
  END IF;
END $$;
REVOKE ALL ON FUNCTION audit_redact(regclass, text[]) FROM PUBLIC;

SELECT audit_inserts_by_statement('members');
SELECT audit_inserts_by_statement('member_terms');

-- 2. Statistics of imported members, one statement per batch. Members inserted by an import
--    (import_id set; only the importer sets it) are counted by a statement-level trigger that
--    adds each (ward, status, slot)'s count from the transition table; every other change to a
--    member still goes through the deferred row trigger (0012). The import's statement appends
--    the members' events too, so it already holds the party's chain head when this trigger
--    locks the ward rows: the same order as the deferred trigger at commit, hence no deadlock.
CREATE FUNCTION apply_imported_member_statistics() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  INSERT INTO member_statistics AS s (tenant_id, geography_id, status, slot, member_count)
  SELECT n.tenant_id, n.ward_id, n.status, member_statistics_slot(n.id), count(*)
  FROM inserted n
  WHERE n.import_id IS NOT NULL
  GROUP BY 1, 2, 3, 4
  ORDER BY 2, 3, 4
  ON CONFLICT (tenant_id, geography_id, status, slot)
    DO UPDATE SET member_count = s.member_count + excluded.member_count;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION apply_imported_member_statistics() FROM PUBLIC;

DROP TRIGGER members_statistics ON members;
CREATE CONSTRAINT TRIGGER members_statistics AFTER DELETE OR UPDATE OF status, ward_id ON members
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION apply_member_statistics_delta();
CREATE CONSTRAINT TRIGGER members_statistics_insert AFTER INSERT ON members
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (NEW.import_id IS NULL) EXECUTE FUNCTION apply_member_statistics_delta();
CREATE TRIGGER members_statistics_imported AFTER INSERT ON members
  REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION apply_imported_member_statistics();

-- 3. The status history of members whose first event a statement appends (an import's batch,
--    a registration), from the transition table alone. A member's first event (version 1) has
--    no earlier state, so where it leaves the member is the event's own effect: no read back
--    of the events by position, no windows over the member's earlier changes. The general
--    projection (0025) planned those windows from the statistics of event_store, in which a
--    party that had just started importing was not yet seen: estimated at one row, a batch of
--    2,000 members took nested loops for minutes. Statements that append later events of a
--    member (every lifecycle step) still go through project_member_status, whose result for a
--    first event is the same rows.
CREATE OR REPLACE FUNCTION project_appended_member_status() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  -- Members whose first event is the only one of theirs in the statement.
  WITH streams AS (
    SELECT a.*, max(a.version) OVER (PARTITION BY a.tenant_id, a.aggregate_id) AS last_version
    FROM appended a WHERE a.aggregate_type = 'Member'
  ), firsts AS (
    SELECT * FROM streams WHERE last_version = 1
  ), moves AS (
    SELECT e.tenant_id, e.aggregate_id AS member_id, e.position, e.recorded_at, (e.recorded_at AT TIME ZONE t.time_zone)::date AS day,
           (e.payload ->> f.ward_key)::uuid AS ward_id, f.status
    FROM firsts e
    JOIN tenants t ON t.id = e.tenant_id
    JOIN member_status_effects f ON f.event_type = e.event_type AND NOT f.removes
    WHERE (e.payload ->> f.ward_key) IS NOT NULL OR f.status IS NOT NULL
  ), recorded AS (
    INSERT INTO member_status_changes (tenant_id, member_id, position, recorded_at, day, ward_id, status)
    SELECT tenant_id, member_id, position, recorded_at, day, ward_id, status FROM moves
  ), entered AS (
    SELECT m.tenant_id, c.ancestor_id, m.day, m.status, count(*) AS members
    FROM moves m JOIN geography_closure c ON c.descendant_id = m.ward_id
    WHERE m.status IS NOT NULL
    GROUP BY 1, 2, 3, 4
  )
  INSERT INTO member_status_daily AS daily (tenant_id, geography_id, day, status, delta)
  SELECT tenant_id, ancestor_id, day, status, members FROM entered ORDER BY 1, 2, 3, 4
  ON CONFLICT (tenant_id, geography_id, day, status) DO UPDATE SET delta = daily.delta + excluded.delta;
  -- Every other Member event of the statement, with the events before it, party by party.
  PERFORM project_member_status(later.tenant_id, later.positions)
  FROM (
    SELECT tenant_id, array_agg(position) AS positions
    FROM (SELECT a.tenant_id, a.position, max(a.version) OVER (PARTITION BY a.tenant_id, a.aggregate_id) AS last_version
          FROM appended a WHERE a.aggregate_type = 'Member') AS streams
    WHERE last_version > 1
    GROUP BY tenant_id
  ) AS later;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION project_appended_member_status() FROM PUBLIC;
