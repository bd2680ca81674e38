import { sql, type Transaction } from 'kysely';
import type { SourceDatabase } from '@tenant-sync/db';

type Trx = Transaction<SourceDatabase>;

/** The tombstone of one deleted entity of the current tenant, if the source still keeps it. */
export function findTombstone(trx: Trx, entityType: string, id: string) {
  return trx
    .selectFrom('tombstones')
    .select(['id', 'version', 'deleted_at'])
    .where('entity_type', '=', entityType)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** The tombstones of those of `ids` that are deleted. */
export async function findTombstones(trx: Trx, entityType: string, ids: readonly string[]) {
  if (ids.length === 0) return [];
  return trx.selectFrom('tombstones').select(['id', 'version']).where('entity_type', '=', entityType).where('id', 'in', ids).execute();
}

/**
 * Up to `limit` `{id, version, deleted}` of the current tenant after `after`, in id order: the
 * live rows of `table` and the tombstones of `entityType` together, so reconciliation sees
 * deletions as versions too. An id is in one of the two, never both.
 */
export async function listVersions(trx: Trx, table: 'users', entityType: string, limit: number, after: string | null) {
  const live = trx
    .selectFrom(table)
    .select(['id', 'version', sql<boolean>`false`.as('deleted')])
    .$if(after !== null, (query) => query.where('id', '>', after!));
  const deleted = trx
    .selectFrom('tombstones')
    .select(['id', 'version', sql<boolean>`true`.as('deleted')])
    .where('entity_type', '=', entityType)
    .$if(after !== null, (query) => query.where('id', '>', after!));
  return live.unionAll(deleted).orderBy('id').limit(limit).execute();
}
