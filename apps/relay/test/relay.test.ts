import { randomUUID } from 'node:crypto';
import pino from 'pino';
import postgres from 'postgres';
import { Registry } from 'prom-client';
import { afterAll, beforeEach, describe, expect, it, inject } from 'vitest';
import { createKafka } from '@tenant-sync/kafka';
import { eventually, readTopic, testTenants } from '@tenant-sync/testing';
import { createEventTopics } from '../src/event-topics.ts';
import { createRelayMetrics } from '../src/metrics.ts';
import { pendingStats } from '../src/outbox.ts';
import { createProducer } from '../src/producer.ts';
import { createRelayDatabase } from '../src/relay-database.ts';
import { createRelay } from '../src/relay.ts';

const infra = inject('infra');
const { a, b } = testTenants;
const logger = pino({ level: 'silent' });

describe('relay', () => {
  const admin = postgres(infra.sourceAdminUrl, { max: 2, onnotice: () => {} });
  const kafkaOptions = { brokers: infra.brokers, clientId: 'relay-test', logger };
  const kafka = createKafka(kafkaOptions);
  const dbs: Array<ReturnType<typeof createRelayDatabase>> = [];
  const producers: Array<ReturnType<typeof createProducer>> = [];

  /** Each test's own topics: `<prefix>-user`, `<prefix>-team`, made by the relay as it meets each type. */
  const topicsOf = (prefix: string) =>
    createEventTopics(kafka, { KAFKA_TOPIC_TEMPLATE: `${prefix}-{type}`, KAFKA_CREATE_TOPICS: true, KAFKA_TOPIC_PARTITIONS: 3, KAFKA_REPLICATION_FACTOR: -1 });

  async function prepareRelay(topic: string, relayId: string, batchSize = 100) {
    const db = createRelayDatabase(infra.relayAppUrl, relayId);
    const producer = createProducer(kafkaOptions);
    await producer.connect();
    dbs.push(db);
    producers.push(producer);
    const metrics = createRelayMetrics(new Registry(), () => pendingStats(db));
    const topics = topicsOf(topic);
    await topics.prepare(['USER']);
    const relay = createRelay({ db, producer, topics, logger, metrics, relayId, batchSize, pollIntervalMs: 50, leaseMs: 30_000 });
    return { relay, metrics };
  }

  /** The prefix of a test's topics; its users' topic is `<prefix>-user`. */
  const freshTopic = () => `relay-test-${randomUUID()}`;

  beforeEach(async () => {
    await admin`DELETE FROM users`;
    await admin`DELETE FROM teams`;
    await admin`DELETE FROM outbox`;
  });
  afterAll(async () => {
    for (const producer of producers) await producer.disconnect();
    for (const db of dbs) await db.destroy();
    await admin.end();
  });

  it('publishes references only, keyed by entity, with tenant headers, then removes the rows', async () => {
    const topic = freshTopic();
    const [ann] = await admin`INSERT INTO users (org_id, name, email, phone) VALUES (${a.id}, 'Ann', 'ann@a.test', '+1 555 0100') RETURNING id`;
    await admin`INSERT INTO users (org_id, name, email) VALUES (${b.id}, 'Bob', 'bob@b.test')`;
    const { relay } = await prepareRelay(topic, 'relay-1');
    relay.start();
    const messages = await readTopic(infra.brokers, `${topic}-user`, 2);
    await relay.stop();

    expect(messages).toHaveLength(2);
    const annMessage = messages.find((message) => message.key === ann?.id);
    const event = JSON.parse(annMessage?.value ?? '{}');
    expect(Object.keys(event).sort()).toEqual(['action', 'entity', 'event_id', 'source_system', 'tenant_context', 'timestamp', 'version']);
    expect(event).toMatchObject({ entity: { type: 'USER', id: ann?.id }, action: 'CREATED', version: 1, tenant_context: { org_id: a.id } });
    expect(annMessage?.headers).toMatchObject({ 'x-tenant-id': a.id, 'event-type': 'USER_CREATED', 'event-id': event.event_id });
    for (const message of messages) expect(JSON.stringify(message)).not.toMatch(/Ann|Bob|@a\.test|@b\.test|555 0100/);
    await eventually(async () => expect((await admin`SELECT count(*)::int AS n FROM outbox`)[0]?.n).toBe(0));
  });

  it('parks a row without a valid tenant with its reason, and publishes the rest', async () => {
    const topic = freshTopic();
    const entity = randomUUID();
    await admin`INSERT INTO outbox (org_id, aggregate_type, aggregate_id, action, version) VALUES (NULL, 'USER', ${entity}, 'CREATED', 1)`;
    await admin`INSERT INTO users (org_id, name, email) VALUES (${a.id}, 'Ann', 'ann@a.test')`;
    const { relay, metrics } = await prepareRelay(topic, 'relay-1');
    relay.start();
    const messages = await readTopic(infra.brokers, `${topic}-user`, 2, 5_000);
    await relay.stop();

    expect(messages).toHaveLength(1);
    expect(messages[0]?.key).not.toBe(entity);
    const parked = await admin`SELECT aggregate_id, park_reason FROM outbox WHERE parked_at IS NOT NULL`;
    expect(parked).toEqual([{ aggregate_id: entity, park_reason: 'org_id is missing' }]);
    expect((await metrics.parked.get()).values[0]?.value).toBe(1);
  });

  it('publishes every entity type to its own topic, making the topic of a type it meets first', async () => {
    const topic = freshTopic();
    const [team] = await admin`INSERT INTO teams (org_id, name) VALUES (${a.id}, 'Platform') RETURNING id`;
    // A type the relay has never heard of: only the outbox names it.
    const project = randomUUID();
    await admin`INSERT INTO outbox (org_id, aggregate_type, aggregate_id, action, version) VALUES (${b.id}, 'PURCHASE_ORDER', ${project}, 'CREATED', 1)`;
    await admin`INSERT INTO outbox (org_id, aggregate_type, aggregate_id, action, version) VALUES (${b.id}, 'users; DROP', ${randomUUID()}, 'CREATED', 1)`;
    const { relay } = await prepareRelay(topic, 'relay-1');
    relay.start();
    await eventually(async () => expect((await admin`SELECT count(*)::int AS n FROM outbox WHERE parked_at IS NULL`)[0]?.n).toBe(0), 20_000);
    await relay.stop();

    const [teamMessage] = await readTopic(infra.brokers, `${topic}-team`, 1);
    expect(teamMessage?.key).toBe(team?.id);
    expect(JSON.parse(teamMessage?.value ?? '{}')).toMatchObject({ entity: { type: 'TEAM', id: team?.id }, action: 'CREATED', tenant_context: { org_id: a.id } });
    expect(teamMessage?.headers).toMatchObject({ 'x-tenant-id': a.id, 'event-type': 'TEAM_CREATED' });
    const [orderMessage] = await readTopic(infra.brokers, `${topic}-purchase-order`, 1);
    expect(orderMessage?.key).toBe(project);
    // A type no topic could be named after is parked, never published anywhere.
    expect(await admin`SELECT aggregate_type, park_reason FROM outbox WHERE parked_at IS NOT NULL`).toEqual([
      { aggregate_type: 'users; DROP', park_reason: 'aggregate_type is not a valid entity type' },
    ]);
  });

  it('keeps each entity in order with two relays draining one backlog', async () => {
    const topic = freshTopic();
    const ids = (await admin`INSERT INTO users (org_id, name, email) SELECT ${a.id}, 'U' || n, 'u' || n || '@a.test' FROM generate_series(1, 40) n RETURNING id`).map((row) => row.id as string);
    for (let round = 0; round < 5; round += 1) await admin`UPDATE users SET name = name || '.'`;
    const expected = ids.length * 6;
    const first = await prepareRelay(topic, 'relay-1', 25);
    const second = await prepareRelay(topic, 'relay-2', 25);
    first.relay.start();
    second.relay.start();
    const messages = await readTopic(infra.brokers, `${topic}-user`, expected, 30_000);
    await Promise.all([first.relay.stop(), second.relay.stop()]);

    expect(messages).toHaveLength(expected);
    const versions = new Map<string, number[]>();
    // Kafka keeps order within a partition; the key pins each entity to one partition.
    for (const message of [...messages].sort((x, y) => x.partition - y.partition || Number(x.offset) - Number(y.offset))) {
      const event = JSON.parse(message.value ?? '{}');
      versions.set(event.entity.id, [...(versions.get(event.entity.id) ?? []), event.version]);
    }
    for (const id of ids) expect(versions.get(id)).toEqual([1, 2, 3, 4, 5, 6]);
    const published = (await first.metrics.published.get()).values[0]?.value ?? 0;
    expect(published).toBeGreaterThan(0);
    expect(published).toBeLessThan(expected);
  });
});
