import type { Kysely, Transaction } from 'kysely';
import type { SourceDatabase, UserRow } from '@tenant-sync/db';
import { encodeCursor, type PagePosition, type User } from '@tenant-sync/contracts';

type Db = Kysely<SourceDatabase> | Transaction<SourceDatabase>;

/** The API shape of a user row. */
export function toUser(row: UserRow): User {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    email: row.email,
    phone: row.phone,
    version: Number(row.version),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

export async function insertUser(trx: Db, orgId: string, body: { name: string; email: string; phone?: string | null | undefined }) {
  return trx
    .insertInto('users')
    .values({ org_id: orgId, name: body.name, email: body.email, phone: body.phone ?? null })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function listUsers(trx: Db, limit: number, after: PagePosition | null) {
  let query = trx.selectFrom('users').selectAll().orderBy('created_at').orderBy('id').limit(limit + 1);
  if (after) query = query.where((eb) => eb(eb.refTuple('created_at', 'id'), '>', eb.tuple(new Date(after.createdAt), after.id)));
  const rows = await query.execute();
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { rows: page, nextCursor: rows.length > limit && last ? encodeCursor(last.created_at, last.id) : null };
}

export async function findUser(trx: Db, id: string) {
  return trx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function updateUser(trx: Db, id: string, changes: { name?: string | undefined; email?: string | undefined; phone?: string | null | undefined }) {
  return trx.updateTable('users').set(changes).where('id', '=', id).returningAll().executeTakeFirst();
}

export async function deleteUser(trx: Db, id: string) {
  return trx.deleteFrom('users').where('id', '=', id).returning('id').executeTakeFirst();
}
