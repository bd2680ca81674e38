import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import type { UserEvent } from '@tenant-sync/contracts';
import { createDatabase, type ConsumerDatabase } from '@tenant-sync/db';
import { createKafka, ensureTopics, type Producer } from '@tenant-sync/kafka';
import { eventually, readTopic, testTenants, type AppProcess } from '@tenant-sync/testing';
import { createReferenceClient, type ReferenceClient } from '../src/reference-client.ts';
import { createSyncConsumer } from '../src/sync-consumer.ts';
import { consumerTls, startSource, userEvent } from './harness.ts';

const infra = inject('infra');
const { a, b } = testTenants;
const logger = pino({ level: 'silent' });

describe('sync consumer against the real source and Kafka', () => {
  const topic = `sync-test-${randomUUID()}`;
  const dlqTopic = `${topic}.dlq`;
  const kafka = createKafka({ brokers: infra.brokers, clientId: 'sync-test', logger });
  const sourceAdmin = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  const consumerAdmin = postgres(infra.consumerAdminUrl, { max: 1, onnotice: () => {} });
  const db = createDatabase<ConsumerDatabase>({ url: infra.consumerAppUrl, poolSize: 2, applicationName: 'sync-test' });
  let source: AppProcess;
  let producer: Producer;
  let sync: ReturnType<typeof createSyncConsumer>;
  let reference: ReturnType<typeof createReferenceClient>;

  beforeAll(async () => {
    await ensureTopics(kafka, [
      { topic, numPartitions: 3 },
      { topic: dlqTopic, numPartitions: 1 },
    ]);
    const { source: started, internalUrl } = await startSource(infra);
    source = started;
    const tls = consumerTls();
    reference = createReferenceClient({ baseUrl: internalUrl, consumerId: 'consumer', tls, timeoutMs: 5_000 });
    producer = kafka.producer({ kafkaJS: { idempotent: true, acks: -1 } });
    await producer.connect();
    sync = createSyncConsumer({
      consumer: kafka.consumer({ kafkaJS: { groupId: `sync-test-${randomUUID()}`, fromBeginning: true } }),
      producer: kafka.producer({ kafkaJS: { acks: -1 } }),
      db,
      reference,
      logger,
      topic,
      dlqTopic,
    });
    await sync.start();
  });

  afterAll(async () => {
    await sync.stop();
    await producer.disconnect();
    await reference.close();
    await source.stop();
    await db.destroy();
    await sourceAdmin.end();
    await consumerAdmin.end();
  });

  const send = (messages: Array<{ key: string; value: string; tenant?: string }>) =>
    producer.send({
      topic,
      messages: messages.map(({ key, value, tenant }) => ({ key, value, headers: tenant ? { 'x-tenant-id': tenant } : {} })),
    });
  const userRow = async (id: string) =>
    (await consumerAdmin`SELECT org_id, name, version::int AS version, deleted_at FROM synced_users WHERE id = ${id}`)[0];

  it('dead-letters poison messages with their reason and keeps consuming', async () => {
    const [user] = await sourceAdmin`INSERT INTO users (org_id, name, email) VALUES (${a.id}, 'Good', 'good@a.test') RETURNING id`;
    const id = user?.id as string;
    const unknownOrg = randomUUID();
    await send([
      { key: 'x1', value: '{not json' },
      { key: 'x2', value: JSON.stringify({ ...userEvent(a.id, id, 'CREATED', 1), tenant_context: {} }), tenant: a.id },
      { key: 'x3', value: JSON.stringify(userEvent(unknownOrg, randomUUID(), 'CREATED', 1)), tenant: unknownOrg },
      { key: 'x4', value: JSON.stringify(userEvent(a.id, id, 'CREATED', 1)), tenant: b.id },
      { key: 'x5', value: JSON.stringify({ ...userEvent(a.id, id, 'CREATED', 1), entity: { type: 'ORDER', id } }), tenant: a.id },
      { key: id, value: JSON.stringify(userEvent(a.id, id, 'CREATED', 1)), tenant: a.id },
    ]);

    await eventually(async () => expect(await userRow(id)).toMatchObject({ org_id: a.id, name: 'Good', version: 1 }), 20_000);
    const dead = await readTopic(infra.brokers, dlqTopic, 5, 20_000);
    const reasons = Object.fromEntries(dead.map((message) => [message.key, message.headers['dlq-reason']]));
    expect(reasons).toEqual({
      x1: 'value is not JSON',
      x2: 'tenant_context.org_id is missing',
      x3: 'organisation unknown or not active at the source',
      x4: 'tenant header does not match tenant_context.org_id',
      x5: expect.stringContaining('invalid event'),
    });
    for (const message of dead) {
      expect(message.headers).toMatchObject({ 'dlq-original-topic': topic, 'dlq-original-offset': expect.any(String) });
    }
  });

  it('dead-letters an entity the source does not have after 3 fetches, unless a newer tombstone says it is deleted', async () => {
    const ghost = randomUUID();
    const deleted = randomUUID();
    await consumerAdmin`INSERT INTO synced_users (org_id, id, version, deleted_at) VALUES (${a.id}, ${deleted}, 5, now())`;
    const [marker] = await sourceAdmin`INSERT INTO users (org_id, name, email) VALUES (${a.id}, 'M404', 'm404@a.test') RETURNING id`;
    await send([
      { key: ghost, value: JSON.stringify(userEvent(a.id, ghost, 'CREATED', 1)), tenant: a.id },
      { key: deleted, value: JSON.stringify(userEvent(a.id, deleted, 'UPDATED', 4)), tenant: a.id },
      { key: marker?.id, value: JSON.stringify(userEvent(a.id, marker?.id, 'CREATED', 1)), tenant: a.id },
    ]);
    await eventually(async () => expect(await userRow(marker?.id)).toBeDefined(), 20_000);
    const dead = await readTopic(infra.brokers, dlqTopic, 6, 20_000);
    expect(dead.filter((message) => message.key === ghost).map((message) => message.headers['dlq-reason'])).toEqual([
      'entity not found at the source after 3 attempts',
    ]);
    expect(dead.some((message) => message.key === deleted)).toBe(false);
    expect(await userRow(deleted)).toMatchObject({ version: 5, name: null });
  });

  it('converges to the latest version whatever the order and duplicates, and a delete wins', async () => {
    const [user] = await sourceAdmin`INSERT INTO users (org_id, name, email) VALUES (${a.id}, 'V1', 'order@a.test') RETURNING id`;
    const id = user?.id as string;
    await sourceAdmin`UPDATE users SET name = 'V2' WHERE id = ${id}`;
    await sourceAdmin`UPDATE users SET name = 'V3' WHERE id = ${id}`;
    const message = (action: UserEvent['action'], version: number) => ({ key: id, value: JSON.stringify(userEvent(a.id, id, action, version)), tenant: a.id });
    await send([message('UPDATED', 3), message('CREATED', 1), message('UPDATED', 2), message('UPDATED', 3)]);
    await eventually(async () => expect(await userRow(id)).toMatchObject({ name: 'V3', version: 3, deleted_at: null }), 20_000);

    await sourceAdmin`DELETE FROM users WHERE id = ${id}`;
    await send([message('DELETED', 4)]);
    await eventually(async () => expect((await userRow(id))?.deleted_at).not.toBeNull(), 20_000);
    // A late, older update must not bring the user back.
    await send([message('UPDATED', 2)]);
    const marker = randomUUID();
    const [markerUser] = await sourceAdmin`INSERT INTO users (org_id, name, email) VALUES (${a.id}, 'Marker', ${`${marker}@a.test`}) RETURNING id`;
    // Same key, same partition: once the marker is applied, the late update was consumed too.
    await send([{ key: id, value: JSON.stringify(userEvent(a.id, markerUser?.id, 'CREATED', 1)), tenant: a.id }]);
    await eventually(async () => expect(await userRow(markerUser?.id)).toBeDefined(), 20_000);
    expect(await userRow(id)).toMatchObject({ name: null, version: 4 });
  });
});

