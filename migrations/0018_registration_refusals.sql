-- Applications that could not proceed because their phone or email already belongs to a
-- member or applicant of the party. The applicant is answered exactly as if the application
-- had been recorded (so an anonymous caller cannot learn who is a member); the row lets their
-- private status link say the application could not proceed, and records how the holder of
-- the contact was told (an email now, or an SMS once a gateway sends what waits here).
CREATE TABLE registration_refusals (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  workflow_id text NOT NULL,
  status_token_hash bytea NOT NULL,
  full_name_en text NOT NULL,
  full_name_ne text,
  gender char(1) NOT NULL,
  ward_id uuid NOT NULL REFERENCES geography_nodes (id),
  -- Which contact was already taken, and by whom (no foreign key: rolling back an import
  -- deletes its members, and the refusal stays as it was).
  contact text NOT NULL CHECK (contact IN ('phone', 'email')),
  holder_id uuid NOT NULL,
  -- HMAC of the application under the party's blind-index key: a repeat under the same
  -- Idempotency-Key must be the same application.
  application_digest bytea,
  refused_at timestamptz NOT NULL DEFAULT now(),
  notice_channel text CHECK (notice_channel IN ('email', 'sms')),
  notice_sent_at timestamptz
);
CREATE INDEX registration_refusals_pending_sms ON registration_refusals (tenant_id, refused_at)
  WHERE notice_channel = 'sms' AND notice_sent_at IS NULL;
SELECT isolate_tenant_table('registration_refusals');
GRANT SELECT, INSERT ON registration_refusals TO sadasya_app;
GRANT UPDATE (notice_channel, notice_sent_at) ON registration_refusals TO sadasya_app;

-- The same digest for applications that were recorded (null for imported members).
ALTER TABLE members ADD COLUMN application_digest bytea;
