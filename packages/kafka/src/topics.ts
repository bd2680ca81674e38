import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from './create-kafka.ts';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  /** Copies of each partition; -1 takes the broker's `default.replication.factor`. */
  replicationFactor?: number;
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
          topics: missing.map(({ topic, numPartitions, replicationFactor = -1, config = {} }) => ({
            topic,
            numPartitions,
            replicationFactor,
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

/** How the events topic and its dead-letter topic are made (the apps' `KAFKA_*` topic settings). */
export interface EventTopicSettings {
  KAFKA_TOPIC: string;
  KAFKA_DLQ_TOPIC: string;
  /** Off for a managed Kafka whose operators own the topics: nothing is created then. */
  KAFKA_CREATE_TOPICS: boolean;
  KAFKA_TOPIC_PARTITIONS: number;
  KAFKA_REPLICATION_FACTOR: number;
  KAFKA_MIN_INSYNC_REPLICAS?: number | undefined;
}

/**
 * The one place the apps create their topics: the events topic with the configured partitions,
 * replication and `min.insync.replicas`, and its dead-letter topic (one partition, the same
 * durability). Does nothing when KAFKA_CREATE_TOPICS is off.
 */
export async function ensureEventTopics(kafka: Kafka, settings: EventTopicSettings, timeoutMs = 120_000): Promise<void> {
  if (!settings.KAFKA_CREATE_TOPICS) return;
  const config: Record<string, string> = {};
  if (settings.KAFKA_MIN_INSYNC_REPLICAS) config['min.insync.replicas'] = String(settings.KAFKA_MIN_INSYNC_REPLICAS);
  const durability = { replicationFactor: settings.KAFKA_REPLICATION_FACTOR, config };
  await ensureTopics(
    kafka,
    [
      { topic: settings.KAFKA_TOPIC, numPartitions: settings.KAFKA_TOPIC_PARTITIONS, ...durability },
      { topic: settings.KAFKA_DLQ_TOPIC, numPartitions: 1, ...durability },
    ],
    timeoutMs,
  );
}
