import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import type { EntityEvent } from '@tenant-sync/contracts';
import { createDatabase, type ConsumerDatabase } from '@tenant-sync/db';
import { createKafka, ensureTopics, type Kafka, type Producer } from '@tenant-sync/kafka';
import { consumerLag } from '@tenant-sync/operator';
import { eventually, readTopic, testTenants, type AppProcess } from '@tenant-sync/testing';
import { coalesceFetches } from '../src/coalesced-fetch.ts';
import { coalesceWrites } from '../src/coalesced-write.ts';
import { createReferenceConsumer } from '../src/consume-references.ts';
import { createDeadLetterQueue, type DeadLetter } from '../src/dead-letter.ts';
import { createReferenceClient, type ReferenceClient } from '../src/reference-client.ts';
import { syncedTypes, type SyncedType } from '../src/synced-types.ts';
import { consumerTls, startSource, userEvent } from './harness.ts';

const infra = inject('infra');
const { a, b } = testTenants;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const [users, teams] = syncedTypes as [SyncedType, SyncedType];

/**
 * The consumer's loop wired as the app wires it, on topics of its own (`<prefix>-user` and
 * `<prefix>-team`), recording its dead letters.
 */
async function startConsumer(kafka: Kafka, db: ReturnType<typeof createDatabase<ConsumerDatabase>>, reference: Pick<ReferenceClient, 'fetchEntities'>, prefix: string, logger: Logger) {
  const producer = kafka.producer({ kafkaJS: { acks: -1 } });
  await producer.connect();
  const dlq = createDeadLetterQueue({ producer, logger });
  const letters: DeadLetter[] = [];
  const groupId = `convergence-${randomUUID()}`;
  const sync = createReferenceConsumer({
    kafka,
    consumerConfig: { kafkaJS: { groupId, fromBeginning: true } },
    topics: [
      { topic: `${prefix}-user`, synced: users },
      { topic: `${prefix}-team`, synced: teams },
    ],
    deadLetter: async (from, batch) => {
      await dlq(from, batch);
      letters.push(...batch);
    },
    apply: {
      fetchEntities: coalesceFetches((synced, orgId, ids, trace) => reference.fetchEntities(synced.path, orgId, ids, trace)),
      writeStates: coalesceWrites(db),
    },
    logger,
    authPauseMs: 3_000,
  });
  await sync.start();
  return {
    letters,
    /** Dead letters by the key of their message. */
    lettersOf: (key: string) => letters.filter((letter) => letter.message.key?.toString() === key).map(({ code, reason }) => ({ code, reason })),
    /** Messages of its topics not yet finished (applied or dead-lettered): the group's committed lag. */
    behind: async () => (await consumerLag(kafka, groupId, [`${prefix}-user`, `${prefix}-team`])).reduce((sum, { lag }) => sum + lag, 0),
    async stop() {
      await sync.stop();
      await producer.disconnect();
    },
  };
}

