-- Audit trail: every write to a tenant table records who, from where, and the old and
-- new row. Personal columns are already ciphertext in the row, so they stay encrypted here.
CREATE TABLE audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  table_name text NOT NULL,
  record_id text,
  operation text NOT NULL CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
  old_row jsonb,
  new_row jsonb,
  actor text,
  ip_address inet,
  user_agent text,
  occurred_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX audit_log_tenant_table_record ON audit_log (tenant_id, table_name, record_id);

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log
  USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());
GRANT SELECT ON audit_log TO sadasya_app;

CREATE FUNCTION refuse_change() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- SECURITY DEFINER: the application may not write audit rows itself, only cause them.
CREATE FUNCTION record_audit() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  old_json jsonb := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END;
  new_json jsonb := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END;
  subject jsonb := coalesce(new_json, old_json);
BEGIN
  INSERT INTO audit_log (tenant_id, table_name, record_id, operation, old_row, new_row, actor, ip_address, user_agent)
  VALUES (
    (subject ->> 'tenant_id')::uuid, TG_TABLE_NAME, subject ->> 'id', TG_OP, old_json, new_json,
    app_setting('app.actor'), app_setting('app.ip')::inet, app_setting('app.user_agent')
  );
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION record_audit() FROM PUBLIC;

-- Puts a tenant table under forced row-level security on app.tenant_id and audits it.
CREATE FUNCTION isolate_tenant_table(target regclass) RETURNS void
  LANGUAGE plpgsql
  AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', target);
  EXECUTE format(
    'CREATE POLICY tenant_isolation ON %s USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant())',
    target);
  EXECUTE format(
    'CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION record_audit()',
    target);
END $$;
REVOKE ALL ON FUNCTION isolate_tenant_table(regclass) FROM PUBLIC;
