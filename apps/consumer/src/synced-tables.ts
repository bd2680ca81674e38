import { sql, type CompiledQuery, type ExpressionBuilder, type Kysely, type Transaction } from 'kysely';
import { statementOnce, type ConsumerDatabase } from '@tenant-sync/db';
import type { SourceEntity, SyncedType } from './synced-types.ts';

/**
 * Every statement on the consumer's synced tables, for any declared type (`SyncedType`). Each
 * runs inside a tenant transaction (`withTenant`), so RLS scopes it to one tenant; `synced_at`
 * is the database's clock, like the source's timestamps, so the two can be compared.
 */

// The table is a value of the declaration, so statements are built without kysely's per-table
// types; the declaration's columns are the schema's (004-synced-teams.sql and the type's migration).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Db = Kysely<any> | Transaction<any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Excluded = ExpressionBuilder<any, any>;

/** A deletion as the source reports it: the id and the version of the deletion. */
export interface SourceTombstone {
  id: string;
  version: number;
}

/** Whether a state the source gave is a live entity (else a tombstone). */
export const isLive = (state: SourceEntity | SourceTombstone): state is SourceEntity => 'orgId' in state;

const columnsOf = (synced: SyncedType) => Object.values(synced.fields);

/**
 * The row of the source's entity: its tenant and id, the columns it copies — its fields, its
 * version and timestamps. The timestamps stay the source's RFC 3339 strings, which PostgreSQL
 * reads as `timestamptz` from the JSON parameter: a `Date` per timestamp made building and
 * serialising a round of 1,000 rows two to six times slower. One PostgreSQL cannot read fails
 * the write like any state it refuses (`applyReferences` then writes entity by entity and
 * dead-letters that one). Built as one object: the entries, arrays and spreads of copying the
 * fields were a tenth of all the consumer allocated in `consumer:bench`.
 */
function entityRow(synced: SyncedType, entity: SourceEntity): UpsertRow {
  const row: UpsertRow = { org_id: entity.orgId, id: entity.id };
  for (const field in synced.fields) row[synced.fields[field] as string] = entity[field] ?? null;
  row.version = entity.version;
  row.deleted_at = null;
  row.source_created_at = entity.createdAt;
  row.source_updated_at = entity.updatedAt;
  return row;
}

/** The columns of an entity's row that a replacement sets: all but its tenant and id. */
function copiedColumns(synced: SyncedType, entity: SourceEntity): UpsertRow {
  const columns = entityRow(synced, entity);
  delete columns.org_id;
  delete columns.id;
  return columns;
}

/** The columns of a tombstone: the fields cleared, the deletion's version kept. */
const tombstoneColumns = (synced: SyncedType, version: number) => ({
  ...Object.fromEntries(columnsOf(synced).map((column) => [column, null])),
  version,
  deleted_at: sql<Date>`now()`,
});

// Tombstones take up to 12 parameters a row: statements of 2,000 rows stay far below
// PostgreSQL's 65,535. Entities go as one JSON parameter a statement.
const ROWS_PER_STATEMENT = 2_000;

type UpsertRow = Record<string, unknown>;

/**
 * The upsert of a chunk of entities of a type. The chunk goes as one JSON parameter (the driver
 * serialises the rows as JSON: the server types the parameter json), read with the table's own
 * row type: a VALUES list of 2,000 rows was 20,000 parameters to build, send, parse and plan.
 * Its text depends on the type alone: compiled once per type (`statementOnce`).
 */
const upserts = new WeakMap<SyncedType, (rows: UpsertRow[]) => CompiledQuery>();

function upsert(db: Db, synced: SyncedType, rows: UpsertRow[]): CompiledQuery {
  let statement = upserts.get(synced);
  if (!statement) {
    const updated = [...columnsOf(synced), 'version', 'source_created_at', 'source_updated_at'];
    const columns = sql.join(['org_id', 'id', ...updated].map((column) => sql.id(column)));
    statement = statementOnce<UpsertRow[]>(
      (chunk) => sql`
      INSERT INTO ${sql.table(synced.table)} (${columns})
      SELECT ${columns} FROM json_populate_recordset(NULL::${sql.table(synced.table)}, ${chunk}::json)
      ON CONFLICT (org_id, id) DO UPDATE
         SET ${sql.join(updated.map((column) => sql`${sql.id(column)} = excluded.${sql.id(column)}`))},
             deleted_at = NULL,
             synced_at = now()
       WHERE ${sql.table(synced.table)}.version < excluded.version`.compile(db),
    );
    upserts.set(synced, statement);
  }
  return statement(rows);
}

/**
 * The statements that write the source's states of entities and tombstones; each row wins only
 * over an older version, so of two fetches racing (a rebalance, a reconciliation) the newer
 * state stays. The ids must be distinct. No statement needs another's answer: they may go to
 * the database in one pipeline (`pipelineWithTenant`).
 */
