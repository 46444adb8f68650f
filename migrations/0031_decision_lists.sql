-- A head's inbox lists what waits for their decision, oldest first (docs/web.md, "Committee
-- inbox"): applications walk the members indexes backward; transfers walk this one, by status
-- or all of them, in request order.
CREATE INDEX member_transfers_by_request ON member_transfers (tenant_id, status, requested_at, id);
