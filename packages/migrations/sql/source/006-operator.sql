-- Cross-tenant administration is one explicit path: the tenant_operator role, which the admin
-- CLI (`npm run tenant`) logs in as and no app ever does. It manages organisations and
-- memberships of every tenant and reads the outbox's state; it cannot read users (personal
-- data) and no user token can reach it. Nothing a session sets (no GUC) widens any policy:
-- the extra policies below apply to this role only.
CREATE TABLE operator_audit_log (
  id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- The person, as the CLI names them (app.operator), and the database role they used.
  operator text NOT NULL,
  db_role  text NOT NULL DEFAULT current_user,
  command  text NOT NULL,
  org_id   uuid,
  detail   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX operator_audit_log_org_idx ON operator_audit_log (org_id, at);

-- Only the operator role may write it, and only append: no grant of UPDATE or DELETE.
ALTER TABLE operator_audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE operator_audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY operator_appends ON operator_audit_log TO tenant_operator USING (true) WITH CHECK (true);

GRANT USAGE ON SCHEMA public TO tenant_operator;
GRANT SELECT, INSERT, UPDATE ON organizations, memberships TO tenant_operator;
GRANT SELECT ON outbox TO tenant_operator;
GRANT SELECT, INSERT ON operator_audit_log TO tenant_operator;
CREATE POLICY operator_manages_tenants ON organizations TO tenant_operator USING (true) WITH CHECK (true);
CREATE POLICY operator_manages_tenants ON memberships TO tenant_operator USING (true) WITH CHECK (true);
CREATE POLICY operator_reads_outbox ON outbox FOR SELECT TO tenant_operator USING (true);

-- Every change the operator role makes to a tenant is logged in the same transaction, by the
-- database itself, whether it came through the CLI or not.
CREATE FUNCTION operator_audit() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
  changed jsonb := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END);
BEGIN
  IF current_user = 'tenant_operator' THEN
    INSERT INTO operator_audit_log (operator, command, org_id, detail)
    VALUES (
      COALESCE(NULLIF(current_setting('app.operator', true), ''), session_user),
      lower(TG_OP) || ' ' || TG_TABLE_NAME,
      COALESCE(changed ->> 'org_id', changed ->> 'id')::uuid,
      jsonb_build_object('before', CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE to_jsonb(OLD) END, 'after', CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE to_jsonb(NEW) END)
    );
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER operator_audit AFTER INSERT OR UPDATE OR DELETE ON organizations
  FOR EACH ROW EXECUTE FUNCTION operator_audit();
CREATE TRIGGER operator_audit AFTER INSERT OR UPDATE OR DELETE ON memberships
  FOR EACH ROW EXECUTE FUNCTION operator_audit();
