import { describe, expect, it } from 'vitest';
import { deadLetterTopic, eventTopic, parseEntityEvent, type EntityEvent } from '../src/index.ts';

const orgId = '00000000-0000-0000-0000-000000000000';
const event: EntityEvent = {
  event_id: '6f1c1f5e-7c38-4a53-9a49-3ad5d0f1f0a1',
  entity: { type: 'USER', id: '0d7c2a52-4b5a-4a2f-9d8f-0b6f6c2f8b11' },
  action: 'CREATED',
  version: 1,
  timestamp: '2026-11-25T10:00:00.000Z',
  source_system: 'tenant-sync-source',
  tenant_context: { org_id: orgId },
};
const encode = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('parseEntityEvent', () => {
  it('accepts a valid event whose tenant header matches', () => {
    expect(parseEntityEvent(encode(event), orgId, 'USER')).toEqual({ ok: true, event });
  });

  it.each([
    ['not JSON', Buffer.from('{nope'), orgId, 'not_json', 'value is not JSON'],
    ['no org_id', encode({ ...event, tenant_context: {} }), orgId, 'org_missing', 'tenant_context.org_id is missing'],
    ['org_id not a UUID', encode({ ...event, tenant_context: { org_id: "1' OR '1'='1" } }), orgId, 'org_invalid', 'not a valid org id'],
    ['header mismatch', encode(event), '11111111-1111-1111-1111-111111111111', 'tenant_mismatch', 'does not match'],
    ['missing header', encode(event), undefined, 'tenant_mismatch', 'does not match'],
    ['an entity type of another topic', encode({ ...event, entity: { type: 'TEAM', id: event.entity.id } }), orgId, 'type_mismatch', 'type TEAM on the topic of USER'],
    ['an entity type no topic could have', encode({ ...event, entity: { type: '../secrets', id: event.entity.id } }), orgId, 'invalid_event', 'invalid event'],
    ['personal data smuggled in', encode({ ...event, email: 'a@b.c' }), orgId, 'invalid_event', 'invalid event'],
    ['empty', null, orgId, 'empty', 'empty message'],
  ])('refuses %s', (_name, value, header, code, reason) => {
    const parsed = parseEntityEvent(value, header, 'USER');
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.code).toBe(code);
    expect(parsed.ok ? '' : parsed.reason).toContain(reason);
  });
});

describe('eventTopic', () => {
  it('names each type\'s topic from the template, and its dead-letter topic beside it', () => {
    expect(eventTopic('{type}-events', 'USER')).toBe('user-events');
    expect(eventTopic('prod.{type}.events', 'PURCHASE_ORDER')).toBe('prod.purchase-order.events');
    expect(deadLetterTopic(eventTopic('{type}-events', 'TEAM'))).toBe('team-events.dlq');
  });
});
