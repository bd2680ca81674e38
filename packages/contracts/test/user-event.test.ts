import { describe, expect, it } from 'vitest';
import { parseUserEvent, type UserEvent } from '../src/index.ts';

const orgId = '00000000-0000-0000-0000-000000000000';
const event: UserEvent = {
  event_id: '6f1c1f5e-7c38-4a53-9a49-3ad5d0f1f0a1',
  entity: { type: 'USER', id: '0d7c2a52-4b5a-4a2f-9d8f-0b6f6c2f8b11' },
  action: 'CREATED',
  version: 1,
  timestamp: '2026-11-25T10:00:00.000Z',
  source_system: 'tenant-sync-source',
  tenant_context: { org_id: orgId },
};
const encode = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('parseUserEvent', () => {
  it('accepts a valid event whose tenant header matches', () => {
    expect(parseUserEvent(encode(event), orgId)).toEqual({ ok: true, event });
  });

  it.each([
    ['not JSON', Buffer.from('{nope'), orgId, 'not_json', 'value is not JSON'],
    ['no org_id', encode({ ...event, tenant_context: {} }), orgId, 'org_missing', 'tenant_context.org_id is missing'],
    ['org_id not a UUID', encode({ ...event, tenant_context: { org_id: "1' OR '1'='1" } }), orgId, 'org_invalid', 'not a valid org id'],
    ['header mismatch', encode(event), '11111111-1111-1111-1111-111111111111', 'tenant_mismatch', 'does not match'],
    ['missing header', encode(event), undefined, 'tenant_mismatch', 'does not match'],
    ['unknown entity type', encode({ ...event, entity: { type: 'ORDER', id: event.entity.id } }), orgId, 'invalid_event', 'invalid event'],
    ['personal data smuggled in', encode({ ...event, email: 'a@b.c' }), orgId, 'invalid_event', 'invalid event'],
    ['empty', null, orgId, 'empty', 'empty message'],
  ])('refuses %s', (_name, value, header, code, reason) => {
    const parsed = parseUserEvent(value, header);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.code).toBe(code);
    expect(parsed.ok ? '' : parsed.reason).toContain(reason);
  });
});
