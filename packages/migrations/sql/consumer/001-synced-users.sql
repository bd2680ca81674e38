-- The consumer's copy of each tenant's users. A delete leaves a versioned tombstone
-- (deleted_at set, personal fields cleared) so a late, older event cannot bring the row back.
CREATE TABLE synced_users (
  org_id            uuid NOT NULL,
  id                uuid NOT NULL,
  name              text,
  email             text,
  phone             text,
  version           bigint NOT NULL,
  deleted_at        timestamptz,
  source_created_at timestamptz(3),
  source_updated_at timestamptz(3),
  synced_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id)
);
CREATE INDEX synced_users_live_idx ON synced_users (org_id, source_created_at, id) WHERE deleted_at IS NULL;

ALTER TABLE synced_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE synced_users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON synced_users
  USING (org_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::uuid))
  WITH CHECK (org_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::uuid));
