-- Operators' controls. Each way of taking something away says why:
--  * a revoked ID card, in a word from a fixed list (never free text: the reason also goes into
--    the member's hash-chained event stream, which keeps no personal data);
--  * a disabled user, an ended role, an ended committee headship, in a sentence from the
--    administrator (staff records, not members'; kept in the row and its audit rows).
-- The application role may already update is_active, revoked_at and valid_to; every change is
-- audited with its actor.
ALTER TABLE id_cards
  ADD COLUMN revocation_reason text
    CHECK (revocation_reason IN ('lost', 'stolen', 'damaged', 'issued_in_error', 'membership_ended')),
  ADD CONSTRAINT id_cards_reason_only_when_revoked CHECK (revocation_reason IS NULL OR revoked_at IS NOT NULL);
GRANT UPDATE (revocation_reason) ON id_cards TO sadasya_app;

ALTER TABLE users
  ADD COLUMN disabled_reason text CHECK (length(disabled_reason) BETWEEN 3 AND 500),
  ADD CONSTRAINT users_reason_only_when_disabled CHECK (disabled_reason IS NULL OR NOT is_active);
GRANT UPDATE (disabled_reason) ON users TO sadasya_app;

ALTER TABLE user_roles
  ADD COLUMN revocation_reason text CHECK (length(revocation_reason) BETWEEN 3 AND 500),
  ADD CONSTRAINT user_roles_reason_only_when_revoked CHECK (revocation_reason IS NULL OR revoked_at IS NOT NULL);
GRANT UPDATE (revocation_reason) ON user_roles TO sadasya_app;

ALTER TABLE committee_roles
  ADD COLUMN end_reason text CHECK (length(end_reason) BETWEEN 3 AND 500),
  ADD CONSTRAINT committee_roles_reason_only_when_ended CHECK (end_reason IS NULL OR valid_to IS NOT NULL);
GRANT UPDATE (end_reason) ON committee_roles TO sadasya_app;
