-- Payments through eSewa and Khalti (docs/payments.md, "eSewa and Khalti"): the party's
-- merchant account with each gateway, one row per attempt to pay an invoice (verified by its
-- own workflow, payment-<tenant>-<attempt>), and the reconciliation queue where a payment that
-- matches no open invoice waits for a treasurer.

-- A party's merchant account with a gateway: eSewa's product code and secret key, Khalti's
-- live secret key. The secret is wrapped by the master key, bound to the party, the gateway and
-- the row (src/payments/gateway-accounts.ts), like the party's other keys.
CREATE TABLE payment_gateway_accounts (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  gateway text NOT NULL CHECK (gateway IN ('esewa', 'khalti')),
  environment text NOT NULL CHECK (environment IN ('sandbox', 'production', 'simulator')),
  -- a local simulator's address; the sandbox and production addresses are the gateway's own
  base_url text CHECK (base_url ~ '^https?://'),
  merchant_code text CHECK (merchant_code ~ '^[A-Za-z0-9_-]{1,64}$'),
  wrapped_secret bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, gateway),
  CHECK ((gateway = 'esewa') = (merchant_code IS NOT NULL)),
  CHECK ((environment = 'simulator') = (base_url IS NOT NULL))
);
SELECT isolate_tenant_table('payment_gateway_accounts');
GRANT SELECT, INSERT, DELETE ON payment_gateway_accounts TO sadasya_app;
GRANT UPDATE (environment, base_url, merchant_code, wrapped_secret) ON payment_gateway_accounts TO sadasya_app;

-- One attempt to pay one invoice through one gateway. `reference` is what the gateway knows it
-- by: eSewa's transaction_uuid (the attempt's id) or Khalti's pidx. The recorded payment takes
-- (gateway, reference) as its provider reference, so a redirect and a status check reporting
-- the same transaction record one payment.
CREATE TABLE payment_attempts (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  member_id uuid NOT NULL,
  invoice_id uuid NOT NULL,
  gateway text NOT NULL CHECK (gateway IN ('esewa', 'khalti')),
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  currency char(3) NOT NULL CHECK (currency = 'NPR'),
  reference text CHECK (length(reference) BETWEEN 1 AND 200),
  workflow_id text NOT NULL,
  state text NOT NULL DEFAULT 'initiated'
    CHECK (state IN ('initiated', 'pending', 'ambiguous', 'complete', 'failed', 'expired', 'canceled', 'refunded', 'partially_refunded')),
  gateway_status text,
  gateway_transaction_id text,
  payment_id uuid,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  checked_at timestamptz,
  settled_at timestamptz,
  UNIQUE (tenant_id, id),
  UNIQUE (tenant_id, gateway, reference),
  FOREIGN KEY (tenant_id, member_id) REFERENCES members (tenant_id, id),
  FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id),
  FOREIGN KEY (payment_id) REFERENCES payments (id)
);
CREATE INDEX payment_attempts_member ON payment_attempts (tenant_id, member_id, created_at);
CREATE INDEX payment_attempts_day ON payment_attempts (tenant_id, created_at);
SELECT isolate_tenant_table('payment_attempts');
GRANT SELECT, INSERT ON payment_attempts TO sadasya_app;
GRANT UPDATE (reference, state, gateway_status, gateway_transaction_id, payment_id, checked_at, settled_at) ON payment_attempts TO sadasya_app;

-- A payment the gateway took that matches no open invoice: a wrong amount, an invoice already
-- paid or closed, an unknown reference, or a difference the daily run found. Never dropped: it
-- waits here until a treasurer attaches it to an invoice or marks it for refund.
CREATE TABLE payment_reconciliation_items (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  gateway text NOT NULL CHECK (gateway IN ('esewa', 'khalti')),
  reference text NOT NULL CHECK (length(reference) BETWEEN 1 AND 200),
  attempt_id uuid,
  member_id uuid,
  amount_minor bigint NOT NULL CHECK (amount_minor >= 0),
  currency char(3) NOT NULL,
  reason text NOT NULL CHECK (reason IN ('amount_mismatch', 'invoice_not_open', 'paid_twice', 'unknown_reference', 'gateway_differs')),
  detail text NOT NULL CHECK (length(detail) BETWEEN 1 AND 500),
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'attached', 'refund')),
  detected_at timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz,
  resolved_by text,
  resolution_note text CHECK (length(resolution_note) BETWEEN 1 AND 1000),
  payment_id uuid REFERENCES payments (id),
  -- one item per gateway transaction and reason: a step retried, or a daily run repeated, adds none
  UNIQUE (tenant_id, gateway, reference, reason),
  FOREIGN KEY (tenant_id, attempt_id) REFERENCES payment_attempts (tenant_id, id),
  FOREIGN KEY (tenant_id, member_id) REFERENCES members (tenant_id, id),
  CHECK ((status = 'open') = (resolved_at IS NULL)),
  CHECK (status <> 'attached' OR payment_id IS NOT NULL)
);
CREATE INDEX payment_reconciliation_open ON payment_reconciliation_items (tenant_id, status, detected_at, id);
SELECT isolate_tenant_table('payment_reconciliation_items');
GRANT SELECT, INSERT ON payment_reconciliation_items TO sadasya_app;
GRANT UPDATE (status, resolved_at, resolved_by, resolution_note, payment_id) ON payment_reconciliation_items TO sadasya_app;

-- The daily comparison of each gateway's answers for the day's attempts with what was recorded.
CREATE TABLE payment_reconciliation_runs (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  day date NOT NULL,
  gateway text NOT NULL CHECK (gateway IN ('esewa', 'khalti')),
  attempts integer NOT NULL CHECK (attempts >= 0),
  differences integer NOT NULL CHECK (differences >= 0),
  unreachable integer NOT NULL CHECK (unreachable >= 0),
  finished_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, day, gateway)
);
SELECT isolate_tenant_table('payment_reconciliation_runs');
GRANT SELECT, INSERT ON payment_reconciliation_runs TO sadasya_app;
GRANT UPDATE (attempts, differences, unreachable, finished_at) ON payment_reconciliation_runs TO sadasya_app;
