import { setTimeout as sleep } from 'node:timers/promises';
import { deadLetterTopic, eventTopic } from '@tenant-sync/contracts';
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
 * Creates the topics that do not exist yet and resolves once the brokers' metadata has them all.
 * Retries until the broker answers or `timeoutMs` passes, so it doubles as the readiness check
 * of a broker that is still starting.
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
      // A new topic takes a moment to reach the brokers' metadata, and callers use it at once.
      await admin.fetchTopicMetadata({ topics: topics.map(({ topic }) => topic), timeout: 5_000 });
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(500);
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }
}

/** How the events topics and their dead-letter topics are made (the apps' `KAFKA_*` topic settings). */
export interface EventTopicSettings {
  KAFKA_TOPIC_TEMPLATE: string;
  /** Off for a managed Kafka whose operators own the topics: nothing is created then. */
  KAFKA_CREATE_TOPICS: boolean;
  KAFKA_TOPIC_PARTITIONS: number;
  KAFKA_REPLICATION_FACTOR: number;
  KAFKA_MIN_INSYNC_REPLICAS?: number | undefined;
}

/**
 * The one place the apps create their topics: for each entity type, its events topic with the
 * configured partitions, replication and `min.insync.replicas`, and its dead-letter topic (one
 * partition, the same durability). Does nothing when KAFKA_CREATE_TOPICS is off.
 */
export async function ensureEventTopics(kafka: Kafka, settings: EventTopicSettings, entityTypes: readonly string[], timeoutMs = 120_000): Promise<void> {
  if (!settings.KAFKA_CREATE_TOPICS || entityTypes.length === 0) return;
  const config: Record<string, string> = {};
  if (settings.KAFKA_MIN_INSYNC_REPLICAS) config['min.insync.replicas'] = String(settings.KAFKA_MIN_INSYNC_REPLICAS);
  const durability = { replicationFactor: settings.KAFKA_REPLICATION_FACTOR, config };
  await ensureTopics(
    kafka,
    entityTypes.flatMap((entityType) => {
      const topic = eventTopic(settings.KAFKA_TOPIC_TEMPLATE, entityType);
      return [
        { topic, numPartitions: settings.KAFKA_TOPIC_PARTITIONS, ...durability },
        { topic: deadLetterTopic(topic), numPartitions: 1, ...durability },
      ];
    }),
    timeoutMs,
  );
}
