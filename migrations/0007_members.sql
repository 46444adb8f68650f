-- The member aggregate's current state. Contact and identity fields are AES-256-GCM
-- ciphertext made by the application; *_bidx are keyed HMAC blind indexes for exact lookup.
-- Names stay plaintext (trigram-indexed) so staff can search them.
CREATE TYPE member_status AS ENUM (
  'awaiting_approval', 'rejected', 'awaiting_payment', 'expired', 'withdrawn', 'active', 'lapsed'
);

CREATE TABLE members (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  status member_status NOT NULL,
  ward_id uuid NOT NULL REFERENCES geography_nodes (id),
  geography_path ltree NOT NULL,
  committee_id uuid,
  full_name_en text NOT NULL CHECK (length(full_name_en) BETWEEN 1 AND 200),
  full_name_ne text CHECK (length(full_name_ne) BETWEEN 1 AND 200),
  gender char(1) NOT NULL CHECK (gender IN ('M', 'F', 'O')),
  phone_enc bytea NOT NULL,
  phone_bidx bytea NOT NULL,
  email_enc bytea,
  email_bidx bytea,
  date_of_birth_enc bytea,
  address_enc bytea,
  citizenship_no_enc bytea,
  member_number text,
  member_number_assigned_at timestamptz,
  workflow_id text,
  status_token_hash bytea,
  version integer NOT NULL DEFAULT 0,
  registered_at timestamptz NOT NULL DEFAULT now(),
  approved_at timestamptz,
  activated_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  UNIQUE (tenant_id, phone_bidx),
  UNIQUE (tenant_id, member_number),
  FOREIGN KEY (tenant_id, committee_id) REFERENCES committees (tenant_id, id),
  CHECK ((email_enc IS NULL) = (email_bidx IS NULL)),
  CHECK ((member_number IS NULL) = (member_number_assigned_at IS NULL))
);
CREATE UNIQUE INDEX members_email_bidx ON members (tenant_id, email_bidx) WHERE email_bidx IS NOT NULL;
CREATE UNIQUE INDEX members_workflow ON members (tenant_id, workflow_id) WHERE workflow_id IS NOT NULL;
CREATE INDEX members_status ON members (tenant_id, status, registered_at, id);
CREATE INDEX members_geography_path ON members USING gist (geography_path);
CREATE INDEX members_committee ON members (tenant_id, committee_id);
CREATE INDEX members_name_en_trgm ON members USING gin (full_name_en gin_trgm_ops);
CREATE INDEX members_name_ne_trgm ON members USING gin (full_name_ne gin_trgm_ops);
SELECT isolate_tenant_table('members');
GRANT SELECT, INSERT, UPDATE ON members TO sadasya_app;

-- A member number, once given, is never changed or reused.
CREATE FUNCTION keep_member_number() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF OLD.member_number IS NOT NULL AND NEW.member_number IS DISTINCT FROM OLD.member_number THEN
    RAISE EXCEPTION 'member % already holds number %', OLD.id, OLD.member_number USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER members_keep_number BEFORE UPDATE OF member_number ON members
  FOR EACH ROW EXECUTE FUNCTION keep_member_number();
