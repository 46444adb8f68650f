-- Applications that could not proceed because their phone or email already belongs to a
-- member or applicant of the party. The applicant is answered exactly as if the application
-- had been recorded, and their status link shows it as any new application (whoever applied
-- holds that link, so it must not tell them either); the holder of the contact is told through
-- it (an email now, or an SMS once a gateway sends what waits here).
CREATE TABLE registration_refusals (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  workflow_id text NOT NULL,
  status_token_hash bytea NOT NULL,
  full_name_en text NOT NULL,
  full_name_ne text,
  gender char(1) NOT NULL,
  ward_id uuid NOT NULL REFERENCES geography_nodes (id),
  -- The committee covering the ward when it was taken, as a recorded application shows it.
  committee_id uuid,
  -- Which contact was already taken, and by whom (no foreign key: rolling back an import
  -- deletes its members, and the refusal stays as it was).
  contact text NOT NULL CHECK (contact IN ('phone', 'email')),
  holder_id uuid NOT NULL,
  -- HMAC of the application under the party's blind-index key: a repeat under the same
  -- Idempotency-Key must be the same application.
  application_digest bytea,
  refused_at timestamptz NOT NULL DEFAULT now(),
  -- 'none': the holder was told of another application in the last day, or no longer exists.
  notice_channel text CHECK (notice_channel IN ('email', 'sms', 'none')),
  notice_sent_at timestamptz
);
CREATE INDEX registration_refusals_pending_sms ON registration_refusals (tenant_id, refused_at)
  WHERE notice_channel = 'sms' AND notice_sent_at IS NULL;
SELECT isolate_tenant_table('registration_refusals');
GRANT SELECT, INSERT ON registration_refusals TO sadasya_app;
GRANT UPDATE (notice_channel, notice_sent_at) ON registration_refusals TO sadasya_app;

-- The same digest for applications that were recorded (null for imported members).
ALTER TABLE members ADD COLUMN application_digest bytea;
