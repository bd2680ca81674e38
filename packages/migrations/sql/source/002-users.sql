CREATE TABLE users (
  org_id     uuid NOT NULL REFERENCES organizations (id),
  id         uuid NOT NULL DEFAULT gen_random_uuid(),
  name       text NOT NULL,
  email      text NOT NULL,
  phone      text,
  version    bigint NOT NULL DEFAULT 1,
  -- Millisecond precision: timestamps round-trip exactly through JSON and page cursors.
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now(),
  -- Every key includes org_id: a global key would tell one tenant that a value exists in another.
  PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX users_org_email_key ON users (org_id, lower(email));
-- Keyset pagination of one tenant's users: ORDER BY created_at, id.
CREATE INDEX users_org_created_idx ON users (org_id, created_at, id);

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users
  USING (org_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::uuid))
  WITH CHECK (org_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::uuid));

-- version grows by one on every change, whatever the statement says.
CREATE FUNCTION users_bump_version() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
  NEW.version := OLD.version + 1;
  NEW.updated_at := now();
  NEW.id := OLD.id;
  NEW.org_id := OLD.org_id;
  NEW.created_at := OLD.created_at;
  RETURN NEW;
END $$;

CREATE TRIGGER users_bump_version BEFORE UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION users_bump_version();
