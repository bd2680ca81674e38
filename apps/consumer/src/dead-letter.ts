import type { Logger } from 'pino';
import { trace } from '@opentelemetry/api';
import { deadLetterTopic, DeadLetterHeaders, EventHeaders, type EventRejection } from '@tenant-sync/contracts';
import { contextOf } from '@tenant-sync/tracing';
import type { IHeaders, KafkaMessage, Producer } from '@tenant-sync/kafka';

/**
 * Why a message was dead-lettered: a fixed, low-cardinality code (metric label, `dlq-code`
 * header). Each names a failure of the message itself; a source or database that is down is
 * waited out and never dead-letters anything.
 */
export type DeadLetterCode =
  | EventRejection
  /** The organisation is unknown to the source or suspended. */
  | 'org_inactive'
  /** The source does not know the entity in this tenant, after the 404 retries. */
  | 'not_found'
  /** The source refused the fetch itself (a 4xx other than 401/403/404/408/429). */
  | 'source_rejected'
  /** The consumer's database refused the entity's state, every time it was tried. */
  | 'write_rejected';

export interface DeadLetter {
  message: KafkaMessage;
  code: DeadLetterCode;
  reason: string;
}

export function header(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

/**
 * Sends messages the consumer gives up on to the dead-letter topic beside their topic
 * (`<topic>.dlq`): key, value and headers as they came, plus the reason, its code and where the
 * message was (topic, partition, offset).
 */
export function createDeadLetterQueue({ producer, logger, onDeadLettered }: { producer: Producer; logger: Logger; onDeadLettered?: ((code: DeadLetterCode) => void) | undefined }) {
  return async function deadLetter(from: { topic: string; partition: number }, letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    const ordered = [...letters].sort((x, y) => Number(BigInt(x.message.offset) - BigInt(y.message.offset)));
    await producer.send({
      topic: deadLetterTopic(from.topic),
      messages: ordered.map(({ message, code, reason }) => ({
        key: message.key,
        value: message.value,
        headers: {
          ...(message.headers ?? {}),
          [DeadLetterHeaders.reason]: reason,
          [DeadLetterHeaders.code]: code,
          [DeadLetterHeaders.originalTopic]: from.topic,
          [DeadLetterHeaders.originalPartition]: String(from.partition),
          [DeadLetterHeaders.originalOffset]: message.offset,
        },
      })),
    });
    for (const { message, code, reason } of ordered) {
      onDeadLettered?.(code);
      const traceId = trace.getSpanContext(contextOf(header(message.headers, EventHeaders.traceparent)))?.traceId;
      logger.warn({ topic: from.topic, partition: from.partition, offset: message.offset, code, reason, ...(traceId ? { traceId } : {}) }, 'message dead-lettered');
    }
  };
}

export type DeadLetterQueue = ReturnType<typeof createDeadLetterQueue>;
