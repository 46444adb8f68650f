-- Least privilege for the parties' settings, and no secrets in the audit trail.
--
-- 1. The application role may create a party (POST /api/platform/tenants and tenant:create
--    insert its row) but no longer change one: nothing in the application updates `tenants`,
--    and a party's settings (fee, approval reminder and escalation, payment window, card
--    validity, time zone) change only through `npm run cli -- tenant:settings`, which runs as
--    the owner role and names the operator in the audit row.
REVOKE UPDATE ON tenants FROM sadasya_app;

-- 2. Audit rows never hold a secret. record_audit copies whole rows; each column named in its
--    trigger's arguments is replaced by a marker: '[redacted]', or in the new row of an UPDATE
--    that changed it '[redacted, changed]' (so the trail still says a password was reset). A
--    NULL stays NULL. The arguments are set with audit_redact(table, column, ...) below.
CREATE FUNCTION redact_audit_row(target jsonb, columns text[], previous jsonb) RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE
  AS $$
DECLARE
  col text;
BEGIN
  IF target IS NULL OR columns IS NULL THEN
    RETURN target;
  END IF;
  FOREACH col IN ARRAY columns LOOP
    IF target ? col AND jsonb_typeof(target -> col) <> 'null' THEN
      target := jsonb_set(target, ARRAY[col], to_jsonb(
        CASE WHEN previous IS NOT NULL AND (previous -> col) IS DISTINCT FROM (target -> col) THEN '[redacted, changed]' ELSE '[redacted]' END));
    END IF;
  END LOOP;
  RETURN target;
END $$;
REVOKE ALL ON FUNCTION redact_audit_row(jsonb, text[], jsonb) FROM PUBLIC;

-- SECURITY DEFINER: the application may not write audit rows itself, only cause them. The
-- row goes in under its party's row-level security: for a tenant table the transaction is
-- already bound to that party (the table's own policy checked the row); for `tenants` itself
-- the row's party is bound for this one insert, then the transaction's own binding put back.
CREATE OR REPLACE FUNCTION record_audit() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  old_json jsonb := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END;
  new_json jsonb := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END;
  subject jsonb := coalesce(new_json, old_json);
  -- The party a row belongs to: its tenant_id, or for the tenants table its own id.
  tenant text := CASE WHEN TG_TABLE_NAME = 'tenants' THEN subject ->> 'id' ELSE subject ->> 'tenant_id' END;
  bound text := coalesce(current_setting('app.tenant_id', true), '');
BEGIN
  IF TG_NARGS > 0 THEN
    new_json := redact_audit_row(new_json, TG_ARGV, old_json);
    old_json := redact_audit_row(old_json, TG_ARGV, NULL);
  END IF;
  IF tenant IS DISTINCT FROM bound THEN
    PERFORM set_config('app.tenant_id', tenant, true);
  END IF;
  INSERT INTO audit_log (tenant_id, table_name, record_id, operation, old_row, new_row, actor, ip_address, user_agent)
  VALUES (
    tenant::uuid, TG_TABLE_NAME, subject ->> 'id', TG_OP, old_json, new_json,
    app_setting('app.actor'), app_setting('app.ip')::inet, app_setting('app.user_agent')
  );
  IF tenant IS DISTINCT FROM bound THEN
    PERFORM set_config('app.tenant_id', bound, true);
  END IF;
  RETURN NULL;
END $$;

-- The columns a table's audit trigger redacts, as its trigger arguments.
CREATE FUNCTION audit_redacted_columns(target regclass) RETURNS text[]
  LANGUAGE sql STABLE
  AS $$
  SELECT CASE WHEN t.tgnargs = 0 THEN '{}'::text[]
              ELSE (string_to_array(encode(t.tgargs, 'escape'), '\000'))[1:t.tgnargs] END
  FROM pg_trigger t WHERE t.tgrelid = target AND t.tgname = 'audit' AND NOT t.tgisinternal
$$;

-- Adds `columns` to those the table's audit trigger redacts (one line in a later migration:
-- SELECT audit_redact('my_table', 'wrapped_secret');). Refuses a column the table lacks, and a
-- table without the audit trigger.
CREATE FUNCTION audit_redact(target regclass, VARIADIC columns text[]) RETURNS void
  LANGUAGE plpgsql
  AS $$
