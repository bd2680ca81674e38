import type { Context } from '@opentelemetry/api';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { OrgId } from '@tenant-sync/contracts';
import { pipelineWithTenant, statementOnce, type SourceDatabase } from '@tenant-sync/db';
import type { SyncedEntity } from '../../synced-entities.ts';
import { orgStatusStatement } from '../../tenancy.ts';

type Trx = Transaction<SourceDatabase>;
/** The entity's table is a value of its declaration, so its rows are not typed by kysely here. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const anyTable = (db: Kysely<SourceDatabase> | Trx) => db as unknown as Kysely<any>;
type EntityRow = { id: string; version: string | number } & Record<string, unknown>;
type TombstoneRow = { id: string; version: string | number; deleted_at: Date };

/**
 * `id = any($1)`, with the ids as one array parameter: one statement text whatever their
 * number. `id in ($1, …, $n)` was a statement per count of ids, each prepared on every pooled
 * connection (a batch names up to 1,000) and, the first time, described before it ran: a round
 * trip more, and the end of a pipeline (`pipelineWithTenant`).
 */
const idIn = (ids: readonly string[]) => sql<boolean>`id = any(${ids}::uuid[])`;

/**
 * The statements of `findStates` for one entity type, compiled once: their text depends on the
 * type alone, and only the tenant and the ids change from call to call, hundreds of times a
 * second under a steady load.
 */
function statesQueries(db: Kysely<SourceDatabase>, entity: SyncedEntity) {
  const rows = statementOnce((ids: readonly string[]) => anyTable(db).selectFrom(entity.table).selectAll().where(idIn(ids)).compile());
  const tombstones = statementOnce((ids: readonly string[]) =>
    db.selectFrom('tombstones').select(['id', 'version', 'deleted_at']).where('entity_type', '=', entity.type).where(idIn(ids)).compile(),
  );
  return (tenantId: OrgId, ids: readonly string[]) => [orgStatusStatement(tenantId), rows(ids), tombstones(ids)];
}

const statesQueriesOf = new WeakMap<SyncedEntity, ReturnType<typeof statesQueries>>();

/**
 * The live rows of `ids` in the entity's table and the tombstones of the deleted ones, for the
 * tenant, and the tenant's status: all read at once, in one round trip (an id is live or
 * deleted, never both). The status is read in the same transaction as the rows, so a call
 * that needs the org ACTIVE (`orgStatusInTransaction`) does not ask it in a round trip of its own.
 */
export async function findStates(db: Kysely<SourceDatabase>, tenantId: OrgId, entity: SyncedEntity, ids: readonly string[], trace: Context | undefined) {
  let queries = statesQueriesOf.get(entity);
  if (!queries) statesQueriesOf.set(entity, (queries = statesQueries(db, entity)));
  const [org, rows, tombstones] = await pipelineWithTenant(db, tenantId, queries(tenantId, ids), { trace });
  return { orgStatus: (org![0]?.status as string | null | undefined) ?? null, rows: rows as EntityRow[], tombstones: tombstones as TombstoneRow[] };
}

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
