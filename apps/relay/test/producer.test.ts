import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { createKafka, ensureTopics, type OutgoingMessage } from '@tenant-sync/kafka';
import { readTopic } from '@tenant-sync/testing';
import { createProducer } from '../src/producer.ts';

const infra = inject('infra');
const logger = pino({ level: 'silent' });

describe('the relay producer', () => {
  const kafkaOptions = { brokers: infra.brokers, clientId: 'producer-test', logger };
  const kafka = createKafka(kafkaOptions);
  const producer = createProducer(kafkaOptions);
  const prefix = `producer-test-${randomUUID()}`;
  const [users, teams, ours, compatible] = ['user', 'team', 'ours', 'compatible'].map((name) => `${prefix}-${name}`) as [string, string, string, string];
  const keys: string[] = Array.from({ length: 40 }, () => randomUUID());

  beforeAll(async () => {
    await ensureTopics(kafka, [users, teams, ours, compatible].map((topic) => ({ topic, numPartitions: 6 })));
    await producer.connect();
  });
  afterAll(async () => {
    await producer.disconnect();
  });

  it('resolves once every message of a batch over two topics is in Kafka, each with its key, value and headers', async () => {
    const messages: OutgoingMessage[] = keys.map((key, n) => ({
      topic: n % 2 === 0 ? users : teams,
      key,
      value: JSON.stringify({ n }),
      headers: { 'x-tenant-id': `tenant-${n}`, 'event-id': `event-${n}` },
    }));
    await producer.send(messages);
    const read = [...(await readTopic(infra.brokers, users, 20)), ...(await readTopic(infra.brokers, teams, 20))];
    expect(read).toHaveLength(40);
    for (const message of read) {
      const n = keys.indexOf(message.key!);
      expect(JSON.parse(message.value!)).toEqual({ n });
      expect(message.headers).toEqual({ 'x-tenant-id': `tenant-${n}`, 'event-id': `event-${n}` });
    }
  });

  it("puts each key on the partition the kafkajs-compatible producer chose (murmur2), so no entity moves partition", async () => {
    await producer.send(keys.map((key) => ({ topic: ours, key, value: 'ours', headers: {} })));
    const compat = kafka.producer({ kafkaJS: { acks: -1 } });
    await compat.connect();
    try {
      await compat.send({ topic: compatible, messages: keys.map((key) => ({ key, value: 'compatible' })) });
    } finally {
      await compat.disconnect();
    }
    const partitionOf = (messages: Array<{ key: string | null; partition: number }>) => new Map(messages.map(({ key, partition }) => [key, partition]));
    const mine = partitionOf(await readTopic(infra.brokers, ours, 40));
    const theirs = partitionOf(await readTopic(infra.brokers, compatible, 40));
    expect(mine.size).toBe(40);
    for (const [key, partition] of mine) expect(theirs.get(key)).toBe(partition);
    // Six partitions, forty keys: another partitioner would agree on all of them by chance once in 6^40.
    expect(new Set(mine.values()).size).toBeGreaterThan(1);
  });

  it('rejects a batch that cannot be delivered, and is used again afterwards', async () => {
    await expect(producer.send([{ topic: 'not a valid topic name!', key: keys[0]!, value: 'x', headers: {} }])).rejects.toThrow();
    await expect(producer.send([{ topic: users, key: keys[0]!, value: JSON.stringify({ n: 0 }), headers: {} }])).resolves.toBeUndefined();
  });

  it('resolves an empty batch at once', async () => {
    await expect(producer.send([])).resolves.toBeUndefined();
  });
});
