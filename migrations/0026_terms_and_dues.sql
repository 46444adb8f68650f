-- Membership terms and dues (docs/membership.md "Terms and dues", docs/payments.md "Dues split").
--
-- 1. A party's term settings, with defaults, on its row (changed by `tenant:settings`, audited).
-- 2. member_terms: an append-only ledger, one row per paid or waived term; good standing is
--    derived from it when it is read (member_term_standing), never stored, so no job can leave
--    it wrong.
-- 3. dues_allocations: every payment split over the geography levels of the member's ward
--    chain, written by a trigger in the transaction that records the payment, summing exactly
--    to it; dues_daily: the same per node and day, partitioned by month.
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Terms and allocations name their payment together with its party.
ALTER TABLE payments ADD CONSTRAINT payments_tenant_id_id_key UNIQUE (tenant_id, id);

-- The dues split: a share in whole percent for each level, summing to 100.
CREATE FUNCTION dues_split_is_valid(split jsonb) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
  SELECT jsonb_typeof(split) = 'object'
     AND (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(split) AS k) = ARRAY['district', 'localLevel', 'national', 'province']
     AND (SELECT bool_and(jsonb_typeof(v) = 'number' AND (v::text)::numeric = floor((v::text)::numeric) AND (v::text)::numeric BETWEEN 0 AND 100)
          FROM jsonb_each(split) AS e (k, v))
     AND (SELECT sum((v::text)::numeric) FROM jsonb_each(split) AS e (k, v)) = 100
$$;

ALTER TABLE tenants
  ADD COLUMN term_length_months smallint NOT NULL DEFAULT 12 CHECK (term_length_months BETWEEN 1 AND 120),
  -- NULL: the renewal costs what admission costs (fee_schedule.admissionFeeMinor).
  ADD COLUMN renewal_fee_minor bigint CHECK (renewal_fee_minor BETWEEN 0 AND 1000000000000),
  ADD COLUMN renewal_notice_days smallint NOT NULL DEFAULT 30 CHECK (renewal_notice_days BETWEEN 0 AND 365),
  ADD COLUMN grace_period_days smallint NOT NULL DEFAULT 60 CHECK (grace_period_days BETWEEN 0 AND 365),
  ADD COLUMN reinstatement_window_days smallint NOT NULL DEFAULT 365 CHECK (reinstatement_window_days BETWEEN 0 AND 3660),
  ADD COLUMN calendar text NOT NULL DEFAULT 'BS' CHECK (calendar IN ('BS', 'AD')),
  ADD COLUMN dues_split jsonb NOT NULL DEFAULT '{"national": 40, "province": 20, "district": 20, "localLevel": 20}'::jsonb
    CHECK (dues_split_is_valid(dues_split));

-- The term ledger. A term covers [starts_on, ends_on): ends_on is the first day it no longer
-- covers (the member's "paid until"). Terms of one member never overlap; a renewal starts on
-- the previous term's ends_on (early renewal extends), or on the day it is paid after a lapse.
CREATE TABLE member_terms (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  member_id uuid NOT NULL,
  term_number integer NOT NULL CHECK (term_number > 0),
  starts_on date NOT NULL,
  ends_on date NOT NULL CHECK (ends_on > starts_on),
  payment_id uuid,
  waived boolean NOT NULL DEFAULT false,
  -- admission: bought by the admission fee; renewal: by a renewal payment; import: the member
  -- came with an import (paid outside the system); backfill: active before this migration.
  source text NOT NULL CHECK (source IN ('admission', 'renewal', 'import', 'backfill', 'waiver')),
  idempotency_key text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text,
  UNIQUE (tenant_id, idempotency_key),
  UNIQUE (tenant_id, member_id, term_number),
  UNIQUE (tenant_id, payment_id),
  FOREIGN KEY (tenant_id, member_id) REFERENCES members (tenant_id, id),
  FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id),
  -- Paid or waived: a term is bought by a payment or given without one, never both.
  CHECK (payment_id IS NULL OR NOT waived),
  CHECK (payment_id IS NOT NULL OR waived OR source IN ('import', 'backfill')),
  EXCLUDE USING gist (tenant_id WITH =, member_id WITH =, daterange(starts_on, ends_on) WITH &&)
);
CREATE INDEX member_terms_member ON member_terms (tenant_id, member_id, ends_on DESC);
CREATE INDEX member_terms_ends_on ON member_terms (tenant_id, ends_on);
SELECT isolate_tenant_table('member_terms');
GRANT SELECT, INSERT ON member_terms TO sadasya_app;

