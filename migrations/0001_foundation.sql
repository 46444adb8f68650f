-- Extensions, the tenant/audit context helpers every policy and trigger relies on.
-- Runs as the owner role; sadasya_app (the application's role) owns nothing.
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION IF NOT EXISTS ltree;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sadasya_app') THEN
    RAISE EXCEPTION 'role sadasya_app must exist before migrating (see src/db/bootstrap.ts)';
  END IF;
END $$;

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO sadasya_app;

-- The tenant of the current transaction, or NULL. set_config(..., true) leaves '' behind
-- after the transaction ends, hence NULLIF: an unset tenant must match no row, not error.
CREATE FUNCTION app_current_tenant() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

CREATE FUNCTION app_setting(name text) RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT NULLIF(current_setting(name, true), '') $$;

GRANT EXECUTE ON FUNCTION app_current_tenant(), app_setting(text) TO sadasya_app;
