import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { parseOrgId } from '@tenant-sync/contracts';
import { createDatabase, type ConsumerDatabase } from '@tenant-sync/db';
import { freePort } from '@tenant-sync/local-infra';
import { testTenants, type AppProcess } from '@tenant-sync/testing';
import { reconcileTenant } from '../src/reconcile.ts';
import { tenantsWithSyncedData } from '../src/synced-tables.ts';
import { createReferenceClient } from '../src/reference-client.ts';
import { syncedTypes, type SyncedType } from '../src/synced-types.ts';
import { consumerTls, startSource } from './harness.ts';

const infra = inject('infra');
const { a, b, suspended } = testTenants;
const logger = pino({ level: 'silent' });
const [users, teams] = syncedTypes as [SyncedType, SyncedType];
const org = (id: string) => parseOrgId(id)!;

/** Runs the CLI as `nx run consumer:reconcile` does; resolves with its exit code and output. */
function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, '..', 'src', 'reconcile-cli.ts'), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    }),
  );
}

describe('reconciliation against the real source', () => {
  const sourceAdmin = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  const consumerAdmin = postgres(infra.consumerAdminUrl, { max: 1, onnotice: () => {} });
  const db = createDatabase<ConsumerDatabase>({ url: infra.consumerAppUrl, poolSize: 2, applicationName: 'reconcile-test' });
  let source: AppProcess;
  let internalUrl: string;
  let reference: ReturnType<typeof createReferenceClient>;

  beforeAll(async () => {
    ({ source, internalUrl } = await startSource(infra));
    reference = createReferenceClient({ baseUrl: internalUrl, consumerId: 'consumer', tls: consumerTls(), timeoutMs: 5_000 });
    await sourceAdmin`DELETE FROM users`;
    await sourceAdmin`DELETE FROM teams`;
    await sourceAdmin`DELETE FROM outbox`;
    await sourceAdmin`DELETE FROM tombstones`;
    await consumerAdmin`DELETE FROM synced_users`;
    await consumerAdmin`DELETE FROM synced_teams`;
  });

  afterAll(async () => {
    await reference.close();
    await source.stop();
    await db.destroy();
    await sourceAdmin.end();
    await consumerAdmin.end();
  });

  const options = (deep = false) => ({ db, reference, types: syncedTypes, logger, pageSize: 7, deep });
  const row = async (id: string) =>
    (await consumerAdmin`SELECT org_id, name, email, version::int AS version, deleted_at FROM synced_users WHERE id = ${id}`)[0];

  /** `{id, version, deleted}` of every entity of a tenant, as the source and as the copy hold it. */
  const sourceState = async (orgId: string) =>
    (
      await sourceAdmin`
        SELECT id, version::int AS version, false AS deleted FROM users WHERE org_id = ${orgId}
        UNION ALL SELECT id, version::int, true FROM tombstones WHERE org_id = ${orgId} AND entity_type = 'USER'
        ORDER BY id`
    ).map((r) => ({ ...r }));
  const copyState = async (orgId: string) =>
    (await consumerAdmin`SELECT id, version::int AS version, deleted_at IS NOT NULL AS deleted FROM synced_users WHERE org_id = ${orgId} ORDER BY id`).map(
      (r) => ({ ...r }),
    );

  it('copies what is missing, then repairs any drift — ahead, behind, missing, extra, forged — with exact counts', async () => {
    const ids = (
      await sourceAdmin`
        INSERT INTO users (org_id, name, email)
        SELECT ${a.id}::uuid, 'User ' || n, 'rec' || n || '@a.test' FROM generate_series(1, 20) n ORDER BY n RETURNING id`
    ).map((r) => r.id as string);
    await sourceAdmin`UPDATE users SET name = name || ' v2' WHERE id = ANY(${ids.slice(0, 5)})`;
    const [bUser] = await sourceAdmin`INSERT INTO users (org_id, name, email) VALUES (${b.id}, 'B user', 'b@b.test') RETURNING id`;

    expect(await reconcileTenant(options(), users, org(a.id))).toEqual({ orgId: a.id, entityType: 'USER', checked: 20, inserted: 20, updated: 0, tombstoned: 0, removed: 0 });
    expect(await row(ids[0]!)).toMatchObject({ name: 'User 1 v2', version: 2 });
    expect(await row(bUser?.id)).toBeUndefined(); // another tenant is not touched

    const [deleted, stale, altered, ahead, forged, goneAtSource] = ids as [string, string, string, string, string, string];
    const [extra, extraTombstone] = [randomUUID(), randomUUID()];
    await consumerAdmin`DELETE FROM synced_users WHERE id = ${deleted}`;
    await consumerAdmin`UPDATE synced_users SET version = 1, name = 'old' WHERE id = ${stale}`;
    await consumerAdmin`UPDATE synced_users SET name = 'altered by hand' WHERE id = ${altered}`;
    await consumerAdmin`UPDATE synced_users SET version = 99, email = 'ahead@x.test' WHERE id = ${ahead}`;
    // What a forged DELETED with the largest version once left behind: a tombstone nothing newer could replace.
    await consumerAdmin`UPDATE synced_users SET version = 9007199254740991, deleted_at = now(), name = NULL, email = NULL WHERE id = ${forged}`;
    await consumerAdmin`INSERT INTO synced_users (org_id, id, name, email, version) VALUES (${a.id}, ${extra}, 'Ghost', 'ghost@a.test', 3)`;
    await consumerAdmin`INSERT INTO synced_users (org_id, id, version, deleted_at) VALUES (${a.id}, ${extraTombstone}, 4, now())`;
    await sourceAdmin`DELETE FROM users WHERE id = ${goneAtSource}`;

    expect(await reconcileTenant(options(), users, org(a.id))).toEqual({ orgId: a.id, entityType: 'USER', checked: 22, inserted: 1, updated: 3, tombstoned: 1, removed: 2 });
    expect(await row(deleted)).toMatchObject({ name: 'User 1 v2', version: 2, deleted_at: null });
    expect(await row(stale)).toMatchObject({ name: 'User 2 v2', version: 2 });
    expect(await row(ahead)).toMatchObject({ email: 'rec4@a.test', version: 2 });
    expect(await row(forged)).toMatchObject({ name: 'User 5 v2', version: 2, deleted_at: null });
    expect(await row(goneAtSource)).toMatchObject({ name: null, email: null, version: 2, deleted_at: expect.any(Date) });
    expect(await row(extra)).toBeUndefined();
    expect(await row(extraTombstone)).toBeUndefined();
    // Same version, other content: only the deep comparison sees it.
    expect(await row(altered)).toMatchObject({ name: 'altered by hand' });
    expect(await reconcileTenant(options(true), users, org(a.id))).toEqual({ orgId: a.id, entityType: 'USER', checked: 20, inserted: 0, updated: 1, tombstoned: 0, removed: 0 });
    expect(await row(altered)).toMatchObject({ name: 'User 3 v2' });
    expect(await reconcileTenant(options(true), users, org(a.id))).toEqual({ orgId: a.id, entityType: 'USER', checked: 20, inserted: 0, updated: 0, tombstoned: 0, removed: 0 });
    expect(await copyState(a.id)).toEqual(await sourceState(a.id));
  });

  it('repairs teams the same way, from their own listing into their own table', async () => {
    const [kept, gone] = (await sourceAdmin`INSERT INTO teams (org_id, name) VALUES (${a.id}, 'Kept'), (${a.id}, 'Gone') RETURNING id`).map((r) => r.id as string) as [string, string];
    await sourceAdmin`DELETE FROM teams WHERE id = ${gone}`;
    const ghost = randomUUID();
    await consumerAdmin`INSERT INTO synced_teams (org_id, id, name, version) VALUES (${a.id}, ${ghost}, 'Ghost', 7)`;
    await consumerAdmin`INSERT INTO synced_teams (org_id, id, name, version) VALUES (${a.id}, ${kept}, 'Forged', 99)`;

    expect(await reconcileTenant(options(), teams, org(a.id))).toEqual({ orgId: a.id, entityType: 'TEAM', checked: 3, inserted: 0, updated: 1, tombstoned: 1, removed: 1 });
    const copied = await consumerAdmin`SELECT id, name, version::int AS version, deleted_at IS NOT NULL AS deleted FROM synced_teams WHERE org_id = ${a.id} ORDER BY name`;
    expect(copied.map((r) => ({ ...r }))).toEqual([
      { id: kept, name: 'Kept', version: 1, deleted: false },
      { id: gone, name: null, version: 2, deleted: true },
    ]);
    // The users' table of the tenant is not touched by the teams' reconciliation.
    expect(await consumerAdmin`SELECT 1 FROM synced_users WHERE id = ANY(${[kept, gone, ghost]})`).toHaveLength(0);
  });

  it('lists every tenant the copy holds rows for in any synced table, across RLS, and nothing else', async () => {
    const [stray, teamsOnly] = [randomUUID(), randomUUID()];
    await consumerAdmin`INSERT INTO synced_users (org_id, id, name, email, version) VALUES (${stray}, ${randomUUID()}, 'Stray', 'stray@x.test', 1)`;
    await consumerAdmin`INSERT INTO synced_teams (org_id, id, name, version) VALUES (${teamsOnly}, ${randomUUID()}, 'Stray team', 1)`;
    try {
      const tenants = await tenantsWithSyncedData(db);
      expect(tenants).toContain(stray);
      expect(tenants).toContain(teamsOnly);
      const held = (await consumerAdmin`SELECT org_id FROM synced_users UNION SELECT org_id FROM synced_teams`).map((r) => r.org_id as string);
      expect([...tenants].sort()).toEqual(held.sort());
    } finally {
      await consumerAdmin`DELETE FROM synced_users WHERE org_id = ${stray}`;
      await consumerAdmin`DELETE FROM synced_teams WHERE org_id = ${teamsOnly}`;
    }
  });

  it('skips an organisation the source does not serve, and removes nothing of it', async () => {
    const held = randomUUID();
    await consumerAdmin`INSERT INTO synced_users (org_id, id, name, email, version) VALUES (${suspended.id}, ${held}, 'Held', 'held@x.test', 1)`;
    try {
      expect(await reconcileTenant(options(), users, org(suspended.id))).toMatchObject({ skipped: expect.stringContaining('not active') });
      expect(await consumerAdmin`SELECT 1 FROM synced_users WHERE id = ${held}`).toHaveLength(1);
    } finally {
      await consumerAdmin`DELETE FROM synced_users WHERE id = ${held}`;
    }
  });

  it('runs on demand from the CLI with a summary, and exits non-zero when the source cannot be reached', async () => {
    const [user] = await sourceAdmin`INSERT INTO users (org_id, name, email) VALUES (${b.id}, 'Cli', 'cli@b.test') RETURNING id`;
    const env = { CONSUMER_DATABASE_URL: infra.consumerAppUrl, SOURCE_INTERNAL_URL: internalUrl, LOG_LEVEL: 'error' };
    const ok = await runCli(['--org', b.id], env);
    expect(ok.code).toBe(0);
    const summary = JSON.parse(ok.stdout.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({
      tenants: [
        { orgId: b.id, entityType: 'USER', inserted: 2, updated: 0, tombstoned: 0, removed: 0 },
        { orgId: b.id, entityType: 'TEAM', inserted: 0, updated: 0, tombstoned: 0, removed: 0 },
      ],
      failed: [],
    });
    expect(await row(user?.id)).toMatchObject({ org_id: b.id, name: 'Cli' });

    const down = await runCli(['--org', b.id], { ...env, SOURCE_INTERNAL_URL: `https://localhost:${await freePort()}` });
    expect(down.code).toBe(1);
    expect(down.stdout).toContain('FAILED');
  });
});
