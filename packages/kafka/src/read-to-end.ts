import { randomUUID } from 'node:crypto';
import type { IHeaders } from '@confluentinc/kafka-javascript/types/kafkajs.js';
import type { Kafka } from './create-kafka.ts';

/** A message as read back, headers flattened to strings. */
export interface StoredMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp: string;
}

export function flattenHeaders(headers: IHeaders | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers ?? {}).map(([name, value]) => [name, String(Array.isArray(value) ? value[0] : value)]),
  );
}

/**
 * Every message `topic` holds now, oldest first per partition, read with a throw-away consumer
 * group that commits nothing. Stops at the high watermarks taken at the start; throws when
 * they are not reached within `timeoutMs`. Meant for small topics such as a dead-letter topic.
 */
export async function readTopicToEnd(
  kafka: Kafka,
  topic: string,
  { timeoutMs = 30_000, onProgress = () => {} }: { timeoutMs?: number; onProgress?: (read: number, total: number) => void } = {},
): Promise<StoredMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(offsets.filter((entry) => BigInt(entry.high) > BigInt(entry.low)).map((entry) => [entry.partition, BigInt(entry.high)]));
  } finally {
    await admin.disconnect();
  }
  const total = Number([...ends.values()].reduce((sum, high) => sum + high, 0n));
  const messages: StoredMessage[] = [];
  if (ends.size === 0) return messages;

  const consumer = kafka.consumer({ kafkaJS: { groupId: `tenant-sync-reader-${randomUUID()}`, fromBeginning: true, autoCommit: false } });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic] });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${messages.length} messages of ${topic}, not all, within ${timeoutMs} ms`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          const end = ends.get(partition);
          if (end === undefined || BigInt(message.offset) >= end) return;
          messages.push({
            topic,
            partition,
            offset: message.offset,
            key: message.key ?? null,
            value: message.value ?? null,
            headers: flattenHeaders(message.headers),
            timestamp: message.timestamp,
          });
          onProgress(messages.length, total);
          if (BigInt(message.offset) + 1n >= end) ends.delete(partition);
          if (ends.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return messages.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}
