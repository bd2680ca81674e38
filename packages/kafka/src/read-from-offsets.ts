import { randomUUID } from 'node:crypto';
import { KafkaJS } from '@confluentinc/kafka-javascript';
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

/** Offsets `from` (inclusive) to `to` (exclusive) of one partition. */
export interface OffsetRange {
  partition: number;
  from: string;
  to: string;
}

/**
 * The messages of `ranges` of `topic`, oldest first per partition, and nothing else: the reader
 * is assigned only those partitions, positioned at `from`, so a look-up of one offset in a large
 * topic reads one message. The throw-away consumer group commits nothing. Throws when the ranges
 * are not read within `timeoutMs`; offsets missing from a range (compaction) are skipped.
 */
export async function readFromOffsets(
  kafka: Kafka,
  topic: string,
  ranges: OffsetRange[],
  { timeoutMs = 30_000, onProgress = () => {} }: { timeoutMs?: number; onProgress?: (read: number, total: number) => void } = {},
): Promise<StoredMessage[]> {
  const starts = ranges.filter(({ from, to }) => BigInt(from) < BigInt(to));
  const firsts = new Map(starts.map(({ partition, from }) => [partition, BigInt(from)]));
  const ends = new Map(starts.map(({ partition, to }) => [partition, BigInt(to)]));
  const total = Number(starts.reduce((sum, { from, to }) => sum + BigInt(to) - BigInt(from), 0n));
  const messages: StoredMessage[] = [];
  if (ends.size === 0) return messages;

  const consumer = kafka.consumer({
    kafkaJS: { groupId: `tenant-sync-reader-${randomUUID()}`, fromBeginning: true, autoCommit: false },
    // Whatever the group hands out, the reader takes only its ranges, at their first offsets.
    rebalance_cb: (error: { code: number }, _assignment: unknown, assignments: { assign: (assignment: object[]) => void }) => {
      if (error.code !== KafkaJS.ErrorCodes.ERR__ASSIGN_PARTITIONS) return;
      assignments.assign(starts.map(({ partition, from }) => ({ topic, partition, offset: Number(from) })));
    },
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic] });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${messages.length} of ${total} messages of ${topic} within ${timeoutMs} ms`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          const end = ends.get(partition);
          if (end === undefined || BigInt(message.offset) < (firsts.get(partition) ?? 0n)) return;
          if (BigInt(message.offset) < end) {
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
          }
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
