-- What every synced table of the source needs, in one call: RLS per tenant, the version bump,
-- the outbox row and the tombstone of each change (the shared trigger functions, the entity
-- type their argument), and the source's grants. Adding an entity type is a CREATE TABLE with
-- org_id, id, version, created_at and updated_at, and this call (docs/entities.md); users and
-- teams were prepared by hand before it existed, the same way.
CREATE FUNCTION prepare_synced_table(tbl regclass, entity_type text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
  name text := replace(tbl::text, '.', '_');
BEGIN
  IF entity_type !~ '^[A-Z][A-Z0-9_]{0,47}$' THEN
    RAISE EXCEPTION 'entity type % is not a valid entity type name', entity_type;
  END IF;
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE format($policy$CREATE POLICY tenant_isolation ON %s
    USING (org_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::uuid))
    WITH CHECK (org_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::uuid))$policy$, tbl);
  EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION bump_version()', name || '_bump_version', tbl);
  EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION record_outbox(%L)', name || '_outbox', tbl, entity_type);
  EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %s FOR EACH ROW EXECUTE FUNCTION record_tombstone(%L)', name || '_tombstone', tbl, entity_type);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO source_app', tbl);
END $$;
REVOKE ALL ON FUNCTION prepare_synced_table(regclass, text) FROM PUBLIC;
