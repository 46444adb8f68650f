-- An eSewa attempt is NOT_FOUND at the gateway until the payer's browser has posted the form
-- (and again once its session ends): the attempt records that answer like any other, so its
-- verification goes on waiting, and expires, instead of failing to write it.
ALTER TABLE payment_attempts DROP CONSTRAINT payment_attempts_state_check;
ALTER TABLE payment_attempts ADD CONSTRAINT payment_attempts_state_check
  CHECK (state IN ('initiated', 'pending', 'ambiguous', 'not_found', 'complete', 'failed', 'expired', 'canceled', 'refunded', 'partially_refunded'));

-- Every transfer of the party in request order (GET /api/transfers without filter[status]).
CREATE INDEX member_transfers_requested ON member_transfers (tenant_id, requested_at, id);
