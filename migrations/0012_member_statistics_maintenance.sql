-- Keeps member_statistics equal to the members table, incrementally (docs/statistics.md).
-- Each change to a member adds ±1 to its WARD's row only, never to the ancestors, so no
-- province or district row is written by every transaction; reads roll wards up through
-- geography_closure.

-- Which of a (ward, status)'s rows a member counts in. One row: a province read sums at most
-- wards × statuses rows (slots multiply that; measured in docs/statistics.md), and the
-- deferred trigger holds a ward's row only while its transaction commits. To spread busy
-- wards, return e.g. hashtext(member::text) & 3 in a new migration and recount.
CREATE FUNCTION member_statistics_slot(member uuid) RETURNS smallint
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT 0::smallint $$;

-- SECURITY DEFINER: the application causes these writes but may not make them itself.
-- Row-level security still applies (the owner is subject to FORCE), so the rows written are
-- those of app_current_tenant(), which the members policy has already checked.
CREATE FUNCTION apply_member_statistics_delta() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.status = OLD.status AND NEW.ward_id = OLD.ward_id THEN
    RETURN NULL;
  END IF;
  -- Rows are locked in (ward, status) order, so two transactions that move members between
  -- the same two statuses in opposite directions queue instead of deadlocking.
  INSERT INTO member_statistics AS s (tenant_id, geography_id, status, slot, member_count)
  SELECT d.tenant_id, d.ward_id, d.status, member_statistics_slot(d.member_id), d.delta
  FROM (
    SELECT OLD.tenant_id, OLD.ward_id, OLD.status, OLD.id, -1 WHERE TG_OP <> 'INSERT'
    UNION ALL
    SELECT NEW.tenant_id, NEW.ward_id, NEW.status, NEW.id, 1 WHERE TG_OP <> 'DELETE'
  ) AS d (tenant_id, ward_id, status, member_id, delta)
  ORDER BY d.ward_id, d.status
  ON CONFLICT (tenant_id, geography_id, status, slot)
    DO UPDATE SET member_count = s.member_count + excluded.member_count;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION apply_member_statistics_delta() FROM PUBLIC;

-- Deferred to commit: the lifecycle steps lock the tenant's event-chain head (appending) and
-- change a member in either order (registration inserts first, decisions append first), so
-- locking a ward's row immediately could deadlock against the chain head. At commit the
-- chain head is already held, and the ward's row is held only until the commit is flushed.
CREATE CONSTRAINT TRIGGER members_statistics AFTER INSERT OR DELETE OR UPDATE OF status, ward_id ON members
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION apply_member_statistics_delta();

-- Repair: makes the current tenant's rows equal to a full recount of its members, slot by
-- slot. The difference is computed in one statement (one snapshot, in which every committed
-- member change and its delta are both visible or both not) and added like any other delta,
-- so it commutes with concurrent writers: members is not locked, and a committing writer
-- waits only for a row the recount corrected, until the recount commits.
CREATE FUNCTION recount_member_statistics(tenant uuid) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  corrected integer;
BEGIN
  IF tenant IS NULL OR tenant IS DISTINCT FROM app_current_tenant() THEN
    RAISE EXCEPTION 'recount_member_statistics: % is not the tenant of this transaction', tenant
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  WITH truth AS (
    SELECT ward_id AS geography_id, status, member_statistics_slot(id) AS slot, count(*) AS n
    FROM members WHERE tenant_id = tenant GROUP BY 1, 2, 3
  ), model AS (
    SELECT geography_id, status, slot, sum(member_count) AS n
    FROM member_statistics WHERE tenant_id = tenant GROUP BY 1, 2, 3
  )
  INSERT INTO member_statistics AS s (tenant_id, geography_id, status, slot, member_count)
  SELECT tenant, geography_id, status, slot, coalesce(truth.n, 0) - coalesce(model.n, 0)
  FROM truth FULL JOIN model USING (geography_id, status, slot)
  WHERE coalesce(truth.n, 0) <> coalesce(model.n, 0)
  ORDER BY geography_id, status, slot
  ON CONFLICT (tenant_id, geography_id, status, slot)
    DO UPDATE SET member_count = s.member_count + excluded.member_count;
  GET DIAGNOSTICS corrected = ROW_COUNT;
  DELETE FROM member_statistics WHERE tenant_id = tenant AND member_count = 0;
  RETURN corrected;
END $$;
REVOKE ALL ON FUNCTION recount_member_statistics(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION recount_member_statistics(uuid) TO sadasya_app;

REVOKE INSERT, UPDATE ON member_statistics FROM sadasya_app;

-- Backfill every tenant's existing members. The owner is subject to FORCE ROW LEVEL
-- SECURITY too, so each tenant is entered in turn. (CREATE TRIGGER above locked members
-- against writes until this migration commits.)
DO $$
DECLARE
  t uuid;
BEGIN
  FOR t IN SELECT id FROM tenants LOOP
    PERFORM set_config('app.tenant_id', t::text, true);
    PERFORM recount_member_statistics(t);
  END LOOP;
  PERFORM set_config('app.tenant_id', '', true);
END $$;