describe('sync consumer when the source refuses its credentials', () => {
  const topic = `sync-auth-${randomUUID()}`;
  const dlqTopic = `${topic}.dlq`;
  const kafka = createKafka({ brokers: infra.brokers, clientId: 'sync-auth-test', logger });
  const sourceAdmin = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  const consumerAdmin = postgres(infra.consumerAdminUrl, { max: 1, onnotice: () => {} });
  const db = createDatabase<ConsumerDatabase>({ url: infra.consumerAppUrl, poolSize: 2, applicationName: 'sync-auth-test' });
  const lines: Array<Record<string, unknown>> = [];
  const captured = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(chunk.toString())), done()) }));
  let source: AppProcess;
  let producer: Producer;
  let sync: ReturnType<typeof createSyncConsumer>;
  let good: ReferenceClient;
  let bad: ReferenceClient;
  let current: ReferenceClient;

  beforeAll(async () => {
    await ensureTopics(kafka, [
      { topic, numPartitions: 1 },
      { topic: dlqTopic, numPartitions: 1 },
    ]);
    const { source: started, internalUrl } = await startSource(infra);
    source = started;
    const tls = consumerTls();
    const baseUrl = internalUrl;
    good = createReferenceClient({ baseUrl, consumerId: 'consumer', tls, timeoutMs: 5_000 });
    // X-Consumer-ID that does not match the certificate: the source answers 401.
    bad = createReferenceClient({ baseUrl, consumerId: 'someone-else', tls, timeoutMs: 5_000 });
    current = bad;
    producer = kafka.producer({ kafkaJS: { acks: -1 } });
    await producer.connect();
    sync = createSyncConsumer({
      consumer: kafka.consumer({ kafkaJS: { groupId: `sync-auth-${randomUUID()}`, fromBeginning: true } }),
      producer: kafka.producer({ kafkaJS: { acks: -1 } }),
      db,
      reference: { fetchUsers: (...args) => current.fetchUsers(...args), orgActive: (orgId) => current.orgActive(orgId) },
      logger: captured,
      topic,
      dlqTopic,
      authPauseMs: 3_000,
    });
    await sync.start();
  });

  afterAll(async () => {
    await sync.stop();
    await producer.disconnect();
    await good.close();
    await bad.close();
    await source.stop();
    await db.destroy();
    await sourceAdmin.end();
    await consumerAdmin.end();
  });

  it('alerts at once, pauses instead of dead-lettering, and recovers once the credentials are right', async () => {
    const [user] = await sourceAdmin`INSERT INTO users (org_id, name, email) VALUES (${a.id}, 'Auth', 'auth@a.test') RETURNING id`;
    const id = user?.id as string;
    const value = JSON.stringify({
      event_id: randomUUID(),
      entity: { type: 'USER', id },
      action: 'CREATED',
      version: 1,
      timestamp: new Date().toISOString(),
      source_system: 'test',
      tenant_context: { org_id: a.id },
    });
    await producer.send({ topic, messages: [{ key: id, value, headers: { 'x-tenant-id': a.id } }] });

    await eventually(async () => expect(lines).toContainEqual(expect.objectContaining({ level: 50, alert: true, status: 401 })), 20_000);
    expect(await readTopic(infra.brokers, dlqTopic, 1, 3_000).catch(() => [])).toEqual([]);
    expect((await consumerAdmin`SELECT 1 FROM synced_users WHERE id = ${id}`).length).toBe(0);

    current = good;
    await eventually(async () => expect((await consumerAdmin`SELECT name FROM synced_users WHERE id = ${id}`)[0]).toMatchObject({ name: 'Auth' }), 30_000);
    expect(lines.filter((line) => line.alert === true).length).toBeGreaterThanOrEqual(1);
  });
});
