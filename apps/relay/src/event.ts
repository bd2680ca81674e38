import { EventHeaders, isEntityType, isOrgId, outboxFieldsValidator, type EntityEvent } from '@tenant-sync/contracts';
import type { ClaimedRow } from './outbox.ts';

export const SOURCE_SYSTEM = 'tenant-sync-source';

/**
 * Below the broker's default `message.max.bytes` (1 MiB) with room for the batch framing.
 * A message Kafka refuses as too large is a permanent error that would let the entity's later
 * events overtake it, so such a row is parked before it is ever sent.
 */
export const MAX_MESSAGE_BYTES = 900_000;

export type OutboxMessage =
  | { ok: true; entityType: string; key: string; value: string; headers: Record<string, string> }
  | { ok: false; reason: string };

/**
 * The Kafka message for an outbox row: references only. Any entity type is published (to its
 * own topic, see `eventTopic`): a new type needs no change here. A row without a valid tenant,
 * or one that does not make a valid event, is refused here and parked by the caller, never
 * published.
 */
export function toMessage(row: ClaimedRow): OutboxMessage {
  if (row.org_id === null) return { ok: false, reason: 'org_id is missing' };
  if (!isOrgId(row.org_id)) return { ok: false, reason: 'org_id is not a valid org id' };
  if (!isEntityType(row.aggregate_type)) return { ok: false, reason: 'aggregate_type is not a valid entity type' };
  const event: EntityEvent = {
    event_id: row.event_id,
    entity: { type: row.aggregate_type, id: row.aggregate_id },
    action: row.action,
    version: Number(row.version),
    timestamp: row.created_at.toISOString(),
    source_system: SOURCE_SYSTEM,
    tenant_context: { org_id: row.org_id },
  };
  if (!outboxFieldsValidator.Check(event)) return { ok: false, reason: 'row does not make a valid event' };
  const headers: Record<string, string> = {
    [EventHeaders.tenantId]: row.org_id,
    [EventHeaders.eventType]: `${row.aggregate_type}_${row.action}`,
    [EventHeaders.eventId]: row.event_id,
  };
  if (row.traceparent) headers[EventHeaders.traceparent] = row.traceparent;
  const value = JSON.stringify(event);
  let size = Buffer.byteLength(value) + row.aggregate_id.length;
  for (const name in headers) size += name.length + (headers[name]?.length ?? 0);
  if (size > MAX_MESSAGE_BYTES) return { ok: false, reason: `message of ${size} bytes exceeds ${MAX_MESSAGE_BYTES}` };
  return { ok: true, entityType: row.aggregate_type, key: row.aggregate_id, value, headers };
}
