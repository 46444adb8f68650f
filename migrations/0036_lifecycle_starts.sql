-- Registration's transactional outbox (docs/registration.md, "Answered in one transaction"): the
-- request that records an application writes, in the same transaction, the lifecycle to start
-- for it. The API starts the lifecycle right after the commit and marks the row started; a relay in
-- every API process starts any lifecycle a crashed or disconnected process left behind. The
-- workflow id makes a second start of the same lifecycle a no-op, so the relay and the request
-- may race.
CREATE TABLE lifecycle_starts (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  -- a member, or a refused application (registration_refusals), by the id the applicant holds
  member_id uuid NOT NULL,
  workflow_id text NOT NULL,
  ward_id uuid NOT NULL,
  -- the lifecycle's input `recorded` (src/members/lifecycle-contract.ts): place, time, digest and,
  -- for a taken contact, whose it is; no personal data
  recorded jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- when Temporal was found holding the lifecycle (started then, or before)
  started_at timestamptz,
  PRIMARY KEY (tenant_id, member_id)
);
-- The relay reads only the rows not started, oldest first.
CREATE INDEX lifecycle_starts_waiting ON lifecycle_starts (tenant_id, created_at) WHERE started_at IS NULL;
SELECT isolate_tenant_table('lifecycle_starts');
GRANT SELECT, INSERT ON lifecycle_starts TO sadasya_app;
GRANT UPDATE (started_at) ON lifecycle_starts TO sadasya_app;
