-- Teams, the second synced entity type, and the trigger functions every synced table shares:
-- one function per job, its entity type an argument, instead of a copy per table.

-- version grows by one on every change, whatever the statement says; keys and creation stay.
CREATE FUNCTION bump_version() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
  NEW.version := OLD.version + 1;
  NEW.updated_at := now();
  NEW.id := OLD.id;
  NEW.org_id := OLD.org_id;
  NEW.created_at := OLD.created_at;
  RETURN NEW;
END $$;

-- One outbox row per change, in the same transaction, as the invoker (so it passes the same
-- RLS check as the change). TG_ARGV[0] is the entity type the relay and the consumer know.
CREATE FUNCTION record_outbox() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
  changed record;
  action text;
BEGIN
  IF TG_OP = 'DELETE' THEN
    changed := OLD;
    action := 'DELETED';
  ELSE
    changed := NEW;
    action := CASE TG_OP WHEN 'INSERT' THEN 'CREATED' ELSE 'UPDATED' END;
  END IF;
  INSERT INTO outbox (org_id, aggregate_type, aggregate_id, action, version, traceparent)
  VALUES (changed.org_id, TG_ARGV[0], changed.id, action,
          CASE WHEN TG_OP = 'DELETE' THEN changed.version + 1 ELSE changed.version END,
          NULLIF(current_setting('app.traceparent', true), ''));
  RETURN NULL;
END $$;

-- users move to the shared functions.
DROP TRIGGER users_bump_version ON users;
CREATE TRIGGER users_bump_version BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION bump_version();
DROP FUNCTION users_bump_version();
DROP TRIGGER users_outbox ON users;
CREATE TRIGGER users_outbox AFTER INSERT OR UPDATE OR DELETE ON users FOR EACH ROW EXECUTE FUNCTION record_outbox('USER');
DROP FUNCTION users_outbox();

CREATE TABLE teams (
  org_id      uuid NOT NULL REFERENCES organizations (id),
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  description text CHECK (char_length(description) <= 2000),
  version     bigint NOT NULL DEFAULT 1,
  created_at  timestamptz(3) NOT NULL DEFAULT now(),
  updated_at  timestamptz(3) NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id)
);
-- A team name is unique per tenant, ignoring case.
CREATE UNIQUE INDEX teams_org_name_key ON teams (org_id, lower(name));
CREATE INDEX teams_org_created_idx ON teams (org_id, created_at, id);

ALTER TABLE teams ENABLE ROW LEVEL SECURITY;
ALTER TABLE teams FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON teams
  USING (org_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::uuid))
  WITH CHECK (org_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::uuid));

CREATE TRIGGER teams_bump_version BEFORE UPDATE ON teams FOR EACH ROW EXECUTE FUNCTION bump_version();
CREATE TRIGGER teams_tombstone AFTER DELETE ON teams FOR EACH ROW EXECUTE FUNCTION record_tombstone('TEAM');

GRANT SELECT, INSERT, UPDATE, DELETE ON teams TO source_app;
