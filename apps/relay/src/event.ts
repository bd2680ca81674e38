import Value from 'typebox/value';
import { EventHeaders, isOrgId, UserEvent } from '@tenant-sync/contracts';
import type { OutboxRow } from '@tenant-sync/db';

export const SOURCE_SYSTEM = 'tenant-sync-source';

export type OutboxMessage =
  | { ok: true; key: string; value: string; headers: Record<string, string> }
  | { ok: false; reason: string };

/**
 * The Kafka message for an outbox row: references only. A row without a valid tenant, or one
 * that does not make a valid event, is refused here and parked by the caller, never published.
 */
export function toMessage(row: OutboxRow): OutboxMessage {
  if (row.org_id === null) return { ok: false, reason: 'org_id is missing' };
  if (!isOrgId(row.org_id)) return { ok: false, reason: 'org_id is not a valid org id' };
  if (row.aggregate_type !== 'USER') return { ok: false, reason: `unknown aggregate type ${row.aggregate_type}` };
  const event: UserEvent = {
    event_id: row.event_id,
    entity: { type: 'USER', id: row.aggregate_id },
    action: row.action,
    version: Number(row.version),
    timestamp: new Date(row.created_at).toISOString(),
    source_system: SOURCE_SYSTEM,
    tenant_context: { org_id: row.org_id },
  };
  if (!Value.Check(UserEvent, event)) return { ok: false, reason: 'row does not make a valid event' };
  const headers: Record<string, string> = {
    [EventHeaders.tenantId]: row.org_id,
    [EventHeaders.eventType]: `USER_${row.action}`,
    [EventHeaders.eventId]: row.event_id,
  };
  if (row.traceparent) headers[EventHeaders.traceparent] = row.traceparent;
  return { ok: true, key: row.aggregate_id, value: JSON.stringify(event), headers };
}
