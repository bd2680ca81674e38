import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from './create-kafka.ts';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  /** Topic-level settings, e.g. `{ 'message.timestamp.type': 'LogAppendTime' }`. */
  config?: Record<string, string>;
}

/**
 * Creates the topics that do not exist yet. Retries until the broker answers or `timeoutMs`
 * passes, so it doubles as the readiness check of a broker that is still starting.
 */
export async function ensureTopics(kafka: Kafka, topics: TopicSpec[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics({ timeout: 5_000 }));
      const missing = topics.filter(({ topic }) => !existing.has(topic));
      if (missing.length > 0) {
        await admin.createTopics({
          topics: missing.map(({ topic, numPartitions, config = {} }) => ({
            topic,
            numPartitions,
            replicationFactor: -1,
            configEntries: Object.entries(config).map(([name, value]) => ({ name, value })),
          })),
          timeout: 10_000,
        });
      }
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(500);
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }
}
