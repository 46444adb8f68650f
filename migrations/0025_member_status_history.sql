-- Membership as of any date (docs/statistics.md, "As of a date"). A projection of the event
-- store, never of the members rows: a trigger on event_store derives it in the transaction
-- that appends the events, and rebuild_member_status_history() derives it again from the
-- events alone, reporting how many rows the rebuild found different.
--
-- member_status_effects: what each Member event does to the member's status and ward. THE
--   one place that maps event types to statuses: adding an event type is one INSERT line in
--   a later migration. Every event type of the Member stream has a row, those that change
--   nothing included (test/int/member-status-history.int.test.ts fails on one without).
-- member_status_changes: per member, its (ward, status) after each event that moved it, in
--   event order; the latest row is where the member is now. Append-only.
-- member_status_daily: per geography node (the ward and each of its ancestors), local day of
--   the party's time zone and status, the net change that day. A node's count on a day is
--   the sum of its rows up to that day: at most (statuses x days with a change) rows, however
--   many members there are.

CREATE TABLE member_status_effects (
  event_type text PRIMARY KEY CHECK (event_type ~ '^[A-Z][A-Za-z]+$'),
  -- the member's status after the event (a member_status value); NULL: unchanged
  status text,
  -- the payload key that holds the member's ward after the event; NULL: unchanged
  ward_key text,
  -- after the event the member counts nowhere (an import rolled back)
  removes boolean NOT NULL DEFAULT false,
  CHECK (NOT (removes AND (status IS NOT NULL OR ward_key IS NOT NULL)))
);
GRANT SELECT ON member_status_effects TO sadasya_app;

INSERT INTO member_status_effects (event_type, status, ward_key, removes) VALUES
  ('MemberRegistered',        'awaiting_approval', 'wardId',   false),
  ('ApprovalReminderSent',    NULL,                NULL,       false),
  ('ApprovalEscalated',       NULL,                NULL,       false),
  ('MemberApproved',          NULL,                NULL,       false),
  ('MemberRejected',          'rejected',          NULL,       false),
  ('InvoiceIssued',           'awaiting_payment',  NULL,       false),
  ('PaymentReceived',         NULL,                NULL,       false),
  ('InvoiceVoided',           NULL,                NULL,       false),
  -- an unpaid admission invoice ran out (src/members/member-aggregate.ts: status expired)
  ('MemberLapsed',            'expired',           NULL,       false),
  ('MemberWithdrawn',         'withdrawn',         NULL,       false),
  ('MemberActivated',         'active',            NULL,       false),
  ('IdCardIssued',            NULL,                NULL,       false),
  ('IdCardRevoked',           NULL,                NULL,       false),
  ('MemberImported',          'active',            'wardId',   false),
  ('MemberImportRolledBack',  NULL,                NULL,       true),
  -- membership after admission (issue #14)
  ('MemberSuspended',         'suspended',         NULL,       false),
  ('MemberSuspensionLifted',  'active',            NULL,       false),
  ('MemberExpulsionProposed', NULL,                NULL,       false),
  ('MemberExpelled',          'expelled',          NULL,       false),
  ('MemberResigned',          'resigned',          NULL,       false),
  ('MemberDied',              'deceased',          NULL,       false),
  ('TermStarted',             NULL,                NULL,       false),
  ('MemberTransferRequested', NULL,                NULL,       false),
  ('MemberTransferred',       NULL,                'toWardId', false),
  ('MemberTransferRefused',   NULL,                NULL,       false),
  ('MemberReinstated',        'active',            NULL,       false);

CREATE TABLE member_status_changes (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  member_id uuid NOT NULL,
  -- the event_store position of the event that moved the member
  position bigint NOT NULL,
  recorded_at timestamptz NOT NULL,
  -- recorded_at's date in the party's time zone when the event was appended
  day date NOT NULL,
  -- where the member is after the event; both NULL: counted nowhere
  ward_id uuid,
  status text,
  PRIMARY KEY (tenant_id, member_id, position)
);

CREATE TABLE member_status_daily (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  geography_id uuid NOT NULL REFERENCES geography_nodes (id),
  day date NOT NULL,
  status text NOT NULL,
  delta bigint NOT NULL,
  PRIMARY KEY (tenant_id, geography_id, day, status)
);

ALTER TABLE member_status_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE member_status_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON member_status_changes
  USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());