-- Append-only even for the owner: a term is never changed. Deleting is refused too, except by
-- delete_imported_members (below), which removes the terms of the members an import rollback
-- deletes, and says so for its own transaction.
CREATE FUNCTION refuse_term_change() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF TG_OP = 'DELETE' AND app_setting('app.rolling_back_import') IS NOT NULL
     AND EXISTS (SELECT 1 FROM members m WHERE m.id = OLD.member_id AND m.import_id::text = app_setting('app.rolling_back_import')) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'member_terms is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER member_terms_append_only BEFORE UPDATE OR DELETE ON member_terms
  FOR EACH ROW EXECUTE FUNCTION refuse_term_change();
CREATE TRIGGER member_terms_no_truncate BEFORE TRUNCATE ON member_terms
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- Good standing of a member on a day, derived from the ledger and the party's settings (the
-- same rule as standingOn in src/terms/standing.ts). Only terms that started by that day
-- count, so the answer for a past day does not change when later terms are bought.
--   none     no term has started
--   current  on_date < paid_until
--   grace    paid_until <= on_date < grace_until (paid_until + grace period)
--   lapsed   on or after grace_until; reinstatable before reinstatable_until
CREATE FUNCTION member_term_standing(member uuid, on_date date)
  RETURNS TABLE (standing text, term_number integer, paid_until date, grace_until date, reinstatable_until date)
  LANGUAGE sql STABLE
  AS $$
  SELECT CASE
           WHEN t.paid_until IS NULL THEN 'none'
           WHEN on_date < t.paid_until THEN 'current'
           WHEN on_date < t.paid_until + s.grace_period_days THEN 'grace'
           ELSE 'lapsed'
         END,
         t.term_number, t.paid_until,
         t.paid_until + s.grace_period_days,
         t.paid_until + s.grace_period_days + s.reinstatement_window_days
  FROM (SELECT max(ends_on) AS paid_until, max(mt.term_number) AS term_number
        FROM member_terms mt WHERE mt.member_id = member AND mt.starts_on <= on_date) AS t
  CROSS JOIN (SELECT grace_period_days, reinstatement_window_days FROM tenants WHERE id = app_current_tenant()) AS s
$$;
GRANT EXECUTE ON FUNCTION member_term_standing(uuid, date) TO sadasya_app;

-- Members active before this migration get their first term now, with no event
-- (docs/membership.md). One admitted through the lifecycle: from the day they were activated,
-- for the party's term length, bought by their admission payment. One imported: as an import
-- gives it from now on, from the day of the import to the first anniversary of its
-- registration after that day (whole terms, counted here in AD months).
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT id, time_zone, term_length_months FROM tenants LOOP
    PERFORM set_config('app.tenant_id', t.id::text, true);
    PERFORM set_config('app.actor', 'migration:0026', true);
    INSERT INTO member_terms (tenant_id, member_id, term_number, starts_on, ends_on, payment_id, waived, source, idempotency_key, recorded_by)
    SELECT m.tenant_id, m.id, 1, d.starts_on,
           CASE
             WHEN m.import_id IS NULL OR d.registered_on >= d.starts_on THEN (d.starts_on + make_interval(months => t.term_length_months))::date
             ELSE (d.registered_on + make_interval(months => t.term_length_months * (floor(
                     (extract(year FROM age(d.starts_on, d.registered_on)) * 12 + extract(month FROM age(d.starts_on, d.registered_on)))
                     / t.term_length_months)::int + 1)))::date
           END,
           p.id, false, CASE WHEN p.id IS NULL THEN 'backfill' ELSE 'admission' END,
           'backfill:' || m.id, 'migration:0026'
    FROM members m
    CROSS JOIN LATERAL (SELECT
      (CASE WHEN m.import_id IS NULL THEN coalesce(m.activated_at, m.member_number_assigned_at, m.registered_at)
            ELSE coalesce(m.member_number_assigned_at, m.registered_at) END AT TIME ZONE t.time_zone)::date AS starts_on,
      (m.registered_at AT TIME ZONE t.time_zone)::date AS registered_on) AS d
    LEFT JOIN LATERAL (SELECT p.id FROM payments p WHERE p.member_id = m.id ORDER BY p.recorded_at LIMIT 1) AS p ON true
    WHERE m.tenant_id = t.id AND m.status = 'active'
      AND NOT EXISTS (SELECT 1 FROM member_terms x WHERE x.member_id = m.id);
  END LOOP;
  PERFORM set_config('app.tenant_id', '', true);
  PERFORM set_config('app.actor', '', true);
END $$;

-- An import rollback deletes the terms its members were given at import, then the members.
CREATE OR REPLACE FUNCTION delete_imported_members(import uuid, member_ids uuid[]) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  tenant uuid := app_current_tenant();
  deleted integer;
