import { sql, type Kysely, type Transaction } from 'kysely';
import type { SourceDatabase } from '@tenant-sync/db';
import type { SyncedEntity } from '../../synced-entities.ts';

type Trx = Transaction<SourceDatabase>;
type Db = Kysely<SourceDatabase> | Trx;
/** The entity's table is a value of its declaration, so its rows are not typed by kysely here. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const anyTable = (db: Db) => db as unknown as Kysely<any>;
export type EntityRow = { id: string; version: string | number } & Record<string, unknown>;
export type TombstoneRow = { id: string; version: string | number; deleted_at: Date };

/**
 * `id = any($1)`, with the ids as one array parameter: one statement text whatever their
 * number. `id in ($1, …, $n)` was a statement per count of ids, each prepared on every pooled
 * connection (a batch names up to 1,000) and, the first time, described before it ran: a round
 * trip more, and the end of a pipeline (`pipelineWithTenant`).
 */
const idIn = (ids: readonly string[]) => sql<string>`any(${[...ids]}::uuid[])`;

/** The live rows of `ids` in the entity's table, for the current tenant. */
export const liveRows = (db: Db, entity: SyncedEntity, ids: readonly string[]) => anyTable(db).selectFrom(entity.table).selectAll().where('id', '=', idIn(ids));

/** The tombstones of those of `ids` that are deleted. */
export const tombstonesOf = (db: Db, entity: SyncedEntity, ids: readonly string[]) =>
  db.selectFrom('tombstones').select(['id', 'version', 'deleted_at']).where('entity_type', '=', entity.type).where('id', '=', idIn(ids));

/**
 * Up to `limit` `{id, version, deleted}` of the current tenant after `after`, in id order: the
 * live rows of the entity's table and its tombstones together, so reconciliation sees
 * deletions as versions too. An id is in one of the two, never both.
 */
export async function listVersions(trx: Trx, entity: SyncedEntity, limit: number, after: string | null) {
  const live = anyTable(trx)
    .selectFrom(entity.table)
    .select(['id', 'version', sql<boolean>`false`.as('deleted')])
    .$if(after !== null, (query) => query.where('id', '>', after!));
  const deleted = anyTable(trx)
    .selectFrom('tombstones')
    .select(['id', 'version', sql<boolean>`true`.as('deleted')])
    .where('entity_type', '=', entity.type)
    .$if(after !== null, (query) => query.where('id', '>', after!));
  return (await live.unionAll(deleted).orderBy('id').limit(limit).execute()) as Array<{ id: string; version: string | number; deleted: boolean }>;
}
