-- The append-only event store. Each tenant's events form one hash chain, in chain_seq order
-- (the order their appends took the chain head): hash = sha256(previous hash || the row's
-- content), so a changed or deleted row breaks it.
CREATE TABLE event_store (
  position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  aggregate_type text NOT NULL CHECK (aggregate_type ~ '^[A-Z][A-Za-z]+$'),
  aggregate_id uuid NOT NULL,
  version integer NOT NULL CHECK (version > 0),
  event_type text NOT NULL CHECK (event_type ~ '^[A-Z][A-Za-z]+$'),
  payload jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
  -- Set by the step that appended the event (e.g. workflow id + step): a retried step finds
  -- its events already there and appends nothing.
  idempotency_key text,
  recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  chain_seq bigint NOT NULL,
  prev_hash bytea NOT NULL,
  hash bytea NOT NULL,
  CONSTRAINT event_store_stream_version UNIQUE (tenant_id, aggregate_id, version),
  UNIQUE (tenant_id, chain_seq),
  UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX event_store_tenant_position ON event_store (tenant_id, position);
CREATE INDEX event_store_type ON event_store (tenant_id, event_type, position);

ALTER TABLE event_store ENABLE ROW LEVEL SECURITY;
ALTER TABLE event_store FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON event_store
  USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());
GRANT SELECT ON event_store TO sadasya_app;
GRANT INSERT (tenant_id, aggregate_type, aggregate_id, version, event_type, payload, metadata, idempotency_key) ON event_store TO sadasya_app;

-- The head of each tenant's chain. Only the trigger below touches it. Locking the head row
-- orders a tenant's appends, so the chain has no gaps and no forks.
CREATE TABLE event_chain_heads (
  tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
  last_seq bigint NOT NULL,
  last_hash bytea NOT NULL
);

CREATE FUNCTION event_row_hash(prev bytea, e event_store) RETURNS bytea
  LANGUAGE sql IMMUTABLE
  AS $$
  SELECT digest(
    prev || convert_to(concat_ws('|', e.tenant_id, e.chain_seq, e.aggregate_type, e.aggregate_id, e.version, e.event_type,
      e.payload::text, e.metadata::text, e.idempotency_key, to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')), 'UTF8'),
    'sha256')
$$;

CREATE FUNCTION chain_event() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  head event_chain_heads;
BEGIN
  INSERT INTO event_chain_heads (tenant_id, last_seq, last_hash)
  VALUES (NEW.tenant_id, 0, '\x'::bytea)
  ON CONFLICT (tenant_id) DO NOTHING;
  SELECT * INTO head FROM event_chain_heads WHERE tenant_id = NEW.tenant_id FOR UPDATE;
  NEW.recorded_at := clock_timestamp();
  NEW.chain_seq := head.last_seq + 1;
  NEW.prev_hash := head.last_hash;
  NEW.hash := event_row_hash(head.last_hash, NEW);
  UPDATE event_chain_heads SET last_seq = NEW.chain_seq, last_hash = NEW.hash WHERE tenant_id = NEW.tenant_id;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION chain_event() FROM PUBLIC;

CREATE TRIGGER event_store_chain BEFORE INSERT ON event_store
  FOR EACH ROW EXECUTE FUNCTION chain_event();
CREATE TRIGGER event_store_append_only BEFORE UPDATE OR DELETE ON event_store
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER event_store_no_truncate BEFORE TRUNCATE ON event_store
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- Walks one tenant's chain. Returns the position of the first row whose link or hash does
-- not match (NULL when the whole chain verifies; -1 when rows are missing from its end),
-- and how many rows it checked.
CREATE FUNCTION verify_event_chain(tenant uuid, OUT first_broken_position bigint, OUT checked bigint)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  e event_store;
  expected bytea := '\x'::bytea;
BEGIN
  IF tenant IS DISTINCT FROM app_current_tenant() THEN
    RAISE EXCEPTION 'verify_event_chain runs inside its tenant''s transaction' USING ERRCODE = 'insufficient_privilege';
  END IF;
  checked := 0;
  FOR e IN SELECT * FROM event_store WHERE tenant_id = tenant ORDER BY chain_seq LOOP
    checked := checked + 1;
    IF e.chain_seq <> checked OR e.prev_hash <> expected OR e.hash <> event_row_hash(e.prev_hash, e) THEN
      first_broken_position := e.position;
      RETURN;
    END IF;
    expected := e.hash;
  END LOOP;
  IF expected <> coalesce((SELECT last_hash FROM event_chain_heads WHERE tenant_id = tenant), '\x'::bytea) THEN
    first_broken_position := -1;
  END IF;
END $$;
REVOKE ALL ON FUNCTION verify_event_chain(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION verify_event_chain(uuid) TO sadasya_app;
