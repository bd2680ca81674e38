import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { EventHeaders, parseUserEvent, type UserEvent } from '@tenant-sync/contracts';
import type { ConsumerDatabase } from '@tenant-sync/db';
import type { Consumer, EachBatchPayload, IHeaders, KafkaMessage, Producer } from '@tenant-sync/kafka';
import type { ReferenceClient } from './reference-client.ts';
import { SourceAuthError, syncTenantEvents } from './user-sync.ts';

export interface SyncConsumerOptions {
  consumer: Consumer;
  /** Producer for the dead-letter topic. */
  producer: Producer;
  db: Kysely<ConsumerDatabase>;
  reference: ReferenceClient;
  logger: Logger;
  topic: string;
  dlqTopic: string;
  onDeadLetter?: (reason: string) => void;
  onProcessed?: (count: number) => void;
  onAuthAlert?: () => void;
}

function header(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

/**
 * Consumes references from Kafka and applies them. Offsets are resolved only after the data
 * is written (at-least-once); invalid messages go to the dead-letter topic with their reason
 * and the original topic, partition and offset; consumption goes on.
 */
export function createSyncConsumer(options: SyncConsumerOptions) {
  const { consumer, producer, db, reference, logger, topic, dlqTopic } = options;

  async function deadLetter(batch: EachBatchPayload['batch'], message: KafkaMessage, reason: string): Promise<void> {
    await producer.send({
      topic: dlqTopic,
      messages: [
        {
          key: message.key,
          value: message.value,
          headers: {
            ...(message.headers ?? {}),
            'dlq-reason': reason,
            'dlq-original-topic': batch.topic,
            'dlq-original-partition': String(batch.partition),
            'dlq-original-offset': message.offset,
          },
        },
      ],
    });
    options.onDeadLetter?.(reason);
    logger.warn({ partition: batch.partition, offset: message.offset, reason }, 'message dead-lettered');
  }

  async function handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const byTenant = new Map<string, { event: UserEvent; message: KafkaMessage }[]>();
    for (const message of batch.messages) {
      const parsed = parseUserEvent(message.value, header(message.headers, EventHeaders.tenantId));
      if (!parsed.ok) {
        await deadLetter(batch, message, parsed.reason);
        continue;
      }
      const orgId = parsed.event.tenant_context.org_id.toLowerCase();
      const list = byTenant.get(orgId) ?? [];
      list.push({ event: parsed.event, message });
      byTenant.set(orgId, list);
    }

    for (const [orgId, entries] of byTenant) {
      const log = logger.child({ tenantId: orgId, partition: batch.partition });
      try {
        const failures = await syncTenantEvents({ db, reference, logger: log }, orgId, entries.map((entry) => entry.event));
        for (const failure of failures) {
          for (const entry of entries.filter((candidate) => candidate.event.entity.id === failure.event.entity.id)) {
            await deadLetter(batch, entry.message, failure.reason);
          }
        }
      } catch (error) {
        if (error instanceof SourceAuthError) {
          options.onAuthAlert?.();
          log.error({ alert: true, err: error }, 'ALERT: the source refused the consumer credentials; pausing the partition');
          payload.pause();
        }
        // Nothing past the failure is resolved: the batch is consumed again.
        throw error;
      }
    }

    const last = batch.messages.at(-1);
    if (last) payload.resolveOffset(last.offset);
    await payload.commitOffsetsIfNecessary();
    options.onProcessed?.(batch.messages.length);
  }

  return {
    async start(): Promise<void> {
      await consumer.connect();
      await producer.connect();
      await consumer.subscribe({ topics: [topic] });
      await consumer.run({ eachBatchAutoResolve: false, partitionsConsumedConcurrently: 3, eachBatch: handleBatch });
    },
    async stop(): Promise<void> {
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}
