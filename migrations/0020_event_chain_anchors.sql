-- The event chain against a database owner and against the application role itself.
--
-- 1. The running chain head that later appends of one transaction reuse (0014) sat in plain
--    settings, app.chain_seq_<tenant> and app.chain_hash_<tenant>, which the application role
--    can set too: a forged value made the next append skip the head lock and link to any hash.
--    Now one setting, app.chain_<tenant>, holds `<transaction id>:<seq>:<hash>:<mac>`, and the
--    MAC is an HMAC under a secret only the owner's functions can read. A value of another
--    transaction, or one the application wrote itself, does not verify and is ignored: the
--    append takes the head row's lock and reads it, as the first append of a transaction does.
--    The head row written back at the end of a statement now comes from the rows the statement
--    inserted (its transition table), not from a setting.
-- 2. Anchors: the chain's head, MACed under a key derived from the master key (which never
--    reaches the database), written periodically and at export. Whoever owns the database can
--    rewrite events and recompute every hash so verify_event_chain passes again; the anchors
--    they cannot recompute. See src/events/chain-anchors.ts.

-- Cluster bookkeeping: a fresh database has its own secret, so it is never part of a snapshot.
CREATE TABLE event_chain_secret (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  secret bytea NOT NULL CHECK (length(secret) = 32)
);
INSERT INTO event_chain_secret (secret) VALUES (gen_random_bytes(32));
REVOKE ALL ON event_chain_secret FROM PUBLIC;

CREATE OR REPLACE FUNCTION chain_event() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  setting text := 'app.chain_' || replace(NEW.tenant_id::text, '-', '');
  cached text[] := string_to_array(nullif(current_setting(setting, true), ''), ':');
  xact text := pg_current_xact_id()::text;
  secret bytea := (SELECT s.secret FROM event_chain_secret s);
  head_seq bigint;
  head_hash bytea;
  running text;
BEGIN
  IF cardinality(cached) = 4 AND cached[1] = xact
     AND cached[4] = encode(hmac(convert_to(array_to_string(cached[1:3], ':'), 'UTF8'), secret, 'sha256'), 'hex') THEN
    head_seq := cached[2]::bigint;
    head_hash := decode(cached[3], 'hex');
  ELSE
    INSERT INTO event_chain_heads (tenant_id, last_seq, last_hash)
    VALUES (NEW.tenant_id, 0, '\x'::bytea)
    ON CONFLICT (tenant_id) DO NOTHING;
    SELECT last_seq, last_hash INTO head_seq, head_hash FROM event_chain_heads WHERE tenant_id = NEW.tenant_id FOR UPDATE;
  END IF;
  NEW.recorded_at := clock_timestamp();
  NEW.chain_seq := head_seq + 1;
  NEW.prev_hash := head_hash;
  NEW.hash := event_row_hash(head_hash, NEW);
  running := concat_ws(':', xact, NEW.chain_seq, encode(NEW.hash, 'hex'));
  PERFORM set_config(setting, running || ':' || encode(hmac(convert_to(running, 'UTF8'), secret, 'sha256'), 'hex'), true);
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION store_chain_heads() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  UPDATE event_chain_heads h
  SET last_seq = a.chain_seq, last_hash = a.hash
  FROM (SELECT DISTINCT ON (tenant_id) tenant_id, chain_seq, hash FROM appended ORDER BY tenant_id, chain_seq DESC) a
  WHERE h.tenant_id = a.tenant_id;
  RETURN NULL;
END $$;

CREATE TYPE event_chain_anchor_reason AS ENUM ('periodic', 'export', 'rekey');

-- Each tenant's anchors form their own chain (previous_mac), so one removed from the middle
-- shows; the unique key lets two anchoring runs at once not fork it (the second is refused).
CREATE TABLE event_chain_anchors (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  chain_seq bigint NOT NULL CHECK (chain_seq >= 0),
  hash bytea NOT NULL,
  anchored_at timestamptz NOT NULL,
  reason event_chain_anchor_reason NOT NULL,
  master_key_id uuid NOT NULL,
  previous_mac bytea,
  mac bytea NOT NULL CHECK (length(mac) = 32),
  CONSTRAINT event_chain_anchors_one_successor UNIQUE NULLS NOT DISTINCT (tenant_id, previous_mac)
);
CREATE INDEX event_chain_anchors_tenant ON event_chain_anchors (tenant_id, id);
SELECT isolate_tenant_table('event_chain_anchors');
GRANT SELECT ON event_chain_anchors TO sadasya_app;
GRANT INSERT (tenant_id, chain_seq, hash, anchored_at, reason, master_key_id, previous_mac, mac) ON event_chain_anchors TO sadasya_app;
CREATE TRIGGER event_chain_anchors_append_only BEFORE UPDATE OR DELETE ON event_chain_anchors
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER event_chain_anchors_no_truncate BEFORE TRUNCATE ON event_chain_anchors
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