export function sourceStateWrites(
  db: Db,
  synced: SyncedType,
  orgId: string,
  entities: readonly SourceEntity[],
  tombstones: readonly SourceTombstone[],
): CompiledQuery[] {
  const statements: CompiledQuery[] = [];
  for (let start = 0; start < entities.length; start += ROWS_PER_STATEMENT) {
    const rows = entities.slice(start, start + ROWS_PER_STATEMENT).map((entity) => entityRow(synced, entity));
    statements.push(upsert(db, synced, rows));
  }
  for (let start = 0; start < tombstones.length; start += ROWS_PER_STATEMENT) {
    const chunk = tombstones.slice(start, start + ROWS_PER_STATEMENT);
    statements.push(
      db
        .insertInto(synced.table)
        .values(chunk.map(({ id, version }) => ({ org_id: orgId, id, ...tombstoneColumns(synced, version) })))
        .onConflict((conflict) =>
          conflict
            .columns(['org_id', 'id'])
            .doUpdateSet((eb) => ({
              ...Object.fromEntries(columnsOf(synced).map((column) => [column, null])),
              version: eb.ref('excluded.version'),
              deleted_at: sql<Date>`now()`,
              synced_at: sql<Date>`now()`,
            }))
            .where(`${synced.table}.version`, '<', (eb: Excluded) => eb.ref('excluded.version')),
        )
        .compile(),
    );
  }
  return statements;
}

/** Writes the source's states (`sourceStateWrites`) in the transaction `trx`, one statement after another. */
export async function writeSourceStates(
  trx: Db,
  synced: SyncedType,
  orgId: string,
  entities: readonly SourceEntity[],
  tombstones: readonly SourceTombstone[],
): Promise<void> {
  for (const statement of sourceStateWrites(trx, synced, orgId, entities, tombstones)) await trx.executeQuery(statement);
}

/** A synced row as the database returns it. */
type SyncedRow = Record<string, unknown> & { id: string; org_id: string; version: number | string; source_created_at: Date | null; source_updated_at: Date | null; synced_at: Date };

/** One page of the tenant's live (not deleted) entities, keyset-paginated by (created, id). */
export async function listLive(trx: Db, synced: SyncedType, limit: number, after: { createdAt: string; id: string } | null) {
  let query = trx
    .selectFrom(synced.table)
    .selectAll()
    .where('deleted_at', 'is', null)
    .orderBy('source_created_at')
    .orderBy('id')
    .limit(limit + 1);
  if (after) query = query.where((eb) => eb(eb.refTuple('source_created_at', 'id'), '>', eb.tuple(new Date(after.createdAt), after.id)));
  const rows = (await query.execute()) as SyncedRow[];
  return { rows: rows.slice(0, limit), more: rows.length > limit };
}

/** A live row as the cache API serves it: the entity as the source returned it. */
export function toEntity(synced: SyncedType, row: SyncedRow): SourceEntity {
  return {
    id: row.id,
    orgId: row.org_id,
    ...Object.fromEntries(Object.entries(synced.fields).map(([field, column]) => [field, row[column] ?? null])),
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
  /** The copied data, comparable with `contentOf` of the source's entity. */
  content: string;
}

/** What reconciliation compares beyond the version (deep mode): the copied fields and the timestamps. */
export const contentOf = (synced: SyncedType, entity: Pick<SourceEntity, 'createdAt' | 'updatedAt'> & Record<string, unknown>) =>
  JSON.stringify([...Object.keys(synced.fields).map((field) => entity[field] ?? null), new Date(entity.createdAt).getTime(), new Date(entity.updatedAt).getTime()]);

/** The tenant's rows with `after < id <= upTo` (either bound open when null), in id order. */
export async function localVersions(trx: Db, synced: SyncedType, after: string | null, upTo: string | null): Promise<LocalVersion[]> {
  let query = trx
    .selectFrom(synced.table)
    .select(['id', 'version', 'deleted_at', 'source_created_at', 'source_updated_at', ...columnsOf(synced)])
    .orderBy('id');
  if (after) query = query.where('id', '>', after);
  if (upTo) query = query.where('id', '<=', upTo);
  const rows = (await query.execute()) as SyncedRow[];
  return rows.map((row) => ({
    id: row.id,
    version: Number(row.version),
    deleted: row.deleted_at !== null,
    content: contentOf(synced, {
      ...Object.fromEntries(Object.entries(synced.fields).map(([field, column]) => [field, row[column]])),
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
export async function replaceRow(trx: Db, synced: SyncedType, id: string, seenVersion: number, state: SourceEntity | SourceTombstone): Promise<boolean> {
  const columns = isLive(state) ? copiedColumns(synced, state) : tombstoneColumns(synced, state.version);
  const result = await trx
    .updateTable(synced.table)
    .set({ ...columns, synced_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('version', '=', seenVersion)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Deletes local rows the source does not know, each only if still at the version seen. */
export async function removeRows(trx: Db, synced: SyncedType, rows: ReadonlyArray<{ id: string; version: number }>): Promise<number> {
  let removed = 0;
  for (const { id, version } of rows) {
    const result = await trx.deleteFrom(synced.table).where('id', '=', id).where('version', '=', version).executeTakeFirst();
    removed += Number(result.numDeletedRows);
  }
  return removed;
}

/**
 * Every tenant the consumer holds rows for in any synced table, across RLS, through the one
 * narrow function the schema grants for it (it returns ids and nothing else).
 */
export async function tenantsWithSyncedData(db: Kysely<ConsumerDatabase>): Promise<string[]> {
  const result = await sql<{ org_id: string }>`SELECT DISTINCT org_id FROM synced_tenants() AS tenant(org_id)`.execute(db);
  return result.rows.map((row) => row.org_id);
}
