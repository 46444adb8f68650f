-- Live status (the status link's and staff's event streams): each statement that appends to
-- a member's stream tells listeners which member's stream grew and to which version, on
-- channel `member_events`, as `<tenant id>:<member id>:<version>`. Ids only, never personal
-- data; delivered at commit, so a listener that reads the stream then finds the events. One
-- notification per member per statement, so a batch import sends one per member, not per event.
CREATE FUNCTION notify_member_events() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
DECLARE
  grown record;
BEGIN
  FOR grown IN
    SELECT tenant_id, aggregate_id, max(version) AS version FROM appended WHERE aggregate_type = 'Member' GROUP BY tenant_id, aggregate_id
  LOOP
    PERFORM pg_notify('member_events', grown.tenant_id || ':' || grown.aggregate_id || ':' || grown.version);
  END LOOP;
  RETURN NULL;
END $$;

CREATE TRIGGER event_store_notify_members AFTER INSERT ON event_store
  REFERENCING NEW TABLE AS appended
  FOR EACH STATEMENT EXECUTE FUNCTION notify_member_events();
