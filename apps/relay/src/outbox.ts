import { sql, type Kysely } from 'kysely';
import { statementOnce, type OutboxRow, type SourceDatabase } from '@tenant-sync/db';
import { rowsPerTenant, type TenantPacer } from './tenant-pacer.ts';

/**
 * What a claim returns of each row: what the relay publishes and orders by, not the lease it
 * just wrote. Returning every column made the driver parse a `Date` and five more values per
 * row that nothing read.
 */
const CLAIMED_COLUMNS = ['id', 'event_id', 'org_id', 'aggregate_type', 'aggregate_id', 'action', 'version', 'traceparent', 'created_at'] as const satisfies ReadonlyArray<keyof OutboxRow>;
export type ClaimedRow = Pick<OutboxRow, (typeof CLAIMED_COLUMNS)[number]>;

const claimedColumns = sql.join(CLAIMED_COLUMNS.map((column) => sql.ref(column)));

/**
 * Claims up to `limit` pending rows by leasing them to `owner` for `leaseMs`, in one short
 * statement: no transaction stays open while the batch is published.
 *
 * Fair across tenants: the batch takes turns — the oldest claimable row of every tenant with
 * pending rows, then the second of each, and so on — so one tenant's import of a million rows
 * does not put every other tenant's next change behind it. A tenant alone gets the whole
 * batch. Each tenant gets at most its fair share (`limit / tenants`, rounded up), which bounds
 * the statement's work however many tenants wait; the room a tenant with fewer rows leaves is
 * the claimer's to fill (`createClaimer`).
 *
 * Order per entity: only the head row of an entity (no older unparked row of the same
 * aggregate exists) can be claimed, so while one relay holds an entity's row no other relay
 * can publish that entity's next change. Rows are claimed by state (lease expired or never
 * leased), never by an id high-water mark, because ids are assigned before commit and commits
 * land out of order. A relay that dies leaves its lease to expire; the rows are claimed again.
 * Rows without a tenant are claimed too, after the tenants' turns, to be parked.
 *
 * `after` (tenant → id) only narrows where each tenant's scan starts, to skip the index
 * entries of rows deleted since the last vacuum while a backlog drains; the caller still
 * claims without it regularly, so a row committed late with a low id waits at most a few batches.
 * `quota` (tenant → rows) caps what the tenants it names get, below their share (pacing, see
 * `createTenantPacer`). `only` restricts the claim to the tenants it names, and their share to
 * what they divide among themselves; it takes their rows from their part of the tenant index
 * without walking the others'. That walk, like any scan in id order, steps over the index
 * entries of another transaction's uncommitted rows one by one, checking each in the heap: an
 * import still open puts thousands of them in the way (see `createClaimer`'s `express`).
 */
