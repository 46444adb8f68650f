-- One row per email the lifecycle sent, keyed by the step that sent it: a retried step
-- finds its row and does not send again.
CREATE TABLE mail_deliveries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  member_id uuid,
  idempotency_key text NOT NULL,
  kind text NOT NULL,
  message_id text NOT NULL,
  sent_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, idempotency_key)
);
SELECT isolate_tenant_table('mail_deliveries');
GRANT SELECT, INSERT ON mail_deliveries TO sadasya_app;
