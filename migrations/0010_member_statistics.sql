-- Read model: members per geography node and status. Maintained incrementally (a later
-- change); `slot` spreads one node's counter over several rows so concurrent updates to a
-- busy province never queue on one row. A node's count is the sum over its slots.
CREATE TABLE member_statistics (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  geography_id uuid NOT NULL REFERENCES geography_nodes (id),
  status member_status NOT NULL,
  slot smallint NOT NULL DEFAULT 0 CHECK (slot BETWEEN 0 AND 63),
  member_count bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, geography_id, status, slot)
);
ALTER TABLE member_statistics ENABLE ROW LEVEL SECURITY;
ALTER TABLE member_statistics FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON member_statistics
  USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());
GRANT SELECT, INSERT, UPDATE ON member_statistics TO sadasya_app;