export async function claimBatch(
  db: Kysely<SourceDatabase>,
  owner: string,
  limit: number,
  leaseMs: number,
  { after = new Map(), quota = new Map(), only }: { after?: ReadonlyMap<string, number>; quota?: ReadonlyMap<string, number>; only?: readonly string[] } = {},
): Promise<ClaimedRow[]> {
  // The tenants with pending rows, by a skip scan of the tenant index; or the tenants named.
  const tenants = only
    ? sql`SELECT DISTINCT unnest(${only}::uuid[]) AS org_id`
    : sql`(SELECT org_id FROM outbox WHERE parked_at IS NULL AND org_id IS NOT NULL ORDER BY org_id LIMIT 1)
      UNION ALL
      SELECT (SELECT later.org_id FROM outbox later
               WHERE later.parked_at IS NULL AND later.org_id > tenant.org_id
               ORDER BY later.org_id LIMIT 1)
        FROM tenant WHERE tenant.org_id IS NOT NULL`;
  const result = await sql<ClaimedRow>`
    WITH RECURSIVE tenant AS (
      ${tenants}
    ), paced AS (
      SELECT * FROM unnest(${[...quota.keys()]}::uuid[], ${[...quota.values()]}::int[]) AS paced(org_id, max_rows)
    ), waiting AS (
      SELECT tenant.org_id, paced.max_rows FROM tenant LEFT JOIN paced USING (org_id) WHERE tenant.org_id IS NOT NULL
    ), share AS (
      SELECT least(${limit}, ceil(${limit}::numeric / greatest(count(*), 1)))::int AS rows_per_tenant FROM waiting
    ), resume AS (
      SELECT * FROM unnest(${[...after.keys()]}::uuid[], ${[...after.values()]}::bigint[]) AS resume(org_id, after_id)
    ), candidate AS (
      SELECT head.id, row_number() OVER (PARTITION BY head.org_id ORDER BY head.id) AS turn
        FROM waiting CROSS JOIN LATERAL (
          SELECT pending.id, pending.org_id
            FROM outbox pending
           WHERE pending.org_id = waiting.org_id
             AND pending.parked_at IS NULL
             AND pending.id > COALESCE((SELECT after_id FROM resume WHERE resume.org_id = waiting.org_id), 0)
             AND (pending.lease_until IS NULL OR pending.lease_until < clock_timestamp())
             AND NOT EXISTS (
                   SELECT 1 FROM outbox prior
                    WHERE prior.aggregate_id = pending.aggregate_id
                      AND prior.id < pending.id
                      AND prior.parked_at IS NULL)
           ORDER BY pending.id
           LIMIT least((SELECT rows_per_tenant FROM share), COALESCE(waiting.max_rows, ${limit}))
             FOR UPDATE SKIP LOCKED) head
      UNION ALL
      SELECT orphan.id, ${limit} + row_number() OVER (ORDER BY orphan.id)
        FROM (SELECT pending.id FROM outbox pending
               WHERE pending.org_id IS NULL AND pending.parked_at IS NULL AND ${only === undefined}
                 AND (pending.lease_until IS NULL OR pending.lease_until < clock_timestamp())
               ORDER BY pending.id LIMIT ${limit}
                 FOR UPDATE SKIP LOCKED) orphan
    )
    UPDATE outbox
       SET lease_owner = ${owner},
           lease_until = clock_timestamp() + make_interval(secs => ${leaseMs / 1000}),
           attempts = attempts + 1
     WHERE id = ANY (ARRAY(SELECT id FROM candidate ORDER BY turn, id LIMIT ${limit}))
    RETURNING ${claimedColumns}`.execute(db);
  return inTurns(result.rows);
}

/**
 * The rows in the order of their turns: the oldest of every tenant, then the second of each,
 * and so on; rows without a tenant last. The batch is published in this order, so a quiet
 * tenant's change is produced first, not after thousands of an import's rows with lower ids:
 * in a batch of 2,000 that saved it the 35–380 ms the producer took for the rest
 * (`consumer:bench-fairness`). A batch never holds two rows of one entity, so any order keeps
 * each entity's.
 */
export function inTurns<Row extends ClaimedRow>(rows: Row[]): Row[] {
  const turnOf = new Map<Row, number>();
  const taken = new Map<string | null, number>();
  for (const row of rows.sort((a, b) => Number(a.id) - Number(b.id))) {
    const turn = taken.get(row.org_id) ?? 0;
    taken.set(row.org_id, turn + 1);
    turnOf.set(row, row.org_id === null ? Infinity : turn);
  }
  return rows.sort((a, b) => turnOf.get(a)! - turnOf.get(b)! || Number(a.id) - Number(b.id));
}

/**
 * Claims every claimable row when they all fit in one batch (at most `limit`), with one scan
 * in id order: then no tenant waits behind another, and the turns of `claimBatch` — a walk of
 * every waiting tenant — would only cost time. Each tenant gets at least what `claimBatch`
 * would give it. When more than `limit` rows are claimable it claims nothing and returns
 * `undefined`: take turns then. The same head-of-entity rule, leases and `SKIP LOCKED` as
 * `claimBatch`. At 120 pending rows over 100 tenants it answers in 10 ms where `claimBatch`
 * takes 16 (p50, on a loaded 2-core machine; 2.5 against 3.1 ms at 20 rows).
 */
