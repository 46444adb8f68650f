-- 1. What an applicant declared and consented to, with the application (Political Parties Act
--    2073 s.14: citizens of Nepal aged 18 or over who are not government or public-institution
--    staff; Individual Privacy Act 2075: consent for a stated purpose). One row per application
--    (a member's id, or a refused application's): the notice's version and language, each
--    declaration made, and when. Written by the API before the lifecycle takes the application,
--    so no application is recorded without its consent; a repeat under the same
--    Idempotency-Key keeps the first row. No foreign key: the member row is written later by
--    the lifecycle, and a refused application never has one.
CREATE TABLE application_consents (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  application_id uuid NOT NULL,
  notice_version text NOT NULL CHECK (notice_version ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'),
  language text NOT NULL CHECK (language IN ('ne', 'en')),
  declarations text[] NOT NULL CHECK (cardinality(declarations) BETWEEN 1 AND 10),
  consented_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, application_id)
);
SELECT isolate_tenant_table('application_consents');
GRANT SELECT, INSERT ON application_consents TO sadasya_app;

-- 2. A refused application withdrawn through its status link: its link shows it withdrawn, as
--    a recorded application's would (whoever applied holds the link; it must not tell them
--    the application was refused).
ALTER TABLE registration_refusals ADD COLUMN withdrawn_at timestamptz;
GRANT UPDATE (withdrawn_at) ON registration_refusals TO sadasya_app;

-- 3. The applicant reads what the party holds about them through their link. A refused
--    application's personal fields are kept as a recorded one's are (sealed under the party's
--    keys, for the application's id), so its holder reads them back the same way: the link
--    must not show that the application was refused. Null for refusals recorded before.
ALTER TABLE registration_refusals
  ADD COLUMN phone_enc bytea,
  ADD COLUMN email_enc bytea,
  ADD COLUMN date_of_birth_enc bytea,
  ADD COLUMN address_enc bytea,
  ADD COLUMN citizenship_no_enc bytea;
