import { readFileSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { TenantSyncClient } from '@tenant-sync/client';
import { certsDir, eventually, mintToken, startSystem, testTenants, type RunningSystem } from '@tenant-sync/testing';

const infra = inject('infra');
const { a, b } = testTenants;

/** The three real apps, started from their entry points, over real PostgreSQL and Kafka. */
describe('full flow: source → outbox → relay → Kafka → consumer', () => {
  const consumerDb = postgres(infra.consumerAdminUrl, { max: 1, onnotice: () => {} });
  let system: RunningSystem;

  beforeAll(async () => {
    system = await startSystem(infra);
  });

  const clients: TenantSyncClient[] = [];
  /** The typed client of :8001 and :8002, acting with `token`. */
  const clientWith = (token: string) => {
    const client = new TenantSyncClient({
      baseUrl: `https://localhost:${system.ports.public}`,
      cacheUrl: `https://localhost:${system.ports.cache}`,
      ca: readFileSync(path.join(certsDir, 'ca.crt')),
      token,
    });
    clients.push(client);
    return client;
  };

  afterAll(async () => {
    await system?.stop();
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

  it('mirrors a team of tenant A, absent for B, and carries its rename and its deletion through to a tombstone', async () => {
    const clientA = clientWith(await mintToken({ orgId: a.id, subject: a.admin }));
    const clientB = clientWith(await mintToken({ orgId: b.id, subject: b.admin }));
    const created = await clientA.createTeam(a.id, { name: 'Flow Team Quokka', description: 'Keeps the flow quokkas fed' });
    expect(created).toMatchObject({ orgId: a.id, version: 1 });

    const cached = await eventually(async () => {
      const found = (await clientA.listCachedTeams(a.id)).items.find((team) => team.id === created.id);
      expect(found).toBeDefined();
      return found;
    }, 20_000);
    expect(cached).toEqual(created);
    expect((await clientB.listCachedTeams(b.id)).items.map((team) => team.id)).not.toContain(created.id);

    const renamed = await clientA.updateTeam(a.id, created.id, { name: 'Flow Team Wombat' });
    expect(renamed).toMatchObject({ name: 'Flow Team Wombat', description: 'Keeps the flow quokkas fed', version: 2 });
    await eventually(async () => {
      expect((await clientA.listCachedTeams(a.id)).items.find((team) => team.id === created.id)).toEqual(renamed);
    }, 20_000);

    await clientA.deleteTeam(a.id, created.id);
    await eventually(async () => {
      const rows = await consumerDb`SELECT org_id, version::int AS version, deleted_at, name, description FROM synced_teams WHERE id = ${created.id}`;
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ org_id: a.id, version: 3, name: null, description: null });
      expect(rows[0]?.deleted_at).not.toBeNull();
    }, 20_000);
    expect((await clientA.listCachedTeams(a.id)).items.map((team) => team.id)).not.toContain(created.id);
    expect((await clientB.listCachedTeams(b.id)).items.map((team) => team.id)).not.toContain(created.id);
  });

  it('stops every app gracefully on SIGTERM, with no personal data in any log line', async () => {
    const logs = [system.source, system.relay, system.consumer].flatMap((app) => app.logLines());
    expect(await system.stop()).toEqual([0, 0, 0]);
    const text = JSON.stringify(logs);
    expect(text).not.toMatch(/flow@a\.test|short@a\.test|Flow User|Quokka|Wombat|quokkas fed|Bearer ey/);
  });
});
