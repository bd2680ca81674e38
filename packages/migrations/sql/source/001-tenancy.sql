-- Organisations and their members. Both tables are tenant data: an app session sees only the
-- organisation whose id it set with set_config('app.current_tenant', $1, true).
CREATE TABLE organizations (
  id         uuid PRIMARY KEY,
  name       text NOT NULL,
  status     text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'SUSPENDED')),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
  org_id     uuid NOT NULL REFERENCES organizations (id),
  subject    text NOT NULL,
  role       text NOT NULL CHECK (role IN ('member', 'tenant_admin')),
  status     text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'REMOVED')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, subject)
);

-- The tenant of the current transaction, NULL when none is set. After one SET LOCAL on a
-- pooled connection the setting reads as '' rather than NULL, hence NULLIF. The policies
-- wrap the call in a sub-select so it is evaluated once per statement, not once per row.
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON organizations
  USING (id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::uuid))
  WITH CHECK (id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::uuid));

ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON memberships
  USING (org_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::uuid))
  WITH CHECK (org_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::uuid));
