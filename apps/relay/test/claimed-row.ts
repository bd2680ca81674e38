import { randomUUID } from 'node:crypto';
import type { ClaimedRow } from '../src/outbox.ts';

let nextId = 1;

/** A claimed outbox row of a new entity of the zero tenant unless `overrides` say otherwise: rows for tests and benches that need no database. */
export function claimedRow(overrides: Partial<ClaimedRow> = {}): ClaimedRow {
  return {
    id: nextId++,
    event_id: randomUUID(),
    org_id: '00000000-0000-0000-0000-000000000000',
    aggregate_type: 'USER',
    aggregate_id: randomUUID(),
    action: 'CREATED',
    version: 1,
    traceparent: null,
    created_at: new Date(),
    ...overrides,
  };
}
