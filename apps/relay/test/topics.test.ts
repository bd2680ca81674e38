import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, describe, expect, it, inject } from 'vitest';
import { createKafka, ensureEventTopics } from '@tenant-sync/kafka';

const infra = inject('infra');

/** The one place the relay and the consumer create their topics, on the real broker. */
describe('ensureEventTopics', () => {
  const kafka = createKafka({ brokers: infra.brokers, clientId: 'topics-test', logger: pino({ level: 'silent' }) });
  const admin = kafka.admin();
  const made: string[] = [];
  afterAll(async () => {
    if (made.length > 0) await admin.deleteTopics({ topics: made }).catch(() => {});
    await admin.disconnect();
  });

  const settings = (topic: string, create: boolean) => ({
    KAFKA_TOPIC_TEMPLATE: `${topic}-{type}`,
    KAFKA_CREATE_TOPICS: create,
    KAFKA_TOPIC_PARTITIONS: 4,
    KAFKA_REPLICATION_FACTOR: 1,
    KAFKA_MIN_INSYNC_REPLICAS: 1,
  });
  const partitions = async (topics: string[]) => {
    const metadata = await admin.fetchTopicMetadata({ topics });
    return Object.fromEntries(metadata.map((topic) => [topic.name, topic.partitions.length]));
  };

  it('creates each type\'s events topic with the configured partitions and its one-partition dead-letter topic', async () => {
    await admin.connect();
    const prefix = `topics-${randomUUID()}`;
    const [users, teams] = [`${prefix}-user`, `${prefix}-team`];
    made.push(users, `${users}.dlq`, teams, `${teams}.dlq`);
    await ensureEventTopics(kafka, settings(prefix, true), ['USER', 'TEAM']);
    expect(await partitions([users, `${users}.dlq`, teams, `${teams}.dlq`])).toEqual({ [users]: 4, [`${users}.dlq`]: 1, [teams]: 4, [`${teams}.dlq`]: 1 });
    // Again: nothing changes, nothing fails.
    await ensureEventTopics(kafka, settings(prefix, true), ['USER']);
    expect(await partitions([users])).toEqual({ [users]: 4 });
  });

  it('creates nothing when topics are owned by the operators of a managed Kafka', async () => {
    const topic = `topics-${randomUUID()}`;
    await ensureEventTopics(kafka, settings(topic, false), ['USER']);
    expect((await admin.listTopics()).filter((name) => name.startsWith(topic))).toEqual([]);
  });
});