describe('the consumer converges to the source whatever the bus carries', () => {
  const prefix = `convergence-${randomUUID()}`;
  const [topic, teamTopic] = [`${prefix}-user`, `${prefix}-team`];
  const dlqTopic = `${topic}.dlq`;
  const logger = pino({ level: 'silent' });
  const kafka = createKafka({ brokers: infra.brokers, clientId: 'convergence-test', logger });
  const sourceAdmin = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  const consumerAdmin = postgres(infra.consumerAdminUrl, { max: 1, onnotice: () => {} });
  const db = createDatabase<ConsumerDatabase>({ url: infra.consumerAppUrl, poolSize: 2, applicationName: 'convergence-test' });
  let source: AppProcess;
  let producer: Producer;
  let consumer: Awaited<ReturnType<typeof startConsumer>>;
  let reference: ReturnType<typeof createReferenceClient>;

  beforeAll(async () => {
    // One partition: every message below queues behind the ones before it, so a message that
    // stalled the partition would stall the test's later tenants too.
    await ensureTopics(kafka, [
      { topic, numPartitions: 1 },
      { topic: dlqTopic, numPartitions: 1 },
      { topic: teamTopic, numPartitions: 1 },
      { topic: `${teamTopic}.dlq`, numPartitions: 1 },
    ]);
    const { source: started, internalUrl } = await startSource(infra);
    source = started;
    reference = createReferenceClient({ baseUrl: internalUrl, consumerId: 'consumer', tls: consumerTls(), timeoutMs: 5_000 });
    producer = kafka.producer({ kafkaJS: { idempotent: true, acks: -1 } });
    await producer.connect();
    consumer = await startConsumer(kafka, db, reference, prefix, logger);
  });

  afterAll(async () => {
    await consumer.stop();
    await producer.disconnect();
    await reference.close();
    await source.stop();
    await db.destroy();
    // Some users here are never copied on purpose (a refused state, an overflow): later files compare all users.
    await sourceAdmin`DELETE FROM users`;
    await sourceAdmin`DELETE FROM teams`;
    await sourceAdmin`DELETE FROM outbox`;
    await consumerAdmin`DELETE FROM synced_users`;
    await consumerAdmin`DELETE FROM synced_teams`;
    await sourceAdmin.end();
    await consumerAdmin.end();
  });

  const send = (messages: Array<{ key: string; value: string; tenant?: string }>, to = topic) =>
    producer.send({
      topic: to,
      messages: messages.map(({ key, value, tenant }) => ({ key, value, headers: tenant ? { 'x-tenant-id': tenant } : {} })),
    });
  const ref = (orgId: string, id: string, action: EntityEvent['action'], version: number) => ({
    key: id,
    value: JSON.stringify(userEvent(orgId, id, action, version)),
    tenant: orgId,
  });
  const newUser = async (orgId: string, name: string) =>
    (await sourceAdmin`INSERT INTO users (org_id, name, email) VALUES (${orgId}, ${name}, ${`${randomUUID()}@x.test`}) RETURNING id`)[0]!.id as string;
  const copy = async (id: string) =>
    (await consumerAdmin`SELECT org_id, name, version::int AS version, deleted_at IS NOT NULL AS deleted FROM synced_users WHERE id = ${id}`).map((row) => ({ ...row }));
  /**
   * Sends an honest reference for a new user of each tenant, waits until they are in the copy,
   * then until the group's committed offsets reach the end of the topics: every message sent
   * before is then finished, applied or dead-lettered. (A tenant's rounds may finish in any
   * order, so the markers alone would not say so.)
   */
  const drained = async (...orgIds: string[]) => {
    const markers = await Promise.all((orgIds.length > 0 ? orgIds : [a.id, b.id]).map(async (orgId) => ({ orgId, id: await newUser(orgId, 'Marker') })));
    await send(markers.map(({ orgId, id }) => ref(orgId, id, 'CREATED', 1)));
    for (const { id } of markers) await eventually(async () => expect(await copy(id)).toHaveLength(1), 20_000);
    await eventually(async () => expect(await consumer.behind()).toBe(0), 20_000);
  };

  it('dead-letters messages that are not valid references, with their code and reason, and keeps consuming', async () => {
    const id = await newUser(a.id, 'Good');
    const unknownOrg = randomUUID();
    await send([
      { key: 'x1', value: '{not json' },
      { key: 'x2', value: JSON.stringify({ ...userEvent(a.id, id, 'CREATED', 1), tenant_context: {} }), tenant: a.id },
      { key: 'x3', value: JSON.stringify(userEvent(unknownOrg, randomUUID(), 'CREATED', 1)), tenant: unknownOrg },
      { key: 'x4', value: JSON.stringify(userEvent(a.id, id, 'CREATED', 1)), tenant: b.id },
      { key: 'x5', value: JSON.stringify({ ...userEvent(a.id, id, 'CREATED', 1), entity: { type: 'ORDER', id } }), tenant: a.id },
      ref(a.id, id, 'CREATED', 1),
    ]);
    await eventually(async () => expect(await copy(id)).toEqual([{ org_id: a.id, name: 'Good', version: 1, deleted: false }]), 20_000);
    const dead = await readTopic(infra.brokers, dlqTopic, 5, 20_000);
    const codes = Object.fromEntries(dead.map((message) => [message.key, [message.headers['dlq-code'], message.headers['dlq-reason']]]));
    expect(codes).toEqual({
      x1: ['not_json', 'value is not JSON'],
      x2: ['org_missing', 'tenant_context.org_id is missing'],
      x3: ['org_inactive', 'organisation unknown or not active at the source'],
      x4: ['tenant_mismatch', 'tenant header does not match tenant_context.org_id'],
      x5: ['type_mismatch', 'an event of type ORDER on the topic of USER'],
    });
    for (const message of dead) {
      expect(message.headers).toMatchObject({ 'dlq-original-topic': topic, 'dlq-original-offset': expect.any(String) });
    }
  });

  it('forged references with huge versions change nothing: A keeps its copy, B gains nothing, later real changes arrive', async () => {
    const id = await newUser(a.id, 'Real');
    await send([ref(a.id, id, 'CREATED', 1)]);
    await eventually(async () => expect(await copy(id)).toEqual([{ org_id: a.id, name: 'Real', version: 1, deleted: false }]), 20_000);

    await send([
      ref(a.id, id, 'DELETED', MAX_SAFE),
      ref(a.id, id, 'UPDATED', MAX_SAFE - 1),
      // B names A's entity: under B's tenant the source does not have it.
      ref(b.id, id, 'DELETED', MAX_SAFE),
      ref(b.id, id, 'UPDATED', MAX_SAFE),
    ]);
    await drained();
    expect(await copy(id)).toEqual([{ org_id: a.id, name: 'Real', version: 1, deleted: false }]);
    // What the forged references under A asked for, A already owns: nothing to dead-letter.
    // Under B the source does not know the id: that is a real failure.
    expect(consumer.lettersOf(id)).toEqual([
      { code: 'not_found', reason: 'entity not found at the source after 3 attempts' },
      { code: 'not_found', reason: 'entity not found at the source after 3 attempts' },
    ]);

    await sourceAdmin`UPDATE users SET name = 'Real 2' WHERE id = ${id}`;
    await send([ref(a.id, id, 'UPDATED', 2)]);
    await eventually(async () => expect(await copy(id)).toEqual([{ org_id: a.id, name: 'Real 2', version: 2, deleted: false }]), 20_000);
  });

  it("copies the source's creation and update times, to the millisecond the Reference API serves", async () => {
    const id = (
      await sourceAdmin`
        INSERT INTO users (org_id, name, email, created_at, updated_at)
        VALUES (${a.id}, 'Timed', ${`${randomUUID()}@x.test`}, '2001-02-03T04:05:06.789+00', '2026-11-27T23:59:59.999+05:30') RETURNING id`
    )[0]!.id as string;
    await send([ref(a.id, id, 'CREATED', 1)]);
    await eventually(async () => expect(await copy(id)).toHaveLength(1), 20_000);
    const [row] = await consumerAdmin`SELECT source_created_at, source_updated_at FROM synced_users WHERE id = ${id}`;
    expect(row!.source_created_at.toISOString()).toBe('2001-02-03T04:05:06.789Z');
    expect(row!.source_updated_at.toISOString()).toBe('2026-11-27T18:29:59.999Z');
  });

  it('a reference whose version overflows a bigint is dead-lettered at once, and the partition flows on', async () => {
    const id = await newUser(a.id, 'Overflow');
    const started = Date.now();
    await send([{ key: 'overflow', value: JSON.stringify({ ...userEvent(a.id, id, 'DELETED', 1), version: 1e300 }), tenant: a.id }]);
    await drained();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(consumer.lettersOf('overflow')).toEqual([{ code: 'invalid_event', reason: expect.stringContaining('/version') }]);
    expect(await copy(id)).toEqual([]);
  });

  it('a state the database refuses is dead-lettered within its budget; the other tenants on the partition go on', async () => {
    await consumerAdmin`ALTER TABLE synced_users ADD CONSTRAINT test_no_poison CHECK (name IS DISTINCT FROM 'Poison')`;
    try {
      const poison = await newUser(a.id, 'Poison');
      const fine = await newUser(a.id, 'Fine');
      await send([ref(a.id, poison, 'CREATED', 1), ref(a.id, fine, 'CREATED', 1)]);
      await drained();
      expect(consumer.lettersOf(poison)).toEqual([{ code: 'write_rejected', reason: expect.stringContaining('refused the entity 3 times') }]);
      expect(await copy(poison)).toEqual([]);
      expect(await copy(fine)).toHaveLength(1);
    } finally {
      await consumerAdmin`ALTER TABLE synced_users DROP CONSTRAINT test_no_poison`;
    }
  });

  it('a user created and deleted before the consumer handled the create becomes a tombstone, with no dead letter', async () => {
    const id = await newUser(a.id, 'Brief');
    await sourceAdmin`DELETE FROM users WHERE id = ${id}`;
    await send([ref(a.id, id, 'CREATED', 1), ref(a.id, id, 'DELETED', 2)]);
    await drained();
    expect(await copy(id)).toEqual([{ org_id: a.id, name: null, version: 2, deleted: true }]);
    expect(consumer.lettersOf(id)).toEqual([]);
  });

  it('converges to the latest version whatever the order and duplicates, and a late reference cannot bring a deleted user back', async () => {
    const id = await newUser(a.id, 'V1');
    await sourceAdmin`UPDATE users SET name = 'V2' WHERE id = ${id}`;
    await sourceAdmin`UPDATE users SET name = 'V3' WHERE id = ${id}`;
    await send([ref(a.id, id, 'UPDATED', 3), ref(a.id, id, 'CREATED', 1), ref(a.id, id, 'UPDATED', 2), ref(a.id, id, 'UPDATED', 3)]);
    await eventually(async () => expect(await copy(id)).toEqual([{ org_id: a.id, name: 'V3', version: 3, deleted: false }]), 20_000);

    await sourceAdmin`DELETE FROM users WHERE id = ${id}`;
    await send([ref(a.id, id, 'DELETED', 4)]);
    await eventually(async () => expect(await copy(id)).toEqual([{ org_id: a.id, name: null, version: 4, deleted: true }]), 20_000);
    await send([ref(a.id, id, 'UPDATED', 2), ref(a.id, id, 'CREATED', 1)]);
    await drained();
    expect(await copy(id)).toEqual([{ org_id: a.id, name: null, version: 4, deleted: true }]);
  });

  it('teams converge the same way from their own topic: created, renamed, deleted; a forged delete of a live team changes nothing', async () => {
    const teamRef = (orgId: string, id: string, action: EntityEvent['action'], version: number) => ({
      key: id,
      value: JSON.stringify({ ...userEvent(orgId, id, action, version), entity: { type: 'TEAM', id } }),
      tenant: orgId,
    });
    const teamCopy = async (id: string) =>
      (await consumerAdmin`SELECT org_id, name, description, version::int AS version, deleted_at IS NOT NULL AS deleted FROM synced_teams WHERE id = ${id}`).map((row) => ({ ...row }));
    const [team] = await sourceAdmin`INSERT INTO teams (org_id, name, description) VALUES (${b.id}, 'Platform', 'Runs the platform') RETURNING id`;
    const id = team?.id as string;
    await send([teamRef(b.id, id, 'CREATED', 1)], teamTopic);
    await eventually(async () => expect(await teamCopy(id)).toEqual([{ org_id: b.id, name: 'Platform', description: 'Runs the platform', version: 1, deleted: false }]), 20_000);

    // Forged: a delete at the highest version, and A naming B's team. Neither is the source's state.
    await send([teamRef(b.id, id, 'DELETED', MAX_SAFE), teamRef(a.id, id, 'UPDATED', MAX_SAFE)], teamTopic);
    await sourceAdmin`UPDATE teams SET name = 'Platform 2' WHERE id = ${id}`;
    await send([teamRef(b.id, id, 'UPDATED', 2)], teamTopic);
    await eventually(async () => expect(await teamCopy(id)).toEqual([{ org_id: b.id, name: 'Platform 2', description: 'Runs the platform', version: 2, deleted: false }]), 20_000);
    expect(await consumerAdmin`SELECT 1 FROM synced_users WHERE id = ${id}`).toHaveLength(0);

    await sourceAdmin`DELETE FROM teams WHERE id = ${id}`;
    await send([teamRef(b.id, id, 'DELETED', 3)], teamTopic);
    await eventually(async () => expect(await teamCopy(id)).toEqual([{ org_id: b.id, name: null, description: null, version: 3, deleted: true }]), 20_000);
  });
});

