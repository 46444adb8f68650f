-- Key rotation (docs/operator-cli.md, "Key rotation").
--
-- Master-key rotation re-wraps the party's keys and webhook secrets in place
-- (keys:rewrap-master): the application role, which already creates and retires them, may
-- replace a wrap.
--
-- A retired blind-index key is looked under (lookups, duplicate checks) until keys:reindex has
-- moved every stored index to its successor; reindexed_at records when, and from then on it is
-- not used.
ALTER TABLE tenant_keys ADD COLUMN reindexed_at timestamptz;
ALTER TABLE tenant_keys ADD CONSTRAINT tenant_keys_reindexed_when_retired
  CHECK (reindexed_at IS NULL OR (purpose = 'blind_index' AND retired_at IS NOT NULL AND reindexed_at >= retired_at));
GRANT UPDATE (wrapped_key, reindexed_at) ON tenant_keys TO sadasya_app;
GRANT UPDATE (wrapped_secret) ON payment_webhook_secrets TO sadasya_app;
