import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { freePort, startKafkaBroker, type RunningKafkaBroker } from '@tenant-sync/local-infra';
import { eventually, readTopic, startApp, testTenants, type AppProcess } from '@tenant-sync/testing';

const infra = inject('infra');
const { a, b } = testTenants;
const tenants = [a.id, b.id];

/**
 * The whole system under honest load while it is hurt: the relay and the consumer are killed
 * with SIGKILL, the broker goes away for ten seconds, a second relay joins. It must end with
 * the copy equal to the source — `{id, version, deleted}` per tenant — and not one dead letter.
 * It runs on a broker of its own, which it stops and starts.
 */
describe('chaos: load, kill -9, a broker outage, a second relay', () => {
  const sourceAdmin = postgres(infra.sourceAdminUrl, { max: 4, onnotice: () => {} });
  const consumerAdmin = postgres(infra.consumerAdminUrl, { max: 2, onnotice: () => {} });
  const running = new Set<AppProcess>();
  const topic = `chaos-${randomUUID()}`;
  let dataDir: string;
  let broker: RunningKafkaBroker;
  let brokerPorts: { port: number; controllerPort: number };
  let ports: { public: number; internal: number };

  const startBroker = async () =>
    (broker = await startKafkaBroker({ dataDir, ...brokerPorts, logFile: path.join(dataDir, 'broker.log') }));
  const kafkaEnv = () => ({ KAFKA_BROKERS: broker.brokers, KAFKA_TOPIC_TEMPLATE: `${topic}-{type}` });
  const start = async (name: 'source' | 'relay' | 'consumer', env: Record<string, string> = {}) => {
    const app = await startApp(name, env, await freePort());
    running.add(app);
    return app;
  };
  const startRelay = (id: string) => start('relay', { ...kafkaEnv(), RELAY_DATABASE_URL: infra.relayAppUrl, RELAY_ID: id });
  const startConsumer = () =>
    start('consumer', {
      ...kafkaEnv(),
      CONSUMER_DATABASE_URL: infra.consumerAppUrl,
      KAFKA_GROUP_ID: `chaos-${topic}`,
      SOURCE_INTERNAL_URL: `https://localhost:${ports.internal}`,
      PUBLIC_PORT: String(ports.public + 1),
      RECONCILE_INTERVAL_MS: '0',
    });
  const kill = async (app: AppProcess) => {
    app.child.kill('SIGKILL');
    await app.stop(1_000);
    running.delete(app);
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'tenant-sync-chaos-'));
    brokerPorts = { port: await freePort(), controllerPort: await freePort() };
    await startBroker();
    ports = { public: await freePort(), internal: await freePort() };
    await sourceAdmin`DELETE FROM users`;
    await sourceAdmin`DELETE FROM outbox`;
    await sourceAdmin`DELETE FROM tombstones`;
    await consumerAdmin`DELETE FROM synced_users`;
    await start('source', { SOURCE_DATABASE_URL: infra.sourceAppUrl, PUBLIC_PORT: String(ports.public), INTERNAL_PORT: String(ports.internal) });
  });

  afterAll(async () => {
    for (const app of running) await app.stop(5_000);
    await broker?.stop();
    await rm(dataDir, { recursive: true, force: true });
    // Thousands of users would fill the first pages other tests read.
    await sourceAdmin`DELETE FROM users`;
    await sourceAdmin`DELETE FROM outbox`;
    await sourceAdmin`DELETE FROM tombstones`;
    await consumerAdmin`DELETE FROM synced_users`;
    await sourceAdmin.end();
    await consumerAdmin.end();
  });

  /** Random honest writes — creates, updates, deletes, some deleted right after their create — until `stop` is set. */
  async function writeLoad(signal: { stop: boolean }) {
    let writes = 0;
    const live: string[] = [];
    while (!signal.stop) {
      const orgId = tenants[writes % tenants.length]!;
      const roll = Math.random();
      if (roll < 0.45 || live.length < 20) {
        const [row] = await sourceAdmin`INSERT INTO users (org_id, name, email) VALUES (${orgId}, 'Chaos', ${`${randomUUID()}@chaos.test`}) RETURNING id`;
        live.push(row!.id as string);
        if (roll < 0.05) {
          await sourceAdmin`DELETE FROM users WHERE id = ${live.pop()!}`;
          writes += 1;
        }
      } else if (roll < 0.85) {
        await sourceAdmin`UPDATE users SET name = ${`Chaos ${writes}`} WHERE id = ${live[Math.floor(Math.random() * live.length)]!}`;
      } else {
        await sourceAdmin`DELETE FROM users WHERE id = ${live.splice(Math.floor(Math.random() * live.length), 1)[0]!}`;
      }
      writes += 1;
      if (writes % 20 === 0) await sleep(5);
    }
    return writes;
  }

  /** Time until a new user written now is in the copy. */
  async function resumeSeconds(from = Date.now()) {
    const [probe] = await sourceAdmin`INSERT INTO users (org_id, name, email) VALUES (${a.id}, 'Probe', ${`${randomUUID()}@probe.test`}) RETURNING id`;
    await eventually(async () => expect(await consumerAdmin`SELECT 1 FROM synced_users WHERE id = ${probe!.id}`).toHaveLength(1), 60_000, 50);
    return Math.round((Date.now() - from) / 100) / 10;
  }

  const state = async (sql: postgres.Sql, query: 'source' | 'copy') =>
    (query === 'source'
      ? await sql`
          SELECT org_id, id, version::int AS version, false AS deleted FROM users
          UNION ALL SELECT org_id, id, version::int, true FROM tombstones WHERE entity_type = 'USER'
          ORDER BY org_id, id`
      : await sql`SELECT org_id, id, version::int AS version, deleted_at IS NOT NULL AS deleted FROM synced_users ORDER BY org_id, id`
    ).map((row) => `${row.org_id}/${row.id}@${row.version}${row.deleted ? 'x' : ''}`);

  it('ends with the copy equal to the source and no dead letter', async () => {
    let relay = await startRelay('chaos-relay-1');
    let consumer = await startConsumer();
    const signal = { stop: false };
    const load = writeLoad(signal);
    const resume: Record<string, number> = {};

    await sleep(4_000);
    await kill(relay);
    relay = await startRelay('chaos-relay-1b');
    resume.relay = await resumeSeconds();

    await sleep(3_000);
    const killedAt = Date.now();
    await kill(consumer);
    consumer = await startConsumer();
    resume.consumer = await resumeSeconds(killedAt);

    await sleep(3_000);
    await broker.stop();
    await sleep(10_000);
    await startBroker();
    resume.broker = await resumeSeconds();

    await startRelay('chaos-relay-2');
    await sleep(5_000);
    signal.stop = true;
    const writes = await load;

    await eventually(async () => expect(await state(consumerAdmin, 'copy')).toEqual(await state(sourceAdmin, 'source')), 120_000, 500);
    const copied = await state(consumerAdmin, 'copy');
    const deadLetters = (await readTopic(broker.brokers, `${topic}-user.dlq`, 1, 3_000)).length;
    console.log(JSON.stringify({ writes, entities: copied.length, deleted: copied.filter((entry) => entry.endsWith('x')).length, dead_letters: deadLetters, resume_s: resume }));
    expect(deadLetters).toBe(0);
    // The target is 10 s from the broker listening (measured 6.8–9.7 s on a 2-core machine, see
    // docs/consumer.md); the bound leaves room for a loaded CI machine.
    expect(resume.broker).toBeLessThan(15);
    expect(resume.consumer).toBeLessThan(30);
    expect(writes).toBeGreaterThan(500);
  }, 300_000);
});
