import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { entityEventValidator } from '@tenant-sync/contracts';
import { MAX_MESSAGE_BYTES, toMessage } from '../src/event.ts';
import type { ClaimedRow } from '../src/outbox.ts';
import { claimedRow } from './claimed-row.ts';

const row = (overrides: Partial<ClaimedRow> = {}): ClaimedRow =>
  claimedRow({ org_id: randomUUID(), action: 'UPDATED', version: 3, created_at: new Date('2026-11-28T09:30:00.123Z'), ...overrides });

describe('toMessage', () => {
  it('makes a message whose value is a whole valid event, keyed by the entity, with the tenant in a header', () => {
    const outbox = row({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    const message = toMessage(outbox);
    if (!message.ok) throw new Error(message.reason);
    const event = JSON.parse(message.value);
    // The relay checks only what it copies from the row; the contract holds for all of it.
    expect(entityEventValidator.Check(event)).toBe(true);
    expect(event).toEqual({
      event_id: outbox.event_id,
      entity: { type: 'USER', id: outbox.aggregate_id },
      action: 'UPDATED',
      version: 3,
      timestamp: '2026-11-28T09:30:00.123Z',
      source_system: 'tenant-sync-source',
      tenant_context: { org_id: outbox.org_id },
    });
    expect(message.key).toBe(outbox.aggregate_id);
    expect(message.headers).toEqual({
      'x-tenant-id': outbox.org_id,
      'event-type': 'USER_UPDATED',
      'event-id': outbox.event_id,
      traceparent: outbox.traceparent,
    });
  });

  it.each([
    [{ org_id: null }, 'org_id is missing'],
    [{ org_id: 'tenant-b' }, 'org_id is not a valid org id'],
    [{ aggregate_type: 'users; DROP' }, 'aggregate_type is not a valid entity type'],
    [{ aggregate_id: 'not-a-uuid' }, 'row does not make a valid event'],
    [{ event_id: '' }, 'row does not make a valid event'],
    [{ action: 'MERGED' as ClaimedRow['action'] }, 'row does not make a valid event'],
    [{ version: 0 }, 'row does not make a valid event'],
    [{ version: 1.5 }, 'row does not make a valid event'],
  ])('refuses a row with %o: %s', (overrides, reason) => {
    expect(toMessage(row(overrides))).toEqual({ ok: false, reason });
  });

  it('refuses a message larger than a broker takes', () => {
    const message = toMessage(row({ traceparent: 'x'.repeat(MAX_MESSAGE_BYTES) }));
    expect(message.ok).toBe(false);
    expect(!message.ok && message.reason).toMatch(/exceeds 900000$/);
  });
});
