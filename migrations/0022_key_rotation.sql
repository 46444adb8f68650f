-- Master-key rotation re-wraps the party's keys in place (keys:rewrap-master): the application
-- role, which already creates and retires them, may replace a wrap. Nothing else of a key row changes.
GRANT UPDATE (wrapped_key) ON tenant_keys TO sadasya_app;