describe('the consumer when the source refuses its credentials', () => {
  const topic = `convergence-auth-${randomUUID()}`;
  const logger = pino({ level: 'silent' });
  const kafka = createKafka({ brokers: infra.brokers, clientId: 'convergence-auth-test', logger });
  const sourceAdmin = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  const consumerAdmin = postgres(infra.consumerAdminUrl, { max: 1, onnotice: () => {} });
  const db = createDatabase<ConsumerDatabase>({ url: infra.consumerAppUrl, poolSize: 2, applicationName: 'convergence-auth-test' });
  const lines: Array<Record<string, unknown>> = [];
  const captured = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(chunk.toString())), done()) }));
  let source: AppProcess;
  let producer: Producer;
  let consumer: Awaited<ReturnType<typeof startConsumer>>;
  let good: ReferenceClient;
  let bad: ReferenceClient;
  let current: ReferenceClient;

  beforeAll(async () => {
    await ensureTopics(kafka, [
      { topic: `${topic}-user`, numPartitions: 1 },
      { topic: `${topic}-team`, numPartitions: 1 },
    ]);
    const { source: started, internalUrl } = await startSource(infra);
    source = started;
    const tls = consumerTls();
    good = createReferenceClient({ baseUrl: internalUrl, consumerId: 'consumer', tls, timeoutMs: 5_000 });
    // X-Consumer-ID that does not match the certificate: the source answers 401.
    bad = createReferenceClient({ baseUrl: internalUrl, consumerId: 'someone-else', tls, timeoutMs: 5_000 });
    current = bad;
    producer = kafka.producer({ kafkaJS: { acks: -1 } });
    await producer.connect();
    consumer = await startConsumer(
      kafka,
      db,
      { fetchEntities: (...args) => current.fetchEntities(...args) },
      topic,
      captured,
    );
  });

  afterAll(async () => {
    await consumer.stop();
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
    await producer.send({ topic: `${topic}-user`, messages: [{ key: id, value: JSON.stringify(userEvent(a.id, id, 'CREATED', 1)), headers: { 'x-tenant-id': a.id } }] });

    await eventually(async () => expect(lines).toContainEqual(expect.objectContaining({ level: 50, alert: true, status: 401 })), 20_000);
    expect(consumer.letters).toEqual([]);
    expect((await consumerAdmin`SELECT 1 FROM synced_users WHERE id = ${id}`).length).toBe(0);

    current = good;
    await eventually(async () => expect((await consumerAdmin`SELECT name FROM synced_users WHERE id = ${id}`)[0]).toMatchObject({ name: 'Auth' }), 30_000);
    expect(consumer.letters).toEqual([]);
  });
});
