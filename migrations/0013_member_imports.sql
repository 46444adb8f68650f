-- Bulk imports of members from a party's spreadsheets (`npm run cli -- members:import`).
-- One row per import: the file it read (by sha256) and how far it got. Each batch commits
-- its members, their events and the progress here in one transaction, so `--resume` starts
-- after committed_through_line and nothing is imported twice or half.
CREATE TYPE member_import_status AS ENUM ('running', 'failed', 'completed', 'rolling_back', 'rolled_back');

CREATE TABLE member_imports (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  file_name text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 500),
  file_sha256 bytea NOT NULL CHECK (length(file_sha256) = 32),
  status member_import_status NOT NULL DEFAULT 'running',
  batch_size integer NOT NULL CHECK (batch_size > 0),
  total_rows integer NOT NULL CHECK (total_rows >= 0),
  rejected_rows integer NOT NULL DEFAULT 0 CHECK (rejected_rows >= 0),
  imported_rows integer NOT NULL DEFAULT 0 CHECK (imported_rows >= 0),
  batches_committed integer NOT NULL DEFAULT 0 CHECK (batches_committed >= 0),
  -- The file line of the last row whose batch committed (the header is line 1).
  committed_through_line integer NOT NULL DEFAULT 0 CHECK (committed_through_line >= 0),
  rolled_back_rows integer CHECK (rolled_back_rows >= 0),
  last_error text,
  started_by text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  rolled_back_at timestamptz,
  UNIQUE (tenant_id, id),
  CHECK ((status = 'rolled_back') = (rolled_back_at IS NOT NULL))
);
CREATE INDEX member_imports_file ON member_imports (tenant_id, file_sha256);
SELECT isolate_tenant_table('member_imports');
GRANT SELECT, INSERT ON member_imports TO sadasya_app;
GRANT UPDATE (status, rejected_rows, imported_rows, batches_committed, committed_through_line, rolled_back_rows,
              last_error, finished_at, rolled_back_at) ON member_imports TO sadasya_app;

-- Which import created a member (NULL for members who registered): what rollback deletes.
ALTER TABLE members ADD COLUMN import_id uuid;
ALTER TABLE members ADD CONSTRAINT members_import_fk FOREIGN KEY (tenant_id, import_id) REFERENCES member_imports (tenant_id, id);
CREATE INDEX members_import ON members (tenant_id, import_id) WHERE import_id IS NOT NULL;

-- The application role may not DELETE members. Rolling back an import is the one exception,
-- and a narrow one: this deletes the given members only if they belong to the import, the
-- import is being rolled back (an audited UPDATE of member_imports made that so), they are in
-- the transaction's tenant, and none changed since the import (version 1: the MemberImported
-- event alone). Foreign keys from invoices, payments and cards refuse the rest. The audit
-- trigger records each deletion with the row as it was (personal columns as ciphertext).
CREATE FUNCTION delete_imported_members(import uuid, member_ids uuid[]) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  tenant uuid := app_current_tenant();
  deleted integer;
BEGIN
  IF tenant IS NULL THEN
    RAISE EXCEPTION 'no tenant set for this transaction' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM member_imports WHERE id = import AND tenant_id = tenant AND status = 'rolling_back') THEN
    RAISE EXCEPTION 'import % is not being rolled back in this party', import USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF EXISTS (SELECT 1 FROM members WHERE tenant_id = tenant AND import_id = import AND id = ANY(member_ids) AND version <> 1) THEN
    RAISE EXCEPTION 'members of import % changed after the import', import USING ERRCODE = 'object_in_use';
  END IF;
  DELETE FROM members WHERE tenant_id = tenant AND import_id = import AND id = ANY(member_ids);
  GET DIAGNOSTICS deleted = ROW_COUNT;
  RETURN deleted;
END $$;
REVOKE ALL ON FUNCTION delete_imported_members(uuid, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION delete_imported_members(uuid, uuid[]) TO sadasya_app;

-- An import may keep members' existing numbers. When they are in the party's own format,
-- the serial part must never be handed out again: this moves the tenant's sequence to at
-- least `serial`, never back. (A nextval racing with the setval can at worst repeat a serial
-- whose full number is then refused by UNIQUE (tenant_id, member_number), never duplicated.)
CREATE FUNCTION advance_member_number_sequence(serial bigint) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  tenant uuid := app_current_tenant();
  sequence regclass;
BEGIN
  IF tenant IS NULL THEN
    RAISE EXCEPTION 'no tenant set for this transaction' USING ERRCODE = 'insufficient_privilege';
  END IF;
  sequence := member_number_sequence_name(tenant)::regclass;
  IF serial > coalesce(pg_sequence_last_value(sequence), 0) THEN
    PERFORM setval(sequence, serial);
  END IF;
END $$;
REVOKE ALL ON FUNCTION advance_member_number_sequence(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION advance_member_number_sequence(bigint) TO sadasya_app;
