-- Reconciliation covers every tenant the consumer holds rows for, but the consumer's role sees
-- one tenant per transaction. This function is the one path across: it runs as the owner and
-- returns tenant ids only (a skip scan of the primary key, one probe per tenant), never a row.
CREATE POLICY owner_lists_tenants ON synced_users FOR SELECT TO tenant_sync_owner USING (true);

CREATE FUNCTION synced_tenants() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  WITH RECURSIVE tenant AS (
    (SELECT org_id FROM synced_users ORDER BY org_id LIMIT 1)
    UNION ALL
    SELECT (SELECT next.org_id FROM synced_users next WHERE next.org_id > tenant.org_id ORDER BY next.org_id LIMIT 1)
      FROM tenant WHERE tenant.org_id IS NOT NULL
  )
  SELECT org_id FROM tenant WHERE org_id IS NOT NULL
$$;

REVOKE ALL ON FUNCTION synced_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION synced_tenants() TO consumer_app;
