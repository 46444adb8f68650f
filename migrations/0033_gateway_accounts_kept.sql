-- A party's merchant account with a gateway is changed in place, never deleted by the
-- application (nothing is deleted from a tenant table: the audit trail keeps each version of
-- the row). setGatewayAccount rewraps the new secret to the row's own id.
REVOKE DELETE ON payment_gateway_accounts FROM sadasya_app;
