-- The status of an organisation in one statement, for the check the Reference API makes on
-- every call (a suspended org's references must stop at once). Read under the org's own tenant
-- context it took a transaction of four round trips — BEGIN, set_config, SELECT, COMMIT — as
-- many as the fetch it guards. The function reads only the status, of the org its caller
-- names; the caller (an allow-listed service over mTLS) already names that org in X-Tenant-ID.
-- It runs as the owner, which reads organizations through a policy of its own; nothing logs in
-- as the owner (009-audit-by-the-database.sql).
CREATE POLICY owner_reads_status ON organizations FOR SELECT TO tenant_sync_owner USING (true);

CREATE FUNCTION organization_status(org uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT status FROM organizations WHERE id = org
$$;
REVOKE ALL ON FUNCTION organization_status(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION organization_status(uuid) TO source_app;
