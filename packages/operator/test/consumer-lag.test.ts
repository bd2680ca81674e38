import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, describe, expect, it, inject } from 'vitest';
import { createKafka, ensureTopics } from '@tenant-sync/kafka';
import type {} from '@tenant-sync/testing';
import { consumerLag, existingTopics } from '../src/index.ts';

const infra = inject('infra');

describe('consumerLag', () => {
  const kafka = createKafka({ brokers: infra.brokers, clientId: 'operator-lag-test', logger: pino({ level: 'error' }) });
  const topic = `lag-${randomUUID()}`;
  const group = `lag-group-${randomUUID()}`;

  afterAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).finally(() => admin.disconnect());
  });

  it("is the high watermark minus the group's committed offset, per partition; from the start where it committed none", async () => {
    await ensureTopics(kafka, [{ topic, numPartitions: 2 }]);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: Array.from({ length: 5 }, (_, index) => ({ value: `m${index}`, partition: 0 })) });
    await producer.send({ topic, messages: [{ value: 'other', partition: 1 }] });
    await producer.disconnect();

    // The group read partition 0 up to offset 2 (the next it will read) and nothing of partition 1.
    const consumer = kafka.consumer({ kafkaJS: { groupId: group, fromBeginning: true, autoCommit: false } });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    const assigned = new Promise<void>((resolve) => {
      void consumer.run({ eachMessage: async () => resolve() });
    });
    await assigned;
    await consumer.commitOffsets([{ topic, partition: 0, offset: '2' }]);
    await consumer.disconnect();

    expect(await consumerLag(kafka, group, [topic, `${topic}-not-created`])).toEqual([
      { topic, partition: 0, committed: '2', high: '5', lag: 3 },
      { topic, partition: 1, committed: null, high: '1', lag: 1 },
    ]);
    expect(await existingTopics(kafka, [topic, `${topic}-not-created`])).toEqual([topic]);
  });
});
