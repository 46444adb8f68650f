-- Business metrics (docs/observability.md, "Business metrics"): what the ops listener's /metrics
-- reports per party, read from the database at scrape time so every API process reports the same
-- figures and none is lost on a restart.
--
-- event_counts: per party and event type, how many events the event store holds. Kept by a
--   statement-level trigger on event_store, in the appending transaction: that transaction
--   already holds its party's chain head until commit (0009, 0014), so the row it adds to here
--   queues no one who was not queued already, and a batch (an import) adds once per type.
--   A scrape then reads a few dozen rows per party instead of counting the event store.
CREATE TABLE event_counts (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  event_type text NOT NULL,
  events bigint NOT NULL CHECK (events >= 0),
  PRIMARY KEY (tenant_id, event_type)
);
ALTER TABLE event_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE event_counts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON event_counts
  USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());
-- The application reads; only the trigger below (as the owner, still under FORCE) writes.
GRANT SELECT ON event_counts TO sadasya_app;

CREATE FUNCTION count_appended_events() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  INSERT INTO event_counts AS c (tenant_id, event_type, events)
  SELECT tenant_id, event_type, count(*) FROM appended GROUP BY tenant_id, event_type
  ORDER BY tenant_id, event_type
  ON CONFLICT (tenant_id, event_type) DO UPDATE SET events = c.events + excluded.events;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION count_appended_events() FROM PUBLIC;

CREATE TRIGGER event_store_counts AFTER INSERT ON event_store
  REFERENCING NEW TABLE AS appended
  FOR EACH STATEMENT EXECUTE FUNCTION count_appended_events();

-- Every party's events so far (the owner is subject to FORCE too: each party in turn).
DO $$
DECLARE
  t uuid;
BEGIN
  FOR t IN SELECT id FROM tenants LOOP
    PERFORM set_config('app.tenant_id', t::text, true);
    INSERT INTO event_counts (tenant_id, event_type, events)
    SELECT tenant_id, event_type, count(*) FROM event_store WHERE tenant_id = t GROUP BY tenant_id, event_type;
  END LOOP;
  PERFORM set_config('app.tenant_id', '', true);
END $$;

-- The figures of every party, in one statement, for the private ops listener (never the public
-- API): aggregates only, by party slug, nothing about any one member.
--   events                  label: event type      value: events of that type so far (a counter)
--   members                 label: status          value: members in that status now (member_statistics)
--   oldest_waiting_seconds  label: awaiting_approval (since application) or awaiting_payment
--                           (since approval): how long the longest waiting member has waited; 0 when no one waits
-- Each party is entered in turn (row-level security stays forced), and the caller's own binding is
-- put back. Reads use the indexes members_status and the primary keys: a few rows per party and
-- status, plus the members waiting for payment (bounded by the payment window).
CREATE FUNCTION business_metrics() RETURNS TABLE (party text, metric text, label text, value double precision)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  t record;
  bound text := coalesce(current_setting('app.tenant_id', true), '');
BEGIN
  FOR t IN SELECT id, slug FROM tenants ORDER BY slug LOOP
    PERFORM set_config('app.tenant_id', t.id::text, true);
    RETURN QUERY
      SELECT t.slug, 'events'::text, c.event_type, c.events::float8 FROM event_counts c WHERE c.tenant_id = t.id
      UNION ALL
      SELECT t.slug, 'members'::text, s.status::text, coalesce(sum(m.member_count), 0)::float8
      FROM unnest(enum_range(NULL::member_status)) AS s (status)
      LEFT JOIN member_statistics m ON m.tenant_id = t.id AND m.status = s.status
      GROUP BY s.status
      UNION ALL
      SELECT t.slug, 'oldest_waiting_seconds'::text, 'awaiting_approval'::text,
             coalesce(extract(epoch FROM now() - min(m.registered_at)), 0)::float8
      FROM members m WHERE m.tenant_id = t.id AND m.status = 'awaiting_approval'
      UNION ALL
      SELECT t.slug, 'oldest_waiting_seconds'::text, 'awaiting_payment'::text,
             coalesce(extract(epoch FROM now() - min(coalesce(m.approved_at, m.registered_at))), 0)::float8
      FROM members m WHERE m.tenant_id = t.id AND m.status = 'awaiting_payment';
  END LOOP;
  PERFORM set_config('app.tenant_id', bound, true);
END $$;
REVOKE ALL ON FUNCTION business_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION business_metrics() TO sadasya_app;
