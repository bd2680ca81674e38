-- source_app writes outbox rows only through the users_outbox trigger, which names these
-- columns. Granting just them keeps the relay's state (leases, attempts, parking) and the
-- event id out of the app's reach: it cannot pre-lease or park a row, and cannot choose an
-- event_id, the one global key of the table, to learn whether it exists in another tenant.
REVOKE INSERT ON outbox FROM source_app;
GRANT INSERT (org_id, aggregate_type, aggregate_id, action, version, traceparent) ON outbox TO source_app;
