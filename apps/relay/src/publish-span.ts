import { SpanKind, type Span } from '@opentelemetry/api';
import type { ClaimedRow } from './outbox.ts';
import { contextOf, startSpan } from '@tenant-sync/tracing';

/**
 * The span of one outbox row's publish: a child of the span that wrote the row (its
 * `traceparent` column), and the parent the message names in its own `traceparent` header.
 * Made only while the SDK records (`isTracing()`): with tracing off the message carries the
 * row's traceparent as it is, and the relay makes no object per row for it.
 */
export function startPublishSpan(row: ClaimedRow, topic: string): Span {
  return startSpan(`send ${topic}`, contextOf(row.traceparent), {
    kind: SpanKind.PRODUCER,
    attributes: {
      'messaging.system': 'kafka',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.destination.name': topic,
      'messaging.message.id': row.event_id,
      'messaging.kafka.message.key': row.aggregate_id,
      'tenant.id': row.org_id ?? '',
    },
  });
}
