import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { isOrgId, TENANT_HEADER } from './org-id.ts';

export const EVENT_ACTIONS = ['CREATED', 'UPDATED', 'DELETED'] as const;
export type EventAction = (typeof EVENT_ACTIONS)[number];

/**
 * The Kafka message value. References only: ids, tenant, action, version and time. It can
 * never hold personal data: additional properties are refused on both sides.
 */
export const UserEvent = Type.Object(
  {
    event_id: Type.String({ format: 'uuid' }),
    entity: Type.Object({ type: Type.Literal('USER'), id: Type.String({ format: 'uuid' }) }, { additionalProperties: false }),
    action: Type.Union([Type.Literal('CREATED'), Type.Literal('UPDATED'), Type.Literal('DELETED')]),
    // A hint for ordering and metrics, never written: bounded so no value can overflow anything.
    version: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    timestamp: Type.String({ format: 'date-time' }),
    source_system: Type.String({ minLength: 1, maxLength: 100 }),
    tenant_context: Type.Object({ org_id: Type.String({ format: 'uuid' }) }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);
export type UserEvent = Static<typeof UserEvent>;

/** The schema compiled once: every message of both the relay and the consumer passes it. */
export const userEventValidator = Compile(UserEvent);

/** Kafka header names. */
export const EventHeaders = {
  tenantId: TENANT_HEADER,
  eventType: 'event-type',
  eventId: 'event-id',
  traceparent: 'traceparent',
} as const;

/** Why a message is not a valid event: a short code (metric label) and a reason in words. */
export type EventRejection = 'empty' | 'not_json' | 'org_missing' | 'org_invalid' | 'invalid_event' | 'tenant_mismatch';

export type ParsedEvent = { ok: true; event: UserEvent } | { ok: false; code: EventRejection; reason: string };

/**
 * Parses and validates a message value and its tenant header. Everything the consumer acts on
 * passes through here; a failure names the code and the reason that go to the dead-letter topic.
 */
export function parseUserEvent(value: Buffer | string | null | undefined, tenantHeader: string | undefined): ParsedEvent {
  if (value === null || value === undefined) return { ok: false, code: 'empty', reason: 'empty message' };
  let body: unknown;
  try {
    body = JSON.parse(value.toString());
  } catch {
    return { ok: false, code: 'not_json', reason: 'value is not JSON' };
  }
  const orgId = (body as { tenant_context?: { org_id?: unknown } } | null)?.tenant_context?.org_id;
  if (orgId === undefined) return { ok: false, code: 'org_missing', reason: 'tenant_context.org_id is missing' };
  if (!isOrgId(orgId)) return { ok: false, code: 'org_invalid', reason: 'tenant_context.org_id is not a valid org id' };
  if (!userEventValidator.Check(body)) {
    const [first] = userEventValidator.Errors(body);
    return { ok: false, code: 'invalid_event', reason: `invalid event: ${first ? `${first.instancePath || '/'} ${first.message}` : 'schema mismatch'}` };
  }
  if (tenantHeader !== orgId) return { ok: false, code: 'tenant_mismatch', reason: 'tenant header does not match tenant_context.org_id' };
  return { ok: true, event: body };
}