export async function claimAllIfFew(db: Kysely<SourceDatabase>, owner: string, limit: number, leaseMs: number): Promise<ClaimedRow[] | undefined> {
  const statement = compiledOnce(db, `claim-all ${owner} ${limit} ${leaseMs}`, () => claimAllStatement(db, owner, limit, leaseMs));
  const result = await db.executeQuery(statement);
  if (!result.rows[0]?.fits) return undefined;
  // The rows keep their `fits` column: copying each without it was a fortieth of all the relay
  // allocated at 2,000 events/s.
  return result.rows.filter((row) => row.id !== null).sort((a, b) => Number(a.id) - Number(b.id));
}

const claimAllStatement = (db: Kysely<SourceDatabase>, owner: string, limit: number, leaseMs: number) =>
  sql<ClaimedRow & { fits: boolean }>`
    WITH candidate AS (
      SELECT pending.id
        FROM outbox pending
       WHERE pending.parked_at IS NULL
         AND (pending.lease_until IS NULL OR pending.lease_until < clock_timestamp())
         AND NOT EXISTS (
               SELECT 1 FROM outbox prior
                WHERE prior.aggregate_id = pending.aggregate_id
                  AND prior.id < pending.id
                  AND prior.parked_at IS NULL)
       ORDER BY pending.id
       LIMIT ${limit + 1}
         FOR UPDATE SKIP LOCKED
    ), verdict AS (
      SELECT count(*) <= ${limit} AS fits FROM candidate
    ), claimed AS (
      UPDATE outbox
         SET lease_owner = ${owner},
             lease_until = clock_timestamp() + make_interval(secs => ${leaseMs / 1000}),
             attempts = attempts + 1
       WHERE id = ANY (ARRAY(SELECT id FROM candidate)) AND (SELECT fits FROM verdict)
      RETURNING ${claimedColumns}
    )
    SELECT verdict.fits, claimed.* FROM verdict LEFT JOIN claimed ON true`.compile(db);

/**
 * A statement compiled once per pool and `key` (the parameters it is compiled with), where
 * Kysely built and compiled it again on every call. The claim of `claimAllIfFew` and the delete
 * of `deletePublished` run hundreds of times a second: building them was a fiftieth of all the
 * relay allocated at 2,000 events/s (a heap sampling of relay:bench).
 */
const compiled = new WeakMap<Kysely<SourceDatabase>, Map<string, unknown>>();

function compiledOnce<T>(db: Kysely<SourceDatabase>, key: string, compile: () => T): T {
  let statements = compiled.get(db);
  if (!statements) compiled.set(db, (statements = new Map()));
  if (!statements.has(key)) statements.set(key, compile());
  return statements.get(key) as T;
}

/** The id of each tenant's last row among `rows`. */
function lastIds(rows: readonly ClaimedRow[]): Map<string, number> {
  const last = new Map<string, number>();
  for (const row of rows) if (row.org_id) last.set(row.org_id, Math.max(last.get(row.org_id) ?? 0, Number(row.id)));
  return last;
}

/**
 * The tenants with the most rows in a batch, when that is more than one: those its share
 * stopped, so they have rows left (a tenant with fewer ran out of rows, or lost the batch's last
 * turn). In a full batch they are the backlogged tenants, which the express claim skips. A batch
 * that is not full has room for them: the share divides a batch by the tenants waiting, so one
 * importer among a hundred tenants with a row each gets 20 rows of 2,000 and the batch would go
 * out with 119; the claimer claims the room left for these tenants alone.
 */
function mostRows(rows: readonly ClaimedRow[]): string[] {
  const counts = rowsPerTenant(rows);
  const most = Math.max(0, ...counts.values());
  return most > 1 ? [...counts].filter(([, count]) => count === most).map(([tenant]) => tenant) : [];
}

