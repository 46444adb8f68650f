-- Each party's secret per payment provider, wrapped (AES-256-GCM) by the master key with an
-- AAD naming the party, the provider and the row (src/payments/webhook-secrets.ts), so a
-- wrapped secret copied to another party, provider or row does not unwrap.
--
-- One current secret per party and provider (retires_at null). Rotation gives the previous one
-- a retires_at: until then both are accepted, afterwards only the new one. Nothing is deleted.
CREATE TABLE payment_webhook_secrets (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  provider text NOT NULL CHECK (provider ~ '^[a-z0-9_-]{1,40}$' AND provider <> 'manual'),
  wrapped_secret bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  retires_at timestamptz,
  CHECK (retires_at IS NULL OR retires_at >= created_at)
);
CREATE UNIQUE INDEX payment_webhook_secrets_one_current ON payment_webhook_secrets (tenant_id, provider) WHERE retires_at IS NULL;
CREATE INDEX payment_webhook_secrets_by_provider ON payment_webhook_secrets (tenant_id, provider, created_at);
SELECT isolate_tenant_table('payment_webhook_secrets');
GRANT SELECT, INSERT ON payment_webhook_secrets TO sadasya_app;
GRANT UPDATE (retires_at) ON payment_webhook_secrets TO sadasya_app;

-- A retired secret stays retired: its end may come sooner (end-overlap), never later, and it
-- never becomes current again.
CREATE FUNCTION refuse_webhook_secret_revival() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF OLD.retires_at IS NOT NULL AND (NEW.retires_at IS NULL OR NEW.retires_at > OLD.retires_at) THEN
    RAISE EXCEPTION 'payment_webhook_secrets: a retiring secret''s end can only come sooner' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER retires_only_sooner BEFORE UPDATE OF retires_at ON payment_webhook_secrets
  FOR EACH ROW EXECUTE FUNCTION refuse_webhook_secret_revival();

-- The audit trail records every change to these rows; 0021 redacts wrapped_secret from them
-- (as every column named wrapped*), including any audit row written before it.

-- The secrets a webhook to /api/parties/{party_slug}/payments/webhooks/{provider_name} may be
-- signed with at `at`, in one statement and with the same work whether or not the party
-- exists: an unknown party reads the secrets of no tenant (the nil id), so the answer and its
-- cost do not tell a caller which parties or providers exist. At most four, newest first.
--
-- SECURITY INVOKER: it reads as the application role, under row-level security, after binding
-- the tenant as caller_access() does (for this statement only, outside a transaction block).
CREATE FUNCTION payment_webhook_secrets_for(party_slug text, provider_name text, at timestamptz)
  RETURNS TABLE (tenant_id uuid, id uuid, wrapped_secret bytea)
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = public, pg_temp
  AS $$
DECLARE
  party uuid;
BEGIN
  IF app_current_tenant() IS NOT NULL THEN
    RAISE EXCEPTION 'payment_webhook_secrets_for: this transaction already belongs to a tenant' USING ERRCODE = 'insufficient_privilege';
  END IF;
  SELECT t.id INTO party FROM tenants t WHERE t.slug = party_slug;
  party := coalesce(party, '00000000-0000-0000-0000-000000000000');
  PERFORM set_config('app.tenant_id', party::text, true);
  RETURN QUERY
    SELECT s.tenant_id, s.id, s.wrapped_secret FROM payment_webhook_secrets s
    WHERE s.tenant_id = party AND s.provider = provider_name AND (s.retires_at IS NULL OR s.retires_at > at)
    ORDER BY s.created_at DESC
    LIMIT 4;
END $$;
REVOKE ALL ON FUNCTION payment_webhook_secrets_for(text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION payment_webhook_secrets_for(text, text, timestamptz) TO sadasya_app;