DECLARE
  current text[] := audit_redacted_columns(target);
  col text;
BEGIN
  IF current IS NULL THEN
    RAISE EXCEPTION 'table % has no audit trigger', target;
  END IF;
  FOREACH col IN ARRAY columns LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = target AND attname = col AND attnum > 0 AND NOT attisdropped) THEN
      RAISE EXCEPTION 'table % has no column %', target, col;
    END IF;
    IF NOT col = ANY(current) THEN
      current := current || col;
    END IF;
  END LOOP;
  EXECUTE format('DROP TRIGGER audit ON %s', target);
  EXECUTE format('CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION record_audit(%s)',
    target, (SELECT string_agg(quote_literal(c), ', ') FROM unnest(current) AS c));
END $$;
REVOKE ALL ON FUNCTION audit_redact(regclass, text[]) FROM PUBLIC;

-- Columns that hold a secret by their name: a password hash, a key or secret wrapped by the
-- master key, or a secret. A table put under isolate_tenant_table from now on has these
-- redacted from its audit rows without a further line; any other secret needs audit_redact.
CREATE FUNCTION secret_columns(target regclass) RETURNS text[]
  LANGUAGE sql STABLE
  AS $$
  SELECT coalesce(array_agg(attname::text ORDER BY attnum), '{}')
  FROM pg_attribute
  WHERE attrelid = target AND attnum > 0 AND NOT attisdropped
    AND (attname LIKE '%password_hash' OR attname LIKE 'wrapped%' OR attname LIKE '%secret%')
$$;

CREATE OR REPLACE FUNCTION isolate_tenant_table(target regclass) RETURNS void
  LANGUAGE plpgsql
  AS $$
DECLARE
  secrets text[] := secret_columns(target);
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
  EXECUTE format(
    'CREATE POLICY tenant_isolation ON %s USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant())',
    target);
  EXECUTE format(
    'CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION record_audit()',
    target);
  IF cardinality(secrets) > 0 THEN
    PERFORM audit_redact(target, VARIADIC secrets);
  END IF;
END $$;

-- 3. The parties themselves are audited: every change of a party's row is recorded in that
--    party's audit trail.
CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON tenants
  FOR EACH ROW EXECUTE FUNCTION record_audit();

-- The secrets known today, and any audited table added before this migration whose columns
-- are named as secrets are (e.g. a table of wrapped webhook secrets).
SELECT audit_redact('users', 'password_hash');
SELECT audit_redact('tenant_keys', 'wrapped_key');
DO $$
DECLARE
  audited regclass;
BEGIN
  FOR audited IN
    SELECT t.tgrelid::regclass FROM pg_trigger t
    WHERE t.tgname = 'audit' AND NOT t.tgisinternal AND cardinality(secret_columns(t.tgrelid::regclass)) > 0
  LOOP
    PERFORM audit_redact(audited, VARIADIC secret_columns(audited));
  END LOOP;
END $$;

-- Audit rows already written hold the old password hashes and wrapped keys: redact them too.
-- (audit_log is append-only; this one rewrite runs with its guard trigger off, as the owner.)
ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
DO $$
DECLARE
  t uuid;
BEGIN
  FOR t IN SELECT id FROM tenants LOOP
    PERFORM set_config('app.tenant_id', t::text, true);
    UPDATE audit_log a
    SET old_row = redact_audit_row(a.old_row, audit_redacted_columns(to_regclass(a.table_name)), NULL),
        new_row = redact_audit_row(a.new_row, audit_redacted_columns(to_regclass(a.table_name)), a.old_row)
    WHERE a.tenant_id = t AND cardinality(audit_redacted_columns(to_regclass(a.table_name))) > 0;
  END LOOP;
  PERFORM set_config('app.tenant_id', '', true);
END $$;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;

