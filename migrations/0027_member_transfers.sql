-- Transfers of a member to another ward (docs/membership.md, "Transfer to another ward").
-- A party's transfer window: a transfer nobody refuses within it is accepted.
ALTER TABLE tenants ADD COLUMN transfer_window interval NOT NULL DEFAULT interval '30 days'
  CHECK (transfer_window >= interval '1 second' AND transfer_window <= interval '366 days');

-- One row per transfer a member or staff asked for. `seq` numbers a member's transfers (the
-- workflow id is transfer-<tenant>-<member>-<seq>); at most one is open at a time.
CREATE TABLE member_transfers (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  member_id uuid NOT NULL,
  seq integer NOT NULL CHECK (seq > 0),
  from_ward_id uuid NOT NULL REFERENCES geography_nodes (id),
  to_ward_id uuid NOT NULL REFERENCES geography_nodes (id),
  requested_via text NOT NULL CHECK (requested_via IN ('link', 'staff')),
  requested_by text NOT NULL,
  requested_at timestamptz NOT NULL DEFAULT now(),
  -- When the transfer is accepted unless refused before.
  decides_at timestamptz NOT NULL,
  workflow_id text NOT NULL,
  status text NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'accepted', 'refused', 'cancelled')),
  -- approved: a head of a committee covering the destination; window: nobody refused in time.
  accepted_by text,
  refused_by text,
  refusal_reason text CHECK (refusal_reason IN ('not_resident', 'duplicate_request', 'member_request', 'other')),
  decided_at timestamptz,
  FOREIGN KEY (tenant_id, member_id) REFERENCES members (tenant_id, id),
  UNIQUE (tenant_id, member_id, seq),
  CHECK (from_ward_id <> to_ward_id),
  CHECK ((status = 'requested') = (decided_at IS NULL)),
  CHECK (status <> 'refused' OR (refused_by IS NOT NULL AND refusal_reason IS NOT NULL)),
  CHECK (status <> 'accepted' OR accepted_by IS NOT NULL)
);
CREATE UNIQUE INDEX member_transfers_one_open ON member_transfers (tenant_id, member_id) WHERE status = 'requested';
CREATE UNIQUE INDEX member_transfers_workflow ON member_transfers (tenant_id, workflow_id);
SELECT isolate_tenant_table('member_transfers');
GRANT SELECT, INSERT ON member_transfers TO sadasya_app;
GRANT UPDATE (status, accepted_by, refused_by, refusal_reason, decided_at) ON member_transfers TO sadasya_app;

-- A card whose member moved to another ward is replaced by one naming the new ward.
ALTER TABLE id_cards DROP CONSTRAINT id_cards_revocation_reason_check;
ALTER TABLE id_cards ADD CONSTRAINT id_cards_revocation_reason_check
  CHECK (revocation_reason IN ('lost', 'stolen', 'damaged', 'issued_in_error', 'membership_ended', 'suspended', 'expelled', 'resigned', 'deceased', 'superseded'));
