-- Every synced table has one shape: the tenant and id, the source's version and timestamps, a
-- tombstone marker, the copied fields. prepare_synced_table() gives a new one what every
-- synced table needs — RLS per tenant, the consumer's grants, the index of the cache API's
-- pages — and registers it for synced_tenants(); adding an entity type is a CREATE TABLE and
-- this call (docs/entities.md).
CREATE TABLE synced_tables (name regclass PRIMARY KEY);

CREATE FUNCTION prepare_synced_table(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE format($policy$CREATE POLICY tenant_isolation ON %s
    USING (org_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::uuid))
    WITH CHECK (org_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::uuid))$policy$, tbl);
  EXECUTE format('CREATE POLICY owner_lists_tenants ON %s FOR SELECT TO tenant_sync_owner USING (true)', tbl);
  EXECUTE format('CREATE INDEX %I ON %s (org_id, source_created_at, id) WHERE deleted_at IS NULL', replace(tbl::text, '.', '_') || '_live_idx', tbl);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO consumer_app', tbl);
  INSERT INTO synced_tables (name) VALUES (tbl);
END $$;
REVOKE ALL ON FUNCTION prepare_synced_table(regclass) FROM PUBLIC;

-- synced_users was prepared by hand in 001 and 003; it is registered as it is.
INSERT INTO synced_tables (name) VALUES ('synced_users');

CREATE TABLE synced_teams (
  org_id            uuid NOT NULL,
  id                uuid NOT NULL,
  name              text,
  description       text,
  version           bigint NOT NULL,
  deleted_at        timestamptz,
  source_created_at timestamptz(3),
  source_updated_at timestamptz(3),
  synced_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id)
);
SELECT prepare_synced_table('synced_teams');

-- Every tenant with rows in any synced table (each id once per table: callers take DISTINCT).
-- As before it runs as the owner and returns tenant ids only, a skip scan per table.
CREATE OR REPLACE FUNCTION synced_tenants() RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  tbl regclass;
BEGIN
  FOR tbl IN SELECT name FROM synced_tables LOOP
    RETURN QUERY EXECUTE format($scan$
      WITH RECURSIVE tenant AS (
        (SELECT org_id FROM %1$s ORDER BY org_id LIMIT 1)
        UNION ALL
        SELECT (SELECT next.org_id FROM %1$s next WHERE next.org_id > tenant.org_id ORDER BY next.org_id LIMIT 1)
          FROM tenant WHERE tenant.org_id IS NOT NULL
      )
      SELECT org_id FROM tenant WHERE org_id IS NOT NULL$scan$, tbl);
  END LOOP;
END $$;
