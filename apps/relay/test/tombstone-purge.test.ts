import { randomUUID } from 'node:crypto';
import pino from 'pino';
import postgres from 'postgres';
import { afterAll, describe, expect, it, inject } from 'vitest';
import { testTenants } from '@tenant-sync/testing';
import { createRelayDatabase } from '../src/relay-database.ts';
import { purgeTombstones, scheduleTombstonePurge } from '../src/tombstone-purge.ts';

const infra = inject('infra');
const { a, b } = testTenants;
const DAY_MS = 86_400_000;

describe('tombstone purge', () => {
  const admin = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  const db = createRelayDatabase(infra.relayAppUrl, 'purge-test');
  afterAll(async () => {
    await db.destroy();
    await admin.end();
  });

  const tombstone = async (orgId: string, ageDays: number) => {
    const id = randomUUID();
    await admin`INSERT INTO tombstones (org_id, entity_type, id, version, deleted_at) VALUES (${orgId}, 'USER', ${id}, 2, now() - make_interval(days => ${ageDays}))`;
    return id;
  };
  const kept = async (ids: string[]) => (await admin`SELECT id FROM tombstones WHERE id = ANY(${ids})`).map((row) => row.id as string).sort();

  it('deletes the tombstones of every tenant past the retention, and keeps the younger ones', async () => {
    const old = [await tombstone(a.id, 8), await tombstone(b.id, 30)];
    const young = [await tombstone(a.id, 6), await tombstone(b.id, 0)];
    expect(await purgeTombstones(db, 7 * DAY_MS)).toBeGreaterThanOrEqual(2);
    expect(await kept([...old, ...young])).toEqual([...young].sort());
  });

  it('runs at start and on its interval, in chunks, and reports what it purged', async () => {
    const old = await Promise.all([1, 2, 3].map(() => tombstone(a.id, 10)));
    const purged: number[] = [];
    const job = scheduleTombstonePurge({ db, retentionMs: 7 * DAY_MS, intervalMs: 60_000, logger: pino({ level: 'silent' }), onPurged: (count) => purged.push(count) });
    try {
      await expect.poll(() => purged.length, { timeout: 10_000 }).toBe(1);
      expect(purged[0]).toBeGreaterThanOrEqual(3);
      expect(await kept(old)).toEqual([]);
    } finally {
      await job.stop();
    }
  });

  it('the relay role can purge but not write or alter a tombstone', async () => {
    const relay = postgres(infra.relayAppUrl, { max: 1, onnotice: () => {} });
    try {
      await expect(relay`INSERT INTO tombstones (org_id, entity_type, id, version) VALUES (${a.id}, 'USER', ${randomUUID()}, 1)`).rejects.toThrow(/permission denied/);
      await expect(relay`UPDATE tombstones SET version = 99`).rejects.toThrow(/permission denied/);
    } finally {
      await relay.end();
    }
  });
});
