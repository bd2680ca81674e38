import type { Kysely, Transaction } from 'kysely';
import type { User } from '@tenant-sync/contracts';
import type { ConsumerDatabase, SyncedUserRow } from '@tenant-sync/db';

type Db = Kysely<ConsumerDatabase> | Transaction<ConsumerDatabase>;

/** Writes `user` unless the copy already holds this version or a newer one (or its tombstone). */
export async function upsertUser(trx: Db, user: User): Promise<void> {
  await trx
    .insertInto('synced_users')
    .values({
      org_id: user.orgId,
      id: user.id,
      name: user.name,
      email: user.email,
      phone: user.phone,
      version: user.version,
      source_created_at: new Date(user.createdAt),
      source_updated_at: new Date(user.updatedAt),
    })
    .onConflict((conflict) =>
      conflict.columns(['org_id', 'id']).doUpdateSet((eb) => ({
        name: eb.ref('excluded.name'),
        email: eb.ref('excluded.email'),
        phone: eb.ref('excluded.phone'),
        version: eb.ref('excluded.version'),
        source_created_at: eb.ref('excluded.source_created_at'),
        source_updated_at: eb.ref('excluded.source_updated_at'),
        deleted_at: null,
        synced_at: new Date(),
      })).where('synced_users.version', '<', (eb) => eb.ref('excluded.version')),
    )
    .execute();
}

/**
 * Records a delete as a versioned tombstone with the personal fields cleared, so an older
 * event arriving later cannot bring the user back.
 */
export async function tombstoneUser(trx: Db, orgId: string, id: string, version: number): Promise<void> {
  await trx
    .insertInto('synced_users')
    .values({ org_id: orgId, id, version, deleted_at: new Date() })
    .onConflict((conflict) =>
      conflict.columns(['org_id', 'id']).doUpdateSet({
        name: null,
        email: null,
        phone: null,
        version,
        deleted_at: new Date(),
        synced_at: new Date(),
      }).where('synced_users.version', '<', version),
    )
    .execute();
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
