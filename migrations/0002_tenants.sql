-- Landlord data: the parties. Readable by the application (anonymous applicants name
-- their party by slug); each tenant gets its own member-number sequence on creation.
CREATE TABLE tenants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  member_number_prefix text NOT NULL CHECK (member_number_prefix ~ '^[A-Z]{2,8}$'),
  fee_schedule jsonb NOT NULL DEFAULT '{"currency":"NPR","admissionFeeMinor":10000}'::jsonb
    CHECK (jsonb_typeof(fee_schedule) = 'object'),
  approval_reminder_after interval NOT NULL DEFAULT interval '3 days',
  approval_escalation_after interval NOT NULL DEFAULT interval '7 days',
  payment_window interval NOT NULL DEFAULT interval '14 days',
  card_validity interval NOT NULL DEFAULT interval '5 years',
  time_zone text NOT NULL DEFAULT 'Asia/Kathmandu',
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (approval_escalation_after > approval_reminder_after)
);

GRANT SELECT, INSERT, UPDATE ON tenants TO sadasya_app;

CREATE FUNCTION member_number_sequence_name(tenant uuid) RETURNS text
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT 'member_number_seq_' || replace(tenant::text, '-', '') $$;

-- One sequence per tenant: nextval never blocks another transaction, so concurrent
-- activations never queue. A rolled-back transaction leaves a gap in the numbers.
CREATE FUNCTION create_member_number_sequence() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I AS bigint MINVALUE 1', member_number_sequence_name(NEW.id));
  RETURN NEW;
END $$;

CREATE TRIGGER tenants_member_number_sequence AFTER INSERT ON tenants
  FOR EACH ROW EXECUTE FUNCTION create_member_number_sequence();

-- Next member number of the transaction's tenant; refuses to run without one.
CREATE FUNCTION next_member_number() RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  tenant uuid := app_current_tenant();
BEGIN
  IF tenant IS NULL THEN
    RAISE EXCEPTION 'no tenant set for this transaction' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN nextval(member_number_sequence_name(tenant)::regclass);
END $$;

REVOKE ALL ON FUNCTION next_member_number(), create_member_number_sequence() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION next_member_number() TO sadasya_app;
