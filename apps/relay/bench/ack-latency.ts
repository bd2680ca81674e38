import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { EventHeaders } from '@tenant-sync/contracts';
import { createKafka } from '@tenant-sync/kafka';

/**
 * Reads a topic created with `message.timestamp.type=LogAppendTime`, so each message's
 * timestamp is when the broker appended (and acknowledged) it, and records it by event id.
 */
export async function recordAppendTimes(brokers: string, topic: string) {
  const kafka = createKafka({ brokers, clientId: 'relay-bench-reader', logger: pino({ level: 'error' }) });
  const consumer = kafka.consumer({
    'fetch.wait.max.ms': 10,
    kafkaJS: { groupId: `relay-bench-${randomUUID()}`, fromBeginning: false, autoCommit: false },
  });
  const appendedAt = new Map<string, number>();
  let assigned: () => void;
  const ready = new Promise<void>((resolve) => (assigned = resolve));
  await consumer.connect();
  await consumer.subscribe({ topics: [topic] });
  void consumer.run({
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) {
        const eventId = message.headers?.[EventHeaders.eventId]?.toString();
        if (eventId) appendedAt.set(eventId, Number(message.timestamp));
      }
    },
  });
  // Wait for the partition assignment, so the load that follows is not read from a late offset.
  const poll = setInterval(() => {
    if (consumer.assignment().length > 0) assigned();
  }, 50);
  await ready.finally(() => clearInterval(poll));
  return {
    appendedAt,
    stop: () => consumer.disconnect(),
  };
}

/** The `p`-th percentile (0-100) of `values`, nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}
