import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { TenantSyncClient } from '@tenant-sync/client';
import { freePort } from '@tenant-sync/local-infra';
import { certsDir, eventually, mintToken, startApp, testTenants, type AppProcess } from '@tenant-sync/testing';

const infra = inject('infra');
const { a, b } = testTenants;

/** The three real apps, started from their entry points, over real PostgreSQL and Kafka. */
describe('full flow: source → outbox → relay → Kafka → consumer', () => {
  const apps: AppProcess[] = [];
  const consumerDb = postgres(infra.consumerAdminUrl, { max: 1, onnotice: () => {} });
  const ports = { public: 0, internal: 0, cache: 0 };

  beforeAll(async () => {
    [ports.public, ports.internal, ports.cache] = await Promise.all([freePort(), freePort(), freePort()]);
    const kafka = { KAFKA_BROKERS: infra.brokers, KAFKA_TOPIC: infra.topic, KAFKA_DLQ_TOPIC: infra.dlqTopic };
    apps.push(
      await startApp(
        'source',
        { SOURCE_DATABASE_URL: infra.sourceAppUrl, PUBLIC_PORT: String(ports.public), INTERNAL_PORT: String(ports.internal) },
        await freePort(),
      ),
    );
    apps.push(await startApp('relay', { RELAY_DATABASE_URL: infra.relayAppUrl, ...kafka }, await freePort()));
    apps.push(
      await startApp(
        'consumer',
        {
          CONSUMER_DATABASE_URL: infra.consumerAppUrl,
          ...kafka,
          KAFKA_GROUP_ID: `e2e-${randomUUID()}`,
          SOURCE_INTERNAL_URL: `https://localhost:${ports.internal}`,
          PUBLIC_PORT: String(ports.cache),
        },
        await freePort(),
      ),
    );
  });

  const clients: TenantSyncClient[] = [];
  /** The typed client of :8001 and :8002, acting with `token`. */
  const clientWith = (token: string) => {
    const client = new TenantSyncClient({
      baseUrl: `https://localhost:${ports.public}`,
      cacheUrl: `https://localhost:${ports.cache}`,
      ca: readFileSync(path.join(certsDir, 'ca.crt')),
      token,
    });
    clients.push(client);
    return client;
  };

  afterAll(async () => {
    for (const app of apps.reverse()) await app.stop();
    await Promise.all(clients.map((client) => client.close()));
    await consumerDb.end();
  });

  it('mirrors a user of tenant A into the consumer, visible to A and absent for B', async () => {
    const clientA = clientWith(await mintToken({ orgId: a.id, subject: a.admin }));
    const clientB = clientWith(await mintToken({ orgId: b.id, subject: b.admin }));
    const { id } = await clientA.createUser(a.id, { name: 'Flow User', email: 'flow@a.test' });

    const cacheA = await eventually(async () => {
      const page = await clientA.listCachedUsers(a.id);
      expect(page.items.map((user) => user.id)).toContain(id);
      return page;
    }, 20_000);
    expect(cacheA.items.find((user) => user.id === id)).toMatchObject({ orgId: a.id, name: 'Flow User', email: 'flow@a.test', version: 1 });

    const cacheB = await clientB.listCachedUsers(b.id);
    expect(cacheB.items.map((user) => user.id)).not.toContain(id);
    const rows = await consumerDb`SELECT org_id, version::int AS version FROM synced_users WHERE id = ${id}`;
    expect(rows).toEqual([{ org_id: a.id, version: 1 }]);
  });

  it('carries updates and deletes through, leaving a tombstone', async () => {
    const clientA = clientWith(await mintToken({ orgId: a.id, subject: a.admin }));
    const { id } = await clientA.createUser(a.id, { name: 'Short Lived', email: 'short@a.test' });
    expect(await clientA.updateUser(a.id, id, { name: 'Renamed' })).toMatchObject({ name: 'Renamed', version: 2 });
    await clientA.deleteUser(a.id, id);

    await eventually(async () => {
      const [row] = await consumerDb`SELECT version::int AS version, deleted_at, name, email FROM synced_users WHERE id = ${id}`;
      expect(row).toMatchObject({ version: 3, name: null, email: null });
      expect(row?.deleted_at).not.toBeNull();
    }, 20_000);
    const page = await clientA.listCachedUsers(a.id);
    expect(page.items.map((user) => user.id)).not.toContain(id);
  });

  it('stops every app gracefully on SIGTERM, with no personal data in any log line', async () => {
    const logs = apps.flatMap((app) => app.logLines());
    const codes = [];
    for (const app of [...apps].reverse()) codes.push(await app.stop());
    expect(codes).toEqual([0, 0, 0]);
    apps.length = 0;
    const text = JSON.stringify(logs);
    expect(text).not.toMatch(/flow@a\.test|short@a\.test|Flow User|Bearer ey/);
  });
});
