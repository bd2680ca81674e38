import type { Kysely, Transaction } from 'kysely';
import type { SourceDatabase, TeamRow } from '@tenant-sync/db';
import { encodeCursor, type PagePosition, type Team } from '@tenant-sync/contracts';

type Db = Kysely<SourceDatabase> | Transaction<SourceDatabase>;

/** The API shape of a team row. */
export function toTeam(row: TeamRow): Team {
  return {
    id: row.id,
    orgId: row.org_id,
    name: row.name,
    description: row.description,
    version: Number(row.version),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

export async function insertTeam(trx: Db, orgId: string, body: { name: string; description?: string | null | undefined }) {
  return trx
    .insertInto('teams')
    .values({ org_id: orgId, name: body.name, description: body.description ?? null })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function listTeams(trx: Db, limit: number, after: PagePosition | null) {
  let query = trx.selectFrom('teams').selectAll().orderBy('created_at').orderBy('id').limit(limit + 1);
  if (after) query = query.where((eb) => eb(eb.refTuple('created_at', 'id'), '>', eb.tuple(new Date(after.createdAt), after.id)));
  const rows = await query.execute();
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { rows: page, nextCursor: rows.length > limit && last ? encodeCursor(last.created_at, last.id) : null };
}

export async function findTeam(trx: Db, id: string) {
  return trx.selectFrom('teams').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function updateTeam(trx: Db, id: string, changes: { name?: string | undefined; description?: string | null | undefined }) {
  return trx.updateTable('teams').set(changes).where('id', '=', id).returningAll().executeTakeFirst();
}

export async function deleteTeam(trx: Db, id: string) {
  return trx.deleteFrom('teams').where('id', '=', id).returning('id').executeTakeFirst();
}
