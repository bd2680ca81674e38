import { sql, type Kysely, type Transaction } from 'kysely';
import type { User } from '@tenant-sync/contracts';
import type { ConsumerDatabase, SyncedUserRow } from '@tenant-sync/db';

/**
 * Every statement on the consumer's synced tables. Each runs inside a tenant transaction
 * (`withTenant`), so RLS scopes it to one tenant; `synced_at` is the database's clock, like
 * the source's timestamps, so the two can be compared.
 */

type Db = Kysely<ConsumerDatabase> | Transaction<ConsumerDatabase>;

/** A deletion as the source reports it: the id and the version of the deletion. */
export interface SourceTombstone {
  id: string;
  version: number;
}

/** Whether a state the source gave is a live entity (else a tombstone). */
export const isLive = (state: User | SourceTombstone): state is User => 'orgId' in state;

/** The columns a row copies from the source's user: its data and its version. */
function copiedColumns(user: User) {
  return {
    name: user.name,
    email: user.email,
    phone: user.phone,
    version: user.version,
    deleted_at: null,
    source_created_at: new Date(user.createdAt),
    source_updated_at: new Date(user.updatedAt),
  };
}

/** The columns of a tombstone: personal fields cleared, the deletion's version kept. */
const tombstoneColumns = (version: number) => ({
  name: null,
  email: null,
  phone: null,
  version,
  deleted_at: sql<Date>`now()`,
});

// 9 parameters a row: statements of 2,000 rows stay far below PostgreSQL's 65,535.
const ROWS_PER_STATEMENT = 2_000;

/**
 * Writes the source's states of users and tombstones; each row wins only over an older
 * version, so of two fetches racing (a rebalance, a reconciliation) the newer state stays.
 * The ids must be distinct.
 */
export async function writeSourceStates(trx: Db, orgId: string, users: readonly User[], tombstones: readonly SourceTombstone[]): Promise<void> {
  for (let start = 0; start < users.length; start += ROWS_PER_STATEMENT) {
    const chunk = users.slice(start, start + ROWS_PER_STATEMENT);
    await trx
      .insertInto('synced_users')
      .values(chunk.map((user) => ({ org_id: user.orgId, id: user.id, ...copiedColumns(user) })))
      .onConflict((conflict) =>
        conflict
          .columns(['org_id', 'id'])
          .doUpdateSet((eb) => ({
            name: eb.ref('excluded.name'),
            email: eb.ref('excluded.email'),
            phone: eb.ref('excluded.phone'),
            version: eb.ref('excluded.version'),
            source_created_at: eb.ref('excluded.source_created_at'),
            source_updated_at: eb.ref('excluded.source_updated_at'),
            deleted_at: null,
            synced_at: sql<Date>`now()`,
          }))
          .where('synced_users.version', '<', (eb) => eb.ref('excluded.version')),
      )
      .execute();
  }
  for (let start = 0; start < tombstones.length; start += ROWS_PER_STATEMENT) {
    const chunk = tombstones.slice(start, start + ROWS_PER_STATEMENT);
    await trx
      .insertInto('synced_users')
      .values(chunk.map(({ id, version }) => ({ org_id: orgId, id, ...tombstoneColumns(version) })))
      .onConflict((conflict) =>
        conflict
          .columns(['org_id', 'id'])
          .doUpdateSet((eb) => ({
            name: null,
            email: null,
            phone: null,
            version: eb.ref('excluded.version'),
            deleted_at: sql<Date>`now()`,
            synced_at: sql<Date>`now()`,
          }))
          .where('synced_users.version', '<', (eb) => eb.ref('excluded.version')),
      )
      .execute();
  }
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

/** A local row as reconciliation compares it with the source. */
export interface LocalVersion {
  id: string;
  version: number;
  deleted: boolean;
  /** The copied data, comparable with `contentOf` of the source's user. */
  content: string;
}

/** What reconciliation compares beyond the version (deep mode). */
export const contentOf = (user: Pick<User, 'name' | 'email' | 'phone' | 'createdAt' | 'updatedAt'>) =>
  JSON.stringify([user.name, user.email, user.phone ?? null, new Date(user.createdAt).getTime(), new Date(user.updatedAt).getTime()]);

/** The tenant's rows with `after < id <= upTo` (either bound open when null), in id order. */
export async function localVersions(trx: Db, after: string | null, upTo: string | null): Promise<LocalVersion[]> {
  let query = trx
    .selectFrom('synced_users')
    .select(['id', 'version', 'deleted_at', 'name', 'email', 'phone', 'source_created_at', 'source_updated_at'])
    .orderBy('id');
  if (after) query = query.where('id', '>', after);
  if (upTo) query = query.where('id', '<=', upTo);
  const rows = await query.execute();
  return rows.map((row) => ({
    id: row.id,
    version: Number(row.version),
    deleted: row.deleted_at !== null,
    content: contentOf({
      name: row.name ?? '',
      email: row.email ?? '',
      phone: row.phone,
      createdAt: (row.source_created_at ?? new Date(0)).toISOString(),
      updatedAt: (row.source_updated_at ?? new Date(0)).toISOString(),
    }),
  }));
}

/**
 * Replaces one local row with the source's state, whatever its version, but only if it is still
 * the row seen (`seenVersion`): a change applied meanwhile is never overwritten. This is how a
 * row ahead of the source (a forged or corrupted version) is brought back. Returns whether it
 * replaced the row.
 */
export async function replaceRow(trx: Db, id: string, seenVersion: number, state: User | SourceTombstone): Promise<boolean> {
  const columns = isLive(state) ? copiedColumns(state) : tombstoneColumns(state.version);
  const result = await trx
    .updateTable('synced_users')
    .set({ ...columns, synced_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('version', '=', seenVersion)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Deletes local rows the source does not know, each only if still at the version seen. */
export async function removeRows(trx: Db, rows: ReadonlyArray<{ id: string; version: number }>): Promise<number> {
  let removed = 0;
  for (const { id, version } of rows) {
    const result = await trx.deleteFrom('synced_users').where('id', '=', id).where('version', '=', version).executeTakeFirst();
    removed += Number(result.numDeletedRows);
  }
  return removed;
}

/**
 * Every tenant the consumer holds rows for, across RLS, through the one narrow function the
 * schema grants for it (it returns ids and nothing else).
 */
export async function tenantsWithSyncedData(db: Kysely<ConsumerDatabase>): Promise<string[]> {
  const result = await sql<{ org_id: string }>`SELECT org_id FROM synced_tenants() AS tenant(org_id)`.execute(db);
  return result.rows.map((row) => row.org_id);
}
