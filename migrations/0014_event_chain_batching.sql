-- Bulk appends (member imports) wrote the tenant's chain-head row once per event: within one
-- transaction every update of that row left a dead version the next one had to step over, so
-- a batch cost grew with the square of its size. Now the first append of a transaction locks
-- and reads the head row, later appends carry the running head in transaction-local settings,
-- and one statement-level trigger writes the head row back. The lock is held to commit as
-- before, so the chain still has no gaps and no forks; a rolled-back statement or savepoint
-- rolls the settings back with it.
CREATE OR REPLACE FUNCTION chain_event() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  suffix text := replace(NEW.tenant_id::text, '-', '');
  cached_seq text := current_setting('app.chain_seq_' || suffix, true);
  head_seq bigint;
  head_hash bytea;
BEGIN
  IF cached_seq IS NULL OR cached_seq = '' THEN
    INSERT INTO event_chain_heads (tenant_id, last_seq, last_hash)
    VALUES (NEW.tenant_id, 0, '\x'::bytea)
    ON CONFLICT (tenant_id) DO NOTHING;
    SELECT last_seq, last_hash INTO head_seq, head_hash FROM event_chain_heads WHERE tenant_id = NEW.tenant_id FOR UPDATE;
  ELSE
    head_seq := cached_seq::bigint;
    head_hash := decode(current_setting('app.chain_hash_' || suffix), 'hex');
  END IF;
  NEW.recorded_at := clock_timestamp();
  NEW.chain_seq := head_seq + 1;
  NEW.prev_hash := head_hash;
  NEW.hash := event_row_hash(head_hash, NEW);
  PERFORM set_config('app.chain_seq_' || suffix, NEW.chain_seq::text, true),
          set_config('app.chain_hash_' || suffix, encode(NEW.hash, 'hex'), true);
  RETURN NEW;
END $$;

CREATE FUNCTION store_chain_heads() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  UPDATE event_chain_heads h
  SET last_seq = current_setting('app.chain_seq_' || replace(h.tenant_id::text, '-', ''))::bigint,
      last_hash = decode(current_setting('app.chain_hash_' || replace(h.tenant_id::text, '-', '')), 'hex')
  WHERE h.tenant_id IN (SELECT DISTINCT tenant_id FROM appended);
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION store_chain_heads() FROM PUBLIC;

CREATE TRIGGER event_store_chain_heads AFTER INSERT ON event_store
  REFERENCING NEW TABLE AS appended
  FOR EACH STATEMENT EXECUTE FUNCTION store_chain_heads();
