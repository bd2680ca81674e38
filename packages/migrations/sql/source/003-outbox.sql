-- The transactional outbox: one row per change of a synced entity, written by a trigger in
-- the same transaction as the change. It holds references only (no personal data); the
-- consumer fetches the entity itself over the mTLS Reference API.
CREATE TABLE outbox (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id       uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  -- Nullable on purpose: a row without a valid tenant must be parked by the relay, not lost.
  org_id         uuid,
  aggregate_type text NOT NULL,
  aggregate_id   uuid NOT NULL,
  action         text NOT NULL CHECK (action IN ('CREATED', 'UPDATED', 'DELETED')),
  version        bigint NOT NULL,
  traceparent    text,
  created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- Relay state: a claim is a lease, so a relay that dies mid-batch frees its rows.
  lease_owner    text,
  lease_until    timestamptz,
  attempts       integer NOT NULL DEFAULT 0,
  last_error     text,
  parked_at      timestamptz,
  park_reason    text
);
-- The relay claims the oldest pending rows that are the head of their entity.
CREATE INDEX outbox_pending_idx ON outbox (id) WHERE parked_at IS NULL;
CREATE INDEX outbox_aggregate_idx ON outbox (aggregate_id, id);
CREATE INDEX outbox_org_idx ON outbox (org_id);

ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox FORCE ROW LEVEL SECURITY;
-- Writers see and write their own tenant's rows only.
CREATE POLICY tenant_isolation ON outbox
  USING (org_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::uuid))
  WITH CHECK (org_id = (SELECT NULLIF(current_setting('app.current_tenant', true), '')::uuid));

-- Runs as the invoker (the app role) so the outbox row passes the same RLS check as the
-- change itself; search_path is pinned so a caller cannot redirect the INSERT.
CREATE FUNCTION users_outbox() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
  changed users;
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
  VALUES (changed.org_id, 'USER', changed.id, action,
          CASE WHEN TG_OP = 'DELETE' THEN changed.version + 1 ELSE changed.version END,
          NULLIF(current_setting('app.traceparent', true), ''));
  RETURN NULL;
END $$;

CREATE TRIGGER users_outbox AFTER INSERT OR UPDATE OR DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION users_outbox();
