-- Operators' controls: a revoked ID card says why, in a word from a fixed list (never free
-- text: the reason also goes into the member's hash-chained event stream, which keeps no
-- personal data). Disabling a user (users.is_active), ending a role (user_roles.revoked_at)
-- and ending a committee headship (committee_roles.valid_to) need no schema change: the
-- application role may already update those columns, and every change is audited with its actor.
ALTER TABLE id_cards
  ADD COLUMN revocation_reason text
    CHECK (revocation_reason IN ('lost', 'stolen', 'damaged', 'issued_in_error', 'membership_ended')),
  ADD CONSTRAINT id_cards_reason_only_when_revoked CHECK (revocation_reason IS NULL OR revoked_at IS NOT NULL);
GRANT UPDATE (revocation_reason) ON id_cards TO sadasya_app;