/** The tenants that got exactly their quota: their pace, not their rows, ended their turns. */
function heldBack(rows: readonly ClaimedRow[], quota: ReadonlyMap<string, number>): string[] {
  const counts = rowsPerTenant(rows);
  return [...quota].filter(([tenant, rows]) => (counts.get(tenant) ?? 0) === rows).map(([tenant]) => tenant);
}

/** While a backlog drains, every this many claims one scans the outbox from its start. */
const CLAIMS_PER_FULL_SCAN = 10;

/**
 * The claim of one relay. While the outbox holds less than a batch (the last claim from the
 * start was not full) it claims everything at once (`claimAllIfFew`); with a backlog it takes
 * turns (`claimBatch`). Given the batch in flight, each tenant's scan starts just past that
 * tenant's last row in it, skipping the dead index entries of the rows deleted before; every
 * `CLAIMS_PER_FULL_SCAN`-th claim, and every claim after a pause, scans from the start.
 * With a `pacer`, a tenant sharing the relay with others gets no more than its pace allows.
 */
export function createClaimer(db: Kysely<SourceDatabase>, owner: string, limit: number, leaseMs: number, pacer?: TenantPacer) {
  let boundedClaims = 0;
  let backlog = false;
  // Where the express claim starts each tenant's scan (see `express`).
  let expressAfter = new Map<string, number>();
  // The tenants the last claim held to their pace, though they had more rows.
  let held: string[] = [];
  return {
    /** The next batch, given the last one when it was full (it is still in flight). */
    async next(inFlight: readonly ClaimedRow[] = []): Promise<ClaimedRow[]> {
      if (inFlight.length === 0 && !backlog) {
        const rows = await claimAllIfFew(db, owner, limit, leaseMs);
        if (rows) {
          pacer?.claimed(rows);
          // No tenant is backlogged now: the express claim skips none.
          expressAfter = new Map();
          return rows;
        }
        backlog = true;
      }
      const after = boundedClaims < CLAIMS_PER_FULL_SCAN ? lastIds(inFlight) : new Map<string, number>();
      boundedClaims = after.size > 0 ? boundedClaims + 1 : 0;
      const quota = pacer?.quota() ?? new Map<string, number>();
      let rows = await claimBatch(db, owner, limit, leaseMs, { after, quota });
      held = heldBack(rows, quota);
      const capped = rows.length < limit ? mostRows(rows).filter((tenant) => !held.includes(tenant)) : [];
      if (capped.length > 0) {
        // Turns left room in the batch; the tenants their share stopped divide it (see `mostRows`).
        const past = lastIds(rows.filter((row) => row.org_id !== null && capped.includes(row.org_id)));
        rows = inTurns([...rows, ...(await claimBatch(db, owner, limit - rows.length, leaseMs, { after: past, quota, only: capped }))]);
      }
      pacer?.claimed(rows);
      if (after.size === 0 && rows.length < limit && held.length === 0) backlog = false;
      expressAfter = new Map(after);
      const backlogged = rows.length === limit ? mostRows(rows) : [];
      for (const tenant of [...backlogged, ...held]) expressAfter.set(tenant, Number.MAX_SAFE_INTEGER);
      return rows;
    },
    /**
     * A small claim beside the loop's, for the tenants the loop's last claim did not find
     * backlogged: a quiet tenant's new change is among its first rows. The backlogged tenants
     * are skipped (their scans start past every id): the loop's next claim takes their rows
     * anyway, and scanning past their rows in flight — thousands leased or locked — made the
     * express claim itself take up to 157 ms during an import.
     *
     * With `tenants` (the tenants named by the commits notified) it claims theirs alone and
     * walks no other tenant's index entries. An import still open puts its uncommitted rows in
     * the outbox's indexes long before it commits: with 200,000 of them, a claim that walked the
     * tenants or the ids took 21–264 ms against 1–12 without.
     */
    async express(rows: number, tenants?: ReadonlySet<string>): Promise<ClaimedRow[]> {
      const only = tenants ? [...tenants] : undefined;
      const claimed = await claimBatch(db, owner, rows, leaseMs, { after: expressAfter, quota: pacer?.quota(), only });
      pacer?.claimed(claimed);
      return claimed;
    },
    /** True while more than a batch is claimable: claims then take turns, back to back. */
    backlog: () => backlog,
    /** How long to wait before the next claim: until a tenant the last one held to its pace may take a burst again; 0 if none was held. */
    pacedMs: (): number => (pacer && held.length > 0 ? pacer.refillMs(held) : 0),
  };
}

