import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it, inject } from 'vitest';
import { eventTopic } from '@tenant-sync/contracts';
import { createKafka, ensureTopics, type Admin, type Producer } from '@tenant-sync/kafka';
import { freePort } from '@tenant-sync/local-infra';
import { eventually, readTopic, startApp, testTenants, type AppProcess } from '@tenant-sync/testing';

const infra = inject('infra');
const { a, b } = testTenants;

/**
 * The real consumer process against the real source process and Kafka: the source goes away,
 * the consumer is killed mid-batch, two consumers share the partitions. Every change arrives.
 */
describe('consumer process', () => {
  const sourceAdmin = postgres(infra.sourceAdminUrl, { max: 2, onnotice: () => {} });
  const consumerAdmin = postgres(infra.consumerAdminUrl, { max: 2, onnotice: () => {} });
  const kafka = createKafka({ brokers: infra.brokers, clientId: 'consumer-process-test', logger: pino({ level: 'silent' }) });
  const running: AppProcess[] = [];
  let producer: Producer;
  let admin: Admin;
  let internalPort: number;
  let topicTemplate: string;
  /** The users' topic of the template. */
  let topic: string;
  let groupId: string;

  beforeAll(async () => {
    // differences() compares every user: start from empty tables whatever earlier files left.
    await sourceAdmin`DELETE FROM users`;
    await sourceAdmin`DELETE FROM outbox`;
    await consumerAdmin`DELETE FROM synced_users`;
    producer = kafka.producer({ kafkaJS: { acks: -1 } });
    await producer.connect();
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await producer.disconnect();
    await admin.disconnect();
    await sourceAdmin.end();
    await consumerAdmin.end();
  });
  afterEach(async () => {
    for (const app of running.splice(0)) await app.stop(5_000);
    await sourceAdmin`DELETE FROM users`;
    await sourceAdmin`DELETE FROM outbox`;
    await consumerAdmin`DELETE FROM synced_users`;
  });

  async function freshTopic() {
    topicTemplate = `consumer-process-${randomUUID()}-{type}`;
    topic = eventTopic(topicTemplate, 'USER');
    groupId = `consumer-process-${randomUUID()}`;
    await ensureTopics(kafka, [
      { topic, numPartitions: 3 },
      { topic: `${topic}.dlq`, numPartitions: 1 },
    ]);
  }

  async function startSource(): Promise<AppProcess> {
    const source = await startApp(
      'source',
      { SOURCE_DATABASE_URL: infra.sourceAppUrl, PUBLIC_PORT: String(await freePort()), INTERNAL_PORT: String(internalPort) },
      await freePort(),
    );
    running.push(source);
    return source;
  }

  async function startConsumer(extra: Record<string, string> = {}): Promise<{ app: AppProcess; opsPort: number }> {
    const opsPort = await freePort();
    const app = await startApp(
      'consumer',
      {
        CONSUMER_DATABASE_URL: infra.consumerAppUrl,
        KAFKA_BROKERS: infra.brokers,
        KAFKA_TOPIC_TEMPLATE: topicTemplate,
        KAFKA_GROUP_ID: groupId,
        SOURCE_INTERNAL_URL: `https://localhost:${internalPort}`,
        PUBLIC_PORT: String(await freePort()),
        RECONCILE_INTERVAL_MS: '0',
        ...extra,
      },
      opsPort,
    );
    running.push(app);
    return { app, opsPort };
  }

  /** `count` new users split over tenants A and B, each updated once (version 2); one event per change. */
  async function writeAndPublish(count: number, tag: string): Promise<void> {
    const rows = await sourceAdmin`
      INSERT INTO users (org_id, name, email)
      SELECT CASE WHEN n % 2 = 0 THEN ${a.id}::uuid ELSE ${b.id}::uuid END, 'User ' || n, ${tag} || n || '@process.test'
        FROM generate_series(1, ${count}::int) n RETURNING id, org_id`;
    await sourceAdmin`UPDATE users SET name = name || ' v2' WHERE email LIKE ${`${tag}%`}`;
    const message = (row: (typeof rows)[number], action: 'CREATED' | 'UPDATED', version: number) => ({
      key: row.id as string,
      value: JSON.stringify({
        event_id: randomUUID(),
        entity: { type: 'USER', id: row.id },
        action,
        version,
        timestamp: new Date().toISOString(),
        source_system: 'test',
        tenant_context: { org_id: row.org_id },
      }),
      headers: { 'x-tenant-id': row.org_id as string },
    });
    const messages = rows.flatMap((row) => [message(row, 'CREATED', 1), message(row, 'UPDATED', 2)]);
    for (let start = 0; start < messages.length; start += 1_000) {
      await producer.send({ topic, messages: messages.slice(start, start + 1_000) });
    }
  }

  /** Users whose copy differs from the source (missing, other version or name). */
  async function differences(): Promise<number> {
    const source = await sourceAdmin`SELECT id, version::int AS version, name FROM users`;
    const copy = new Map((await consumerAdmin`SELECT id, version::int AS version, name FROM synced_users`).map((row) => [row.id, row]));
    return source.filter((row) => copy.get(row.id)?.version !== row.version || copy.get(row.id)?.name !== row.name).length;
  }

  const endOffsets = async () =>
    Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((p: { partition: number; high: string }) => [p.partition, Number(p.high)]));
  const committedOffsets = async () => {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return Object.fromEntries((entry?.partitions ?? []).map((p: { partition: number; offset: string }) => [p.partition, Number(p.offset)]));
  };

  it('commits nothing past the failure while the source is down for 20 s, and syncs every change once it is back', async () => {
    await freshTopic();
    internalPort = await freePort();
    const source = await startSource();
    const { opsPort } = await startConsumer({ AUTH_CACHE_TTL_MS: '100' });
    await writeAndPublish(50, 'before');
    await eventually(async () => expect(await differences()).toBe(0), 30_000);
    await eventually(async () => expect(await committedOffsets()).toEqual(await endOffsets()), 15_000);
    const before = await endOffsets();

    await source.stop();
    running.splice(running.indexOf(source), 1);
    await writeAndPublish(200, 'during');
    await sleep(20_000);
    const committed = await committedOffsets();
    for (const [partition, offset] of Object.entries(committed)) expect(offset).toBeLessThanOrEqual(before[Number(partition)]!);
    expect(await differences()).toBe(200);

    await startSource();
    await eventually(async () => expect(await differences()).toBe(0), 90_000);
    await eventually(async () => expect(await committedOffsets()).toEqual(await endOffsets()), 15_000);
    expect(await readTopic(infra.brokers, `${topic}.dlq`, 1, 3_000)).toEqual([]);

    const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
    expect(metrics).toMatch(/consumer_processed_total\{app="consumer"\} [1-9]/);
    expect(metrics).toMatch(/consumer_retried_total\{kind="transient",app="consumer"\} [1-9]/);
    expect(metrics).toMatch(/consumer_lag\{topic="[^"]+",partition="\d",app="consumer"\} 0/);
    expect(metrics).toMatch(/consumer_fetch_duration_seconds_count\{app="consumer",route="user_batch",status="2xx"\} [1-9]/);
    expect(metrics).not.toMatch(new RegExp(a.id));
  }, 180_000);

  it('killed with SIGKILL mid-batch and restarted, ends with the exact state', async () => {
    await freshTopic();
    internalPort = await freePort();
    await startSource();
    await writeAndPublish(10_000, 'kill');
    const first = await startConsumer();
    await eventually(async () => expect((await consumerAdmin`SELECT count(*)::int AS n FROM synced_users`)[0]?.n).toBeGreaterThan(0), 30_000, 5);
    first.app.child.kill('SIGKILL');
    await first.app.stop(1_000);
    running.splice(running.indexOf(first.app), 1);
    expect(await differences()).toBeGreaterThan(0);

    await startConsumer();
    await eventually(async () => expect(await differences()).toBe(0), 90_000);
    expect((await consumerAdmin`SELECT count(*)::int AS n FROM synced_users`)[0]?.n).toBe(10_000);
  }, 180_000);

  it('after SIGKILL of one of two consumers, its partitions sync again within 10 s', async () => {
    await freshTopic();
    internalPort = await freePort();
    await startSource();
    const first = await startConsumer();
    const second = await startConsumer();
    // Both members hold partitions of the topic before one dies.
    await eventually(async () => {
      const { groups } = await admin.describeGroups([groupId]);
      expect(groups[0]?.state).toBe(3); // ConsumerGroupStates.STABLE
      expect(groups[0]?.members).toHaveLength(2);
    }, 30_000, 200);
    await writeAndPublish(60, 'warm');
    await eventually(async () => expect(await differences()).toBe(0), 30_000);

    first.app.child.kill('SIGKILL');
    const killedAt = Date.now();
    // 60 users over 3 partitions: some of them land on the dead member's partitions.
    await writeAndPublish(60, 'failover');
    await eventually(async () => expect(await differences()).toBe(0), 30_000, 50);
    const resumedS = (Date.now() - killedAt) / 1_000;
    console.log(JSON.stringify({ failover_after_sigkill_s: resumedS }));
    expect(resumedS).toBeLessThan(10);
    expect(second.app.logLines().filter((line) => (line.level as number) >= 50)).toEqual([]);
    await first.app.stop(1_000);
    running.splice(running.indexOf(first.app), 1);
  }, 120_000);

  it('loses nothing when a second consumer joins and the first leaves', async () => {
    await freshTopic();
    internalPort = await freePort();
    await startSource();
    const first = await startConsumer({ CONSUMER_CONCURRENCY: '1' });
    await writeAndPublish(1_000, 'rebalance-a');
    const second = await startConsumer();
    await writeAndPublish(1_000, 'rebalance-b');
    await first.app.stop(15_000);
    running.splice(running.indexOf(first.app), 1);
    await writeAndPublish(1_000, 'rebalance-c');
    await eventually(async () => expect(await differences()).toBe(0), 90_000);
    expect((await consumerAdmin`SELECT count(*)::int AS n FROM synced_users`)[0]?.n).toBe(3_000);
    expect(second.app.logLines().filter((line) => (line.level as number) >= 50)).toEqual([]);
  }, 180_000);
});
