import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeEach, describe, expect, it, inject } from 'vitest';
import { testTenants } from '@tenant-sync/testing';
import { claimAllIfFew, claimBatch, createClaimer, deletePublished, pendingStats, releaseLeases } from '../src/outbox.ts';
import { createRelayDatabase } from '../src/relay-database.ts';
import { createTenantPacer } from '../src/tenant-pacer.ts';

const infra = inject('infra');
const { a, b } = testTenants;

describe('claimBatch: fair across tenants', () => {
  const admin = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
  const db = createRelayDatabase(infra.relayAppUrl, 'outbox-test');
  afterAll(async () => {
    await db.destroy();
    await admin.end();
  });
  beforeEach(async () => {
    await admin`DELETE FROM outbox`;
  });

  /** `count` outbox rows of `orgId`, each its own entity unless `entity` is given. */
  const write = (orgId: string | null, count: number, entity?: string) =>
    admin`
      INSERT INTO outbox (org_id, aggregate_type, aggregate_id, action, version)
      SELECT ${orgId}::uuid, 'USER', COALESCE(${entity ?? null}::uuid, gen_random_uuid()), 'UPDATED', n FROM generate_series(1, ${count}::int) n`;
  const tenantsOf = (rows: Array<{ org_id: string | null }>) =>
    rows.reduce<Record<string, number>>((counts, row) => ({ ...counts, [row.org_id ?? 'none']: (counts[row.org_id ?? 'none'] ?? 0) + 1 }), {});

  it("takes a quiet tenant's change in the very next batch, however large another tenant's backlog", async () => {
    await write(b.id, 5_000);
    await write(a.id, 1);
    // One statement gives each of the two tenants up to its share, half the batch…
    expect(tenantsOf(await claimBatch(db, 'relay-1', 100, 30_000))).toEqual({ [a.id]: 1, [b.id]: 50 });
    // …and the claimer gives the room the quiet tenant left to the importer.
    await write(a.id, 1);
    expect(tenantsOf(await createClaimer(db, 'relay-2', 100, 30_000).next())).toEqual({ [a.id]: 1, [b.id]: 99 });
  });

  it('gives a tenant alone the whole batch, and shares it in turns between busy tenants', async () => {
    await write(b.id, 500);
    expect(tenantsOf(await claimBatch(db, 'relay-1', 100, 30_000))).toEqual({ [b.id]: 100 });
    await write(a.id, 500);
    expect(tenantsOf(await claimBatch(db, 'relay-1', 100, 30_000))).toEqual({ [a.id]: 50, [b.id]: 50 });
  });

  it("claims the tenants named alone, past another transaction's import that has not committed", async () => {
    await write(null, 1);
    await write(b.id, 10);
    const other = postgres(infra.sourceAdminUrl, { max: 1, onnotice: () => {} });
    const importing = await other.reserve();
    try {
      await importing`BEGIN`;
      await importing`
        INSERT INTO outbox (org_id, aggregate_type, aggregate_id, action, version)
        SELECT ${b.id}::uuid, 'USER', gen_random_uuid(), 'CREATED', 1 FROM generate_series(1, 20000)`;
      await write(a.id, 2);
      expect(tenantsOf(await claimBatch(db, 'relay-1', 100, 30_000, { only: [a.id] }))).toEqual({ [a.id]: 2 });
      // The named tenants share the batch; rows without a tenant wait for a claim that names none.
      expect(tenantsOf(await claimBatch(db, 'relay-1', 100, 30_000, { only: [a.id, b.id] }))).toEqual({ [b.id]: 10 });
    } finally {
      await importing`ROLLBACK`;
      importing.release();
      await other.end();
    }
  });

  it('still claims only the head row of an entity, and rows without a tenant after the tenants', async () => {
    const entity = randomUUID();
    await write(a.id, 3, entity);
    await write(null, 2);
    const first = await claimBatch(db, 'relay-1', 100, 30_000);
    expect(first.filter((row) => row.aggregate_id === entity).map((row) => Number(row.version))).toEqual([1]);
    expect(tenantsOf(first)).toEqual({ [a.id]: 1, none: 2 });
    // While the head is leased, no relay can take the entity's next row.
    expect(await claimBatch(db, 'relay-2', 100, 30_000)).toEqual([]);
  });

  it('claims every claimable row in one scan when they fit in a batch, and nothing when they do not', async () => {
    const entity = randomUUID();
    await write(a.id, 3, entity);
    await write(b.id, 2);
    await write(null, 1);
    const all = await claimAllIfFew(db, 'relay-1', 10, 30_000);
    expect(all?.filter((row) => row.aggregate_id === entity).map((row) => Number(row.version))).toEqual([1]);
    expect(tenantsOf(all ?? [])).toEqual({ [a.id]: 1, [b.id]: 2, none: 1 });
    // The entity's next rows wait for its head; nothing else is claimable.
    expect(await claimAllIfFew(db, 'relay-2', 10, 30_000)).toEqual([]);
    await write(b.id, 5);
    expect(await claimAllIfFew(db, 'relay-2', 4, 30_000)).toBeUndefined();
    const [leased] = await admin`SELECT count(*)::int AS n FROM outbox WHERE lease_owner IS NOT NULL`;
    expect(leased?.n).toBe(4);
  });

  it("the relay's claimer still takes turns once the outbox holds more than a batch", async () => {
    await write(b.id, 5_000);
    await write(a.id, 1);
    const claimer = createClaimer(db, 'relay-1', 100, 30_000);
    expect(tenantsOf(await claimer.next())).toEqual({ [a.id]: 1, [b.id]: 99 });
    expect(claimer.backlog()).toBe(true);
    // A commit of the quiet tenant during the backlog: the express claim takes it, and leaves
    // the backlogged tenant to the loop's next claim.
    await write(a.id, 1);
    expect(tenantsOf(await claimer.express(10))).toEqual({ [a.id]: 1 });
    expect(tenantsOf(await claimer.next())).toEqual({ [b.id]: 100 });
  });

  it("fills the batch with a backlogged tenant's rows when the other tenants waiting have a row each", async () => {
    await write(b.id, 5_000);
    const few = Array.from({ length: 60 }, () => randomUUID());
    for (const tenant of few) await write(tenant, 1);
    // Sixty-one tenants share 100 rows: 4 each at most. The sixty have one each; b takes the rest.
    const rows = await createClaimer(db, 'relay-1', 100, 30_000).next();
    expect(rows).toHaveLength(100);
    expect(tenantsOf(rows)[b.id]).toBe(40);
    // Still in turns: the first 61 rows are one of each tenant.
    expect(new Set(rows.slice(0, 61).map((row) => row.org_id)).size).toBe(61);
  });

  it('gives a paced tenant no more than its quota, and the others their turns', async () => {
    await write(b.id, 500);
    await write(a.id, 500);
    expect(tenantsOf(await claimBatch(db, 'relay-1', 100, 30_000, { quota: new Map([[b.id, 3]]) }))).toEqual({ [a.id]: 50, [b.id]: 3 });
    expect(tenantsOf(await claimBatch(db, 'relay-1', 100, 30_000, { quota: new Map([[b.id, 0]]) }))).toEqual({ [a.id]: 50 });
  });

  it("the claimer holds an importer to its pace while a quiet tenant has changes, and says how long to wait", async () => {
    await write(b.id, 5_000);
    await write(a.id, 1);
    // 100 rows a second: a burst of 5, a twentieth of a second's worth.
    const claimer = createClaimer(db, 'relay-1', 100, 30_000, createTenantPacer(() => 100, 100));
    expect(tenantsOf(await claimer.next())).toEqual({ [a.id]: 1, [b.id]: 99 });
    expect(claimer.pacedMs()).toBe(0);
    // The quiet tenant was seen beside it: the importer owes a burst, and gets nothing now;
    // 100 ms pay the debt and the next burst.
    expect(tenantsOf(await claimer.next())).toEqual({});
    expect(claimer.pacedMs()).toBeGreaterThan(50);
    expect(claimer.backlog()).toBe(true);
  });

  it('returns a batch in turns, so the quiet tenant is published first', async () => {
    await write(b.id, 5);
    await write(a.id, 2);
    const rows = await claimBatch(db, 'relay-1', 100, 30_000);
    expect(rows.map((row) => row.org_id)).toEqual([b.id, a.id, b.id, a.id, b.id, b.id, b.id]);
    expect(rows.filter((row) => row.org_id === b.id).map((row) => Number(row.id))).toEqual(
      rows.filter((row) => row.org_id === b.id).map((row) => Number(row.id)).sort((x, y) => x - y),
    );
  });

  it('starts each tenant past its rows in flight when told where', async () => {
    await write(b.id, 10);
    const [first] = await claimBatch(db, 'relay-1', 1, 30_000);
    await admin`UPDATE outbox SET lease_until = NULL WHERE id = ${first!.id}`;
    const next = await claimBatch(db, 'relay-1', 1, 30_000, { after: new Map([[b.id, Number(first!.id)]]) });
    expect(Number(next[0]!.id)).toBeGreaterThan(Number(first!.id));
  });

  it('deletes and gives back only the rows this relay still leases, whatever the batch size', async () => {
    await write(a.id, 5);
    const mine = await claimBatch(db, 'relay-1', 3, 30_000);
    const theirs = await claimBatch(db, 'relay-2', 2, 30_000);
    const ids = [...mine, ...theirs].map((row) => Number(row.id));
    await releaseLeases(db, 'relay-1', ids.slice(0, 1), 'broker transport failure');
    await deletePublished(db, 'relay-1', ids);
    const left = await admin<{ id: string; lease_owner: string | null; last_error: string | null }[]>`SELECT id, lease_owner, last_error FROM outbox ORDER BY id`;
    expect(left.map((row) => ({ ...row, id: Number(row.id) }))).toEqual([
      { id: ids[0], lease_owner: null, last_error: 'broker transport failure' },
      ...theirs.map((row) => ({ id: Number(row.id), lease_owner: 'relay-2', last_error: null })),
    ]);
  });

  it('reports the backlog and oldest age of the busiest tenants, busiest first', async () => {
    await write(a.id, 3);
    await write(b.id, 7);
    const stats = await pendingStats(db);
    expect(stats.depth).toBe(10);
    expect(stats.tenants.map(({ orgId, depth }) => ({ orgId, depth }))).toEqual([
      { orgId: b.id, depth: 7 },
      { orgId: a.id, depth: 3 },
    ]);
    expect(stats.tenants[0]!.oldestAgeSeconds).toBeGreaterThanOrEqual(0);
  });
});