ALTER TABLE member_status_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE member_status_daily FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON member_status_daily
  USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());
-- The application reads; only the functions below (as the owner, still under FORCE) write.
GRANT SELECT ON member_status_changes, member_status_daily TO sadasya_app;

-- Projects the current tenant's Member events at the given positions (all of them when NULL)
-- onto the two tables, in one statement, whatever number of events each member has among
-- them: the status (and ward) after each event is the one set by the latest event that set
-- it, else the member's latest recorded change. Appends a change row where the member moved,
-- and for each move adds -1 to the (node, day, status) it left and +1 to the one it entered,
-- at the ward and every ancestor.
CREATE FUNCTION project_member_status(tenant uuid, only_positions bigint[]) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  zone text;
  moved integer;
BEGIN
  IF tenant IS NULL OR tenant IS DISTINCT FROM app_current_tenant() THEN
    RAISE EXCEPTION 'project_member_status: % is not the tenant of this transaction', tenant
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT time_zone INTO STRICT zone FROM tenants WHERE id = tenant;
  WITH ev AS (
    SELECT e.aggregate_id AS member_id, e.position, e.recorded_at, f.removes, f.status AS set_status,
           CASE WHEN f.ward_key IS NOT NULL THEN (e.payload ->> f.ward_key)::uuid END AS set_ward
    FROM event_store e
    JOIN member_status_effects f ON f.event_type = e.event_type
    WHERE e.tenant_id = tenant AND e.aggregate_type = 'Member'
      AND (only_positions IS NULL OR e.position = ANY (only_positions))
      AND (f.removes OR f.status IS NOT NULL OR f.ward_key IS NOT NULL)
  ), grouped AS (
    SELECT ev.*,
           count(*) FILTER (WHERE removes OR set_ward IS NOT NULL) OVER w AS ward_group,
           count(*) FILTER (WHERE removes OR set_status IS NOT NULL) OVER w AS status_group
    FROM ev
    WINDOW w AS (PARTITION BY member_id ORDER BY position)
  ), prior AS (
    SELECT DISTINCT ON (c.member_id) c.member_id, c.ward_id, c.status
    FROM member_status_changes c
    WHERE c.tenant_id = tenant AND c.member_id IN (SELECT member_id FROM ev)
    ORDER BY c.member_id, c.position DESC
  ), after AS (
    SELECT g.member_id, g.position, g.recorded_at, p.ward_id AS prior_ward, p.status AS prior_status,
           CASE WHEN g.ward_group = 0 THEN p.ward_id
                ELSE first_value(g.set_ward) OVER (PARTITION BY g.member_id, g.ward_group ORDER BY g.position) END AS ward_id,
           CASE WHEN g.status_group = 0 THEN p.status
                ELSE first_value(g.set_status) OVER (PARTITION BY g.member_id, g.status_group ORDER BY g.position) END AS status
    FROM grouped g
    LEFT JOIN prior p USING (member_id)
  ), steps AS (
    SELECT a.member_id, a.position, a.recorded_at, (a.recorded_at AT TIME ZONE zone)::date AS day, a.ward_id, a.status,
           lag(a.ward_id, 1, a.prior_ward) OVER m AS before_ward,
           lag(a.status, 1, a.prior_status) OVER m AS before_status
    FROM after a
    WINDOW m AS (PARTITION BY a.member_id ORDER BY a.position)
  ), moves AS (
    SELECT * FROM steps WHERE ward_id IS DISTINCT FROM before_ward OR status IS DISTINCT FROM before_status
  ), recorded AS (
    INSERT INTO member_status_changes (tenant_id, member_id, position, recorded_at, day, ward_id, status)
    SELECT tenant, member_id, position, recorded_at, day, ward_id, status FROM moves
    RETURNING 1
  ), deltas AS (
    SELECT before_ward AS ward_id, day, before_status AS status, -1 AS delta FROM moves WHERE before_status IS NOT NULL
    UNION ALL
    SELECT ward_id, day, status, 1 FROM moves WHERE status IS NOT NULL
  ), rolled AS (
    SELECT c.ancestor_id AS geography_id, d.day, d.status, sum(d.delta) AS delta
    FROM deltas d
    JOIN geography_closure c ON c.descendant_id = d.ward_id
    GROUP BY 1, 2, 3
    HAVING sum(d.delta) <> 0
  ), applied AS (
    INSERT INTO member_status_daily AS s (tenant_id, geography_id, day, status, delta)
    SELECT tenant, geography_id, day, status, delta FROM rolled
    ORDER BY geography_id, day, status
    ON CONFLICT (tenant_id, geography_id, day, status) DO UPDATE SET delta = s.delta + excluded.delta
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM recorded) INTO moved;
  RETURN moved;
