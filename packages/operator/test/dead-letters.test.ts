import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isTenantsDeadLetter, replayRefusal, type DeadLetter } from '../src/index.ts';

const a = '00000000-0000-0000-0000-000000000000';
const b = '11111111-1111-1111-1111-111111111111';

function letter({ header, body, originalTopic = 'user-events' }: { header: string | null; body: object | string; originalTopic?: string | null }): DeadLetter {
  const value = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const bodyOrgId = typeof body === 'object' ? ((body as { tenant_context?: { org_id?: string } }).tenant_context?.org_id ?? null) : null;
  const headers: Record<string, string> = { ...(header ? { 'x-tenant-id': header } : {}), ...(originalTopic ? { 'dlq-original-topic': originalTopic } : {}) };
  return {
    topic: 'user-events.dlq',
    partition: 0,
    offset: '0',
    timestamp: 0,
    at: null,
    key: null,
    reason: 'test',
    code: 'test',
    orgId: bodyOrgId ?? header,
    tenantHeader: header,
    bodyOrgId,
    entityId: null,
    original: originalTopic ? { topic: originalTopic, partition: 0, offset: '0' } : null,
    message: { topic: 'user-events.dlq', partition: 0, offset: '0', key: null, value, headers, timestamp: '0' },
  };
}

const event = (orgId: string) => ({
  event_id: randomUUID(),
  entity: { type: 'USER', id: randomUUID() },
  action: 'UPDATED',
  version: 2,
  timestamp: new Date().toISOString(),
  source_system: 'test',
  tenant_context: { org_id: orgId },
});

describe('isTenantsDeadLetter', () => {
  it("is the tenant's when the tenant header names it and the body names no other tenant", () => {
    expect(isTenantsDeadLetter(letter({ header: a, body: event(a) }), a)).toBe(true);
    expect(isTenantsDeadLetter(letter({ header: a.toUpperCase(), body: 'not json' }), a)).toBe(true);
    expect(isTenantsDeadLetter(letter({ header: a, body: event(a) }), b)).toBe(false);
    // Header and body disagree: no tenant's view shows it, neither the header's nor the body's.
    expect(isTenantsDeadLetter(letter({ header: b, body: event(a) }), b)).toBe(false);
    expect(isTenantsDeadLetter(letter({ header: b, body: event(a) }), a)).toBe(false);
    expect(isTenantsDeadLetter(letter({ header: null, body: event(a) }), a)).toBe(false);
  });
});

describe('replayRefusal', () => {
  it('allows a valid event of its own topic and type only', () => {
    expect(replayRefusal(letter({ header: a, body: event(a) }), 'user-events', 'USER')).toBeNull();
    expect(replayRefusal(letter({ header: a, body: event(a), originalTopic: null }), 'user-events', 'USER')).toMatch(/does not name its original topic/);
    expect(replayRefusal(letter({ header: a, body: event(a), originalTopic: 'payments' }), 'user-events', 'USER')).toMatch(/came from topic "payments"/);
    expect(replayRefusal(letter({ header: a, body: event(a) }), 'user-events', 'TEAM')).toMatch(/type_mismatch/);
    expect(replayRefusal(letter({ header: b, body: event(a) }), 'user-events', 'USER')).toMatch(/tenant_mismatch/);
    expect(replayRefusal(letter({ header: a, body: { ...event(a), email: 'pii@a.test' } }), 'user-events', 'USER')).toMatch(/invalid_event/);
  });
});