BEGIN
  IF tenant IS NULL THEN
    RAISE EXCEPTION 'no tenant set for this transaction' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM member_imports WHERE id = import AND tenant_id = tenant AND status = 'rolling_back') THEN
    RAISE EXCEPTION 'import % is not being rolled back in this party', import USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF EXISTS (SELECT 1 FROM members WHERE tenant_id = tenant AND import_id = import AND id = ANY(member_ids) AND version <> 1) THEN
    RAISE EXCEPTION 'members of import % changed after the import', import USING ERRCODE = 'object_in_use';
  END IF;
  PERFORM set_config('app.rolling_back_import', import::text, true);
  DELETE FROM member_terms t USING members m
  WHERE t.member_id = m.id AND m.tenant_id = tenant AND m.import_id = import AND m.id = ANY(member_ids) AND t.source = 'import';
  PERFORM set_config('app.rolling_back_import', '', true);
  DELETE FROM members WHERE tenant_id = tenant AND import_id = import AND id = ANY(member_ids);
  GET DIAGNOSTICS deleted = ROW_COUNT;
  RETURN deleted;
END $$;
REVOKE ALL ON FUNCTION delete_imported_members(uuid, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION delete_imported_members(uuid, uuid[]) TO sadasya_app;

-- ---------------------------------------------------------------------------------------
-- Dues split.
CREATE TYPE dues_level AS ENUM ('national', 'province', 'district', 'local_level');

-- Splits `amount` minor units by whole-percent shares (in level order national, province,
-- district, local level): each level gets floor(amount × share / 100); the few minor units
-- left over go one each to the levels with the largest remainders, ties to the earlier level
-- (national first). The parts sum exactly to `amount`. (splitDues in src/finance/dues-split.ts
-- is the same rule, for tests and previews.)
CREATE FUNCTION split_dues(amount bigint, shares integer[])
  RETURNS TABLE (part integer, amount_minor bigint)
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
  WITH parts AS (
    SELECT i AS part, (amount * shares[i]) / 100 AS base, (amount * shares[i]) % 100 AS remainder
    FROM generate_subscripts(shares, 1) AS i
  ), ranked AS (
    SELECT p.*, row_number() OVER (ORDER BY p.remainder DESC, p.part) AS rank,
           amount - sum(p.base) OVER () AS left_over
    FROM parts p
  )
  SELECT part, base + CASE WHEN rank <= left_over THEN 1 ELSE 0 END
  FROM ranked ORDER BY part
$$;
GRANT EXECUTE ON FUNCTION split_dues(bigint, integer[]) TO sadasya_app;

-- One row per payment and level. geography_id is the node of that level on the member's ward
-- chain when the payment was recorded; NULL for the national level (the party as a whole).
CREATE TABLE dues_allocations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  payment_id uuid NOT NULL,
  member_id uuid NOT NULL,
  level dues_level NOT NULL,
  geography_id uuid REFERENCES geography_nodes (id),
  share_percent smallint NOT NULL CHECK (share_percent BETWEEN 0 AND 100),
  amount_minor bigint NOT NULL CHECK (amount_minor >= 0),
  currency char(3) NOT NULL,
  day date NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, payment_id, level),
  FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id),
  FOREIGN KEY (tenant_id, member_id) REFERENCES members (tenant_id, id),
  CHECK ((level = 'national') = (geography_id IS NULL))
);
CREATE INDEX dues_allocations_day ON dues_allocations (tenant_id, day);
SELECT isolate_tenant_table('dues_allocations');
GRANT SELECT ON dues_allocations TO sadasya_app;
CREATE TRIGGER dues_allocations_append_only BEFORE UPDATE OR DELETE ON dues_allocations
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER dues_allocations_no_truncate BEFORE TRUNCATE ON dues_allocations
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- Daily figures per node, partitioned by month. Each (node, day) is spread over 8 slots by
-- payment, so concurrent payments of one day (all of which credit the national row) rarely
-- wait for each other; readers sum the slots.
CREATE TABLE dues_daily (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  day date NOT NULL,
  level dues_level NOT NULL,
  geography_id uuid,
  currency char(3) NOT NULL,
  slot smallint NOT NULL CHECK (slot BETWEEN 0 AND 7),
  amount_minor bigint NOT NULL,
  allocations integer NOT NULL,
  CHECK ((level = 'national') = (geography_id IS NULL))
) PARTITION BY RANGE (day);
CREATE UNIQUE INDEX dues_daily_key ON dues_daily (tenant_id, day, level, geography_id, currency, slot) NULLS NOT DISTINCT;
ALTER TABLE dues_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE dues_daily FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON dues_daily
  USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());
GRANT SELECT ON dues_daily TO sadasya_app;

