-- The relay claims fairly across tenants: it walks the tenants that have pending rows (a skip
-- scan, one probe per tenant) and takes the oldest rows of each. This index answers both.
CREATE INDEX outbox_pending_tenant_idx ON outbox (org_id, id) WHERE parked_at IS NULL;
