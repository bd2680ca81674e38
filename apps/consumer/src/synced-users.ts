import { sql, type Kysely, type Transaction } from 'kysely';
import type { User } from '@tenant-sync/contracts';
import type { ConsumerDatabase, SyncedUserRow } from '@tenant-sync/db';

type Db = Kysely<ConsumerDatabase> | Transaction<ConsumerDatabase>;

/** The columns a row copies from the source's user: its data and its version. */
export function copiedColumns(user: User) {
  return {
    name: user.name,
    email: user.email,
    phone: user.phone,
    version: user.version,
    source_created_at: new Date(user.createdAt),
    source_updated_at: new Date(user.updatedAt),
  };
}

/**
 * Writes `users` in one statement; each row wins only over an older version (a tombstone of
 * the same or a newer version stays). `synced_at` is the database's clock, like the source's
 * timestamps, so the two can be compared. The ids must be distinct.
 */
export async function upsertUsers(trx: Db, users: readonly User[]): Promise<void> {
  // 8 parameters a row: statements of 2,000 rows stay far below PostgreSQL's 65,535.
  for (let start = 0; start < users.length; start += ROWS_PER_STATEMENT) {
    await upsertChunk(trx, users.slice(start, start + ROWS_PER_STATEMENT));
  }
}

const ROWS_PER_STATEMENT = 2_000;

async function upsertChunk(trx: Db, users: readonly User[]): Promise<void> {
  await trx
    .insertInto('synced_users')
    .values(users.map((user) => ({ org_id: user.orgId, id: user.id, ...copiedColumns(user) })))
    .onConflict((conflict) =>
      conflict.columns(['org_id', 'id']).doUpdateSet((eb) => ({
        name: eb.ref('excluded.name'),
        email: eb.ref('excluded.email'),
        phone: eb.ref('excluded.phone'),
        version: eb.ref('excluded.version'),
        source_created_at: eb.ref('excluded.source_created_at'),
        source_updated_at: eb.ref('excluded.source_updated_at'),
        deleted_at: null,
        synced_at: sql<Date>`now()`,
      })).where('synced_users.version', '<', (eb) => eb.ref('excluded.version')),
    )
    .execute();
}

/**
 * Records deletes as versioned tombstones with the personal fields cleared, so an older event
 * arriving later cannot bring a user back. The ids must be distinct.
 */
export async function tombstoneUsers(trx: Db, orgId: string, deletes: ReadonlyArray<{ id: string; version: number }>): Promise<void> {
  if (deletes.length === 0) return;
  await trx
    .insertInto('synced_users')
    .values(deletes.map(({ id, version }) => ({ org_id: orgId, id, version, deleted_at: sql<Date>`now()` })))
    .onConflict((conflict) =>
      conflict.columns(['org_id', 'id']).doUpdateSet((eb) => ({
        name: null,
        email: null,
        phone: null,
        version: eb.ref('excluded.version'),
        deleted_at: sql<Date>`now()`,
        synced_at: sql<Date>`now()`,
      })).where('synced_users.version', '<', (eb) => eb.ref('excluded.version')),
    )
    .execute();
}

/** Version and tombstone state of the given ids in the current tenant. */
export async function localVersions(trx: Db, ids: readonly string[]): Promise<Map<string, { version: number; deleted: boolean }>> {
  if (ids.length === 0) return new Map();
  const rows = await trx.selectFrom('synced_users').select(['id', 'version', 'deleted_at']).where('id', 'in', ids).execute();
  return new Map(rows.map((row) => [row.id, { version: Number(row.version), deleted: row.deleted_at !== null }]));
}

/** One page of the tenant's live (not deleted) users, keyset-paginated by (created, id). */
export async function listLiveUsers(trx: Db, limit: number, after: { createdAt: string; id: string } | null) {
  let query = trx
    .selectFrom('synced_users')
    .selectAll()
    .where('deleted_at', 'is', null)
    .orderBy('source_created_at')
    .orderBy('id')
    .limit(limit + 1);
  if (after) query = query.where((eb) => eb(eb.refTuple('source_created_at', 'id'), '>', eb.tuple(new Date(after.createdAt), after.id)));
  const rows = await query.execute();
  return { rows: rows.slice(0, limit), more: rows.length > limit };
}

export function toUser(row: SyncedUserRow): User {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name ?? '',
    email: row.email ?? '',
    phone: row.phone,
    version: Number(row.version),
    createdAt: (row.source_created_at ?? row.synced_at).toISOString(),
    updatedAt: (row.source_updated_at ?? row.synced_at).toISOString(),
  };
}
