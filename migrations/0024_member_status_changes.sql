-- Status changes after admission (docs/membership.md, "Status changes"): a member may be
-- suspended until a date, expelled (proposed by one head, confirmed by a head of the parent
-- committee), resign, or be recorded as deceased. Each is an event on the member's stream;
-- the members row carries the current status with its reason code, and the card revoked on
-- the way out says why.
--
-- New enum values cannot be used in the transaction that adds them; nothing below uses them.
ALTER TYPE member_status ADD VALUE IF NOT EXISTS 'suspended';
ALTER TYPE member_status ADD VALUE IF NOT EXISTS 'expelled';
ALTER TYPE member_status ADD VALUE IF NOT EXISTS 'resigned';
ALTER TYPE member_status ADD VALUE IF NOT EXISTS 'deceased';

-- Why the member is in their status (a word from a fixed list: it also enters the event
-- stream), when it changed, a staff note (free text, kept in the row and its audit rows only),
-- and for a suspension its end.
ALTER TABLE members
  ADD COLUMN status_reason text CHECK (status_reason ~ '^[a-z_]{3,40}$'),
  ADD COLUMN status_note text CHECK (length(status_note) BETWEEN 1 AND 1000),
  ADD COLUMN status_changed_at timestamptz,
  ADD COLUMN suspended_until timestamptz;

-- A card revoked because its holder left good standing names the status they left into.
ALTER TABLE id_cards DROP CONSTRAINT id_cards_revocation_reason_check;
ALTER TABLE id_cards ADD CONSTRAINT id_cards_revocation_reason_check
  CHECK (revocation_reason IN ('lost', 'stolen', 'damaged', 'issued_in_error', 'membership_ended', 'suspended', 'expelled', 'resigned', 'deceased'));