-- The month partition holding `day`, created if missing (forced row-level security like its
-- parent; the application role gets no grant on it and reads it only through dues_daily).
CREATE FUNCTION ensure_dues_daily_partition(day date) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  first date := date_trunc('month', day)::date;
  name text := format('dues_daily_%s', to_char(first, 'YYYY_MM'));
BEGIN
  IF to_regclass(name) IS NOT NULL THEN
    RETURN;
  END IF;
  BEGIN
    EXECUTE format('CREATE TABLE %I PARTITION OF dues_daily FOR VALUES FROM (%L) TO (%L)', name, first, (first + interval '1 month')::date);
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', name);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', name);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant())', name);
  EXCEPTION WHEN duplicate_table OR duplicate_object THEN
    NULL; -- a concurrent payment created it first
  END;
END $$;
REVOKE ALL ON FUNCTION ensure_dues_daily_partition(date) FROM PUBLIC;

-- Created ahead: twelve months back and three years on. A payment dated outside them creates
-- its month's partition itself (allocate_payment_dues), once.
DO $$
BEGIN
  FOR i IN -12..36 LOOP
    PERFORM ensure_dues_daily_partition((date_trunc('month', now()) + make_interval(months => i))::date);
  END LOOP;
END $$;

-- Splits a new payment over the member's ward chain by the party's dues split and adds it to
-- the day's figures, in the payment's transaction (deferred to its commit, like the member
-- statistics: the day's rows are held only while the transaction commits). SECURITY DEFINER:
-- the application causes these rows but may not write them; row-level security still holds
-- them to the payment's tenant, which the payments policy has checked. A level with no node on
-- the member's chain (a ward outside the usual tree) adds its share to the national level, so
-- a payment is always allocated in full.
CREATE FUNCTION allocate_payment_dues() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  split jsonb;
  zone text;
  paid_day date;
  ward uuid;
  province_id uuid;
  district_id uuid;
  local_level_id uuid;
  shares integer[];
  payment_slot smallint := (hashtext(NEW.id::text) & 7)::smallint;
BEGIN
  SELECT t.dues_split, t.time_zone INTO STRICT split, zone FROM tenants t WHERE t.id = NEW.tenant_id;
  SELECT m.ward_id INTO STRICT ward FROM members m WHERE m.id = NEW.member_id AND m.tenant_id = NEW.tenant_id;
  SELECT max(g.id::text) FILTER (WHERE g.type = 'province')::uuid,
         max(g.id::text) FILTER (WHERE g.type = 'district')::uuid,
         max(g.id::text) FILTER (WHERE g.type = 'local_level')::uuid
    INTO province_id, district_id, local_level_id
  FROM geography_closure gc JOIN geography_nodes g ON g.id = gc.ancestor_id
  WHERE gc.descendant_id = ward;
  shares := ARRAY[(split ->> 'national')::int, (split ->> 'province')::int, (split ->> 'district')::int, (split ->> 'localLevel')::int];
  IF province_id IS NULL THEN shares[1] := shares[1] + shares[2]; shares[2] := 0; END IF;
  IF district_id IS NULL THEN shares[1] := shares[1] + shares[3]; shares[3] := 0; END IF;
  IF local_level_id IS NULL THEN shares[1] := shares[1] + shares[4]; shares[4] := 0; END IF;
  paid_day := (NEW.paid_at AT TIME ZONE zone)::date;
  PERFORM ensure_dues_daily_partition(paid_day);
  WITH inserted AS (
    INSERT INTO dues_allocations (tenant_id, payment_id, member_id, level, geography_id, share_percent, amount_minor, currency, day)
    SELECT NEW.tenant_id, NEW.id, NEW.member_id, l.level, l.node, shares[l.part], s.amount_minor, NEW.currency, paid_day
    FROM split_dues(NEW.amount_minor, shares) AS s
    JOIN (VALUES (1, 'national'::dues_level, NULL::uuid), (2, 'province', province_id),
                 (3, 'district', district_id), (4, 'local_level', local_level_id)) AS l (part, level, node)
      ON l.part = s.part
    WHERE l.part = 1 OR l.node IS NOT NULL
    RETURNING level, geography_id, amount_minor
  )
  INSERT INTO dues_daily AS d (tenant_id, day, level, geography_id, currency, slot, amount_minor, allocations)
  SELECT NEW.tenant_id, paid_day, i.level, i.geography_id, NEW.currency, payment_slot, i.amount_minor, 1
  FROM inserted i
  ORDER BY i.level
  ON CONFLICT (tenant_id, day, level, geography_id, currency, slot)
    DO UPDATE SET amount_minor = d.amount_minor + excluded.amount_minor, allocations = d.allocations + 1;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION allocate_payment_dues() FROM PUBLIC;

CREATE CONSTRAINT TRIGGER payments_dues AFTER INSERT ON payments
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION allocate_payment_dues();
