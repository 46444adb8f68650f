-- Renewal, lapse and reinstatement (docs/membership.md "Renewal").
--
-- 1. Renewal invoices: `invoices.purpose` 'renewal', the term they renew, and the workflow that
--    takes their payment (a payment for an invoice is handed to that workflow; NULL: the
--    member's admission lifecycle). At most one open renewal invoice per member.
-- 2. member_renewals: one row per (member, term renewed), written when the daily run (or staff)
--    starts its workflow, closed with the outcome. What the run report and the next run read.
-- 3. renewal_runs: one row per party and run of the daily renewal Schedule.
-- 4. The new Member events, mapped in member_status_effects; a card revoked at a lapse names it.

ALTER TABLE invoices
  ADD COLUMN term_number integer CHECK (term_number > 0),
  ADD COLUMN workflow_id text CHECK (length(workflow_id) BETWEEN 1 AND 200),
  ADD CONSTRAINT invoices_purpose_check CHECK (purpose IN ('admission', 'renewal')),
  ADD CONSTRAINT invoices_renewal_names_its_term CHECK ((purpose = 'renewal') = (term_number IS NOT NULL AND workflow_id IS NOT NULL));
CREATE UNIQUE INDEX invoices_one_open_renewal ON invoices (tenant_id, member_id) WHERE purpose = 'renewal' AND status = 'open';

-- The daily run pages through the terms ending within the renewal notice in this order.
CREATE INDEX member_terms_renewal_due ON member_terms (tenant_id, ends_on, member_id);

CREATE TABLE member_renewals (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  member_id uuid NOT NULL,
  -- the term this renewal follows (the member's last term when it was started)
  term_number integer NOT NULL CHECK (term_number > 0),
  workflow_id text NOT NULL,
  -- the member's paid-until date when the renewal was started: the date it extends
  paid_until date NOT NULL,
  started_by text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  invoice_id uuid,
  -- lapsed is on the way (the member may still pay within the reinstatement window); the rest are final
  outcome text CHECK (outcome IN ('renewed', 'lapsed', 'reinstated', 'closed', 'not_due')),
  outcome_at timestamptz,
  PRIMARY KEY (tenant_id, member_id, term_number),
  UNIQUE (tenant_id, workflow_id),
  FOREIGN KEY (tenant_id, member_id) REFERENCES members (tenant_id, id),
  FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id),
  CHECK ((outcome IS NULL) = (outcome_at IS NULL))
);
CREATE INDEX member_renewals_started ON member_renewals (tenant_id, started_at);
CREATE INDEX member_renewals_open ON member_renewals (tenant_id, outcome_at);
SELECT isolate_tenant_table('member_renewals');
GRANT SELECT, INSERT ON member_renewals TO sadasya_app;
GRANT UPDATE (invoice_id, outcome, outcome_at) ON member_renewals TO sadasya_app;

CREATE TABLE renewal_runs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  -- the party's day the run looked at
  run_on date NOT NULL,
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  -- members found due, renewals started by this run, and those already started (by an earlier
  -- run that stopped half way, or by staff)
  due integer NOT NULL CHECK (due >= 0),
  started integer NOT NULL CHECK (started >= 0),
  already_started integer NOT NULL CHECK (already_started >= 0),
  CHECK (started + already_started = due)
);
CREATE INDEX renewal_runs_day ON renewal_runs (tenant_id, run_on);
SELECT isolate_tenant_table('renewal_runs');
GRANT SELECT, INSERT ON renewal_runs TO sadasya_app;

ALTER TABLE id_cards DROP CONSTRAINT id_cards_revocation_reason_check;
ALTER TABLE id_cards ADD CONSTRAINT id_cards_revocation_reason_check
  CHECK (revocation_reason IN ('lost', 'stolen', 'damaged', 'issued_in_error', 'membership_ended', 'suspended', 'expelled', 'resigned', 'deceased',
                               'superseded', 'lapsed'));

-- MemberTermLapsed is the lapse of a member's dues (status lapsed); MemberLapsed, older, is an
-- application whose admission invoice ran out (status expired).
INSERT INTO member_status_effects (event_type, status, ward_key, removes) VALUES
  ('RenewalInvoiceIssued',   NULL,     NULL, false),
  ('RenewalPaymentReceived', NULL,     NULL, false),
  ('MemberTermLapsed',       'lapsed', NULL, false);
