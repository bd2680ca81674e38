import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, afterEach, describe, expect, it, inject } from 'vitest';
import { EventHeaders } from '@tenant-sync/contracts';
import { createKafka, ensureTopics } from '@tenant-sync/kafka';
import { freePort, startKafkaBroker, type RunningKafkaBroker } from '@tenant-sync/local-infra';
import { eventually, readTopic, startApp, testTenants, type AppProcess, type ReadMessage } from '@tenant-sync/testing';

const infra = inject('infra');
const { a, b } = testTenants;

/**
 * The real relay process: woken by commits, killed, starved of Kafka. Every event still
 * arrives, in order per entity.
 */
describe('relay process', () => {
  const admin = postgres(infra.sourceAdminUrl, { max: 2, onnotice: () => {} });
  const running: AppProcess[] = [];
  const cleanups: Array<() => Promise<void>> = [];

  afterEach(async () => {
    for (const app of running.splice(0)) await app.stop(5_000);
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await admin`DELETE FROM users`; // writes DELETED outbox rows, removed next
    await admin`DELETE FROM outbox`;
  });
  afterAll(() => admin.end());

  const relayEnv = (brokers: string, topic: string, extra: Record<string, string>) => ({
    RELAY_DATABASE_URL: infra.relayAppUrl,
    KAFKA_BROKERS: brokers,
    KAFKA_TOPIC_TEMPLATE: `${topic}-{type}`,
    ...extra,
  });

  async function startRelay(env: Record<string, string>): Promise<AppProcess> {
    const relay = await startApp('relay', env, await freePort());
    running.push(relay);
    return relay;
  }

  /** Makes the users' topic of a fresh template; returns the template's prefix. */
  async function createTopic(brokers: string): Promise<string> {
    const topic = `relay-process-${Date.now()}`;
    await ensureTopics(createKafka({ brokers, clientId: 'relay-process-test', logger: pino({ level: 'silent' }) }), [{ topic: `${topic}-user`, numPartitions: 3 }]);
    return topic;
  }

  /** `users` new users in tenants A and B, then one update of each: two outbox events per user. */
  async function writeUsers(users: number, offset = 0): Promise<void> {
    await admin`
      INSERT INTO users (org_id, name, email)
      SELECT CASE WHEN n % 2 = 0 THEN ${a.id}::uuid ELSE ${b.id}::uuid END, 'User ' || n, 'user' || n || '@process.test'
        FROM generate_series(${offset + 1}::int, ${offset + users}::int) n`;
    await admin`UPDATE users SET name = name || ' (renamed)' WHERE email LIKE 'user%@process.test' AND version = 1`;
  }

  const pendingRows = async () => Number((await admin`SELECT count(*)::int AS n FROM outbox`)[0]?.n);
  const outboxEventIds = async () => (await admin<{ event_id: string }[]>`SELECT event_id FROM outbox`).map((row) => row.event_id);

  /** Reads every message of the topic, duplicates included, by its high watermarks. */
  async function readEverything(brokers: string, topic: string): Promise<ReadMessage[]> {
    const kafka = createKafka({ brokers, clientId: 'relay-process-offsets', logger: pino({ level: 'silent' }) });
    const kafkaAdmin = kafka.admin();
    await kafkaAdmin.connect();
    const offsets = await kafkaAdmin.fetchTopicOffsets(topic).finally(() => kafkaAdmin.disconnect());
    const total = offsets.reduce((sum, partition) => sum + Number(partition.high) - Number(partition.low), 0);
    return readTopic(brokers, topic, total, 60_000);
  }

  /** Every event id is on the topic, and each entity's versions never go back on its partition. */
  function expectAllDeliveredInOrder(messages: ReadMessage[], eventIds: string[]): void {
    const delivered = new Set(messages.map((message) => message.headers[EventHeaders.eventId]));
    expect(eventIds.filter((id) => !delivered.has(id))).toEqual([]);
    const latest = new Map<string, number>();
    for (const message of [...messages].sort((x, y) => x.partition - y.partition || Number(x.offset) - Number(y.offset))) {
      const event = JSON.parse(message.value ?? '{}') as { entity: { id: string }; version: number };
      expect(event.version).toBeGreaterThanOrEqual(latest.get(event.entity.id) ?? 0);
      latest.set(event.entity.id, event.version);
    }
  }

  it('publishes a commit at once when the poll is a second away: the NOTIFY wakes it', { timeout: 60_000 }, async () => {
    const topic = await createTopic(infra.brokers);
    await startRelay(relayEnv(infra.brokers, topic, { RELAY_POLL_INTERVAL_MS: '999' }));
    for (let round = 0; round < 5; round += 1) {
      await sleep(1_100);
      await writeUsers(1, round);
      const committed = performance.now();
      await eventually(async () => expect(await pendingRows()).toBe(0), 5_000, 5);
      // Waiting for the poll would take 500 ms on average; five quick ones by luck: 0.3^5.
      expect(performance.now() - committed).toBeLessThan(300);
    }
  });

  it('loses nothing when a relay is killed with SIGKILL mid-batch', { timeout: 180_000 }, async () => {
    const topic = await createTopic(infra.brokers);
    await writeUsers(10_000);
    const eventIds = await outboxEventIds();
    expect(eventIds).toHaveLength(20_000);
    const env = relayEnv(infra.brokers, topic, { RELAY_BATCH_SIZE: '500', RELAY_LEASE_MS: '2000' });
    const leasedBy = async (relayId: string) => Number((await admin`SELECT count(*)::int AS n FROM outbox WHERE lease_owner = ${relayId}`)[0]?.n);

    // Killed while it is seen holding leases: a batch in flight and the one it had claimed
    // ahead. A relay holds none for a moment between two batches (a few hundredths of the
    // time); one that died in such a moment is followed by another, killed the same way.
    let leased = 0;
    for (let attempt = 1; leased === 0; attempt += 1) {
      expect(attempt).toBeLessThanOrEqual(5);
      const doomed = await startRelay({ ...env, RELAY_ID: `doomed-${attempt}` });
      await eventually(
        async () => {
          expect(await pendingRows()).toBeLessThan(17_000 - attempt * 2_000);
          expect(await leasedBy(`doomed-${attempt}`)).toBeGreaterThan(0);
        },
        60_000,
        5,
      );
      doomed.child.kill('SIGKILL');
      expect(await doomed.stop()).toBeNull();
      // Its rows are still its own (deleted rows are gone, given-back rows have no owner),
      // whether or not the 2 s leases have run out by now: on a loaded CI machine a batch can
      // outlast them.
      leased = await leasedBy(`doomed-${attempt}`);
    }

    // The dead relay's leases expire after 2 s; the survivor claims those rows again.
    await startRelay({ ...env, RELAY_ID: 'survivor' });
    await eventually(async () => expect(await pendingRows()).toBe(0), 90_000, 200);

    expectAllDeliveredInOrder(await readEverything(infra.brokers, `${topic}-user`), eventIds);
  });

  it('rides out Kafka stopped for 30 s: not ready meanwhile, then the backlog drains by itself and nothing is lost', { timeout: 240_000 }, async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'relay-process-kafka-'));
    const brokerOptions = { dataDir, port: await freePort(), controllerPort: await freePort(), logFile: path.join(dataDir, 'broker.log') };
    let broker: RunningKafkaBroker | undefined = await startKafkaBroker(brokerOptions);
    cleanups.push(async () => {
      await broker?.stop();
      await rm(dataDir, { recursive: true, force: true });
    });
    const topic = await createTopic(broker.brokers);
    const relay = await startRelay(relayEnv(broker.brokers, topic, { RELAY_BATCH_SIZE: '500' }));

    await writeUsers(500);
    const eventIds = new Set(await outboxEventIds());
    await eventually(async () => expect(await pendingRows()).toBe(0), 30_000);

    const readiness = async () => {
      const response = await fetch(`http://127.0.0.1:${relay.opsPort}/health/ready`);
      return { status: response.status, checks: ((await response.json()) as { checks: Record<string, string> }).checks };
    };
    expect(await readiness()).toEqual({ status: 200, checks: { postgres: 'ok', kafka: 'ok' } });

    await broker.stop();
    broker = undefined;
    for (let round = 0; round < 6; round += 1) {
      await writeUsers(500, 1_000 + round * 500);
      for (const id of await outboxEventIds()) eventIds.add(id);
      await sleep(5_000);
    }
    expect(relay.child.exitCode).toBeNull();
    expect(await pendingRows()).toBeGreaterThan(0);
    // Not ready while the brokers do not answer: a load balancer or orchestrator can see it.
    expect(await readiness()).toEqual({ status: 503, checks: { postgres: 'ok', kafka: 'failing' } });

    broker = await startKafkaBroker(brokerOptions);
    await eventually(async () => expect(await pendingRows()).toBe(0), 120_000, 500);
    expect(relay.child.exitCode).toBeNull();
    await eventually(async () => expect(await readiness()).toEqual({ status: 200, checks: { postgres: 'ok', kafka: 'ok' } }), 20_000, 500);

    expect(eventIds.size).toBe(1_000 + 6_000);
    expectAllDeliveredInOrder(await readEverything(broker.brokers, `${topic}-user`), [...eventIds]);
    // Backing off, not spinning: a handful of failed batches over the outage, not thousands.
    const failures = relay.logLines().filter((line) => line.msg === 'relay batch failed; backing off');
    expect(failures.length).toBeLessThan(30);
  });
});
