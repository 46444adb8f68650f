CREATE TYPE invoice_status AS ENUM ('open', 'paid', 'void');

-- Amounts are in minor units (paisa) so money never meets floating point.
CREATE TABLE invoices (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  member_id uuid NOT NULL,
  idempotency_key text NOT NULL,
  purpose text NOT NULL DEFAULT 'admission',
  amount_minor bigint NOT NULL CHECK (amount_minor >= 0),
  currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  status invoice_status NOT NULL DEFAULT 'open',
  issued_at timestamptz NOT NULL DEFAULT now(),
  due_at timestamptz NOT NULL,
  paid_at timestamptz,
  voided_at timestamptz,
  UNIQUE (tenant_id, id),
  UNIQUE (tenant_id, idempotency_key),
  FOREIGN KEY (tenant_id, member_id) REFERENCES members (tenant_id, id),
  CHECK ((status = 'paid') = (paid_at IS NOT NULL)),
  CHECK ((status = 'void') = (voided_at IS NOT NULL))
);
CREATE INDEX invoices_member ON invoices (tenant_id, member_id);
SELECT isolate_tenant_table('invoices');
GRANT SELECT, INSERT ON invoices TO sadasya_app;
GRANT UPDATE (status, paid_at, voided_at) ON invoices TO sadasya_app;

-- The provider's reference is unique per tenant and provider: a repeated webhook is a no-op.
CREATE TABLE payments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  invoice_id uuid NOT NULL,
  member_id uuid NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  provider text NOT NULL CHECK (provider ~ '^[a-z0-9_-]{1,40}$'),
  provider_ref text NOT NULL CHECK (length(provider_ref) BETWEEN 1 AND 200),
  paid_at timestamptz NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  recorded_by text,
  UNIQUE (tenant_id, provider, provider_ref),
  FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id),
  FOREIGN KEY (tenant_id, member_id) REFERENCES members (tenant_id, id)
);
CREATE INDEX payments_invoice ON payments (tenant_id, invoice_id);
SELECT isolate_tenant_table('payments');
GRANT SELECT, INSERT ON payments TO sadasya_app;

CREATE TABLE id_cards (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  member_id uuid NOT NULL,
  member_number text NOT NULL,
  storage_key text NOT NULL,
  sha256 bytea NOT NULL,
  token_id uuid NOT NULL,
  issued_at timestamptz NOT NULL DEFAULT now(),
  valid_until date NOT NULL,
  revoked_at timestamptz,
  FOREIGN KEY (tenant_id, member_id) REFERENCES members (tenant_id, id),
  UNIQUE (tenant_id, token_id)
);
CREATE UNIQUE INDEX id_cards_one_current ON id_cards (tenant_id, member_id) WHERE revoked_at IS NULL;
SELECT isolate_tenant_table('id_cards');
GRANT SELECT, INSERT ON id_cards TO sadasya_app;
GRANT UPDATE (revoked_at) ON id_cards TO sadasya_app;
