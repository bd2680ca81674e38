-- The operator audit log is written by the database alone. The operator role may read it, and
-- may neither insert, update nor delete a row; who and when come from the session and the
-- server clock, never from the client. An operator is known by their login: give each person a
-- login role that is a member of tenant_operator (CREATE ROLE alice LOGIN IN ROLE tenant_operator).
DROP POLICY operator_appends ON operator_audit_log;
REVOKE INSERT ON operator_audit_log FROM tenant_operator;
CREATE POLICY operator_reads_audit ON operator_audit_log FOR SELECT TO tenant_operator USING (true);
-- The owner appends through the two functions below and nothing else logs in as it.
CREATE POLICY owner_appends_audit ON operator_audit_log FOR INSERT TO tenant_sync_owner WITH CHECK (true);

-- Appends one entry as the session's login: for what the operator does outside the tables
-- (reads, replays of dead letters). Callable by the operator role; it cannot choose the actor,
-- the role or the time.
CREATE FUNCTION record_operator_action(command text, org_id uuid, detail jsonb) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  INSERT INTO operator_audit_log (at, operator, db_role, command, org_id, detail)
  VALUES (clock_timestamp(), session_user,
          CASE WHEN pg_has_role(session_user, 'tenant_operator', 'MEMBER') THEN 'tenant_operator' ELSE session_user END,
          command, org_id, COALESCE(detail, '{}'))
$$;
REVOKE ALL ON FUNCTION record_operator_action(text, uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION record_operator_action(text, uuid, jsonb) TO tenant_operator;

-- Every change a member of the operator role makes to a tenant is logged in the same
-- transaction. The actor is the session's login; the app.operator setting is ignored.
CREATE OR REPLACE FUNCTION operator_audit() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
  changed jsonb := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END);
BEGIN
  IF pg_has_role(current_user, 'tenant_operator', 'MEMBER') AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    PERFORM record_operator_action(
      lower(TG_OP) || ' ' || TG_TABLE_NAME,
      COALESCE(changed ->> 'org_id', changed ->> 'id')::uuid,
      jsonb_build_object('before', CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE to_jsonb(OLD) END, 'after', CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE to_jsonb(NEW) END)
    );
  END IF;
  RETURN NULL;
END $$;
