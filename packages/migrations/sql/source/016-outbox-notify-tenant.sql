-- The notification names the tenant whose rows committed, when that is certain, so the relay
-- can claim that tenant's rows alone, through its part of the tenant index.
--
-- Why: while another tenant's import is still open (one INSERT … SELECT of a million rows),
-- its uncommitted rows already sit in the outbox's indexes. A claim in id order, or the walk
-- over the tenants that have rows, steps over every one of them and checks each in the heap:
-- 21–264 ms a claim with 200,000 uncommitted rows, against 1–12 ms without (2026-11-28), and
-- a quiet tenant's change waited for those claims.
--
-- When it is certain: row-level security is active for the writer (source_app, or the owner,
-- since the outbox forces it) and app.current_tenant is set. The policy's WITH CHECK then
-- admits only rows of that tenant, so the payload names every tenant the statement wrote.
-- Otherwise (a role that bypasses RLS, no tenant set) the payload stays empty: "look
-- everywhere", as before. A payload is a hint either way; the relay still claims by state.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
  IF row_security_active('public.outbox'::regclass) THEN
    -- As the relay reads org_id: the canonical text of the uuid.
    PERFORM pg_notify('outbox_pending', COALESCE(NULLIF(current_setting('app.current_tenant', true), '')::uuid::text, ''));
  ELSE
    PERFORM pg_notify('outbox_pending', '');
  END IF;
  RETURN NULL;
END $$;
