import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type { User, UserEvent } from '@tenant-sync/contracts';
import { createDatabase, type ConsumerDatabase } from '@tenant-sync/db';
import { testTenants } from '@tenant-sync/testing';
import { applyTenantChanges, type SyncFailure, type TenantChanges } from '../src/user-sync.ts';
import { userEvent } from './harness.ts';

const infra = inject('infra');
const orgId = testTenants.a.id;

const event = (id: string, action: UserEvent['action'], version: number): UserEvent => userEvent(orgId, id, action, version);
const user = (id: string, version: number, name = `v${version}`): User => ({
  id,
  orgId,
  name,
  email: `${id}@a.test`,
  phone: null,
  version,
  createdAt: new Date().toISOString(),
  updatedAt: new Date().toISOString(),
});
const notFound = (id: string, version: number): SyncFailure => ({ event: event(id, 'UPDATED', version), code: 'not_found', reason: 'not found' });
const changes = (part: Partial<TenantChanges>): TenantChanges => ({ users: [], deletes: [], notFound: [], failures: [], ...part });

/** The writes of several partitions' batches, gathered into one tenant transaction. */
describe('applyTenantChanges of several batches at once', () => {
  const db = createDatabase<ConsumerDatabase>({ url: infra.consumerAppUrl, poolSize: 1, applicationName: 'apply-test' });
  const admin = postgres(infra.consumerAdminUrl, { max: 1, onnotice: () => {} });
  afterAll(async () => {
    await db.destroy();
    await admin.end();
  });
  beforeEach(async () => {
    await admin`DELETE FROM synced_users`;
  });
  const rows = async () =>
    (await admin`SELECT id, version::int AS version, name, deleted_at IS NOT NULL AS deleted FROM synced_users ORDER BY version, id`).map((row) => ({ ...row }));

  it('keeps the newest version of every entity, whichever batch brought it', async () => {
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    const failures = await applyTenantChanges(db, orgId, [
      changes({ users: [user(a, 3), user(b, 1)], deletes: [event(c, 'DELETED', 2)] }),
      changes({ users: [user(a, 2), user(b, 2)], deletes: [event(c, 'DELETED', 4)] }),
    ]);
    expect(failures).toEqual([[], []]);
    expect(await rows()).toEqual(
      expect.arrayContaining([
        { id: a, version: 3, name: 'v3', deleted: false },
        { id: b, version: 2, name: 'v2', deleted: false },
        { id: c, version: 4, name: null, deleted: true },
      ]),
    );
  });

  it('answers each batch with its own failures: a not-found entity is deleted only under a tombstone as new', async () => {
    const [gone, missing] = [randomUUID(), randomUUID()];
    await applyTenantChanges(db, orgId, [changes({ deletes: [event(gone, 'DELETED', 5)] })]);
    const fetchFailure: SyncFailure = { event: event(randomUUID(), 'CREATED', 1), code: 'source_unavailable', reason: 'down' };
    const failures = await applyTenantChanges(db, orgId, [
      changes({ notFound: [notFound(gone, 4)] }),
      changes({ notFound: [notFound(missing, 1)], failures: [fetchFailure] }),
    ]);
    expect(failures[0]).toEqual([]);
    expect(failures[1]?.map((failure) => failure.code)).toEqual(['source_unavailable', 'not_found']);
  });
});
