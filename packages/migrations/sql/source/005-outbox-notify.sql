-- Wakes the relay when outbox rows commit, so it need not poll fast to publish fast.
--
-- One notification per statement, not per row, and PostgreSQL folds identical notifications
-- of one transaction into one at commit. The payload is empty on purpose: it says "look",
-- the relay claims by state, so a missed notification (listener reconnecting) only costs the
-- fallback poll interval. NOTIFY takes a database-wide lock at commit; BENCHMARKS.md records
-- what that costs POST /users.
CREATE FUNCTION outbox_notify() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
  PERFORM pg_notify('outbox_pending', '');
  RETURN NULL;
END $$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- The outbox is a queue: rows are deleted minutes after they are written. Vacuum it after a
-- fixed number of dead rows rather than a fraction of a table that is nearly always empty,
-- and without throttling, so dead tuples never pile up in front of the claim's index scan.
-- Free space on every page lets the lease update stay a HOT update (no new index entries).
ALTER TABLE outbox SET (
  fillfactor = 70,
  autovacuum_vacuum_scale_factor = 0,
  autovacuum_vacuum_threshold = 10000,
  autovacuum_vacuum_insert_scale_factor = 0,
  autovacuum_vacuum_insert_threshold = 10000,
  autovacuum_vacuum_cost_delay = 0,
  autovacuum_analyze_scale_factor = 0,
  autovacuum_analyze_threshold = 10000
);

-- The claim's "is there an older pending row of this entity?" probe, answered by one index
-- whatever the statistics say: on a table never analysed, the planner otherwise combined the
-- full index with the pending index for every probe, which made each claim quadratic.
DROP INDEX outbox_aggregate_idx;
CREATE INDEX outbox_pending_aggregate_idx ON outbox (aggregate_id, id) WHERE parked_at IS NULL;
