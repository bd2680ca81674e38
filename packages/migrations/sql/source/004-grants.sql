-- The apps connect as roles that neither own these tables nor bypass RLS.
GRANT USAGE ON SCHEMA public TO source_app, relay_app;

-- source: its tenant's organisation, members and users; it writes outbox rows through the trigger.
GRANT SELECT ON organizations, memberships TO source_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON users TO source_app;
GRANT INSERT ON outbox TO source_app;

-- relay: the outbox and nothing else. It drains every tenant's rows, so it gets a policy of
-- its own; no other role can use it, and no setting a session makes can widen tenant_isolation.
GRANT SELECT, UPDATE, DELETE ON outbox TO relay_app;
CREATE POLICY relay_drains_all_tenants ON outbox TO relay_app USING (true) WITH CHECK (true);