END $$;
REVOKE ALL ON FUNCTION project_member_status(uuid, bigint[]) FROM PUBLIC;

CREATE FUNCTION project_appended_member_status() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  batch record;
BEGIN
  FOR batch IN
    SELECT tenant_id, array_agg(position) AS positions FROM appended WHERE aggregate_type = 'Member' GROUP BY tenant_id
  LOOP
    PERFORM project_member_status(batch.tenant_id, batch.positions);
  END LOOP;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION project_appended_member_status() FROM PUBLIC;

-- Statement level: a batch of 2,000 imported members is projected by one statement. The
-- appending transaction already holds its tenant's chain head until commit (0009), so the
-- ancestors' rows this writes queue no one that was not queued already.
CREATE TRIGGER event_store_member_status AFTER INSERT ON event_store
  REFERENCING NEW TABLE AS appended
  FOR EACH STATEMENT EXECUTE FUNCTION project_appended_member_status();

-- Derives the current tenant's projection again from its events alone: takes the tenant's
-- chain head (so no append runs meanwhile), keeps the daily sums it had, empties both tables,
-- projects every Member event, and counts the (node, day, status) sums that differ from the
-- kept ones. Zero is the proof that the incremental projection equals a replay.
CREATE FUNCTION rebuild_member_status_history(tenant uuid, OUT changes integer, OUT daily_rows integer, OUT differing_rows integer)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  IF tenant IS NULL OR tenant IS DISTINCT FROM app_current_tenant() THEN
    RAISE EXCEPTION 'rebuild_member_status_history: % is not the tenant of this transaction', tenant
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  INSERT INTO event_chain_heads (tenant_id, last_seq, last_hash) VALUES (tenant, 0, '\x'::bytea)
  ON CONFLICT (tenant_id) DO NOTHING;
  PERFORM 1 FROM event_chain_heads WHERE tenant_id = tenant FOR UPDATE;
  CREATE TEMPORARY TABLE kept_member_status_daily ON COMMIT DROP AS
    SELECT geography_id, day, status, delta FROM member_status_daily WHERE tenant_id = tenant AND delta <> 0;
  DELETE FROM member_status_changes WHERE tenant_id = tenant;
  DELETE FROM member_status_daily WHERE tenant_id = tenant;
  changes := project_member_status(tenant, NULL);
  SELECT count(*) INTO daily_rows FROM member_status_daily WHERE tenant_id = tenant;
  SELECT count(*) INTO differing_rows
  FROM kept_member_status_daily k
  FULL JOIN (SELECT geography_id, day, status, delta FROM member_status_daily WHERE tenant_id = tenant AND delta <> 0) n
    USING (geography_id, day, status)
  WHERE k.delta IS DISTINCT FROM n.delta;
  DROP TABLE kept_member_status_daily;
END $$;
REVOKE ALL ON FUNCTION rebuild_member_status_history(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rebuild_member_status_history(uuid) TO sadasya_app;

-- Every party's events so far. The owner is subject to FORCE ROW LEVEL SECURITY too, so each
-- tenant is entered in turn.
DO $$
DECLARE
  t uuid;
BEGIN
  FOR t IN SELECT id FROM tenants LOOP
    PERFORM set_config('app.tenant_id', t::text, true);
    PERFORM project_member_status(t, NULL);
  END LOOP;
  PERFORM set_config('app.tenant_id', '', true);
END $$;