export type Claimer = ReturnType<typeof createClaimer>;

/**
 * `id = ANY($1)` with the ids as one array parameter: one statement text whatever the batch
 * size, so the driver prepares it once per connection, where `id IN ($1, …, $n)` made a new
 * statement — parsed, planned and cached on the server — for every batch size.
 */
const idIn = (ids: number[]) => sql<boolean>`id = ANY(${ids}::bigint[])`;

/** Removes rows whose publication Kafka acknowledged; only rows this relay still leases. */
export async function deletePublished(db: Kysely<SourceDatabase>, owner: string, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  const statement = compiledOnce(db, `delete ${owner}`, () =>
    statementOnce((published: number[]) => db.deleteFrom('outbox').where(idIn(published)).where('lease_owner', '=', owner).compile()),
  );
  await db.executeQuery(statement(ids));
}

/** Gives rows back after a failed publish, so they are claimed again (by any relay). */
export async function releaseLeases(db: Kysely<SourceDatabase>, owner: string, ids: number[], error: string): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('outbox')
    .set({ lease_owner: null, lease_until: null, last_error: error.slice(0, 1000) })
    .where(idIn(ids))
    .where('lease_owner', '=', owner)
    .execute();
}

/** Takes a row out of the stream for good, keeping it with its reason for an operator. */
export async function parkRow(db: Kysely<SourceDatabase>, owner: string, id: number, reason: string): Promise<void> {
  await db
    .updateTable('outbox')
    .set({ parked_at: sql`clock_timestamp()`, park_reason: reason, lease_owner: null, lease_until: null })
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .execute();
}

/** How many tenants the per-tenant metrics name: the busiest, so label cardinality stays bounded. */
export const TOP_TENANTS = 10;

export interface PendingStats {
  depth: number;
  oldestAgeSeconds: number;
  parked: number;
  /** The `TOP_TENANTS` tenants with the most pending rows, busiest first. */
  tenants: Array<{ orgId: string; depth: number; oldestAgeSeconds: number }>;
}

/** Pending rows and the age of the oldest, in all and for the busiest tenants, for metrics. */
export async function pendingStats(db: Kysely<SourceDatabase>): Promise<PendingStats> {
  const result = await sql<{ depth: string; oldest: string | null; parked: string }>`
    SELECT count(*) FILTER (WHERE parked_at IS NULL) AS depth,
           extract(epoch FROM clock_timestamp() - min(created_at) FILTER (WHERE parked_at IS NULL)) AS oldest,
           count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked
      FROM outbox`.execute(db);
  const tenants = await sql<{ org_id: string; depth: string; oldest: string }>`
    SELECT org_id, count(*) AS depth, extract(epoch FROM clock_timestamp() - min(created_at)) AS oldest
      FROM outbox WHERE parked_at IS NULL AND org_id IS NOT NULL
     GROUP BY org_id ORDER BY count(*) DESC LIMIT ${TOP_TENANTS}`.execute(db);
  const row = result.rows[0];
  return {
    depth: Number(row?.depth ?? 0),
    oldestAgeSeconds: Number(row?.oldest ?? 0),
    parked: Number(row?.parked ?? 0),
    tenants: tenants.rows.map((tenant) => ({ orgId: tenant.org_id, depth: Number(tenant.depth), oldestAgeSeconds: Number(tenant.oldest) })),
  };
}
