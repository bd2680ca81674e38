import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { createKafka, flattenHeaders } from '@tenant-sync/kafka';

export interface ReadMessage {
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
  partition: number;
  offset: string;
  /** The message's timestamp in ms: when its producer sent it (or the broker appended it, by the topic's setting). */
  timestamp: number;
}

/**
 * Reads `topic` from the beginning with a throw-away consumer group until `count` messages
 * arrived or `timeoutMs` passed, and returns what it read.
 */
export async function readTopic(brokers: string, topic: string, count: number, timeoutMs = 20_000): Promise<ReadMessage[]> {
  const kafka = createKafka({ brokers, clientId: 'tenant-sync-test-reader', logger: pino({ level: 'error' }) });
  const consumer = kafka.consumer({ kafkaJS: { groupId: `test-reader-${randomUUID()}`, fromBeginning: true, autoCommit: false } });
  const messages: ReadMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic] });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          messages.push({
            key: message.key?.toString() ?? null,
            value: message.value?.toString() ?? null,
            headers: flattenHeaders(message.headers),
            partition,
            offset: message.offset,
            timestamp: Number(message.timestamp),
          });
          if (messages.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return messages;
}
