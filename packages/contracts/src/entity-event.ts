import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { isOrgId, TENANT_HEADER } from './org-id.ts';

export const EVENT_ACTIONS = ['CREATED', 'UPDATED', 'DELETED'] as const;
export type EventAction = (typeof EVENT_ACTIONS)[number];

/**
 * How an entity type is spelled in the outbox, in messages and in headers: `USER`, `TEAM`,
 * `PURCHASE_ORDER`. Its topic is derived from it (`eventTopic`), so it is kept to characters a
 * topic name may hold.
 */
export const ENTITY_TYPE_PATTERN = '^[A-Z][A-Z0-9_]{0,47}$';
const entityTypePattern = new RegExp(ENTITY_TYPE_PATTERN);

/** True when `value` can name an entity type. */
export const isEntityType = (value: unknown): value is string => typeof value === 'string' && entityTypePattern.test(value);

/**
 * The events topic of an entity type: `{type}` of the template (KAFKA_TOPIC_TEMPLATE, by default
 * `{type}-events`) replaced by the type in lower case, `_` as `-` — `USER` → `user-events`.
 */
export const eventTopic = (template: string, entityType: string): string => template.replace('{type}', entityType.toLowerCase().replaceAll('_', '-'));

/** The dead-letter topic beside an events topic. */
export const deadLetterTopic = (topic: string): string => `${topic}.dlq`;

/**
 * The Kafka message value. References only: ids, tenant, action, version and time. It can
 * never hold personal data: additional properties are refused on both sides.
 */
export const EntityEvent = Type.Object(
  {
    event_id: Type.String({ format: 'uuid' }),
    entity: Type.Object({ type: Type.String({ pattern: ENTITY_TYPE_PATTERN }), id: Type.String({ format: 'uuid' }) }, { additionalProperties: false }),
    action: Type.Union([Type.Literal('CREATED'), Type.Literal('UPDATED'), Type.Literal('DELETED')]),
    // A hint for ordering and metrics, never written: bounded so no value can overflow anything.
    version: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    timestamp: Type.String({ format: 'date-time' }),
    source_system: Type.String({ minLength: 1, maxLength: 100 }),
    tenant_context: Type.Object({ org_id: Type.String({ format: 'uuid' }) }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);
export type EntityEvent = Static<typeof EntityEvent>;

/** The schema compiled once: every message of both the relay and the consumer passes it. */
export const entityEventValidator = Compile(EntityEvent);

/**
 * The fields of an event that a relay copies from an outbox row, compiled once: what the relay
 * checks of each event it makes. The rest it writes itself, valid by construction (its tests
 * check whole events against `entityEventValidator`); checking the time's `date-time` format
 * and the object's keys on every event was a twelfth of all the relay allocated at 2,000
 * events/s.
 */
export const outboxFieldsValidator = Compile(Type.Pick(EntityEvent, ['event_id', 'entity', 'action', 'version']));

/** Kafka header names. */
export const EventHeaders = {
  tenantId: TENANT_HEADER,
  eventType: 'event-type',
  eventId: 'event-id',
  traceparent: 'traceparent',
} as const;

/** Why a message is not a valid event: a short code (metric label) and a reason in words. */
export type EventRejection = 'empty' | 'not_json' | 'org_missing' | 'org_invalid' | 'invalid_event' | 'tenant_mismatch' | 'type_mismatch';

export type ParsedEvent = { ok: true; event: EntityEvent } | { ok: false; code: EventRejection; reason: string };

/**
 * Parses and validates a message value and its tenant header, read from the topic of
 * `topicType`. Everything the consumer acts on passes through here; a failure names the code and
 * the reason that go to the dead-letter topic. An event of another type than its topic's is
 * refused: each type's order and access rules are those of its own topic.
 */
export function parseEntityEvent(value: Buffer | string | null | undefined, tenantHeader: string | undefined, topicType: string): ParsedEvent {
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
  if (!entityEventValidator.Check(body)) {
    const [first] = entityEventValidator.Errors(body);
    return { ok: false, code: 'invalid_event', reason: `invalid event: ${first ? `${first.instancePath || '/'} ${first.message}` : 'schema mismatch'}` };
  }
  if (tenantHeader !== orgId) return { ok: false, code: 'tenant_mismatch', reason: 'tenant header does not match tenant_context.org_id' };
  if (body.entity.type !== topicType) return { ok: false, code: 'type_mismatch', reason: `an event of type ${body.entity.type} on the topic of ${topicType}` };
  return { ok: true, event: body };
}
