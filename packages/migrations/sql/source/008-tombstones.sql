-- Tombstones: what the source remembers of a deleted entity, so the Reference API can answer
-- "deleted, at this version" instead of a 404 that a consumer would have to interpret. The
-- consumer never infers a deletion from a message; it asks, and this table is the answer.
-- References only ({id, version, deleted_at}): no personal data outlives the row.
CREATE TABLE tombstones (
  org_id      uuid NOT NULL REFERENCES organizations (id),
  entity_type text NOT NULL,
  id          uuid NOT NULL,
  -- The version of the deletion: one above the entity's last version, as in its DELETED event.
  version     bigint NOT NULL,
  deleted_at  timestamptz(3) NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, entity_type, id)
);
-- The purge takes the oldest first, across tenants.
CREATE INDEX tombstones_deleted_at_idx ON tombstones (deleted_at);

ALTER TABLE tombstones ENABLE ROW LEVEL SECURITY;
ALTER TABLE tombstones FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tombstones
  USING (org_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::uuid))
  WITH CHECK (org_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::uuid));

-- One trigger function for every synced table; its argument is the entity type. It runs as
-- the invoker, so the tombstone passes the same RLS check as the delete itself.
CREATE FUNCTION record_tombstone() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
  INSERT INTO tombstones (org_id, entity_type, id, version)
  VALUES (OLD.org_id, TG_ARGV[0], OLD.id, OLD.version + 1);
  RETURN NULL;
END $$;

CREATE TRIGGER users_tombstone AFTER DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION record_tombstone('USER');

-- source: writes tombstones through the trigger and reads them for the Reference API.
GRANT SELECT ON tombstones TO source_app;
GRANT INSERT (org_id, entity_type, id, version) ON tombstones TO source_app;

-- relay: purges tombstones past their retention, across tenants. It sees ids and versions
-- only, as in the outbox it already drains.
GRANT SELECT, DELETE ON tombstones TO relay_app;
CREATE POLICY relay_purges_tombstones ON tombstones TO relay_app USING (true) WITH CHECK (false);
